-- The state the item-to-item refresh (edge-collector/src/neighbours.rs) updates incrementally:
-- the co-occurrence model is a sum over visitors, so a refresh subtracts the old contribution
-- of each visitor whose products changed and adds the new one, and recomputes only the rows
-- those sums reach. Rebuilt from the raw events by a full refresh (?full=1, or when no
-- neighbour_state row exists: after this migration, after an erasure).

-- Per visitor (COALESCE(profile_id, user_id, anonymous_id)), product and kind of interaction
-- (weight: view 1, cart 3, purchase 10), the newest such interaction in the window. Kept per
-- kind so that when a purchase leaves the 90-day window a later view still counts (a visitor's
-- weight for a product is the largest weight with a row).
CREATE TABLE neighbour_visits (
  site_id    TEXT    NOT NULL,
  visitor    TEXT    NOT NULL,
  product_id TEXT    NOT NULL,
  weight     INTEGER NOT NULL,
  last_ms    INTEGER NOT NULL,   -- received_at_ms of the newest such event
  PRIMARY KEY (site_id, visitor, product_id, weight)
) WITHOUT ROWID;
-- The rows leaving the window.
CREATE INDEX neighbour_visits_by_time ON neighbour_visits (site_id, last_ms);

-- together(product, other) per relation (co_viewed, bought_together), stored in both
-- directions so a product's pairs are one key range; `visitors` counts the contributions (the
-- row is deleted at 0).
CREATE TABLE neighbour_pairs (
  site_id    TEXT    NOT NULL,
  relation   TEXT    NOT NULL,
  product_id TEXT    NOT NULL,
  other_id   TEXT    NOT NULL,
  together   REAL    NOT NULL,
  visitors   INTEGER NOT NULL,
  PRIMARY KEY (site_id, relation, product_id, other_id)
) WITHOUT ROWID;

-- The norm n = Σ weight² · visitor factor per relation and product.
CREATE TABLE neighbour_norms (
  site_id    TEXT    NOT NULL,
  relation   TEXT    NOT NULL,
  product_id TEXT    NOT NULL,
  norm       REAL    NOT NULL,
  visitors   INTEGER NOT NULL,
  PRIMARY KEY (site_id, relation, product_id)
) WITHOUT ROWID;

-- The state includes the events received before events_until_ms (the start of the refresh that
-- wrote it). No row: no state (the next refresh is a full one).
CREATE TABLE neighbour_state (
  site_id         TEXT    NOT NULL PRIMARY KEY,
  events_until_ms INTEGER NOT NULL,
  built_at_ms     INTEGER NOT NULL
) WITHOUT ROWID;
