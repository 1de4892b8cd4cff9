//! How the answer to one POST reaches its client. The request is worked on
//! inline, in the task that serves the POST, for up to `QUICK_ANSWER`: an
//! answer that comes first goes back as plain JSON, costing no task of its
//! own, no stream and no thread hand-off. Anything else first (progress, a
//! request for the client), or nothing by then, detaches the work into a
//! task of its own; the HTTP front then gives an SSE client a resumable
//! stream and a JSON-only client `json_answer`.

use crate::errors::GatewayError;
use crate::protocol::ClientContext;
use crate::relay::ClientSession;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// How long a request is worked on inline before its answer is given up
/// on as a quick one. A slower one gets a resumable SSE stream (primed,
/// for 2025-11-25 clients) once this has passed.
const QUICK_ANSWER: Duration = Duration::from_millis(50);

/// What the relay may have queued for one request before its answer.
const INTERIM_BUFFER: usize = 32;

/// The relay's work on one request.
type Work = Pin<Box<dyn Future<Output = ()> + Send>>;

/// What the relay produced first for a request.
pub enum First {
    /// The answer to the request itself.
    Answer(Value),
    /// Something for the client before the answer.
    Interim(Value),
    /// Nothing within `QUICK_ANSWER`.
    Slow,
    /// The relay let go without sending anything (a cancelled request).
    Ended,
}

/// A request being worked on inline. If the client hangs up meanwhile, the
/// POST's task is dropped, and with it this: the work then goes on in a
/// task of its own (hanging up is not a cancellation) and what it sends is
/// read and dropped, as on a stream nobody reads.
pub struct Inline {
    work: Option<Work>,
    rx: Option<mpsc::Receiver<Value>>,
}

impl Inline {
    pub fn start(session: Arc<ClientSession>, context: Arc<ClientContext>, msg: Value) -> Inline {
        let (tx, rx) = mpsc::channel(INTERIM_BUFFER);
        let work: Work = Box::pin(async move { session.handle(&context, msg, tx).await });
        Inline { work: Some(work), rx: Some(rx) }
    }

    /// Works on the request until it sends something or `QUICK_ANSWER`
    /// passes. `id` is the request's, to tell its answer from the rest.
    pub async fn first(&mut self, id: &Value) -> First {
        let (Some(work), Some(rx)) = (&mut self.work, &mut self.rx) else { return First::Ended };
        let quick = tokio::time::sleep(QUICK_ANSWER);
        tokio::pin!(quick);
        let sent = tokio::select! {
            biased;
            msg = rx.recv() => msg,
            () = work.as_mut() => {
                // Done: everything it sent is in the channel already.
                self.work = None;
                rx.try_recv().ok()
            }
            () = &mut quick => return First::Slow,
        };
        match sent {
            None => First::Ended,
            Some(msg) if msg.get("method").is_none() && msg.get("id") == Some(id) => First::Answer(msg),
            Some(msg) => First::Interim(msg),
        }
    }

    /// Lets unfinished work go on in a task of its own and returns the
    /// channel on which it sends the rest.
    pub fn detach(mut self) -> mpsc::Receiver<Value> {
        if let Some(work) = self.work.take() {
            tokio::spawn(work);
        }
        self.rx.take().expect("the channel is taken only here")
    }
}

impl Drop for Inline {
    fn drop(&mut self) {
        let (Some(work), Some(mut rx)) = (self.work.take(), self.rx.take()) else { return };
        tokio::spawn(async move {
            let drain = async { while rx.recv().await.is_some() {} };
            futures::future::join(work, drain).await;
        });
    }
}

/// What the client is told of a request still unanswered at the drain deadline.
pub fn shut_down_unanswered() -> GatewayError {
    GatewayError::Internal("the gateway shut down before this request was answered".into())
}

/// For a client that accepts only JSON: wait for the answer itself.
/// Requests for the client made meanwhile (an upstream's elicitation, the
/// gateway's approval form) cannot ride on a JSON answer, and the call may
/// wait on them: they go to the session's GET stream instead.
pub async fn json_answer(
    session: &ClientSession,
    mut first: Option<Value>,
    mut rx: mpsc::Receiver<Value>,
    id: Value,
    deadline: &CancellationToken,
) -> Response {
    loop {
        let msg = match first.take() {
            Some(msg) => Some(msg),
            None => tokio::select! {
                biased;
                msg = rx.recv() => msg,
                () = deadline.cancelled() => {
                    return (StatusCode::SERVICE_UNAVAILABLE, axum::Json(shut_down_unanswered().to_response(id)))
                        .into_response();
                }
            },
        };
        let Some(msg) = msg else { break };
        let (is_request, is_answer) = match (msg.get("method"), msg.get("id")) {
            (None, Some(answered)) => (false, *answered == id),
            (Some(_), Some(_)) => (true, false),
            // Progress and logging about this request have nowhere to go.
            _ => (false, false),
        };
        if is_answer {
            return axum::Json(msg).into_response();
        }
        if is_request && !session.send_unsolicited(msg) {
            tracing::warn!(session = %session.label, "dropped a request for a JSON-only client with no stream to take it");
        }
    }
    let ended = GatewayError::Internal("the request ended without an answer".into());
    (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(ended.to_response(id))).into_response()
}
