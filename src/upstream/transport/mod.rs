//! The boundary between an upstream connection and the bytes that carry it.
//! A transport moves whole JSON-RPC messages; it never decides anything and
//! never looks inside a message beyond what framing needs.

mod http;
mod sse;
mod stderr;
mod stdio;

pub use stderr::StderrLog;

use crate::config::{UpstreamConfig, UpstreamTransport};
use serde_json::Value;
use std::sync::Arc;
use tokio::sync::mpsc;

/// One message for the upstream.
#[derive(Debug)]
pub struct Outbound {
    pub msg: Value,
    /// The gateway-side id when `msg` is a request. Streamable HTTP uses it
    /// to tag what the upstream sends back on that request's stream.
    pub request_id: Option<u64>,
}

#[derive(Debug)]
pub enum TransportEvent {
    /// A message from the upstream. `related` is the request whose HTTP
    /// stream carried it, when the transport can tell.
    Message { msg: Value, related: Option<u64> },
    /// A request could not be delivered or its answer could not be read.
    RequestFailed { id: u64, detail: String },
    /// The upstream wrote something that is not a JSON-RPC message.
    Malformed(String),
    /// The connection is gone (process exited, session expired).
    Closed(String),
}

/// Opens a fresh connection to `config`'s upstream: the sender takes
/// messages to it, the receiver yields what comes back. `max_message_bytes`
/// caps every message (and every SSE event) the upstream can make the
/// gateway hold. A stdio upstream's stderr goes to `stderr_log`.
pub fn open(
    config: &UpstreamConfig,
    http: &reqwest::Client,
    max_message_bytes: usize,
    stderr_log: &Arc<StderrLog>,
) -> Result<(mpsc::Sender<Outbound>, mpsc::Receiver<TransportEvent>), String> {
    match &config.transport {
        transport @ UpstreamTransport::Stdio { command, .. } => stdio::spawn(transport, max_message_bytes, stderr_log)
            .map_err(|e| format!("could not start {}: {e}", command.display())),
        UpstreamTransport::Http { url, headers } => {
            let headers: Vec<(String, String)> =
                headers.iter().map(|(k, v)| (k.clone(), v.as_str().to_string())).collect();
            http::spawn(http.clone(), url, &headers, max_message_bytes)
        }
    }
}
