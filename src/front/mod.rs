//! The client side: how MCP clients reach the gateway. Protocol-era
//! handling (versions, sessions, headers) lives here and in the upstream
//! transports, never in policy or relay code.

pub mod http;
pub mod stdio;

use crate::relay::ClientSession;
use serde_json::Value;
use std::sync::Arc;
use tokio::sync::mpsc;

pub const LATEST_PROTOCOL_VERSION: &str = "2025-11-25";
pub const SUPPORTED_PROTOCOL_VERSIONS: [&str; 3] = ["2025-11-25", "2025-06-18", "2025-03-26"];
/// The most messages one JSON-RPC batch may carry (2025-03-26 clients).
pub const MAX_BATCH: usize = 1000;

/// The version the gateway speaks with a client that asked for `requested`:
/// the same if supported, else the latest, which the client may refuse.
pub fn negotiate(requested: &str) -> &'static str {
    SUPPORTED_PROTOCOL_VERSIONS.iter().copied().find(|v| *v == requested).unwrap_or(LATEST_PROTOCOL_VERSION)
}

pub fn session_id() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Runs every message of a batch and gathers the answers; whatever the
/// upstreams send meanwhile goes to `interim`.
pub async fn run_batch(session: &Arc<ClientSession>, batch: Vec<Value>, interim: &mpsc::Sender<Value>) -> Vec<Value> {
    let (tx, mut rx) = mpsc::channel::<Value>(64);
    let runs: Vec<_> = batch
        .into_iter()
        .map(|msg| {
            let session = session.clone();
            let tx = tx.clone();
            async move { session.handle(msg, tx).await }
        })
        .collect();
    drop(tx);
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
    let (_, answers) = tokio::join!(futures::future::join_all(runs), collect);
    answers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_echoes_supported_versions_and_offers_latest_otherwise() {
        assert_eq!(negotiate("2025-03-26"), "2025-03-26");
        assert_eq!(negotiate("2024-11-05"), LATEST_PROTOCOL_VERSION);
        assert_eq!(negotiate(""), LATEST_PROTOCOL_VERSION);
    }

    #[test]
    fn session_ids_are_128_bit_hex_and_distinct() {
        let (a, b) = (session_id(), session_id());
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
