//! What the TAXII and witness stores promise when several replicas share one
//! database: each replica is a `PgStore` of its own on the same URL.

use detente_storage::taxii::{Collection, NewObject, ObjectQuery, TaxiiStore, VersionSel};
use detente_storage::witness::{Cosigned, WitnessStore};
use detente_storage_postgres::{scratch_database, test_server, PgStore};
use std::sync::{mpsc, Arc, Barrier};
use std::time::{Duration, Instant};

fn replicas(admin: &str, n: usize) -> (String, Vec<Arc<PgStore>>) {
    let url = scratch_database(admin).unwrap();
    let stores = (0..n)
        .map(|_| Arc::new(PgStore::open_url(&url).unwrap()))
        .collect();
    (url, stores)
}

fn object(id: &str) -> NewObject {
    NewObject {
        id: id.into(),
        object_type: "indicator".into(),
        spec_version: "2.1".into(),
        version_us: Some(1),
        version: Some("v1".into()),
        tlp: 1,
        body: "{}".into(),
        cites: vec![],
    }
}

fn everything(collection: &str, after_seq: i64) -> ObjectQuery {
    ObjectQuery {
        collection: collection.into(),
        object_id: None,
        after_seq,
        ids: vec![],
        types: vec![],
        versions: vec![VersionSel::All],
        spec_versions: vec![],
        tlp: vec![1],
        limit: 100,
        with_body: false,
    }
}

/// A plain client on the database, to watch the replicas' sessions.
struct Observer {
    rt: tokio::runtime::Runtime,
    client: tokio_postgres::Client,
}

impl Observer {
    fn connect(url: &str) -> Observer {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let client = rt.block_on(async {
            let (c, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(conn);
            c
        });
        Observer { rt, client }
    }

    fn sessions_waiting_for_a_lock(&self) -> i64 {
        let sql = "SELECT count(*) FROM pg_stat_activity \
                   WHERE datname = current_database() AND wait_event_type = 'Lock'";
        self.rt
            .block_on(self.client.query_one(sql, &[]))
            .unwrap()
            .get(0)
    }
}

/// Replica A has taken its positions and not committed when replica B
/// ingests: B must wait for A rather than commit a later position first,
/// or a reader paging in between would move its cursor past A's object and
/// never see it.
#[test]
fn a_later_position_never_commits_before_an_earlier_one() {
    let Some(admin) = test_server("a_later_position_never_commits_before_an_earlier_one") else {
        return;
    };
    let (url, stores) = replicas(&admin, 3);
    let [a, b, reader] = [&stores[0], &stores[1], &stores[2]];
    a.create_collection(&Collection {
        id: "c".into(),
        title: "c".into(),
        description: None,
        alias: None,
        read: vec!["*".into()],
        write: vec!["*".into()],
        red_recipients: vec![],
    })
    .unwrap();
    let observer = Observer::connect(&url);
    let (done, b_done) = mpsc::channel();
    let mut b_thread = None;
    a.ingest(
        "c",
        &[object("indicator--a")],
        "sa",
        "alice",
        &mut |_, _| {
            let b = b.clone();
            let done = done.clone();
            b_thread = Some(std::thread::spawn(move || {
                b.ingest("c", &[object("indicator--b")], "sb", "bob", &mut |_, _| {
                    "{}".into()
                })
                .unwrap();
                done.send(()).unwrap();
            }));
            let deadline = Instant::now() + Duration::from_secs(30);
            while observer.sessions_waiting_for_a_lock() == 0 {
                assert!(
                    b_done.try_recv().is_err(),
                    "B committed while A's earlier position was still in flight"
                );
                assert!(Instant::now() < deadline, "B neither waited nor finished");
                std::thread::sleep(Duration::from_millis(5));
            }
            let seen = reader.query_objects(&everything("c", 0)).unwrap();
            assert!(seen.rows.is_empty(), "{seen:?}");
            "{}".into()
        },
    )
    .unwrap();
    b_thread.unwrap().join().unwrap();
    let rows = reader.query_objects(&everything("c", 0)).unwrap().rows;
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["indicator--a", "indicator--b"]);
}

fn record(size: u64, root: u8) -> Cosigned {
    Cosigned {
        origin: "log.example".into(),
        size,
        root: [root; 32],
        note: format!("note {size} {root}"),
        cosigned_at: 1_700_000_000,
    }
}

/// Replicas race to cosign from the same expectation, round after round:
/// exactly one wins each round, and the winner's record is what is stored.
#[test]
fn exactly_one_racing_swap_of_the_witnessed_checkpoint_wins() {
    let Some(admin) = test_server("exactly_one_racing_swap_of_the_witnessed_checkpoint_wins")
    else {
        return;
    };
    const RACERS: usize = 6;
    let (_, stores) = replicas(&admin, RACERS);
    let mut expected: Option<(u64, [u8; 32])> = None;
    for round in 1..=15u64 {
        let barrier = Arc::new(Barrier::new(RACERS));
        let racers: Vec<_> = stores
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let (s, barrier) = (s.clone(), barrier.clone());
                std::thread::spawn(move || {
                    let new = record(round * 10, i as u8);
                    barrier.wait();
                    s.swap_witnessed(expected, &new).unwrap()
                })
            })
            .collect();
        let won: Vec<usize> = racers
            .into_iter()
            .enumerate()
            .filter_map(|(i, t)| t.join().unwrap().then_some(i))
            .collect();
        assert_eq!(won.len(), 1, "round {round}: winners {won:?}");
        let winner = record(round * 10, won[0] as u8);
        assert_eq!(
            stores[0].witnessed("log.example").unwrap(),
            Some(winner.clone())
        );
        expected = Some((winner.size, winner.root));
    }
}
