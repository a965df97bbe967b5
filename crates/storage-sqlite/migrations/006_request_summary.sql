-- What reports need beyond the status, so they can be computed from one row per
-- request instead of every envelope.
ALTER TABLE requests ADD COLUMN delivered_at TEXT;
ALTER TABLE requests ADD COLUMN decline_ground TEXT;
