-- Every accepted event, exactly as received, with the columns queries filter on.
-- (site_id, message_id) is the dedup key: a resent event is never stored twice.
CREATE TABLE events (
  site_id        TEXT    NOT NULL,
  message_id     TEXT    NOT NULL,
  type           TEXT    NOT NULL,
  event          TEXT,
  anonymous_id   TEXT,
  user_id        TEXT,
  timestamp_ms   INTEGER,             -- client clock
  sent_at_ms     INTEGER,             -- client clock
  received_at_ms INTEGER NOT NULL,    -- collector clock
  event_time_ms  INTEGER NOT NULL,    -- received − (sentAt − timestamp)
  raw            TEXT    NOT NULL,    -- the event JSON as sent
  PRIMARY KEY (site_id, message_id)
) WITHOUT ROWID;

CREATE INDEX events_by_name ON events (site_id, event, received_at_ms);
CREATE INDEX events_by_visitor ON events (site_id, anonymous_id, received_at_ms);

-- The shop's catalogue, from its product feed.
CREATE TABLE products (
  site_id       TEXT    NOT NULL,
  id            TEXT    NOT NULL,
  title         TEXT    NOT NULL,
  price         REAL    NOT NULL,
  old_price     REAL,
  currency      TEXT    NOT NULL,
  category      TEXT    NOT NULL,
  available     INTEGER NOT NULL,
  image         TEXT    NOT NULL,
  url           TEXT    NOT NULL,
  brand         TEXT,
  feed_position INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL,
  PRIMARY KEY (site_id, id)
) WITHOUT ROWID;
