//! A node whose disk fills up while officers submit requests: writes are
//! refused with 507 and a clear detail, nothing acknowledged is lost, the
//! node takes requests again by itself once space is freed, and every
//! checkpoint it served was committed.

mod common;

use common::{add_peer, get, node, serve_http};
use serde_json::{json, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A size-limited tmpfs of the test's own, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// None where the test may not mount (not root, no tmpfs).
    fn mount(path: &Path, megabytes: u32) -> Option<Self> {
        std::fs::create_dir_all(path).ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(path)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(path.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Writes `path` until the filesystem has no room left.
fn fill(path: &Path) {
    let mut f = std::fs::File::create(path).unwrap();
    let chunk = vec![0x5a; 64 * 1024];
    while f.write_all(&chunk).is_ok() {}
    let mut byte = [0u8; 1];
    while f.write_all(&byte).is_ok() {
        byte[0] ^= 1;
    }
}

async fn submit(c: &reqwest::Client, base: &str, n: u64) -> (u16, Value) {
    let body = json!({ "type": "consultation", "reference": format!("D-{n}"),
        "issuing_authority": "National CERT", "facts": "Who operates the address block in the annex?",
        "urgency": "normal", "tlp": "green", "recipient": "cert-b.example" });
    let r = c
        .post(format!("{base}/api/v1/requests"))
        .basic_auth("officer", Some("officer-password"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let content_type = r.headers().get("content-type").cloned();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    if status != 201 {
        assert_eq!(
            content_type.as_ref().and_then(|v| v.to_str().ok()),
            Some("application/problem+json"),
            "{status} {v}"
        );
    }
    (status, v)
}

/// What the officers' submissions were answered.
#[derive(Debug, Default)]
struct Outcomes {
    acked: Vec<String>,
    refused: Vec<Value>,
    other: Vec<(u16, Value)>,
}

impl Outcomes {
    fn record(&mut self, status: u16, v: Value) {
        match status {
            201 => self.acked.push(v["id"].as_str().unwrap().to_string()),
            507 => self.refused.push(v),
            _ => self.other.push((status, v)),
        }
    }
}

/// Waits up to `secs` for the outcomes to satisfy `what`; fails on any
/// answer other than 201 or 507.
async fn wait_for(log: &Mutex<Outcomes>, what: impl Fn(&Outcomes) -> bool, secs: u64) {
    let start = Instant::now();
    loop {
        {
            let o = log.lock().unwrap();
            assert!(o.other.is_empty(), "only 201 or 507: {:?}", o.other);
            if what(&o) {
                return;
            }
            assert!(start.elapsed() < Duration::from_secs(secs), "{o:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn served_size(c: &reqwest::Client, base: &str) -> u64 {
    let note = c
        .get(format!("{base}/log/checkpoint"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    note.lines().nth(1).unwrap().parse().unwrap()
}

#[test]
fn a_full_disk_refuses_writes_and_the_node_recovers_when_space_is_freed() {
    if !common::database_args().is_empty() {
        eprintln!("skipped: this test fills the disk of a node's own SQLite database");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let Some(disk) = Tmpfs::mount(&t.path().join("disk"), 24) else {
        eprintln!("skipped: cannot mount a size-limited tmpfs here (needs root)");
        return;
    };
    let (da, key_a) = node(&disk.0, "a", "cert-a.example", "DE", &[]);
    let (db, key_b) = node(t.path(), "b", "cert-b.example", "FR", &[]);
    let (mut a, base_a) = serve_http(&da, "127.0.0.1:0");
    let (_b, base_b) = serve_http(&db, "127.0.0.1:0");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let c = reqwest::Client::new();
    let mut acked = Vec::new();
    let mut served = 0;
    rt.block_on(async {
        add_peer(&c, &base_a, "cert-b.example", &base_b, &key_b, "FR").await;
        add_peer(&c, &base_b, "cert-a.example", &base_a, &key_a, "DE").await;
        for n in 0..10 {
            let (status, v) = submit(&c, &base_a, n).await;
            assert_eq!(status, 201, "{v}");
            acked.push(v["id"].as_str().unwrap().to_string());
        }

        // Four officers submit throughout; the disk fills, then is freed.
        let log: Arc<Mutex<Outcomes>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let mut users = tokio::task::JoinSet::new();
        for u in 0..4 {
            let (c, base, log, stop) = (c.clone(), base_a.clone(), log.clone(), stop.clone());
            users.spawn(async move {
                for n in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let (status, v) = submit(&c, &base, 100_000 * (u + 1) + n).await;
                    log.lock().unwrap().record(status, v);
                }
            });
        }
        wait_for(&log, |o| o.acked.len() >= 40, 60).await;
        let filler = disk.0.join("filler");
        let before = log.lock().unwrap().refused.len();
        assert_eq!(before, 0, "refused before the disk filled");
        fill(&filler);
        wait_for(&log, |o| o.refused.len() >= 20, 60).await;
        served = served_size(&c, &base_a).await;
        std::fs::remove_file(&filler).unwrap();
        // Recovers by itself: 40 more acknowledged within 30 s.
        let freed = log.lock().unwrap().acked.len();
        wait_for(&log, move |o| o.acked.len() >= freed + 40, 30).await;
        stop.store(true, Ordering::Relaxed);
        while users.join_next().await.is_some() {}
        let o = std::mem::take(&mut *log.lock().unwrap());
        assert!(o.other.is_empty(), "only 201 or 507: {:?}", o.other);
        let detail = o.refused[0]["detail"].as_str().unwrap();
        assert!(detail.contains("storage is full"), "{}", o.refused[0]);
        acked.extend(o.acked);

        for id in &acked {
            let mut v = Value::Null;
            for _ in 0..1500 {
                v = get(&c, &base_a, id)
                    .await
                    .expect("an acknowledged request survives");
                if v["status"] == "delivered" {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            assert_eq!(v["status"], "delivered", "{v}");
            let at_b = get(&c, &base_b, id).await.expect("B has it");
            assert_eq!(
                at_b["timeline"].as_array().unwrap().len(),
                2,
                "once: {at_b}"
            );
        }
    });
    a.0.kill().unwrap();
    a.0.wait().unwrap();
    for dir in [&da, &db] {
        let out = common::detente()
            .args(["log", "verify", "--dir", dir])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        if dir == &da {
            let entries: u64 = text.split_whitespace().nth(1).unwrap().parse().unwrap();
            assert!(
                entries >= served,
                "served a checkpoint of {served}, committed {entries}"
            );
        }
    }
}
