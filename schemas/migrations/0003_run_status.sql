-- Schema version 3: runs that did not finish are recorded too. status is 'ok' (the run's
-- figures follow in the other tables), 'failed' or 'interrupted' (Ctrl-C); error holds
-- the one-line error terratile printed (NULL for 'ok'). A run that did not finish has no
-- figures: class_count, valid_px and valid_area_m2 are 0, pixel_area_m2 is NULL.

ALTER TABLE runs ADD COLUMN error TEXT;

CREATE INDEX runs_status ON runs(status);
