//! The notification tables of the node's SQLite database (migration 015).

use super::settings::{Kind, Settings};
use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
#[error("notifications database: {0}")]
pub struct DbError(#[from] rusqlite::Error);

/// One notification as the interface lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    pub id: i64,
    pub kind: Kind,
    pub title: String,
    pub link: String,
    pub created: String,
    pub read: bool,
}

/// A notification to record.
pub struct New<'a> {
    pub user: &'a str,
    pub kind: Kind,
    /// What it is about, e.g. `request.inbound:<id>`: once per user.
    pub key: &'a str,
    pub title: &'a str,
    pub link: &'a str,
    pub now: &'a str,
}

/// An e-mail or webhook call and how it went so far.
#[derive(Clone, Debug)]
pub struct Attempted {
    pub channel: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub sent: bool,
}

/// An e-mail or webhook call that is due.
#[derive(Clone, Debug)]
pub struct Job {
    pub id: i64,
    pub channel: String,
    pub target: String,
    pub attempts: u32,
    pub user: String,
    pub item: Item,
}

/// A deadline of an open inbound request.
#[derive(Clone, Debug, PartialEq)]
pub struct Due {
    pub request_id: String,
    pub reference: String,
    pub peer: String,
    /// `acknowledge_by` or `answer_by`.
    pub which: &'static str,
    pub at: String,
}

pub struct NotifyDb {
    conn: Mutex<Connection>,
}

impl NotifyDb {
    /// Opens the node's database; the tables exist once the store has opened it.
    pub fn open(path: &Path) -> Result<NotifyDb, DbError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        Ok(NotifyDb {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Settings saved on the settings screen, if the user saved any.
    pub fn settings(&self, user: &str) -> Result<Option<Settings>, DbError> {
        let row = self
            .conn()
            .query_row(
                "SELECT kinds, email, webhook, webhook_secret FROM notify_settings WHERE user_name = ?1",
                [user],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                    ))
                },
            )
            .optional()?;
        Ok(row.map(|(kinds, email, webhook, webhook_secret)| Settings {
            kinds: kinds.split(',').filter_map(Kind::parse).collect(),
            email,
            webhook,
            webhook_secret,
        }))
    }

    pub fn save_settings(&self, user: &str, s: &Settings, now: &str) -> Result<(), DbError> {
        let kinds: Vec<&str> = s.kinds.iter().map(|k| k.as_str()).collect();
        self.conn().execute(
            "INSERT INTO notify_settings (user_name, kinds, email, webhook, webhook_secret, updated)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (user_name) DO UPDATE SET kinds = ?2, email = ?3, webhook = ?4,
               webhook_secret = ?5, updated = ?6",
            params![user, kinds.join(","), s.email, s.webhook, s.webhook_secret, now],
        )?;
        Ok(())
    }

    /// Records a notification with its deliveries, once per user and key;
    /// `None` when the user already has it.
    pub fn record(&self, n: &New<'_>, channels: &[(&str, &str)]) -> Result<Option<i64>, DbError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let inserted = tx.execute(
            "INSERT OR IGNORE INTO notifications (user_name, kind, key, title, link, created)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![n.user, n.kind.as_str(), n.key, n.title, n.link, n.now],
        )?;
        if inserted == 0 {
            return Ok(None);
        }
        let id = tx.last_insert_rowid();
        for (channel, target) in channels {
            tx.execute(
                "INSERT INTO notify_outbox (notification, channel, target, next_attempt)
                 VALUES (?1, ?2, ?3, ?4)",
                params![id, channel, target, n.now],
            )?;
        }
        tx.commit()?;
        Ok(Some(id))
    }

    /// The user's newest notifications.
    pub fn list(&self, user: &str, limit: u32) -> Result<Vec<Item>, DbError> {
        let conn = self.conn();
        let mut st = conn.prepare_cached(
            "SELECT id, kind, title, link, created, read_at IS NOT NULL FROM notifications
             WHERE user_name = ?1 ORDER BY id DESC LIMIT ?2",
        )?;
        let rows = st.query_map(params![user, limit], item)?;
        Ok(rows.filter_map(Result::ok).flatten().collect())
    }

    pub fn unread(&self, user: &str) -> Result<u64, DbError> {
        Ok(self.conn().query_row(
            "SELECT COUNT(*) FROM notifications WHERE user_name = ?1 AND read_at IS NULL",
            [user],
            |r| r.get(0),
        )?)
    }

    /// Marks one of the user's notifications read, or all of them (`None`).
    pub fn mark_read(&self, user: &str, id: Option<i64>, now: &str) -> Result<usize, DbError> {
        Ok(self.conn().execute(
            "UPDATE notifications SET read_at = ?3
             WHERE user_name = ?1 AND read_at IS NULL AND (?2 IS NULL OR id = ?2)",
            params![user, id, now],
        )?)
    }

    /// Deliveries whose time has come, oldest first.
    pub fn due(&self, now: &str, limit: u32) -> Result<Vec<Job>, DbError> {
        let conn = self.conn();
        let mut st = conn.prepare_cached(
            "SELECT o.id, o.channel, o.target, o.attempts, n.user_name,
                    n.id, n.kind, n.title, n.link, n.created, n.read_at IS NOT NULL
             FROM notify_outbox o JOIN notifications n ON n.id = o.notification
             WHERE o.sent_at IS NULL AND o.failed_at IS NULL AND o.next_attempt <= ?1
             ORDER BY o.next_attempt LIMIT ?2",
        )?;
        let rows = st.query_map(params![now, limit], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, u32>(3)?,
                r.get::<_, String>(4)?,
                item_at(r, 5)?,
            ))
        })?;
        Ok(rows
            .filter_map(Result::ok)
            .filter_map(|(id, channel, target, attempts, user, item)| {
                Some(Job {
                    id,
                    channel,
                    target,
                    attempts,
                    user,
                    item: item?,
                })
            })
            .collect())
    }

    /// The earliest pending attempt, to sleep until it.
    pub fn next_due(&self) -> Result<Option<String>, DbError> {
        Ok(self.conn().query_row(
            "SELECT MIN(next_attempt) FROM notify_outbox WHERE sent_at IS NULL AND failed_at IS NULL",
            [],
            |r| r.get(0),
        )?)
    }

    pub fn sent(&self, id: i64, now: &str) -> Result<(), DbError> {
        self.conn().execute(
            "UPDATE notify_outbox SET sent_at = ?2, attempts = attempts + 1, last_error = NULL WHERE id = ?1",
            params![id, now],
        )?;
        Ok(())
    }

    /// An attempt failed: try again at `next`, or give up (`None`).
    pub fn failed(
        &self,
        id: i64,
        error: &str,
        next: Option<&str>,
        now: &str,
    ) -> Result<(), DbError> {
        self.conn().execute(
            "UPDATE notify_outbox SET attempts = attempts + 1, last_error = ?2,
               next_attempt = COALESCE(?3, next_attempt),
               failed_at = CASE WHEN ?3 IS NULL THEN ?4 END
             WHERE id = ?1",
            params![id, error, next, now],
        )?;
        Ok(())
    }

    /// The deliveries of the user's notifications, oldest first.
    pub fn deliveries(&self, user: &str) -> Result<Vec<Attempted>, DbError> {
        let conn = self.conn();
        let mut st = conn.prepare_cached(
            "SELECT o.channel, o.attempts, o.last_error, o.sent_at IS NOT NULL
             FROM notify_outbox o JOIN notifications n ON n.id = o.notification
             WHERE n.user_name = ?1 ORDER BY o.id",
        )?;
        let rows = st.query_map([user], |r| {
            Ok(Attempted {
                channel: r.get(0)?,
                attempts: r.get(1)?,
                last_error: r.get(2)?,
                sent: r.get(3)?,
            })
        })?;
        Ok(rows.filter_map(Result::ok).collect())
    }

    /// Reference and peer of a request, for a notification's title.
    pub fn request(&self, id: &str) -> Result<Option<(String, String)>, DbError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT reference, peer FROM requests WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    /// Deadlines of open inbound requests falling in `(from, until]`: the
    /// acknowledgement while unacknowledged, and the answer.
    pub fn deadlines(&self, from: &str, until: &str) -> Result<Vec<Due>, DbError> {
        let conn = self.conn();
        let mut st = conn.prepare_cached(
            "SELECT id, reference, peer, 'acknowledge_by', acknowledge_by FROM requests
              WHERE direction = 'inbound' AND closed_at IS NULL AND acknowledged_at IS NULL
                AND acknowledge_by > ?1 AND acknowledge_by <= ?2
             UNION ALL
             SELECT id, reference, peer, 'answer_by', answer_by FROM requests
              WHERE direction = 'inbound' AND closed_at IS NULL
                AND answer_by > ?1 AND answer_by <= ?2",
        )?;
        let rows = st.query_map(params![from, until], |r| {
            let which: String = r.get(3)?;
            Ok(Due {
                request_id: r.get(0)?,
                reference: r.get(1)?,
                peer: r.get(2)?,
                which: if which == "answer_by" {
                    "answer_by"
                } else {
                    "acknowledge_by"
                },
                at: r.get(4)?,
            })
        })?;
        Ok(rows.filter_map(Result::ok).collect())
    }
}

fn item(r: &rusqlite::Row<'_>) -> rusqlite::Result<Option<Item>> {
    item_at(r, 0)
}

/// An item from six columns starting at `i`; `None` for a kind this build
/// does not know (written by a newer one).
fn item_at(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Option<Item>> {
    let kind: String = r.get(i + 1)?;
    let Some(kind) = Kind::parse(&kind) else {
        return Ok(None);
    };
    Ok(Some(Item {
        id: r.get(i)?,
        kind,
        title: r.get(i + 2)?,
        link: r.get(i + 3)?,
        created: r.get(i + 4)?,
        read: r.get(i + 5)?,
    }))
}
