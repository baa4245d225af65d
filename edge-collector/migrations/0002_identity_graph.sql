-- The identity graph: every identifier (anonymous device ID, customer ID, email, phone) points
-- at one profile. A merged profile keeps its row with `merged_into` set, so old IDs still resolve.
CREATE TABLE profiles (
  site_id       TEXT    NOT NULL,
  profile_id    TEXT    NOT NULL,
  created_at_ms INTEGER NOT NULL,
  merged_into   TEXT,
  PRIMARY KEY (site_id, profile_id)
) WITHOUT ROWID;

CREATE TABLE identities (
  site_id      TEXT    NOT NULL,
  kind         TEXT    NOT NULL,   -- anonymous | user | email | phone
  value        TEXT    NOT NULL,   -- normalised (emails lowercased, phones as +digits)
  profile_id   TEXT    NOT NULL,
  linked_at_ms INTEGER NOT NULL,
  PRIMARY KEY (site_id, kind, value)
) WITHOUT ROWID;

CREATE INDEX identities_by_profile ON identities (site_id, profile_id);
CREATE INDEX events_by_user ON events (site_id, user_id);
