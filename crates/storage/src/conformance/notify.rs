use super::*;
use crate::notify::{Channel, Kind, New, Settings, Which};

pub(super) const CHECKS: &[Check] = &[
    (
        "a_notification_is_recorded_once_per_user_and_key",
        a_notification_is_recorded_once_per_user_and_key,
    ),
    (
        "notifications_are_read_one_by_one_or_all_at_once",
        notifications_are_read_one_by_one_or_all_at_once,
    ),
    (
        "deliveries_are_due_until_sent_or_given_up",
        deliveries_are_due_until_sent_or_given_up,
    ),
    (
        "claimed_deliveries_are_leased_where_replicas_share_the_store",
        claimed_deliveries_are_leased_where_replicas_share_the_store,
    ),
    (
        "saved_notification_settings_replace_earlier_ones",
        saved_notification_settings_replace_earlier_ones,
    ),
    (
        "deadlines_of_open_inbound_requests_fall_in_a_window",
        deadlines_of_open_inbound_requests_fall_in_a_window,
    ),
];

fn new<'a>(user: &'a str, key: &'a str, now: &'a str) -> New<'a> {
    New {
        user,
        kind: Kind::RequestInbound,
        key,
        title: "New request Case-01 from peer.example",
        link: "/ui/requests/r01",
        now,
    }
}

const T0: &str = "2026-01-01T00:00:00.000000Z";
const T1: &str = "2026-01-01T00:01:00.000000Z";
const T2: &str = "2026-01-01T00:02:00.000000Z";

fn a_notification_is_recorded_once_per_user_and_key(s: &dyn Store) {
    let hook = [(Channel::Webhook, "https://hooks.example/x")];
    let id = s
        .record_notification(&new("olga", "k1", T0), &hook)
        .unwrap();
    assert!(id.is_some());
    assert_eq!(
        s.record_notification(&new("olga", "k1", T1), &hook)
            .unwrap(),
        None
    );
    assert!(s
        .record_notification(&new("otto", "k1", T1), &[])
        .unwrap()
        .is_some());
    let items = s.notifications("olga", 10).unwrap();
    assert_eq!(items.len(), 1);
    let item = &items[0];
    assert_eq!(
        (item.id, item.kind, item.read),
        (id.unwrap(), Kind::RequestInbound, false)
    );
    assert_eq!(item.title, "New request Case-01 from peer.example");
    assert_eq!(
        (item.link.as_str(), item.created.as_str()),
        ("/ui/requests/r01", T0)
    );
    // Only the first recording made a delivery.
    let tried = s.notify_deliveries("olga").unwrap();
    assert_eq!(tried.len(), 1);
    assert_eq!(
        (tried[0].channel, tried[0].attempts, tried[0].sent),
        (Channel::Webhook, 0, false)
    );
    assert!(s.notify_deliveries("otto").unwrap().is_empty());
}

fn notifications_are_read_one_by_one_or_all_at_once(s: &dyn Store) {
    let ids: Vec<i64> = ["k1", "k2", "k3"]
        .iter()
        .map(|k| {
            s.record_notification(&new("olga", k, T0), &[])
                .unwrap()
                .unwrap()
        })
        .collect();
    s.record_notification(&new("otto", "k1", T0), &[]).unwrap();
    let listed: Vec<i64> = s
        .notifications("olga", 2)
        .unwrap()
        .iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(listed, [ids[2], ids[1]], "newest first, at most the limit");
    assert_eq!(s.unread_notifications("olga").unwrap(), 3);
    assert_eq!(
        s.mark_notifications_read("olga", Some(ids[1]), T1).unwrap(),
        1
    );
    assert_eq!(
        s.mark_notifications_read("olga", Some(ids[1]), T1).unwrap(),
        0
    );
    assert_eq!(
        s.mark_notifications_read("otto", Some(ids[0]), T1).unwrap(),
        0,
        "not otto's"
    );
    assert_eq!(s.unread_notifications("olga").unwrap(), 2);
    let read: Vec<bool> = s
        .notifications("olga", 10)
        .unwrap()
        .iter()
        .map(|i| i.read)
        .collect();
    assert_eq!(read, [false, true, false]);
    assert_eq!(s.mark_notifications_read("olga", None, T1).unwrap(), 2);
    assert_eq!(s.unread_notifications("olga").unwrap(), 0);
    assert_eq!(s.unread_notifications("otto").unwrap(), 1);
}

fn deliveries_are_due_until_sent_or_given_up(s: &dyn Store) {
    assert_eq!(s.notify_next_due().unwrap(), None);
    let both = [
        (Channel::Email, "olga@b.example"),
        (Channel::Webhook, "https://h.example/"),
    ];
    s.record_notification(&new("olga", "k1", T0), &both)
        .unwrap();
    s.record_notification(&new("otto", "k1", T1), &both[..1])
        .unwrap();
    assert_eq!(s.notify_next_due().unwrap().as_deref(), Some(T0));
    let due = s.notify_due(T0, 10).unwrap();
    assert_eq!(due.len(), 2, "otto's is not due yet");
    assert_eq!(
        (due[0].channel, due[0].target.as_str()),
        (Channel::Email, "olga@b.example")
    );
    assert_eq!(
        (due[0].user.as_str(), due[0].item.link.as_str()),
        ("olga", "/ui/requests/r01")
    );
    assert_eq!(s.notify_due(T2, 1).unwrap().len(), 1, "at most the limit");

    s.notify_sent(due[0].id, T1).unwrap();
    s.notify_failed(due[1].id, "502 Bad Gateway", Some(T2), T1)
        .unwrap();
    let left = s.notify_due(T1, 10).unwrap();
    assert_eq!(left.len(), 1, "the retry waits for its time");
    assert_eq!(left[0].user, "otto");
    let retry = s.notify_due(T2, 10).unwrap();
    let again = retry.iter().find(|j| j.id == due[1].id).unwrap();
    assert_eq!(again.attempts, 1);
    s.notify_failed(due[1].id, "timed out", None, T2).unwrap();
    s.notify_sent(left[0].id, T2).unwrap();
    assert!(s.notify_due(T2, 10).unwrap().is_empty(), "sent or given up");
    assert_eq!(s.notify_next_due().unwrap(), None);

    let tried = s.notify_deliveries("olga").unwrap();
    assert_eq!(tried.len(), 2);
    assert_eq!(
        (
            tried[0].attempts,
            tried[0].sent,
            tried[0].last_error.clone()
        ),
        (1, true, None)
    );
    assert_eq!(
        (
            tried[1].attempts,
            tried[1].sent,
            tried[1].last_error.as_deref()
        ),
        (2, false, Some("timed out"))
    );
}

fn claimed_deliveries_are_leased_where_replicas_share_the_store(s: &dyn Store) {
    let both = [
        (Channel::Email, "olga@b.example"),
        (Channel::Webhook, "https://h.example/"),
    ];
    s.record_notification(&new("olga", "k1", T0), &both)
        .unwrap();
    s.record_notification(&new("otto", "k1", T0), &both[..1])
        .unwrap();
    let ids = |jobs: Vec<crate::notify::Job>| jobs.iter().map(|j| j.id).collect::<Vec<_>>();
    let first = ids(s.notify_claim(T0, T1, 2).unwrap());
    assert_eq!(first.len(), 2, "at most the limit");
    let second = ids(s.notify_claim(T0, T1, 10).unwrap());
    if s.shared() {
        assert_eq!(second.len(), 1, "only the one not leased: {second:?}");
        assert!(
            second.iter().all(|id| !first.contains(id)),
            "two claims in a row are disjoint: {first:?} {second:?}"
        );
        assert!(s.notify_claim(T0, T1, 10).unwrap().is_empty());
        assert_eq!(
            s.notify_next_due().unwrap().as_deref(),
            Some(T1),
            "a leased job is next due when its lease ends"
        );
        let mut again = ids(s.notify_claim(T1, T2, 10).unwrap());
        again.sort();
        let mut all = [first, second].concat();
        all.sort();
        assert_eq!(again, all, "an expired lease is claimable again");
    } else {
        assert_eq!(second.len(), 3, "one process tracks its own deliveries");
    }
    // A failed attempt frees its job for its retry, lease or not.
    let job = s
        .notify_claim(T2, "2026-01-01T01:00:00.000000Z", 1)
        .unwrap();
    s.notify_failed(job[0].id, "502 Bad Gateway", Some(T2), T2)
        .unwrap();
    let retry = ids(s
        .notify_claim(T2, "2026-01-01T01:00:00.000000Z", 10)
        .unwrap());
    assert!(retry.contains(&job[0].id), "the retry is due: {retry:?}");
    s.notify_sent(job[0].id, T2).unwrap();
    assert!(
        !ids(s
            .notify_claim(
                "2026-01-02T00:00:00.000000Z",
                "2026-01-02T00:01:00.000000Z",
                10
            )
            .unwrap())
        .contains(&job[0].id),
        "sent"
    );
}

fn saved_notification_settings_replace_earlier_ones(s: &dyn Store) {
    assert_eq!(s.notify_settings("olga").unwrap(), None);
    let first = Settings {
        kinds: vec![Kind::RequestInbound, Kind::DeadlineSoon],
        email: Some("olga@b.example".into()),
        webhook: Some("https://hooks.example/x".into()),
        webhook_secret: Some("0123456789abcdef".into()),
    };
    s.save_notify_settings("olga", &first, T0).unwrap();
    assert_eq!(s.notify_settings("olga").unwrap(), Some(first));
    s.save_notify_settings("olga", &Settings::default(), T1)
        .unwrap();
    assert_eq!(
        s.notify_settings("olga").unwrap(),
        Some(Settings::default()),
        "unsubscribed from everything, which is not the same as never saved"
    );
    assert_eq!(s.notify_settings("otto").unwrap(), None);
}

fn deadlines_of_open_inbound_requests_fall_in_a_window(s: &dyn Store) {
    let from = "2026-01-01T18:00:00.000000Z";
    let until = "2026-01-02T18:00:00.000000Z";
    let soon = "2026-01-02T06:00:00.000000Z";
    let later = "2026-01-05T00:00:00.000000Z";
    let add = |i: u32, ack_by: &str, answer_by: &str, acked: bool, closed: bool| {
        let (mut r, e) = exchange::request(i, Status::Delivered, closed);
        r.acknowledge_by = ack_by.into();
        r.answer_by = answer_by.into();
        r.acknowledged_at = acked.then(|| T1.into());
        s.record_event(&r, &e).unwrap();
    };
    // Even numbers are inbound.
    add(0, soon, later, false, false);
    add(2, soon, until, true, false);
    add(4, soon, soon, false, true);
    add(1, soon, soon, false, false);
    add(6, from, later, false, false);
    let mut due: Vec<_> = s
        .deadlines(from, until)
        .unwrap()
        .into_iter()
        .map(|d| (d.request_id, d.which, d.at))
        .collect();
    due.sort();
    assert_eq!(
        due,
        [
            ("r00".to_string(), Which::AcknowledgeBy, soon.to_string()),
            ("r02".to_string(), Which::AnswerBy, until.to_string()),
        ],
        "not acknowledged yet, answer due, inbound, open, after `from`, up to `until`"
    );
    let all = s.deadlines(from, until).unwrap();
    let d = all.iter().find(|d| d.request_id == "r00").unwrap();
    assert_eq!(
        (d.reference.as_str(), d.peer.as_str()),
        ("Case-00", "peer.example")
    );
}
