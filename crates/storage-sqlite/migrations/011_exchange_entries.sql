-- Finds an exchange envelope (kind `request.*`) in the log by digest, so one
-- that was logged just before a crash is not logged again when it comes back.
-- Partial: other entries (the bulk of a busy log) pay nothing for it.
CREATE INDEX entries_exchange_digest ON entries (digest) WHERE kind GLOB 'request.*';
