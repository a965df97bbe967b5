-- Delivery keeps each request's envelopes in order and stops retrying an
-- envelope the peer refused for good (an invalid transition, bad content).
ALTER TABLE outbox ADD COLUMN refused_at TEXT;

-- A request's view lists its delivery attempts, and delivery checks that no
-- earlier envelope of the same request is still pending; without this index
-- both scanned the whole outbox, which grows with every event ever sent.
CREATE INDEX outbox_by_request ON outbox (request_id, created);

-- Only pending envelopes, in the order they were queued: each delivery pass
-- reads the first few instead of sorting every pending row.
DROP INDEX outbox_due;
CREATE INDEX outbox_pending ON outbox (created) WHERE delivered_at IS NULL AND refused_at IS NULL;
