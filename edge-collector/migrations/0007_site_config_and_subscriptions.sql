-- The site configuration (widgets, display rules, texts, A/B variants, push), one document per
-- site, stored as validated JSON; `etag` changes with every write so browsers can revalidate.
CREATE TABLE site_configs (
  site_id       TEXT    NOT NULL PRIMARY KEY,
  config        TEXT    NOT NULL,
  etag          TEXT    NOT NULL,
  updated_at_ms INTEGER NOT NULL
) WITHOUT ROWID;

-- A contact's subscription to one channel (email or phone), from a widget. Double opt-in
-- subscriptions stay `pending` until the platform's mailer confirms them.
CREATE TABLE subscriptions (
  site_id       TEXT    NOT NULL,
  channel       TEXT    NOT NULL,   -- email | phone
  address       TEXT    NOT NULL,   -- normalised as in the identity graph
  profile_id    TEXT    NOT NULL,
  status        TEXT    NOT NULL,   -- pending | subscribed
  widget_id     TEXT    NOT NULL,
  fields        TEXT    NOT NULL,   -- JSON: name and custom fields as typed
  created_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL,
  PRIMARY KEY (site_id, channel, address)
) WITHOUT ROWID;
CREATE INDEX subscriptions_by_profile ON subscriptions (site_id, profile_id);

-- Every consent given through a widget, never updated: when, where, and to which text (its
-- SHA-256, with the text itself so the version can be shown later).
CREATE TABLE consent_records (
  site_id           TEXT    NOT NULL,
  record_id         TEXT    NOT NULL,
  profile_id        TEXT    NOT NULL,
  widget_id         TEXT    NOT NULL,
  variant           TEXT,
  consent_text      TEXT    NOT NULL,
  consent_text_hash TEXT    NOT NULL,
  granted_at_ms     INTEGER NOT NULL,
  PRIMARY KEY (site_id, record_id)
) WITHOUT ROWID;
CREATE INDEX consent_records_by_profile ON consent_records (site_id, profile_id);
