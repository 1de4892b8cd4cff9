//! The webhook's approve and deny links, served on the admin listener:
//! `GET|POST /admin/webhook/{id}/{approve|deny}?expires=UNIX&sig=HEX`.
//!
//! These routes are outside the bearer-token middleware on purpose: the
//! link's signature (see `approval::webhook`) is the credential. It names
//! one request, one answer and an expiry, and is checked, in constant time,
//! before anything else is looked at; a tampered, swapped or expired link
//! gets 403 and not a word about the request.
//!
//! - `GET` never changes anything, because chat apps and mail scanners fetch
//!   links to preview them: it shows the held call and a plain form that
//!   posts back to the same URL.
//! - `POST` (JSON or a form: `approver`, `reason`, `scope`, `any_args`, all
//!   optional) answers through the broker as channel `webhook`. A request is
//!   answered at most once, so a used link gets 404: links are single-use.

use super::{answer_status, answered, console, AnswerBody};
use crate::approval::webhook::{unix_seconds, LinkAction, WebhookNotifier};
use crate::approval::{Answer, AnswerError, ApprovalRequest};
use crate::gateway::Gateway;
use crate::policy::ApprovalChannel;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use std::sync::Arc;
use std::time::SystemTime;

/// Who answered when a link's POST names nobody.
pub const DEFAULT_APPROVER: &str = "webhook";

/// No script, no style, nothing from elsewhere; the one form may post only
/// back to this origin.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The scopes the page offers; a JSON POST may send any `GrantScope`.
const SCOPES: [(&str, &str); 4] =
    [("once", "this call only"), ("session", "this session"), ("15m", "15 minutes"), ("1h", "1 hour")];

#[derive(Clone)]
struct Links {
    gateway: Arc<Gateway>,
    webhook: Arc<WebhookNotifier>,
}

/// The link routes, when `[approval.webhook]` is configured. They carry
/// their own security headers and body cap, and no token check.
pub fn routes(gateway: Arc<Gateway>, max_body_bytes: usize) -> Option<Router> {
    let webhook = gateway.webhook.clone()?;
    Some(
        Router::new()
            .route("/admin/webhook/{id}/{action}", get(show).post(answer))
            .layer(axum::extract::DefaultBodyLimit::max(max_body_bytes))
            .layer(axum::middleware::from_fn(security_headers))
            .with_state(Links { gateway, webhook }),
    )
}

async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    console::lock_down(response.headers_mut(), CONTENT_SECURITY_POLICY);
    response
}

impl Links {
    /// The link's action if its signature holds and it has not expired.
    fn verify(&self, id: &str, action: &str, query: Option<&str>) -> Option<LinkAction> {
        let mut expires = None;
        let mut sig = None;
        for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            let slot = match key.as_ref() {
                "expires" => &mut expires,
                "sig" => &mut sig,
                _ => continue,
            };
            if slot.replace(value).is_some() {
                // Which of two values would count is a question not worth answering.
                return None;
            }
        }
        let now = unix_seconds(SystemTime::now());
        match self.webhook.keys().verify_link(id, action, expires.as_deref(), sig.as_deref(), now) {
            Ok(action) => Some(action),
            Err(refused) => {
                let id = if id.len() <= 64 { id } else { "(too long to log)" };
                tracing::info!(request = ?id, "webhook link refused: {refused}");
                None
            }
        }
    }
}

async fn show(State(links): State<Links>, Path((id, action)): Path<(String, String)>, query: RawQuery) -> Response {
    let Some(action) = links.verify(&id, &action, query.0.as_deref()) else {
        return page(StatusCode::FORBIDDEN, "Invalid link", &refused_text());
    };
    match links.gateway.approvals.pending_request(&id) {
        Some(request) => page(StatusCode::OK, title(action), &confirmation(&request, action)),
        None => page(StatusCode::NOT_FOUND, "Not pending", &gone_text()),
    }
}

/// How a POST is answered: in the kind it was asked.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reply {
    Json,
    Html,
}

impl Reply {
    fn error(self, status: StatusCode, message: &str) -> Response {
        match self {
            Reply::Json => (status, Json(json!({ "error": message }))).into_response(),
            Reply::Html => page(status, "Not answered", &format!("<p>{}</p>", escape(message))),
        }
    }
}

fn content_type(headers: &HeaderMap) -> String {
    let value = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase()
}

fn parse_body(content_type: &str, body: &[u8]) -> Result<AnswerBody, String> {
    match content_type {
        "application/x-www-form-urlencoded" => parse_form(body),
        "application/json" | "" => {
            if body.iter().all(u8::is_ascii_whitespace) {
                return Ok(AnswerBody::default());
            }
            let parsed: AnswerBody = serde_json::from_slice(body).map_err(|e| format!("invalid JSON body: {e}"))?;
            if parsed.channel.is_some() {
                return Err("a link always answers as channel webhook; leave channel out".into());
            }
            Ok(parsed)
        }
        other => Err(format!("unsupported content type {other:?}: send application/json or a form")),
    }
}

fn parse_form(body: &[u8]) -> Result<AnswerBody, String> {
    let mut parsed = AnswerBody::default();
    let mut seen: Vec<String> = Vec::new();
    for (key, value) in url::form_urlencoded::parse(body) {
        if seen.iter().any(|k| *k == key) {
            return Err(format!("field {key:?} is given twice"));
        }
        seen.push(key.to_string());
        let value = value.into_owned();
        match key.as_ref() {
            "approver" => parsed.approver = Some(value),
            "reason" => parsed.reason = value,
            "scope" => parsed.scope = Some(value),
            // A checkbox sends "on" (or the value the form gives it) when ticked, nothing otherwise.
            "any_args" => {
                parsed.any_args = match value.as_str() {
                    "on" | "true" | "1" => true,
                    "" | "false" | "0" => false,
                    _ => return Err("any_args must be true or false".into()),
                }
            }
            _ => return Err(format!("unknown field {key:?}; expected approver, reason, scope, any_args")),
        }
    }
    Ok(parsed)
}

/// What the body asks for, as the broker's answer.
fn to_answer(action: LinkAction, body: AnswerBody) -> Result<Answer, String> {
    body.into_answer(action == LinkAction::Approve, DEFAULT_APPROVER)
}

async fn answer(
    State(links): State<Links>,
    Path((id, action)): Path<(String, String)>,
    query: RawQuery,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let content_type = content_type(&headers);
    let reply = if content_type == "application/x-www-form-urlencoded" { Reply::Html } else { Reply::Json };
    let Some(action) = links.verify(&id, &action, query.0.as_deref()) else {
        return reply.error(StatusCode::FORBIDDEN, "this link is not valid, or it has expired");
    };
    let answer = match parse_body(&content_type, &body).and_then(|body| to_answer(action, body)) {
        Ok(answer) => answer,
        Err(e) => return reply.error(StatusCode::BAD_REQUEST, &e),
    };
    let Some(request) = links.gateway.approvals.pending_request(&id) else {
        return reply.error(StatusCode::NOT_FOUND, GONE);
    };
    if let Err(e) = links.gateway.approvals.answer(&id, answer.clone(), ApprovalChannel::Webhook).await {
        let message = match &e {
            // Answered, timed out or withdrawn between the two lines above.
            AnswerError::NotFound(_) => GONE.to_string(),
            _ => e.to_string(),
        };
        return reply.error(answer_status(&e), &message);
    }
    let server_tool = format!("{} on {}", request.binding.tool, request.binding.server);
    match (reply, answer) {
        (Reply::Json, answer) => Json(answered(&id, &answer)).into_response(),
        (Reply::Html, Answer::Approved { approver, scope, .. }) => page(
            StatusCode::OK,
            "Approved",
            &format!(
                "<p id=\"outcome\">Approved: the call to {} was released (scope: {}), answered as {}.</p>",
                escape(&server_tool),
                escape(&scope.label()),
                escape(&approver)
            ),
        ),
        (Reply::Html, Answer::Denied { approver, .. }) => page(
            StatusCode::OK,
            "Denied",
            &format!(
                "<p id=\"outcome\">Denied: the call to {} will not be made, answered as {}.</p>",
                escape(&server_tool),
                escape(&approver)
            ),
        ),
    }
}

const GONE: &str = "this request is no longer waiting for an answer: it was answered, timed out or withdrawn";

fn refused_text() -> String {
    "<p>This link is not valid, or it has expired.</p>".into()
}

fn gone_text() -> String {
    "<p>This request is no longer waiting for an answer: it was answered, timed out or withdrawn.</p>".into()
}

fn title(action: LinkAction) -> &'static str {
    match action {
        LinkAction::Approve => "Approve this call?",
        LinkAction::Deny => "Deny this call?",
    }
}

/// The held call and the form that answers it. Every value is escaped:
/// arguments, tool and client names all come from outside.
fn confirmation(request: &ApprovalRequest, action: LinkAction) -> String {
    let view = request.view();
    let text = |key: &str| view[key].as_str().map(escape).unwrap_or_default();
    let client = [&view["client"]["name"], &view["client"]["version"]]
        .iter()
        .filter_map(|v| v.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let arguments = serde_json::to_string_pretty(&request.arguments).unwrap_or_default();
    let mut html = format!(
        "<dl>\n<dt>Server</dt><dd id=\"server\">{}</dd>\n<dt>Tool</dt><dd id=\"tool\">{}</dd>\n\
         <dt>Rule</dt><dd id=\"rule\">{}</dd>\n<dt>Client</dt><dd id=\"client\">{}</dd>\n\
         <dt>Requested</dt><dd>{}</dd>\n<dt>Expires</dt><dd id=\"expires\">{}</dd>\n</dl>\n\
         <h2>Arguments</h2>\n<pre id=\"arguments\">{}</pre>\n<p>Secret-looking values are shown as ***.</p>\n",
        text("server"),
        text("tool"),
        text("rule"),
        escape(&client),
        text("requested_at"),
        text("expires_at"),
        escape(&arguments),
    );
    html.push_str("<form method=\"post\">\n");
    html.push_str(
        "<p><label>Your name <input name=\"approver\" id=\"approver\" maxlength=\"200\" autocomplete=\"name\"></label></p>\n\
         <p><label>Reason <input name=\"reason\" id=\"reason\" maxlength=\"1000\" size=\"60\"></label></p>\n",
    );
    if action == LinkAction::Approve {
        html.push_str("<p><label>Scope <select name=\"scope\" id=\"scope\">");
        for (value, label) in SCOPES {
            html.push_str(&format!("<option value=\"{value}\">{label}</option>"));
        }
        html.push_str("</select></label></p>\n");
        html.push_str(
            "<p><label><input type=\"checkbox\" name=\"any_args\" value=\"true\" id=\"any_args\"> \
             also any other arguments the rule allows</label></p>\n",
        );
    }
    let button = match action {
        LinkAction::Approve => "Approve",
        LinkAction::Deny => "Deny",
    };
    html.push_str(&format!("<p><button type=\"submit\" id=\"submit\">{button}</button></p>\n</form>\n"));
    html.push_str("<p>Nothing is answered until you press the button.</p>\n");
    html
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let title = escape(title);
    let html = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title} · mcp-warden</title>\n</head>\n<body>\n<h1>{title}</h1>\n{body}</body>\n</html>\n"
    );
    (status, Html(html)).into_response()
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::approval::fixtures;
    use crate::approval::grant::GrantScope;
    use std::time::Duration;

    fn held(arguments: serde_json::Value) -> ApprovalRequest {
        let mut request = fixtures::request(
            "apr_ab",
            ApprovalChannel::Webhook,
            arguments,
            SystemTime::now(),
            Duration::from_secs(60),
        );
        request.binding.client_name = Some("<img src=x onerror=alert(1)>".into());
        request.binding.rule = "r\"><script>".into();
        request
    }

    #[test]
    fn the_page_escapes_everything_that_came_from_outside() {
        let html = confirmation(&held(json!({"body": "</pre><script>alert(1)</script>"})), LinkAction::Approve);
        assert!(!html.contains("<script>") && !html.contains("<img"), "{html}");
        assert!(html.contains("&lt;/pre&gt;&lt;script&gt;"), "{html}");
        assert!(html.contains("<form method=\"post\">") && html.contains("name=\"scope\""), "{html}");
        let deny = confirmation(&held(json!({})), LinkAction::Deny);
        assert!(!deny.contains("name=\"scope\"") && deny.contains(">Deny</button>"), "{deny}");
    }

    #[test]
    fn form_and_json_bodies_read_the_same_fields() {
        let form =
            parse_body("application/x-www-form-urlencoded", b"approver=dana&reason=ok%20then&scope=1h&any_args=on")
                .unwrap();
        let answer = to_answer(LinkAction::Approve, form).unwrap();
        let Answer::Approved { approver, reason, scope, any_args } = answer else { panic!("{answer:?}") };
        assert_eq!(
            (approver.as_str(), reason.as_str(), scope, any_args),
            ("dana", "ok then", GrantScope::For(Duration::from_secs(3600)), true)
        );
        let json = parse_body("application/json", br#"{"reason":"no","approver":""}"#).unwrap();
        assert_eq!(
            to_answer(LinkAction::Deny, json).unwrap(),
            Answer::Denied { approver: DEFAULT_APPROVER.into(), reason: "no".into() }
        );
        let empty = parse_body("", b"").unwrap();
        assert_eq!(
            to_answer(LinkAction::Deny, empty).unwrap(),
            Answer::Denied { approver: DEFAULT_APPROVER.into(), reason: "no reason given".into() }
        );
    }

    #[test]
    fn bodies_that_say_something_odd_are_refused() {
        for (kind, body) in [
            ("application/json", b"{\"approver\": 5}".as_slice()),
            ("application/json", b"{\"channel\": \"api\"}"),
            ("application/json", b"not json"),
            ("application/x-www-form-urlencoded", b"reason=a&reason=b"),
            ("application/x-www-form-urlencoded", b"release=yes"),
            ("application/x-www-form-urlencoded", b"any_args=maybe"),
            ("text/plain", b"approve"),
        ] {
            assert!(parse_body(kind, body).is_err(), "{kind} {:?}", String::from_utf8_lossy(body));
        }
        let scoped = parse_body("application/json", br#"{"scope":"session"}"#).unwrap();
        assert!(to_answer(LinkAction::Deny, scoped).is_err(), "a denial has no scope");
        let forever = parse_body("application/json", br#"{"scope":"1000h"}"#).unwrap();
        assert!(to_answer(LinkAction::Approve, forever).is_err());
    }
}
