//! Asking several upstreams the same thing and putting their answers
//! together: every page of one upstream's listing, the listings of many
//! upstreams at once, the aggregated endpoint's `initialize` answer, and
//! the announcement of an upstream that became ready after it.
//!
//! A listing never waits for an upstream that is failing: the upstream
//! session refuses at once (`UpstreamSession::ready_link`), and that one
//! listing is left out while the others answer.

use super::links::UpstreamLinks;
use super::ClientSession;
use crate::errors::GatewayError;
use crate::jsonrpc;
use crate::protocol::ClientContext;
use crate::upstream::{Health, UpstreamPool};
use serde_json::{json, Map, Value};
use std::sync::Weak;
use std::time::Duration;

/// No upstream may flood a session with pages of listings.
const MAX_LIST_PAGES: usize = 100;
/// The capabilities the aggregated endpoint merges from its upstreams
/// (`tools` it always offers itself).
const MERGED_CAPABILITIES: [&str; 5] = ["resources", "prompts", "logging", "completions", "tasks"];

/// Every page of a listing (`method`, items under `key`) from one upstream.
pub async fn list_all(
    links: &UpstreamLinks,
    upstream: usize,
    context: &ClientContext,
    method: &str,
    key: &str,
) -> Result<Vec<Value>, GatewayError> {
    let mut items = Vec::new();
    let mut cursor: Option<Value> = None;
    for _ in 0..MAX_LIST_PAGES {
        let params = match &cursor {
            Some(cursor) => json!({ "cursor": cursor }),
            None => json!({}),
        };
        let result = links.ask(upstream, context, method, params).await?;
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

/// The same listing from several upstreams at once, each with its own outcome.
pub async fn list_each(
    links: &UpstreamLinks,
    upstreams: &[usize],
    context: &ClientContext,
    method: &str,
    key: &str,
) -> Vec<(usize, Result<Vec<Value>, GatewayError>)> {
    let listings = futures::future::join_all(upstreams.iter().map(|&u| list_all(links, u, context, method, key))).await;
    upstreams.iter().copied().zip(listings).collect()
}

/// The aggregated endpoint's `initialize` result: the gateway's identity
/// and the union of what the given upstreams offer (`(prefix, their
/// initialize result)`), their instructions each marked with its prefix.
pub fn merged_init<'a>(version: &str, upstreams: impl IntoIterator<Item = (&'a str, &'a Value)>) -> Value {
    let mut capabilities = Map::new();
    capabilities.insert("tools".into(), json!({ "listChanged": true }));
    let mut instructions = Vec::new();
    for (prefix, init) in upstreams {
        if let Some(caps) = init.get("capabilities").and_then(Value::as_object) {
            for key in MERGED_CAPABILITIES {
                if let Some(cap) = caps.get(key) {
                    merge_capability(capabilities.entry(key).or_insert_with(|| json!({})), cap);
                }
            }
        }
        if let Some(text) = init.get("instructions").and_then(Value::as_str) {
            instructions.push(format!("[{prefix}] {text}"));
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

/// How often a wait for a late upstream checks that its session still exists.
const SESSION_CHECK: Duration = Duration::from_secs(30);
/// The `initialize` answer is on its way when the wait starts; an
/// announcement must not overtake it (a server says nothing before it).
const ANNOUNCE_AFTER: Duration = Duration::from_millis(100);

/// Tells the session's client, with `notifications/tools/list_changed`,
/// when one of `late` (upstreams missing from its `initialize` answer)
/// becomes ready, so that its tools appear without a reconnect. The tools
/// capability is always declared with `listChanged`; the other lists'
/// capabilities were fixed by the answer and cannot be announced.
pub fn announce_when_ready(pool: &UpstreamPool, late: Vec<usize>, session: Weak<ClientSession>) {
    for upstream in late {
        let mut health = pool.watch_health(upstream);
        let session = session.clone();
        tokio::spawn(async move {
            tokio::time::sleep(ANNOUNCE_AFTER).await;
            loop {
                if *health.borrow_and_update() == Health::Ready {
                    if let Some(session) = session.upgrade() {
                        session.send_unsolicited(jsonrpc::notification("notifications/tools/list_changed", None));
                    }
                    return;
                }
                tokio::select! {
                    changed = health.changed() => if changed.is_err() { return },
                    _ = tokio::time::sleep(SESSION_CHECK) => {}
                }
                if session.strong_count() == 0 {
                    return;
                }
            }
        });
    }
}

/// Capability objects merge by union of their flags: a flag any upstream
/// sets is set; a non-boolean value is taken as given.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_capabilities_are_the_union_of_the_upstreams_flags() {
        let files = json!({"capabilities": {"resources": {"subscribe": true, "listChanged": false}, "logging": {}}});
        let mail = json!({"capabilities": {"resources": {"listChanged": true}, "prompts": {"listChanged": false}, "experimental": {"x": {}}}});
        let init = merged_init("2025-06-18", [("files", &files), ("mail", &mail)]);
        assert_eq!(init["protocolVersion"], "2025-06-18");
        assert_eq!(init["capabilities"]["resources"], json!({"subscribe": true, "listChanged": true}));
        assert_eq!(init["capabilities"]["prompts"], json!({"listChanged": false}));
        assert_eq!(init["capabilities"]["logging"], json!({}));
        assert_eq!(init["capabilities"]["tools"], json!({"listChanged": true}));
        assert!(init["capabilities"].get("experimental").is_none(), "only what the gateway can route is offered");
        assert_eq!(init["serverInfo"]["name"], "mcp-warden");
        assert!(init.get("instructions").is_none());
    }

    #[test]
    fn instructions_name_the_server_they_come_from() {
        let a = json!({"instructions": "Use read_file for docs."});
        let b = json!({"instructions": "Never send mail at night."});
        let init = merged_init("2025-11-25", [("files", &a), ("mail", &b)]);
        assert_eq!(init["instructions"], "[files] Use read_file for docs.\n\n[mail] Never send mail at night.");
    }

    #[test]
    fn no_upstream_yet_still_offers_tools() {
        let init = merged_init("2025-11-25", []);
        assert_eq!(init["capabilities"], json!({"tools": {"listChanged": true}}));
    }
}
