//! What the Model Context Protocol itself says, independent of transport and
//! of policy: the revisions the gateway speaks, how a version is negotiated,
//! the header names, session ids, and who is calling with what
//! (`ClientContext`). Reaches nothing above it: fronts, the relay, the call
//! pipeline and the upstream side all read the protocol from here.
//!
//! # Eras
//! The gateway serves two eras of the protocol, and each maps onto the same
//! pipeline through one `ClientContext` per request:
//!
//! - **2025** (2025-03-26, 2025-06-18, 2025-11-25; `era2025`): a session
//!   starts with `initialize`; the front keeps the context built from its
//!   params (`ClientContext::from_initialize`) with the session and hands it
//!   to the relay with every later request. A server-to-client request
//!   (`elicitation/create`, `sampling/createMessage`, `roots/list`, and the
//!   gateway's own approval form) is a JSON-RPC request sent on the stream of
//!   the client request it belongs to, answered by a client response.
//! - **2026-07-28** (not served yet: `server/discover` gets 400): stateless.
//!   Every request carries `_meta` with `io.modelcontextprotocol/protocolVersion`
//!   and `io.modelcontextprotocol/clientCapabilities`; its front will build a
//!   fresh `ClientContext` from each request's `_meta` (and check that the
//!   `MCP-Protocol-Version`, `Mcp-Method` and `Mcp-Name` headers agree with the
//!   body: policy reads only the body). A server-to-client request becomes an
//!   `input_required` result carrying the question and an integrity-protected
//!   `requestState`; the client answers by repeating the request with the
//!   answer, and the pipeline resumes the held call from that state. The
//!   relay, the call pipeline, policy and approval see only `ClientContext`
//!   and JSON-RPC frames, so adding the era touches the front and this module.

mod context;
pub mod era2025;

pub use context::{Caller, ClientContext, ClientInfo};

/// The revision offered to a client that asks for one the gateway does not speak.
pub const LATEST_PROTOCOL_VERSION: &str = "2025-11-25";
/// The session-based revisions, newest first.
pub const SUPPORTED_PROTOCOL_VERSIONS: [&str; 3] = ["2025-11-25", "2025-06-18", "2025-03-26"];
/// The most messages one JSON-RPC batch may carry (2025-03-26 clients).
pub const MAX_BATCH: usize = 1000;

/// Streamable HTTP: the session a request belongs to.
pub const SESSION_HEADER: &str = "mcp-session-id";
/// Streamable HTTP: the negotiated revision, on every request after `initialize`.
pub const VERSION_HEADER: &str = "mcp-protocol-version";

/// The version the gateway speaks with a client that asked for `requested`:
/// the same if supported, else the latest, which the client may refuse.
pub fn negotiate(requested: &str) -> &'static str {
    SUPPORTED_PROTOCOL_VERSIONS.iter().copied().find(|v| *v == requested).unwrap_or(LATEST_PROTOCOL_VERSION)
}

/// Whether `version` is a revision this gateway speaks (the header check).
pub fn is_supported(version: &str) -> bool {
    SUPPORTED_PROTOCOL_VERSIONS.contains(&version)
}

/// A new session id: 128 random bits in hex. It is the client's bearer
/// handle on its session, so it must not be guessable.
pub fn session_id() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_echoes_supported_versions_and_offers_latest_otherwise() {
        assert_eq!(negotiate("2025-03-26"), "2025-03-26");
        assert_eq!(negotiate("2024-11-05"), LATEST_PROTOCOL_VERSION);
        assert_eq!(negotiate(""), LATEST_PROTOCOL_VERSION);
        assert!(is_supported("2025-06-18"));
        assert!(!is_supported("2026-07-28"), "the stateless era is not served yet");
    }

    #[test]
    fn session_ids_are_128_bit_hex_and_distinct() {
        let (a, b) = (session_id(), session_id());
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
