//! Notifications, their e-mail and webhook deliveries, and each user's
//! choices (tables of migration 001, as the SQLite driver's migration 015).

use crate::sql::Db;
use crate::{wait, PgStore};
use detente_storage::notify::{Attempted, Channel, Due, Item, Job, Kind, New, Settings, Which};
use detente_storage::{NotificationStore, StorageError, Topic};
use tokio_postgres::Row;

const ITEM_COLUMNS: &str = "n.id, n.kind, n.title, n.link, n.created, n.read_at IS NOT NULL";

/// The outbox row's columns, then the item's ([`ITEM_COLUMNS`]) from 5 on.
const JOB_COLUMNS: &str = "o.id, o.channel, o.target, o.attempts, n.user_name";

/// Wakes the other replicas' workers when the transaction commits.
const NOTIFY: &str = "SELECT pg_notify($1, '')";

/// What still waits to be sent: neither sent nor given up.
const PENDING: &str = "sent_at IS NULL AND failed_at IS NULL";

/// An item from six columns starting at `i`; `None` for a kind this build
/// does not know (written by a newer one).
fn item_at(r: &Row, i: usize) -> Option<Item> {
    Some(Item {
        id: r.get(i),
        kind: Kind::parse(r.get(i + 1))?,
        title: r.get(i + 2),
        link: r.get(i + 3),
        created: r.get(i + 4),
        read: r.get(i + 5),
    })
}

fn attempts(r: &Row, i: usize) -> u32 {
    u32::try_from(r.get::<_, i64>(i)).unwrap_or(u32::MAX)
}

fn job(r: &Row) -> Option<Job> {
    Some(Job {
        id: r.get(0),
        channel: Channel::parse(r.get(1))?,
        target: r.get(2),
        attempts: attempts(r, 3),
        user: r.get(4),
        item: item_at(r, 5)?,
    })
}

fn attempted(r: &Row) -> Option<Attempted> {
    Some(Attempted {
        channel: Channel::parse(r.get(0))?,
        attempts: attempts(r, 1),
        last_error: r.get(2),
        sent: r.get(3),
    })
}

fn settings(r: &Row) -> Settings {
    Settings {
        kinds: r
            .get::<_, &str>(0)
            .split(',')
            .filter_map(Kind::parse)
            .collect(),
        email: r.get(1),
        webhook: r.get(2),
        webhook_secret: r.get(3),
    }
}

fn due(r: &Row) -> Due {
    Due {
        request_id: r.get(0),
        reference: r.get(1),
        peer: r.get(2),
        which: match r.get::<_, &str>(3) {
            "answer_by" => Which::AnswerBy,
            _ => Which::AcknowledgeBy,
        },
        at: r.get(4),
    }
}

impl NotificationStore for PgStore {
    fn notify_settings(&self, user: &str) -> Result<Option<Settings>, StorageError> {
        let c = self.pool.get()?;
        Ok(wait(c.query_opt(
            "SELECT kinds, email, webhook, webhook_secret FROM notify_settings WHERE user_name = $1",
            &[&user],
        ))?
        .as_ref()
        .map(settings))
    }

    fn save_notify_settings(
        &self,
        user: &str,
        s: &Settings,
        now: &str,
    ) -> Result<(), StorageError> {
        let kinds: Vec<&str> = s.kinds.iter().map(|k| k.as_str()).collect();
        let c = self.pool.get()?;
        wait(c.execute(
            "INSERT INTO notify_settings (user_name, kinds, email, webhook, webhook_secret, updated) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (user_name) DO UPDATE SET kinds = excluded.kinds, email = excluded.email, \
               webhook = excluded.webhook, webhook_secret = excluded.webhook_secret, \
               updated = excluded.updated",
            &[
                &user,
                &kinds.join(","),
                &s.email,
                &s.webhook,
                &s.webhook_secret,
                &now,
            ],
        ))
        .map(drop)
    }

    fn record_notification(
        &self,
        n: &New<'_>,
        deliveries: &[(Channel, &str)],
    ) -> Result<Option<i64>, StorageError> {
        let mut c = self.pool.get()?;
        let tx = wait(c.transaction())?;
        // Once across replicas: a concurrent insert of the same user and key
        // waits for this one's transaction, then does nothing (and returns
        // no id) if it committed.
        let inserted = wait(tx.query_opt(
            "INSERT INTO notifications (user_name, kind, key, title, link, created) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (user_name, key) DO NOTHING \
             RETURNING id",
            &[&n.user, &n.kind.as_str(), &n.key, &n.title, &n.link, &n.now],
        ))?;
        let Some(id) = inserted.map(|r| r.get::<_, i64>(0)) else {
            return Ok(None);
        };
        if !deliveries.is_empty() {
            // Delivered to the other replicas' workers on commit, not before.
            wait(tx.execute(NOTIFY, &[&Topic::Notify.channel()]))?;
        }
        for (channel, target) in deliveries {
            wait(tx.execute(
                "INSERT INTO notify_outbox (notification, channel, target, next_attempt) \
                 VALUES ($1, $2, $3, $4)",
                &[&id, &channel.as_str(), target, &n.now],
            ))?;
        }
        wait(tx.commit())?;
        Ok(Some(id))
    }

    fn notifications(&self, user: &str, limit: u32) -> Result<Vec<Item>, StorageError> {
        let c = self.pool.get()?;
        let rows = wait(c.query(
            &format!(
                "SELECT {ITEM_COLUMNS} FROM notifications n \
                 WHERE n.user_name = $1 ORDER BY n.id DESC LIMIT $2"
            ),
            &[&user, &i64::from(limit)],
        ))?;
        Ok(rows.iter().filter_map(|r| item_at(r, 0)).collect())
    }

    fn unread_notifications(&self, user: &str) -> Result<u64, StorageError> {
        let c = self.pool.get()?;
        let n: i64 = wait(c.query_one(
            "SELECT count(*) FROM notifications WHERE user_name = $1 AND read_at IS NULL",
            &[&user],
        ))?
        .get(0);
        Ok(n as u64)
    }

    fn mark_notifications_read(
        &self,
        user: &str,
        id: Option<i64>,
        now: &str,
    ) -> Result<u64, StorageError> {
        let c = self.pool.get()?;
        wait(c.execute(
            "UPDATE notifications SET read_at = $3 \
             WHERE user_name = $1 AND read_at IS NULL AND ($2::bigint IS NULL OR id = $2)",
            &[&user, &id, &now],
        ))
    }

    fn notify_due(&self, now: &str, limit: u32) -> Result<Vec<Job>, StorageError> {
        let c = self.pool.get()?;
        let rows = wait(c.query(
            &format!(
                "SELECT {JOB_COLUMNS}, {ITEM_COLUMNS} \
                 FROM notify_outbox o JOIN notifications n ON n.id = o.notification \
                 WHERE o.sent_at IS NULL AND o.failed_at IS NULL AND o.next_attempt <= $1 \
                 ORDER BY o.next_attempt, o.id LIMIT $2"
            ),
            &[&now, &i64::from(limit)],
        ))?;
        Ok(rows.iter().filter_map(job).collect())
    }

    /// Rows another replica is claiming at this moment are skipped, not
    /// waited for.
    fn notify_claim(
        &self,
        now: &str,
        lease_until: &str,
        limit: u32,
    ) -> Result<Vec<Job>, StorageError> {
        let c = self.pool.get()?;
        let rows = wait(c.query(
            &format!(
                "WITH due AS (SELECT id FROM notify_outbox \
                   WHERE {PENDING} AND next_attempt <= $1 \
                     AND (lease_until IS NULL OR lease_until <= $1) \
                   ORDER BY next_attempt, id LIMIT $3 FOR UPDATE SKIP LOCKED) \
                 UPDATE notify_outbox o SET lease_until = $2 FROM due, notifications n \
                 WHERE o.id = due.id AND n.id = o.notification \
                 RETURNING {JOB_COLUMNS}, {ITEM_COLUMNS}"
            ),
            &[&now, &lease_until, &i64::from(limit)],
        ))?;
        let mut jobs: Vec<Job> = rows.iter().filter_map(job).collect();
        jobs.sort_by_key(|j| j.id);
        Ok(jobs)
    }

    /// A leased delivery is due when its lease ends, not before.
    fn notify_next_due(&self) -> Result<Option<String>, StorageError> {
        let c = self.pool.get()?;
        Ok(wait(c.query_one(
            &format!(
                "SELECT min(GREATEST(next_attempt, COALESCE(lease_until, next_attempt))) \
                 FROM notify_outbox WHERE {PENDING}"
            ),
            &[],
        ))?
        .get(0))
    }

    /// Only a pending delivery is marked: when two replicas made the same
    /// delivery (one outlived its lease), the second report changes nothing.
    fn notify_sent(&self, id: i64, now: &str) -> Result<(), StorageError> {
        let c = self.pool.get()?;
        wait(c.execute(
            &format!(
                "UPDATE notify_outbox SET sent_at = $2, attempts = attempts + 1, last_error = NULL \
                 WHERE id = $1 AND {PENDING}"
            ),
            &[&id, &now],
        ))
        .map(drop)
    }

    /// As [`Self::notify_sent`], a delivery already sent or given up stays so.
    fn notify_failed(
        &self,
        id: i64,
        error: &str,
        next: Option<&str>,
        now: &str,
    ) -> Result<(), StorageError> {
        let c = self.pool.get()?;
        wait(c.execute(
            &format!(
                "UPDATE notify_outbox SET attempts = attempts + 1, last_error = $2, \
                   next_attempt = COALESCE($3::text, next_attempt), lease_until = NULL, \
                   failed_at = CASE WHEN $3::text IS NULL THEN $4::text END \
                 WHERE id = $1 AND {PENDING}"
            ),
            &[&id, &error, &next, &now],
        ))
        .map(drop)
    }

    fn notify_deliveries(&self, user: &str) -> Result<Vec<Attempted>, StorageError> {
        let c = self.pool.get()?;
        let rows = wait(c.query(
            "SELECT o.channel, o.attempts, o.last_error, o.sent_at IS NOT NULL \
             FROM notify_outbox o JOIN notifications n ON n.id = o.notification \
             WHERE n.user_name = $1 ORDER BY o.id",
            &[&user],
        ))?;
        Ok(rows.iter().filter_map(attempted).collect())
    }

    fn deadlines(&self, from: &str, until: &str) -> Result<Vec<Due>, StorageError> {
        let c = self.pool.get()?;
        let rows = wait(c.query(
            "SELECT id, reference, peer, 'acknowledge_by', acknowledge_by FROM requests \
              WHERE direction = 'inbound' AND closed_at IS NULL AND acknowledged_at IS NULL \
                AND acknowledge_by > $1 AND acknowledge_by <= $2 \
             UNION ALL \
             SELECT id, reference, peer, 'answer_by', answer_by FROM requests \
              WHERE direction = 'inbound' AND closed_at IS NULL \
                AND answer_by > $1 AND answer_by <= $2",
            &[&from, &until],
        ))?;
        Ok(rows.iter().map(due).collect())
    }
}
