-- A hold remembers what an approval releases (the held request event) and the
-- officer who asked, so an approval sends exactly the held payload and the
-- officer sees a rejection; `released_at` makes the release happen once.
ALTER TABLE gate_holds ADD COLUMN requested_by TEXT;
ALTER TABLE gate_holds ADD COLUMN payload TEXT;
ALTER TABLE gate_holds ADD COLUMN released_at TEXT;

-- One decision per payload and recipient: a STIX object version read again by
-- the same peer is not judged, logged or counted again.
CREATE TABLE gate_decisions (
    recipient TEXT NOT NULL,
    subject   TEXT NOT NULL,
    action    TEXT NOT NULL CHECK (action IN ('allow', 'redact', 'block')),
    at        TEXT NOT NULL,
    PRIMARY KEY (recipient, subject)
) WITHOUT ROWID;
