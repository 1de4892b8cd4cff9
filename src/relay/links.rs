//! One client session's connections to its upstreams: opened on first use
//! (an idle session costs no upstream process), each belonging to this
//! session alone, so a server-to-client request can only reach the client
//! that owns the connection.
//!
//! A `tools/call` leaves through `send_call` only, which takes the call
//! pipeline's `Cleared`; every other path refuses a frame that names a
//! policed method, however it is spelled.

use crate::call::{frame, Cleared};
use crate::errors::GatewayError;
use crate::jsonrpc;
use crate::protocol::ClientContext;
use crate::upstream::{Hello, UpstreamEvent, UpstreamPool, UpstreamSession};
use serde_json::Value;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::sync::mpsc;

/// Starts the session's event router on the receiving end it is given.
pub type StartRouter = Box<dyn Fn(mpsc::Receiver<UpstreamEvent>) + Send + Sync>;

pub struct UpstreamLinks {
    pool: Arc<UpstreamPool>,
    slots: Mutex<Vec<Option<Arc<UpstreamSession>>>>,
    /// Where the upstreams' own messages go (the session's event router),
    /// made with the first link: an idle session has no router task and
    /// no channel (about 2 KiB each).
    events: OnceLock<mpsc::Sender<UpstreamEvent>>,
    start_router: StartRouter,
    request_timeout: Duration,
}

/// What the upstreams of one client session may have queued for its router.
const EVENTS_BUFFER: usize = 64;

/// Whether a method is one only the call pipeline may send upstream, as a
/// lenient upstream might read it (`Tools/Call `). The relay refuses such
/// frames before they get here; this is the last line.
fn is_policed(method: &str) -> bool {
    frame::resembles(method) == Some("tools/call")
}

impl UpstreamLinks {
    pub fn new(pool: Arc<UpstreamPool>, start_router: StartRouter, request_timeout: Duration) -> Self {
        let slots = Mutex::new((0..pool.len()).map(|_| None).collect());
        UpstreamLinks { pool, slots, events: OnceLock::new(), start_router, request_timeout }
    }

    fn events(&self) -> mpsc::Sender<UpstreamEvent> {
        self.events
            .get_or_init(|| {
                let (events, rx) = mpsc::channel(EVENTS_BUFFER);
                (self.start_router)(rx);
                events
            })
            .clone()
    }

    /// The connection to `upstream`, if this session opened one.
    pub fn opened(&self, upstream: usize) -> Option<Arc<UpstreamSession>> {
        self.slots.lock().expect("links lock").get(upstream).cloned().flatten()
    }

    /// How many upstream connections are open, without copying them.
    pub fn count(&self) -> usize {
        self.slots.lock().expect("links lock").iter().flatten().count()
    }

    /// Every connection this session opened.
    pub fn all(&self) -> Vec<Arc<UpstreamSession>> {
        self.slots.lock().expect("links lock").iter().flatten().cloned().collect()
    }

    /// The connection to `upstream`, opened now if this is its first use.
    /// The upstream is told the client's protocol version and capabilities.
    pub fn open(&self, upstream: usize, context: &ClientContext) -> Result<Arc<UpstreamSession>, GatewayError> {
        let mut slots = self.slots.lock().expect("links lock");
        let slot = slots.get_mut(upstream).ok_or_else(|| GatewayError::Internal("no such upstream".into()))?;
        if let Some(session) = slot {
            return Ok(session.clone());
        }
        let hello =
            Hello { protocol_version: context.protocol_version.clone(), capabilities: context.capabilities.clone() };
        let session = Arc::new(self.pool.open(upstream, hello, self.events())?);
        *slot = Some(session.clone());
        Ok(session)
    }

    /// Relays a client request that is not a call and returns the
    /// upstream's answer (with the gateway-side id; the caller restores the
    /// client's). `on_sent` learns the gateway-side id.
    pub async fn request(
        &self,
        upstream: usize,
        context: &ClientContext,
        msg: Value,
        on_sent: impl FnOnce(u64),
    ) -> Result<Value, GatewayError> {
        if jsonrpc::method(&msg).is_some_and(is_policed) {
            return Err(GatewayError::Internal("a tools/call is forwarded by the call pipeline only".into()));
        }
        self.send(upstream, context, msg, on_sent).await
    }

    /// Sends a call the pipeline cleared.
    pub async fn send_call(
        &self,
        _cleared: Cleared,
        upstream: usize,
        context: &ClientContext,
        msg: Value,
        on_sent: impl FnOnce(u64),
    ) -> Result<Value, GatewayError> {
        self.send(upstream, context, msg, on_sent).await
    }

    async fn send(
        &self,
        upstream: usize,
        context: &ClientContext,
        msg: Value,
        on_sent: impl FnOnce(u64),
    ) -> Result<Value, GatewayError> {
        let session = self.open(upstream, context)?;
        session.request(msg, self.request_timeout, on_sent).await
    }

    /// A request of the gateway's own (a listing); returns its result.
    pub async fn ask(
        &self,
        upstream: usize,
        context: &ClientContext,
        method: &str,
        params: Value,
    ) -> Result<Value, GatewayError> {
        let msg = jsonrpc::request(Value::Null, method, params);
        let session = self.open(upstream, context)?;
        let answer = self.request(upstream, context, msg, |_| {}).await?;
        if let Some(error) = answer.get("error") {
            return Err(GatewayError::UpstreamUnavailable {
                server: session.name().to_string(),
                detail: format!("{method} failed: {error}"),
            });
        }
        Ok(answer.get("result").cloned().unwrap_or(Value::Null))
    }

    /// Sends a notification or a response to one upstream, if this session
    /// has a connection to it.
    pub async fn notify(&self, upstream: usize, msg: Value) {
        if jsonrpc::method(&msg).is_some_and(is_policed) {
            return;
        }
        if let Some(session) = self.opened(upstream) {
            session.send(msg).await;
        }
    }

    /// Sends a notification to every upstream this session talks to.
    pub async fn notify_all(&self, msg: &Value) {
        if jsonrpc::method(msg).is_some_and(is_policed) {
            return;
        }
        for session in self.all() {
            session.send(msg.clone()).await;
        }
    }

    /// Tells an upstream this session gave up on one of its requests.
    pub async fn cancel(&self, upstream: usize, upstream_id: u64, reason: &str) {
        if let Some(session) = self.opened(upstream) {
            session.cancel(upstream_id, reason).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_a_call_is_policed() {
        for method in ["tools/call", "Tools/Call", "TOOLS/CALL", " tools/call ", "tools/call\n"] {
            assert!(is_policed(method), "{method:?}");
        }
        for method in ["tools/list", "tools/calls", "resources/read", "tools/ call"] {
            assert!(!is_policed(method), "{method:?}");
        }
    }

    #[tokio::test]
    async fn a_call_never_leaves_through_the_plain_request_path() {
        let relay = crate::config::RelayConfig {
            separator: "__".into(),
            request_timeout: Duration::from_secs(1),
            startup_timeout: Duration::from_secs(1),
            max_message_bytes: 1024,
            max_upstream_sessions: 1,
            max_inflight_per_session: 1,
            max_idle_upstream_sessions: 1,
            worker_threads: None,
        };
        let pool = UpstreamPool::start(&[], &relay);
        let links = UpstreamLinks::new(pool, Box::new(|_| {}), Duration::from_secs(1));
        let context = ClientContext {
            caller: crate::protocol::Caller::Local,
            protocol_version: crate::protocol::LATEST_PROTOCOL_VERSION.into(),
            capabilities: serde_json::json!({}),
            client_info: Default::default(),
        };
        for method in ["tools/call", "TOOLS/CALL", " tools/call"] {
            let msg = jsonrpc::request(serde_json::json!(1), method, serde_json::json!({"name": "x"}));
            let refused = links.request(0, &context, msg, |_| {}).await;
            assert!(matches!(refused, Err(GatewayError::Internal(_))), "{method:?}: {refused:?}");
        }
    }
}
