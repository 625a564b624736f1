#!/usr/bin/env python3
"""Geodesic truth for terratile's area tests (tests/areas.rs).

The ground area of each class of a class map: every pixel's footprint (its outline, each
edge cut into DENSIFY segments, since straight map lines are curves on the ellipsoid) is
taken to longitude/latitude with pyproj and measured with
Geod(ellps="WGS84").polygon_area_perimeter. Independent of terratile: pixel by pixel, no
lattice, no interpolation.

usage: area_truth.py GRID.json
  GRID.json: {"width", "height", "geotransform": [6 GDAL coefficients], "crs": WKT,
              "values": path of the class values as raw u8, row-major,
              "classes": N, "nodata": value or null}
prints JSON: {"class_m2": [N areas], "class_px": [N counts], "total_m2": sum}
"""
import json
import sys

import numpy as np
from pyproj import CRS, Geod, Transformer

DENSIFY = 4


def main():
    with open(sys.argv[1]) as f:
        g = json.load(f)
    w, h, gt, n = g["width"], g["height"], g["geotransform"], g["classes"]
    values = np.fromfile(g["values"], dtype=np.uint8).reshape(h, w)
    nodata = g.get("nodata")
    to_lonlat = Transformer.from_crs(CRS.from_wkt(g["crs"]), CRS.from_epsg(4326), always_xy=True)
    geod = Geod(ellps="WGS84")

    # the outline of the unit pixel, counter-clockwise on a north-up map seen from above
    # does not matter: the area's sign is dropped
    t = np.arange(DENSIFY) / DENSIFY
    zeros, ones = np.zeros(DENSIFY), np.ones(DENSIFY)
    du = np.concatenate([t, ones, 1 - t, zeros])
    dv = np.concatenate([zeros, t, ones, 1 - t])

    keep = (values < n) if nodata is None else (values < n) & (values != nodata)
    rows, cols = np.nonzero(keep)
    u = cols[:, None] + du[None, :]
    v = rows[:, None] + dv[None, :]
    x = gt[0] + u * gt[1] + v * gt[2]
    y = gt[3] + u * gt[4] + v * gt[5]
    lon, lat = to_lonlat.transform(x.ravel(), y.ravel())
    lon = np.asarray(lon).reshape(x.shape)
    lat = np.asarray(lat).reshape(x.shape)
    if not (np.isfinite(lon).all() and np.isfinite(lat).all()):
        sys.exit("area_truth.py: some pixel corners do not transform to lon/lat")

    class_m2 = [0.0] * n
    class_px = [0] * n
    for k, c in enumerate(values[rows, cols]):
        area, _ = geod.polygon_area_perimeter(lon[k], lat[k])
        class_m2[c] += abs(area)
        class_px[c] += 1
    json.dump({"class_m2": class_m2, "class_px": class_px, "total_m2": sum(class_m2)}, sys.stdout)


if __name__ == "__main__":
    main()
