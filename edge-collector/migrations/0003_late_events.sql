-- Events that arrive more than 24 h after they happened (offline queues, replayed batches) are
-- stored like any other, and marked so reports can tell them apart.
ALTER TABLE events ADD COLUMN late INTEGER NOT NULL DEFAULT 0;
