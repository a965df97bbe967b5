//! Wakeups from other processes sharing the store: a replica that committed
//! outbox rows, a checkpoint or a notification rings the other replicas'
//! workers, so they act at once rather than at their next poll. A wakeup is
//! only a hint: it may be lost (workers keep polling as the fallback) and may
//! come for work another replica has already done.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// What was committed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Topic {
    /// Outbox rows to deliver.
    Outbox,
    /// A new checkpoint.
    Log,
    /// A notification with e-mail or webhook deliveries.
    Notify,
}

impl Topic {
    pub const ALL: [Topic; 3] = [Topic::Outbox, Topic::Log, Topic::Notify];

    /// The channel name a database may use for it (PostgreSQL's `NOTIFY`).
    pub fn channel(self) -> &'static str {
        match self {
            Topic::Outbox => "detente_outbox",
            Topic::Log => "detente_log",
            Topic::Notify => "detente_notify",
        }
    }

    pub fn from_channel(name: &str) -> Option<Topic> {
        Topic::ALL.into_iter().find(|t| t.channel() == name)
    }
}

/// The ringing side, held by the backend; every ring reaches every
/// [`Wakeups`] subscribed to this bell.
#[derive(Clone)]
pub struct Bell(Arc<Signal>);

struct Signal {
    /// Rings so far: a subscriber compares it with what it last saw, so a
    /// ring between two waits is not missed.
    rings: Mutex<u64>,
    rung: Condvar,
    /// The same count for async subscribers.
    watch: watch::Sender<u64>,
}

impl Default for Bell {
    fn default() -> Bell {
        Bell(Arc::new(Signal {
            rings: Mutex::new(0),
            rung: Condvar::new(),
            watch: watch::channel(0).0,
        }))
    }
}

impl Bell {
    pub fn ring(&self) {
        let mut rings = self.0.rings.lock().unwrap_or_else(|p| p.into_inner());
        *rings += 1;
        self.0.watch.send_replace(*rings);
        self.0.rung.notify_all();
    }

    /// A subscriber woken by rings from now on.
    pub fn subscribe(&self) -> Wakeups {
        let seen = *self.0.rings.lock().unwrap_or_else(|p| p.into_inner());
        let mut watch = self.0.watch.subscribe();
        watch.borrow_and_update();
        Wakeups {
            signal: self.0.clone(),
            seen,
            watch,
        }
    }
}

/// One subscriber's handle: wait on it blocking ([`Wakeups::wait_timeout`])
/// or await it ([`Wakeups::rung`]), not both.
pub struct Wakeups {
    signal: Arc<Signal>,
    seen: u64,
    watch: watch::Receiver<u64>,
}

impl Wakeups {
    /// Blocks until a ring since the last wait, or for `timeout`; whether it
    /// was rung.
    pub fn wait_timeout(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut rings = self.signal.rings.lock().unwrap_or_else(|p| p.into_inner());
        while *rings == self.seen {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            rings = match self.signal.rung.wait_timeout(rings, left) {
                Ok((r, _)) => r,
                Err(p) => p.into_inner().0,
            };
        }
        self.seen = *rings;
        true
    }

    /// Resolves at the next ring since the last one awaited.
    pub async fn rung(&mut self) {
        // The sender lives in `signal`, which this handle keeps alive, so
        // `changed` only fails if the bell is gone, which it cannot be.
        if self.watch.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Awaits `w` when there is one; never resolves otherwise (a store without
/// wakeups, whose workers rely on polling alone).
pub async fn rung(w: &mut Option<Wakeups>) {
    match w {
        Some(w) => w.rung().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ring_between_waits_is_not_missed() {
        let bell = Bell::default();
        let mut w = bell.subscribe();
        assert!(!w.wait_timeout(Duration::from_millis(10)));
        bell.ring();
        assert!(w.wait_timeout(Duration::from_secs(5)));
        assert!(!w.wait_timeout(Duration::from_millis(10)), "seen once");
    }

    #[test]
    fn a_ring_wakes_a_blocked_waiter_and_an_async_one() {
        let bell = Bell::default();
        let mut blocking = bell.subscribe();
        let mut awaiting = bell.subscribe();
        let ringer = bell.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            ringer.ring();
        });
        assert!(blocking.wait_timeout(Duration::from_secs(10)));
        t.join().unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(10), awaiting.rung())
                .await
                .expect("rung before");
        });
    }

    #[test]
    fn rings_before_subscribing_do_not_wake() {
        let bell = Bell::default();
        bell.ring();
        let mut w = bell.subscribe();
        assert!(!w.wait_timeout(Duration::from_millis(10)));
    }
}
