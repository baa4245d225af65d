-- Item-to-item tables for recommendations, computed from interactions by the cron refresh
-- (edge-collector/src/neighbours.rs): per product and relation (co_viewed, bought_together),
-- its neighbours as a JSON array of [product_id, weight], strongest first.
CREATE TABLE product_neighbours (
  site_id       TEXT    NOT NULL,
  relation      TEXT    NOT NULL,
  product_id    TEXT    NOT NULL,
  neighbours    TEXT    NOT NULL,
  updated_at_ms INTEGER NOT NULL,
  PRIMARY KEY (site_id, product_id, relation)
) WITHOUT ROWID;

-- The last refresh per site: the newest event it saw, so a refresh with nothing new is skipped.
CREATE TABLE neighbour_refreshes (
  site_id         TEXT    NOT NULL PRIMARY KEY,
  events_until_ms INTEGER NOT NULL,
  refreshed_at_ms INTEGER NOT NULL,
  rows            INTEGER NOT NULL
) WITHOUT ROWID;

-- Placements as data (PUT /v1/admin/placements/{name}): the configuration as JSON.
CREATE TABLE placements (
  site_id       TEXT    NOT NULL,
  name          TEXT    NOT NULL,
  config        TEXT    NOT NULL,
  updated_at_ms INTEGER NOT NULL,
  PRIMARY KEY (site_id, name)
) WITHOUT ROWID;

-- Recommendations read the available products (a retired feed can leave many sold-out rows).
CREATE INDEX products_available ON products (site_id, available, feed_position);

-- When a product first entered the catalogue (new arrivals). Set once, by the trigger, when
-- the feed import inserts the row; later upserts of the same product leave it.
ALTER TABLE products ADD COLUMN added_at_ms INTEGER;
UPDATE products SET added_at_ms = updated_at_ms;
CREATE TRIGGER products_added_at AFTER INSERT ON products WHEN NEW.added_at_ms IS NULL
BEGIN
  UPDATE products SET added_at_ms = NEW.updated_at_ms WHERE site_id = NEW.site_id AND id = NEW.id;
END;
