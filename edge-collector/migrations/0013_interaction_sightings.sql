-- Who interacted with what on the days an interaction fold may still change (the current day,
-- and the day before while late commits can land in it): each (day, product, kind, visitor)
-- once, so a fold reads only the events received since the last one and recounts those days
-- from here (edge-collector/src/popularity.rs). Older days are pruned by the fold.
CREATE TABLE interaction_sightings (
  site_id    TEXT    NOT NULL,
  day        INTEGER NOT NULL,   -- received_at_ms / 86400000
  product_id TEXT    NOT NULL,
  kind       TEXT    NOT NULL,
  visitor    TEXT    NOT NULL,
  PRIMARY KEY (site_id, day, product_id, kind, visitor)
) WITHOUT ROWID;

-- Counts folded before this table existed have no sightings behind them: the next fold
-- rebuilds them from the raw events.
DELETE FROM product_interactions;
DELETE FROM interaction_folds;
