//! Notifications: a new inbound request, a deadline within 24 hours, a held
//! transfer, a delivery refused by a peer. Each is listed in the interface
//! for the users who receive its kind, and e-mailed or posted to a webhook
//! where they gave an address (see [`deliver`] for the webhook's signature).
//!
//! The exchange only hands a [`Notice`] to a bounded queue ([`Node::notify`]):
//! it never waits for a notification, and a failing one never fails it. A
//! background task records each notice in the node's database with its
//! deliveries, which another task makes with retries and backoff; what is
//! recorded survives a restart (in the node's store, [`NotificationStore`]).
//! Who receives what: [`Settings`] saved on the settings screen, else the
//! user's `[[notify]]` entry, else the role's defaults
//! ([`settings::defaults_for`]).

pub mod deliver;
pub mod settings;

pub use detente_storage::notify::{Attempted, Channel, Item, Job};
pub use settings::{Kind, Rule, Settings, SmtpConfig, SmtpTls};

use crate::exchange::Clock;
use crate::{Node, NodeError};
use detente_domain::time;
use detente_storage::notify::{New, Which};
use detente_storage::{wake, HoldRow, NotificationStore, OutboxRow, StorageError, Store, Topic};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch, Notify};

/// Notices waiting to be recorded; beyond, new ones are dropped with a warning
/// rather than slow the exchange down.
const QUEUE: usize = 1024;
/// Attempts at one e-mail or webhook call before it is given up.
pub const MAX_ATTEMPTS: u32 = 8;
/// Deliveries claimed at once; they are attempted one after the other.
const CLAIM: u32 = 16;
/// How long claimed deliveries are this replica's before another may make
/// them (see `NotificationStore::notify_claim`): longer than [`CLAIM`]
/// attempts take even when every one runs into its timeout (webhooks 10 s,
/// SMTP commands `smtp.timeout_secs` each), and how long a replica that dies
/// mid-pass delays the rest of its claim.
const DELIVERY_LEASE: chrono::TimeDelta = chrono::TimeDelta::minutes(10);
/// How often deadlines are looked at.
const SCAN_EVERY: Duration = Duration::from_secs(60);
/// A deadline this close is notified.
const SOON: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// Something that happened, as the exchange reports it; the recorder adds the
/// title from the database.
#[derive(Clone, Debug)]
pub struct Notice {
    pub kind: Kind,
    /// What it is about, unique per kind: request, hold, envelope, deadline.
    pub key: String,
    pub request_id: Option<String>,
    pub detail: String,
    /// The local user whose action it is (a held transfer's officer).
    pub by: Option<String>,
}

impl Notice {
    pub fn inbound(request_id: &str) -> Notice {
        Notice {
            kind: Kind::RequestInbound,
            key: request_id.to_string(),
            request_id: Some(request_id.to_string()),
            detail: String::new(),
            by: None,
        }
    }

    pub fn held(h: &HoldRow) -> Notice {
        Notice {
            kind: Kind::TransferHeld,
            key: h.id.clone(),
            request_id: None,
            detail: format!("to {}: {}", h.recipient, h.subject),
            by: h.requested_by.clone(),
        }
    }

    pub fn refused(row: &OutboxRow, why: &str) -> Notice {
        Notice {
            kind: Kind::DeliveryRefused,
            key: hex::encode(row.digest),
            request_id: Some(row.request_id.clone()),
            detail: why.chars().take(300).collect(),
            by: None,
        }
    }
}

/// The node's users and their roles (`name`, `role`), read when a notice comes.
pub type Directory = Arc<dyn Fn() -> Vec<(String, String)> + Send + Sync>;

pub struct Notifier {
    store: Arc<dyn Store>,
    queue: mpsc::Sender<Notice>,
    rules: Vec<Rule>,
    directory: Directory,
    senders: deliver::Senders,
    clock: Clock,
    wake: Notify,
}

/// Holds are shown to reviewers and admins, and to the officer whose action
/// was held (as the review queue shows them); a setting cannot widen that.
fn may_see(n: &Notice, user: &str, role: &str) -> bool {
    n.kind != Kind::TransferHeld
        || matches!(role, "reviewer" | "admin")
        || n.by.as_deref() == Some(user)
}

impl Node {
    /// Hands a notice to the notifier, if the node runs one; never waits.
    pub fn notify(&self, n: Notice) {
        if let Some(x) = self.notifier.get() {
            if let Err(e) = x.queue.try_send(n) {
                tracing::warn!(error = %e, "notification dropped: the queue is full");
            }
        }
    }

    pub fn notifier(&self) -> Option<&Arc<Notifier>> {
        self.notifier.get()
    }
}

impl Notifier {
    /// Starts notifying for `node` until `stop` turns true: the recorder, the
    /// delivery worker and the deadline scan. Must run inside tokio.
    pub fn start(
        node: &Arc<Node>,
        directory: Directory,
        clock: Clock,
        stop: watch::Receiver<bool>,
    ) -> Result<Arc<Notifier>, NodeError> {
        let (n, rx) = Notifier::open(node, directory, clock)?;
        tokio::spawn(n.clone().record_loop(rx, stop.clone()));
        tokio::spawn(n.clone().deliver_loop(stop.clone()));
        tokio::spawn(n.clone().scan_loop(stop));
        Ok(n)
    }

    /// The notifier of `node`, without its tasks.
    fn open(
        node: &Arc<Node>,
        directory: Directory,
        clock: Clock,
    ) -> Result<(Arc<Notifier>, mpsc::Receiver<Notice>), NodeError> {
        let config = node.config();
        let senders = deliver::Senders::new(
            config.smtp.as_ref(),
            config.origin.clone(),
            config.public_urls.first().cloned(),
        )
        .map_err(|e| NodeError::Config(format!("smtp: {e}")))?;
        let (tx, rx) = mpsc::channel(QUEUE);
        let n = Arc::new(Notifier {
            store: node.store().clone(),
            queue: tx,
            rules: config.notify.clone(),
            directory,
            senders,
            clock,
            wake: Notify::new(),
        });
        if node.notifier.set(n.clone()).is_err() {
            return Err(NodeError::Config("the node already has a notifier".into()));
        }
        Ok((n, rx))
    }

    /// Where notifications are kept: the node's store.
    pub fn db(&self) -> &dyn NotificationStore {
        self.store.as_ref()
    }

    pub fn has_smtp(&self) -> bool {
        self.senders.has_smtp()
    }

    /// What `user` receives: saved settings, else config, else role defaults.
    pub fn settings(&self, user: &str, role: &str) -> Result<Settings, StorageError> {
        Ok(match self.store.notify_settings(user)? {
            Some(s) => s,
            None => settings::from_config(&self.rules, user, role),
        })
    }

    fn now(&self) -> String {
        time::format(&(self.clock)())
    }

    async fn record_loop(
        self: Arc<Self>,
        mut rx: mpsc::Receiver<Notice>,
        mut stop: watch::Receiver<bool>,
    ) {
        loop {
            let n = tokio::select! {
                n = rx.recv() => n,
                _ = stop.changed() => return,
            };
            let Some(n) = n else { return };
            let me = self.clone();
            let done = tokio::task::spawn_blocking(move || me.record(&n)).await;
            match done {
                Ok(Ok(0)) => {}
                Ok(Ok(_)) => self.wake.notify_one(),
                Ok(Err(e)) => tracing::error!(error = %e, "could not record a notification"),
                Err(e) => tracing::error!(error = %e, "notification recorder failed"),
            }
        }
    }

    /// Title and link of a notice.
    fn describe(&self, n: &Notice) -> Result<(String, String), StorageError> {
        let req = match &n.request_id {
            Some(id) => self.store.request(id)?.map(|r| (r.reference, r.peer)),
            None => None,
        };
        let (reference, peer) = req.unwrap_or_default();
        let link = match &n.request_id {
            Some(id) => format!("/ui/requests/{id}"),
            None => "/ui/holds".to_string(),
        };
        let title = match n.kind {
            Kind::RequestInbound => format!("New request {reference} from {peer}"),
            Kind::DeadlineSoon => format!("Request {reference} from {peer}: {}", n.detail),
            Kind::TransferHeld => format!("Transfer held for review {}", n.detail),
            Kind::DeliveryRefused => {
                format!(
                    "{peer} refused an envelope of request {reference}: {}",
                    n.detail
                )
            }
        };
        Ok((title, link))
    }

    /// Records `n` for every user who receives its kind; how many got it new.
    pub fn record(&self, n: &Notice) -> Result<usize, StorageError> {
        let (title, link) = self.describe(n)?;
        let key = format!("{}:{}", n.kind.as_str(), n.key);
        let now = self.now();
        let mut count = 0;
        for (user, role) in (self.directory)() {
            let s = self.settings(&user, &role)?;
            if !s.wants(n.kind) || !may_see(n, &user, &role) {
                continue;
            }
            let mut channels = Vec::new();
            if let Some(e) = s.email.as_deref().filter(|_| self.has_smtp()) {
                channels.push((Channel::Email, e));
            }
            if let Some(w) = s.webhook.as_deref().filter(|_| s.webhook_secret.is_some()) {
                channels.push((Channel::Webhook, w));
            }
            let new = New {
                user: &user,
                kind: n.kind,
                key: &key,
                title: &title,
                link: &link,
                now: &now,
            };
            let new = self.store.record_notification(&new, &channels)?;
            count += usize::from(new.is_some());
        }
        Ok(count)
    }

    async fn deliver_loop(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        // Other replicas' new deliveries, where they share the store.
        let mut recorded = self.store.subscribe(Topic::Notify).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "no wakeups for other replicas' notifications; polling");
            None
        });
        loop {
            let now = (self.clock)();
            let lease = time::format(&(now + DELIVERY_LEASE));
            let jobs = self
                .store
                .notify_claim(&time::format(&now), &lease, CLAIM)
                .unwrap_or_else(|e| {
                    tracing::error!(error = %e, "notification deliveries");
                    Vec::new()
                });
            let mut all_saved = true;
            for job in &jobs {
                all_saved &= self.attempt(job).await;
            }
            // Nothing saved means the same jobs come back at once: wait instead.
            if !jobs.is_empty() && all_saved {
                continue;
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = wake::rung(&mut recorded) => {}
                _ = tokio::time::sleep(self.until_next()) => {}
                _ = stop.changed() => return,
            }
        }
    }

    /// Time until the next retry is due, at most a few seconds.
    fn until_next(&self) -> Duration {
        let cap = Duration::from_secs(5);
        let Ok(Some(next)) = self.store.notify_next_due() else {
            return cap;
        };
        let Some(at) = time::parse(&next) else {
            return cap;
        };
        (at - (self.clock)()).to_std().unwrap_or_default().min(cap)
    }

    /// One attempt at `job`; false when its outcome could not be saved.
    async fn attempt(&self, job: &Job) -> bool {
        let secret = match job.channel {
            Channel::Webhook => self.secret_of(&job.user),
            Channel::Email => None,
        };
        let result = self.senders.send(job, secret.as_deref()).await;
        let now = self.now();
        let saved = match result {
            Ok(()) => self.store.notify_sent(job.id, &now),
            Err(why) => {
                let tries = job.attempts + 1;
                let next = (tries < MAX_ATTEMPTS).then(|| {
                    let wait = 5i64 << tries.min(10);
                    time::format(&((self.clock)() + chrono::TimeDelta::seconds(wait.min(3600))))
                });
                tracing::warn!(channel = job.channel.as_str(), user = %job.user, attempts = tries,
                    error = %why, "notification not delivered");
                self.store
                    .notify_failed(job.id, &why, next.as_deref(), &now)
            }
        };
        if let Err(e) = &saved {
            tracing::error!(error = %e, "could not record a notification attempt");
        }
        saved.is_ok()
    }

    /// The webhook secret as the user's settings have it now.
    fn secret_of(&self, user: &str) -> Option<String> {
        let role = (self.directory)()
            .into_iter()
            .find(|(u, _)| u == user)
            .map(|(_, r)| r)?;
        self.settings(user, &role).ok()?.webhook_secret
    }

    async fn scan_loop(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        loop {
            let me = self.clone();
            match tokio::task::spawn_blocking(move || me.scan_deadlines()).await {
                Ok(Ok(n)) if n > 0 => self.wake.notify_one(),
                Ok(Err(e)) => tracing::error!(error = %e, "deadline scan"),
                _ => {}
            }
            tokio::select! {
                _ = tokio::time::sleep(SCAN_EVERY) => {}
                _ = stop.changed() => return,
            }
        }
    }

    /// Notifies each deadline of an open inbound request that falls within
    /// the next 24 hours, once (the key names the deadline).
    pub fn scan_deadlines(&self) -> Result<usize, StorageError> {
        let now = (self.clock)();
        let due = self
            .store
            .deadlines(&time::format(&now), &time::format(&(now + SOON)))?;
        let mut count = 0;
        for d in due {
            let what = match d.which {
                Which::AcknowledgeBy => "acknowledgement due",
                Which::AnswerBy => "answer due",
            };
            let at = time::parse(&d.at)
                .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                .unwrap_or(d.at.clone());
            count += self.record(&Notice {
                kind: Kind::DeadlineSoon,
                key: format!("{}:{}:{}", d.request_id, d.which.as_str(), d.at),
                request_id: Some(d.request_id.clone()),
                detail: format!("{what} {at}"),
                by: None,
            })?;
        }
        Ok(count)
    }
}

#[cfg(test)]
mod tests;
