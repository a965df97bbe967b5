use super::*;
use detente_domain::Origin;

fn node(dir: &std::path::Path, tune: impl FnOnce(&mut crate::Config)) -> Arc<Node> {
    crate::datadir::init(dir, &Origin::parse("b.example").unwrap(), None).unwrap();
    let file = dir.join(crate::datadir::CONFIG_FILE);
    let mut c = crate::Config::load(&file).unwrap();
    tune(&mut c);
    std::fs::write(&file, c.to_toml()).unwrap();
    Node::open(dir).unwrap()
}

fn people() -> Directory {
    Arc::new(|| {
        [
            ("olga", "officer"),
            ("rita", "reviewer"),
            ("adam", "admin"),
            ("aud", "auditor"),
        ]
        .map(|(u, r)| (u.to_string(), r.to_string()))
        .to_vec()
    })
}

fn at(s: &str) -> Clock {
    let t = time::parse(s).unwrap();
    Arc::new(move || t)
}

fn add_request(n: &Node, id: &str, ack_by: &str, answer_by: &str, acked: bool) {
    let at = "2026-01-01T00:00:00.000000Z".to_string();
    let request = detente_storage::RequestRow {
        id: id.into(),
        direction: detente_storage::Direction::Inbound,
        peer: "a.example".into(),
        kind: detente_storage::RequestType::Preservation,
        urgency: detente_storage::Urgency::Normal,
        tlp: detente_storage::Tlp::Amber,
        reference: id.into(),
        status: detente_storage::Status::Delivered,
        submitted_at: at.clone(),
        acknowledge_by: ack_by.into(),
        answer_by: answer_by.into(),
        acknowledged_at: acked.then(|| "2026-01-01T01:00:00.000000Z".into()),
        closed_at: None,
        updated_at: at.clone(),
        delivered_at: None,
        decline_ground: None,
    };
    let event = detente_storage::EventRow {
        request_id: id.into(),
        seq: 0,
        event_id: format!("{id}-submitted"),
        actor: "a.example".into(),
        kind: "submitted".into(),
        at,
        log_index: 1,
        envelope: b"{}".to_vec(),
        receipt: None,
    };
    n.store().record_event(&request, &event).unwrap();
}

#[test]
fn each_deadline_within_a_day_is_notified_once_to_officers() {
    let t = tempfile::tempdir().unwrap();
    let n = node(t.path(), |_| {});
    add_request(
        &n,
        "REF-SOON",
        "2026-01-02T06:00:00.000000Z",
        "2026-01-09T00:00:00.000000Z",
        false,
    );
    add_request(
        &n,
        "REF-ACKED",
        "2026-01-02T06:00:00.000000Z",
        "2026-01-09T00:00:00.000000Z",
        true,
    );
    add_request(
        &n,
        "REF-LATER",
        "2026-01-05T00:00:00.000000Z",
        "2026-01-09T00:00:00.000000Z",
        false,
    );
    add_request(
        &n,
        "REF-PAST",
        "2026-01-01T00:00:00.000000Z",
        "2026-01-01T12:00:00.000000Z",
        false,
    );
    let (x, _rx) = Notifier::open(&n, people(), at("2026-01-01T18:00:00Z")).unwrap();
    assert_eq!(x.scan_deadlines().unwrap(), 1, "one officer, one deadline");
    assert_eq!(x.scan_deadlines().unwrap(), 0, "notified once");
    let items = x.db().notifications("olga", 10).unwrap();
    assert_eq!(items.len(), 1);
    assert!(
        items[0].title.contains("REF-SOON")
            && items[0]
                .title
                .contains("acknowledgement due 2026-01-02 06:00 UTC"),
        "{:?}",
        items[0]
    );
    assert_eq!(items[0].link, "/ui/requests/REF-SOON");
    assert!(x.db().notifications("rita", 10).unwrap().is_empty());
    assert!(x.db().notifications("aud", 10).unwrap().is_empty());
}

#[test]
fn notices_go_to_the_roles_whose_work_they_are_and_saved_settings_win() {
    let t = tempfile::tempdir().unwrap();
    let n = node(t.path(), |c| {
        let held = |user: &str| Rule {
            user: user.into(),
            kinds: Some(vec![Kind::TransferHeld]),
            ..Rule::default()
        };
        c.notify = vec![held("aud"), held("olga")];
    });
    let (x, _rx) = Notifier::open(&n, people(), at("2026-01-01T00:00:00Z")).unwrap();
    let hold = HoldRow {
        id: "h1".into(),
        recipient: "a.example".into(),
        country: "US".into(),
        subject: "request:r1".into(),
        decision: "{}".into(),
        status: detente_storage::HoldStatus::Held,
        created: String::new(),
        resolved_by: None,
        reason: None,
        requested_by: Some("olga".into()),
        payload: None,
        released_at: None,
    };
    assert_eq!(
        x.record(&Notice::held(&hold)).unwrap(),
        2,
        "the reviewer, and the officer whose transfer it is"
    );
    assert_eq!(
        x.db().notifications("rita", 10).unwrap()[0].link,
        "/ui/holds"
    );
    assert_eq!(x.db().unread_notifications("olga").unwrap(), 1);
    assert!(
        x.db().notifications("aud", 10).unwrap().is_empty(),
        "an auditor does not see holds, whatever the config says"
    );
    assert!(
        x.db().notifications("adam", 10).unwrap().is_empty(),
        "not by default"
    );
    x.db()
        .save_notify_settings("rita", &Settings::default(), "now")
        .unwrap();
    let again = HoldRow {
        id: "h2".into(),
        requested_by: None,
        ..hold
    };
    assert_eq!(
        x.record(&Notice::held(&again)).unwrap(),
        0,
        "rita unsubscribed; olga sees her own only"
    );
    assert_eq!(
        x.db().mark_notifications_read("olga", None, "now").unwrap(),
        1
    );
    assert_eq!(x.db().unread_notifications("olga").unwrap(), 0);
}

#[test]
fn config_toml_round_trips_and_its_errors_are_one_line() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("n");
    crate::datadir::init(&dir, &Origin::parse("b.example").unwrap(), None).unwrap();
    let file = dir.join(crate::datadir::CONFIG_FILE);
    let base = std::fs::read_to_string(&file).unwrap();
    let good = format!(
        "{base}\n[smtp]\nhost = \"127.0.0.1\"\nport = 2525\ntls = \"none\"\nfrom = \"detente <d@b.example>\"\n\n\
         [[notify]]\nuser = \"alice\"\nkinds = [\"request.inbound\", \"deadline.soon\"]\nemail = \"alice@b.example\"\n\
         webhook = \"https://hooks.b.example/x\"\nwebhook_secret = \"0123456789abcdef\"\n"
    );
    std::fs::write(&file, &good).unwrap();
    let c = crate::Config::load(&file).unwrap();
    assert_eq!(
        c.notify[0].kinds.as_deref(),
        Some(&[Kind::RequestInbound, Kind::DeadlineSoon][..])
    );
    assert_eq!(toml::from_str::<crate::Config>(&c.to_toml()).unwrap(), c);
    for (bad, want) in [
        (good.replace("https://hooks", "file://hooks"), "notify[0] (user \"alice\"): webhook \"file://hooks.b.example/x\" must be an http:// or https:// URL"),
        (good.replace("\"deadline.soon\"", "\"deadline.later\""), "unknown variant `deadline.later`"),
        (good.replace("tls = \"none\"", "tls = \"ssl\""), "unknown variant `ssl`"),
    ] {
        std::fs::write(&file, bad).unwrap();
        let e = crate::Config::load(&file).unwrap_err().to_string();
        assert!(e.contains(want), "{e}");
        assert_eq!(e.lines().count(), 1, "{e}");
    }
}
