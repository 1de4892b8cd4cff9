//! The client side: how MCP clients reach the gateway. Each front turns
//! what arrives on its transport into JSON-RPC messages and a
//! `protocol::ClientContext`, and hands both to the relay.

pub mod http;
pub mod stdio;

use crate::relay::ClientSession;
use serde_json::Value;
use std::sync::Arc;
use tokio::sync::mpsc;

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
