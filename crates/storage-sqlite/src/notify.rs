//! SQLite side of notifications (tables of migration 015).

use crate::{db_err, Cached, SqliteStore};
use detente_storage::notify::{Attempted, Channel, Due, Item, Job, Kind, New, Settings, Which};
use detente_storage::{NotificationStore, StorageError};
use rusqlite::{params, OptionalExtension, Row};

/// An item from six columns starting at `i`; `None` for a kind this build
/// does not know (written by a newer one).
fn item_at(r: &Row, i: usize) -> rusqlite::Result<Option<Item>> {
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

fn channel(r: &Row, i: usize) -> rusqlite::Result<Option<Channel>> {
    Ok(Channel::parse(&r.get::<_, String>(i)?))
}

fn job(r: &Row) -> rusqlite::Result<Option<Job>> {
    let (Some(channel), Some(item)) = (channel(r, 1)?, item_at(r, 5)?) else {
        return Ok(None);
    };
    Ok(Some(Job {
        id: r.get(0)?,
        channel,
        target: r.get(2)?,
        attempts: r.get(3)?,
        user: r.get(4)?,
        item,
    }))
}

fn due(r: &Row) -> rusqlite::Result<Due> {
    let which: String = r.get(3)?;
    Ok(Due {
        request_id: r.get(0)?,
        reference: r.get(1)?,
        peer: r.get(2)?,
        which: match which.as_str() {
            "answer_by" => Which::AnswerBy,
            _ => Which::AcknowledgeBy,
        },
        at: r.get(4)?,
    })
}

/// The rows read, leaving out those of a kind or channel this build does not know.
fn known<T>(
    rows: impl Iterator<Item = rusqlite::Result<Option<T>>>,
) -> Result<Vec<T>, StorageError> {
    let all: Vec<Option<T>> = rows.collect::<Result<_, _>>().map_err(db_err)?;
    Ok(all.into_iter().flatten().collect())
}

impl NotificationStore for SqliteStore {
    fn notify_settings(&self, user: &str) -> Result<Option<Settings>, StorageError> {
        let c = self.reader()?;
        c.row(
            "SELECT kinds, email, webhook, webhook_secret FROM notify_settings WHERE user_name = ?1",
            [user],
            |r| {
                Ok(Settings {
                    kinds: r
                        .get::<_, String>(0)?
                        .split(',')
                        .filter_map(Kind::parse)
                        .collect(),
                    email: r.get(1)?,
                    webhook: r.get(2)?,
                    webhook_secret: r.get(3)?,
                })
            },
        )
        .optional()
        .map_err(db_err)
    }

    fn save_notify_settings(
        &self,
        user: &str,
        s: &Settings,
        now: &str,
    ) -> Result<(), StorageError> {
        let kinds: Vec<&str> = s.kinds.iter().map(|k| k.as_str()).collect();
        let w = self.writer.lock().map_err(db_err)?;
        w.run(
            "INSERT INTO notify_settings (user_name, kinds, email, webhook, webhook_secret, updated)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (user_name) DO UPDATE SET kinds = ?2, email = ?3, webhook = ?4,
               webhook_secret = ?5, updated = ?6",
            params![user, kinds.join(","), s.email, s.webhook, s.webhook_secret, now],
        )
        .map_err(db_err)?;
        Ok(())
    }

    fn record_notification(
        &self,
        n: &New<'_>,
        deliveries: &[(Channel, &str)],
    ) -> Result<Option<i64>, StorageError> {
        let mut w = self.writer.lock().map_err(db_err)?;
        let tx = w.transaction().map_err(db_err)?;
        let inserted = tx
            .run(
                "INSERT INTO notifications (user_name, kind, key, title, link, created)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (user_name, key) DO NOTHING",
                params![n.user, n.kind.as_str(), n.key, n.title, n.link, n.now],
            )
            .map_err(db_err)?;
        if inserted == 0 {
            return Ok(None);
        }
        let id = tx.last_insert_rowid();
        for (channel, target) in deliveries {
            tx.run(
                "INSERT INTO notify_outbox (notification, channel, target, next_attempt)
                 VALUES (?1, ?2, ?3, ?4)",
                params![id, channel.as_str(), target, n.now],
            )
            .map_err(db_err)?;
        }
        tx.commit().map_err(db_err)?;
        Ok(Some(id))
    }

    fn notifications(&self, user: &str, limit: u32) -> Result<Vec<Item>, StorageError> {
        let c = self.reader()?;
        let mut st = c
            .prepare_cached(
                "SELECT id, kind, title, link, created, read_at IS NOT NULL FROM notifications
                 WHERE user_name = ?1 ORDER BY id DESC LIMIT ?2",
            )
            .map_err(db_err)?;
        let rows = st
            .query_map(params![user, limit], |r| item_at(r, 0))
            .map_err(db_err)?;
        known(rows)
    }

    fn unread_notifications(&self, user: &str) -> Result<u64, StorageError> {
        let c = self.reader()?;
        let n: i64 = c
            .row(
                "SELECT COUNT(*) FROM notifications WHERE user_name = ?1 AND read_at IS NULL",
                [user],
                |r| r.get(0),
            )
            .map_err(db_err)?;
        Ok(n as u64)
    }

    fn mark_notifications_read(
        &self,
        user: &str,
        id: Option<i64>,
        now: &str,
    ) -> Result<u64, StorageError> {
        let w = self.writer.lock().map_err(db_err)?;
        let n = w
            .run(
                "UPDATE notifications SET read_at = ?3
                 WHERE user_name = ?1 AND read_at IS NULL AND (?2 IS NULL OR id = ?2)",
                params![user, id, now],
            )
            .map_err(db_err)?;
        Ok(n as u64)
    }

    fn notify_due(&self, now: &str, limit: u32) -> Result<Vec<Job>, StorageError> {
        let c = self.reader()?;
        let mut st = c
            .prepare_cached(
                "SELECT o.id, o.channel, o.target, o.attempts, n.user_name,
                        n.id, n.kind, n.title, n.link, n.created, n.read_at IS NOT NULL
                 FROM notify_outbox o JOIN notifications n ON n.id = o.notification
                 WHERE o.sent_at IS NULL AND o.failed_at IS NULL AND o.next_attempt <= ?1
                 ORDER BY o.next_attempt, o.id LIMIT ?2",
            )
            .map_err(db_err)?;
        let rows = st.query_map(params![now, limit], job).map_err(db_err)?;
        known(rows)
    }

    fn notify_next_due(&self) -> Result<Option<String>, StorageError> {
        let c = self.reader()?;
        c.row(
            "SELECT MIN(next_attempt) FROM notify_outbox WHERE sent_at IS NULL AND failed_at IS NULL",
            [],
            |r| r.get(0),
        )
        .map_err(db_err)
    }

    fn notify_sent(&self, id: i64, now: &str) -> Result<(), StorageError> {
        let w = self.writer.lock().map_err(db_err)?;
        w.run(
            "UPDATE notify_outbox SET sent_at = ?2, attempts = attempts + 1, last_error = NULL
             WHERE id = ?1",
            params![id, now],
        )
        .map_err(db_err)?;
        Ok(())
    }

    fn notify_failed(
        &self,
        id: i64,
        error: &str,
        next: Option<&str>,
        now: &str,
    ) -> Result<(), StorageError> {
        let w = self.writer.lock().map_err(db_err)?;
        w.run(
            "UPDATE notify_outbox SET attempts = attempts + 1, last_error = ?2,
               next_attempt = COALESCE(?3, next_attempt),
               failed_at = CASE WHEN ?3 IS NULL THEN ?4 END
             WHERE id = ?1",
            params![id, error, next, now],
        )
        .map_err(db_err)?;
        Ok(())
    }

    fn notify_deliveries(&self, user: &str) -> Result<Vec<Attempted>, StorageError> {
        let c = self.reader()?;
        let mut st = c
            .prepare_cached(
                "SELECT o.channel, o.attempts, o.last_error, o.sent_at IS NOT NULL
                 FROM notify_outbox o JOIN notifications n ON n.id = o.notification
                 WHERE n.user_name = ?1 ORDER BY o.id",
            )
            .map_err(db_err)?;
        let rows = st
            .query_map([user], |r| {
                let Some(channel) = channel(r, 0)? else {
                    return Ok(None);
                };
                Ok(Some(Attempted {
                    channel,
                    attempts: r.get(1)?,
                    last_error: r.get(2)?,
                    sent: r.get(3)?,
                }))
            })
            .map_err(db_err)?;
        known(rows)
    }

    fn deadlines(&self, from: &str, until: &str) -> Result<Vec<Due>, StorageError> {
        let c = self.reader()?;
        let mut st = c
            .prepare_cached(
                "SELECT id, reference, peer, 'acknowledge_by', acknowledge_by FROM requests
                  WHERE direction = 'inbound' AND closed_at IS NULL AND acknowledged_at IS NULL
                    AND acknowledge_by > ?1 AND acknowledge_by <= ?2
                 UNION ALL
                 SELECT id, reference, peer, 'answer_by', answer_by FROM requests
                  WHERE direction = 'inbound' AND closed_at IS NULL
                    AND answer_by > ?1 AND answer_by <= ?2",
            )
            .map_err(db_err)?;
        let rows = st.query_map(params![from, until], due).map_err(db_err)?;
        rows.collect::<Result<_, _>>().map_err(db_err)
    }
}
