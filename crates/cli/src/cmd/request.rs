//! `detente request ...`: cooperation requests against a running node, through
//! its `/api/v1/requests` API. Errors are the server's problem+json `detail`
//! with the HTTP status, on one line.

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use detente_requests::{DeclineGround, Tlp};
use serde_json::{json, Map, Value};
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

/// Where the node is and who is asking.
#[derive(Args, Clone)]
pub struct Conn {
    /// Base URL of the node, e.g. http://127.0.0.1:8080.
    #[arg(long, env = "DETENTE_NODE")]
    pub node: String,
    /// A bearer token (`detente user token`).
    #[arg(long, env = "DETENTE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// A user name, authenticating with HTTP Basic instead of a token; the
    /// password is read from standard input (--password-stdin).
    #[arg(long, requires = "password_stdin")]
    pub user: Option<String>,
    /// Read the user's password from standard input.
    #[arg(long, requires = "user")]
    pub password_stdin: bool,
}

/// Output options shared by every command.
#[derive(Args, Clone, Copy)]
pub struct Out {
    /// Print the server's JSON answer instead of a summary.
    #[arg(long)]
    pub json: bool,
}

/// The fields of a new request, as flags.
#[derive(Args)]
pub struct CreateFields {
    /// The recipient: a peer's origin.
    #[arg(long, required_unless_present = "file")]
    pub to: Option<String>,
    /// preservation, subscriber_information, traffic_data, content_data,
    /// emergency_disclosure, incident_notification or consultation.
    #[arg(long = "type", required_unless_present = "file")]
    pub request_type: Option<String>,
    /// ENISA taxonomy class (incident_notification only).
    #[arg(long)]
    pub incident_class: Option<String>,
    /// Your own file or case number.
    #[arg(long, required_unless_present = "file")]
    pub reference: Option<String>,
    /// The issuing authority.
    #[arg(long, required_unless_present = "file")]
    pub authority: Option<String>,
    /// A summary of the facts (for a consultation: the question).
    #[arg(long, required_unless_present = "file")]
    pub facts: Option<String>,
    /// The provision(s) the request rests on.
    #[arg(long)]
    pub legal_basis: Option<String>,
    /// The offence under investigation.
    #[arg(long)]
    pub offence: Option<String>,
    /// The data asked for (for preservation: the data to preserve).
    #[arg(long)]
    pub data: Option<String>,
    /// Why that data bears on the offence.
    #[arg(long)]
    pub link: Option<String>,
    /// normal or emergency.
    #[arg(long, default_value = "normal")]
    pub urgency: String,
    /// Why it is an emergency (required with --urgency emergency).
    #[arg(long)]
    pub justification: Option<String>,
    /// TLP 2.0 label: TLP:CLEAR, TLP:GREEN, TLP:AMBER, TLP:AMBER+STRICT, TLP:RED.
    #[arg(long, default_value = "TLP:AMBER")]
    pub tlp: String,
    /// Preservation: the custodian of the data or the location of the system.
    #[arg(long)]
    pub custodian: Option<String>,
    /// Preservation: why the data must be preserved now.
    #[arg(long)]
    pub necessity: Option<String>,
    /// Preservation: a mutual assistance request will follow.
    #[arg(long)]
    pub follow_up_mla: bool,
    /// A related request id (repeatable).
    #[arg(long = "related")]
    pub related: Vec<String>,
}

#[derive(Subcommand)]
pub enum RequestCommand {
    /// Submit a new request to a peer, from flags or a NewRequest JSON file.
    Create(Box<CreateArgs>),
    /// List requests, oldest first.
    List {
        #[command(flatten)]
        conn: Conn,
        #[command(flatten)]
        out: Out,
        /// Only requests with this peer.
        #[arg(long)]
        peer: Option<String>,
        /// outbound or inbound.
        #[arg(long, value_parser = ["outbound", "inbound"])]
        direction: Option<String>,
        /// Only requests in this state (submitted, delivered, acknowledged,
        /// partially_answered, answered, declined, withdrawn).
        #[arg(long)]
        status: Option<String>,
        /// Only requests submitted on or after this date (YYYY-MM-DD or RFC 3339).
        #[arg(long)]
        since: Option<String>,
        /// At most this many.
        #[arg(long)]
        limit: Option<u64>,
    },
    /// Show a request with its timeline.
    Show {
        #[command(flatten)]
        conn: Conn,
        #[command(flatten)]
        out: Out,
        id: String,
    },
    /// Acknowledge a request you received.
    Acknowledge {
        #[command(flatten)]
        conn: Conn,
        #[command(flatten)]
        out: Out,
        id: String,
    },
    /// Answer a request in full (final).
    Answer(AnswerArgs),
    /// Send part of the answer.
    PartialAnswer(AnswerArgs),
    /// Decline a request (final).
    Decline {
        #[command(flatten)]
        conn: Conn,
        #[command(flatten)]
        out: Out,
        id: String,
        /// immunity_or_privilege, fundamental_rights, ne_bis_in_idem,
        /// no_dual_criminality, insufficient_information, not_within_competence,
        /// data_not_available, disproportionate or other.
        #[arg(long)]
        ground: String,
        /// Why (required with --ground other).
        #[arg(long)]
        text: Option<String>,
    },
    /// Withdraw a request you sent (final).
    Withdraw {
        #[command(flatten)]
        conn: Conn,
        #[command(flatten)]
        out: Out,
        id: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Send a message on a request, optionally proposing a new answer deadline.
    Message {
        #[command(flatten)]
        conn: Conn,
        #[command(flatten)]
        out: Out,
        id: String,
        #[arg(long)]
        text: String,
        /// Propose this answer deadline (RFC 3339); cite the message's event id
        /// as consent in `extend`.
        #[arg(long)]
        propose_answer_by: Option<String>,
        /// Attach a file by reference: FILE or FILE=MEDIA/TYPE (repeatable).
        #[arg(long = "attach")]
        attach: Vec<String>,
    },
    /// Save an attachment a request, answer or message cites (fetched from
    /// the peer that cited it on first use).
    Attachment {
        #[command(flatten)]
        conn: Conn,
        /// Its SHA-256, as the timeline shows it.
        sha256: String,
        /// Where to write it.
        #[arg(long)]
        out: PathBuf,
    },
    /// Extend the answer deadline, citing both sides' messages proposing it.
    Extend {
        #[command(flatten)]
        conn: Conn,
        #[command(flatten)]
        out: Out,
        id: String,
        /// The new answer deadline (RFC 3339).
        #[arg(long)]
        answer_by: String,
        /// Event id of the sender's message proposing --answer-by.
        #[arg(long)]
        sender_consent: String,
        /// Event id of the recipient's message proposing --answer-by.
        #[arg(long)]
        recipient_consent: String,
    },
}

#[derive(Args)]
pub struct CreateArgs {
    #[command(flatten)]
    pub conn: Conn,
    #[command(flatten)]
    pub out: Out,
    /// The request as JSON (the API's NewRequest; `-` for standard input).
    #[arg(long, conflicts_with_all = ["to", "request_type", "incident_class", "reference",
        "authority", "facts", "legal_basis", "offence", "data", "link", "justification",
        "custodian", "necessity", "follow_up_mla", "related", "urgency", "tlp"])]
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub fields: CreateFields,
    /// Attach a file by reference: FILE or FILE=MEDIA/TYPE (repeatable);
    /// its name, size and SHA-256 go into the request.
    #[arg(long = "attach", conflicts_with = "file")]
    pub attach: Vec<String>,
}

#[derive(Args)]
pub struct AnswerArgs {
    #[command(flatten)]
    conn: Conn,
    #[command(flatten)]
    out: Out,
    id: String,
    /// A note to the requester.
    #[arg(long)]
    note: Option<String>,
    /// Attach a file by reference: FILE or FILE=MEDIA/TYPE (repeatable).
    #[arg(long = "attach")]
    attach: Vec<String>,
}

pub fn run(c: RequestCommand) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(run_async(c))?;
    Ok(ExitCode::SUCCESS)
}

async fn run_async(c: RequestCommand) -> anyhow::Result<()> {
    match c {
        RequestCommand::Create(c) => {
            let CreateArgs {
                conn,
                out,
                file,
                fields,
                attach,
            } = *c;
            let mut body = match file {
                Some(path) => read_json(&path)?,
                None => new_request(fields)?,
            };
            let client = Client::new(&conn)?;
            if !attach.is_empty() {
                body["attachments"] = client.upload_all(&attach).await?;
            }
            let v = client
                .send("POST", "/api/v1/requests", &[], Some(body))
                .await?;
            if out.json {
                return print_json(&v);
            }
            println!(
                "request {} submitted to {}: acknowledge by {}, answer by {}",
                s(&v["id"]),
                s(&v["peer"]),
                s(&v["acknowledge_by"]),
                s(&v["answer_by"])
            );
        }
        RequestCommand::Attachment { conn, sha256, out } => {
            let content = Client::new(&conn)?
                .download(&format!("/api/v1/attachments/{sha256}"))
                .await?;
            std::fs::write(&out, &content)
                .with_context(|| format!("cannot write {}", out.display()))?;
            println!("saved {} bytes to {}", content.len(), out.display());
        }
        RequestCommand::List {
            conn,
            out,
            peer,
            direction,
            status,
            since,
            limit,
        } => {
            let mut q = Vec::new();
            for (k, v) in [
                ("peer", peer),
                ("direction", direction),
                ("status", status),
                ("since", since),
                ("limit", limit.map(|l| l.to_string())),
            ] {
                if let Some(v) = v {
                    q.push((k, v));
                }
            }
            let v = Client::new(&conn)?
                .send("GET", "/api/v1/requests", &q, None)
                .await?;
            if out.json {
                return print_json(&v);
            }
            print!("{}", table(v["requests"].as_array().map_or(&[], |a| a)));
        }
        RequestCommand::Show { conn, out, id } => {
            let v = Client::new(&conn)?
                .send("GET", &format!("/api/v1/requests/{}", seg(&id)), &[], None)
                .await?;
            if out.json {
                return print_json(&v);
            }
            print!("{}", timeline(&v));
        }
        RequestCommand::Acknowledge { conn, out, id } => {
            act(&conn, out, &id, "acknowledge", json!({}), &[]).await?
        }
        RequestCommand::Answer(a) => answer(a, "answer").await?,
        RequestCommand::PartialAnswer(a) => answer(a, "partial-answer").await?,
        RequestCommand::Decline {
            conn,
            out,
            id,
            ground,
            text,
        } => {
            let g = DeclineGround::ALL
                .into_iter()
                .find(|g| g.as_str() == ground)
                .with_context(|| {
                    let all: Vec<&str> = DeclineGround::ALL.iter().map(|g| g.as_str()).collect();
                    format!("--ground {ground:?}: use one of {}", all.join(", "))
                })?;
            let mut body = json!({ "ground": g.as_str() });
            if let Some(t) = text {
                body["text"] = json!(t);
            }
            act(&conn, out, &id, "decline", body, &[]).await?
        }
        RequestCommand::Withdraw {
            conn,
            out,
            id,
            reason,
        } => {
            let body = match reason {
                Some(r) => json!({ "reason": r }),
                None => json!({}),
            };
            act(&conn, out, &id, "withdraw", body, &[]).await?
        }
        RequestCommand::Message {
            conn,
            out,
            id,
            text,
            propose_answer_by,
            attach,
        } => {
            let mut body = json!({ "text": text });
            if let Some(t) = propose_answer_by {
                body["proposed_answer_by"] = json!(t);
            }
            act(&conn, out, &id, "messages", body, &attach).await?
        }
        RequestCommand::Extend {
            conn,
            out,
            id,
            answer_by,
            sender_consent,
            recipient_consent,
        } => {
            let body = json!({ "answer_by": answer_by, "sender_consent": sender_consent,
                               "recipient_consent": recipient_consent });
            act(&conn, out, &id, "extend", body, &[]).await?
        }
    }
    Ok(())
}

async fn answer(a: AnswerArgs, action: &str) -> anyhow::Result<()> {
    let mut body = json!({});
    if let Some(n) = a.note {
        body["note"] = json!(n);
    }
    act(&a.conn, a.out, &a.id, action, body, &a.attach).await
}

/// Posts an event; prints the request's new state and the event's id (which a
/// message's consent needs).
async fn act(
    conn: &Conn,
    out: Out,
    id: &str,
    action: &str,
    mut body: Value,
    attach: &[String],
) -> anyhow::Result<()> {
    let client = Client::new(conn)?;
    if !attach.is_empty() {
        body["attachments"] = client.upload_all(attach).await?;
    }
    let v = client
        .send(
            "POST",
            &format!("/api/v1/requests/{}/{action}", seg(id)),
            &[],
            Some(body),
        )
        .await?;
    if out.json {
        return print_json(&v);
    }
    let last = v["timeline"]
        .as_array()
        .and_then(|t| t.iter().rfind(|e| e["actor"] != v["peer"]));
    match last {
        Some(e) => println!(
            "request {}: {} (event {}), status {}",
            s(&v["id"]),
            s(&e["type"]),
            s(&e["event_id"]),
            s(&v["status"])
        ),
        None => println!("request {}: status {}", s(&v["id"]), s(&v["status"])),
    }
    Ok(())
}

fn print_json(v: &Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

/// A JSON string field as text, `-` when absent or null.
fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

/// Percent-encodes one path segment.
fn seg(v: &str) -> String {
    let mut out = String::new();
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn read_json(path: &PathBuf) -> anyhow::Result<Value> {
    let text = if path.as_os_str() == "-" {
        let mut t = String::new();
        std::io::stdin()
            .read_to_string(&mut t)
            .context("cannot read the request from standard input")?;
        t
    } else {
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?
    };
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
}

fn new_request(f: CreateFields) -> anyhow::Result<Value> {
    let tlp = Tlp::parse(&f.tlp).map_err(|e| anyhow::anyhow!("--tlp: {e}"))?;
    let mut m = Map::new();
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            m.insert(k.into(), Value::String(v));
        }
    };
    put("type", f.request_type);
    put("incident_class", f.incident_class);
    put("reference", f.reference);
    put("issuing_authority", f.authority);
    put("legal_basis", f.legal_basis);
    put("offence", f.offence);
    put("facts", f.facts);
    put("data_requested", f.data);
    put("link_to_offence", f.link);
    put("urgency", Some(f.urgency));
    put("emergency_justification", f.justification);
    put("tlp", Some(tlp.as_str().to_string()));
    put("custodian", f.custodian);
    put("necessity", f.necessity);
    put("recipient", f.to);
    if f.follow_up_mla {
        m.insert("follow_up_mla".into(), Value::Bool(true));
    }
    if !f.related.is_empty() {
        m.insert("related_requests".into(), json!(f.related));
    }
    Ok(Value::Object(m))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A compact table of requests.
fn table(rows: &[Value]) -> String {
    if rows.is_empty() {
        return "no requests\n".into();
    }
    let head = [
        "ID",
        "DIR",
        "PEER",
        "TYPE",
        "URGENCY",
        "STATUS",
        "SUBMITTED",
        "ANSWER BY",
        "REFERENCE",
    ];
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let dir = match r["direction"].as_str() {
                Some("outbound") => "out",
                Some("inbound") => "in",
                _ => "?",
            };
            let mut status = s(&r["status"]);
            if r["overdue"] == true {
                status.push_str(" OVERDUE");
            }
            vec![
                s(&r["id"]),
                dir.into(),
                s(&r["peer"]),
                s(&r["type"]),
                s(&r["urgency"]),
                status,
                minute(&r["submitted_at"]),
                minute(&r["answer_by"]),
                s(&r["reference"]),
            ]
        })
        .collect();
    let mut width: Vec<usize> = head.iter().map(|h| h.len()).collect();
    for row in &cells {
        for (i, c) in row.iter().enumerate() {
            width[i] = width[i].max(c.chars().count());
        }
    }
    let line = |row: &[String]| {
        let mut l = String::new();
        for (i, c) in row.iter().enumerate() {
            if i + 1 == row.len() {
                l.push_str(c);
            } else {
                l.push_str(&format!("{c:<w$}  ", w = width[i]));
            }
        }
        l.trim_end().to_string() + "\n"
    };
    let mut out = line(&head.map(String::from));
    for row in &cells {
        out.push_str(&line(row));
    }
    out
}

/// `2026-01-02T03:04:05.000000Z` → `2026-01-02 03:04Z`.
fn minute(v: &Value) -> String {
    match v.as_str() {
        Some(t) if t.len() >= 16 => format!("{} {}Z", &t[..10], &t[11..16]),
        _ => s(v),
    }
}

/// A request's state and timeline, for people.
fn timeline(v: &Value) -> String {
    let mut o = String::new();
    let dir = match v["direction"].as_str() {
        Some("outbound") => "sent to",
        _ => "received from",
    };
    let tlp = v["tlp"]
        .as_str()
        .and_then(|t| Tlp::parse(t).ok())
        .map_or_else(|| s(&v["tlp"]), |t| t.label().to_string());
    o += &format!("request    {} ({dir} {})\n", s(&v["id"]), s(&v["peer"]));
    o += &format!(
        "type       {}, {}, {tlp}\n",
        s(&v["type"]),
        s(&v["urgency"])
    );
    o += &format!("reference  {}\n", s(&v["reference"]));
    let overdue = if v["overdue"] == true {
        "  OVERDUE"
    } else {
        ""
    };
    o += &format!("status     {}{overdue}\n", s(&v["status"]));
    o += &format!("submitted  {}\n", s(&v["submitted_at"]));
    o += &format!(
        "ack by     {}  (acknowledged: {})\n",
        s(&v["acknowledge_by"]),
        s(&v["acknowledged_at"])
    );
    o += &format!("answer by  {}\n", s(&v["answer_by"]));
    if !v["closed_at"].is_null() {
        o += &format!("closed     {}\n", s(&v["closed_at"]));
    }
    o += "timeline:\n";
    for e in v["timeline"].as_array().map_or(&[][..], |a| a) {
        o += &format!(
            "  {}  {:<18}  by {}  (log #{}, event {}){}\n",
            s(&e["at"]),
            s(&e["type"]),
            s(&e["actor"]),
            s(&e["log_index"]),
            s(&e["event_id"]),
            if e["receipt"].is_string() {
                ", receipt"
            } else {
                ""
            }
        );
        let kind = &e["event"]["kind"];
        for (k, label) in [
            ("note", "note"),
            ("ground", "ground"),
            ("text", "text"),
            ("reason", "reason"),
            ("proposed_answer_by", "proposes answer by"),
            ("answer_by", "new answer by"),
        ] {
            if let Some(t) = kind[k].as_str() {
                o += &format!("      {label}: {}\n", t.replace('\n', "\n        "));
            }
        }
        if let Some(a) = kind["attachments"].as_array() {
            for a in a {
                o += &format!(
                    "      attachment: {} ({}, {} bytes, sha256 {})\n",
                    s(&a["name"]),
                    s(&a["media_type"]),
                    s(&a["size"]),
                    s(&a["sha256"])
                );
            }
        }
    }
    let pending: Vec<&Value> = v["deliveries"]
        .as_array()
        .map_or(&[][..], |a| a)
        .iter()
        .filter(|d| d["delivered_at"].is_null())
        .collect();
    for d in pending {
        o += &format!(
            "undelivered: envelope {} after {} attempt(s){}\n",
            &s(&d["envelope"]).chars().take(16).collect::<String>(),
            s(&d["attempts"]),
            d["last_error"]
                .as_str()
                .map(|e| format!(", last error: {e}"))
                .unwrap_or_default()
        );
    }
    o
}

/// One node, one identity.
struct Client {
    http: reqwest::Client,
    base: String,
    auth: Auth,
}

enum Auth {
    None,
    Bearer(String),
    Basic(String, String),
}

impl Client {
    fn new(conn: &Conn) -> anyhow::Result<Client> {
        let auth = match (&conn.user, &conn.token) {
            (Some(user), _) => {
                let mut text = String::new();
                std::io::stdin()
                    .read_to_string(&mut text)
                    .context("cannot read the password from standard input")?;
                let pw = text
                    .strip_suffix("\r\n")
                    .or_else(|| text.strip_suffix('\n'))
                    .unwrap_or(&text);
                if pw.is_empty() {
                    bail!("empty password on standard input");
                }
                Auth::Basic(user.clone(), pw.to_string())
            }
            (None, Some(t)) if !t.is_empty() => Auth::Bearer(t.clone()),
            _ => Auth::None,
        };
        let base = conn.node.trim_end_matches('/').to_string();
        if !base.starts_with("http://") && !base.starts_with("https://") {
            bail!("--node {base:?}: give the node's base URL, e.g. http://127.0.0.1:8080");
        }
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .build()?;
        Ok(Client { http, base, auth })
    }

    /// Uploads `FILE[=MEDIA/TYPE]` files; returns their attachment references
    /// (name, media type, size, SHA-256) for a request or answer to cite.
    async fn upload_all(&self, specs: &[String]) -> anyhow::Result<Value> {
        let mut out = Vec::new();
        for spec in specs {
            let (path, media) = match spec.rsplit_once('=') {
                Some((p, m)) if m.contains('/') => (p, m),
                _ => (spec.as_str(), "application/octet-stream"),
            };
            let bytes = std::fs::read(path).with_context(|| format!("cannot read {path}"))?;
            let name = std::path::Path::new(path)
                .file_name()
                .and_then(|n| n.to_str())
                .with_context(|| format!("{path} has no file name"))?;
            let mut rb = self
                .http
                .post(format!("{}/api/v1/attachments", self.base))
                .header("content-type", media)
                .body(bytes.clone());
            rb = self.authed(rb);
            let r = rb.send().await.map_err(|e| {
                anyhow::anyhow!("cannot reach the node at {}: {}", self.base, one_line(&e))
            })?;
            if !r.status().is_success() {
                bail!("uploading {path}: {}", r.status());
            }
            out.push(
                json!({ "name": name, "media_type": media, "size": bytes.len(),
                             "sha256": hex(&detente_domain::sha256(&bytes)) }),
            );
        }
        Ok(Value::Array(out))
    }

    /// Adds the user's credentials, if any.
    fn authed(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.auth {
            Auth::None => rb,
            Auth::Bearer(t) => rb.bearer_auth(t),
            Auth::Basic(u, p) => rb.basic_auth(u, Some(p)),
        }
    }

    /// GETs raw content; errors as [`Client::send`].
    async fn download(&self, path: &str) -> anyhow::Result<Vec<u8>> {
        let mut rb = self.http.get(format!("{}{path}", self.base));
        rb = self.authed(rb);
        let r = rb.send().await.map_err(|e| {
            anyhow::anyhow!("cannot reach the node at {}: {}", self.base, one_line(&e))
        })?;
        let status = r.status();
        let bytes = r.bytes().await?;
        if !status.is_success() {
            let detail = serde_json::from_slice::<Value>(&bytes)
                .ok()
                .and_then(|p| p["detail"].as_str().map(str::to_string))
                .unwrap_or_default();
            bail!("{status}: {detail}");
        }
        Ok(bytes.to_vec())
    }

    /// Sends a call; a non-2xx answer is an error carrying the status and the
    /// problem's `detail`, on one line.
    async fn send(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, String)],
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.base);
        let mut rb = match method {
            "POST" => self.http.post(&url),
            _ => self.http.get(&url),
        };
        if !query.is_empty() {
            rb = rb.query(query);
        }
        rb = self.authed(rb);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let r = rb.send().await.map_err(|e| {
            anyhow::anyhow!("cannot reach the node at {}: {}", self.base, one_line(&e))
        })?;
        let status = r.status();
        let text = r.text().await.unwrap_or_default();
        if !status.is_success() {
            let detail = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|p| p["detail"].as_str().map(str::to_string))
                .unwrap_or_else(|| text.trim().chars().take(200).collect());
            bail!("{status}: {}", detail.replace(['\n', '\r'], " "));
        }
        serde_json::from_str(&text)
            .with_context(|| format!("{method} {path}: the node's answer is not JSON"))
    }
}

/// An error and its causes on one line.
fn one_line(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s.replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_escaped() {
        assert_eq!(seg("6f1d5b2a-9c3e"), "6f1d5b2a-9c3e");
        assert_eq!(seg("a/b c"), "a%2Fb%20c");
    }

    #[test]
    fn tables_align() {
        let t = table(&[
            json!({"id": "x", "direction": "outbound", "peer": "p", "type": "t",
            "urgency": "normal", "status": "submitted", "submitted_at": "2026-01-02T03:04:05.000000Z",
            "answer_by": "2026-02-02T03:04:05.000000Z", "reference": "R", "overdue": true}),
        ]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[1].contains("submitted OVERDUE"), "{t}");
        assert!(lines[1].contains("2026-01-02 03:04Z"), "{t}");
        assert_eq!(lines[0].find("PEER"), lines[1].find(" p ").map(|i| i + 1));
    }
}
