//! Two replicas of one node on one PostgreSQL, each running its notifier:
//! a webhook call is made by one of them only, however long it takes.

use detente_domain::{time, Origin};
use detente_node::notify::{Directory, Kind, Notice, Notifier, Settings};
use detente_node::Node;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Longer than a replica waits between looks for due deliveries (5 s), so
/// a replica that only looked (did not claim) would make the call again
/// while the first is under way.
const SLOW_RECEIVER: Duration = Duration::from_secs(7);

/// A webhook receiver that answers 200 after [`SLOW_RECEIVER`]; counts calls.
async fn slow_webhook(calls: Arc<AtomicUsize>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            calls.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = vec![0; 64 * 1024];
                let _ = socket.read(&mut buf).await;
                tokio::time::sleep(SLOW_RECEIVER).await;
                let _ = socket
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    format!("http://{addr}/hook")
}

#[test]
fn a_webhook_is_called_by_one_replica_only() {
    let Some(admin) =
        detente_storage_postgres::test_server("a_webhook_is_called_by_one_replica_only")
    else {
        return;
    };
    let url = detente_storage_postgres::scratch_database(&admin).unwrap();
    let t = tempfile::tempdir().unwrap();
    let origin = Origin::parse("b.example").unwrap();
    detente_node::datadir::init_on(t.path(), &origin, None, Some(&url)).unwrap();
    let replicas = [Node::open(t.path()).unwrap(), Node::open(t.path()).unwrap()];

    let rt = tokio::runtime::Runtime::new().unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let hook = rt.block_on(slow_webhook(calls.clone()));
    let settings = Settings {
        kinds: vec![Kind::RequestInbound],
        email: None,
        webhook: Some(hook),
        webhook_secret: Some("0123456789abcdef".into()),
    };
    replicas[0]
        .store()
        .save_notify_settings("olga", &settings, "now")
        .unwrap();
    let (_stop, stopped) = tokio::sync::watch::channel(false);
    let people: Directory = Arc::new(|| vec![("olga".to_string(), "officer".to_string())]);
    let _guard = rt.enter();
    for n in &replicas {
        Notifier::start(n, people.clone(), Arc::new(time::now), stopped.clone()).unwrap();
    }
    replicas[0].notify(Notice::inbound("r1"));

    let sent = |n: &Node| {
        n.store()
            .notify_deliveries("olga")
            .unwrap()
            .iter()
            .any(|d| d.sent)
    };
    let started = Instant::now();
    while !sent(&replicas[1]) {
        assert!(started.elapsed() < Duration::from_secs(60), "not delivered");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Time for a second replica's call to show, had one been made.
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(calls.load(Ordering::SeqCst), 1, "one call, by one replica");
}
