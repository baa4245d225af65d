-- Who interacted with what on the days an interaction fold may still change (the current day,
-- and the day before while late commits can land in it): each (day, product, kind, visitor)
-- once, so a fold reads only the events received since the last one and adds to the counts
-- only the sightings that are new (edge-collector/src/popularity.rs). Older days are pruned by
-- the fold.
CREATE TABLE interaction_sightings (
  site_id    TEXT    NOT NULL,
  day        INTEGER NOT NULL,   -- received_at_ms / 86400000
  product_id TEXT    NOT NULL,
  kind       TEXT    NOT NULL,
  visitor    TEXT    NOT NULL,
  fold       TEXT    NOT NULL,   -- the fold that found it (random ID): it adds its own to the counts
  PRIMARY KEY (site_id, day, product_id, kind, visitor)
) WITHOUT ROWID;
CREATE INDEX sightings_by_fold ON interaction_sightings (site_id, fold);

-- Counts folded before this table existed have no sightings behind them: the next fold
-- rebuilds them from the raw events.
DELETE FROM product_interactions;
DELETE FROM interaction_folds;
