//! One client session's connection to one upstream: starts the transport,
//! performs the MCP handshake, remaps request ids, matches responses to
//! requests, and restarts a crashed upstream with backoff. What each
//! attempt to start it comes to is reported to the pool's `UpstreamStatus`,
//! which logs the upstream's changes of health once for all sessions.
//!
//! Upstream sessions are never shared between client sessions. That keeps
//! per-client state (roots, log level, subscriptions) apart and means a
//! server-to-client request can only ever reach the client that owns the
//! session.

use super::status::{Health, UpstreamStatus};
use super::transport::{self, Outbound, TransportEvent};
use super::Hello;
use crate::config::{RelayConfig, UpstreamConfig};
use crate::errors::GatewayError;
use crate::jsonrpc::{self, Kind};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, watch, OwnedSemaphorePermit};
use tokio_util::sync::{CancellationToken, DropGuard};

/// What an upstream session hands the client session that owns it, in the
/// order the upstream sent it.
///
/// Boxed: the channel that carries these allocates its slots in blocks of
/// 32 when a client session opens, and unboxed events would make that 4 KiB
/// per idle session.
#[derive(Debug)]
pub enum UpstreamEvent {
    Message(Box<UpstreamMessage>),
    Answer(Box<Answer>),
}

/// Something an upstream sent that is not an answer to the gateway.
#[derive(Debug)]
pub struct UpstreamMessage {
    pub upstream: usize,
    pub msg: Value,
    /// The gateway-side id of the request whose stream carried it, if known.
    pub related: Option<u64>,
    /// Counts the message as unrouted until whoever routes it drops it.
    _routing: Routing,
}

/// One message of an upstream session on its way to the client; while any
/// is, answers queue behind them (see `answer_in_order`).
#[derive(Debug)]
struct Routing(Arc<AtomicUsize>);

impl Routing {
    fn start(unrouted: &Arc<AtomicUsize>) -> Routing {
        unrouted.fetch_add(1, Ordering::AcqRel);
        Routing(unrouted.clone())
    }
}

impl Drop for Routing {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

type Waiter = oneshot::Sender<Result<Value, GatewayError>>;

/// An answer to one of the gateway's requests, on its way to the request
/// that waits for it. It reaches its waiter when released, or when dropped:
/// whoever drops it unreleased routes nothing, so nothing can overtake it.
pub struct Answer {
    waiter: Option<Waiter>,
    answer: Option<Result<Value, GatewayError>>,
}

impl Answer {
    /// Hands the answer to its request, once everything the upstream sent
    /// before it has been routed.
    pub fn release(self) {
        drop(self);
    }
}

impl Drop for Answer {
    fn drop(&mut self) {
        if let (Some(waiter), Some(answer)) = (self.waiter.take(), self.answer.take()) {
            let _ = waiter.send(answer);
        }
    }
}

impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Answer").field("answer", &self.answer).finish_non_exhaustive()
    }
}

#[derive(Clone)]
enum Link {
    /// An attempt to start it is under way, or about to be (a restart after
    /// a lost connection, once the backoff has passed).
    Connecting,
    Ready {
        tx: mpsc::Sender<Outbound>,
        init: Arc<Value>,
    },
    /// This session's last attempt to start it failed; the next waits for
    /// the backoff.
    Down(String),
}

type Pending = Mutex<HashMap<u64, Waiter>>;

struct Inner {
    index: usize,
    config: Arc<UpstreamConfig>,
    relay: RelayConfig,
    http: reqwest::Client,
    hello: Hello,
    status: Arc<UpstreamStatus>,
    next_id: AtomicU64,
    pending: Pending,
    /// Messages of this upstream handed to the client session's router and
    /// not yet routed.
    unrouted: Arc<AtomicUsize>,
    link: watch::Sender<Link>,
    events: Mutex<mpsc::Sender<UpstreamEvent>>,
}

pub struct UpstreamSession {
    inner: Arc<Inner>,
    _stop: DropGuard,
    /// The pool's slot this session takes while a client owns it; dropping
    /// the session gives it back.
    slot: Option<OwnedSemaphorePermit>,
}

/// How long the handshake with a freshly started upstream may take. Generous
/// because `npx` may download the server on first start.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(120);
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

impl UpstreamSession {
    pub(super) fn start(
        index: usize,
        config: Arc<UpstreamConfig>,
        relay: RelayConfig,
        http: reqwest::Client,
        hello: Hello,
        status: Arc<UpstreamStatus>,
        events: mpsc::Sender<UpstreamEvent>,
    ) -> UpstreamSession {
        let (link, _) = watch::channel(Link::Connecting);
        let inner = Arc::new(Inner {
            index,
            config,
            relay,
            http,
            hello,
            status,
            next_id: AtomicU64::new(1),
            pending: Mutex::new(HashMap::new()),
            unrouted: Arc::new(AtomicUsize::new(0)),
            link,
            events: Mutex::new(events),
        });
        let stop = CancellationToken::new();
        tokio::spawn(drive(inner.clone(), stop.clone()));
        UpstreamSession { inner, _stop: stop.drop_guard(), slot: None }
    }

    pub fn name(&self) -> &str {
        &self.inner.config.name
    }

    pub fn hello(&self) -> &Hello {
        &self.inner.hello
    }

    /// Points server-to-client traffic at a new owner (a warm spare being
    /// handed to a client session).
    pub(super) fn set_events(&self, events: mpsc::Sender<UpstreamEvent>) {
        *self.inner.events.lock().expect("events lock") = events;
    }

    /// Counts this session against the pool's cap for as long as it lives.
    pub(super) fn hold(&mut self, slot: OwnedSemaphorePermit) {
        self.slot = Some(slot);
    }

    /// Waits until the upstream is connected, or `timeout` passes.
    pub async fn ready(&self, timeout: Duration) -> Result<Arc<Value>, GatewayError> {
        self.ready_link(timeout).await.map(|(_, init)| init)
    }

    /// The connection, once it is ready. Waits (up to `timeout`) only while
    /// an attempt is under way on an upstream that is starting or healthy:
    /// when this session's last attempt failed, or the pool knows the
    /// upstream is failing, the answer is no at once, with the reason.
    async fn ready_link(&self, timeout: Duration) -> Result<(mpsc::Sender<Outbound>, Arc<Value>), GatewayError> {
        let mut link = self.inner.link.subscribe();
        let mut health = self.inner.status.watch();
        let wait = async {
            loop {
                match &*link.borrow_and_update() {
                    Link::Ready { tx, init } => return Ok((tx.clone(), init.clone())),
                    Link::Down(detail) => return Err(detail.clone()),
                    Link::Connecting => {}
                }
                if let Health::Failing { detail, attempts } = &*health.borrow_and_update() {
                    let s = if *attempts == 1 { "" } else { "s" };
                    return Err(format!("{detail} ({attempts} failed attempt{s} to start it; retrying)"));
                }
                tokio::select! {
                    changed = link.changed() => changed.map_err(|_| "the connection closed".to_string())?,
                    changed = health.changed() => changed.map_err(|_| "the gateway is stopping".to_string())?,
                }
            }
        };
        match tokio::time::timeout(timeout, wait).await {
            Ok(Ok(ready)) => Ok(ready),
            Ok(Err(detail)) => Err(self.unavailable(detail)),
            Err(_) => Err(self.unavailable("still connecting".to_string())),
        }
    }

    fn unavailable(&self, detail: String) -> GatewayError {
        GatewayError::UpstreamUnavailable { server: self.inner.config.name.clone(), detail }
    }

    /// Sends a request and waits for its answer. The request's id is replaced
    /// by a gateway-side one; `on_sent` learns it (for cancellation and for
    /// routing what the upstream sends while it works). The answer comes back
    /// with the gateway-side id; the caller restores the client's.
    pub async fn request(
        &self,
        mut msg: Value,
        timeout: Duration,
        on_sent: impl FnOnce(u64),
    ) -> Result<Value, GatewayError> {
        let deadline = Instant::now() + timeout;
        let (tx, _) = self.ready_link(timeout).await?;
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        msg["id"] = json!(id);
        let (answer_tx, answer_rx) = oneshot::channel();
        self.inner.pending.lock().expect("pending lock").insert(id, answer_tx);
        if tx.send(Outbound { msg, request_id: Some(id) }).await.is_err() {
            self.inner.pending.lock().expect("pending lock").remove(&id);
            return Err(self.unavailable("the connection closed".into()));
        }
        on_sent(id);
        let remaining = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(remaining, answer_rx).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => Err(self.unavailable("the connection closed".into())),
            Err(_) => {
                self.cancel(id, "timed out in mcp-warden").await;
                Err(GatewayError::UpstreamTimeout { server: self.inner.config.name.clone(), after: timeout })
            }
        }
    }

    /// Gives up on a request: it will not be answered to anyone, and the
    /// upstream is told to stop working on it.
    pub async fn cancel(&self, id: u64, reason: &str) {
        if self.inner.pending.lock().expect("pending lock").remove(&id).is_some() {
            let note =
                jsonrpc::notification("notifications/cancelled", Some(json!({ "requestId": id, "reason": reason })));
            self.send(note).await;
        }
    }

    /// Sends a notification or a response; dropped if the upstream is down
    /// (whatever it was about died with the old connection).
    pub async fn send(&self, msg: Value) {
        if self.inner.config.roots.is_some() && jsonrpc::method(&msg) == Some("notifications/roots/list_changed") {
            // The client's roots are not this upstream's: nothing changed for it.
            return;
        }
        let tx = match &*self.inner.link.borrow() {
            Link::Ready { tx, .. } => tx.clone(),
            _ => return,
        };
        let _ = tx.send(Outbound { msg, request_id: None }).await;
    }
}

/// Starts the transport and performs the handshake.
async fn connect(
    inner: &Inner,
) -> Result<(mpsc::Sender<Outbound>, mpsc::Receiver<TransportEvent>, Arc<Value>), String> {
    let (tx, mut rx) =
        transport::open(&inner.config, &inner.http, inner.relay.max_message_bytes, inner.status.stderr())?;
    let id = inner.next_id.fetch_add(1, Ordering::Relaxed);
    let init = jsonrpc::request(
        json!(id),
        "initialize",
        json!({
            "protocolVersion": inner.hello.protocol_version,
            "capabilities": inner.hello.capabilities,
            "clientInfo": { "name": "mcp-warden", "version": env!("CARGO_PKG_VERSION") },
        }),
    );
    tx.send(Outbound { msg: init, request_id: Some(id) }).await.map_err(|_| "the connection closed".to_string())?;
    let answer = tokio::time::timeout(HANDSHAKE_TIMEOUT, async {
        while let Some(event) = rx.recv().await {
            match event {
                TransportEvent::Message { msg, .. } => {
                    if let Ok(Kind::Response { id: got }) = jsonrpc::classify(&msg) {
                        if got.as_u64() == Some(id) {
                            return Ok(msg);
                        }
                    }
                    // Logging or pings before the handshake ends carry
                    // nothing the client asked for.
                }
                TransportEvent::RequestFailed { detail, .. } => return Err(detail),
                TransportEvent::Malformed(detail) => tracing::warn!(server = %inner.config.name, "{detail}"),
                TransportEvent::Closed(detail) => return Err(detail),
            }
        }
        Err("the connection closed during the handshake".to_string())
    })
    .await
    .map_err(|_| format!("no answer to initialize within {}", humantime::format_duration(HANDSHAKE_TIMEOUT)))??;
    if let Some(error) = answer.get("error") {
        return Err(format!("initialize was refused: {error}"));
    }
    let result = answer.get("result").cloned().unwrap_or(Value::Null);
    if !result.get("protocolVersion").is_some_and(Value::is_string) {
        return Err("the answer to initialize has no protocolVersion".to_string());
    }
    tx.send(Outbound { msg: jsonrpc::notification("notifications/initialized", None), request_id: None })
        .await
        .map_err(|_| "the connection closed".to_string())?;
    Ok((tx, rx, Arc::new(result)))
}

async fn drive(inner: Arc<Inner>, stop: CancellationToken) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        inner.link.send_replace(Link::Connecting);
        let attempt = tokio::select! {
            attempt = connect(&inner) => attempt,
            _ = stop.cancelled() => return,
        };
        // Subscribed before the outcome is reported, so that only a recovery
        // reported after it can cut this session's backoff short.
        let mut health = inner.status.watch();
        let start_failed = attempt.is_err();
        match attempt {
            Ok((tx, mut rx, init)) => {
                inner.status.ready(init.clone());
                inner.link.send_replace(Link::Ready { tx: tx.clone(), init });
                let up_since = Instant::now();
                let detail = tokio::select! {
                    detail = pump(&inner, &tx, &mut rx) => detail,
                    _ = stop.cancelled() => return,
                };
                // One session's connection going is not the upstream's
                // health changing (the others may be fine): the restart's
                // outcome is. Requests wait for the restart meanwhile.
                let steady = up_since.elapsed() > MAX_BACKOFF;
                let name = &inner.config.name;
                if steady || backoff == FIRST_BACKOFF {
                    tracing::warn!(server = %name, "upstream \"{name}\": a session's connection was lost: {detail}; restarting it");
                } else {
                    // It keeps dying soon after starting: said once already.
                    tracing::debug!(server = %name, "upstream \"{name}\": a session's connection was lost again: {detail}");
                }
                if steady {
                    backoff = FIRST_BACKOFF;
                }
                inner.link.send_replace(Link::Connecting);
                fail_all(&inner, &detail);
            }
            Err(detail) => {
                inner.status.failed(&detail);
                inner.link.send_replace(Link::Down(detail.clone()));
                fail_all(&inner, &detail);
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            // Another session started it: this one need not wait out a
            // backoff grown while it was down.
            _ = recovered(&mut health), if start_failed => {
                backoff = FIRST_BACKOFF;
                continue;
            }
            _ = stop.cancelled() => return,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Returns when the upstream's health changes to ready.
async fn recovered(health: &mut watch::Receiver<Health>) {
    while health.changed().await.is_ok() {
        if *health.borrow_and_update() == Health::Ready {
            return;
        }
    }
    std::future::pending().await
}

/// Routes what the upstream sends until the connection closes.
async fn pump(inner: &Inner, tx: &mpsc::Sender<Outbound>, rx: &mut mpsc::Receiver<TransportEvent>) -> String {
    while let Some(event) = rx.recv().await {
        match event {
            TransportEvent::Message { msg, related } => match jsonrpc::classify(&msg) {
                Ok(Kind::Request { id, method: "roots/list" }) if inner.config.roots.is_some() => {
                    let roots = pinned_roots(&inner.config);
                    let answer = jsonrpc::result(id.clone(), json!({ "roots": roots }));
                    let _ = tx.send(Outbound { msg: answer, request_id: None }).await;
                }
                Ok(Kind::Response { id }) => {
                    let waiter = id.as_u64().and_then(|id| inner.pending.lock().expect("pending lock").remove(&id));
                    match waiter {
                        Some(waiter) => answer_in_order(inner, waiter, Ok(msg)).await,
                        // A late answer to a request that timed out or was
                        // cancelled: its client has already been told.
                        None => tracing::debug!(server = %inner.config.name, "dropping an answer nobody waits for"),
                    }
                }
                Ok(_) => {
                    let events = inner.events.lock().expect("events lock").clone();
                    let routing = Routing::start(&inner.unrouted);
                    let message = UpstreamMessage { upstream: inner.index, msg, related, _routing: routing };
                    let _ = events.send(UpstreamEvent::Message(Box::new(message))).await;
                }
                Err(e) => malformed(inner, format!("sent a message that is not JSON-RPC ({e})")),
            },
            TransportEvent::RequestFailed { id, detail } => {
                let waiter = inner.pending.lock().expect("pending lock").remove(&id);
                if let Some(waiter) = waiter {
                    let failed = GatewayError::UpstreamUnavailable { server: inner.config.name.clone(), detail };
                    answer_in_order(inner, waiter, Err(failed)).await;
                }
            }
            TransportEvent::Malformed(detail) => malformed(inner, detail),
            TransportEvent::Closed(detail) => return detail,
        }
    }
    "the connection closed".to_string()
}

/// Hands an answer to its request behind whatever the upstream sent before
/// it. A notification about a request (progress, logging) travels the
/// events channel to the client session's router, which puts it on the
/// request's stream; were the answer handed straight to its waiter, the
/// request could end, and its stream with it, while that notification still
/// waited in the channel. So the answer takes the same channel: it is FIFO,
/// and the router finishes routing each message (it is on the client's
/// stream) before it takes the next, so by the time it releases the answer,
/// every earlier message of the upstream is ahead of it on that stream.
///
/// When every message this upstream sent before the answer has been routed
/// already (the usual case: a call with no progress), nothing can be
/// overtaken, and the answer goes straight to its waiter, saving the
/// router a wake-up per call.
async fn answer_in_order(inner: &Inner, waiter: Waiter, answer: Result<Value, GatewayError>) {
    if inner.unrouted.load(Ordering::Acquire) == 0 {
        let _ = waiter.send(answer);
        return;
    }
    let events = inner.events.lock().expect("events lock").clone();
    let answer = Box::new(Answer { waiter: Some(waiter), answer: Some(answer) });
    // When nobody routes events any more, the returned answer is dropped
    // here, which delivers it.
    let _ = events.send(UpstreamEvent::Answer(answer)).await;
}

/// A garbled message cannot be matched to its request. When exactly one
/// request is waiting it must have been the answer, so that request fails now
/// rather than at its timeout.
fn malformed(inner: &Inner, detail: String) {
    tracing::warn!(server = %inner.config.name, "{detail}");
    let mut pending = inner.pending.lock().expect("pending lock");
    if pending.len() == 1 {
        let id = *pending.keys().next().expect("one entry");
        if let Some(waiter) = pending.remove(&id) {
            let _ = waiter.send(Err(GatewayError::UpstreamUnavailable { server: inner.config.name.clone(), detail }));
        }
    }
}

/// The `roots/list` answer for an upstream with pinned `roots`.
fn pinned_roots(config: &UpstreamConfig) -> Vec<Value> {
    let roots = config.roots.as_deref().unwrap_or_default();
    roots.iter().map(|r| json!({ "uri": r.uri, "name": r.name })).collect()
}

fn fail_all(inner: &Inner, detail: &str) {
    let waiters: Vec<_> = inner.pending.lock().expect("pending lock").drain().map(|(_, w)| w).collect();
    for waiter in waiters {
        let _ = waiter.send(Err(GatewayError::UpstreamUnavailable {
            server: inner.config.name.clone(),
            detail: detail.to_string(),
        }));
    }
}
