//! Losing the database: calls fail with `Unavailable` (nothing half-done), and
//! the store reconnects by itself once the server is back. The outage is a
//! TCP relay between the store and the test server that the test cuts.

use detente_storage::{LogStore, PeerRow, PeerStore, StorageError};
use detente_storage_postgres::{scratch_database, test_server, PgStore};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Relays connections to `target` while `up`; cutting it drops every
/// connection and refuses new ones.
struct Relay {
    addr: SocketAddr,
    up: Arc<AtomicBool>,
    cut: tokio::sync::watch::Sender<u64>,
    _rt: tokio::runtime::Runtime,
}

impl Relay {
    fn start(target: SocketAddr) -> Relay {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let (cut, cuts) = tokio::sync::watch::channel(0u64);
        let accepting = up.clone();
        rt.spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                if !accepting.load(Ordering::SeqCst) {
                    continue; // dropped: refused
                }
                let mut cuts = cuts.clone();
                cuts.borrow_and_update(); // only later cuts end this one
                tokio::spawn(async move {
                    let Ok(mut server) = tokio::net::TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cuts.changed() => {}
                    }
                });
            }
        });
        Relay {
            addr,
            up,
            cut,
            _rt: rt,
        }
    }

    fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
        if !up {
            self.cut.send_modify(|n| *n += 1);
        }
    }
}

/// The host and port of a `postgres://user@host:port/db` URL.
fn server_addr(url: &str) -> SocketAddr {
    let rest = url.split_once('@').map_or(url, |(_, r)| r);
    let hostport = rest.split('/').next().unwrap();
    let hostport = if hostport.contains(':') {
        hostport.to_string()
    } else {
        format!("{hostport}:5432")
    };
    hostport.parse().unwrap()
}

fn peer(origin: &str) -> PeerRow {
    PeerRow {
        origin: origin.into(),
        url: format!("https://{origin}"),
        key: "k".into(),
        country: "DE".into(),
        added: "2026-01-01T00:00:00.000000Z".into(),
    }
}

#[test]
fn an_outage_fails_calls_cleanly_and_the_store_reconnects() {
    let Some(admin) = test_server("an_outage_fails_calls_cleanly_and_the_store_reconnects") else {
        return;
    };
    let url = scratch_database(&admin).unwrap();
    let relay = Relay::start(server_addr(&url));
    let relayed = url.replacen(&server_addr(&url).to_string(), &relay.addr.to_string(), 1);
    let store = PgStore::open_url(&relayed).unwrap();
    assert!(store.add_peer(&peer("a.example")).unwrap());

    relay.set_up(false);
    let err = store.add_peer(&peer("b.example")).unwrap_err();
    assert!(matches!(err, StorageError::Unavailable(_)), "{err}");
    assert!(matches!(store.ping(), Err(StorageError::Unavailable(_))));

    relay.set_up(true);
    store.ping().expect("reconnected");
    let origins: Vec<String> = store
        .peers()
        .unwrap()
        .into_iter()
        .map(|p| p.origin)
        .collect();
    assert_eq!(origins, ["a.example"], "the failed write left nothing");
}
