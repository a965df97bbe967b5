//! Wakeups between replicas: a commit on one store wakes a subscriber on
//! another store on the same database (LISTEN/NOTIFY), long before any poll
//! interval would have; a rolled-back write wakes nobody.

use detente_storage::conformance::{append, entry};
use detente_storage::notify::{Channel, Kind, New};
use detente_storage::{
    Direction, EventRow, ExchangeStore, ExchangeWrite, LogStore, NotificationStore, OutboxRow,
    RequestRow, RequestType, Status, Tlp, Topic, Urgency, Wakeups,
};
use detente_storage_postgres::{scratch_database, test_server, PgStore};
use std::time::Duration;

/// Longer than any worker polls (500 ms to 5 s): woken within it means the
/// wakeup did it, not a poll.
const WOKEN_WITHIN: Duration = Duration::from_secs(10);

fn two_replicas(test: &str) -> Option<(PgStore, PgStore)> {
    two_replicas_at(test).map(|(_, a, b)| (a, b))
}

fn two_replicas_at(test: &str) -> Option<(String, PgStore, PgStore)> {
    let admin = test_server(test)?;
    let url = scratch_database(&admin).unwrap();
    let (a, b) = (
        PgStore::open_url(&url).unwrap(),
        PgStore::open_url(&url).unwrap(),
    );
    Some((url, a, b))
}

/// Ends every session on `url`'s database that listens, as a failover or
/// an idle-session killer would; how many.
fn terminate_listeners(url: &str) -> u64 {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (c, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        let rows = c
            .query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = current_database() AND query LIKE 'LISTEN%'",
                &[],
            )
            .await
            .unwrap();
        rows.len() as u64
    })
}

fn subscribe(s: &PgStore, topic: Topic) -> Wakeups {
    s.subscribe(topic).unwrap().expect("PostgreSQL has wakeups")
}

fn outbox_row(b: u8) -> OutboxRow {
    OutboxRow {
        digest: [b; 32],
        peer: "peer.example".into(),
        request_id: format!("r{b}"),
        envelope: vec![b],
        created: "2026-01-01T00:00:00.000000Z".into(),
        attempts: 0,
        next_attempt: "2026-01-01T00:00:00.000000Z".into(),
        last_error: None,
        delivered_at: None,
        refused_at: None,
    }
}

/// A request's first event; written a second time, the database refuses it
/// (event ids are unique).
fn first_event() -> ExchangeWrite {
    let t = "2026-01-01T00:00:00.000000Z".to_string();
    let request = RequestRow {
        id: "bad".into(),
        direction: Direction::Outbound,
        peer: "peer.example".into(),
        kind: RequestType::Consultation,
        urgency: Urgency::Normal,
        tlp: Tlp::Green,
        reference: "x".into(),
        status: Status::Submitted,
        submitted_at: t.clone(),
        acknowledge_by: t.clone(),
        answer_by: t.clone(),
        acknowledged_at: None,
        closed_at: None,
        updated_at: t.clone(),
        delivered_at: None,
        decline_ground: None,
    };
    let event = EventRow {
        request_id: "bad".into(),
        seq: 0,
        event_id: "e".into(),
        actor: "peer.example".into(),
        kind: "submitted".into(),
        at: t,
        log_index: 0,
        envelope: vec![],
        receipt: None,
    };
    ExchangeWrite::RecordEvent(Box::new(request), Box::new(event))
}

#[test]
fn a_commit_on_one_replica_wakes_a_subscriber_on_another() {
    let Some((a, b)) = two_replicas("a_commit_on_one_replica_wakes_a_subscriber_on_another") else {
        return;
    };
    let mut outbox = subscribe(&b, Topic::Outbox);
    let mut log = subscribe(&b, Topic::Log);
    let mut notify = subscribe(&b, Topic::Notify);

    a.outbox_add(&outbox_row(1)).unwrap();
    assert!(
        outbox.wait_timeout(WOKEN_WITHIN),
        "outbox: woken before 10 s"
    );

    append(&a, 3, &entry);
    assert!(log.wait_timeout(WOKEN_WITHIN), "log: woken before 10 s");

    let new = New {
        user: "olga",
        kind: Kind::RequestInbound,
        key: "k1",
        title: "t",
        link: "/ui",
        now: "2026-01-01T00:00:00.000000Z",
    };
    a.record_notification(&new, &[(Channel::Webhook, "https://h.example/")])
        .unwrap();
    assert!(
        notify.wait_timeout(WOKEN_WITHIN),
        "notify: woken before 10 s"
    );
}

#[test]
fn a_rolled_back_write_does_not_wake() {
    let Some((a, b)) = two_replicas("a_rolled_back_write_does_not_wake") else {
        return;
    };
    a.write(vec![first_event()])
        .blocking_recv()
        .unwrap()
        .unwrap();
    let mut outbox = subscribe(&b, Topic::Outbox);
    // The outbox row and a write the database refuses, all or nothing.
    let done = a.write(vec![ExchangeWrite::OutboxAdd(outbox_row(2)), first_event()]);
    assert!(done.blocking_recv().unwrap().is_err(), "refused as a whole");
    assert!(a.outbox("r2").unwrap().is_empty(), "nothing was committed");
    assert!(
        !outbox.wait_timeout(Duration::from_secs(2)),
        "a rolled-back write woke a subscriber"
    );
    // The same row committed does wake it: the quiet above was not a deaf
    // subscriber.
    a.write(vec![ExchangeWrite::OutboxAdd(outbox_row(2))])
        .blocking_recv()
        .unwrap()
        .unwrap();
    assert!(outbox.wait_timeout(WOKEN_WITHIN), "woken before 10 s");
}

#[test]
fn a_lost_listen_connection_is_replaced() {
    let Some((url, a, b)) = two_replicas_at("a_lost_listen_connection_is_replaced") else {
        return;
    };
    let mut outbox = subscribe(&b, Topic::Outbox);
    assert_eq!(terminate_listeners(&url), 1, "b's listening session");
    // Back, it wakes its subscribers for what they may have missed...
    assert!(outbox.wait_timeout(WOKEN_WITHIN), "woken on reconnecting");
    // ...and listens again.
    a.outbox_add(&outbox_row(3)).unwrap();
    assert!(outbox.wait_timeout(WOKEN_WITHIN), "woken before 10 s");
}
