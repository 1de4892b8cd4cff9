//! The stdio front: the gateway as a command an MCP client launches
//! (Claude Desktop's `claude_desktop_config.json`). Newline-delimited
//! JSON-RPC on stdin/stdout; logs go to stderr only, since anything else on
//! stdout would corrupt the protocol.

use crate::errors::GatewayError;
use crate::gateway::Gateway;
use crate::lines::{BoundedLines, Line};
use crate::relay::{ClientSession, Scope};
use serde_json::Value;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

/// Serves one client on the given streams until its input ends.
pub async fn serve<R, W>(gateway: Arc<Gateway>, input: R, mut output: W)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let max = gateway.config.listen.max_body_bytes;
    let (session, mut unsolicited) =
        ClientSession::new(gateway, Scope::Aggregate, format!("stdio-{}", crate::protocol::session_id()));
    let (out, mut out_rx) = mpsc::channel::<Value>(256);
    let writer = tokio::spawn(async move {
        while let Some(msg) = out_rx.recv().await {
            let mut line = serde_json::to_vec(&msg).unwrap_or_default();
            line.push(b'\n');
            if output.write_all(&line).await.is_err() || output.flush().await.is_err() {
                break;
            }
        }
    });
    let forward = {
        let out = out.clone();
        tokio::spawn(async move {
            while let Some(msg) = unsolicited.recv().await {
                if out.send(msg).await.is_err() {
                    break;
                }
            }
        })
    };

    let mut lines = BoundedLines::new(input, max);
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        let line = match lines.next_line().await {
            Ok(Some(Line::Complete(line))) if line.iter().all(u8::is_ascii_whitespace) => continue,
            Ok(Some(Line::Complete(line))) => line,
            Ok(Some(Line::TooLong)) => {
                let err = GatewayError::InvalidRequest(format!("message larger than {max} bytes"));
                let _ = out.send(err.to_response(Value::Null)).await;
                continue;
            }
            Ok(None) => break,
            Err(e) => {
                tracing::warn!("reading stdin failed: {e}");
                break;
            }
        };
        match serde_json::from_slice::<Value>(&line) {
            Ok(Value::Array(batch)) => {
                let session = session.clone();
                let out = out.clone();
                tasks.spawn(async move {
                    let answer = batch_answer(&session, batch, &out).await;
                    if let Some(answer) = answer {
                        let _ = out.send(answer).await;
                    }
                });
            }
            Ok(msg) => {
                let session = session.clone();
                let out = out.clone();
                tasks.spawn(async move { session.handle(msg, out).await });
            }
            Err(e) => {
                let _ = out.send(GatewayError::Parse(e.to_string()).to_response(Value::Null)).await;
            }
        }
        while tasks.try_join_next().is_some() {}
    }
    // The client closed stdin: it is gone, and so is everything it started.
    tasks.abort_all();
    forward.abort();
    drop(out);
    drop(session);
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), writer).await;
}

async fn batch_answer(session: &Arc<ClientSession>, batch: Vec<Value>, out: &mpsc::Sender<Value>) -> Option<Value> {
    if batch.is_empty() || batch.len() > crate::protocol::MAX_BATCH {
        let reason = format!("a batch must hold 1 to {} messages", crate::protocol::MAX_BATCH);
        return Some(GatewayError::InvalidRequest(reason).to_response(Value::Null));
    }
    let answers = super::run_batch(session, batch, out).await;
    (!answers.is_empty()).then_some(Value::Array(answers))
}
