-- Areas are ground areas on the ellipsoid in every CRS: each run records how its pixel
-- areas were measured. 'ellipsoidal-rows' (geographic CRS: each row's cells between two
-- parallels, exact), 'geodesic-footprints' (projected CRS: pixel footprints taken to
-- lon/lat, geodesic area on a lattice of cells, interpolated). NULL: a run recorded
-- before, whose areas were planar pixel areas in the CRS (pixel_area_m2; new runs leave
-- that NULL, as pixel areas vary in every CRS).

ALTER TABLE runs ADD COLUMN area_method TEXT;
