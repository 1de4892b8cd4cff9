//! The Streamable HTTP front (MCP 2025-03-26 and later): POST, GET and
//! DELETE on one path, `/mcp` for the aggregated endpoint and
//! `/mcp/<server>` for one server with its names unchanged.
//!
//! Everything a browser could abuse is checked before any MCP is read: the
//! Host header (DNS rebinding), the Origin header (cross-site requests), and
//! the body size. Sessions are 128-bit random ids; an unknown one is a 404 so
//! the client starts over; `sessions` keeps them and closes the idle ones.
//!
//! Shutdown drains: once the shutdown token is cancelled, new requests are
//! refused, GET streams end, and requests in flight have until
//! `[listen] drain_timeout` to be answered; those still open then end with
//! an error.

use super::answer::{json_answer, shut_down_unanswered, First, Inline};
use super::auth::{Authenticator, Unauthenticated};
use super::sessions::{Found, Sessions};
use super::streams::{self, Cursor, SessionStreams, GET_STREAM};
use crate::errors::GatewayError;
use crate::gateway::Gateway;
use crate::jsonrpc::{self, Kind};
use crate::protocol::{
    self, session_id, Caller, ClientContext, SESSION_HEADER, SUPPORTED_PROTOCOL_VERSIONS, VERSION_HEADER,
};
use crate::relay::{ClientSession, Scope};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::sse::{KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use futures::StreamExt;
use serde_json::Value;
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// After the drain deadline, how long the requests cut off get to carry
/// their error to the client; a client that does not read it does not hold
/// up the exit.
const CUT_OFF_GRACE: Duration = Duration::from_millis(500);

/// A response that ends the request early (boxed: responses are large).
type Refusal = Box<Response>;

pub struct HttpFront {
    gateway: Arc<Gateway>,
    auth: Box<dyn Authenticator>,
    sessions: Arc<Sessions>,
    /// Cancelled when shutdown starts: new requests are refused and GET
    /// streams end, since nothing in flight waits on them.
    closing: CancellationToken,
    /// Cancelled when the drain deadline passes: the requests still open
    /// end with an error rather than a stream that simply stops.
    deadline: CancellationToken,
    /// POST requests whose answer has not been sent yet.
    in_flight: Arc<AtomicUsize>,
}

/// Counts one POST from its arrival to the end of its answer, which for an
/// SSE answer is when the stream ends, long after the handler returned.
struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    fn enter(count: &Arc<AtomicUsize>) -> InFlight {
        count.fetch_add(1, Ordering::Relaxed);
        InFlight(count.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

fn router(front: &Arc<HttpFront>) -> Router {
    let path = front.gateway.config.listen.path.trim_end_matches('/').to_string();
    let limit = front.gateway.config.listen.max_body_bytes;
    let idle_timeout = front.gateway.config.listen.session_idle_timeout;
    tokio::spawn(Sessions::sweep_idle(Arc::downgrade(&front.sessions), idle_timeout));
    Router::new()
        .route(if path.is_empty() { "/" } else { &path }, any(aggregate))
        .route(&format!("{path}/{{server}}"), any(single))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(front.clone())
}

/// Serves until `shutdown` is cancelled, then drains: no new connections
/// or requests, GET streams end at once, and requests in flight have until
/// `[listen] drain_timeout` to be answered. Returns when every connection
/// has closed or the deadline (plus a short grace for the errors it sends)
/// has passed; connections still open then are the caller's to drop.
pub async fn serve(
    gateway: Arc<Gateway>,
    listener: tokio::net::TcpListener,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    use std::future::IntoFuture;
    // SSE answers are written in small pieces; with Nagle's algorithm on,
    // each would wait for the peer's delayed ACK (about 40 ms per call).
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let drain = gateway.config.listen.drain_timeout;
    let idle_cap = gateway.config.relay.max_idle_upstream_sessions;
    let front = Arc::new(HttpFront {
        gateway,
        auth: Box::new(Unauthenticated),
        sessions: Arc::new(Sessions::new(idle_cap)),
        closing: shutdown.clone(),
        deadline: CancellationToken::new(),
        in_flight: Arc::new(AtomicUsize::new(0)),
    });
    let server = axum::serve(listener, router(&front)).with_graceful_shutdown(shutdown.clone().cancelled_owned());
    let server = std::pin::pin!(server.into_future());
    let ended = drain_on_shutdown(&front, server, &shutdown, drain).await;
    front.sessions.close_all();
    ended
}

/// Waits for `shutdown`, then gives requests in flight until `drain`.
async fn drain_on_shutdown(
    front: &HttpFront,
    mut server: std::pin::Pin<&mut impl std::future::Future<Output = std::io::Result<()>>>,
    shutdown: &CancellationToken,
    drain: Duration,
) -> std::io::Result<()> {
    tokio::select! {
        biased;
        () = shutdown.cancelled() => {}
        ended = &mut server => return ended,
    }
    let started = Instant::now();
    tracing::info!(
        "shutting down: {} request(s) in flight, waiting up to {} for them (a second SIGINT or SIGTERM exits at once)",
        front.in_flight.load(Ordering::Relaxed),
        humantime::format_duration(drain)
    );
    if let Ok(ended) = tokio::time::timeout(drain, &mut server).await {
        tracing::info!("drained in {} ms: every request was answered", started.elapsed().as_millis());
        return ended;
    }
    let cut_off = front.in_flight.load(Ordering::Relaxed);
    front.deadline.cancel();
    let _ = tokio::time::timeout(CUT_OFF_GRACE, &mut server).await;
    tracing::warn!("drain deadline passed: {cut_off} request(s) still in flight were ended with an error");
    Ok(())
}

impl HttpFront {
    /// The endpoint a session of `scope` is on, as a log line names it.
    fn endpoint(&self, scope: Scope) -> String {
        let path = self.gateway.config.listen.path.trim_end_matches('/');
        match scope {
            Scope::Aggregate if path.is_empty() => "/".into(),
            Scope::Aggregate => path.into(),
            Scope::Single(upstream) => format!("{path}/{}", self.gateway.pool.config(upstream).name),
        }
    }
}

async fn aggregate(State(front): State<Arc<HttpFront>>, method: Method, headers: HeaderMap, body: Bytes) -> Response {
    front.handle(Scope::Aggregate, method, headers, body).await
}

async fn single(
    State(front): State<Arc<HttpFront>>,
    Path(server): Path<String>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(upstream) = front.gateway.pool.index_of(&server) else {
        return plain(StatusCode::NOT_FOUND, &format!("no upstream server is named \"{server}\""));
    };
    if !front.gateway.policy().server_reachable(&server) {
        return plain(StatusCode::FORBIDDEN, &format!("the policy allows nothing on server \"{server}\""));
    }
    front.handle(Scope::Single(upstream), method, headers, body).await
}

fn plain(status: StatusCode, text: &str) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], format!("{text}\n")).into_response()
}

fn rpc_error(status: StatusCode, err: GatewayError) -> Response {
    (status, axum::Json(err.to_response(Value::Null))).into_response()
}

/// The host part of a `Host` header or an origin's authority.
fn host_of(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or_default();
    }
    authority.rsplit_once(':').map_or(authority, |(host, _)| host)
}

fn is_loopback_name(host: &str) -> bool {
    matches!(host.to_ascii_lowercase().as_str(), "localhost" | "127.0.0.1" | "::1")
}

impl HttpFront {
    /// DNS-rebinding and cross-site checks. A page on another site can make
    /// a browser send requests here; only loopback names and configured
    /// hosts and origins get through.
    fn check_origin_and_host(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        let listen = &self.gateway.config.listen;
        let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
        let host_ok =
            is_loopback_name(host_of(host)) || listen.allowed_hosts.iter().any(|h| h == host || h == host_of(host));
        if !host_ok {
            return Err(Box::new(plain(StatusCode::FORBIDDEN, &format!("Host {host:?} is not allowed"))));
        }
        if let Some(origin) = headers.get(header::ORIGIN) {
            let origin = origin.to_str().unwrap_or_default();
            let authority = origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://"));
            let origin_ok = authority.is_some_and(|a| is_loopback_name(host_of(a)))
                || listen.allowed_origins.iter().any(|o| o == origin);
            if !origin_ok {
                return Err(Box::new(plain(StatusCode::FORBIDDEN, &format!("Origin {origin:?} is not allowed"))));
            }
        }
        Ok(())
    }

    /// The session a request names, and its id. A session belongs to the
    /// caller that opened it: another caller presenting its id finds nothing.
    fn lookup(&self, headers: &HeaderMap, scope: Scope, caller: &Caller) -> Result<(String, Found), Refusal> {
        let Some(id) = headers.get(SESSION_HEADER).and_then(|v| v.to_str().ok()) else {
            let err = GatewayError::InvalidRequest("the Mcp-Session-Id header is required".into());
            return Err(Box::new(rpc_error(StatusCode::BAD_REQUEST, err)));
        };
        match self.sessions.find(id, scope, caller) {
            Some(found) => Ok((id.to_string(), found)),
            None => Err(Box::new(plain(StatusCode::NOT_FOUND, "unknown or expired session: initialize a new one"))),
        }
    }

    async fn handle(self: Arc<Self>, scope: Scope, method: Method, headers: HeaderMap, body: Bytes) -> Response {
        if let Err(refused) = self.check_origin_and_host(&headers) {
            return *refused;
        }
        if self.closing.is_cancelled() {
            return plain(StatusCode::SERVICE_UNAVAILABLE, "the gateway is shutting down");
        }
        let caller = match self.auth.authenticate(&headers) {
            Ok(caller) => caller,
            Err(refusal) => return plain(StatusCode::UNAUTHORIZED, &refusal.to_string()),
        };
        if let Some(version) = headers.get(VERSION_HEADER) {
            let version = version.to_str().unwrap_or_default();
            if !protocol::is_supported(version) {
                let err = GatewayError::InvalidRequest(format!(
                    "unsupported MCP-Protocol-Version {version:?}; supported: {}",
                    SUPPORTED_PROTOCOL_VERSIONS.join(", ")
                ));
                return rpc_error(StatusCode::BAD_REQUEST, err);
            }
        }
        match method {
            Method::POST => self.post(scope, &headers, caller, body).await,
            Method::GET => self.get(scope, &headers, &caller),
            Method::DELETE => self.delete(scope, &headers, &caller),
            _ => (StatusCode::METHOD_NOT_ALLOWED, [(header::ALLOW, "GET, POST, DELETE")]).into_response(),
        }
    }

    async fn post(self: Arc<Self>, scope: Scope, headers: &HeaderMap, caller: Caller, body: Bytes) -> Response {
        let in_flight = InFlight::enter(&self.in_flight);
        let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
        if !content_type.to_ascii_lowercase().starts_with("application/json") {
            return plain(StatusCode::UNSUPPORTED_MEDIA_TYPE, "Content-Type must be application/json");
        }
        // No Accept header means anything goes; the spec asks clients for
        // both types, but one of them is enough to be answered in it.
        let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("*/*").to_ascii_lowercase();
        let wants_sse = accept.contains("text/event-stream") || accept.contains("*/*");
        if !wants_sse && !accept.contains("application/json") {
            return plain(
                StatusCode::NOT_ACCEPTABLE,
                "Accept must include text/event-stream (answers may stream), application/json (one JSON answer) \
                 or */*; a POST without an Accept header is answered as */*",
            );
        }
        let msg: Value = match serde_json::from_slice(&body) {
            Ok(msg) => msg,
            Err(e) => return rpc_error(StatusCode::BAD_REQUEST, GatewayError::Parse(e.to_string())),
        };
        if jsonrpc::method(&msg) == Some("initialize") {
            return self.initialize(scope, caller, msg).await;
        }
        let Found { session, context, streams, .. } = match self.lookup(headers, scope, &caller) {
            Ok((_, found)) => found,
            Err(refused) => return *refused,
        };
        let msg = match msg {
            Value::Array(batch) => {
                return tokio::select! {
                    answer = batch_response(&session, &context, batch) => answer,
                    () = self.deadline.cancelled() => {
                        rpc_error(StatusCode::SERVICE_UNAVAILABLE, shut_down_unanswered())
                    }
                }
            }
            msg => msg,
        };
        let id = match jsonrpc::classify(&msg) {
            Ok(Kind::Request { id, .. }) => id.clone(),
            Ok(_) => {
                session.handle(&context, msg, mpsc::channel(1).0).await;
                return StatusCode::ACCEPTED.into_response();
            }
            Err(e) => {
                let id = msg.get("id").filter(|id| id.is_string() || id.is_number()).cloned().unwrap_or(Value::Null);
                return (
                    StatusCode::BAD_REQUEST,
                    axum::Json(GatewayError::InvalidRequest(e.to_string()).to_response(id)),
                )
                    .into_response();
            }
        };
        // Clients of 2025-11-25 and later skip an event without data; older
        // ones would choke on it.
        let prime = context.protocol_version.as_str() >= "2025-11-25";
        let mut call = Inline::start(session.clone(), context, msg);
        let first = tokio::select! {
            biased;
            first = call.first(&id) => first,
            () = self.deadline.cancelled() => {
                return rpc_error(StatusCode::SERVICE_UNAVAILABLE, shut_down_unanswered());
            }
        };
        let rx = call.detach();
        let first = match first {
            // The call is over: a plain JSON answer costs the client and the
            // gateway less than a stream of one event.
            First::Answer(answer) => return axum::Json(answer).into_response(),
            First::Interim(msg) => Some(msg),
            First::Slow | First::Ended => None,
        };
        if wants_sse {
            let stream = streams.open(first.as_ref(), rx);
            let cut_off = shut_down_unanswered().to_response(id);
            let events = streams::read(stream, 0, prime, self.deadline.clone(), cut_off, in_flight);
            Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response()
        } else {
            json_answer(&session, first, rx, id, &self.deadline).await
        }
    }

    async fn initialize(&self, scope: Scope, caller: Caller, msg: Value) -> Response {
        let request_id = match jsonrpc::classify(&msg) {
            Ok(Kind::Request { id, .. }) => id.clone(),
            _ => {
                return rpc_error(
                    StatusCode::BAD_REQUEST,
                    GatewayError::InvalidRequest("initialize must be a request".into()),
                )
            }
        };
        let context = match super::context_from_initialize(&msg, caller) {
            Ok(context) => Arc::new(context),
            Err(err) => return (StatusCode::OK, axum::Json(err.to_response(request_id))).into_response(),
        };
        if !self.sessions.has_room() {
            return plain(StatusCode::SERVICE_UNAVAILABLE, "too many open sessions");
        }
        let id = session_id();
        let (session, unsolicited) = ClientSession::new(self.gateway.clone(), scope, id.clone());
        let (tx, mut rx) = mpsc::channel(4);
        session.handle(&context, msg, tx).await;
        let answer = rx.recv().await.unwrap_or(Value::Null);
        if answer.get("result").is_none() {
            return (StatusCode::OK, axum::Json(answer)).into_response();
        }
        super::log_opened(&session, &context, &self.endpoint(scope));
        let streams = SessionStreams::new(self.gateway.config.listen.replay_buffer);
        self.sessions.insert(id.clone(), session, context, scope, unsolicited, streams);
        let mut response = axum::Json(answer).into_response();
        response.headers_mut().insert(SESSION_HEADER, HeaderValue::from_str(&id).expect("hex is a valid header value"));
        response
    }

    fn get(&self, scope: Scope, headers: &HeaderMap, caller: &Caller) -> Response {
        let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or_default();
        if !accept.to_ascii_lowercase().contains("text/event-stream") {
            return plain(
                StatusCode::NOT_ACCEPTABLE,
                "a GET opens the session's SSE stream: Accept must include text/event-stream",
            );
        }
        let found = match self.lookup(headers, scope, caller) {
            Ok((_, found)) => found,
            Err(refused) => return *refused,
        };
        let cursor = match headers.get("last-event-id") {
            None => None,
            Some(value) => match value.to_str().ok().and_then(Cursor::parse) {
                Some(cursor) => Some(cursor),
                None => return plain(StatusCode::BAD_REQUEST, "Last-Event-ID is not an event id of this gateway"),
            },
        };
        match cursor {
            Some(cursor) if cursor.stream != GET_STREAM => self.resume(&found, cursor),
            cursor => self.get_stream(&found, cursor.map(|c| c.seen)),
        }
    }

    /// The session's GET stream; `replay_after` (from `Last-Event-ID`)
    /// first sends what the previous GET stream may not have delivered.
    fn get_stream(&self, found: &Found, replay_after: Option<u64>) -> Response {
        let slot = found.unsolicited.clone();
        let Some(rx) = slot.lock().expect("stream slot").take() else {
            return plain(StatusCode::CONFLICT, "this session already has an open GET stream");
        };
        let Some(kept) = found.streams.find(GET_STREAM) else {
            return plain(StatusCode::NOT_FOUND, "unknown or expired session");
        };
        let replay = replay_after.map(|seen| kept.after(seen)).unwrap_or_default();
        let replay =
            futures::stream::iter(replay).map(|(id, data)| Ok::<_, Infallible>(streams::message_event(&id, &data)));
        // When the client hangs up, the receiver goes back for the next GET.
        let live = futures::stream::unfold(StreamSlot { slot, rx: Some(rx), kept }, |mut state| async move {
            let msg = state.rx.as_mut()?.recv().await?;
            let id = state.kept.push(&msg);
            Some((Ok::<_, Infallible>(streams::message_event(&id, &msg.to_string())), state))
        });
        // Nothing in flight waits on this stream, and the server's graceful
        // shutdown waits on every open response: it ends as shutdown starts.
        let stream = replay.chain(live).take_until(self.closing.clone().cancelled_owned());
        Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response()
    }

    /// A request's stream again, from after the event `Last-Event-ID` names:
    /// what the client missed, then the rest, up to the answer.
    fn resume(&self, found: &Found, cursor: Cursor) -> Response {
        let Some(stream) = found.streams.find(cursor.stream) else {
            return plain(
                StatusCode::BAD_REQUEST,
                "Last-Event-ID names a stream this session no longer keeps (it ended long ago, or never was)",
            );
        };
        let in_flight = InFlight::enter(&self.in_flight);
        let cut_off = shut_down_unanswered().to_response(Value::Null);
        let events = streams::read(stream, cursor.seen, false, self.deadline.clone(), cut_off, in_flight);
        Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response()
    }

    fn delete(&self, scope: Scope, headers: &HeaderMap, caller: &Caller) -> Response {
        let id = match self.lookup(headers, scope, caller) {
            Ok((id, _)) => id,
            Err(refused) => return *refused,
        };
        self.sessions.delete(&id);
        StatusCode::OK.into_response()
    }
}

struct StreamSlot {
    slot: super::sessions::StreamSource,
    rx: Option<crate::relay::Unsolicited>,
    /// What this GET stream sent lately, for the next one to replay.
    kept: Arc<streams::Replay>,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        if let Some(rx) = self.rx.take() {
            *self.slot.lock().expect("stream slot") = Some(rx);
        }
    }
}

async fn batch_response(session: &Arc<ClientSession>, context: &ClientContext, batch: Vec<Value>) -> Response {
    if let Err(err) = super::check_batch(&batch) {
        return rpc_error(StatusCode::BAD_REQUEST, err);
    }
    // Interim messages of a batch have no stream of their own; they are dropped.
    let (interim, _) = mpsc::channel(1);
    let answers = super::run_batch(session, context, batch, &interim).await;
    if answers.is_empty() {
        return StatusCode::ACCEPTED.into_response();
    }
    axum::Json(Value::Array(answers)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_of_strips_ports_and_brackets() {
        assert_eq!(host_of("localhost:8080"), "localhost");
        assert_eq!(host_of("[::1]:8080"), "::1");
        assert_eq!(host_of("127.0.0.1"), "127.0.0.1");
        assert_eq!(host_of("evil.example:80"), "evil.example");
    }

    #[test]
    fn only_loopback_names_count_as_loopback() {
        assert!(is_loopback_name("LOCALHOST"));
        assert!(!is_loopback_name("localhost.evil.example"));
        assert!(!is_loopback_name("127.0.0.1.nip.io"));
    }
}
