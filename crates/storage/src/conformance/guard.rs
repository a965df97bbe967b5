use super::*;

pub(super) const CHECKS: &[Check] = &[
    (
        "a_nonce_is_used_once_until_it_expires",
        a_nonce_is_used_once_until_it_expires,
    ),
    (
        "a_full_nonce_table_refuses_until_nonces_expire",
        a_full_nonce_table_refuses_until_nonces_expire,
    ),
    (
        "racing_threads_use_one_nonce_once",
        racing_threads_use_one_nonce_once,
    ),
    (
        "failures_count_in_a_fixed_window",
        failures_count_in_a_fixed_window,
    ),
    (
        "tokens_allow_a_burst_then_one_per_interval",
        tokens_allow_a_burst_then_one_per_interval,
    ),
];

const CAP: u64 = 1_000;

fn a_nonce_is_used_once_until_it_expires(s: &dyn Store) {
    assert!(s.first_use("sig", "a", 100, 200, CAP).unwrap());
    assert!(!s.first_use("sig", "a", 150, 250, CAP).unwrap());
    assert!(!s.first_use("sig", "a", 199, 299, CAP).unwrap());
    // Another scope is another namespace.
    assert!(s.first_use("other", "a", 150, 250, CAP).unwrap());
    // Expired: the same key is taken again, and held anew.
    assert!(s.first_use("sig", "a", 200, 300, CAP).unwrap());
    assert!(!s.first_use("sig", "a", 201, 301, CAP).unwrap());
}

fn a_full_nonce_table_refuses_until_nonces_expire(s: &dyn Store) {
    assert!(s.first_use("sig", "a", 10, 20, 3).unwrap());
    assert!(s.first_use("sig", "b", 10, 21, 3).unwrap());
    assert!(s.first_use("sig", "c", 10, 22, 3).unwrap());
    assert!(!s.first_use("sig", "d", 11, 30, 3).unwrap(), "full");
    assert!(s.first_use("other", "d", 11, 30, 3).unwrap(), "per scope");
    assert!(s.first_use("sig", "d", 20, 30, 3).unwrap(), "a expired");
    assert!(!s.first_use("sig", "e", 20, 30, 3).unwrap(), "full again");
    assert!(!s.first_use("sig", "b", 20, 30, 3).unwrap(), "b still live");
    assert!(
        s.first_use("sig", "e", 22, 30, 3).unwrap(),
        "b and c expired"
    );
    assert!(s.first_use("sig", "f", 22, 30, 3).unwrap());
    assert!(!s.first_use("sig", "g", 22, 30, 3).unwrap(), "d, e, f live");
}

fn racing_threads_use_one_nonce_once(s: &dyn Store) {
    for round in 0..5 {
        let key = format!("n{round}");
        let wins: usize = std::thread::scope(|t| {
            let racers: Vec<_> = (0..8)
                .map(|_| t.spawn(|| s.first_use("sig", &key, 100, 200, CAP).unwrap()))
                .collect();
            racers
                .into_iter()
                .map(|r| usize::from(r.join().unwrap()))
                .sum()
        });
        assert_eq!(wins, 1, "round {round}");
    }
}

fn failures_count_in_a_fixed_window(s: &dyn Store) {
    assert_eq!(s.failures("u", 100).unwrap(), Failures::default());
    assert_eq!(s.record_failure("u", 100, 60).unwrap(), 1);
    assert_eq!(s.record_failure("u", 130, 60).unwrap(), 2);
    assert_eq!(s.record_failure("v", 130, 60).unwrap(), 1);
    let open = Failures {
        count: 2,
        ends_s: 160,
    };
    assert_eq!(s.failures("u", 159).unwrap(), open, "the window is fixed");
    assert_eq!(s.failures("u", 160).unwrap(), Failures::default(), "closed");
    assert_eq!(s.record_failure("u", 160, 60).unwrap(), 1, "a new window");
    assert_eq!(s.failures("u", 161).unwrap().ends_s, 220);
    s.clear_failures("u").unwrap();
    assert_eq!(s.failures("u", 161).unwrap(), Failures::default());
    assert_eq!(s.failures("v", 161).unwrap().count, 1, "other keys stay");
}

fn tokens_allow_a_burst_then_one_per_interval(s: &dyn Store) {
    let t = 1_000_000;
    // Ten a second, bursts of three.
    for i in 0..3 {
        assert_eq!(s.take_token("ip", t + i, 100, 3).unwrap(), None, "{i}");
    }
    let wait = s.take_token("ip", t + 3, 100, 3).unwrap().expect("refused");
    assert!((1..=100).contains(&wait), "{wait}");
    assert_eq!(s.take_token("other", t + 3, 100, 3).unwrap(), None);
    // A refusal takes nothing: it is allowed once the wait is over.
    assert!(s
        .take_token("ip", t + 3 + wait as i64 - 1, 100, 3)
        .unwrap()
        .is_some());
    assert_eq!(
        s.take_token("ip", t + 3 + wait as i64, 100, 3).unwrap(),
        None
    );
    assert!(s
        .take_token("ip", t + 3 + wait as i64, 100, 3)
        .unwrap()
        .is_some());
    // Idle long enough, the whole burst is back.
    for i in 0..3 {
        assert_eq!(s.take_token("ip", t + 10_000 + i, 100, 3).unwrap(), None);
    }
}
