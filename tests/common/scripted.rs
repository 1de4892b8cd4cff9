//! A Streamable HTTP MCP server on 127.0.0.1 that is polite through the
//! handshake and `tools/list` (one tool, `tool`) and answers `tools/call`
//! however the test scripts it: an endless SSE event, a trickle of chunks.

use axum::body::Bytes;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::sync::Arc;

/// Serves until the test ends; returns its MCP URL. `on_call` gets the
/// call's JSON-RPC id and makes the whole HTTP response.
pub async fn scripted_upstream(
    tool: &'static str,
    on_call: impl Fn(Value) -> Response + Send + Sync + 'static,
) -> String {
    let on_call = Arc::new(on_call);
    let app = axum::Router::new().fallback(move |method: Method, body: Bytes| {
        let on_call = on_call.clone();
        async move {
            match method {
                Method::POST => {}
                Method::GET => return StatusCode::METHOD_NOT_ALLOWED.into_response(),
                _ => return StatusCode::OK.into_response(),
            }
            let Ok(msg) = serde_json::from_slice::<Value>(&body) else {
                return StatusCode::BAD_REQUEST.into_response();
            };
            let Some(id) = msg.get("id").cloned() else { return StatusCode::ACCEPTED.into_response() };
            let result = match msg["method"].as_str().unwrap_or_default() {
                "initialize" => json!({
                    "protocolVersion": msg["params"]["protocolVersion"],
                    "capabilities": {"tools": {}},
                    "serverInfo": {"name": tool, "version": "0"},
                }),
                "tools/list" => json!({"tools": [{"name": tool, "inputSchema": {"type": "object"}}]}),
                "tools/call" => return on_call(id),
                _ => {
                    return axum::Json(json!({"jsonrpc":"2.0","id":id,"error":{"code":-32601,"message":"no"}}))
                        .into_response()
                }
            };
            axum::Json(json!({"jsonrpc": "2.0", "id": id, "result": result})).into_response()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    url
}
