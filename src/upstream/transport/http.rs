//! Upstream MCP servers reached over Streamable HTTP (2025-03-26 and later).
//!
//! Every message is its own POST; the answer comes back as one JSON body or
//! as an SSE stream that may carry the server's own requests and
//! notifications before the response. Messages read from a POST's stream are
//! tagged with that request's id so the relay can send them to the client
//! request that caused them. A GET stream, when the server offers one,
//! carries the rest.
//!
//! A stream whose events carry ids is resumed when it drops (or ends
//! before its answer, as a 2025-11-25 server may do on purpose): a GET with
//! `Last-Event-ID` asks the server for the rest of that stream.

use super::sse::SseParser;
use super::{Outbound, TransportEvent};
use crate::protocol::{SESSION_HEADER, VERSION_HEADER};
use bytes::Bytes;
use futures::{Stream, StreamExt};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

struct Shared {
    client: reqwest::Client,
    /// Parsed once: reqwest would parse a string again for every request.
    url: reqwest::Url,
    headers: HeaderMap,
    session: Mutex<Option<String>>,
    version: Mutex<Option<String>>,
    max_message_bytes: usize,
    events: mpsc::Sender<TransportEvent>,
}

/// Deletes the upstream session when the connection is dropped, as the
/// specification asks of a client that is done with a session.
struct SessionCloser(Arc<Shared>);

impl Drop for SessionCloser {
    fn drop(&mut self) {
        let session = self.0.session.lock().expect("session lock").clone();
        if let (Some(session), Ok(handle)) = (session, tokio::runtime::Handle::try_current()) {
            let shared = self.0.clone();
            handle.spawn(async move {
                let req = shared
                    .client
                    .delete(shared.url.clone())
                    .headers(shared.headers.clone())
                    .header(SESSION_HEADER, session);
                let _ = tokio::time::timeout(Duration::from_secs(5), req.send()).await;
            });
        }
    }
}

pub fn spawn(
    client: reqwest::Client,
    url: &str,
    headers: &[(String, String)],
    max_message_bytes: usize,
) -> Result<(mpsc::Sender<Outbound>, mpsc::Receiver<TransportEvent>), String> {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        let name = HeaderName::try_from(name.as_str()).map_err(|e| format!("header name {name:?}: {e}"))?;
        let value = HeaderValue::try_from(value.as_str()).map_err(|e| format!("header {name}: {e}"))?;
        map.insert(name, value);
    }
    let url = reqwest::Url::parse(url).map_err(|e| format!("the upstream url does not parse: {e}"))?;
    let (out_tx, out_rx) = mpsc::channel::<Outbound>(64);
    let (ev_tx, ev_rx) = mpsc::channel::<TransportEvent>(64);
    let shared = Arc::new(Shared {
        client,
        url,
        headers: map,
        session: Mutex::new(None),
        version: Mutex::new(None),
        max_message_bytes,
        events: ev_tx,
    });
    tokio::spawn(dispatch(shared, out_rx));
    Ok((out_tx, ev_rx))
}

async fn dispatch(shared: Arc<Shared>, mut rx: mpsc::Receiver<Outbound>) {
    let _closer = SessionCloser(shared.clone());
    let mut get_stream: Option<tokio::task::JoinHandle<()>> = None;
    while let Some(out) = rx.recv().await {
        let opens_stream = crate::jsonrpc::method(&out.msg) == Some("notifications/initialized");
        let task = tokio::spawn(post(shared.clone(), out));
        if opens_stream && get_stream.is_none() {
            // The GET stream needs the session that initialize created and
            // the server's consent, both settled once initialized is through.
            let _ = task.await;
            get_stream = Some(tokio::spawn(listen(shared.clone())));
        }
    }
    if let Some(task) = get_stream {
        task.abort();
    }
}

fn request_headers(shared: &Shared) -> HeaderMap {
    let mut headers = shared.headers.clone();
    if let Some(session) = shared.session.lock().expect("session lock").as_deref() {
        if let Ok(value) = HeaderValue::from_str(session) {
            headers.insert(SESSION_HEADER, value);
        }
    }
    if let Some(version) = shared.version.lock().expect("version lock").as_deref() {
        if let Ok(value) = HeaderValue::from_str(version) {
            headers.insert(VERSION_HEADER, value);
        }
    }
    headers
}

async fn post(shared: Arc<Shared>, out: Outbound) {
    let is_initialize = crate::jsonrpc::method(&out.msg) == Some("initialize");
    let fail = |detail: String| {
        let shared = shared.clone();
        async move {
            match out.request_id {
                Some(id) => {
                    let _ = shared.events.send(TransportEvent::RequestFailed { id, detail }).await;
                }
                None => tracing::warn!(url = %shared.url, "could not deliver a message upstream: {detail}"),
            }
        }
    };
    let body = match serde_json::to_vec(&out.msg) {
        Ok(body) => body,
        Err(e) => return fail(format!("could not encode the message: {e}")).await,
    };
    let response = shared
        .client
        .post(shared.url.clone())
        .headers(request_headers(&shared))
        .header(http::header::ACCEPT, "application/json, text/event-stream")
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await;
    let response = match response {
        Ok(response) => response,
        Err(e) => return fail(format!("request failed: {}", error_chain(&e))).await,
    };
    let status = response.status();
    if status == StatusCode::NOT_FOUND && shared.session.lock().expect("session lock").is_some() {
        // The server forgot our session: everything in flight is lost and
        // the connection must start over with a new initialize.
        let _ = shared.events.send(TransportEvent::Closed("the upstream session expired (HTTP 404)".into())).await;
        return;
    }
    if !status.is_success() {
        let text = read_capped(response.bytes_stream(), 512).await.unwrap_or_default();
        let text = String::from_utf8_lossy(&text);
        return fail(format!("HTTP {status}: {}", text.trim())).await;
    }
    if let Some(session) = response.headers().get(SESSION_HEADER).and_then(|v| v.to_str().ok()) {
        *shared.session.lock().expect("session lock") = Some(session.to_string());
    }
    if status == StatusCode::ACCEPTED || out.request_id.is_none() {
        return;
    }
    let content_type = response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if content_type.starts_with("text/event-stream") {
        let mut cursor = Cursor::default();
        let mut outcome = read_sse(&shared, response.bytes_stream(), out.request_id, is_initialize, &mut cursor).await;
        let mut attempt = 0;
        while outcome.resumable() && cursor.last_id.is_some() && attempt < RESUME_ATTEMPTS {
            attempt += 1;
            tokio::time::sleep(cursor.delay(attempt)).await;
            outcome = match resume(&shared, &cursor).await {
                Ok(stream) => read_sse(&shared, stream, out.request_id, is_initialize, &mut cursor).await,
                Err(detail) => {
                    SseOutcome::Failed(format!("the response stream dropped and resuming it failed: {detail}"))
                }
            };
        }
        match outcome {
            SseOutcome::Answered => {}
            SseOutcome::Ended => fail("the upstream ended its response stream without answering".into()).await,
            // Dropping the response here hangs up on the rest of the stream.
            SseOutcome::Broke(detail) | SseOutcome::Failed(detail) => fail(detail).await,
        }
    } else if content_type.starts_with("application/json") {
        let answered = match read_capped(response.bytes_stream(), shared.max_message_bytes).await {
            Ok(body) => match serde_json::from_slice::<Value>(&body) {
                Ok(msg) => deliver(&shared, msg, out.request_id, is_initialize).await,
                Err(e) => return fail(format!("the response is not JSON: {e}")).await,
            },
            Err(detail) => return fail(detail).await,
        };
        if !answered {
            fail("the upstream ended its response stream without answering".into()).await;
        }
    } else {
        fail(format!("unexpected content type {content_type:?}")).await;
    }
}

/// Hands messages to the relay. Returns whether the answer to `request_id`
/// was among them.
async fn deliver(shared: &Shared, msg: Value, request_id: Option<u64>, is_initialize: bool) -> bool {
    let messages = match msg {
        Value::Array(batch) => batch,
        one => vec![one],
    };
    let mut answered = false;
    for msg in messages {
        let is_answer =
            request_id.is_some() && msg.get("method").is_none() && msg.get("id").and_then(Value::as_u64) == request_id;
        if is_answer && is_initialize {
            if let Some(version) = msg.pointer("/result/protocolVersion").and_then(Value::as_str) {
                *shared.version.lock().expect("version lock") = Some(version.to_string());
            }
        }
        answered |= is_answer;
        if shared.events.send(TransportEvent::Message { msg, related: request_id }).await.is_err() {
            break;
        }
    }
    answered
}

/// How reading one SSE response ended.
enum SseOutcome {
    /// The answer to the request that opened the stream arrived.
    Answered,
    /// The stream ended without it.
    Ended,
    /// The connection broke.
    Broke(String),
    /// The stream went over the cap; nothing more is read from it.
    Failed(String),
}

impl SseOutcome {
    /// Whether the rest of the stream may still come on a resumed one: not
    /// after the server sent something the gateway refuses to read.
    fn resumable(&self) -> bool {
        matches!(self, SseOutcome::Ended | SseOutcome::Broke(_))
    }
}

/// Resuming a dropped stream is tried this many times before the request fails.
const RESUME_ATTEMPTS: u32 = 3;
/// The longest wait before resuming a stream, whatever the server's `retry`.
const MAX_RESUME_DELAY: Duration = Duration::from_secs(5);

/// Where a stream stands, for resuming it.
#[derive(Default)]
struct Cursor {
    last_id: Option<String>,
    retry: Option<Duration>,
}

impl Cursor {
    fn delay(&self, attempt: u32) -> Duration {
        let backoff = Duration::from_millis(100) * 2u32.saturating_pow(attempt.saturating_sub(1));
        self.retry.unwrap_or(backoff).min(MAX_RESUME_DELAY)
    }
}

/// Asks for the rest of a stream (GET with `Last-Event-ID`).
async fn resume(shared: &Shared, cursor: &Cursor) -> Result<impl Stream<Item = reqwest::Result<Bytes>>, String> {
    let last_id = cursor.last_id.as_deref().unwrap_or_default();
    let last_id =
        HeaderValue::from_str(last_id).map_err(|_| "the server's event id is not a header value".to_string())?;
    let response = shared
        .client
        .get(shared.url.clone())
        .headers(request_headers(shared))
        .header(http::header::ACCEPT, "text/event-stream")
        .header("last-event-id", last_id)
        .send()
        .await
        .map_err(|e| error_chain(&e))?;
    let is_sse = response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("text/event-stream"));
    if !response.status().is_success() || !is_sse {
        return Err(format!("HTTP {}", response.status()));
    }
    Ok(response.bytes_stream())
}

async fn read_sse<S>(
    shared: &Shared,
    bytes: S,
    request_id: Option<u64>,
    is_initialize: bool,
    cursor: &mut Cursor,
) -> SseOutcome
where
    S: Stream<Item = reqwest::Result<Bytes>>,
{
    let mut parser = SseParser::new(shared.max_message_bytes);
    let mut bytes = std::pin::pin!(bytes);
    let mut events = Vec::new();
    while let Some(chunk) = bytes.next().await {
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(e) => return SseOutcome::Broke(format!("the SSE stream broke: {}", error_chain(&e))),
        };
        // Events completed before a failure in the same chunk arrived whole,
        // so they are delivered before the failure is reported.
        let fed = parser.feed(&chunk, &mut events);
        cursor.retry = parser.retry_ms().map(Duration::from_millis).or(cursor.retry);
        for event in events.drain(..) {
            if event.id.is_some() {
                cursor.last_id = event.id.clone();
            }
            if event.data.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Value>(&event.data) {
                Ok(msg) => {
                    if deliver(shared, msg, request_id, is_initialize).await {
                        // The answer is in; the server closes the stream
                        // itself, and nothing it says after that belongs to
                        // this request.
                        return SseOutcome::Answered;
                    }
                }
                Err(e) => {
                    let detail = format!("invalid JSON in an SSE event: {e}");
                    let _ = shared.events.send(TransportEvent::Malformed(detail)).await;
                }
            }
        }
        if let Err(e) = fed {
            return SseOutcome::Failed(e.to_string());
        }
    }
    if let Some(id) = parser.last_event_id() {
        tracing::debug!(url = %shared.url, last_event_id = id, "SSE stream ended");
    }
    SseOutcome::Ended
}

/// The GET stream for messages that belong to no request. Reconnects with
/// backoff while the connection lives; stops if the server has none (405).
async fn listen(shared: Arc<Shared>) {
    let mut delay = Duration::from_millis(250);
    // Carried from one connection to the next, so a server that keeps
    // events sends again only what the gateway missed.
    let mut cursor = Cursor::default();
    loop {
        let mut request = shared
            .client
            .get(shared.url.clone())
            .headers(request_headers(&shared))
            .header(http::header::ACCEPT, "text/event-stream");
        if let Some(last_id) = cursor.last_id.as_deref().and_then(|id| HeaderValue::from_str(id).ok()) {
            request = request.header("last-event-id", last_id);
        }
        let response = request.send().await;
        match response {
            Ok(r) if r.status() == StatusCode::METHOD_NOT_ALLOWED => return,
            Ok(r) if r.status().is_success() => {
                delay = Duration::from_millis(250);
                // What broke the stream belongs to no request, so it fails
                // none: the stream is opened again.
                match read_sse(&shared, r.bytes_stream(), None, false, &mut cursor).await {
                    SseOutcome::Broke(detail) | SseOutcome::Failed(detail) => {
                        tracing::warn!(url = %shared.url, "GET stream dropped: {detail}");
                    }
                    SseOutcome::Answered | SseOutcome::Ended => {}
                }
            }
            Ok(r) if r.status() == StatusCode::NOT_FOUND => return,
            Ok(r) => tracing::debug!(url = %shared.url, status = %r.status(), "GET stream refused"),
            Err(e) => tracing::debug!(url = %shared.url, "GET stream failed: {}", error_chain(&e)),
        }
        if shared.events.is_closed() {
            return;
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(30));
    }
}

async fn read_capped<S>(mut bytes: S, cap: usize) -> Result<Vec<u8>, String>
where
    S: Stream<Item = reqwest::Result<Bytes>> + Unpin,
{
    let mut body = Vec::new();
    while let Some(chunk) = bytes.next().await {
        let chunk = chunk.map_err(|e| format!("reading the response failed: {}", error_chain(&e)))?;
        if body.len() + chunk.len() > cap {
            return Err(format!("the response is larger than {cap} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
