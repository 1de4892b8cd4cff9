//! The upstream side: the configured MCP servers, how the gateway connects
//! to them, the warm spares that let the first client start without waiting
//! for a server to boot, the cap on how many upstream sessions clients
//! may hold at once (each stdio one is a process), and each upstream's
//! health as every session's attempts report it (`status.rs`).

mod session;
mod status;
mod transport;

pub use session::{Answer, UpstreamEvent, UpstreamMessage, UpstreamSession};
pub use status::{Health, UpstreamStatus};

use crate::config::{RelayConfig, UpstreamConfig};
use crate::errors::GatewayError;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch, Semaphore};

/// What the gateway declares to an upstream in `initialize` on behalf of a
/// client: the client's protocol version and capabilities, so the upstream
/// only asks for what the client can actually do.
#[derive(Clone, Debug, PartialEq)]
pub struct Hello {
    pub protocol_version: String,
    pub capabilities: Value,
}

impl Default for Hello {
    fn default() -> Self {
        Hello { protocol_version: crate::protocol::LATEST_PROTOCOL_VERSION.to_string(), capabilities: json!({}) }
    }
}

pub struct UpstreamPool {
    upstreams: Vec<Arc<UpstreamConfig>>,
    relay: RelayConfig,
    http: reqwest::Client,
    status: Vec<Arc<UpstreamStatus>>,
    /// One connected, unowned session per upstream, handed to the next
    /// client whose `Hello` matches.
    spares: Mutex<Vec<Option<UpstreamSession>>>,
    /// One permit per upstream session a client holds, across all clients;
    /// spares hold none (there is at most one per upstream).
    slots: Arc<Semaphore>,
}

impl UpstreamPool {
    /// Starts every upstream now, so the first client does not wait.
    pub fn start(upstreams: &[UpstreamConfig], relay: &RelayConfig) -> Arc<UpstreamPool> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            // An upstream is reached at the URL the operator configured and
            // nowhere else: a redirect would resend a call (and its
            // credentials) to a place no one reviewed. Not following them
            // also spares every request the redirect layer's work.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("the HTTP client uses only built-in settings");
        let pool = Arc::new(UpstreamPool {
            upstreams: upstreams.iter().cloned().map(Arc::new).collect(),
            relay: relay.clone(),
            http,
            status: upstreams.iter().map(|u| Arc::new(UpstreamStatus::new(&u.name))).collect(),
            spares: Mutex::new(upstreams.iter().map(|_| None).collect()),
            slots: Arc::new(Semaphore::new(relay.max_upstream_sessions.min(Semaphore::MAX_PERMITS))),
        });
        for index in 0..upstreams.len() {
            let hello = pool.hello_for(index, Hello::default());
            pool.refill(index, hello);
        }
        pool
    }

    // The upstreams are fixed when the gateway starts and a gateway may have
    // none; nothing needs to ask whether the pool is empty.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        self.upstreams.len()
    }

    pub fn config(&self, index: usize) -> &UpstreamConfig {
        &self.upstreams[index]
    }

    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.upstreams.iter().position(|u| u.name == name)
    }

    /// The upstream's last `initialize` result, if it ever connected.
    pub fn init_result(&self, index: usize) -> Option<Arc<Value>> {
        self.status[index].init()
    }

    /// How upstream `index` fared at its last attempt to start, in any session.
    pub fn health(&self, index: usize) -> Health {
        self.status[index].health()
    }

    /// Upstream `index`'s health as it changes.
    pub fn watch_health(&self, index: usize) -> watch::Receiver<Health> {
        self.status[index].watch()
    }

    /// Waits until each of `upstreams` has either started or failed to (its
    /// first attempt finished), or the timeout passes.
    pub async fn wait_settled(&self, upstreams: &[usize], timeout: Duration) {
        let settled = upstreams.iter().map(|&i| {
            let mut health = self.status[i].watch();
            async move {
                let _ = health.wait_for(Health::settled).await;
            }
        });
        let _ = tokio::time::timeout(timeout, futures::future::join_all(settled)).await;
    }

    /// Waits until every upstream has completed a handshake once, or the
    /// timeout passes. Returns the names of those that have not.
    pub async fn wait_started(&self, timeout: Duration) -> Vec<String> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let missing: Vec<String> = (0..self.len())
                .filter(|&i| self.status[i].init().is_none())
                .map(|i| self.upstreams[i].name.clone())
                .collect();
            if missing.is_empty() || tokio::time::Instant::now() >= deadline {
                return missing;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A session with upstream `index` for one client. Takes the warm spare
    /// when it was started with the same `Hello`, and starts the next spare
    /// with this client's `Hello`, since the next client is likely the same
    /// kind of client.
    ///
    /// Refused once clients hold `relay.max_upstream_sessions` sessions, so
    /// that opening client sessions cannot fork processes without end. The
    /// slot is given back when the session is dropped.
    pub fn open(
        self: &Arc<Self>,
        index: usize,
        hello: Hello,
        events: mpsc::Sender<UpstreamEvent>,
    ) -> Result<UpstreamSession, GatewayError> {
        let slot = self.slots.clone().try_acquire_owned().map_err(|_| GatewayError::UpstreamUnavailable {
            server: self.upstreams[index].name.clone(),
            detail: format!(
                "relay.max_upstream_sessions = {} reached: close idle sessions or raise it",
                self.relay.max_upstream_sessions
            ),
        })?;
        let hello = self.hello_for(index, hello);
        let spare = {
            let mut spares = self.spares.lock().expect("spares lock");
            match spares[index].take() {
                Some(spare) if *spare.hello() == hello => Some(spare),
                other => {
                    spares[index] = other;
                    None
                }
            }
        };
        let mut session = match spare {
            Some(spare) => {
                spare.set_events(events);
                spare
            }
            None => self.session(index, hello.clone(), events),
        };
        session.hold(slot);
        self.refill(index, hello);
        Ok(session)
    }

    /// What upstream `index` is told of the client. With pinned `roots` the
    /// gateway answers for roots itself, whatever the client can do.
    fn hello_for(&self, index: usize, mut hello: Hello) -> Hello {
        if self.upstreams[index].roots.is_some() {
            if let Some(capabilities) = hello.capabilities.as_object_mut() {
                capabilities.insert("roots".into(), json!({ "listChanged": false }));
            }
        }
        hello
    }

    fn session(&self, index: usize, hello: Hello, events: mpsc::Sender<UpstreamEvent>) -> UpstreamSession {
        UpstreamSession::start(
            index,
            self.upstreams[index].clone(),
            self.relay.clone(),
            self.http.clone(),
            hello,
            self.status[index].clone(),
            events,
        )
    }

    fn refill(&self, index: usize, hello: Hello) {
        // Until a client adopts it, whatever the spare's upstream says is
        // addressed to nobody.
        let (tx, mut rx) = mpsc::channel(16);
        tokio::spawn(async move { while rx.recv().await.is_some() {} });
        let spare = self.session(index, hello, tx);
        self.spares.lock().expect("spares lock")[index] = Some(spare);
    }
}
