//! The client side: how MCP clients reach the gateway. Each front turns
//! what arrives on its transport into JSON-RPC messages and a
//! `protocol::ClientContext`, and hands both to the relay.
//!
//! - `http`: Streamable HTTP (`/mcp`, `/mcp/<server>`);
//! - `stdio`: one client on stdin/stdout (Claude Desktop);
//! - `streams`: the HTTP front's resumable SSE streams (`Last-Event-ID`);
//! - `auth`: who an HTTP request comes from (the `Caller`).

pub mod auth;
pub mod http;
pub mod stdio;
mod streams;

use crate::errors::GatewayError;
use crate::jsonrpc;
use crate::protocol::{era2025, Caller, ClientContext, MAX_BATCH};
use crate::relay::ClientSession;
use serde_json::Value;
use std::sync::Arc;
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
