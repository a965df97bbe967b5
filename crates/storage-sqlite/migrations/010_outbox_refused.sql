-- `/metrics` counts refused envelopes on every scrape; without this index the
-- count read the whole outbox.
CREATE INDEX outbox_refused ON outbox (refused_at) WHERE refused_at IS NOT NULL;
