//! The relay's side of the call and access pipelines: what a call, or an
//! access to a resource or prompt, may ask of the session it arrived on,
//! for the length of one request.

use super::{fanout, ClientSession};
use crate::call::access::AccessPort;
use crate::call::{CallPort, Cleared, Definition};
use crate::errors::GatewayError;
use crate::jsonrpc;
use crate::protocol::ClientContext;
use serde_json::{json, Value};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

pub struct SessionPort<'a> {
    pub session: &'a ClientSession,
    pub context: &'a ClientContext,
}

impl CallPort for SessionPort<'_> {
    fn session_id(&self) -> &str {
        &self.session.id
    }

    fn resolve(&self, exposed: &str) -> Option<(usize, String)> {
        self.session.resolve(exposed)
    }

    fn server_name(&self, upstream: usize) -> &str {
        &self.session.gateway.pool.config(upstream).name
    }

    async fn definition(&self, upstream: usize, tool: &str) -> Result<Option<Arc<Definition>>, GatewayError> {
        let catalog = &self.session.catalog;
        if let Some(found) = catalog.get(upstream, tool) {
            return Ok(Some(found));
        }
        // Not in this session's last listing (or none yet): list once more,
        // since the client may call a tool it learned of elsewhere.
        let listing = fanout::list_all(&self.session.links, upstream, self.context, "tools/list", "tools").await?;
        let (_, withheld) = super::admission::admit(self.session, upstream, listing);
        if withheld {
            // The client may hold an older listing that showed what is now
            // withheld (a definition changed under it): it should list again.
            self.session.send_unsolicited(jsonrpc::notification("notifications/tools/list_changed", None));
        }
        Ok(catalog.get(upstream, tool))
    }

    async fn send_call(
        &self,
        cleared: Cleared,
        upstream: usize,
        call: &Value,
        msg: Value,
    ) -> Result<Value, GatewayError> {
        let session = self.session;
        session
            .links
            .send_call(cleared, upstream, self.context, msg, |upstream_id| {
                session.routes.lock().expect("routes lock").forwarded(call, upstream, upstream_id);
            })
            .await
    }

    fn progress_target(&self, call: &Value) -> Option<(mpsc::Sender<Value>, Value)> {
        self.session.routes.lock().expect("routes lock").progress_target(call)
    }

    fn ask_client(&self, call: &Value, method: &str, params: Value) -> Option<(Value, oneshot::Receiver<Value>)> {
        let (out, id, reply) = {
            let mut routes = self.session.routes.lock().expect("routes lock");
            let out = routes.stream_of(call);
            let (id, reply) = routes.own_request(call);
            (out, id, reply)
        };
        let message = jsonrpc::request(id.clone(), method, params);
        // Never wait on a client that is not reading: whoever asks has a deadline.
        if out.is_some_and(|out| out.try_send(message).is_ok()) {
            return Some((id, reply));
        }
        self.session.routes.lock().expect("routes lock").own_answer(&id);
        None
    }

    fn withdraw(&self, call: &Value, request: &Value, reason: &str) {
        let out = {
            let mut routes = self.session.routes.lock().expect("routes lock");
            routes.own_answer(request);
            routes.stream_of(call)
        };
        let note =
            jsonrpc::notification("notifications/cancelled", Some(json!({ "requestId": request, "reason": reason })));
        if let Some(out) = out {
            let _ = out.try_send(note);
        }
    }

    fn cancelled(&self, call: &Value) -> bool {
        self.session.routes.lock().expect("routes lock").is_cancelled(call)
    }

    fn flow(&self) -> &std::sync::Mutex<crate::call::flow::FlowState> {
        &self.session.flow
    }
}

impl AccessPort for SessionPort<'_> {
    fn session_id(&self) -> &str {
        &self.session.id
    }

    fn server_name(&self, upstream: usize) -> &str {
        &self.session.gateway.pool.config(upstream).name
    }

    async fn forward(&self, upstream: usize, request: &Value, msg: Value) -> Result<Value, GatewayError> {
        self.session.forward(self.context, upstream, request, msg).await
    }
}
