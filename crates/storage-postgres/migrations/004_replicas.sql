-- Which replica is making a notification delivery, until when: claimed with
-- FOR UPDATE SKIP LOCKED (notify_claim), so two replicas never send the
-- same e-mail or webhook call at once; a lapsed lease frees the delivery.
ALTER TABLE notify_outbox ADD COLUMN lease_until TEXT;

-- Which replica leads the log's background duties, where session advisory
-- locks are unavailable (a transaction-pooling proxy): a lease renewed by its
-- holder; `expires` in microseconds since the epoch, by the database's clock.
CREATE TABLE lead_lease (
    one     BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
    holder  TEXT NOT NULL DEFAULT '',
    expires BIGINT NOT NULL DEFAULT 0
);
INSERT INTO lead_lease DEFAULT VALUES;
