//! Sending one notification by e-mail or webhook.
//!
//! ## Webhook calls
//! `POST <webhook>` with `Content-Type: application/json` and the body
//! `{"id", "kind", "user", "title", "link", "created", "node"}` (`link` is
//! absolute when the node has `public_urls`). Two headers authenticate it:
//!
//! - `X-Detente-Timestamp`: Unix seconds when the call was signed;
//! - `X-Detente-Signature`: `sha256=` and the lower-case hex HMAC-SHA256,
//!   keyed with the user's `webhook_secret`, of `<timestamp>.<body>`.
//!
//! A receiver recomputes the MAC over the timestamp header, a dot and the raw
//! body, compares in constant time, and refuses timestamps more than a few
//! minutes old, so a captured call cannot be replayed later. `X-Detente-Delivery`
//! is the same across retries of one call, to drop duplicates. Redirects are
//! not followed; any answer but 2xx is a failure, retried with backoff.

use super::settings::{SmtpConfig, SmtpTls};
use super::{Channel, Job};
use hmac::{Hmac, Mac};
use lettre::message::{header::ContentType, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde_json::json;
use sha2::Sha256;
use std::time::Duration;

/// Time a webhook receiver has to answer.
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Senders {
    smtp: Option<(AsyncSmtpTransport<Tokio1Executor>, Mailbox)>,
    http: reqwest::Client,
    /// Origin of the node, and the base URL links are made absolute with.
    origin: String,
    base: Option<String>,
}

/// The MAC a webhook call carries, as `X-Detente-Signature` writes it.
pub fn signature(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn transport(s: &SmtpConfig) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    let b = match s.tls {
        SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&s.host),
        SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&s.host)
            .map_err(|e| e.to_string())?,
        SmtpTls::Tls => {
            AsyncSmtpTransport::<Tokio1Executor>::relay(&s.host).map_err(|e| e.to_string())?
        }
    };
    let mut b = b
        .port(s.port())
        .timeout(Some(Duration::from_secs(s.timeout_secs)));
    if let (Some(u), Some(p)) = (&s.username, &s.password) {
        b = b.credentials(Credentials::new(u.clone(), p.clone()));
    }
    Ok(b.build())
}

impl Senders {
    pub fn new(
        smtp: Option<&SmtpConfig>,
        origin: String,
        base: Option<String>,
    ) -> Result<Senders, String> {
        let smtp = match smtp {
            Some(s) => {
                let from: Mailbox = s.from.parse().map_err(|e| format!("smtp.from: {e}"))?;
                Some((transport(s)?, from))
            }
            None => None,
        };
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(WEBHOOK_TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("detente/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Senders {
            smtp,
            http,
            origin,
            base: base.map(|b| b.trim_end_matches('/').to_string()),
        })
    }

    pub fn has_smtp(&self) -> bool {
        self.smtp.is_some()
    }

    fn link(&self, path: &str) -> String {
        match &self.base {
            Some(b) => format!("{b}{path}"),
            None => path.to_string(),
        }
    }

    /// Makes one attempt; the error says why it failed (no secrets in it).
    pub async fn send(&self, job: &Job, secret: Option<&str>) -> Result<(), String> {
        match job.channel {
            Channel::Email => self.email(job).await,
            Channel::Webhook => {
                let secret = secret.ok_or("the user has no webhook secret any more")?;
                self.webhook(job, secret).await
            }
        }
    }

    async fn email(&self, job: &Job) -> Result<(), String> {
        let (smtp, from) = self.smtp.as_ref().ok_or("config.toml has no [smtp]")?;
        let to: Mailbox = job
            .target
            .parse()
            .map_err(|e| format!("{}: {e}", job.target))?;
        let body = format!(
            "{}\n\n{}\n\n{} · {}\nSent by the detente node {} to {}; change what you receive under Notifications → Settings.\n",
            job.item.title,
            self.link(&job.item.link),
            job.item.kind.label(),
            job.item.created,
            self.origin,
            job.user,
        );
        let msg = Message::builder()
            .from(from.clone())
            .to(to)
            .subject(one_line(&format!("[detente] {}", job.item.title)))
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| e.to_string())?;
        smtp.send(msg).await.map(|_| ()).map_err(|e| e.to_string())
    }

    async fn webhook(&self, job: &Job, secret: &str) -> Result<(), String> {
        let body = json!({
            "id": job.item.id,
            "kind": job.item.kind.as_str(),
            "user": job.user,
            "title": job.item.title,
            "link": self.link(&job.item.link),
            "created": job.item.created,
            "node": self.origin,
        })
        .to_string();
        let ts = chrono::Utc::now().timestamp().to_string();
        let sig = signature(secret, &ts, body.as_bytes());
        let res = self
            .http
            .post(&job.target)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("X-Detente-Timestamp", &ts)
            .header("X-Detente-Signature", sig)
            .header("X-Detente-Delivery", job.id.to_string())
            .body(body)
            .send()
            .await
            .map_err(|e| without_url(&e))?;
        match res.status() {
            s if s.is_success() => Ok(()),
            s => Err(format!("the webhook answered {s}")),
        }
    }
}

/// A title carries a peer's reference: no control character reaches a header.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// reqwest's errors name the URL, whose query may carry a token.
fn without_url(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "failed"
    };
    let mut why = e.to_string();
    if let Some(u) = e.url() {
        why = why.replace(u.as_str(), "<webhook>");
    }
    format!("webhook call {kind}: {why}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn signature_is_hmac_sha256_of_timestamp_dot_body() {
        // RFC 4231-style check against an independently computed value:
        // HMAC-SHA256(key="key", "The quick brown fox jumps over the lazy dog").
        let s = super::signature("key", "The quick brown fox", b"jumps over the lazy dog");
        assert_ne!(
            s,
            super::signature("key", "The quick brown fox", b"jumps over the lazy cat")
        );
        let whole = {
            use hmac::Mac;
            let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"key").unwrap();
            m.update(b"The quick brown fox.jumps over the lazy dog");
            hex::encode(m.finalize().into_bytes())
        };
        assert_eq!(s, format!("sha256={whole}"));
    }
}
