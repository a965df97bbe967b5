use super::*;

pub(super) const CHECKS: &[Check] = &[
    (
        "sessions_are_found_by_digest_until_idle_or_too_old",
        sessions_are_found_by_digest_until_idle_or_too_old,
    ),
    (
        "sessions_end_one_by_one_per_user_or_all_at_once",
        sessions_end_one_by_one_per_user_or_all_at_once,
    ),
    (
        "live_sessions_are_listed_newest_first",
        live_sessions_are_listed_newest_first,
    ),
];

fn session(digest: u8, user: &str, created: i64) -> SessionRow {
    SessionRow {
        digest: [digest; 32],
        user: user.into(),
        csrf: format!("{digest:064x}"),
        created,
        last_seen: created,
        agent: "Firefox".into(),
    }
}

/// Alive at `now` with 600 s idle and 3600 s absolute lifetimes.
fn at(now: i64) -> Live {
    Live {
        seen_after: now - 600,
        created_after: now - 3600,
    }
}

fn sessions_are_found_by_digest_until_idle_or_too_old(s: &dyn Store) {
    let t = 1_000_000;
    s.insert_session(&session(1, "alice", t)).unwrap();
    assert!(matches!(
        s.insert_session(&session(1, "bob", t)),
        Err(StorageError::Conflict(_))
    ));
    assert_eq!(
        s.live_session(&[1; 32], at(t + 1)).unwrap(),
        Some(session(1, "alice", t))
    );
    assert_eq!(s.live_session(&[2; 32], at(t)).unwrap(), None);

    // Activity keeps a session; the store never moves it back.
    s.touch_session(&[1; 32], t + 500).unwrap();
    s.touch_session(&[1; 32], t + 100).unwrap();
    let seen = s.live_session(&[1; 32], at(t + 1000)).unwrap().unwrap();
    assert_eq!(seen.last_seen, t + 500, "touched 500 s ago");
    // Idle for 600 s: over, and deleted, so a later, laxer look finds none.
    assert_eq!(s.live_session(&[1; 32], at(t + 1100)).unwrap(), None);
    assert_eq!(s.live_session(&[1; 32], at(t)).unwrap(), None);

    // However active, a session ends 3600 s after sign-in.
    s.insert_session(&session(3, "alice", t)).unwrap();
    for k in 1..=7 {
        s.touch_session(&[3; 32], t + 500 * k).unwrap();
        assert!(s.live_session(&[3; 32], at(t + 500 * k)).unwrap().is_some());
    }
    assert_eq!(s.live_session(&[3; 32], at(t + 3700)).unwrap(), None);
    assert!(s.live_sessions(None, at(t), 10).unwrap().is_empty());
}

fn sessions_end_one_by_one_per_user_or_all_at_once(s: &dyn Store) {
    let t = 1_000_000;
    s.insert_session(&session(1, "alice", t)).unwrap();
    s.insert_session(&session(2, "alice", t)).unwrap();
    s.insert_session(&session(3, "bob", t)).unwrap();
    s.insert_session(&session(4, "bob", t)).unwrap();
    assert!(
        !s.delete_session(&[1; 32], Some("bob")).unwrap(),
        "not bob's"
    );
    assert!(s.delete_session(&[1; 32], Some("alice")).unwrap());
    assert!(!s.delete_session(&[1; 32], None).unwrap());
    assert!(
        s.delete_session(&[3; 32], None).unwrap(),
        "an admin's revocation"
    );
    assert_eq!(s.live_session(&[1; 32], at(t)).unwrap(), None);
    assert!(s.live_session(&[2; 32], at(t)).unwrap().is_some());
    s.insert_session(&session(5, "bob", t)).unwrap();
    assert_eq!(s.delete_sessions(Some("bob")).unwrap(), 2);
    assert_eq!(s.delete_sessions(None).unwrap(), 1);
    assert!(s.live_sessions(None, at(t), 10).unwrap().is_empty());
}

fn live_sessions_are_listed_newest_first(s: &dyn Store) {
    let t = 1_000_000;
    s.insert_session(&session(1, "alice", t)).unwrap();
    s.insert_session(&session(2, "bob", t + 10)).unwrap();
    s.insert_session(&session(3, "alice", t + 20)).unwrap();
    // Too old, and idle too long.
    s.insert_session(&session(4, "alice", t - 5000)).unwrap();
    s.insert_session(&session(5, "alice", t - 1000)).unwrap();
    let digests = |rows: Vec<SessionRow>| rows.iter().map(|r| r.digest[0]).collect::<Vec<_>>();
    let now = at(t + 30);
    assert_eq!(
        digests(s.live_sessions(Some("alice"), now, 10).unwrap()),
        [3, 1]
    );
    assert_eq!(digests(s.live_sessions(None, now, 10).unwrap()), [3, 2, 1]);
    assert_eq!(digests(s.live_sessions(None, now, 2).unwrap()), [3, 2]);
    assert_eq!(
        digests(s.live_sessions(Some("carol"), now, 10).unwrap()),
        [0u8; 0]
    );
}
