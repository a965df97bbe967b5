//! Compose a request: the form for its type, then a gate preview (what the
//! transfer gate would decide, and the personal data it found, marked in the
//! text) before anything is signed or sent.

use crate::pages::{
    bad_token, choices, fail, forbidden, redirect_to, render, waiting, Choice, Fail, Nav,
};
use crate::{Viewer, Web};
use askama::Template;
use axum::extract::Multipart;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use detente_node::exchange::ExchangeError;
use detente_requests::{
    AttachmentRef, IncidentClass, Limits, NewRequest, RequestType, Tlp, Urgency,
};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Deserialize, Default)]
pub struct ComposeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    step: String,
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    recipient: String,
    #[serde(default)]
    reference: String,
    #[serde(default)]
    issuing_authority: String,
    #[serde(default)]
    legal_basis: String,
    #[serde(default)]
    offence: String,
    #[serde(default)]
    facts: String,
    #[serde(default)]
    data_requested: String,
    #[serde(default)]
    link_to_offence: String,
    #[serde(default)]
    urgency: String,
    #[serde(default)]
    emergency_justification: String,
    #[serde(default)]
    tlp: String,
    #[serde(default)]
    incident_class: String,
    #[serde(default)]
    custodian: String,
    #[serde(default)]
    necessity: String,
    #[serde(default)]
    follow_up_mla: String,
}

/// Errors beside the fields, by field name.
#[derive(Default)]
pub struct FieldErrors(HashMap<String, String>);

impl FieldErrors {
    pub fn on(&self, field: &str) -> &str {
        self.0.get(field).map_or("", String::as_str)
    }
}

/// A piece of text, marked when the gate found personal data in it.
pub struct Segment {
    text: String,
    entity: String,
}

/// What the gate would decide.
pub struct Preview {
    action: String,
    profile: String,
    reasons: Vec<(String, String)>,
    findings: Vec<(String, u64)>,
    /// Each text field with findings, cut into marked and unmarked pieces.
    marked: Vec<(String, Vec<Segment>)>,
}

#[derive(Template)]
#[template(path = "compose.html")]
struct ComposePage {
    nav: Nav,
    f: ComposeForm,
    types: Vec<Choice>,
    peers: Vec<Choice>,
    urgencies: Vec<Choice>,
    tlps: Vec<Choice>,
    classes: Vec<Choice>,
    instrument: &'static str,
    preservation: bool,
    incident: bool,
    errors: FieldErrors,
    error: String,
    preview: Option<Preview>,
    attachments: Vec<Attached>,
}

/// A file attached to the draft: stored when it was uploaded, and carried
/// from step to step by its citation (`token`), not uploaded again.
pub struct Attached {
    name: String,
    size: u64,
    media_type: String,
    token: String,
}

impl Attached {
    fn of(a: &AttachmentRef) -> Attached {
        Attached {
            name: a.name.clone(),
            size: a.size,
            media_type: a.media_type.clone(),
            token: serde_json::to_string(a).unwrap_or_default(),
        }
    }
}

fn page(web: &Web, v: &Viewer, f: ComposeForm) -> Result<ComposePage, Fail> {
    let w = waiting(web, v)?;
    let peers = web.node.store().peers().map_err(fail)?;
    let kind = RequestType::ALL
        .into_iter()
        .find(|t| t.as_str() == f.kind)
        .unwrap_or(RequestType::SubscriberInformation);
    Ok(ComposePage {
        nav: Nav::new(v, "compose", &w),
        types: choices(RequestType::ALL.iter().map(|t| t.as_str()), kind.as_str()),
        peers: choices(peers.into_iter().map(|p| p.origin), &f.recipient),
        urgencies: choices(Urgency::ALL.iter().map(|u| u.as_str()), &f.urgency),
        tlps: choices(Tlp::ALL.iter().map(|t| t.as_str()), or(&f.tlp, "amber")),
        classes: choices(
            IncidentClass::ALL.iter().map(|c| c.as_str()),
            &f.incident_class,
        ),
        instrument: kind.legal_instrument(),
        preservation: kind == RequestType::Preservation,
        incident: kind == RequestType::IncidentNotification,
        f,
        errors: FieldErrors::default(),
        error: String::new(),
        preview: None,
        attachments: Vec::new(),
    })
}

fn or<'a>(s: &'a str, default: &'a str) -> &'a str {
    if s.is_empty() {
        default
    } else {
        s
    }
}

#[derive(Deserialize)]
pub struct TypeQuery {
    #[serde(default, rename = "type")]
    kind: String,
}

pub async fn compose_form(
    State(web): State<Arc<Web>>,
    v: Viewer,
    Query(q): Query<TypeQuery>,
) -> Response {
    if !v.can_act() {
        return forbidden("only officers and admins send requests");
    }
    let f = ComposeForm {
        kind: q.kind,
        ..ComposeForm::default()
    };
    match page(&web, &v, f) {
        Ok(p) => render(&p, StatusCode::OK),
        Err(r) => r.into_response(),
    }
}

/// The request a form describes, or the errors beside its fields.
fn request_of(f: &ComposeForm, attachments: &[AttachmentRef]) -> Result<NewRequest, FieldErrors> {
    let mut m = Map::new();
    let mut put = |k: &str, v: &str| {
        if !v.trim().is_empty() {
            m.insert(k.into(), json!(v.trim()));
        }
    };
    put("type", &f.kind);
    put("recipient", &f.recipient);
    put("reference", &f.reference);
    put("issuing_authority", &f.issuing_authority);
    put("legal_basis", &f.legal_basis);
    put("offence", &f.offence);
    put("facts", &f.facts);
    put("data_requested", &f.data_requested);
    put("link_to_offence", &f.link_to_offence);
    put("urgency", or(&f.urgency, "normal"));
    put("emergency_justification", &f.emergency_justification);
    put("tlp", or(&f.tlp, "amber"));
    put("incident_class", &f.incident_class);
    put("custodian", &f.custodian);
    put("necessity", &f.necessity);
    if !f.follow_up_mla.is_empty() {
        m.insert("follow_up_mla".into(), json!(true));
    }
    if !attachments.is_empty() {
        m.insert("attachments".into(), json!(attachments));
    }
    let mut errors = FieldErrors::default();
    for (field, missing) in [
        ("type", "Choose a request type."),
        ("recipient", "Choose the peer to send it to."),
        ("reference", "Give your file or case number."),
        ("issuing_authority", "Name the issuing authority."),
        ("facts", "Summarise the facts."),
    ] {
        if !m.contains_key(field) {
            errors.0.insert(field.into(), missing.into());
        }
    }
    if !errors.0.is_empty() {
        return Err(errors);
    }
    let request: NewRequest = serde_json::from_value(Value::Object(m)).map_err(|e| {
        let mut errors = FieldErrors::default();
        errors
            .0
            .insert("form".into(), format!("This form is not a request: {e}"));
        errors
    })?;
    if let Err(es) = request.validate(&Limits::default()) {
        for e in es.0 {
            let field = e
                .field()
                .split(['.', '['])
                .next()
                .unwrap_or("form")
                .to_string();
            errors.0.entry(field).or_insert_with(|| e.to_string());
        }
        return Err(errors);
    }
    Ok(request)
}

/// Cuts `text` at the personal data the gate's scanner finds in it.
fn mark(text: &str) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut at = 0;
    for (entity, start, end) in detente_gate::text::scan_slice(text.as_bytes()) {
        let (Some(before), Some(found)) = (text.get(at..start), text.get(start..end)) else {
            continue;
        };
        if !before.is_empty() {
            out.push(Segment {
                text: before.into(),
                entity: String::new(),
            });
        }
        out.push(Segment {
            text: found.into(),
            entity: entity.as_str().into(),
        });
        at = end;
    }
    if let Some(rest) = text.get(at..) {
        if !rest.is_empty() {
            out.push(Segment {
                text: rest.into(),
                entity: String::new(),
            });
        }
    }
    out
}

fn preview_of(a: &detente_gate::Assessment, r: &NewRequest) -> Preview {
    let d = serde_json::to_value(&a.decision).unwrap_or(Value::Null);
    let reasons = d["reasons"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|x| {
            (
                x["rule"].as_str().unwrap_or("").into(),
                x["text"].as_str().unwrap_or("").into(),
            )
        })
        .collect();
    let mut findings: HashMap<String, u64> = HashMap::new();
    for f in &a.files {
        for (entity, n) in &f.findings {
            *findings.entry(entity.as_str().into()).or_default() += n;
        }
    }
    let mut findings: Vec<_> = findings.into_iter().collect();
    findings.sort();
    let texts = [
        ("facts", Some(&r.facts)),
        ("data requested", r.data_requested.as_ref()),
        ("offence", r.offence.as_ref()),
        ("link to offence", r.link_to_offence.as_ref()),
    ];
    let marked = texts
        .into_iter()
        .filter_map(|(label, t)| t.map(|t| (label.to_string(), mark(t))))
        .filter(|(_, segs)| segs.iter().any(|s| !s.entity.is_empty()))
        .collect();
    Preview {
        action: d["decision"].as_str().unwrap_or("").into(),
        profile: d["profile"].as_str().unwrap_or("").into(),
        reasons,
        findings,
        marked,
    }
}

/// The form's fields and files: files are stored as they arrive (bounded by
/// the attachment limits) and come back as citations.
async fn read_form(
    web: &Web,
    mut mp: Multipart,
) -> Result<(ComposeForm, Vec<AttachmentRef>), (String, String)> {
    let limits = Limits::default();
    let bad = |field: &str, e: String| (field.to_string(), e);
    let mut fields = Map::new();
    let mut refs: Vec<AttachmentRef> = Vec::new();
    while let Some(mut part) = mp
        .next_field()
        .await
        .map_err(|e| bad("form", format!("The form could not be read: {e}")))?
    {
        let name = part.name().unwrap_or("").to_string();
        match name.as_str() {
            "file" => {
                let file = part.file_name().unwrap_or("").to_string();
                let media_type = part
                    .content_type()
                    .unwrap_or("application/octet-stream")
                    .to_string();
                let mut body = Vec::new();
                while let Some(chunk) = part
                    .chunk()
                    .await
                    .map_err(|e| bad("attachments", format!("The upload failed: {e}")))?
                {
                    body.extend_from_slice(&chunk);
                    if body.len() as u64 > limits.max_attachment_size {
                        let max = limits.max_attachment_size;
                        return Err(bad(
                            "attachments",
                            format!("{file} is larger than {max} bytes."),
                        ));
                    }
                }
                if file.is_empty() && body.is_empty() {
                    continue; // the file input, left empty
                }
                if body.is_empty() {
                    return Err(bad("attachments", format!("{file} is empty.")));
                }
                refs.push(store(web, file, media_type, &body)?);
            }
            "attachment" => {
                let text = part.text().await.unwrap_or_default();
                let a: AttachmentRef = serde_json::from_str(&text).map_err(|_| {
                    bad(
                        "attachments",
                        "An attached file is damaged; attach it again.".into(),
                    )
                })?;
                match web.node.store().attachment(&a.sha256) {
                    Ok(Some(_)) => refs.push(a),
                    _ => {
                        return Err(bad(
                            "attachments",
                            format!("{} is no longer stored; attach it again.", a.name),
                        ))
                    }
                }
            }
            _ => {
                let text = part.text().await.unwrap_or_default();
                fields.insert(name, json!(text));
            }
        }
    }
    refs.dedup_by(|x, y| x.sha256 == y.sha256);
    let f: ComposeForm = serde_json::from_value(Value::Object(fields))
        .map_err(|e| bad("form", format!("This form is not a request: {e}")))?;
    Ok((f, refs))
}

/// Stores an uploaded file by its digest, as the API's upload does.
fn store(
    web: &Web,
    name: String,
    media_type: String,
    body: &[u8],
) -> Result<AttachmentRef, (String, String)> {
    let sha256 = hex::encode(detente_domain::sha256(body));
    let now = detente_domain::time::format(&detente_domain::time::now());
    web.node
        .store()
        .put_attachment(&sha256, &media_type, body, &now)
        .map_err(|e| {
            tracing::error!(error = %e, "storing an attachment");
            (
                "attachments".to_string(),
                "The file could not be stored; retry.".to_string(),
            )
        })?;
    Ok(AttachmentRef {
        name,
        media_type,
        size: body.len() as u64,
        sha256,
    })
}

pub async fn compose(State(web): State<Arc<Web>>, v: Viewer, mp: Multipart) -> Response {
    let (f, refs) = match read_form(&web, mp).await {
        Ok(x) => x,
        Err((field, message)) => {
            // Nothing of the draft could be trusted: an empty form with the error.
            let mut p = match page(&web, &v, ComposeForm::default()) {
                Ok(p) => p,
                Err(r) => return r.into_response(),
            };
            p.errors.0.insert(field, message.clone());
            p.error = message;
            return render(&p, StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    if !v.csrf_ok(&f.csrf) {
        return bad_token();
    }
    if !v.can_act() {
        return forbidden("only officers and admins send requests");
    }
    let parsed = request_of(&f, &refs);
    let send = f.step == "send";
    let mut p = match page(&web, &v, f) {
        Ok(p) => p,
        Err(r) => return r.into_response(),
    };
    p.attachments = refs.iter().map(Attached::of).collect();
    let request = match parsed {
        Ok(r) => r,
        Err(errors) => {
            p.error = errors.on("form").to_string();
            p.errors = errors;
            return render(&p, StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    if send {
        return match web.exchange.submit_as(request, Some(&v.name)).await {
            Ok(view) => redirect_to(&format!(
                "/ui/requests/{}",
                view["id"].as_str().unwrap_or("")
            )),
            Err(e) => {
                p.error = e.to_string();
                let code = match e {
                    ExchangeError::Gate { .. } => StatusCode::UNPROCESSABLE_ENTITY,
                    ExchangeError::Node(_) => StatusCode::INTERNAL_SERVER_ERROR,
                    _ => StatusCode::CONFLICT,
                };
                render(&p, code)
            }
        };
    }
    match web.exchange.preview_submission(&request) {
        Ok(a) => p.preview = Some(preview_of(&a, &request)),
        Err(e) => p.error = format!("The gate could not judge this request: {e}"),
    }
    render(&p, StatusCode::OK)
}
