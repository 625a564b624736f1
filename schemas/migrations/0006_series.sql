-- Schema version 6: date series (`change D1 D2 ... Dn`). One run holds every date and
-- every interval: the run's row in `runs` (command 'change', output the last-change
-- raster, valid_px / valid_area_m2 = pixels valid at every date), the dates with their
-- class areas on the comparison grid, and per interval (date k -> date k + 1) its
-- change raster, figures and from-to matrix. Additive: earlier runs are unchanged.

CREATE TABLE series_dates (
  id INTEGER PRIMARY KEY,
  run_id INTEGER NOT NULL REFERENCES runs(id),
  date_index INTEGER NOT NULL,      -- 1-based, in time order
  date TEXT NOT NULL,               -- YYYY-MM-DD
  date_source TEXT NOT NULL,        -- where the date came from ('--dates', 'file name (Landsat scene ID)', ...)
  path TEXT NOT NULL,               -- the raster given for the date (imagery or class map)
  valid_px INTEGER NOT NULL,        -- on the comparison grid
  valid_area_m2 REAL NOT NULL
);

CREATE TABLE series_class_areas (
  id INTEGER PRIMARY KEY,
  run_id INTEGER NOT NULL REFERENCES runs(id),
  date_index INTEGER NOT NULL,
  class INTEGER NOT NULL,
  class_name TEXT NOT NULL,
  pixels INTEGER NOT NULL,
  area_m2 REAL NOT NULL,
  share REAL NOT NULL               -- of the date's valid area, 0..1
);

CREATE TABLE series_intervals (
  id INTEGER PRIMARY KEY,
  run_id INTEGER NOT NULL REFERENCES runs(id),
  interval INTEGER NOT NULL,        -- 1-based: date `interval` -> date `interval + 1`
  from_date_index INTEGER NOT NULL,
  to_date_index INTEGER NOT NULL,
  output TEXT NOT NULL,             -- the interval's change raster
  valid_px INTEGER NOT NULL,        -- valid at both dates
  valid_area_m2 REAL NOT NULL,
  changed_px INTEGER NOT NULL,
  changed_area_m2 REAL NOT NULL,
  last_change_px INTEGER NOT NULL   -- pixels whose last change was in this interval
);

CREATE TABLE series_transitions (
  id INTEGER PRIMARY KEY,
  run_id INTEGER NOT NULL REFERENCES runs(id),
  interval INTEGER NOT NULL,
  from_class INTEGER NOT NULL,
  to_class INTEGER NOT NULL,
  pixels INTEGER NOT NULL,
  area_m2 REAL NOT NULL
);

INSERT INTO gpkg_contents (table_name, data_type, identifier, description) VALUES
  ('series_dates', 'attributes', 'series_dates', 'the dates of a date series, per run'),
  ('series_class_areas', 'attributes', 'series_class_areas', 'pixels and area per class and date of a series'),
  ('series_intervals', 'attributes', 'series_intervals', 'the intervals of a date series: change figures'),
  ('series_transitions', 'attributes', 'series_transitions', 'from-to matrix per interval of a date series');

CREATE INDEX series_dates_run ON series_dates(run_id);
CREATE INDEX series_class_areas_run ON series_class_areas(run_id);
CREATE INDEX series_intervals_run ON series_intervals(run_id);
CREATE INDEX series_transitions_run ON series_transitions(run_id, interval);
