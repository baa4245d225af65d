-- One item-to-item refresh at a time per site (edge-collector/src/neighbours.rs): the cron
-- trigger and the admin endpoint may start one at the same moment, and two refreshes applying
-- the same new events to the stored sums would overwrite each other's work. A refresh takes the
-- lease (until `until_ms`), gives it back when done; a crashed one's lease runs out.
CREATE TABLE refresh_leases (
  site_id  TEXT    NOT NULL,
  name     TEXT    NOT NULL,
  until_ms INTEGER NOT NULL,
  PRIMARY KEY (site_id, name)
) WITHOUT ROWID;
