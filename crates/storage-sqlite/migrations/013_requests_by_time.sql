-- Keyset pagination of request listings (newest first, by deadline) reads an
-- index in order instead of sorting every request.
CREATE INDEX requests_by_submitted ON requests (submitted_at, id);
CREATE INDEX requests_by_answer_by ON requests (answer_by, id);
