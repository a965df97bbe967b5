//! Wakeups between replicas: one dedicated connection per store runs
//! `LISTEN` on every [`Topic`]'s channel, and the store's writers `NOTIFY` in
//! the transaction that adds the work, so PostgreSQL sends the wakeup only
//! once that work is committed. The connection is started at the first
//! subscription (tools that never subscribe open none) and driven on the
//! pool's I/O runtime, where `poll_message` hands over the notifications.
//!
//! Wakeups are a hint: workers keep polling. While the connection is down
//! (reconnected with backoff) they rely on polling alone; once it is back
//! every subscriber is woken, for what it may have missed meanwhile.

use crate::pool::Pool;
use crate::PgStore;
use detente_storage::wake::{Bell, Topic, Wakeups};
use detente_storage::StorageError;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_postgres::{AsyncMessage, Client, Config, NoTls};

/// How long the first subscription waits for `LISTEN` to be in place, so the
/// commits that follow it wake it; past that, it relies on polling.
const READY: Duration = Duration::from_secs(5);
const MIN_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A listening connection is idle for long stretches: probe it, so a peer
/// that vanished (no FIN) is noticed in about a minute, not two hours.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(30);

/// One bell per topic, indexed by the topic's position in [`Topic::ALL`].
#[derive(Default)]
struct Bells([Bell; 3]);

impl Bells {
    fn bell(&self, topic: Topic) -> &Bell {
        &self.0[Topic::ALL.iter().position(|t| *t == topic).unwrap_or(0)]
    }

    fn ring_all(&self) {
        self.0.iter().for_each(Bell::ring);
    }
}

pub(crate) struct Listener {
    bells: Arc<Bells>,
    /// Dropped with the store, which ends the listening task.
    _stop: oneshot::Sender<()>,
}

impl Listener {
    fn start(pool: &Pool) -> Listener {
        let bells = Arc::new(Bells::default());
        let (stop, stopped) = oneshot::channel();
        let (ready, is_ready) = std::sync::mpsc::channel();
        let mut config = pool.config().clone();
        config.keepalives(true).keepalives_idle(KEEPALIVE_IDLE);
        pool.io().spawn(run(config, bells.clone(), stopped, ready));
        if is_ready.recv_timeout(READY).is_err() {
            tracing::warn!("could not LISTEN on PostgreSQL yet; replicas poll until it can");
        }
        Listener { bells, _stop: stop }
    }
}

impl PgStore {
    /// See `LogStore::subscribe`.
    pub(crate) fn wakeups(&self, topic: Topic) -> Result<Option<Wakeups>, StorageError> {
        let listener = self.listener.get_or_init(|| Listener::start(&self.pool));
        Ok(Some(listener.bells.bell(topic).subscribe()))
    }
}

/// Listens until `stop`, reconnecting with backoff.
async fn run(
    config: Config,
    bells: Arc<Bells>,
    mut stop: oneshot::Receiver<()>,
    ready: std::sync::mpsc::Sender<()>,
) {
    let mut backoff = MIN_BACKOFF;
    loop {
        let session = tokio::select! {
            s = listen(&config, &bells) => s,
            _ = &mut stop => return,
        };
        match session {
            Ok((client, driver)) => {
                backoff = MIN_BACKOFF;
                bells.ring_all();
                let _ = ready.send(());
                tokio::select! {
                    _ = driver => {}
                    _ = &mut stop => return,
                }
                drop(client);
                tracing::warn!("lost the PostgreSQL LISTEN connection; polling until it is back");
            }
            Err(e) => tracing::debug!(error = %crate::describe(&e), "LISTEN on PostgreSQL"),
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = &mut stop => return,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Connects and listens on every topic; the client (which keeps the session
/// open) and the task driving the connection, which ends when it is lost.
async fn listen(
    config: &Config,
    bells: &Arc<Bells>,
) -> Result<(Client, JoinHandle<()>), tokio_postgres::Error> {
    let (client, mut connection) = config.connect(NoTls).await?;
    let bells = bells.clone();
    let driver = tokio::spawn(async move {
        loop {
            match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                Some(Ok(AsyncMessage::Notification(n))) => {
                    if let Some(topic) = Topic::from_channel(n.channel()) {
                        bells.bell(topic).ring();
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    tracing::debug!(error = %crate::describe(&e), "PostgreSQL LISTEN connection");
                    return;
                }
                None => return,
            }
        }
    });
    let sql: String = Topic::ALL
        .iter()
        .map(|t| format!("LISTEN {};", t.channel()))
        .collect();
    client.batch_execute(&sql).await?;
    Ok((client, driver))
}
