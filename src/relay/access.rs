//! Resources, resource templates, prompts and completions on one client
//! session: each request routed to the upstream that serves it, each
//! listing filtered by policy, and every read, subscription, prompt and
//! completion handed to the access pipeline (`call::access`), which alone
//! decides and records them. Both endpoints take this path: `/mcp/<server>`
//! filters the upstream's own pages, `/mcp` merges every upstream's, its
//! resource URIs namespaced (`resources`) and mapped back on the way in, so
//! the policy always decides on the server's own URI.

use super::listing::{self, Listing};
use super::port::SessionPort;
use super::resources;
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
                let (upstream, uri) = self.resource_owner(&param_str(&msg, "/params/uri")?);
                let mut msg = msg;
                msg["params"]["uri"] = json!(uri);
                let params = json!({ "uri": uri });
                let request = AccessRequest {
                    method: canonical,
                    upstream: upstream.clone(),
                    access: Access::Resource(&uri),
                    arguments: Some(&params),
                };
                let answer = access::access(&self.gateway, &port, context, id, request, msg).await?;
                Ok(self.expose_answer(upstream, answer))
            }
            "resources/unsubscribe" => {
                // Dropping a subscription reads nothing, so nothing is decided;
                // it still goes only to the upstream that serves the URI.
                let exposed = param_str(&msg, "/params/uri")?;
                let (upstream, uri) = self.resource_owner(&exposed);
                let upstream = upstream.map_err(|why| {
                    GatewayError::InvalidParams(format!("resource \"{exposed}\" cannot be routed: {why}"))
                })?;
                let mut msg = msg;
                msg["params"]["uri"] = json!(uri);
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
                    upstream: upstream.clone(),
                    access: Access::Prompt(&original),
                    arguments: arguments.as_ref(),
                };
                let answer = access::access(&self.gateway, &port, context, id, request, msg).await?;
                Ok(self.expose_answer(upstream, answer))
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

    /// Merges a listing across upstreams: prompts under their namespaced
    /// names, resources and templates under namespaced URIs.
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
            let policy = self.gateway.policy();
            let server = &self.gateway.pool.config(upstream).name;
            let mut shown =
                listing::visible_entries(&policy, server, listing, entries, |name| naming.expose(upstream, name));
            if listing != Listing::Prompts {
                // Filtered under the server's own URIs, as its rules name them.
                for entry in &mut shown {
                    if let Some(uri) = entry.get(listing.field()).and_then(Value::as_str) {
                        let exposed = naming.expose_uri(upstream, uri);
                        entry[listing.field()] = Value::String(exposed);
                    }
                }
            }
            items.extend(shown);
        }
        Ok(jsonrpc::result(Value::Null, json!({ listing.key(): items })))
    }

    /// The upstream and its own URI behind a resource URI (or template) as
    /// the client knows it: on `/mcp/<server>` the server's URI as sent; on
    /// `/mcp` the namespaced form, mapped back. `Err` says why no upstream
    /// serves it (the URI is kept as sent).
    pub(super) fn resource_owner(&self, uri: &str) -> (Result<usize, String>, String) {
        match self.scope {
            Scope::Single(upstream) => (Ok(upstream), uri.to_string()),
            Scope::Aggregate => match self.gateway.naming.resolve_uri(uri) {
                Ok((upstream, original)) => (Ok(upstream), original.to_string()),
                Err(why) => (Err(why), uri.to_string()),
            },
        }
    }

    /// An upstream's answer as a client of this endpoint reads it: on `/mcp`
    /// every resource URI in its result namespaced.
    pub(super) fn expose_answer(&self, upstream: Result<usize, String>, mut answer: Value) -> Value {
        if let (Scope::Aggregate, Ok(upstream)) = (self.scope, upstream) {
            if let Some(result) = answer.get_mut("result") {
                let naming = &self.gateway.naming;
                resources::expose_result_uris(result, |uri| naming.expose_uri(upstream, uri));
            }
        }
        answer
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
                let (upstream, uri) = self.resource_owner(&param_str(&msg, "/params/ref/uri")?);
                msg["params"]["ref"]["uri"] = json!(uri);
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
