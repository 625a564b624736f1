-- Schema version 2: per-zone statistics (change --zones) and run lookups by time.

CREATE TABLE zones (
  id INTEGER PRIMARY KEY,
  run_id INTEGER NOT NULL REFERENCES runs(id),
  zone INTEGER NOT NULL,            -- index of the polygon in the zones file (0-based)
  name TEXT NOT NULL,               -- the --zone-field value
  valid_px INTEGER NOT NULL,
  valid_area_m2 REAL NOT NULL
);

CREATE TABLE zone_transitions (
  id INTEGER PRIMARY KEY,
  run_id INTEGER NOT NULL REFERENCES runs(id),
  zone INTEGER NOT NULL,
  from_class INTEGER NOT NULL,
  to_class INTEGER NOT NULL,
  pixels INTEGER NOT NULL,
  area_m2 REAL NOT NULL
);

INSERT INTO gpkg_contents (table_name, data_type, identifier, description) VALUES
  ('zones', 'attributes', 'zones', 'zones of change --zones, per run'),
  ('zone_transitions', 'attributes', 'zone_transitions', 'from-to matrix per zone');

CREATE INDEX zone_transitions_run ON zone_transitions(run_id, zone);
CREATE INDEX tile_stats_run ON tile_stats(run_id);
CREATE INDEX runs_started ON runs(started);
