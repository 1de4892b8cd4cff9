//! One client session: answers what the gateway answers itself
//! (`initialize`, `ping`), routes each request to the upstream it belongs
//! to, hands every `tools/call` to the call pipeline, and relays what the
//! upstreams send back, in both directions, as raw JSON.
//!
//! - `links`: this session's connections to its upstreams;
//! - `catalog`: the tools each upstream advertised in this session;
//! - `fanout`: listings across upstreams and the merged `initialize`;
//! - `listing`: what a client sees of a listing (tools, resources,
//!   templates, prompts);
//! - `access`: resources, prompts and completions, routed here and decided
//!   by `call::access`; `resources`: where resource URIs reach the client
//!   (namespaced on `/mcp`); `tasks`: task ids on `/mcp`;
//! - `routes`: in-flight bookkeeping (client ↔ upstream request ids);
//! - `asks`: which server-to-client requests a client may be sent;
//! - `port`: what the call pipeline may ask of this session.
//!
//! The relay decides nothing: calls and accesses to resources and prompts
//! are decided, recorded and forwarded by `call`, and every failure becomes a `GatewayError` that `errors` turns
//! into the client's JSON-RPC error. The relay never reads `initialize`
//! parameters: the front hands it a `ClientContext` with every request.

mod access;
mod admission;
mod asks;
mod catalog;
mod fanout;
mod links;
pub mod listing;
mod port;
mod resources;
mod routes;
mod tasks;

use crate::call::frame::{self, Misfit};
use crate::errors::GatewayError;
use crate::gateway::Gateway;
use crate::jsonrpc::{self, Kind};
use crate::protocol::ClientContext;
use crate::upstream::{Health, UpstreamEvent, UpstreamMessage};
use catalog::ToolCatalog;
use links::UpstreamLinks;
use port::SessionPort;
use routes::Routes;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex, Weak};
use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;

/// Which upstreams a session sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Every reachable upstream, tools and prompts namespaced.
    Aggregate,
    /// One upstream, names unchanged (`/mcp/<server>`).
    Single(usize),
}

/// Unsolicited messages wait here for a client with no stream to take them.
const UNSOLICITED_BUFFER: usize = 256;

/// A session's messages that belong to no request (for the GET stream, or
/// stdout). Boxed: the channel allocates its slots 32 at a time when the
/// session opens, and 32 unboxed messages would be 1 KiB per idle session.
pub type Unsolicited = mpsc::Receiver<Box<Value>>;

pub struct ClientSession {
    pub id: String,
    /// How logs name the session: the id is a bearer credential, so logs get
    /// the same keyed digest the audit log records.
    pub label: String,
    gateway: Arc<Gateway>,
    scope: Scope,
    links: UpstreamLinks,
    routes: Mutex<Routes>,
    catalog: ToolCatalog,
    /// What the session has been exposed to: untrusted content, private data.
    flow: Mutex<crate::call::flow::FlowState>,
    unsolicited: mpsc::Sender<Box<Value>>,
    /// Requests of this session being worked on; beyond the limit, refused.
    inflight: Arc<Semaphore>,
    /// Cancelled when the client's session ends: what it still has in
    /// flight is cancelled upstream, since nobody can take the answers.
    ended: CancellationToken,
}

impl ClientSession {
    /// A new session and the receiving end of its messages that belong to no
    /// request (the GET stream, or stdout).
    pub fn new(gateway: Arc<Gateway>, scope: Scope, id: String) -> (Arc<ClientSession>, Unsolicited) {
        let (unsolicited, unsolicited_rx) = mpsc::channel(UNSOLICITED_BUFFER);
        let relay = &gateway.config.relay;
        let inflight = Arc::new(Semaphore::new(relay.max_inflight_per_session));
        let label = gateway.audit_key().digest_session(&id);
        let session = Arc::new_cyclic(|me: &Weak<ClientSession>| {
            let me = me.clone();
            let start_router: links::StartRouter = Box::new(move |events| {
                tokio::spawn(route_upstream_events(me.clone(), events));
            });
            ClientSession {
                links: UpstreamLinks::new(gateway.pool.clone(), start_router, relay.request_timeout),
                id,
                label,
                gateway: gateway.clone(),
                scope,
                routes: Mutex::new(Routes::default()),
                catalog: ToolCatalog::default(),
                flow: Mutex::default(),
                unsolicited,
                inflight,
                ended: CancellationToken::new(),
            }
        });
        (session, unsolicited_rx)
    }

    /// How many upstream connections (each stdio one a process) this
    /// session holds open.
    pub fn upstream_sessions(&self) -> usize {
        self.links.count()
    }

    /// How many requests this session may have in flight at once.
    pub fn inflight_limit(&self) -> usize {
        self.gateway.config.relay.max_inflight_per_session
    }

    /// Ends the session: requests still in flight are cancelled upstream.
    pub fn end(&self) {
        self.ended.cancel();
    }

    /// Queues a message for the session's GET stream; false when the queue is full.
    pub fn send_unsolicited(&self, msg: Value) -> bool {
        self.unsolicited.try_send(Box::new(msg)).is_ok()
    }

    /// Handles one client message of any kind. Requests are answered on
    /// `out`, together with whatever the upstream sends while working on
    /// them; `out` closing means the client went away.
    pub async fn handle(self: &Arc<Self>, context: &ClientContext, msg: Value, out: mpsc::Sender<Value>) {
        let kind = match jsonrpc::classify(&msg) {
            Ok(kind) => kind,
            Err(e) => {
                let id = msg.get("id").filter(|id| id.is_string() || id.is_number()).cloned().unwrap_or(Value::Null);
                let _ = out.send(GatewayError::InvalidRequest(e.to_string()).to_response(id)).await;
                return;
            }
        };
        let (method, notification) = match kind {
            Kind::Request { method, .. } => (Some(method), false),
            Kind::Notification { method } => (Some(method), true),
            Kind::Response { .. } => (None, false),
        };
        if let Some(misfit) = method.and_then(|m| Misfit::of(m, notification)) {
            // Never relayed, whatever the upstream would make of it.
            let refused = frame::refuse(&self.gateway, &self.id, context, &msg, &misfit).await;
            if let Kind::Request { id, .. } = kind {
                let _ = out.send(refused.to_response(id.clone())).await;
            }
            return;
        }
        match kind {
            Kind::Request { id, .. } => {
                let id = id.clone();
                self.handle_request(context, id, msg, out).await
            }
            Kind::Notification { method } => {
                let method = method.to_string();
                self.handle_notification(&method, msg).await
            }
            Kind::Response { id } => {
                let id = id.clone();
                self.handle_response(id, msg).await
            }
        }
    }

    async fn handle_request(
        self: &Arc<Self>,
        context: &ClientContext,
        id: Value,
        msg: Value,
        out: mpsc::Sender<Value>,
    ) {
        let Ok(_permit) = self.inflight.clone().try_acquire_owned() else {
            let limit = self.gateway.config.relay.max_inflight_per_session;
            let err = GatewayError::Overloaded(format!(
                "this session already has {limit} requests in flight (relay.max_inflight_per_session); \
                 wait for some to finish"
            ));
            let _ = out.send(err.to_response(id)).await;
            return;
        };
        let token = msg.pointer("/params/_meta/progressToken").cloned();
        self.routes.lock().expect("routes lock").begin(&id, out.clone(), token);
        // A client hanging up is not a cancellation (the Streamable HTTP
        // front keeps `out` open so the client can resume its stream); a
        // closed `out` means nothing can ever take the answer: the session
        // ended, or a client with no resumable stream went away.
        let answer = tokio::select! {
            answer = self.dispatch(context, &id, msg) => Ok(answer),
            () = self.ended.cancelled() => Err("the client session ended"),
            () = out.closed() => Err("the client went away"),
        };
        let entry = self.routes.lock().expect("routes lock").finish(&id);
        let answer = match answer {
            Ok(answer) => answer,
            Err(reason) => {
                if let Some((upstream, upstream_id)) = entry.and_then(|e| e.upstream) {
                    self.links.cancel(upstream, upstream_id, reason).await;
                }
                return;
            }
        };
        if entry.is_some_and(|e| e.cancelled) {
            return;
        }
        let response = match answer {
            Ok(mut response) => {
                response["id"] = id;
                response
            }
            Err(err) => err.to_response(id),
        };
        let _ = out.send(response).await;
    }

    async fn dispatch(
        self: &Arc<Self>,
        context: &ClientContext,
        id: &Value,
        msg: Value,
    ) -> Result<Value, GatewayError> {
        let method = jsonrpc::method(&msg).unwrap_or_default().to_string();
        // Resources, prompts and completions, on both endpoints; also their
        // other spellings, which are refused there rather than relayed.
        if let Some(canonical) = access::access_method(&method) {
            return self.access(context, id, msg, canonical).await;
        }
        match (self.scope, method.as_str()) {
            (_, "initialize") => self.initialize(context).await,
            (_, "ping") => Ok(jsonrpc::result(Value::Null, json!({}))),
            (_, "tools/list") => self.list_tools(context).await,
            (Scope::Single(_), "tools/call") => {
                let port = SessionPort { session: self, context };
                crate::call::call_tool(&self.gateway, &port, context, id, msg).await
            }
            (Scope::Aggregate, "tools/call") => {
                let upstream = msg.pointer("/params/name").and_then(Value::as_str).and_then(|n| self.resolve(n));
                let port = SessionPort { session: self, context };
                let answer = crate::call::call_tool(&self.gateway, &port, context, id, msg).await?;
                Ok(self.expose_call_answer(upstream.map(|(u, _)| u), answer))
            }
            (Scope::Single(upstream), _) => self.forward(context, upstream, id, msg).await,
            (Scope::Aggregate, "tasks/get" | "tasks/result" | "tasks/cancel") => {
                self.task_request(context, id, msg).await
            }
            (Scope::Aggregate, "tasks/list") => self.list_tasks(context).await,
            (Scope::Aggregate, "logging/setLevel") => {
                for upstream in self.reachable() {
                    if self.capable(upstream, "logging") {
                        self.forward(context, upstream, id, msg.clone()).await?;
                    }
                }
                Ok(jsonrpc::result(Value::Null, json!({})))
            }
            (Scope::Aggregate, _) => {
                // A method the gateway does not know can only be relayed when
                // there is exactly one place it could go.
                match self.reachable().as_slice() {
                    [only] => self.forward(context, *only, id, msg).await,
                    _ => Err(GatewayError::MethodNotFound(format!(
                        "\"{method}\" cannot be routed on the aggregated endpoint; use /mcp/<server>"
                    ))),
                }
            }
        }
    }

    /// The answer to `initialize`: the single-server endpoint presents the
    /// server as it is; the aggregated one presents the gateway and the
    /// union of what its upstreams offer. Both wait (up to
    /// `relay.startup_timeout`) for upstreams still starting, since a client
    /// launched with the gateway asks at once and never asks again; one
    /// known to be failing is not waited for.
    async fn initialize(self: &Arc<Self>, context: &ClientContext) -> Result<Value, GatewayError> {
        let version = context.protocol_version.as_str();
        let pool = &self.gateway.pool;
        let startup = self.gateway.config.relay.startup_timeout;
        let result = match self.scope {
            Scope::Single(upstream) => {
                let init = match self.links.open(upstream, context)?.ready(startup).await {
                    Ok(init) => init,
                    // Started before, only slow this time: it is what it was.
                    Err(e) if pool.health(upstream) == Health::Ready => pool.init_result(upstream).ok_or(e)?,
                    Err(e) => return Err(e),
                };
                let mut result = (*init).clone();
                result["protocolVersion"] = json!(version);
                result
            }
            Scope::Aggregate => {
                let reachable = self.reachable();
                pool.wait_settled(&reachable, startup).await;
                let late = reachable.iter().copied().filter(|&u| pool.health(u) != Health::Ready).collect();
                fanout::announce_when_ready(pool, late, Arc::downgrade(self));
                let inits: Vec<(usize, Arc<Value>)> =
                    reachable.into_iter().filter_map(|u| Some((u, pool.init_result(u)?))).collect();
                fanout::merged_init(version, inits.iter().map(|(u, init)| (pool.config(*u).prefix(), &**init)))
            }
        };
        Ok(jsonrpc::result(Value::Null, result))
    }

    /// Upstreams this session may talk to, in configuration order.
    fn reachable(&self) -> Vec<usize> {
        match self.scope {
            Scope::Single(upstream) => vec![upstream],
            Scope::Aggregate => {
                let policy = self.gateway.policy();
                (0..self.gateway.pool.len())
                    .filter(|&i| policy.server_reachable(&self.gateway.pool.config(i).name))
                    .collect()
            }
        }
    }

    /// Whether an upstream declared a capability. Unknown until it has
    /// connected once; then the gateway asks and lets the upstream answer.
    fn capable(&self, upstream: usize, capability: &str) -> bool {
        match self.gateway.pool.init_result(upstream) {
            Some(init) => init.pointer(&format!("/capabilities/{capability}")).is_some(),
            None => true,
        }
    }

    /// Relays a client request to an upstream and returns its answer (with
    /// the gateway's id; the caller puts the client's back).
    async fn forward(
        &self,
        context: &ClientContext,
        upstream: usize,
        client_id: &Value,
        msg: Value,
    ) -> Result<Value, GatewayError> {
        self.links
            .request(upstream, context, msg, |upstream_id| {
                self.routes.lock().expect("routes lock").forwarded(client_id, upstream, upstream_id);
            })
            .await
    }

    fn resolve(&self, exposed: &str) -> Option<(usize, String)> {
        match self.scope {
            Scope::Single(upstream) => Some((upstream, exposed.to_string())),
            Scope::Aggregate => self.gateway.naming.resolve(exposed).map(|(u, name)| (u, name.to_string())),
        }
    }

    /// A listing on `/mcp` left `upstream` out. The pool already said once
    /// that a failing upstream is down, so that is not repeated per session
    /// and per list; any other failure is news.
    fn listing_skipped(&self, upstream: usize, method: &str, e: &GatewayError) {
        let server = &self.gateway.pool.config(upstream).name;
        if matches!(self.gateway.pool.health(upstream), crate::upstream::Health::Failing { .. }) {
            tracing::debug!(session = %self.label, server = %server, "{method} left out a failing upstream: {e}");
        } else {
            tracing::warn!(session = %self.label, server = %server, "{method} failed: {e}");
        }
    }

    async fn list_tools(&self, context: &ClientContext) -> Result<Value, GatewayError> {
        let policy = self.gateway.policy();
        let naming = &self.gateway.naming;
        let upstreams: Vec<usize> = self.reachable().into_iter().filter(|&u| self.capable(u, "tools")).collect();
        let mut tools = Vec::new();
        for (upstream, listing) in fanout::list_each(&self.links, &upstreams, context, "tools/list", "tools").await {
            let server = &self.gateway.pool.config(upstream).name;
            let listing = match listing {
                Ok(listing) => listing,
                Err(e) if self.scope == Scope::Aggregate => {
                    // One broken server must not hide the others' tools.
                    self.listing_skipped(upstream, "tools/list", &e);
                    continue;
                }
                Err(e) => return Err(e),
            };
            let (listing, _) = admission::admit(self, upstream, listing);
            tools.extend(listing::visible_tools(&policy, server, listing, |name| match self.scope {
                Scope::Aggregate => naming.expose(upstream, name),
                Scope::Single(_) => name.to_string(),
            }));
        }
        Ok(jsonrpc::result(Value::Null, json!({ "tools": tools })))
    }

    async fn handle_notification(&self, method: &str, msg: Value) {
        match method {
            // The gateway completed its own handshake with each upstream.
            "notifications/initialized" => {}
            "notifications/cancelled" => {
                let Some(request_id) = msg.pointer("/params/requestId") else { return };
                let target = self.routes.lock().expect("routes lock").cancel(request_id);
                if let Some((upstream, upstream_id)) = target {
                    let reason =
                        msg.pointer("/params/reason").and_then(Value::as_str).unwrap_or("cancelled by the client");
                    self.links.cancel(upstream, upstream_id, reason).await;
                }
            }
            "notifications/progress" => {
                // Progress on a server-to-client request goes back to the
                // server that asked.
                let Some(token) = msg.pointer("/params/progressToken") else { return };
                let upstream = self.routes.lock().expect("routes lock").progress_upstream(token);
                if let Some(upstream) = upstream {
                    self.links.notify(upstream, msg).await;
                }
            }
            // roots/list_changed and notifications the gateway does not
            // know concern every upstream the client talks to.
            _ => self.links.notify_all(&msg).await,
        }
    }

    async fn handle_response(&self, id: Value, mut msg: Value) {
        let own = self.routes.lock().expect("routes lock").own_answer(&id);
        if let Some(waiting) = own {
            let _ = waiting.send(msg);
            return;
        }
        let target = self.routes.lock().expect("routes lock").answer(&id);
        let Some((upstream, upstream_id)) = target else {
            tracing::debug!(session = %self.label, "dropping a response to no pending server request");
            return;
        };
        msg["id"] = upstream_id;
        self.links.notify(upstream, msg).await;
    }

    /// Log and progress notifications are read by the model too: sanitized
    /// and put to the `[inspect]` detectors like results. Returns false when
    /// the notification must be dropped (a `block` finding).
    fn inspect_notification(&self, upstream: usize, msg: &mut Value) -> bool {
        let Some(params) = msg.get_mut("params") else { return true };
        let server = &self.gateway.pool.config(upstream).name;
        let settings = self.gateway.policy().inspect_settings(server, "");
        let inspected = crate::call::inspect::inspect_result(params, settings, self.gateway.integrity.sanitize());
        let Some(audit) = inspected.audit else { return true };
        let kinds: Vec<&str> = audit.findings.iter().map(|f| f.kind).collect();
        let method = jsonrpc::method(msg).unwrap_or_default();
        if audit.action == "block" {
            tracing::warn!(session = %self.label, server = %server, "dropped a {method} carrying {kinds:?}");
            return false;
        }
        tracing::info!(session = %self.label, server = %server, action = audit.action, "inspected a {method}: {kinds:?}");
        true
    }

    /// Relays one message an upstream sent on its own initiative.
    async fn relay_upstream_event(&self, event: UpstreamMessage) {
        // What stays of `event` (its routing mark) is dropped on return,
        // once the message is on its stream.
        let UpstreamMessage { upstream, mut msg, related, .. } = event;
        if jsonrpc::method(&msg) == Some("notifications/tools/list_changed") {
            // The next call re-reads the definitions it is checked against.
            self.catalog.forget(upstream);
        }
        if self.scope == Scope::Aggregate {
            // Resource URIs and task ids as this client names them.
            self.expose_upstream_message(upstream, &mut msg);
        }
        if matches!(jsonrpc::method(&msg), Some("notifications/message" | "notifications/progress"))
            && !self.inspect_notification(upstream, &mut msg)
        {
            return;
        }
        if let Ok(Kind::Request { id, method }) = jsonrpc::classify(&msg) {
            let server = &self.gateway.pool.config(upstream).name;
            let declared = self.links.opened(upstream).map(|s| s.hello().capabilities.clone()).unwrap_or_default();
            let (id, method) = (id.clone(), method.to_string());
            let config = self.gateway.pool.config(upstream);
            let allowed = asks::Allowed { sampling: config.sampling, elicitation: config.elicitation };
            if let asks::Ask::Refuse(why) = asks::check(server, &method, &mut msg, &declared, allowed) {
                tracing::info!(session = %self.label, server = %server, method = %method, "refused a server-to-client request: {why}");
                self.gateway.record_refused_ask(&self.id, server, &method, &why);
                let error = jsonrpc::error(id, crate::errors::code::METHOD_NOT_FOUND, &why, None);
                self.links.notify(upstream, error).await;
                return;
            }
        }
        let token =
            msg.pointer("/params/progressToken").or_else(|| msg.pointer("/params/_meta/progressToken")).cloned();
        let (target, server_request) = {
            let mut routes = self.routes.lock().expect("routes lock");
            let server_request = match jsonrpc::classify(&msg) {
                Ok(Kind::Request { id, .. }) => {
                    let upstream_id = id.clone();
                    let client_id = routes.server_request(upstream, upstream_id.clone(), token.as_ref());
                    msg["id"] = client_id;
                    Some(upstream_id)
                }
                Ok(Kind::Notification { method: "notifications/cancelled" }) => {
                    let request_id = msg.pointer("/params/requestId").cloned().unwrap_or(Value::Null);
                    match routes.server_request_id(upstream, &request_id) {
                        Some(client_id) => msg["params"]["requestId"] = client_id,
                        None => return,
                    }
                    None
                }
                _ => None,
            };
            (routes.stream_for(upstream, related, token.as_ref()), server_request)
        };
        let delivered = match target {
            Some(out) => match out.send(msg).await {
                Ok(()) => true,
                Err(returned) => self.unsolicited.try_send(Box::new(returned.0)).is_ok(),
            },
            None => self.unsolicited.try_send(Box::new(msg)).is_ok(),
        };
        if !delivered {
            tracing::warn!(session = %self.label, "client is not reading; dropped a message from upstream {upstream}");
            if let Some(upstream_id) = server_request {
                // The upstream must not wait forever for an answer that
                // cannot come.
                let error = jsonrpc::error(
                    upstream_id,
                    crate::errors::code::INTERNAL_ERROR,
                    "mcp-warden could not reach the client",
                    None,
                );
                self.links.notify(upstream, error).await;
            }
        }
    }
}

/// Routes what the session's upstreams send, one message at a time and in
/// the order each upstream sent it. Answers come this way too (see
/// `upstream::session::answer_in_order`): releasing one only after the
/// messages ahead of it are on their streams is what keeps a request's last
/// progress notification ahead of its result.
async fn route_upstream_events(session: Weak<ClientSession>, mut events: mpsc::Receiver<UpstreamEvent>) {
    while let Some(event) = events.recv().await {
        match event {
            UpstreamEvent::Answer(answer) => answer.release(),
            UpstreamEvent::Message(message) => {
                let Some(session) = session.upgrade() else { return };
                // Boxed: the routing of one message is a large future, and
                // this task lives as long as its session, idle or not.
                Box::pin(session.relay_upstream_event(*message)).await;
            }
        }
    }
}

fn param_str(msg: &Value, pointer: &str) -> Result<String, GatewayError> {
    msg.pointer(pointer).and_then(Value::as_str).map(str::to_string).ok_or_else(|| {
        GatewayError::InvalidParams(format!("missing string {}", pointer.trim_start_matches('/').replace('/', ".")))
    })
}
