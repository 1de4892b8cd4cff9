//! Resources, resource templates, prompts and completions on one client
//! session: each request routed to the upstream that serves it, each
//! listing filtered by policy, and every read, subscription, prompt and
//! completion handed to the access pipeline (`call::access`), which alone
//! decides and records them. Both endpoints take this path: `/mcp/<server>`
//! filters the upstream's own pages, `/mcp` merges every upstream's.

use super::listing::{self, Listing};
use super::port::SessionPort;
use super::resources::Route;
use super::{fanout, param_str, ClientSession, Scope};
use crate::call::access::{self, AccessRequest};
use crate::errors::GatewayError;
use crate::jsonrpc;
use crate::policy::Access;
use crate::protocol::ClientContext;
use serde_json::{json, Value};

/// The methods routed here, as the protocol spells them.
const ACCESS_METHODS: [&str; 8] = [
    "resources/list",
    "resources/templates/list",
    "prompts/list",
    "resources/read",
    "resources/subscribe",
    "resources/unsubscribe",
    "prompts/get",
    "completion/complete",
];

/// `method` when it is one of ours. Other spellings (`Resources/Read`,
/// ` prompts/get`) never get here: `call::frame` refuses and records them
/// before dispatch, as it does for every policed method.
pub(super) fn access_method(method: &str) -> Option<&'static str> {
    ACCESS_METHODS.into_iter().find(|m| *m == method)
}

impl ClientSession {
    /// Handles one request whose method is `canonical` (see [`access_method`]).
    pub(super) async fn access(
        &self,
        context: &ClientContext,
        id: &Value,
        msg: Value,
        canonical: &'static str,
    ) -> Result<Value, GatewayError> {
        let port = SessionPort { session: self, context };
        match canonical {
            "resources/list" => self.listing(context, id, msg, Listing::Resources).await,
            "resources/templates/list" => self.listing(context, id, msg, Listing::ResourceTemplates).await,
            "prompts/list" => self.listing(context, id, msg, Listing::Prompts).await,
            "resources/read" | "resources/subscribe" => {
                let uri = param_str(&msg, "/params/uri")?;
                let upstream = self.resource_owner(context, &uri).await;
                let params = json!({ "uri": uri });
                let request = AccessRequest {
                    method: canonical,
                    upstream,
                    access: Access::Resource(&uri),
                    arguments: Some(&params),
                };
                access::access(&self.gateway, &port, context, id, request, msg).await
            }
            "resources/unsubscribe" => {
                // Dropping a subscription reads nothing, so nothing is decided;
                // it still goes only to the upstream that serves the URI.
                let uri = param_str(&msg, "/params/uri")?;
                let upstream = self.resource_owner(context, &uri).await.map_err(|why| {
                    GatewayError::InvalidParams(format!("resource \"{uri}\" cannot be routed: {why}"))
                })?;
                self.forward(context, upstream, id, msg).await
            }
            "prompts/get" => {
                let name = param_str(&msg, "/params/name")?;
                let (upstream, original) = self.prompt_owner(&name);
                let mut msg = msg;
                msg["params"]["name"] = json!(original);
                let arguments = msg.pointer("/params/arguments").cloned();
                let request = AccessRequest {
                    method: canonical,
                    upstream,
                    access: Access::Prompt(&original),
                    arguments: arguments.as_ref(),
                };
                access::access(&self.gateway, &port, context, id, request, msg).await
            }
            _ => self.complete(&port, context, id, msg).await,
        }
    }

    /// A listing as the client may see it: on `/mcp/<server>` the upstream's
    /// own page, filtered; on `/mcp` every page of every upstream, merged.
    async fn listing(
        &self,
        context: &ClientContext,
        id: &Value,
        msg: Value,
        listing: Listing,
    ) -> Result<Value, GatewayError> {
        let Scope::Single(upstream) = self.scope else {
            return self.list_merged(context, listing).await;
        };
        let mut response = self.forward(context, upstream, id, msg).await?;
        if let Some(entries) = response.get_mut("result").and_then(|r| r.get_mut(listing.key())) {
            // Anything but an array of entries cannot be filtered, so none of it is shown.
            let taken = match entries.take() {
                Value::Array(entries) => entries,
                _ => Vec::new(),
            };
            let policy = self.gateway.policy();
            let server = &self.gateway.pool.config(upstream).name;
            *entries = Value::Array(listing::visible_entries(&policy, server, listing, taken, str::to_string));
        }
        Ok(response)
    }

    /// Merges a listing across upstreams, learning from the unfiltered
    /// entries which upstream serves which URI (so that a refused read is
    /// refused by its rule, not lost for want of a route).
    pub(super) async fn list_merged(&self, context: &ClientContext, listing: Listing) -> Result<Value, GatewayError> {
        let naming = &self.gateway.naming;
        let upstreams: Vec<usize> =
            self.reachable().into_iter().filter(|&u| self.capable(u, listing.capability())).collect();
        let mut items = Vec::new();
        for (upstream, entries) in
            fanout::list_each(&self.links, &upstreams, context, listing.method(), listing.key()).await
        {
            let entries = match entries {
                Ok(entries) => entries,
                Err(e) => {
                    // One broken server must not hide the others' entries.
                    self.listing_skipped(upstream, listing.method(), &e);
                    continue;
                }
            };
            let names = entries.iter().filter_map(|e| e.get(listing.field()).and_then(Value::as_str));
            match listing {
                Listing::Resources => self.resources.lock().expect("resources lock").learn_resources(upstream, names),
                Listing::ResourceTemplates => {
                    self.resources.lock().expect("resources lock").learn_templates(upstream, names)
                }
                Listing::Prompts => {}
            }
            let policy = self.gateway.policy();
            let server = &self.gateway.pool.config(upstream).name;
            items.extend(listing::visible_entries(&policy, server, listing, entries, |name| {
                naming.expose(upstream, name)
            }));
        }
        Ok(jsonrpc::result(Value::Null, json!({ listing.key(): items })))
    }

    /// Which upstream serves a resource URI (or template): on `/mcp/<server>`
    /// that server; on `/mcp` a listed URI, else a listed template, else the
    /// only upstream with resources. `Err` says why none does.
    pub(super) async fn resource_owner(&self, context: &ClientContext, uri: &str) -> Result<usize, String> {
        if let Scope::Single(upstream) = self.scope {
            return Ok(upstream);
        }
        for attempt in 0..2 {
            let route = self.resources.lock().expect("resources lock").route(uri);
            match route {
                Route::To(upstream) => return Ok(upstream),
                Route::Ambiguous => {
                    return Err("more than one upstream server lists it; read it through /mcp/<server>".into())
                }
                Route::Unknown => {}
            }
            let with_resources: Vec<usize> =
                self.reachable().into_iter().filter(|&u| self.capable(u, "resources")).collect();
            if let [only] = with_resources.as_slice() {
                return Ok(*only);
            }
            if attempt == 0 {
                // The client may read a URI it learned elsewhere: learn the
                // listings once and look again.
                let _ = self.list_merged(context, Listing::Resources).await;
                let _ = self.list_merged(context, Listing::ResourceTemplates).await;
            }
        }
        Err("no upstream server lists it".into())
    }

    /// The upstream and original name behind a prompt name as the client
    /// knows it; `Err` when no upstream has it (the name is kept as sent).
    fn prompt_owner(&self, name: &str) -> (Result<usize, String>, String) {
        match self.resolve(name) {
            Some((upstream, original)) => (Ok(upstream), original),
            None => (Err("no upstream server has a prompt by that name".into()), name.to_string()),
        }
    }

    /// `completion/complete`, decided as the prompt or resource template it
    /// completes: completions of something refused would leak it.
    async fn complete(
        &self,
        port: &SessionPort<'_>,
        context: &ClientContext,
        id: &Value,
        mut msg: Value,
    ) -> Result<Value, GatewayError> {
        const METHOD: &str = "completion/complete";
        let argument = msg.pointer("/params/argument").cloned();
        let kind = msg.pointer("/params/ref/type").and_then(Value::as_str).map(str::to_string);
        match kind.as_deref() {
            Some("ref/prompt") => {
                let name = param_str(&msg, "/params/ref/name")?;
                let (upstream, original) = self.prompt_owner(&name);
                msg["params"]["ref"]["name"] = json!(original);
                let request = AccessRequest {
                    method: METHOD,
                    upstream,
                    access: Access::Prompt(&original),
                    arguments: argument.as_ref(),
                };
                access::access(&self.gateway, port, context, id, request, msg).await
            }
            Some("ref/resource") => {
                let uri = param_str(&msg, "/params/ref/uri")?;
                let upstream = self.resource_owner(context, &uri).await;
                let request = AccessRequest {
                    method: METHOD,
                    upstream,
                    access: Access::ResourceTemplate(&uri),
                    arguments: argument.as_ref(),
                };
                access::access(&self.gateway, port, context, id, request, msg).await
            }
            _ => Err(GatewayError::InvalidParams("completion/complete needs a ref/prompt or ref/resource".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_protocols_spelling_is_an_access_method() {
        assert_eq!(access_method("resources/read"), Some("resources/read"));
        assert_eq!(access_method("prompts/get"), Some("prompts/get"));
        for other in ["Resources/Read", " resources/read", "resources/ read", "tools/call"] {
            assert_eq!(access_method(other), None, "{other:?}");
        }
    }
}
