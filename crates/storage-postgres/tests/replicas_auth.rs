//! Rules that SQLite gets from its single writer, held by two stores on one
//! database, as two replicas of a node would be. Each race is made certain,
//! not likely: a third connection holds the rows both replicas need until
//! both are waiting, then lets them go together.

use detente_storage::notify::{Channel, Kind, New};
use detente_storage::{AuthStore, NotificationStore, Role, StorageError, UserRecord};
use detente_storage_postgres::{scratch_database, test_server, PgStore};
use std::time::{Duration, Instant};
use tokio_postgres::{Client, NoTls};

/// Two replicas on a fresh database, and a plain connection to it.
struct Replicas {
    a: PgStore,
    b: PgStore,
    rt: tokio::runtime::Runtime,
    blocker: Client,
}

impl Replicas {
    fn start(test: &str) -> Option<Replicas> {
        Replicas::with_isolation(test, "read committed")
    }

    /// As [`Self::start`], on a database whose transactions default to
    /// `isolation`.
    fn with_isolation(test: &str, isolation: &str) -> Option<Replicas> {
        let url = scratch_database(&test_server(test)?).unwrap();
        let rt = tokio::runtime::Runtime::new().unwrap();
        let blocker = rt.block_on(async {
            let (c, conn) = tokio_postgres::connect(&url, NoTls).await.unwrap();
            tokio::spawn(conn);
            c
        });
        rt.block_on(blocker.batch_execute(&format!(
            "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET default_transaction_isolation \
             = %L', current_database(), '{isolation}'); END $$"
        )))
        .unwrap();
        let (a, b) = (
            PgStore::open_url(&url).unwrap(),
            PgStore::open_url(&url).unwrap(),
        );
        Some(Replicas { a, b, rt, blocker })
    }

    fn sql(&self, sql: &str) {
        self.rt.block_on(self.blocker.batch_execute(sql)).unwrap();
    }

    /// Runs `first` on one replica and `second` on the other while `hold`
    /// (statements of an open transaction) blocks them, and releases them
    /// with `release` once both wait for a lock.
    fn race<T: Send>(
        &self,
        hold: &str,
        release: &str,
        first: impl FnOnce(&PgStore) -> T + Send,
        second: impl FnOnce(&PgStore) -> T + Send,
    ) -> (T, T) {
        self.sql(&format!("BEGIN; {hold}"));
        std::thread::scope(|s| {
            let one = s.spawn(|| first(&self.a));
            let two = s.spawn(|| second(&self.b));
            self.until_waiting(2);
            self.sql(release);
            (one.join().unwrap(), two.join().unwrap())
        })
    }

    /// Returns once `n` other sessions on this database wait for a lock.
    fn until_waiting(&self, n: i64) {
        let started = Instant::now();
        loop {
            let waiting: i64 = self
                .rt
                .block_on(self.blocker.query_one(
                    "SELECT count(*) FROM pg_stat_activity \
                     WHERE datname = current_database() AND wait_event_type = 'Lock'",
                    &[],
                ))
                .unwrap()
                .get(0);
            if waiting >= n {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the replicas never both waited ({waiting} of {n})"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

fn admin(name: &str) -> UserRecord {
    UserRecord {
        name: name.into(),
        role: Role::Admin,
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$x".into(),
        created: "2026-01-01T00:00:00Z".into(),
    }
}

fn admins(s: &PgStore) -> Vec<String> {
    let users = s.list_users().unwrap().into_iter();
    users
        .filter(|u| u.role == Role::Admin)
        .map(|u| u.name)
        .collect()
}

/// Exactly one of the two went through and the other was refused.
fn one_refused(results: (Result<bool, StorageError>, Result<bool, StorageError>)) {
    let refused = |r: &Result<bool, StorageError>| matches!(r, Err(StorageError::Conflict(_)));
    match &results {
        (Ok(true), other) | (other, Ok(true)) if refused(other) => {}
        _ => panic!("expected one change and one refusal, got {results:?}"),
    }
}

const LOCK_USERS: &str = "SELECT name FROM auth_users FOR UPDATE";

#[test]
fn two_replicas_demoting_the_last_two_admins_at_once_leave_one() {
    let Some(r) = Replicas::start("two_replicas_demoting_the_last_two_admins_at_once_leave_one")
    else {
        return;
    };
    r.a.insert_user(&admin("root")).unwrap();
    r.a.insert_user(&admin("ops")).unwrap();
    one_refused(r.race(
        LOCK_USERS,
        "COMMIT",
        |s| s.update_role("root", Role::Officer),
        |s| s.update_role("ops", Role::Auditor),
    ));
    assert_eq!(admins(&r.a).len(), 1);
}

/// A snapshot taken before waiting for the others would count admins that
/// are no longer there.
#[test]
fn the_last_admin_is_kept_when_the_server_defaults_to_repeatable_read() {
    let Some(r) = Replicas::with_isolation(
        "the_last_admin_is_kept_when_the_server_defaults_to_repeatable_read",
        "repeatable read",
    ) else {
        return;
    };
    r.a.insert_user(&admin("root")).unwrap();
    r.a.insert_user(&admin("ops")).unwrap();
    one_refused(r.race(
        LOCK_USERS,
        "COMMIT",
        |s| s.update_role("root", Role::Officer),
        |s| s.update_role("ops", Role::Officer),
    ));
    assert_eq!(admins(&r.a).len(), 1);
}

#[test]
fn two_replicas_removing_and_demoting_the_last_two_admins_at_once_leave_one() {
    let Some(r) =
        Replicas::start("two_replicas_removing_and_demoting_the_last_two_admins_at_once_leave_one")
    else {
        return;
    };
    r.a.insert_user(&admin("root")).unwrap();
    r.a.insert_user(&admin("ops")).unwrap();
    one_refused(r.race(
        LOCK_USERS,
        "COMMIT",
        |s| s.delete_user_keeping_an_admin("root"),
        |s| s.update_role("ops", Role::Officer),
    ));
    assert_eq!(admins(&r.b).len(), 1);
}

fn inbound<'a>(user: &'a str, now: &'a str) -> New<'a> {
    New {
        user,
        kind: Kind::RequestInbound,
        key: "request.inbound:r01",
        title: "New request Case-01 from peer.example",
        link: "/ui/requests/r01",
        now,
    }
}

const T0: &str = "2026-01-01T00:00:00.000000Z";
const T1: &str = "2026-01-01T00:01:00.000000Z";
const T2: &str = "2026-01-01T00:02:00.000000Z";

#[test]
fn the_same_notification_from_two_replicas_is_recorded_once() {
    let Some(r) = Replicas::start("the_same_notification_from_two_replicas_is_recorded_once")
    else {
        return;
    };
    let hook = [(Channel::Webhook, "https://hooks.example/x")];
    // An insert of the same user and key, undone once both replicas wait
    // for it: then both try for real at the same moment.
    let (one, two) = r.race(
        "INSERT INTO notifications (user_name, kind, key, title, link, created) \
         VALUES ('olga', 'request.inbound', 'request.inbound:r01', 't', 'l', 'c')",
        "ROLLBACK",
        |s| s.record_notification(&inbound("olga", T0), &hook),
        |s| s.record_notification(&inbound("olga", T0), &hook),
    );
    let ids = [one.unwrap(), two.unwrap()];
    assert_eq!(ids.iter().flatten().count(), 1, "recorded once: {ids:?}");
    assert_eq!(r.a.notifications("olga", 10).unwrap().len(), 1);
    assert_eq!(r.b.notify_deliveries("olga").unwrap().len(), 1);
}

#[test]
fn a_delivery_reported_by_two_replicas_counts_once() {
    let Some(r) = Replicas::start("a_delivery_reported_by_two_replicas_counts_once") else {
        return;
    };
    let both = [
        (Channel::Email, "olga@b.example"),
        (Channel::Webhook, "https://h.example/"),
    ];
    r.a.record_notification(&inbound("olga", T0), &both)
        .unwrap();
    // Both replicas listed both deliveries and made them.
    let due = r.a.notify_due(T0, 10).unwrap();
    assert_eq!(due, r.b.notify_due(T0, 10).unwrap());
    let (email, hook) = (due[0].id, due[1].id);
    r.a.notify_sent(email, T1).unwrap();
    r.b.notify_sent(email, T2).unwrap();
    r.b.notify_failed(email, "timed out", Some(T2), T2).unwrap();
    r.a.notify_failed(hook, "410 Gone", None, T1).unwrap();
    r.b.notify_failed(hook, "timed out", Some(T2), T2).unwrap();
    r.b.notify_sent(hook, T2).unwrap();

    let tried = r.a.notify_deliveries("olga").unwrap();
    let seen: Vec<_> = tried
        .iter()
        .map(|t| (t.attempts, t.sent, t.last_error.as_deref()))
        .collect();
    assert_eq!(
        seen,
        [(1, true, None), (1, false, Some("410 Gone"))],
        "sent once; given up stays given up"
    );
    assert!(r.b.notify_due(T2, 10).unwrap().is_empty());
    assert_eq!(r.b.notify_next_due().unwrap(), None);
}
