-- Expired events are purged in batches (oldest expiry first): the purge finds them by index
-- instead of scanning the whole audit log on every pass.

CREATE INDEX events_expires ON events (expires);
