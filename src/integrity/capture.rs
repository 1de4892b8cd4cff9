//! Reads what each upstream advertises (its instructions, tools, prompts
//! and resource templates) over the configured transports, for
//! `mcp-warden pin` and `mcp-warden scan --config`: the same connections
//! the gateway makes, so what is pinned is what the gateway will be shown.

use super::lockfile::Advertised;
use crate::config::GatewayConfig;
use crate::jsonrpc;
use crate::upstream::{Hello, UpstreamPool, UpstreamSession};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// No upstream may flood a capture with pages.
const MAX_PAGES: usize = 100;

/// What each named upstream advertises (all of them when `only` is None),
/// in config order, each with its own outcome. Must run inside a runtime.
pub async fn advertised(config: &GatewayConfig, only: Option<&str>) -> Vec<(String, Result<Advertised, String>)> {
    let pool = UpstreamPool::start(&config.upstreams, &config.relay);
    let wait = config.relay.startup_timeout.max(Duration::from_secs(10));
    let mut out = Vec::new();
    for (index, upstream) in config.upstreams.iter().enumerate() {
        if only.is_some_and(|name| name != upstream.name) {
            continue;
        }
        out.push((upstream.name.clone(), read_upstream(&pool, index, wait, config.relay.request_timeout).await));
    }
    out
}

/// What upstream `index` of a running pool advertises, over a session of
/// its own that ends when this returns.
pub async fn read_upstream(
    pool: &Arc<UpstreamPool>,
    index: usize,
    wait: Duration,
    timeout: Duration,
) -> Result<Advertised, String> {
    // Server-to-client requests have nobody to answer them here; the
    // channel only has to exist.
    let (events, _ignored) = mpsc::channel(16);
    let session = pool.open(index, Hello::default(), events).map_err(|e| e.to_string())?;
    let init = session.ready(wait).await.map_err(|e| e.to_string())?;
    read_all(&session, &init, timeout).await
}

async fn read_all(session: &UpstreamSession, init: &Value, timeout: Duration) -> Result<Advertised, String> {
    let capabilities = init.get("capabilities").cloned().unwrap_or(Value::Null);
    let has = |name: &str| capabilities.get(name).is_some();
    let mut advertised = Advertised {
        instructions: init.get("instructions").and_then(Value::as_str).map(str::to_string),
        ..Advertised::default()
    };
    if has("tools") {
        advertised.tools = list(session, "tools/list", "tools", timeout).await?;
    }
    if has("prompts") {
        advertised.prompts = list(session, "prompts/list", "prompts", timeout).await?;
    }
    if has("resources") {
        advertised.resource_templates =
            list(session, "resources/templates/list", "resourceTemplates", timeout).await.unwrap_or_default();
    }
    Ok(advertised)
}

async fn list(session: &UpstreamSession, method: &str, key: &str, timeout: Duration) -> Result<Vec<Value>, String> {
    let mut items = Vec::new();
    let mut cursor: Option<Value> = None;
    for _ in 0..MAX_PAGES {
        let params = match &cursor {
            Some(cursor) => json!({ "cursor": cursor }),
            None => json!({}),
        };
        let answer = session
            .request(jsonrpc::request(Value::Null, method, params), timeout, |_| {})
            .await
            .map_err(|e| e.to_string())?;
        if let Some(error) = answer.get("error") {
            return Err(format!("{method} failed: {error}"));
        }
        let result = answer.get("result").cloned().unwrap_or(Value::Null);
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
