-- Which replica is making a notification delivery, until when: claimed with
-- FOR UPDATE SKIP LOCKED (notify_claim), so two replicas never send the
-- same e-mail or webhook call at once; a lapsed lease frees the delivery.
ALTER TABLE notify_outbox ADD COLUMN lease_until TEXT;
