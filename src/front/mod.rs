//! The client side: how MCP clients reach the gateway. Each front turns
//! what arrives on its transport into JSON-RPC messages and a
//! `protocol::ClientContext`, and hands both to the relay.
//!
//! - `http`: Streamable HTTP (`/mcp`, `/mcp/<server>`);
//! - `stdio`: one client on stdin/stdout (Claude Desktop);
//! - `sessions`: the HTTP sessions open, and the closing of idle ones;
//! - `streams`: the HTTP front's resumable SSE streams (`Last-Event-ID`);
//! - `auth`: who an HTTP request comes from (the `Caller`).
//!
//! Both fronts log a session's opening and closing here, in one wording.

mod answer;
pub mod auth;
pub mod http;
mod sessions;
pub mod stdio;
mod streams;

use crate::errors::GatewayError;
use crate::jsonrpc;
use crate::protocol::{era2025, Caller, ClientContext, ClientInfo, MAX_BATCH};
use crate::relay::ClientSession;
use serde_json::Value;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// The session context an `initialize` request opens (2025 era).
pub fn context_from_initialize(msg: &Value, caller: Caller) -> Result<ClientContext, GatewayError> {
    era2025::context_from_initialize(jsonrpc::params(msg), caller).map_err(GatewayError::InvalidParams)
}

pub fn not_initialized() -> GatewayError {
    GatewayError::InvalidRequest("the session is not initialized: send initialize first".into())
}

/// Refuses a batch the protocol does not allow: empty, too long, or with an
/// `initialize` in it.
pub fn check_batch(batch: &[Value]) -> Result<(), GatewayError> {
    if batch.is_empty() || batch.len() > MAX_BATCH {
        return Err(GatewayError::InvalidRequest(format!("a batch must hold 1 to {MAX_BATCH} messages")));
    }
    if batch.iter().any(|m| jsonrpc::method(m) == Some("initialize")) {
        return Err(GatewayError::InvalidRequest("initialize cannot be batched".into()));
    }
    Ok(())
}

/// How much of a client's self-declared name or version a log line shows.
const MAX_CLIENT_INFO_CHARS: usize = 64;

/// How a log line names a session's client: the name and version it
/// declared. The client chose them, so they are escaped (no forged lines)
/// and cut short (no flood).
pub fn client_named(info: &ClientInfo) -> String {
    let shown = |text: &str| {
        let mut shown: String = text.chars().take(MAX_CLIENT_INFO_CHARS).flat_map(char::escape_debug).collect();
        if text.chars().count() > MAX_CLIENT_INFO_CHARS {
            shown.push('…');
        }
        shown
    };
    match (&info.name, &info.version) {
        (Some(name), Some(version)) => format!("\"{}\" {}", shown(name), shown(version)),
        (Some(name), None) => format!("\"{}\"", shown(name)),
        (None, _) => "a client with no clientInfo.name".into(),
    }
}

/// Why a session ended, as its closing log line says it.
#[derive(Clone, Copy, Debug)]
pub enum Closed {
    /// The client sent DELETE.
    Deleted,
    /// Nothing used it for `[listen] session_idle_timeout`.
    Idle(Duration),
    /// Idle, and unused the longest when idle sessions held more upstream
    /// connections than `[relay] max_idle_upstream_sessions`.
    IdleCap(usize),
    /// The stdio client closed its end of stdin: it is gone.
    StdinClosed,
    /// The gateway shut down with the session still open.
    Shutdown,
}

impl fmt::Display for Closed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Closed::Deleted => f.write_str("the client ended it (DELETE)"),
            Closed::Idle(timeout) => {
                write!(f, "unused for {} (listen.session_idle_timeout)", humantime::format_duration(*timeout))
            }
            Closed::IdleCap(cap) => write!(
                f,
                "unused the longest while idle sessions held more than {cap} upstream connections \
                 (relay.max_idle_upstream_sessions)"
            ),
            Closed::StdinClosed => f.write_str("the client closed stdin"),
            Closed::Shutdown => f.write_str("the gateway shut down"),
        }
    }
}

/// The one line a session's opening gets at the default level. Logs name a
/// session by its keyed digest: the id itself is a bearer credential.
pub fn log_opened(session: &ClientSession, context: &ClientContext, endpoint: &str) {
    tracing::info!(
        session = %session.label,
        "session opened: {} on {endpoint}, protocol {}",
        client_named(&context.client_info),
        context.protocol_version
    );
}

/// The one line a session's end gets at the default level.
pub fn log_closed(label: &str, context: &ClientContext, how: Closed, open_for: Duration) {
    // Whole seconds: the line is for a person, not a benchmark.
    let open_for = humantime::format_duration(Duration::from_secs(open_for.as_secs()));
    tracing::info!(session = %label, "session closed: {how}; {} was connected for {open_for}", client_named(&context.client_info));
}

/// How many messages of one batch are worked on at once: enough for
/// parallel calls, well under a session's in-flight limit.
const BATCH_CONCURRENCY: usize = 16;

/// Runs every message of a batch and gathers the answers; whatever the
/// upstreams send meanwhile goes to `interim`.
pub async fn run_batch(
    session: &Arc<ClientSession>,
    context: &ClientContext,
    batch: Vec<Value>,
    interim: &mpsc::Sender<Value>,
) -> Vec<Value> {
    use futures::StreamExt;
    let (tx, mut rx) = mpsc::channel::<Value>(64);
    let limit = BATCH_CONCURRENCY.min(session.inflight_limit()).max(1);
    // The closure owns the sender: the channel closes when the last run ends.
    let runs = futures::stream::iter(batch)
        .map(move |msg| {
            let tx = tx.clone();
            async move { session.handle(context, msg, tx).await }
        })
        .buffer_unordered(limit)
        .collect::<Vec<()>>();
    let collect = async {
        let mut answers = Vec::new();
        while let Some(msg) = rx.recv().await {
            if msg.get("method").is_none() {
                answers.push(msg);
            } else {
                let _ = interim.try_send(msg);
            }
        }
        answers
    };
    let (_, answers) = tokio::join!(runs, collect);
    answers
}
