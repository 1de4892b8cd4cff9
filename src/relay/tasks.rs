//! Tasks (MCP 2025-11-25, task-augmented requests) on the aggregated
//! endpoint. A task id an upstream issues reaches the client namespaced like
//! a tool, `<server><separator><the server's task id>`, wherever the
//! protocol carries one (the `tools/call` that created it, `tasks/*`
//! results, `notifications/tasks/status`, and the related-task `_meta` of
//! anything sent while it runs); `tasks/get`, `tasks/result` and
//! `tasks/cancel` go to the server the id names, with its own id, and
//! `tasks/list` merges every server's. Two servers issuing the same id give
//! two ids, and routing needs no memory. `/mcp/<server>` relays task ids
//! unchanged.

use super::{fanout, param_str, ClientSession};
use crate::errors::GatewayError;
use crate::jsonrpc;
use crate::protocol::ClientContext;
use serde_json::{json, Value};

/// Where the protocol names the task a message belongs to.
const RELATED_TASK: &str = "io.modelcontextprotocol/related-task";

impl ClientSession {
    /// `tasks/get`, `tasks/result` or `tasks/cancel` on `/mcp`: the id names
    /// the server; anything else is refused before it leaves.
    pub(super) async fn task_request(
        &self,
        context: &ClientContext,
        id: &Value,
        mut msg: Value,
    ) -> Result<Value, GatewayError> {
        let exposed = param_str(&msg, "/params/taskId")?;
        let routed = self.resolve(&exposed).filter(|(upstream, _)| self.reachable().contains(upstream));
        let Some((upstream, original)) = routed else {
            let separator = &self.gateway.config.relay.separator;
            return Err(GatewayError::InvalidParams(format!(
                "task \"{exposed}\" cannot be routed: on the aggregated endpoint a task id has the form \
                 <server>{separator}<the server's task id>, as the task-augmented request returned it"
            )));
        };
        msg["params"]["taskId"] = json!(original);
        let mut answer = self.forward(context, upstream, id, msg).await?;
        if let Some(result) = answer.get_mut("result") {
            // tasks/get and tasks/cancel answer with the task itself.
            if result.get("taskId").is_some() {
                self.expose_task_id(upstream, result, "taskId");
            }
            self.expose_related_task(upstream, result);
        }
        // tasks/result answers with the request's own result.
        Ok(self.expose_answer(Ok(upstream), answer))
    }

    /// `tasks/list` on `/mcp`: every listing server's tasks, ids namespaced,
    /// in one page.
    pub(super) async fn list_tasks(&self, context: &ClientContext) -> Result<Value, GatewayError> {
        let pool = &self.gateway.pool;
        let upstreams: Vec<usize> = self
            .reachable()
            .into_iter()
            .filter(|&u| pool.init_result(u).is_some_and(|init| init.pointer("/capabilities/tasks/list").is_some()))
            .collect();
        let mut tasks = Vec::new();
        for (upstream, listing) in fanout::list_each(&self.links, &upstreams, context, "tasks/list", "tasks").await {
            match listing {
                Ok(listing) => tasks.extend(listing.into_iter().map(|mut task| {
                    self.expose_task_id(upstream, &mut task, "taskId");
                    task
                })),
                // One broken server must not hide the others' tasks.
                Err(e) => tracing::warn!(session = %self.label, "tasks/list failed: {e}"),
            }
        }
        Ok(jsonrpc::result(Value::Null, json!({ "tasks": tasks })))
    }

    /// A `tools/call` answer on `/mcp`: the task it created (if the request
    /// was task-augmented) and the resources it names, namespaced.
    pub(super) fn expose_call_answer(&self, upstream: Option<usize>, mut answer: Value) -> Value {
        let Some(upstream) = upstream else { return answer };
        if let Some(task) = answer.pointer_mut("/result/task") {
            self.expose_task_id(upstream, task, "taskId");
        }
        if let Some(result) = answer.get_mut("result") {
            self.expose_related_task(upstream, result);
        }
        self.expose_answer(Ok(upstream), answer)
    }

    /// A message an upstream sends on its own on `/mcp`: resource URIs and
    /// task ids in the namespaced form the client uses to answer them.
    pub(super) fn expose_upstream_message(&self, upstream: usize, msg: &mut Value) {
        let naming = &self.gateway.naming;
        let method = jsonrpc::method(msg).unwrap_or_default().to_string();
        let Some(params) = msg.get_mut("params") else { return };
        match method.as_str() {
            "notifications/resources/updated" => {
                if let Some(uri) = params.get("uri").and_then(Value::as_str) {
                    let exposed = naming.expose_uri(upstream, uri);
                    params["uri"] = Value::String(exposed);
                }
            }
            "notifications/tasks/status" => self.expose_task_id(upstream, params, "taskId"),
            _ => {}
        }
        self.expose_related_task(upstream, params);
    }

    fn expose_related_task(&self, upstream: usize, holder: &mut Value) {
        if let Some(related) = holder.get_mut("_meta").and_then(|meta| meta.get_mut(RELATED_TASK)) {
            self.expose_task_id(upstream, related, "taskId");
        }
    }

    fn expose_task_id(&self, upstream: usize, holder: &mut Value, field: &str) {
        if let Some(task_id) = holder.get(field).and_then(Value::as_str) {
            let exposed = self.gateway.naming.expose(upstream, task_id);
            holder[field] = Value::String(exposed);
        }
    }
}
