-- Notifications (issue 11): what the interface lists per user, and the e-mail
-- and webhook deliveries still to make, kept here so a restart loses none.

-- One row per user and thing notified about: `key` names the thing (e.g.
-- `request.inbound:<id>`, `deadline.soon:<id>:answer_by:<time>`), so the same
-- event or deadline is notified once however often it is seen.
CREATE TABLE notifications (
    id        INTEGER PRIMARY KEY,
    user_name TEXT NOT NULL,
    kind      TEXT NOT NULL,
    key       TEXT NOT NULL,
    title     TEXT NOT NULL,
    link      TEXT NOT NULL,
    created   TEXT NOT NULL,
    read_at   TEXT,
    UNIQUE (user_name, key)
);
CREATE INDEX notifications_by_user ON notifications (user_name, id);
-- The navigation counts the unread on every page.
CREATE INDEX notifications_unread ON notifications (user_name) WHERE read_at IS NULL;

-- E-mails and webhook calls to make; kept after the last attempt as its record.
CREATE TABLE notify_outbox (
    id           INTEGER PRIMARY KEY,
    notification INTEGER NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    channel      TEXT NOT NULL CHECK (channel IN ('email', 'webhook')),
    target       TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_attempt TEXT NOT NULL,
    last_error   TEXT,
    sent_at      TEXT,
    failed_at    TEXT
);
CREATE INDEX notify_outbox_due ON notify_outbox (next_attempt) WHERE sent_at IS NULL AND failed_at IS NULL;

-- A user's own choices, saved on the settings screen; they replace the
-- user's `[[notify]]` entry of config.toml. `kinds` is comma-separated.
CREATE TABLE notify_settings (
    user_name      TEXT PRIMARY KEY,
    kinds          TEXT NOT NULL,
    email          TEXT,
    webhook        TEXT,
    webhook_secret TEXT,
    updated        TEXT NOT NULL
);
