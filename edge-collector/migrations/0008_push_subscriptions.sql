-- Web push: each browser's subscription (PushSubscription.toJSON()), stored against the
-- visitor's profile at the time it subscribed (merged profiles are followed at send time).
CREATE TABLE push_subscriptions (
  site_id       TEXT    NOT NULL,
  endpoint      TEXT    NOT NULL,   -- the push service URL (https)
  p256dh        TEXT    NOT NULL,   -- base64url, 65-byte uncompressed P-256 point
  auth          TEXT    NOT NULL,   -- base64url, 16 bytes
  profile_id    TEXT    NOT NULL,
  anonymous_id  TEXT    NOT NULL,
  user_id       TEXT,
  created_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL,
  PRIMARY KEY (site_id, endpoint)
) WITHOUT ROWID;

CREATE INDEX push_subscriptions_by_profile ON push_subscriptions (site_id, profile_id);

-- Every message handed to a push service, with the service's answer, so a `Push Clicked`
-- event's message_id leads back to what was sent to whom.
CREATE TABLE push_messages (
  site_id     TEXT    NOT NULL,
  message_id  TEXT    NOT NULL,
  endpoint    TEXT    NOT NULL,
  profile_id  TEXT    NOT NULL,
  title       TEXT    NOT NULL,
  sent_at_ms  INTEGER NOT NULL,
  status      INTEGER NOT NULL,   -- HTTP status from the push service (0: not reached)
  PRIMARY KEY (site_id, message_id)
) WITHOUT ROWID;
