//! The stdio front: the gateway as a command an MCP client launches
//! (Claude Desktop's `claude_desktop_config.json`). Newline-delimited
//! JSON-RPC on stdin/stdout; logs go to stderr only, since anything else on
//! stdout would corrupt the protocol.

use crate::errors::GatewayError;
use crate::gateway::Gateway;
use crate::jsonrpc::{self, Kind};
use crate::lines::{BoundedLines, Line};
use crate::protocol::{Caller, ClientContext};
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
    // Set by the client's `initialize`, before any later line is read, so
    // every request after it is handled in it. The process that launched
    // the gateway is the local caller.
    let mut context: Option<Arc<ClientContext>> = None;
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
        let msg = match serde_json::from_slice::<Value>(&line) {
            Ok(msg) => msg,
            Err(e) => {
                let _ = out.send(GatewayError::Parse(e.to_string()).to_response(Value::Null)).await;
                continue;
            }
        };
        if jsonrpc::method(&msg) == Some("initialize") {
            let opened = match (&context, jsonrpc::classify(&msg)) {
                (Some(_), Ok(Kind::Request { id, .. })) => {
                    Err((id.clone(), GatewayError::InvalidRequest("the session is already initialized".into())))
                }
                (None, Ok(Kind::Request { id, .. })) => {
                    super::context_from_initialize(&msg, Caller::Local).map(Arc::new).map_err(|e| (id.clone(), e))
                }
                _ => Err((Value::Null, GatewayError::InvalidRequest("initialize must be a request".into()))),
            };
            match opened {
                Ok(opened) => context = Some(opened),
                Err((id, err)) => {
                    let _ = out.send(err.to_response(id)).await;
                    continue;
                }
            }
        }
        let Some(context) = context.clone() else {
            // Before the handshake only a request deserves an answer.
            if let Ok(Kind::Request { id, .. }) = jsonrpc::classify(&msg) {
                let _ = out.send(super::not_initialized().to_response(id.clone())).await;
            }
            continue;
        };
        let session = session.clone();
        let out = out.clone();
        match msg {
            Value::Array(batch) => {
                tasks.spawn(async move {
                    if let Some(answer) = batch_answer(&session, &context, batch, &out).await {
                        let _ = out.send(answer).await;
                    }
                });
            }
            msg => {
                tasks.spawn(async move { session.handle(&context, msg, out).await });
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

async fn batch_answer(
    session: &Arc<ClientSession>,
    context: &ClientContext,
    batch: Vec<Value>,
    out: &mpsc::Sender<Value>,
) -> Option<Value> {
    if let Err(err) = super::check_batch(&batch) {
        return Some(err.to_response(Value::Null));
    }
    let answers = super::run_batch(session, context, batch, out).await;
    (!answers.is_empty()).then_some(Value::Array(answers))
}
