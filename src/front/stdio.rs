//! The stdio front: the gateway as a command an MCP client launches
//! (Claude Desktop's `claude_desktop_config.json`). Newline-delimited
//! JSON-RPC on stdin/stdout; logs go to stderr only, since anything else on
//! stdout would corrupt the protocol.
//!
//! It ends when stdin closes (the client is gone: everything it started is
//! dropped) or when the shutdown token is cancelled (the client is still
//! there: requests in flight get until `[listen] drain_timeout` to be
//! answered, the rest an error, before stdout is flushed).

use crate::errors::GatewayError;
use crate::gateway::Gateway;
use crate::jsonrpc::{self, Kind};
use crate::lines::{BoundedLines, Line};
use crate::protocol::{Caller, ClientContext};
use crate::relay::{ClientSession, Scope};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::{Id, JoinSet};
use tokio_util::sync::CancellationToken;

/// Serves one client on the given streams until its input ends or
/// `shutdown` is cancelled.
pub async fn serve<R, W>(gateway: Arc<Gateway>, input: R, mut output: W, shutdown: CancellationToken)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let max = gateway.config.listen.max_body_bytes;
    let drain = gateway.config.listen.drain_timeout;
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
                if out.send(*msg).await.is_err() {
                    break;
                }
            }
        })
    };

    let mut lines = BoundedLines::new(input, max);
    let mut tasks = JoinSet::new();
    // Set by the client's `initialize`, before any later line is read, so
    // every request after it is handled in it. The process that launched
    // the gateway is the local caller.
    let mut context: Option<Arc<ClientContext>> = None;
    let mut opened_at = Instant::now();
    // The id of each single request in flight, by its task: what to answer
    // with an error if the drain deadline cuts it off.
    let mut requests: HashMap<Id, Value> = HashMap::new();
    let signalled = loop {
        let read = tokio::select! {
            biased;
            () = shutdown.cancelled() => break true,
            read = lines.next_line() => read,
        };
        let line = match read {
            Ok(Some(Line::Complete(line))) if line.iter().all(u8::is_ascii_whitespace) => continue,
            Ok(Some(Line::Complete(line))) => line,
            Ok(Some(Line::TooLong)) => {
                let err = GatewayError::InvalidRequest(format!("message larger than {max} bytes"));
                let _ = out.send(err.to_response(Value::Null)).await;
                continue;
            }
            Ok(None) => break false,
            Err(e) => {
                tracing::warn!("reading stdin failed: {e}");
                break false;
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
                Ok(opened) => {
                    super::log_opened(&session, &opened, "stdio");
                    opened_at = Instant::now();
                    context = Some(opened);
                }
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
                let id = match jsonrpc::classify(&msg) {
                    Ok(Kind::Request { id, .. }) => Some(id.clone()),
                    _ => None,
                };
                let task = tasks.spawn(async move { session.handle(&context, msg, out).await });
                if let Some(id) = id {
                    requests.insert(task.id(), id);
                }
            }
        }
        while let Some(done) = tasks.try_join_next_with_id() {
            requests.remove(&task_id(&done));
        }
    };
    if signalled {
        drain_requests(&mut tasks, requests, &out, drain).await;
    }
    // After stdin closed the client is gone, and so is everything it
    // started; after a drain this ends nothing that is still owed an answer.
    tasks.abort_all();
    forward.abort();
    drop(out);
    if let Some(context) = &context {
        let how = if signalled { super::Closed::Shutdown } else { super::Closed::StdinClosed };
        super::log_closed(&session.label, context, how, opened_at.elapsed());
    }
    drop(session);
    let _ = tokio::time::timeout(Duration::from_secs(1), writer).await;
}

fn task_id(done: &Result<(Id, ()), tokio::task::JoinError>) -> Id {
    match done {
        Ok((id, ())) => *id,
        Err(e) => e.id(),
    }
}

/// Lets the requests in flight finish until `drain` has passed, then ends
/// the rest, telling the client of each request that it was cut off.
async fn drain_requests(
    tasks: &mut JoinSet<()>,
    mut requests: HashMap<Id, Value>,
    out: &mpsc::Sender<Value>,
    drain: Duration,
) {
    let started = Instant::now();
    tracing::info!(
        "shutting down: {} request(s) in flight, waiting up to {} for them (a second SIGINT or SIGTERM exits at once)",
        requests.len(),
        humantime::format_duration(drain)
    );
    let finished = tokio::time::timeout(drain, async {
        while let Some(done) = tasks.join_next_with_id().await {
            requests.remove(&task_id(&done));
        }
    })
    .await;
    if finished.is_ok() {
        tracing::info!("drained in {} ms: every request was answered", started.elapsed().as_millis());
        return;
    }
    tasks.abort_all();
    // A task that finished before the abort took effect has sent its
    // answer; only the ones the abort stopped are owed an error.
    let mut cut_off = 0;
    while let Some(done) = tasks.join_next_with_id().await {
        let id = task_id(&done);
        let unanswered = requests.remove(&id);
        if let (Err(e), Some(request)) = (&done, unanswered) {
            if e.is_cancelled() {
                cut_off += 1;
                let reason = "the gateway shut down before this request was answered";
                let _ = out.send(GatewayError::Internal(reason.into()).to_response(request)).await;
            }
        }
    }
    tracing::warn!("drain deadline passed: {cut_off} request(s) still in flight were ended with an error");
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
