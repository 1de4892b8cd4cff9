//! The boundary between an upstream connection and the bytes that carry it.
//! A transport moves whole JSON-RPC messages; it never decides anything and
//! never looks inside a message beyond what framing needs.

use serde_json::Value;

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
