-- terratile statistics database, schema version 1: runs, their inputs and the per-class,
-- per-transition and per-tile figures. The file is also a GeoPackage (1.3): the GPKG core
-- tables come first, and tile_stats is a polygon feature layer in EPSG:4326.

CREATE TABLE gpkg_spatial_ref_sys (
  srs_name TEXT NOT NULL,
  srs_id INTEGER NOT NULL PRIMARY KEY,
  organization TEXT NOT NULL,
  organization_coordsys_id INTEGER NOT NULL,
  definition TEXT NOT NULL,
  description TEXT
);
INSERT INTO gpkg_spatial_ref_sys VALUES
  ('Undefined cartesian SRS', -1, 'NONE', -1, 'undefined', 'undefined cartesian coordinate reference system'),
  ('Undefined geographic SRS', 0, 'NONE', 0, 'undefined', 'undefined geographic coordinate reference system'),
  ('WGS 84 geodetic', 4326, 'EPSG', 4326,
   'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AXIS["Latitude",NORTH],AXIS["Longitude",EAST],AUTHORITY["EPSG","4326"]]',
   'longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid');

CREATE TABLE gpkg_contents (
  table_name TEXT NOT NULL PRIMARY KEY,
  data_type TEXT NOT NULL,
  identifier TEXT UNIQUE,
  description TEXT DEFAULT '',
  last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE,
  srs_id INTEGER,
  CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id)
);

CREATE TABLE gpkg_geometry_columns (
  table_name TEXT NOT NULL,
  column_name TEXT NOT NULL,
  geometry_type_name TEXT NOT NULL,
  srs_id INTEGER NOT NULL,
  z TINYINT NOT NULL,
  m TINYINT NOT NULL,
  CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
  CONSTRAINT uk_gc_table_name UNIQUE (table_name),
  CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
  CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id)
);

-- One row per terratile command that finished; everything below ties back to it.
CREATE TABLE runs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  command TEXT NOT NULL,            -- 'change' or 'segment'
  parameters TEXT NOT NULL,         -- the options as JSON
  tool_version TEXT NOT NULL,
  started TEXT NOT NULL,            -- UTC, ISO 8601
  finished TEXT NOT NULL,
  status TEXT NOT NULL,             -- 'ok'
  class_count INTEGER NOT NULL,
  pixel_area_m2 REAL,               -- NULL when it varies by row (geographic CRS)
  valid_px INTEGER NOT NULL,
  valid_area_m2 REAL NOT NULL,
  output TEXT NOT NULL
);

-- Models used by a run (none when class rasters were given).
CREATE TABLE models (
  id INTEGER PRIMARY KEY,
  run_id INTEGER NOT NULL REFERENCES runs(id),
  role TEXT NOT NULL,               -- 'segmentation' or 'mask'
  path TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  classes TEXT NOT NULL             -- class names as a JSON array
);

-- Rasters read or written by a run.
CREATE TABLE rasters (
  id INTEGER PRIMARY KEY,
  run_id INTEGER NOT NULL REFERENCES runs(id),
  role TEXT NOT NULL,               -- 'before', 'after', 'before_classes', 'after_classes', 'input', 'output'
  path TEXT NOT NULL,
  width_px INTEGER NOT NULL,
  height_px INTEGER NOT NULL,
  bands INTEGER NOT NULL,
  crs TEXT NOT NULL,                -- WKT
  geotransform TEXT NOT NULL        -- JSON array of the 6 GDAL coefficients
);

-- Pixels and area per class and date ('before', 'after'; 'classes' for segment).
CREATE TABLE class_areas (
  id INTEGER PRIMARY KEY,
  run_id INTEGER NOT NULL REFERENCES runs(id),
  date TEXT NOT NULL,
  class INTEGER NOT NULL,
  class_name TEXT NOT NULL,
  pixels INTEGER NOT NULL,
  area_m2 REAL NOT NULL,
  share REAL NOT NULL               -- of the valid area, 0..1
);

-- The from-to matrix: every pair with at least one pixel.
CREATE TABLE transitions (
  id INTEGER PRIMARY KEY,
  run_id INTEGER NOT NULL REFERENCES runs(id),
  from_class INTEGER NOT NULL,
  to_class INTEGER NOT NULL,
  pixels INTEGER NOT NULL,
  area_m2 REAL NOT NULL
);

-- Per tile of the comparison grid: a polygon layer (EPSG:4326) QGIS shows as is.
CREATE TABLE tile_stats (
  fid INTEGER PRIMARY KEY AUTOINCREMENT,
  geom POLYGON,
  run_id INTEGER NOT NULL REFERENCES runs(id),
  tile_row INTEGER NOT NULL,
  tile_col INTEGER NOT NULL,
  x0_px INTEGER NOT NULL,
  y0_px INTEGER NOT NULL,
  width_px INTEGER NOT NULL,
  height_px INTEGER NOT NULL,
  valid_px INTEGER NOT NULL,
  changed_px INTEGER NOT NULL,
  changed_area_m2 REAL NOT NULL,
  changed_share REAL NOT NULL,      -- of the tile's valid pixels
  dominant_from INTEGER,            -- the changed pair with most pixels (NULL: no change)
  dominant_to INTEGER,
  dominant_px INTEGER NOT NULL,
  dominant TEXT NOT NULL            -- 'forest -> water', '' without change
);
INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id)
  VALUES ('tile_stats', 'features', 'tile_stats', 'terratile: change per tile of the comparison grid', 4326);
INSERT INTO gpkg_geometry_columns VALUES ('tile_stats', 'geom', 'POLYGON', 4326, 0, 0);

INSERT INTO gpkg_contents (table_name, data_type, identifier, description) VALUES
  ('runs', 'attributes', 'runs', 'terratile runs'),
  ('models', 'attributes', 'models', 'models used by each run'),
  ('rasters', 'attributes', 'rasters', 'rasters read and written by each run'),
  ('class_areas', 'attributes', 'class_areas', 'pixels and area per class and date'),
  ('transitions', 'attributes', 'transitions', 'from-to transition matrix');

CREATE INDEX class_areas_run ON class_areas(run_id);
CREATE INDEX transitions_run ON transitions(run_id);
