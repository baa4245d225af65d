-- Recommendations read a customer's latest events across devices (every profile merged into
-- theirs, newest first): the profile index carries the time, so those reads stop at the limit
-- instead of sorting the customer's whole history.
DROP INDEX events_by_profile;
CREATE INDEX events_by_profile ON events (site_id, profile_id, received_at_ms);

-- The profiles merged into a customer's (their other devices), found by index.
CREATE INDEX profiles_by_merged_into ON profiles (site_id, merged_into);

-- The push messages sent to a profile, for its export and erasure.
CREATE INDEX push_messages_by_profile ON push_messages (site_id, profile_id);
