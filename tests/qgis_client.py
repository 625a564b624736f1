#!/usr/bin/python3
"""A real client: open terratile's outputs with QGIS's own API, as QGIS does.

    /usr/bin/python3 tests/qgis_client.py --png-dir DIR FILE...

FILE is a class map or change map (GeoTIFF) or a statistics GeoPackage. For a raster
it checks what QGIS picks when it opens the file: the paletted renderer on band 1, the
legend (exactly the category names, in order, in the colour table's colours, both read
with GDAL), no alpha band (a confidence band is a grey band named "confidence"),
nodata; then it renders the map at one screen pixel per raster pixel into
DIR/NAME.png and checks every rendered pixel: nodata transparent, every other pixel in
its class's colour-table colour. For a GeoPackage it opens every layer; `tile_stats`
must come with its default style (categorized by `dominant_to` in the class colours),
and its rendering must show each tile in the colour of the class its change became.

Needs Debian's python3-qgis (QGIS 3.22) for /usr/bin/python3; runs headless
(QT_QPA_PLATFORM=offscreen). Prints one line per check; exits 1 on the first failure.
"""
import argparse
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from osgeo import gdal  # noqa: E402
from qgis.core import (  # noqa: E402
    QgsApplication,
    QgsDataProvider,
    QgsMapRendererSequentialJob,
    QgsMapSettings,
    QgsPointXY,
    QgsRasterLayer,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QSize  # noqa: E402
from qgis.PyQt.QtGui import QColor, QImage  # noqa: E402

gdal.UseExceptions()


def fail(msg):
    print(f"FAIL: {msg}", flush=True)
    sys.exit(1)


def ok(msg):
    print(f"ok: {msg}", flush=True)


def gdal_legend(path):
    """Category names and the colour-table colours of those classes, read with GDAL."""
    ds = gdal.Open(path)
    ds.GetGeoTransform()  # GTiff loads the .aux.xml (category names) on this, as QGIS does
    b = ds.GetRasterBand(1)
    names = b.GetCategoryNames() or []
    ct = b.GetColorTable()
    if ct is None:
        fail(f"{path}: no colour table")
    colors = [tuple(ct.GetColorEntry(i)[:3]) for i in range(len(names))]
    return names, colors, b.GetNoDataValue(), ds


def render(layers, extent, crs, size, png):
    ms = QgsMapSettings()
    ms.setLayers(layers)
    ms.setDestinationCrs(crs)
    ms.setExtent(extent)
    ms.setOutputSize(QSize(*size))
    ms.setBackgroundColor(QColor(0, 0, 0, 0))
    ms.setOutputImageFormat(QImage.Format_ARGB32)
    job = QgsMapRendererSequentialJob(ms)
    job.start()
    job.waitForFinished()
    img = job.renderedImage().convertToFormat(QImage.Format_ARGB32)
    if not img.save(png):
        fail(f"cannot save {png}")
    ptr = img.constBits()
    ptr.setsize(img.sizeInBytes())
    # ARGB32 is stored B, G, R, A in memory on little-endian machines
    arr = np.frombuffer(bytes(ptr), np.uint8).reshape(img.height(), img.bytesPerLine() // 4, 4)
    return arr[:, : img.width(), :], ms


def check_raster(path, png_dir):
    name = os.path.splitext(os.path.basename(path))[0]
    names, colors, nodata, ds = gdal_legend(path)
    layer = QgsRasterLayer(path, name, "gdal")
    if not layer.isValid():
        fail(f"{path}: QGIS cannot open it")
    prov = layer.dataProvider()
    r = layer.renderer()
    if r.type() != "paletted" or r.band() != 1:
        fail(f"{path}: QGIS picks the {r.type()} renderer, not paletted on band 1")
    ok(f"{name}: QGIS picks the paletted renderer on band 1")
    got = [(int(c.value), c.label, c.color.getRgb()[:3]) for c in r.classes()]
    want = [(i, n, colors[i]) for i, n in enumerate(names)]
    if got != want:
        fail(f"{path}: legend {got[:10]}... ({len(got)} entries), want {want} ({len(want)})")
    ok(f"{name}: legend = the {len(names)} classes in order, colour-table colours: "
       + ", ".join(f"{n} {'#%02x%02x%02x' % c}" for _, n, c in want[:9])
       + (" ..." if len(want) > 9 else ""))
    if r.alphaBand() > 0:
        fail(f"{path}: band {r.alphaBand()} is used as transparency")
    for b in range(2, prov.bandCount() + 1):
        ci = prov.colorInterpretationName(b)
        desc = ds.GetRasterBand(b).GetDescription()
        if ci == "Alpha" or desc != "confidence":
            fail(f"{path}: band {b} is {ci} {desc!r}, want a grey band named 'confidence'")
        scale = ds.GetRasterBand(b).GetScale()
        ok(f"{name}: band {b} {desc!r} is {ci} (not alpha), scale {scale}")
    if nodata is None or not prov.sourceHasNoDataValue(1) or prov.sourceNoDataValue(1) != nodata:
        fail(f"{path}: QGIS does not see nodata {nodata}")
    # one screen pixel per raster pixel; QGIS reads the band itself
    w, h = layer.width(), layer.height()
    png = os.path.join(png_dir, f"{name}.png")
    img, _ = render([layer], layer.extent(), layer.crs(), (w, h), png)
    block = prov.block(1, layer.extent(), w, h)
    dtype = {1: np.uint8, 2: np.uint16}[gdal.GetDataTypeSize(ds.GetRasterBand(1).DataType) // 8]
    vals = np.frombuffer(bytes(block.data()), dtype).reshape(h, w)
    rgb = img[:, :, [2, 1, 0]].astype(np.int32)
    alpha = img[:, :, 3]
    table = np.zeros((int(max(vals.max(), len(colors))) + 1, 3), np.int32)
    table[: len(colors)] = np.array(colors, np.int32).reshape(-1, 3)
    is_nd = vals == nodata
    class_px = ~is_nd
    match = (alpha == 255) & np.all(rgb == table[vals], axis=2) & class_px
    share = match.sum() / max(class_px.sum(), 1)
    nd_clear = (alpha[is_nd] == 0).mean() if is_nd.any() else 1.0
    drawn = {names[v]: int((vals == v).sum()) for v in np.unique(vals[class_px]) if v < len(names)}
    if share < 0.999 or nd_clear < 0.999:
        fail(f"{path}: rendered {share:.4%} of class pixels in their colour, {nd_clear:.4%} of nodata transparent")
    ok(f"{name}: rendered {w}x{h} -> {png}: {share:.4%} of {class_px.sum()} class pixels in their "
       f"colour-table colour, {is_nd.sum()} nodata pixels transparent ({nd_clear:.2%}); classes drawn {drawn}")


def check_gpkg(path, png_dir):
    base = QgsVectorLayer(path, "gpkg", "ogr")
    if not base.isValid():
        fail(f"{path}: QGIS cannot open it")
    layers = {}
    for s in base.dataProvider().subLayers():
        parts = s.split(QgsDataProvider.sublayerSeparator())
        layers[parts[1]] = parts
    for want in ["tile_stats", "runs", "models", "rasters", "class_areas", "transitions"]:
        if want not in layers:
            fail(f"{path}: QGIS lists no layer {want} (it lists {sorted(layers)})")
    for lname in sorted(layers):
        lyr = QgsVectorLayer(f"{path}|layername={lname}", lname, "ogr")
        if not lyr.isValid():
            fail(f"{path}: layer {lname} does not open")
        ok(f"gpkg {lname}: opens, {lyr.featureCount()} features, geometry {lyr.geometryType()}")
    tiles = QgsVectorLayer(f"{path}|layername=tile_stats", "tile_stats", "ogr")
    r = tiles.renderer()
    if r.type() != "categorizedSymbol" or r.classAttribute() != "dominant_to":
        fail(f"{path}: tile_stats opens with {r.type()}, not its categorized default style")
    # the run's classes: from class_areas and the change map's legend are not at hand here;
    # the style's categories are checked against the rendering of each tile
    cats = {c.value(): (c.label(), c.symbol().color().getRgb()[:3]) for c in r.categories()}
    ok(f"gpkg tile_stats: default style categorized by dominant_to: "
       + ", ".join(f"{v!r}: {l} {'#%02x%02x%02x' % c}" for v, (l, c) in cats.items()))
    size = (800, 800)
    png = os.path.join(png_dir, os.path.splitext(os.path.basename(path))[0] + "_tile_stats.png")
    ext = tiles.extent()
    ext.scale(1.05)
    img, ms = render([tiles], ext, tiles.crs(), size, png)
    m2p = ms.mapToPixel()
    checked = 0
    for f in tiles.getFeatures():
        to = f["dominant_to"]
        c = f.geometry().centroid().asPoint()
        p = m2p.transform(QgsPointXY(c))
        x, y = int(p.x()), int(p.y())
        if not (0 <= x < img.shape[1] and 0 <= y < img.shape[0]):
            continue
        px = img[y, x]
        if to is None or to == "" or str(to) == "NULL":
            continue
        want = cats.get(to) or cats.get(str(to)) or cats.get(int(to))
        got = (int(px[2]), int(px[1]), int(px[0]))
        # the style draws tiles at 80 % opacity over the map: colour exact, alpha 204
        if want is None or got != tuple(want[1]) or px[3] < 200:
            fail(f"{path}: tile {f.id()} (dominant_to {to}) drawn {got} alpha {px[3]}, want {want}")
        checked += 1
    if checked == 0:
        fail(f"{path}: no changed tile to check in the rendering")
    ok(f"gpkg tile_stats: rendered -> {png}: {checked} changed tiles drawn in their class colour")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--png-dir", required=True)
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()
    os.makedirs(a.png_dir, exist_ok=True)
    app = QgsApplication([], False)
    app.initQgis()
    from qgis.core import Qgis
    print(f"QGIS version {Qgis.QGIS_VERSION}", flush=True)
    for f in a.files:
        if f.endswith(".gpkg") or f.endswith(".sqlite"):
            check_gpkg(f, a.png_dir)
        else:
            check_raster(f, a.png_dir)
    print(f"all {len(a.files)} outputs open right in QGIS", flush=True)
    # exit without exitQgis(): its teardown can crash headless after rendering
    os._exit(0)


if __name__ == "__main__":
    main()
