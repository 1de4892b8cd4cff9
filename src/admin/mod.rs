//! The admin surface: a listener of its own (`[admin] listen`), for people
//! and their tools, never for MCP clients. Nothing on it answers without
//! `Authorization: Bearer <admin token>`.
//!
//! JSON API:
//! - `GET  /admin/api/approvals`: pending requests (arguments masked);
//! - `POST /admin/api/approvals/{id}/approve`: `{"scope":"once|session|15m","any_args":false,"reason":"...","approver":"..."}`;
//! - `POST /admin/api/approvals/{id}/deny`: `{"reason":"...","approver":"..."}`;
//! - `GET  /admin/api/decisions?limit=N`: the newest requests and how they ended.
//!
//! `GET /admin` is the web console (`console`): a page without data that
//! logs in with the token and uses the API above as channel `console`.
//!
//! `/admin/webhook/{id}/{approve|deny}` (`webhook`) is the one exception to
//! the token: the webhook's signed links, whose signature is the credential.
//!
//! `client` is the other end, used by `mcp-warden approvals ...`.

pub mod client;
pub mod console;
pub mod webhook;

use crate::approval::grant::GrantScope;
use crate::approval::{Answer, AnswerError};
use crate::gateway::Gateway;
use crate::policy::ApprovalChannel;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// Who answered when an API request names nobody.
pub const DEFAULT_APPROVER: &str = "admin-api";
const MAX_DECISIONS: usize = 1000;
/// Admin request bodies are small JSON objects.
const MAX_BODY_BYTES: usize = 64 * 1024;

#[derive(Clone)]
struct Admin {
    gateway: Arc<Gateway>,
    /// SHA-256 of the token: compared in constant time, whatever its length.
    token_digest: [u8; 32],
}

/// The admin router. `None` when `[admin]` is not configured.
pub fn router(gateway: Arc<Gateway>) -> Option<Router> {
    let token = gateway.config.admin.as_ref()?.token.clone();
    let links = webhook::routes(gateway.clone(), MAX_BODY_BYTES);
    let admin = Admin { gateway, token_digest: Sha256::digest(token.as_bytes()).into() };
    let api = Router::new()
        .route("/admin/api/approvals", get(list_pending))
        .route("/admin/api/approvals/{id}/approve", post(approve))
        .route("/admin/api/approvals/{id}/deny", post(deny))
        .route("/admin/api/decisions", get(decisions))
        .route("/admin/api/integrity", get(integrity))
        // Unknown paths too answer 401 without the token, 404 with it.
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such admin endpoint") })
        .layer(axum::middleware::from_fn_with_state(admin.clone(), require_token))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(admin);
    // The console's shell holds no data; everything it shows comes from `api`.
    let router = console::routes().merge(api).layer(axum::middleware::from_fn(console::security_headers));
    // Outside the token check: a signed link is its own credential.
    Some(match links {
        Some(links) => router.merge(links),
        None => router,
    })
}

/// Serves the admin API until `shutdown` is cancelled, then stops
/// accepting and lets the requests already in flight finish, for no longer
/// than `[listen] drain_timeout`.
pub async fn serve(
    gateway: Arc<Gateway>,
    listener: tokio::net::TcpListener,
    shutdown: tokio_util::sync::CancellationToken,
) -> std::io::Result<()> {
    use std::future::IntoFuture;
    let drain = gateway.config.listen.drain_timeout;
    let Some(router) = router(gateway) else { return Ok(()) };
    let server = axum::serve(listener, router).with_graceful_shutdown(shutdown.clone().cancelled_owned());
    // Admin answers are immediate; what is still open at the deadline is a
    // client that stopped reading, and it must not keep the gateway alive.
    tokio::select! {
        ended = server.into_future() => ended,
        () = async {
            shutdown.cancelled().await;
            tokio::time::sleep(drain).await;
        } => Ok(()),
    }
}

async fn require_token(State(admin): State<Admin>, request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
    if presented.is_empty() || !bool::from(digest.ct_eq(&admin.token_digest)) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            Json(json!({"error": "a valid admin token is required (Authorization: Bearer <token>)"})),
        )
            .into_response();
    }
    next.run(request).await
}

/// Tool definitions kept from models, flagged or pinned on first use,
/// newest last: `{"notices": [{"event", "server", "tool", "pinned", "seen", "reason", "at", ...}]}`.
async fn integrity(State(admin): State<Admin>) -> Json<Value> {
    Json(json!({ "notices": admin.gateway.integrity.notices() }))
}

/// A refused admin request: the status and a sentence for the person.
struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

fn error(status: StatusCode, message: impl std::fmt::Display) -> ApiError {
    ApiError(status, message.to_string())
}

/// The HTTP status of an answer the broker refused.
fn answer_status(e: &AnswerError) -> StatusCode {
    match e {
        AnswerError::NotFound(_) => StatusCode::NOT_FOUND,
        AnswerError::ChannelRefused { .. } => StatusCode::FORBIDDEN,
        AnswerError::Invalid(_) => StatusCode::BAD_REQUEST,
        AnswerError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn answer_error(e: AnswerError) -> ApiError {
    error(answer_status(&e), e)
}

/// The fields of an answer, from the admin API (JSON) or a webhook link
/// (JSON or a form). All optional.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AnswerBody {
    #[serde(default)]
    approver: Option<String>,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    any_args: bool,
    /// Admin API only: "api" (default), "cli" or "console"; the CLI and the
    /// console say which they are. A webhook link always answers as "webhook".
    #[serde(default)]
    channel: Option<String>,
}

impl AnswerBody {
    /// The answer this body gives, an approval or a denial. A missing or
    /// blank approver is `default_approver`; scope and any_args belong to
    /// approvals only.
    fn into_answer(self, approve: bool, default_approver: &str) -> Result<Answer, String> {
        let approver = self.approver.filter(|a| !a.trim().is_empty()).unwrap_or_else(|| default_approver.into());
        if approve {
            let scope = GrantScope::parse(self.scope.as_deref().unwrap_or("once"))?;
            return Ok(Answer::Approved { approver, reason: self.reason, scope, any_args: self.any_args });
        }
        if self.scope.is_some() || self.any_args {
            return Err("scope and any_args belong to an approval, not a denial".into());
        }
        let reason = if self.reason.trim().is_empty() { "no reason given".to_string() } else { self.reason };
        Ok(Answer::Denied { approver, reason })
    }
}

/// What an accepted answer is acknowledged with, in JSON.
fn answered(id: &str, answer: &Answer) -> Value {
    match answer {
        Answer::Approved { approver, scope, any_args, .. } => json!({
            "id": id, "status": "approved", "approver": approver, "scope": scope.label(), "any_args": any_args
        }),
        Answer::Denied { approver, .. } => json!({"id": id, "status": "denied", "approver": approver}),
    }
}

async fn list_pending(State(admin): State<Admin>) -> Response {
    let pending: Vec<Value> = admin.gateway.approvals.pending().iter().map(|r| r.view()).collect();
    Json(Value::Array(pending)).into_response()
}

/// The channel an admin-token holder answers through: only the admin ones.
/// Webhook and elicitation answers carry their own proof and come elsewhere.
fn channel(name: Option<&str>) -> Result<ApprovalChannel, ApiError> {
    match ApprovalChannel::parse(name.unwrap_or("api")) {
        Ok(channel) if channel.is_admin() => Ok(channel),
        Ok(channel) => Err(error(
            StatusCode::BAD_REQUEST,
            format!("channel: \"{}\" cannot answer through the admin API", channel.as_str()),
        )),
        Err(e) => Err(error(StatusCode::BAD_REQUEST, format!("channel: {e}"))),
    }
}

fn default_approver(channel: ApprovalChannel) -> String {
    match channel {
        ApprovalChannel::Console => "console".into(),
        _ => DEFAULT_APPROVER.into(),
    }
}

fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) { b"{}".as_slice() } else { body };
    serde_json::from_slice(body).map_err(|e| error(StatusCode::BAD_REQUEST, format!("invalid JSON body: {e}")))
}

async fn approve(
    State(admin): State<Admin>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    give_answer(&admin, &id, true, &body).await
}

async fn deny(
    State(admin): State<Admin>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    give_answer(&admin, &id, false, &body).await
}

async fn give_answer(admin: &Admin, id: &str, approve: bool, body: &[u8]) -> Result<Response, ApiError> {
    let body: AnswerBody = parse_body(body)?;
    let channel = channel(body.channel.as_deref())?;
    if !approve && channel == ApprovalChannel::Console && body.reason.trim().is_empty() {
        return Err(error(StatusCode::BAD_REQUEST, "a denial from the console needs a reason"));
    }
    let answer =
        body.into_answer(approve, &default_approver(channel)).map_err(|e| error(StatusCode::BAD_REQUEST, e))?;
    let acknowledged = answered(id, &answer);
    admin.gateway.approvals.answer(id, answer, channel).await.map_err(answer_error)?;
    Ok(Json(acknowledged).into_response())
}

#[derive(Deserialize)]
struct DecisionsQuery {
    limit: Option<usize>,
}

async fn decisions(State(admin): State<Admin>, Query(query): Query<DecisionsQuery>) -> Response {
    let limit = query.limit.unwrap_or(100).clamp(1, MAX_DECISIONS);
    match admin.gateway.approvals.recent(limit).await {
        Ok(list) => Json(Value::Array(list)).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e).into_response(),
    }
}
