-- Default QGIS styles that travel with the GeoPackage: QGIS's own `layer_styles` table
-- (the schema QGIS creates when it saves a style into a GeoPackage), registered as an
-- attributes table. terratile keeps one default row for `tile_stats`, rewritten by each
-- change run with that run's classes and colours; QGIS applies it when it opens the
-- layer (`useAsDefault`, matched on f_table_schema = '', f_table_name, f_geometry_column).

CREATE TABLE layer_styles (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  f_table_catalog TEXT(256),
  f_table_schema TEXT(256),
  f_table_name TEXT(256),
  f_geometry_column TEXT(256),
  styleName TEXT(30),
  styleQML TEXT,
  styleSLD TEXT,
  useAsDefault BOOLEAN,
  description TEXT,
  owner TEXT(30),
  ui TEXT(30),
  update_time DATETIME DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);

INSERT INTO gpkg_contents (table_name, data_type, identifier, description) VALUES
  ('layer_styles', 'attributes', 'layer_styles', 'QGIS default styles of the layers');
