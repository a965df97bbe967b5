-- The listing's text filter finds a substring of a request's reference or facts
-- without reading every request: a trigram index (FTS5), kept by triggers so
-- every path that writes a request or its submission keeps it current.
-- Contentless (the text stays in `requests` and the envelopes); each request
-- has two index rows: rowid * 2 for its reference, rowid * 2 + 1 for its facts.
-- References and facts never change after submission and requests are never
-- deleted, so inserts are the only maintenance.
CREATE VIRTUAL TABLE requests_search USING fts5(text, content = '', tokenize = 'trigram');

CREATE TRIGGER requests_search_reference AFTER INSERT ON requests BEGIN
    INSERT INTO requests_search (rowid, text) VALUES (new.rowid * 2, new.reference);
END;

CREATE TRIGGER requests_search_facts AFTER INSERT ON request_events WHEN new.seq = 0 BEGIN
    INSERT INTO requests_search (rowid, text)
    SELECT r.rowid * 2 + 1, f.facts
    FROM requests r,
         (SELECT json_extract(CAST(new.envelope AS TEXT), '$.payload.event.kind.request.facts') AS facts
          WHERE json_valid(CAST(new.envelope AS TEXT))) f
    WHERE r.id = new.request_id AND f.facts IS NOT NULL;
END;

INSERT INTO requests_search (rowid, text) SELECT rowid * 2, reference FROM requests;
INSERT INTO requests_search (rowid, text)
SELECT r.rowid * 2 + 1, json_extract(CAST(e.envelope AS TEXT), '$.payload.event.kind.request.facts')
FROM requests r JOIN request_events e ON e.request_id = r.id AND e.seq = 0
WHERE json_valid(CAST(e.envelope AS TEXT))
  AND json_extract(CAST(e.envelope AS TEXT), '$.payload.event.kind.request.facts') IS NOT NULL;
