#!/usr/bin/env python3
"""Generate terratile's corrupt-input corpus (run by tests/corpus.rs; deterministic).

Three parts, each run by the python that has what it needs:

    /usr/bin/python3        scripts/make_corpus.py rasters DIR   (GDAL's python bindings)
    /usr/bin/python3        scripts/make_corpus.py dbs DIR BASE  (sqlite3; BASE: a statistics
                                                                  database written by terratile)
    $TERRATILE_CACHE/venv/bin/python scripts/make_corpus.py models DIR   (onnx + numpy)

Inputs come from the real sample data in $TERRATILE_CACHE (a 64 x 64 px crop of the
Sentinel-2 scene) and the repository's test models. Every part writes its files under DIR
and appends its cases to DIR/cases-PART.jsonl, one JSON object a line:

    {"name": ..., "args": [terratile arguments; "@OUT@" is the case's output path],
     "accept": "error" | "either"}

"error": the command must fail cleanly; "either": it may also succeed (NaN pixels become
nodata, 1 x N strips run), and then its output must be a valid raster.
"""
import json
import os
import random
import shutil
import struct
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.environ.get("TERRATILE_CACHE") or os.path.join(REPO, ".cache")
S2 = os.path.join(CACHE, "data/s2/s2_b02_b03_b04_b08.tif")
PERPIXEL = os.path.join(REPO, "models/test/perpixel_ndi.onnx")
SMALL_CNN = os.path.join(REPO, "models/test/small_cnn.onnx")
MANY = os.path.join(REPO, "models/test/many_classes.onnx")
CROP = 64  # px: small enough that the whole corpus runs in about a minute on 2 cores

RUN = ["-q", "--threads", "1"]


class Cases:
    def __init__(self, out, part):
        self.out = out
        self.path = os.path.join(out, f"cases-{part}.jsonl")
        self.rows = []
        self.names = set()

    def add(self, name, args, accept="either"):
        assert name not in self.names, name
        self.names.add(name)
        self.rows.append({"name": name, "args": [str(a) for a in args], "accept": accept})

    def segment(self, name, raster, model=PERPIXEL, extra=(), accept="either"):
        self.add(name, ["segment", raster, "-m", model, "-o", "@OUT@", *RUN, *extra], accept)

    def save(self):
        with open(self.path, "w") as f:
            for r in self.rows:
                f.write(json.dumps(r) + "\n")
        print(f"make_corpus.py: {len(self.rows)} cases in {self.path}")


def cut(data, n):
    return data[: max(0, min(len(data), n))]


def flip(data, pos, rng):
    b = bytearray(data)
    b[pos] ^= rng.choice([0xFF, 0x01, 0x80, 0x10])
    return bytes(b)


def offsets(size):
    fixed = [0, 1, 2, 4, 8, 16, 64, 256, 512, 1024, 4096]
    frac = [int(size * f) for f in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)]
    return sorted({o for o in fixed + frac + [size - 1] if o < size})


# ------------------------------------------------------------------------------------------
# rasters (GDAL)
# ------------------------------------------------------------------------------------------
def rasters(out):
    import numpy as np
    from osgeo import gdal, osr

    gdal.UseExceptions()
    d = os.path.join(out, "rasters")
    os.makedirs(d, exist_ok=True)
    c = Cases(out, "rasters")
    p = lambda name: os.path.join(d, name)  # noqa: E731

    src = gdal.Open(S2)
    x0, y0 = 800, 800
    base_arr = src.ReadAsArray(x0, y0, CROP, CROP).astype(np.uint16)  # (4, 64, 64)
    gt0 = list(src.GetGeoTransform())
    gt = [gt0[0] + x0 * gt0[1], gt0[1], 0.0, gt0[3] + y0 * gt0[5], 0.0, gt0[5]]
    wkt = src.GetProjection()

    def write(name, arr, dtype=gdal.GDT_UInt16, geo=gt, proj=wkt, nodata=None, opts=(),
              driver="GTiff"):
        arr = np.asarray(arr)
        if arr.ndim == 2:
            arr = arr[None]
        bands, h, w = arr.shape
        drv = gdal.GetDriverByName(driver)
        ds = drv.Create(p(name), w, h, bands, dtype, list(opts))
        if geo is not None:
            ds.SetGeoTransform(geo)
        if proj:
            ds.SetProjection(proj)
        for b in range(bands):
            band = ds.GetRasterBand(b + 1)
            if nodata is not None:
                band.SetNoDataValue(nodata)
            band.WriteArray(arr[b])
        ds = None
        return p(name)

    # two class maps (NIR cut at its terciles; Byte, nodata 255) for `change` and the
    # statistics databases
    nir = base_arr[3].astype(np.float64)
    for name, shift in [("classes_before.tif", 0), ("classes_after.tif", 1)]:
        cls = (np.digitize(nir, np.quantile(nir, [1 / 3, 2 / 3])) + shift) % 3
        ds = gdal.GetDriverByName("GTiff").Create(os.path.join(out, name), CROP, CROP, 1,
                                                  gdal.GDT_Byte)
        ds.SetGeoTransform(gt)
        ds.SetProjection(wkt)
        ds.GetRasterBand(1).SetNoDataValue(255)
        ds.GetRasterBand(1).WriteArray(cls.astype(np.uint8))
        ds = None

    # the base raster in three layouts; its truncations and flipped bytes
    tiled = write("base_tiled.tif", base_arr, opts=["TILED=YES", "BLOCKXSIZE=16",
                                                    "BLOCKYSIZE=16", "COMPRESS=DEFLATE"])
    strip = write("base_strip.tif", base_arr)
    cog = p("base_cog.tif")
    gdal.Translate(cog, tiled, format="COG", creationOptions=["BLOCKSIZE=128", "COMPRESS=LZW"])
    c.segment("raster_ok", tiled)
    for label, path in [("tiled", tiled), ("strip", strip), ("cog", cog)]:
        data = open(path, "rb").read()
        for o in offsets(len(data)):
            name = f"truncated_{label}_{o}.tif"
            open(p(name), "wb").write(cut(data, o))
            c.segment(f"raster_truncated_{label}_at_{o}", p(name))
    rng = random.Random(20261201)
    for label, path in [("tiled", tiled), ("cog", cog)]:
        data = open(path, "rb").read()
        # the header: TIFF header, IFD, tag values (the first 600 bytes hold them)
        for i in range(25):
            pos = rng.randrange(0, min(600, len(data)))
            name = f"flip_header_{label}_{i}.tif"
            open(p(name), "wb").write(flip(data, pos, rng))
            c.segment(f"raster_flipped_header_{label}_{i}_byte_{pos}", p(name))
        # compressed tile data
        for i in range(15):
            pos = rng.randrange(len(data) // 2, len(data))
            name = f"flip_data_{label}_{i}.tif"
            open(p(name), "wb").write(flip(data, pos, rng))
            c.segment(f"raster_flipped_data_{label}_{i}_byte_{pos}", p(name))

    # absurd dimensions: VRTs that declare more pixels than any buffer can hold
    def vrt(name, w, h, bands=4, source=tiled, gtv=gt):
        xml = [f'<VRTDataset rasterXSize="{w}" rasterYSize="{h}">',
               f"<GeoTransform>{', '.join(repr(float(v)) for v in gtv)}</GeoTransform>"]
        for b in range(bands):
            sb = b % 4 + 1
            xml.append(f'<VRTRasterBand dataType="UInt16" band="{b + 1}"><SimpleSource>'
                       f'<SourceFilename relativeToVRT="0">{source}</SourceFilename>'
                       f"<SourceBand>{sb}</SourceBand>"
                       f'<SrcRect xOff="0" yOff="0" xSize="{CROP}" ySize="{CROP}"/>'
                       f'<DstRect xOff="0" yOff="0" xSize="{CROP}" ySize="{CROP}"/>'
                       "</SimpleSource></VRTRasterBand>")
        xml.append("</VRTDataset>")
        open(p(name), "w").write("\n".join(xml))
        return p(name)

    # 2e9 x 2e9: no disk holds the class map (refused before any work, with the numbers)
    huge = vrt("huge_2e9.vrt", 2_000_000_000, 2_000_000_000)
    c.segment("raster_huge_2e9_x_2e9", huge, accept="error")
    c.segment("raster_huge_2e9_x_2e9_tile_16", huge, extra=["--tile", "16", "--overlap", "4"],
              accept="error")
    c.segment("raster_huge_2e9_no_resample", huge, extra=["--no-resample"], accept="error")
    # wide rasters are walked in column stripes within --memory-budget; a budget that
    # cannot hold one stripe and the tiles in flight is refused with the numbers (with
    # the default 2G these would run, for hours)
    c.segment("raster_huge_2e9_wide", vrt("wide_2e9.vrt", 2_000_000_000, 64),
              extra=["--memory-budget", "16M"], accept="error")
    c.segment("raster_huge_intmax_wide", vrt("wide_intmax.vrt", 2_147_483_647, 1),
              extra=["--memory-budget", "16M"], accept="error")
    c.segment("raster_huge_wide_300_classes", vrt("wide_4e6.vrt", 4_000_000, 64), model=MANY,
              extra=["--tile", "256", "--memory-budget", "1G"], accept="error")
    # zero bands, thousands of bands
    open(p("zero_bands.vrt"), "w").write(
        f'<VRTDataset rasterXSize="{CROP}" rasterYSize="{CROP}"></VRTDataset>')
    c.segment("raster_zero_bands", p("zero_bands.vrt"), accept="error")
    many = vrt("bands_3000.vrt", CROP, CROP, bands=3000)
    c.segment("raster_3000_bands", many)
    c.segment("raster_3000_bands_pick_last", many, extra=["--bands", "3000,2999,2998,2997"])
    c.segment("raster_3000_bands_missing_band", many, extra=["--bands", "1,2,3,3001"],
              accept="error")
    write("bands_1000.tif", np.zeros((1000, 8, 8), np.uint16) + 500)
    c.segment("raster_1000_bands_gtiff", p("bands_1000.tif"))

    # every data type
    f = base_arr.astype(np.float64) / max(1.0, float(base_arr.max()))  # 0..1
    types = {
        "Byte": (gdal.GDT_Byte, np.uint8, 0, 255),
        "UInt16": (gdal.GDT_UInt16, np.uint16, 0, 65535),
        "Int16": (gdal.GDT_Int16, np.int16, -32768, 32767),
        "UInt32": (gdal.GDT_UInt32, np.uint32, 0, 2**32 - 1),
        "Int32": (gdal.GDT_Int32, np.int32, -(2**31), 2**31 - 1),
        "UInt64": (gdal.GDT_UInt64, np.uint64, 0, 2**64 - 1),
        "Int64": (gdal.GDT_Int64, np.int64, -(2**63), 2**63 - 1),
        "Float32": (gdal.GDT_Float32, np.float32, -3.4e38, 3.4e38),
        "Float64": (gdal.GDT_Float64, np.float64, -1.7e308, 1.7e308),
        "CInt16": (gdal.GDT_CInt16, np.complex64, -32768, 32767),
        "CInt32": (gdal.GDT_CInt32, np.complex64, -(2**31), 2**31 - 1),
        "CFloat32": (gdal.GDT_CFloat32, np.complex64, -3.4e38, 3.4e38),
        "CFloat64": (gdal.GDT_CFloat64, np.complex128, -1.7e308, 1.7e308),
    }
    for tname, (gdt, npt, lo, hi) in types.items():
        scaled = (f * min(hi, 10000)).astype(np.float64)
        if npt in (np.complex64, np.complex128):
            arr = (scaled + 1j * scaled).astype(npt)
        else:
            arr = scaled.astype(npt)
        c.segment(f"raster_type_{tname}", write(f"type_{tname}.tif", arr, gdt))
        ext = np.where(base_arr % 2 == 0, lo, hi)
        if npt in (np.uint64, np.int64):
            ext = np.where(base_arr % 2 == 0, np.array(lo, dtype=object),
                           np.array(hi, dtype=object)).astype(npt)
        else:
            ext = ext.astype(np.float64).astype(npt)
        c.segment(f"raster_type_{tname}_extremes", write(f"type_{tname}_ext.tif", ext, gdt))
        c.segment(f"raster_type_{tname}_extremes_cnn", p(f"type_{tname}_ext.tif"), SMALL_CNN)
    write("signed_byte.tif", base_arr.astype(np.int8), gdal.GDT_Byte,
          opts=["PIXELTYPE=SIGNEDBYTE"])
    c.segment("raster_type_signed_byte", p("signed_byte.tif"))

    # NaN and infinities
    a = base_arr.astype(np.float32)
    nan_some = a.copy()
    nan_some[:, ::3, ::5] = np.nan
    floats = {
        "nan_some": nan_some,
        "nan_all": np.full_like(a, np.nan),
        "inf_pos": np.where(base_arr % 7 == 0, np.inf, a).astype(np.float32),
        "inf_neg": np.where(base_arr % 7 == 0, -np.inf, a).astype(np.float32),
        "inf_all": np.full_like(a, np.inf),
        "nan_one_band": np.concatenate([a[:3], np.full_like(a[:1], np.nan)]),
        "huge_values": np.full_like(a, 3.0e38),
        "tiny_values": np.full_like(a, 1e-44),
        "negative_zero": np.full_like(a, -0.0),
    }
    for k, arr in floats.items():
        c.segment(f"raster_float_{k}", write(f"float_{k}.tif", arr, gdal.GDT_Float32))
        c.segment(f"raster_float_{k}_cnn", p(f"float_{k}.tif"), SMALL_CNN)
    c.segment("raster_float_nodata_nan", write("float_nodata_nan.tif", nan_some, gdal.GDT_Float32,
                                               nodata=float("nan")))
    c.segment("raster_float_nodata_inf", write("float_nodata_inf.tif", floats["inf_pos"],
                                               gdal.GDT_Float32, nodata=float("inf")))
    c.segment("raster_float64_1e300", write("float64_1e300.tif", np.full(a.shape, 1e300),
                                            gdal.GDT_Float64))
    c.segment("raster_float64_nodata_1e300", write("float64_nd.tif", np.full(a.shape, 1e300),
                                                   gdal.GDT_Float64, nodata=1e300))
    # all nodata
    c.segment("raster_all_nodata_uint16", write("nodata_u16.tif", np.zeros_like(base_arr),
                                                nodata=0))
    c.segment("raster_all_nodata_float", write("nodata_f32.tif", np.full(a.shape, -9999,
                                               np.float32), gdal.GDT_Float32, nodata=-9999))
    c.segment("raster_nodata_out_of_range", write("nodata_range.tif", base_arr, nodata=-1))
    c.segment("raster_nodata_huge_on_uint16", write("nodata_huge.tif", base_arr, nodata=1e40))
    c.segment("raster_nodata_nan_on_uint16", write("nodata_nan_u16.tif", base_arr,
                                                   nodata=float("nan")))
    alpha = np.concatenate([base_arr, np.zeros_like(base_arr[:1])])
    ds_alpha = write("alpha_zero.tif", alpha, opts=["ALPHA=YES"])
    c.segment("raster_alpha_all_transparent", ds_alpha)
    ds = gdal.Open(write("mask_zero.tif", base_arr), gdal.GA_Update)
    ds.CreateMaskBand(gdal.GMF_PER_DATASET)
    ds.GetRasterBand(1).GetMaskBand().WriteArray(np.zeros((CROP, CROP), np.uint8))
    ds = None
    c.segment("raster_mask_all_invalid", p("mask_zero.tif"))

    # geotransforms, CRS
    r = 10.0
    gts = {
        "rotated_30": [gt[0], r * 0.866, -r * 0.5, gt[3], -r * 0.5, -r * 0.866],
        "rotated_90": [gt[0], 0.0, -r, gt[3], -r, 0.0],
        "sheared": [gt[0], r, 3.0, gt[3], 2.0, -r],
        "south_up": [gt[0], r, 0.0, gt[3], 0.0, r],
        "east_left": [gt[0], -r, 0.0, gt[3], 0.0, -r],
        "zero_pixel": [gt[0], 0.0, 0.0, gt[3], 0.0, 0.0],
        "huge_origin": [1e300, r, 0.0, 1e300, 0.0, -r],
        "huge_pixel": [gt[0], 1e30, 0.0, gt[3], 0.0, -1e30],
        "tiny_pixel": [gt[0], 1e-9, 0.0, gt[3], 0.0, -1e-9],
        "nan_origin": [float("nan"), r, 0.0, gt[3], 0.0, -r],
    }
    for k, g in gts.items():
        path = write(f"gt_{k}.tif", base_arr, geo=g)
        c.segment(f"raster_geotransform_{k}", path)
        c.segment(f"raster_geotransform_{k}_no_resample", path, extra=["--no-resample"])
    c.segment("raster_no_crs", write("no_crs.tif", base_arr, proj=""))
    c.segment("raster_no_geotransform_no_crs", write("no_georef.tif", base_arr, geo=None, proj=""))
    c.segment("raster_crs_no_geotransform", write("crs_only.tif", base_arr, geo=None))
    # geographic rasters across the antimeridian and at the poles
    wgs84 = osr.SpatialReference()
    wgs84.ImportFromEPSG(4326)
    geo_wkt = wgs84.ExportToWkt()
    deg = 0.0001
    geos = {
        "antimeridian": [179.997, deg, 0.0, 10.0, 0.0, -deg],
        "antimeridian_coarse": [170.0, 0.5, 0.0, 10.0, 0.0, -0.5],
        "lon_0_360": [359.99, deg, 0.0, 10.0, 0.0, -deg],
        "north_pole": [0.0, deg, 0.0, 90.0, 0.0, -deg],
        "south_pole": [0.0, deg, 0.0, -89.997, 0.0, -deg],
        "beyond_pole": [0.0, 1.0, 0.0, 95.0, 0.0, -1.0],
        "whole_world": [-180.0, 360.0 / CROP, 0.0, 90.0, 0.0, -180.0 / CROP],
    }
    for k, g in geos.items():
        path = write(f"geo_{k}.tif", base_arr, geo=g, proj=geo_wkt)
        c.segment(f"raster_geographic_{k}", path)
        c.segment(f"raster_geographic_{k}_no_resample", path, extra=["--no-resample"])
    # 1 x N strips
    for w, h in [(1, 1), (1, 64), (64, 1), (1, 3000), (3000, 1), (2, 2), (3, 700)]:
        arr = np.resize(base_arr, (4, h, w)).astype(np.uint16)
        path = write(f"strip_{w}x{h}.tif", arr)
        c.segment(f"raster_strip_{w}x{h}", path)
    c.segment("raster_strip_1x64_small_cnn", p("strip_1x64.tif"), SMALL_CNN)
    # not rasters, broken VRTs
    open(p("empty.tif"), "wb").close()
    c.segment("raster_empty_file", p("empty.tif"), accept="error")
    open(p("text.tif"), "w").write("not a raster\n" * 10)
    c.segment("raster_text_file", p("text.tif"), accept="error")
    os.makedirs(p("folder.tif"), exist_ok=True)
    c.segment("raster_folder", p("folder.tif"), accept="error")
    c.segment("raster_missing_file", p("missing.tif"), accept="error")
    vrt("missing_source.vrt", CROP, CROP, source=p("does_not_exist.tif"))
    c.segment("raster_vrt_missing_source", p("missing_source.vrt"), accept="error")
    vrt("self.vrt", CROP, CROP, source=p("self.vrt"))
    c.segment("raster_vrt_self_reference", p("self.vrt"), accept="error")
    open(p("bad_xml.vrt"), "w").write('<VRTDataset rasterXSize="64" rasterYSize=')
    c.segment("raster_vrt_invalid_xml", p("bad_xml.vrt"), accept="error")
    open(p("neg.vrt"), "w").write('<VRTDataset rasterXSize="-5" rasterYSize="64">'
                                  '<VRTRasterBand dataType="Byte" band="1"/></VRTDataset>')
    c.segment("raster_vrt_negative_size", p("neg.vrt"), accept="error")
    gdal.Translate(p("rgba.png"), tiled, format="PNG", outputType=gdal.GDT_Byte,
                   scaleParams=[[0, 4000, 0, 255]])
    c.segment("raster_png_no_georef", p("rgba.png"))
    gdal.Translate(p("rgb.jpg"), tiled, format="JPEG", bandList=[1, 2, 3],
                   outputType=gdal.GDT_Byte, scaleParams=[[0, 4000, 0, 255]])
    c.segment("raster_jpeg_three_bands", p("rgb.jpg"), accept="error")
    shutil.copy(tiled, p("bad_aux.tif"))
    open(p("bad_aux.tif.aux.xml"), "w").write("<PAMDataset><Metadata>")
    c.segment("raster_corrupt_aux_xml", p("bad_aux.tif"))
    # flags against the raster
    # (--bands values that do not parse are clap's usage errors, fuzzed in src/fuzz.rs)
    c.segment("raster_tile_1", tiled, extra=["--tile", "1", "--overlap", "0"])
    c.segment("raster_tile_huge", tiled, extra=["--tile", "100000000"], accept="error")
    c.save()


# ------------------------------------------------------------------------------------------
# statistics databases (sqlite3)
# ------------------------------------------------------------------------------------------
def dbs(out, base):
    import sqlite3

    d = os.path.join(out, "dbs")
    os.makedirs(d, exist_ok=True)
    c = Cases(out, "dbs")
    p = lambda name: os.path.join(d, name)  # noqa: E731
    before = os.path.join(out, "classes_before.tif")
    after = os.path.join(out, "classes_after.tif")
    raw = open(base, "rb").read()

    def both(name, db, accept="either"):
        c.add(f"db_report_{name}", ["report", "--db", db], accept)
        c.add(f"db_report_json_{name}", ["report", "--db", db, "--format", "json"], accept)
        # change writes into the database: a copy per case
        copy = db + ".change"
        if os.path.isfile(db):
            shutil.copy(db, copy)
        elif os.path.isdir(db):
            os.makedirs(copy, exist_ok=True)
        else:
            copy = db
        c.add(f"db_change_{name}", ["change", "--before-classes", before, "--after-classes",
                                    after, "-o", "@OUT@", "--db", copy, "-q"], accept)

    def sql(name, *stmts):
        shutil.copy(base, p(name))
        con = sqlite3.connect(p(name))
        for s in stmts:
            con.execute(s)
        con.commit()
        con.close()
        return p(name)

    shutil.copy(base, p("good.sqlite"))
    both("good", p("good.sqlite"))
    open(p("text.sqlite"), "w").write("this is not a database\n")
    both("not_sqlite_text", p("text.sqlite"), "error")
    open(p("binary.sqlite"), "wb").write(bytes(random.Random(7).randrange(256)
                                               for _ in range(4096)))
    both("not_sqlite_binary", p("binary.sqlite"), "error")
    open(p("empty.sqlite"), "wb").close()
    both("empty_file", p("empty.sqlite"))
    open(p("header_only.sqlite"), "wb").write(raw[:100] + b"\x00" * 50)
    both("sqlite_header_then_nothing", p("header_only.sqlite"))
    for frac in (0.1, 0.5, 0.9):
        name = f"truncated_{int(frac * 100)}.sqlite"
        open(p(name), "wb").write(raw[: int(len(raw) * frac)])
        both(f"truncated_{int(frac * 100)}", p(name))
    rng = random.Random(11)
    for i in range(6):
        pos = rng.randrange(100, len(raw))
        name = f"flipped_{i}.sqlite"
        open(p(name), "wb").write(flip(raw, pos, rng))
        both(f"flipped_{i}_byte_{pos}", p(name))
    both("newer_schema", sql("newer.sqlite", "PRAGMA user_version = 10399"), "error")
    both("foreign_user_version", sql("foreign_uv.sqlite", "PRAGMA user_version = 42"), "error")
    both("runs_table_dropped", sql("no_runs.sqlite", "DROP TABLE IF EXISTS runs"))
    both("class_count_huge", sql("classes_huge.sqlite", "UPDATE runs SET class_count = 1000000000000"))
    both("class_count_negative", sql("classes_neg.sqlite", "UPDATE runs SET class_count = -3"))
    both("transition_classes_huge", sql("trans_huge.sqlite",
         "UPDATE transitions SET from_class = 9000000000000000000, to_class = -7"))
    both("area_text", sql("area_text.sqlite", "UPDATE class_areas SET area_m2 = 'lots'"))
    both("class_areas_dropped", sql("no_areas.sqlite", "DROP TABLE class_areas"))
    con = sqlite3.connect(p("other_app.sqlite"))
    con.execute("CREATE TABLE t (x)")
    con.execute("INSERT INTO t VALUES (1)")
    con.commit()
    con.close()
    both("other_application", p("other_app.sqlite"))
    ro = p("readonly.sqlite")
    shutil.copy(base, ro)
    os.chmod(ro, 0o444)
    both("read_only_file", ro)
    os.chmod(ro + ".change", 0o444)
    os.makedirs(p("folder.sqlite"), exist_ok=True)
    both("folder", p("folder.sqlite"), "error")
    c.add("db_report_missing", ["report", "--db", p("missing.sqlite")], "error")
    c.add("db_change_missing_folder", ["change", "--before-classes", before, "--after-classes",
                                       after, "-o", "@OUT@", "--db", p("no/such/dir/x.sqlite"),
                                       "-q"], "error")
    c.add("db_report_run_missing", ["report", "--db", p("good.sqlite"), "--run", "999999"],
          "error")
    c.add("db_report_run_negative", ["report", "--db", p("good.sqlite"), "--run=-5"], "error")
    c.save()


# ------------------------------------------------------------------------------------------
# models, sidecars and Deepness metadata (onnx)
# ------------------------------------------------------------------------------------------
def models(out):
    import numpy as np
    import onnx
    from onnx import TensorProto as T, helper, numpy_helper

    d = os.path.join(out, "models")
    os.makedirs(d, exist_ok=True)
    c = Cases(out, "models")
    p = lambda name: os.path.join(d, name)  # noqa: E731
    raster = os.path.join(out, "rasters", "base_tiled.tif")
    names3 = ["other", "vegetation", "water"]

    def props(extra=None, classes=names3):
        v = {"model_type": "Segmentor", "class_names": {str(i): n for i, n in enumerate(classes)},
             "resolution": 1000, "tile_size": 64, "tiles_overlap": 25}
        v.update(extra or {})
        return {k: (x if isinstance(x, str) else json.dumps(x)) for k, x in v.items()}

    def save(name, nodes, inputs, outputs, inits=(), meta=None, opset=17, ir=8, check=True):
        g = helper.make_graph(nodes, name, inputs, outputs, initializer=list(inits))
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
        m.ir_version = ir
        helper.set_model_props(m, props() if meta is None else meta)
        if check:
            onnx.checker.check_model(m)
        onnx.save(m, p(name))
        return p(name)

    vi = helper.make_tensor_value_info
    i64 = lambda n, v: numpy_helper.from_array(np.asarray(v, np.int64), n)  # noqa: E731
    f32 = lambda n, v: numpy_helper.from_array(np.asarray(v, np.float32), n)  # noqa: E731
    X = vi("input", T.FLOAT, ["N", 4, "H", "W"])

    def slice3(inp="input", out="logits"):
        return ([helper.make_node("Slice", [inp, "s0", "s3", "ax1"], [out])],
                [i64("s0", [0]), i64("s3", [3]), i64("ax1", [1])])

    def seg(name, model, accept="either", extra=()):
        c.segment(name, raster, model, extra=extra, accept=accept)

    # truncated and flipped copies of a real test model
    data = open(PERPIXEL, "rb").read()
    shutil.copy(PERPIXEL + ".json", p("sidecar_template.json"))
    for o in offsets(len(data)):
        open(p(f"trunc_{o}.onnx"), "wb").write(cut(data, o))
        seg(f"model_truncated_at_{o}", p(f"trunc_{o}.onnx"))
    rng = random.Random(99)
    for i in range(15):
        pos = rng.randrange(0, len(data))
        open(p(f"flip_{i}.onnx"), "wb").write(flip(data, pos, rng))
        seg(f"model_flipped_{i}_byte_{pos}", p(f"flip_{i}.onnx"))
    open(p("empty.onnx"), "wb").close()
    seg("model_empty_file", p("empty.onnx"), "error")
    open(p("text.onnx"), "w").write("definitely not protobuf\n")
    seg("model_text_file", p("text.onnx"), "error")
    os.makedirs(p("folder.onnx"), exist_ok=True)
    seg("model_folder", p("folder.onnx"), "error")

    # wrong rank
    nodes, inits = slice3()
    seg("model_input_rank3", save("in_rank3.onnx", [helper.make_node("Identity", ["input"],
        ["logits"])], [vi("input", T.FLOAT, [4, "H", "W"])], [vi("logits", T.FLOAT, [4, "H", "W"])]),
        "error")
    seg("model_input_rank5", save("in_rank5.onnx", [helper.make_node("Identity", ["input"],
        ["logits"])], [vi("input", T.FLOAT, ["N", 1, 4, "H", "W"])],
        [vi("logits", T.FLOAT, ["N", 1, 4, "H", "W"])]), "error")
    seg("model_input_scalar", save("in_scalar.onnx", [helper.make_node("Identity", ["input"],
        ["logits"])], [vi("input", T.FLOAT, [])], [vi("logits", T.FLOAT, [])]), "error")
    seg("model_output_rank2", save("out_rank2.onnx", [helper.make_node("ReduceMean", ["input"],
        ["logits"], axes=[2, 3], keepdims=0)], [X], [vi("logits", T.FLOAT, ["N", 4])]), "error")
    seg("model_output_rank5", save("out_rank5.onnx", nodes + [helper.make_node("Unsqueeze",
        ["logits", "ax1"], ["out5"])], [X], [vi("out5", T.FLOAT, ["N", 1, 3, "H", "W"])], inits),
        "error")
    # wrong element types
    # (float16 inputs are fed converted at the boundary: a clean error or a success)
    for tname, t, expect in [("float64", T.DOUBLE, "error"), ("int64", T.INT64, "error"),
                             ("uint8", T.UINT8, "error"), ("float16", T.FLOAT16, "either")]:
        n2, i2 = slice3("as_float")
        seg(f"model_input_{tname}", save(f"in_{tname}.onnx",
            [helper.make_node("Cast", ["input"], ["as_float"], to=T.FLOAT)] + n2,
            [vi("input", t, ["N", 4, "H", "W"])], [vi("logits", T.FLOAT, ["N", 3, "H", "W"])], i2),
            expect)
    for tname, t in [("float64", T.DOUBLE), ("float16", T.FLOAT16), ("int32", T.INT32),
                     ("bool", T.BOOL), ("uint8", T.UINT8), ("string", T.STRING)]:
        n2, i2 = slice3(out="l3")
        seg(f"model_output_{tname}", save(f"out_{tname}.onnx",
            n2 + [helper.make_node("Cast", ["l3"], ["logits"], to=t)], [X],
            [vi("logits", t, ["N", 3, "H", "W"])], i2))
    # zero-sized dimensions
    seg("model_input_zero_hw", save("in_zero_hw.onnx", nodes, [vi("input", T.FLOAT, [1, 4, 0, 0])],
        [vi("logits", T.FLOAT, [1, 3, 0, 0])], inits), "error")
    seg("model_input_zero_channels", save("in_zero_c.onnx", [helper.make_node("Identity",
        ["input"], ["logits"])], [vi("input", T.FLOAT, ["N", 0, "H", "W"])],
        [vi("logits", T.FLOAT, ["N", 0, "H", "W"])]), "error")
    seg("model_input_zero_batch", save("in_zero_n.onnx", nodes, [vi("input", T.FLOAT,
        [0, 4, 64, 64])], [vi("logits", T.FLOAT, [0, 3, 64, 64])], inits), "error")
    n0 = [helper.make_node("Slice", ["input", "s0", "s0", "ax1"], ["logits"])]
    seg("model_output_zero_channels", save("out_zero_c.onnx", n0, [X],
        [vi("logits", T.FLOAT, ["N", 0, "H", "W"])], [i64("s0", [0]), i64("ax1", [1])],
        meta=props(classes=[])), "error")
    seg("model_output_zero_channels_dynamic", save("out_zero_c_dyn.onnx", n0, [X],
        [vi("logits", T.FLOAT, ["N", "C", "H", "W"])], [i64("s0", [0]), i64("ax1", [1])],
        meta=props(classes=names3)), "error")
    # huge fixed sizes
    seg("model_input_fixed_huge", save("in_huge.onnx", nodes,
        [vi("input", T.FLOAT, [1, 4, 100000, 100000])],
        [vi("logits", T.FLOAT, [1, 3, 100000, 100000])], inits), "error")
    seg("model_input_fixed_non_square", save("in_rect.onnx", nodes,
        [vi("input", T.FLOAT, [1, 4, 32, 64])], [vi("logits", T.FLOAT, [1, 3, 32, 64])], inits),
        "error")
    seg("model_input_dynamic_channels", save("in_dyn_c.onnx", nodes,
        [vi("input", T.FLOAT, ["N", "C", "H", "W"])], [vi("logits", T.FLOAT, ["N", 3, "H", "W"])],
        inits), "error")
    seg("model_input_10000_channels", save("in_10000_c.onnx", nodes,
        [vi("input", T.FLOAT, ["N", 10000, "H", "W"])], [vi("logits", T.FLOAT, ["N", 3, "H", "W"])],
        inits), "error")

    # outputs out of range
    def const_model(name, value, kind, dtype=T.FLOAT, shape=("N", 3, "H", "W"), classes=names3):
        """Output = value broadcast over a [N,C,H,W] (or [N,H,W]) shape of the input."""
        rank3 = len(shape) == 3
        ch = 1 if rank3 else shape[1]
        np_t = {T.FLOAT: np.float32, T.INT64: np.int64, T.INT32: np.int32}[dtype]
        n = [helper.make_node("Slice", ["input", "s0", "s1", "ax1"], ["one"]),
             helper.make_node("Cast", ["one"], ["one_t"], to=dtype),
             helper.make_node("Mul", ["one_t", "zero"], ["zeros"]),
             helper.make_node("Add", ["zeros", "val"], ["filled"])]
        inits = [i64("s0", [0]), i64("s1", [1]), i64("ax1", [1]),
                 numpy_helper.from_array(np.zeros((), np_t), "zero"),
                 numpy_helper.from_array(np.asarray(value, np_t).reshape(
                     (1, ch, 1, 1) if not rank3 else (1, 1, 1)), "val")]
        out = "filled"
        if rank3:
            n.append(helper.make_node("Squeeze", ["filled", "ax1"], ["out"]))
            out = "out"
        path = save(name, n, [X], [vi(out, dtype, list(shape))], inits,
                    meta=props(classes=classes))
        sc = {"output_kind": kind, "class_names": classes} if kind else {"class_names": classes}
        json.dump(sc, open(path + ".json", "w"))
        return path

    seg("model_probabilities_above_one", const_model("probs_big.onnx", [5.0, 1e6, 3.0],
        "probabilities"))
    seg("model_probabilities_negative", const_model("probs_neg.onnx", [-1.0, -2.0, 0.5],
        "probabilities"))
    seg("model_output_nan", const_model("out_nan.onnx", [np.nan, np.nan, np.nan], "logits"))
    seg("model_output_inf", const_model("out_inf.onnx", [np.inf, -np.inf, np.inf], "logits"))
    seg("model_output_ties", const_model("out_ties.onnx", [1.0, 1.0, 1.0], "logits"))
    seg("model_output_huge_logits", const_model("out_huge.onnx", [3e38, -3e38, 3e38], "logits"))
    seg("model_output_detect_kind", const_model("out_detect.onnx", [0.2, 0.3, 0.5], None))
    seg("model_sigmoid_three_channels", const_model("sig3.onnx", [0.2, 0.3, 0.5], "sigmoid"),
        "error")
    seg("model_sigmoid_above_one", const_model("sig_big.onnx", [7.0], "sigmoid",
        shape=("N", 1, "H", "W"), classes=["land", "water"]))
    for lname, v in [("too_big", 7), ("negative", -1), ("int64_max", 2**63 - 1),
                     ("u16_max", 65535)]:
        seg(f"model_labels_{lname}", const_model(f"labels_{lname}.onnx", [v], "labels",
            T.INT64, shape=("N", "H", "W")))
    seg("model_labels_int32", const_model("labels_i32.onnx", [1], "labels", T.INT32,
        shape=("N", "H", "W")))
    seg("model_labels_float", const_model("labels_f.onnx", [1.5], "labels",
        shape=("N", "H", "W")))
    seg("model_labels_70000_classes", const_model("labels_70000.onnx", [69999], "labels",
        T.INT64, shape=("N", "H", "W"), classes=[f"c{i}" for i in range(70000)]))
    # output sizes that do not match the tile
    seg("model_output_half_size", save("out_half.onnx", nodes + [helper.make_node("AveragePool",
        ["logits"], ["pooled"], kernel_shape=[2, 2], strides=[2, 2])], [X],
        [vi("pooled", T.FLOAT, ["N", 3, "H2", "W2"])], inits))
    seg("model_output_double_size", save("out_double.onnx", nodes + [helper.make_node("Resize",
        ["logits", "", "scales"], ["up"], mode="nearest")], [X],
        [vi("up", T.FLOAT, ["N", 3, "H2", "W2"])], inits + [f32("scales", [1, 1, 2, 2])]))
    seg("model_output_batch_mismatch", save("out_batch.onnx", nodes + [helper.make_node(
        "ReduceMean", ["logits"], ["red"], axes=[0], keepdims=1)], [X],
        [vi("red", T.FLOAT, [1, 3, "H", "W"])], inits))
    # structure
    seg("model_two_inputs", save("two_inputs.onnx", nodes, [X, vi("extra", T.FLOAT, [1])],
        [vi("logits", T.FLOAT, ["N", 3, "H", "W"])], inits), "error")
    seg("model_sequence_output", save("seq_out.onnx", nodes + [helper.make_node(
        "SplitToSequence", ["logits"], ["seq"], axis=1)], [X],
        [helper.make_tensor_sequence_value_info("seq", T.FLOAT, None)], inits), "error")
    seg("model_sequence_input", save("seq_in.onnx", [helper.make_node("ConcatFromSequence",
        ["input"], ["logits"], axis=1)], [helper.make_tensor_sequence_value_info("input", T.FLOAT,
        None)], [vi("logits", T.FLOAT, ["N", 3, "H", "W"])], check=False), "error")
    seg("model_opset_99", save("opset99.onnx", nodes, [X], [vi("logits", T.FLOAT,
        ["N", 3, "H", "W"])], inits, opset=99, check=False), "error")
    seg("model_ir_99", save("ir99.onnx", nodes, [X], [vi("logits", T.FLOAT,
        ["N", 3, "H", "W"])], inits, ir=99, check=False), "error")
    seg("model_unknown_op", save("unknown_op.onnx", [helper.make_node("NoSuchOp", ["input"],
        ["logits"])], [X], [vi("logits", T.FLOAT, ["N", 3, "H", "W"])], check=False), "error")
    ext = helper.make_tensor("s3", T.INT64, [1], [3])
    m = onnx.load(save("ext.onnx", nodes, [X], [vi("logits", T.FLOAT, ["N", 3, "H", "W"])],
                       inits))
    for init in m.graph.initializer:
        if init.name == "s3":
            init.ClearField("int64_data")
            init.ClearField("raw_data")
            init.data_location = onnx.TensorProto.EXTERNAL
            init.external_data.add(key="location", value="missing_weights.bin")
    onnx.save(m, p("ext.onnx"))
    del ext
    seg("model_external_data_missing", p("ext.onnx"), "error")

    # sidecars beside a copy of perpixel_ndi
    good = json.load(open(PERPIXEL + ".json"))

    def sidecar(name, text, accept="either", extra=()):
        path = p(f"sc_{name}.onnx")
        shutil.copy(PERPIXEL, path)
        mode = "wb" if isinstance(text, bytes) else "w"
        with open(path + ".json", mode) as fh:
            fh.write(text if isinstance(text, (str, bytes)) else json.dumps(text))
        seg(f"sidecar_{name}", path, accept, extra)

    def with_(**kw):
        v = dict(good)
        v.update(kw)
        return v

    sidecar("empty", "", "error")
    sidecar("truncated", json.dumps(good)[:40], "error")
    sidecar("garbage", b"\xff\xfe\x00\x01garbage", "error")
    sidecar("bom", b"\xef\xbb\xbf" + json.dumps(good).encode())
    sidecar("array", "[]", "error")
    sidecar("null", "null", "error")
    sidecar("number", "1", "error")
    sidecar("trailing_comma", '{"bands": ["a"],}', "error")
    sidecar("nested_deep", "[" * 5000 + "]" * 5000, "error")
    sidecar("nul_bytes", b'{"description": "a\x00b"}')
    sidecar("unknown_key", with_(colour_map="x"), "error")
    sidecar("bands_number", with_(bands=4), "error")
    sidecar("bands_ints", with_(bands=[1, 2, 3, 4]), "error")
    sidecar("band_indices_string", with_(band_indices="1,2,3,4"), "error")
    sidecar("band_indices_negative", with_(band_indices=[-1, 2, 3, 4]), "error")
    sidecar("band_indices_zero", with_(band_indices=[0, 1, 2, 3]), "error")
    sidecar("band_indices_float", with_(band_indices=[1.5, 2, 3, 4]), "error")
    sidecar("band_indices_huge", with_(band_indices=[10**30, 2, 3, 4]), "error")
    sidecar("band_indices_beyond", with_(band_indices=[99, 2, 3, 4]))
    sidecar("band_indices_usize_max", with_(band_indices=[2**64 - 1, 2, 3, 4]))
    sidecar("input_scale_string", with_(input_scale="x"), "error")
    sidecar("input_scale_huge", with_(input_scale=1e300))
    sidecar("input_scale_zero", with_(input_scale=0))
    sidecar("mean_short", with_(mean=[0, 0, 0]), "error")
    sidecar("std_zero", with_(std=[0, 0, 0, 0]), "error")
    sidecar("std_tiny", with_(std=[1e-45] * 4))
    sidecar("class_names_string", with_(class_names="abc"), "error")
    sidecar("class_names_ints", with_(class_names=[1, 2, 3]), "error")
    sidecar("class_names_two", with_(class_names=["a", "b"], class_colors=None), "error")
    sidecar("class_names_five", with_(class_names=list("abcde"), class_colors=None), "error")
    sidecar("class_names_empty", with_(class_names=[], class_colors=None))
    sidecar("class_names_newline", with_(class_names=["a\nb", "c", "d"]))
    sidecar("class_colors_names", with_(class_colors=["red", "green", "blue"]), "error")
    sidecar("class_colors_unicode", with_(class_colors=["#ééé", "#000000", "#000000"]), "error")
    sidecar("class_colors_wrong_count", with_(class_colors=["#ffffff"]), "error")
    sidecar("output_kind_unknown", with_(output_kind="softmax"), "error")
    sidecar("tile_size_negative", with_(tile_size=-1), "error")
    sidecar("tile_size_zero", with_(tile_size=0), "error")
    sidecar("tile_size_huge", with_(tile_size=10**12), "error")
    sidecar("tile_size_usize_max", with_(tile_size=2**64 - 1), "error")
    sidecar("tile_size_three", with_(tile_size=3, tile_overlap_px=1))
    sidecar("tile_overlap_above_tile", with_(tile_overlap_px=1000))
    sidecar("resolution_zero", with_(resolution_m=0))
    sidecar("resolution_negative", with_(resolution_m=-10))
    sidecar("resolution_tiny", with_(resolution_m=1e-6))
    sidecar("resolution_huge", with_(resolution_m=1e9))
    sidecar("resolution_string", with_(resolution_m="10"), "error")
    sidecar("receptive_field_huge", with_(receptive_field_px=10**9))
    sidecar("description_1mb", with_(description="x" * 1_000_000))
    sidecar("huge_class_names", with_(class_names=[f"c{i}" for i in range(1_000_000)],
                                      class_colors=None), "error")
    sidecar("huge_class_colors", with_(class_colors=["#000000"] * 1_000_000), "error")
    sidecar("huge_mean", with_(mean=[0.0] * 1_000_000), "error")
    sidecar("huge_bands", with_(bands=["b"] * 1_000_000), "error")

    # Deepness metadata_props (no sidecar)
    def meta(name, extra, accept="either", classes=names3, raw=None):
        m = props(extra, classes)
        if raw:
            m.update(raw)
        path = save(f"meta_{name}.onnx", nodes, [X], [vi("logits", T.FLOAT, ["N", 3, "H", "W"])],
                    inits, meta=m)
        seg(f"metadata_{name}", path, accept)

    meta("class_names_not_json", None, raw={"class_names": "{not json"})
    meta("class_names_number", {"class_names": 5})
    meta("class_names_gap", {"class_names": {"0": "a", "5": "b", "2": "c"}})
    meta("class_names_bad_keys", {"class_names": {"x": "a", "y": "b", "z": "c"}})
    meta("class_names_huge", {"class_names": {str(i): f"c{i}" for i in range(100_000)}},
         "error")
    nested = json.dumps(names3)
    for _ in range(12):
        nested = json.dumps(nested)
    meta("class_names_nested_strings", None, raw={"class_names": nested})
    meta("class_names_two", None, classes=["a", "b"], accept="error")
    meta("tile_size_text", {"tile_size": "abc"})
    meta("tile_size_negative", {"tile_size": -5})
    meta("tile_size_zero", {"tile_size": 0}, "error")
    meta("tile_size_huge", {"tile_size": 1e20}, "error")
    meta("tile_size_nan_text", None, raw={"tile_size": "NaN"})
    meta("tiles_overlap_500", {"tiles_overlap": 500})
    meta("tiles_overlap_negative", {"tiles_overlap": -50})
    meta("resolution_zero", {"resolution": 0})
    meta("resolution_negative", {"resolution": -100})
    meta("resolution_tiny", {"resolution": 1e-6})
    meta("resolution_nan_text", None, raw={"resolution": "NaN"})
    meta("resolution_inf_text", None, raw={"resolution": "inf"})
    meta("mean_short", {"standardization_mean": [0, 0]}, "error")
    meta("std_zero", {"standardization_std": [0, 0, 0, 0]}, "error")
    meta("std_strings", {"standardization_std": ["a", "b", "c", "d"]})
    meta("std_huge", {"standardization_std": [1e300] * 4})
    meta("model_type_detector", {"model_type": "Detector"})
    meta("binary_value", None, raw={"class_names": "\u0000\u0001\ufffd"})
    c.save()


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    part, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    if part == "rasters":
        rasters(out)
    elif part == "dbs":
        dbs(out, sys.argv[3])
    elif part == "models":
        models(out)
    else:
        sys.exit(f"make_corpus.py: unknown part {part!r}; see the docstring")


if __name__ == "__main__":
    main()
