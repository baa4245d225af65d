-- Each event records the profile it was resolved to when it arrived. Merged profiles keep their
-- rows (profiles.merged_into), so a profile's events are those of the profile and of every
-- profile merged into it. Server events that name a contact only by email or phone are found
-- this way too.
ALTER TABLE events ADD COLUMN profile_id TEXT;
CREATE INDEX events_by_profile ON events (site_id, profile_id);
