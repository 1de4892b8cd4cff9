//! One client session: answers what the gateway answers itself
//! (`initialize`, `ping`), polices `tools/list` and `tools/call`, and relays
//! everything else between the client and the upstreams its policy lets it
//! reach, in both directions, as raw JSON.
//!
//! The relay decides nothing itself: verdicts come from the policy engine,
//! and every failure becomes a `GatewayError` that `errors` turns into the
//! client's JSON-RPC error. A call whose verdict is Approve waits in
//! `hold`.

mod hold;
pub mod listing;
mod naming;
mod routes;

pub use naming::Naming;

use crate::approval::grant::CallBinding;
use crate::audit::{digest_arguments, AuditEvent};
use crate::errors::{Denial, GatewayError};
use crate::gateway::Gateway;
use crate::jsonrpc::{self, Kind};
use crate::policy::{CallContext, Mode, Verdict};
use crate::upstream::{Hello, UpstreamEvent, UpstreamSession};
use routes::Routes;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Instant;
use tokio::sync::mpsc;

/// Which upstreams a session sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Every reachable upstream, tools and prompts namespaced.
    Aggregate,
    /// One upstream, names unchanged (`/mcp/<server>`).
    Single(usize),
}

/// What the client said about itself in `initialize`.
#[derive(Clone, Debug)]
pub struct ClientHello {
    pub name: Option<String>,
    pub version: Option<String>,
    pub protocol_version: String,
    pub capabilities: Value,
}

impl ClientHello {
    /// Whether the client declared form elicitation: `elicitation: {}` (as
    /// before modes existed) or `elicitation: {"form": {...}}`.
    pub fn elicits_forms(&self) -> bool {
        match self.capabilities.get("elicitation").and_then(Value::as_object) {
            Some(modes) => modes.is_empty() || modes.contains_key("form"),
            None => false,
        }
    }
}

/// Unsolicited messages wait here for a client with no stream to take them.
const UNSOLICITED_BUFFER: usize = 256;
/// No upstream may flood a session with pages of listings.
const MAX_LIST_PAGES: usize = 100;

pub struct ClientSession {
    pub id: String,
    gateway: Arc<Gateway>,
    scope: Scope,
    client: OnceLock<ClientHello>,
    upstreams: Mutex<Vec<Option<Arc<UpstreamSession>>>>,
    events: mpsc::Sender<UpstreamEvent>,
    routes: Mutex<Routes>,
    /// Each upstream's tool definitions as it last listed them: the schema
    /// a call is checked against, and proof the tool was advertised.
    catalog: Mutex<HashMap<usize, HashMap<String, Arc<Value>>>>,
    /// Resource URIs learned from listings -> upstream, for routing reads.
    resources: Mutex<HashMap<String, usize>>,
    unsolicited: mpsc::Sender<Value>,
}

impl ClientSession {
    /// A new session and the receiving end of its messages that belong to no
    /// request (the GET stream, or stdout).
    pub fn new(gateway: Arc<Gateway>, scope: Scope, id: String) -> (Arc<ClientSession>, mpsc::Receiver<Value>) {
        let (events, events_rx) = mpsc::channel(64);
        let (unsolicited, unsolicited_rx) = mpsc::channel(UNSOLICITED_BUFFER);
        let upstreams = (0..gateway.pool.len()).map(|_| None).collect();
        let session = Arc::new(ClientSession {
            id,
            gateway,
            scope,
            client: OnceLock::new(),
            upstreams: Mutex::new(upstreams),
            events,
            routes: Mutex::new(Routes::default()),
            catalog: Mutex::new(HashMap::new()),
            resources: Mutex::new(HashMap::new()),
            unsolicited,
        });
        tokio::spawn(route_upstream_events(Arc::downgrade(&session), events_rx));
        (session, unsolicited_rx)
    }

    /// Queues a message for the session's GET stream; false when the queue is full.
    pub fn send_unsolicited(&self, msg: Value) -> bool {
        self.unsolicited.try_send(msg).is_ok()
    }

    pub fn client(&self) -> Option<&ClientHello> {
        self.client.get()
    }

    /// Handles one client message of any kind. Requests are answered on
    /// `out`, together with whatever the upstream sends while working on
    /// them; `out` closing means the client went away.
    pub async fn handle(self: &Arc<Self>, msg: Value, out: mpsc::Sender<Value>) {
        let kind = match jsonrpc::classify(&msg) {
            Ok(kind) => kind,
            Err(e) => {
                let id = msg.get("id").filter(|id| id.is_string() || id.is_number()).cloned().unwrap_or(Value::Null);
                let _ = out.send(GatewayError::InvalidRequest(e.to_string()).to_response(id)).await;
                return;
            }
        };
        match kind {
            Kind::Request { id, .. } => {
                let id = id.clone();
                self.handle_request(id, msg, out).await
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

    async fn handle_request(self: &Arc<Self>, id: Value, msg: Value, out: mpsc::Sender<Value>) {
        let token = msg.pointer("/params/_meta/progressToken").cloned();
        self.routes.lock().expect("routes lock").begin(&id, out.clone(), token);
        let answer = tokio::select! {
            answer = self.dispatch(&id, msg) => Some(answer),
            _ = out.closed() => None,
        };
        let entry = self.routes.lock().expect("routes lock").finish(&id);
        let Some(answer) = answer else {
            // The client disconnected mid-call: the upstream stops too.
            if let Some((upstream, upstream_id)) = entry.and_then(|e| e.upstream) {
                if let Some(session) = self.opened(upstream) {
                    session.cancel(upstream_id, "the client disconnected").await;
                }
            }
            return;
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

    async fn dispatch(self: &Arc<Self>, id: &Value, msg: Value) -> Result<Value, GatewayError> {
        let method = jsonrpc::method(&msg).unwrap_or_default().to_string();
        if method == "initialize" {
            return self.initialize(&msg).await;
        }
        if self.client.get().is_none() {
            return Err(GatewayError::InvalidRequest("the session is not initialized: send initialize first".into()));
        }
        if method == "ping" {
            return Ok(jsonrpc::result(Value::Null, json!({})));
        }
        match (self.scope, method.as_str()) {
            (_, "tools/list") => self.list_tools().await,
            (_, "tools/call") => self.call_tool(id, msg).await,
            (Scope::Single(upstream), _) => self.forward(upstream, id, msg).await,
            (Scope::Aggregate, "resources/list") => self.list_merged(&msg, "resources", None).await,
            (Scope::Aggregate, "resources/templates/list") => self.list_merged(&msg, "resourceTemplates", None).await,
            (Scope::Aggregate, "prompts/list") => self.list_merged(&msg, "prompts", Some("name")).await,
            (Scope::Aggregate, "resources/read" | "resources/subscribe" | "resources/unsubscribe") => {
                let uri = param_str(&msg, "/params/uri")?;
                let upstream = self.resource_owner(&uri).await?;
                self.forward(upstream, id, msg).await
            }
            (Scope::Aggregate, "prompts/get") => {
                let name = param_str(&msg, "/params/name")?;
                let (upstream, original) = self
                    .resolve(&name)
                    .ok_or_else(|| GatewayError::InvalidParams(format!("unknown prompt \"{name}\"")))?;
                let mut msg = msg;
                msg["params"]["name"] = json!(original);
                self.forward(upstream, id, msg).await
            }
            (Scope::Aggregate, "completion/complete") => self.complete(id, msg).await,
            (Scope::Aggregate, "logging/setLevel") => {
                for upstream in self.reachable() {
                    if self.capable(upstream, "logging") {
                        self.forward(upstream, id, msg.clone()).await?;
                    }
                }
                Ok(jsonrpc::result(Value::Null, json!({})))
            }
            (Scope::Aggregate, _) => {
                // A method the gateway does not know can only be relayed when
                // there is exactly one place it could go.
                match self.reachable().as_slice() {
                    [only] => self.forward(*only, id, msg).await,
                    _ => Err(GatewayError::MethodNotFound(format!(
                        "\"{method}\" cannot be routed on the aggregated endpoint; use /mcp/<server>"
                    ))),
                }
            }
        }
    }

    async fn initialize(&self, msg: &Value) -> Result<Value, GatewayError> {
        let params =
            jsonrpc::params(msg).ok_or_else(|| GatewayError::InvalidParams("initialize needs params".into()))?;
        let requested = params.get("protocolVersion").and_then(Value::as_str).unwrap_or_default();
        let version = crate::protocol::negotiate(requested);
        let hello = ClientHello {
            name: params.get("clientInfo").and_then(|c| c.get("name")).and_then(Value::as_str).map(str::to_string),
            version: params
                .get("clientInfo")
                .and_then(|c| c.get("version"))
                .and_then(Value::as_str)
                .map(str::to_string),
            protocol_version: version.to_string(),
            capabilities: params.get("capabilities").cloned().unwrap_or_else(|| json!({})),
        };
        if self.client.set(hello).is_err() {
            return Err(GatewayError::InvalidRequest("the session is already initialized".into()));
        }
        let result = match self.scope {
            Scope::Single(upstream) => {
                // The single-server endpoint presents the server as it is.
                let init = self.upstream(upstream)?.ready(self.gateway.config.relay.request_timeout).await?;
                let mut result = (*init).clone();
                result["protocolVersion"] = json!(version);
                result
            }
            Scope::Aggregate => self.merged_init(version),
        };
        Ok(jsonrpc::result(Value::Null, result))
    }

    /// The aggregated endpoint's `initialize` answer: the gateway's identity
    /// and the union of what the reachable upstreams offer.
    fn merged_init(&self, version: &str) -> Value {
        let mut capabilities = Map::new();
        capabilities.insert("tools".into(), json!({ "listChanged": true }));
        let mut instructions = Vec::new();
        for upstream in self.reachable() {
            let Some(init) = self.gateway.pool.init_result(upstream) else { continue };
            if let Some(caps) = init.get("capabilities").and_then(Value::as_object) {
                for key in ["resources", "prompts", "logging", "completions"] {
                    if let Some(cap) = caps.get(key) {
                        merge_capability(capabilities.entry(key).or_insert_with(|| json!({})), cap);
                    }
                }
            }
            if let Some(text) = init.get("instructions").and_then(Value::as_str) {
                instructions.push(format!("[{}] {}", self.gateway.pool.config(upstream).prefix(), text));
            }
        }
        let mut result = json!({
            "protocolVersion": version,
            "capabilities": capabilities,
            "serverInfo": { "name": "mcp-warden", "version": env!("CARGO_PKG_VERSION") },
        });
        if !instructions.is_empty() {
            result["instructions"] = json!(instructions.join("\n\n"));
        }
        result
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

    fn opened(&self, upstream: usize) -> Option<Arc<UpstreamSession>> {
        self.upstreams.lock().expect("upstreams lock").get(upstream).cloned().flatten()
    }

    /// This session's connection to an upstream, opened on first use so
    /// that idle sessions cost no upstream processes.
    fn upstream(&self, upstream: usize) -> Result<Arc<UpstreamSession>, GatewayError> {
        let client =
            self.client.get().ok_or_else(|| GatewayError::InvalidRequest("the session is not initialized".into()))?;
        let mut upstreams = self.upstreams.lock().expect("upstreams lock");
        let slot = upstreams.get_mut(upstream).ok_or_else(|| GatewayError::Internal("no such upstream".into()))?;
        if let Some(session) = slot {
            return Ok(session.clone());
        }
        let hello =
            Hello { protocol_version: client.protocol_version.clone(), capabilities: client.capabilities.clone() };
        let session = Arc::new(self.gateway.pool.open(upstream, hello, self.events.clone()));
        *slot = Some(session.clone());
        Ok(session)
    }

    /// Sends a client request to an upstream and returns its answer (with
    /// the gateway's id; the caller puts the client's back).
    async fn forward(&self, upstream: usize, client_id: &Value, msg: Value) -> Result<Value, GatewayError> {
        let session = self.upstream(upstream)?;
        let timeout = self.gateway.config.relay.request_timeout;
        session
            .request(msg, timeout, |upstream_id| {
                self.routes.lock().expect("routes lock").forwarded(client_id, upstream, upstream_id);
            })
            .await
    }

    /// A request of the gateway's own to an upstream; returns its result.
    async fn ask(&self, upstream: usize, method: &str, params: Value) -> Result<Value, GatewayError> {
        let session = self.upstream(upstream)?;
        let msg = jsonrpc::request(Value::Null, method, params);
        let answer = session.request(msg, self.gateway.config.relay.request_timeout, |_| {}).await?;
        if let Some(error) = answer.get("error") {
            return Err(GatewayError::UpstreamUnavailable {
                server: session.name().to_string(),
                detail: format!("{method} failed: {error}"),
            });
        }
        Ok(answer.get("result").cloned().unwrap_or(Value::Null))
    }

    /// Every page of a listing from one upstream.
    async fn list_all(&self, upstream: usize, method: &str, key: &str) -> Result<Vec<Value>, GatewayError> {
        let mut items = Vec::new();
        let mut cursor: Option<Value> = None;
        for _ in 0..MAX_LIST_PAGES {
            let params = match &cursor {
                Some(cursor) => json!({ "cursor": cursor }),
                None => json!({}),
            };
            let result = self.ask(upstream, method, params).await?;
            if let Some(Value::Array(page)) = result.get(key) {
                items.extend(page.iter().cloned());
            }
            cursor = result.get("nextCursor").filter(|c| !c.is_null()).cloned();
            if cursor.is_none() {
                break;
            }
        }
        Ok(items)
    }

    fn resolve(&self, exposed: &str) -> Option<(usize, String)> {
        match self.scope {
            Scope::Single(upstream) => Some((upstream, exposed.to_string())),
            Scope::Aggregate => self.gateway.naming.resolve(exposed).map(|(u, name)| (u, name.to_string())),
        }
    }

    async fn list_tools(&self) -> Result<Value, GatewayError> {
        let policy = self.gateway.policy();
        let naming = &self.gateway.naming;
        let upstreams: Vec<usize> = self.reachable().into_iter().filter(|&u| self.capable(u, "tools")).collect();
        let listings =
            futures::future::join_all(upstreams.iter().map(|&u| self.list_all(u, "tools/list", "tools"))).await;
        let mut tools = Vec::new();
        for (&upstream, listing) in upstreams.iter().zip(listings) {
            let server = &self.gateway.pool.config(upstream).name;
            let listing = match listing {
                Ok(listing) => listing,
                Err(e) if self.scope == Scope::Aggregate => {
                    // One broken server must not hide the others' tools.
                    tracing::warn!(session = %self.id, server = %server, "tools/list failed: {e}");
                    continue;
                }
                Err(e) => return Err(e),
            };
            self.remember_tools(upstream, &listing);
            tools.extend(listing::visible_tools(&policy, server, listing, |name| match self.scope {
                Scope::Aggregate => naming.expose(upstream, name),
                Scope::Single(_) => name.to_string(),
            }));
        }
        Ok(jsonrpc::result(Value::Null, json!({ "tools": tools })))
    }

    async fn call_tool(&self, id: &Value, mut msg: Value) -> Result<Value, GatewayError> {
        let started = Instant::now();
        let exposed = param_str(&msg, "/params/name")?;
        let arguments = msg.pointer("/params/arguments").cloned();
        let client = self.client.get();
        let mut event = AuditEvent {
            session: self.id.clone(),
            client_name: client.and_then(|c| c.name.clone()),
            client_version: client.and_then(|c| c.version.clone()),
            server: String::new(),
            tool: exposed.clone(),
            verdict: "deny".into(),
            enforced: true,
            rule: "unknown-tool".into(),
            reason: String::new(),
            argument: None,
            constraint: None,
            args_digest: digest_arguments(arguments.as_ref()),
            latency_us: 0,
            outcome: Some("blocked".into()),
            approval: None,
        };
        let resolved = self.resolve(&exposed);
        let definition = match &resolved {
            Some((upstream, tool)) => self.advertised(*upstream, tool).await?,
            None => None,
        };
        let (Some((upstream, tool)), Some(definition)) = (resolved, definition) else {
            // A tool the upstream never advertised is refused whatever the
            // policy says: nothing was ever shown to anyone to review.
            let reason = match self.resolve(&exposed) {
                Some((upstream, tool)) => {
                    event.server = self.gateway.pool.config(upstream).name.clone();
                    event.tool = tool.clone();
                    format!("server \"{}\" does not advertise a tool named \"{tool}\"", event.server)
                }
                None => format!("no upstream server has a tool named \"{exposed}\""),
            };
            event.reason = reason.clone();
            event.latency_us = started.elapsed().as_micros() as u64;
            self.gateway.record(&event)?;
            return Err(GatewayError::UnknownTool { tool: exposed, reason });
        };
        let server = self.gateway.pool.config(upstream).name.clone();
        let policy = self.gateway.policy();
        // compiled once per catalog entry by the call pipeline
        let input_schema = definition.get("inputSchema").map(crate::policy::InputSchema::compile);
        let context = CallContext::new(&server, &tool, arguments.as_ref()).with_input_schema(input_schema.as_ref());
        let decision = policy.decide(&context);
        let enforce = policy.mode() == Mode::Enforce;
        let blocked = decision.verdict == Verdict::Deny && enforce;
        let held = decision.verdict == Verdict::Approve && enforce;
        event.server = server.clone();
        event.tool = tool.clone();
        event.verdict = decision.verdict.as_str().into();
        event.enforced = enforce;
        event.rule = decision.rule_id.clone();
        event.reason = decision.reason.clone();
        event.argument = decision.argument.clone();
        event.constraint = decision.constraint.clone();
        event.outcome = Some(if blocked { "blocked" } else { "forwarded" }.into());
        event.latency_us = started.elapsed().as_micros() as u64;
        if held {
            let terms = decision.approval.clone().unwrap_or_else(|| crate::policy::ApprovalTerms {
                timeout: None,
                channels: crate::policy::ApprovalChannel::DEFAULT.to_vec(),
            });
            let binding = CallBinding {
                session: self.id.clone(),
                client_name: event.client_name.clone(),
                client_version: event.client_version.clone(),
                server: server.clone(),
                tool: tool.clone(),
                rule: decision.rule_id.clone(),
                args_digest: event.args_digest.clone(),
                policy_version: policy.version().to_string(),
            };
            drop(policy);
            self.await_approval(id, binding, arguments.as_ref(), &terms, event).await?;
        } else {
            self.gateway.record(&event)?;
        }
        if blocked {
            return Err(GatewayError::PolicyDenied(Box::new(Denial {
                rule: decision.rule_id,
                reason: decision.reason,
                server,
                tool,
                argument: decision.argument,
                constraint: decision.constraint,
            })));
        }
        msg["params"]["name"] = json!(tool);
        self.forward(upstream, id, msg).await
    }

    /// The upstream's own definition of a tool, from this session's last
    /// listing of it, listing again once if the tool is not there.
    async fn advertised(&self, upstream: usize, tool: &str) -> Result<Option<Arc<Value>>, GatewayError> {
        if let Some(found) = self.catalog_entry(upstream, tool) {
            return Ok(Some(found));
        }
        let listing = self.list_all(upstream, "tools/list", "tools").await?;
        self.remember_tools(upstream, &listing);
        Ok(self.catalog_entry(upstream, tool))
    }

    fn catalog_entry(&self, upstream: usize, tool: &str) -> Option<Arc<Value>> {
        self.catalog.lock().expect("catalog lock").get(&upstream).and_then(|tools| tools.get(tool).cloned())
    }

    fn remember_tools(&self, upstream: usize, listing: &[Value]) {
        let tools =
            listing.iter().filter_map(|t| Some((t.get("name")?.as_str()?.to_string(), Arc::new(t.clone())))).collect();
        self.catalog.lock().expect("catalog lock").insert(upstream, tools);
    }

    /// Merges a listing across upstreams. `rename` names the field that is
    /// namespaced like tools (prompts); resources keep their URIs, which are
    /// remembered for routing reads.
    async fn list_merged(&self, msg: &Value, key: &str, rename: Option<&str>) -> Result<Value, GatewayError> {
        let capability = if key == "prompts" { "prompts" } else { "resources" };
        let method = jsonrpc::method(msg).unwrap_or_default().to_string();
        let naming = &self.gateway.naming;
        let upstreams: Vec<usize> = self.reachable().into_iter().filter(|&u| self.capable(u, capability)).collect();
        let listings = futures::future::join_all(upstreams.iter().map(|&u| self.list_all(u, &method, key))).await;
        let mut items = Vec::new();
        for (&upstream, listing) in upstreams.iter().zip(listings) {
            let listing = match listing {
                Ok(listing) => listing,
                Err(e) => {
                    tracing::warn!(session = %self.id, "{method} failed: {e}");
                    continue;
                }
            };
            for mut item in listing {
                if let Some(field) = rename {
                    let Some(name) = item.get(field).and_then(Value::as_str).map(str::to_string) else { continue };
                    item[field] = json!(naming.expose(upstream, &name));
                }
                if let Some(uri) = item.get("uri").and_then(Value::as_str) {
                    self.resources.lock().expect("resources lock").insert(uri.to_string(), upstream);
                }
                if let Some(template) = item.get("uriTemplate").and_then(Value::as_str) {
                    let prefix = template.split('{').next().unwrap_or_default().to_string();
                    self.resources.lock().expect("resources lock").insert(format!("template:{prefix}"), upstream);
                }
                items.push(item);
            }
        }
        Ok(jsonrpc::result(Value::Null, json!({ key: items })))
    }

    /// Which upstream serves a resource URI: a listed URI, else the longest
    /// matching template prefix, else the only upstream with resources.
    async fn resource_owner(&self, uri: &str) -> Result<usize, GatewayError> {
        for attempt in 0..2 {
            {
                let known = self.resources.lock().expect("resources lock");
                if let Some(&upstream) = known.get(uri) {
                    return Ok(upstream);
                }
                let by_template = known
                    .iter()
                    .filter_map(|(k, &u)| k.strip_prefix("template:").map(|p| (p, u)))
                    .filter(|(prefix, _)| !prefix.is_empty() && uri.starts_with(prefix))
                    .max_by_key(|(prefix, _)| prefix.len());
                if let Some((_, upstream)) = by_template {
                    return Ok(upstream);
                }
            }
            let with_resources: Vec<usize> =
                self.reachable().into_iter().filter(|&u| self.capable(u, "resources")).collect();
            if let [only] = with_resources.as_slice() {
                return Ok(*only);
            }
            if attempt == 0 {
                // The client may read a URI it learned elsewhere: learn the
                // listings once and look again.
                let list = jsonrpc::request(Value::Null, "resources/list", json!({}));
                let templates = jsonrpc::request(Value::Null, "resources/templates/list", json!({}));
                let _ = self.list_merged(&list, "resources", None).await;
                let _ = self.list_merged(&templates, "resourceTemplates", None).await;
            }
        }
        Err(GatewayError::InvalidParams(format!("no upstream server offers the resource \"{uri}\"")))
    }

    async fn complete(&self, id: &Value, mut msg: Value) -> Result<Value, GatewayError> {
        let reference = msg.pointer("/params/ref").cloned().unwrap_or(Value::Null);
        let upstream = match reference.get("type").and_then(Value::as_str) {
            Some("ref/prompt") => {
                let name = param_str(&msg, "/params/ref/name")?;
                let (upstream, original) = self
                    .resolve(&name)
                    .ok_or_else(|| GatewayError::InvalidParams(format!("unknown prompt \"{name}\"")))?;
                msg["params"]["ref"]["name"] = json!(original);
                upstream
            }
            Some("ref/resource") => self.resource_owner(&param_str(&msg, "/params/ref/uri")?).await?,
            _ => {
                return Err(GatewayError::InvalidParams(
                    "completion/complete needs a ref/prompt or ref/resource".into(),
                ))
            }
        };
        self.forward(upstream, id, msg).await
    }

    async fn handle_notification(&self, method: &str, msg: Value) {
        match method {
            // The gateway completed its own handshake with each upstream.
            "notifications/initialized" => {}
            "notifications/cancelled" => {
                let Some(request_id) = msg.pointer("/params/requestId") else { return };
                let target = self.routes.lock().expect("routes lock").cancel(request_id);
                if let Some((upstream, upstream_id)) = target {
                    if let Some(session) = self.opened(upstream) {
                        let reason =
                            msg.pointer("/params/reason").and_then(Value::as_str).unwrap_or("cancelled by the client");
                        session.cancel(upstream_id, reason).await;
                    }
                }
            }
            "notifications/progress" => {
                // Progress on a server-to-client request goes back to the
                // server that asked.
                let Some(token) = msg.pointer("/params/progressToken") else { return };
                let upstream = self.routes.lock().expect("routes lock").progress_upstream(token);
                if let Some(session) = upstream.and_then(|u| self.opened(u)) {
                    session.send(msg).await;
                }
            }
            _ => {
                // roots/list_changed and notifications the gateway does not
                // know concern every upstream the client talks to.
                let sessions: Vec<_> =
                    self.upstreams.lock().expect("upstreams lock").iter().flatten().cloned().collect();
                for session in sessions {
                    session.send(msg.clone()).await;
                }
            }
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
            tracing::debug!(session = %self.id, "dropping a response to no pending server request");
            return;
        };
        msg["id"] = upstream_id;
        if let Some(session) = self.opened(upstream) {
            session.send(msg).await;
        }
    }

    /// Relays one message an upstream sent on its own initiative.
    async fn relay_upstream_event(&self, event: UpstreamEvent) {
        let UpstreamEvent { upstream, mut msg, related } = event;
        if jsonrpc::method(&msg) == Some("notifications/tools/list_changed") {
            // The next call re-reads the definitions it is checked against.
            self.catalog.lock().expect("catalog lock").remove(&upstream);
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
                Err(returned) => self.unsolicited.try_send(returned.0).is_ok(),
            },
            None => self.unsolicited.try_send(msg).is_ok(),
        };
        if !delivered {
            tracing::warn!(session = %self.id, "client is not reading; dropped a message from upstream {upstream}");
            if let Some(upstream_id) = server_request {
                // The upstream must not wait forever for an answer that
                // cannot come.
                let error = jsonrpc::error(
                    upstream_id,
                    crate::errors::code::INTERNAL_ERROR,
                    "mcp-warden could not reach the client",
                    None,
                );
                if let Some(session) = self.opened(upstream) {
                    session.send(error).await;
                }
            }
        }
    }
}

async fn route_upstream_events(session: Weak<ClientSession>, mut events: mpsc::Receiver<UpstreamEvent>) {
    while let Some(event) = events.recv().await {
        let Some(session) = session.upgrade() else { return };
        session.relay_upstream_event(event).await;
    }
}

fn param_str(msg: &Value, pointer: &str) -> Result<String, GatewayError> {
    msg.pointer(pointer).and_then(Value::as_str).map(str::to_string).ok_or_else(|| {
        GatewayError::InvalidParams(format!("missing string {}", pointer.trim_start_matches('/').replace('/', ".")))
    })
}

/// Capability objects merge by union of their flags.
fn merge_capability(into: &mut Value, from: &Value) {
    if let (Some(into), Some(from)) = (into.as_object_mut(), from.as_object()) {
        for (key, value) in from {
            let merged = into.entry(key.clone()).or_insert(Value::Bool(false));
            if value.as_bool() == Some(true) || !value.is_boolean() {
                *merged = value.clone();
            }
        }
    }
}
