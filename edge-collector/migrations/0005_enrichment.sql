-- Enrichment that flags instead of dropping: the visitor's software (from the user agent), where
-- the request came from (the runtime's request metadata, when present), and whether the event
-- looks automated. Bots are stored like everyone else; reports and recommenders filter on `bot`.
ALTER TABLE events ADD COLUMN browser TEXT;
ALTER TABLE events ADD COLUMN os TEXT;
ALTER TABLE events ADD COLUMN device TEXT;
ALTER TABLE events ADD COLUMN country TEXT;
ALTER TABLE events ADD COLUMN region TEXT;
ALTER TABLE events ADD COLUMN bot INTEGER NOT NULL DEFAULT 0;
