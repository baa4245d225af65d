-- Interaction counts for recommendations, folded from the raw events by the cron trigger and the
-- admin refresh (edge-collector/src/popularity.rs), so a block does not aggregate 30 days of raw
-- events: distinct visitors per product, kind (view, cart, purchase) and day, bots left out.
CREATE TABLE product_interactions (
  site_id    TEXT    NOT NULL,
  day        INTEGER NOT NULL,   -- received_at_ms / 86400000
  product_id TEXT    NOT NULL,
  kind       TEXT    NOT NULL,
  visitors   INTEGER NOT NULL,
  PRIMARY KEY (site_id, day, product_id, kind)
) WITHOUT ROWID;

-- The newest event each site's counts include; events received after it are counted from the
-- raw rows when a block reads the counts. No row: nothing folded (or an erasure reset the counts).
CREATE TABLE interaction_folds (
  site_id         TEXT    NOT NULL PRIMARY KEY,
  events_until_ms INTEGER NOT NULL,
  folded_at_ms    INTEGER NOT NULL
) WITHOUT ROWID;
