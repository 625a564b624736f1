#!/usr/bin/python3
"""Quick-look PNG of a terratile class raster.

    quicklook.py CLASSES.tif OUT.png [--rgb INPUT.tif --rgb-bands 3,2,1] [--title TEXT]

Reads band 1 of CLASSES.tif (downsampled through GDAL overviews so the longest side is at
most --max-size px), its colour table and category names, and draws it with a legend of
the classes present (colour, name, share of valid pixels). Nodata is shown light grey.
With --rgb, the input image is drawn beside it as a 2-98 % percentile-stretched
true-colour image. Needs only osgeo.gdal, numpy and matplotlib (Debian: python3-gdal,
python3-numpy, python3-matplotlib); run with /usr/bin/python3.
"""
import argparse
import math
import os
import sys

import numpy as np
from osgeo import gdal

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

NODATA_RGBA = (0.85, 0.85, 0.85, 1.0)


def die(msg):
    print(f"quicklook.py: error: {msg}", file=sys.stderr)
    sys.exit(1)


def open_raster(path):
    try:
        ds = gdal.Open(path)
    except RuntimeError as e:
        die(f"cannot open {path}: {str(e).strip()}")
    if ds is None:
        die(f"cannot open {path}")
    return ds


def buf_size(ds, max_size):
    xs, ys = ds.RasterXSize, ds.RasterYSize
    f = max(xs, ys) / float(max_size)
    if f <= 1:
        return xs, ys
    return max(1, int(math.ceil(xs / f))), max(1, int(math.ceil(ys / f)))


def read_band(band, bx, by, resample):
    return band.ReadAsArray(buf_xsize=bx, buf_ysize=by, resample_alg=resample)


def pct(part, whole):
    v = 100.0 * part / whole
    return "<0.1 %" if 0 < v < 0.05 else f"{v:.1f} %"


def fallback_color(i):
    cmap = matplotlib.colormaps["tab20"]
    return cmap(i % 20)


def class_image(ds, max_size):
    band = ds.GetRasterBand(1)
    bx, by = buf_size(ds, max_size)
    data = read_band(band, bx, by, gdal.GRIORA_NearestNeighbour)
    if data is None:
        die(f"cannot read band 1 of {ds.GetDescription()}")
    valid = np.ones(data.shape, bool)
    nodata = band.GetNoDataValue()
    if nodata is not None:
        valid &= ~((data == nodata) | (np.isnan(data) if data.dtype.kind == "f" else False))
    if data.dtype.kind == "f":
        valid &= np.isfinite(data)
    ct = band.GetColorTable()
    names = band.GetCategoryNames() or []

    rgba = np.empty(data.shape + (4,), np.float32)
    rgba[:] = NODATA_RGBA
    values, counts = np.unique(data[valid], return_counts=True)
    total = counts.sum()
    legend = []
    for i, (v, n) in enumerate(zip(values, counts)):
        iv = int(v)
        if ct is not None and 0 <= iv < ct.GetCount():
            c = ct.GetColorEntry(iv)
            color = (c[0] / 255.0, c[1] / 255.0, c[2] / 255.0, 1.0)
        else:
            color = fallback_color(iv if iv >= 0 else i)
        name = names[iv] if 0 <= iv < len(names) and names[iv] else f"class {iv}"
        rgba[valid & (data == v)] = color
        legend.append(Patch(facecolor=color, edgecolor="black", linewidth=0.5,
                            label=f"{name}: {pct(n, total)}"))
    n_nodata = int((~valid).sum())
    if n_nodata:
        legend.append(Patch(facecolor=NODATA_RGBA, edgecolor="black", linewidth=0.5,
                            label=f"nodata ({pct(n_nodata, valid.size)} of all)"))
    return rgba, legend


def rgb_image(ds, bands, max_size):
    bx, by = buf_size(ds, max_size)
    chans, valid = [], np.ones((by, bx), bool)
    for b in bands:
        if b < 1 or b > ds.RasterCount:
            die(f"--rgb-bands: band {b} not in 1..{ds.RasterCount} of {ds.GetDescription()}")
        band = ds.GetRasterBand(b)
        a = read_band(band, bx, by, gdal.GRIORA_Average)
        if a is None:
            die(f"cannot read band {b} of {ds.GetDescription()}")
        a = a.astype(np.float64)
        nd = band.GetNoDataValue()
        if nd is not None:
            valid &= a != nd
        valid &= np.isfinite(a)
        chans.append(a)
    out = np.zeros((by, bx, 4), np.float32)
    for i, a in enumerate(chans):
        v = a[valid]
        if v.size:
            lo, hi = np.percentile(v, [2, 98])
        else:
            lo, hi = 0.0, 1.0
        if hi <= lo:
            hi = lo + 1.0
        out[..., i] = np.clip((a - lo) / (hi - lo), 0, 1)
    out[..., 3] = 1.0
    out[~valid] = NODATA_RGBA
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description="Quick-look PNG of a class raster.")
    p.add_argument("classes", help="class raster (band 1 = class index)")
    p.add_argument("out", help="output PNG")
    p.add_argument("--rgb", help="input image to show beside it")
    p.add_argument("--rgb-bands", default="3,2,1", help="1-based red,green,blue bands of --rgb")
    p.add_argument("--title", help="figure title (default: the class raster's file name)")
    p.add_argument("--max-size", type=int, default=1200, help="longest side to read, px")
    a = p.parse_args(argv)

    gdal.UseExceptions()
    try:
        bands = [int(b) for b in a.rgb_bands.split(",")]
        if len(bands) != 3:
            raise ValueError
    except ValueError:
        die(f"--rgb-bands must be three comma-separated band numbers, got {a.rgb_bands!r}")

    cds = open_raster(a.classes)
    rgba, legend = class_image(cds, a.max_size)
    rgb = rgb_image(open_raster(a.rgb), bands, a.max_size) if a.rgb else None

    panels = [rgb, rgba] if rgb is not None else [rgba]
    h, w = rgba.shape[:2]
    aspect = w / float(h)
    fig_h = 6.0
    fig_w = min(24.0, max(6.0, fig_h * aspect * len(panels) + 3.2))
    fig, axes = plt.subplots(1, len(panels), figsize=(fig_w, fig_h), squeeze=False)
    titles = ([f"input {os.path.basename(a.rgb)} (bands {a.rgb_bands})"] if rgb is not None else []) \
        + ["classes"]
    for ax, img, t in zip(axes[0], panels, titles):
        ax.imshow(img, interpolation="nearest")
        ax.set_title(t, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0][-1].legend(handles=legend, loc="upper left", bbox_to_anchor=(1.02, 1.0),
                       fontsize=9, frameon=False, title="share of valid pixels")
    fig.suptitle(a.title or os.path.basename(a.classes), fontsize=12)
    fig.tight_layout()

    out = os.path.abspath(a.out)
    tmp = os.path.join(os.path.dirname(out), f".{os.path.basename(out)}.{os.getpid()}.tmp")
    try:
        fig.savefig(tmp, format="png", dpi=100)
        os.replace(tmp, out)
    except OSError as e:
        if os.path.exists(tmp):
            os.remove(tmp)
        die(f"cannot write {a.out}: {e.strerror or e}")
    finally:
        plt.close(fig)
    return 0


if __name__ == "__main__":
    sys.exit(main())
