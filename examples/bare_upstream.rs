//! The cheapest MCP server that still speaks the protocol: one `echo` tool,
//! answered in plain JSON over Streamable HTTP (`--http ADDR`) or
//! newline-delimited JSON over stdio (`--stdio`). The benchmarks put the
//! gateway in front of it so that what they measure is the gateway's own
//! cost, not an SDK's work hidden behind it (the demo upstream, an rmcp
//! server, spends about as much CPU per call as the gateway does).
//!
//! ```text
//! bare_upstream --http 127.0.0.1:0     # prints "listening on http://127.0.0.1:PORT/mcp"
//! bare_upstream --stdio
//! ```
//! Only ever bind it to 127.0.0.1.

use axum::body::Bytes;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// What the server answers to one JSON-RPC message; `None` for a
/// notification or a response, which get no answer.
fn answer(msg: &Value) -> Option<Value> {
    let id = msg.get("id")?.clone();
    let method = msg.get("method")?.as_str()?;
    let result = match method {
        "initialize" => json!({
            "protocolVersion": msg.pointer("/params/protocolVersion").cloned().unwrap_or(json!("2025-06-18")),
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "bare-upstream", "version": "1"}
        }),
        "ping" => json!({}),
        "tools/list" => json!({"tools": [{
            "name": "echo",
            "description": "Returns its text argument.",
            "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}}
        }]}),
        "tools/call" if msg.pointer("/params/name").and_then(Value::as_str) == Some("echo") => {
            let text = msg.pointer("/params/arguments/text").and_then(Value::as_str).unwrap_or_default();
            json!({"content": [{"type": "text", "text": text}], "isError": false})
        }
        _ => {
            return Some(json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32601, "message": "method not found"}}))
        }
    };
    Some(json!({"jsonrpc": "2.0", "id": id, "result": result}))
}

static SESSIONS: AtomicU64 = AtomicU64::new(1);

async fn mcp(method: Method, headers: HeaderMap, body: Bytes) -> Response {
    match method {
        Method::POST => {}
        Method::DELETE => return StatusCode::OK.into_response(),
        // No server-initiated stream: the spec lets a server refuse the GET.
        _ => return StatusCode::METHOD_NOT_ALLOWED.into_response(),
    }
    let Ok(msg) = serde_json::from_slice::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "not JSON").into_response();
    };
    let is_initialize = msg.get("method").and_then(Value::as_str) == Some("initialize");
    if !is_initialize && headers.get("mcp-session-id").is_none() {
        return (StatusCode::BAD_REQUEST, "Mcp-Session-Id is required").into_response();
    }
    let Some(answer) = answer(&msg) else {
        return StatusCode::ACCEPTED.into_response();
    };
    let mut response =
        ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], answer.to_string()).into_response();
    if is_initialize {
        let id = format!("bare-{}", SESSIONS.fetch_add(1, Ordering::Relaxed));
        response.headers_mut().insert("mcp-session-id", HeaderValue::from_str(&id).expect("ascii"));
    }
    response
}

async fn serve_http(addr: &str) {
    use axum::serve::ListenerExt;
    let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
    eprintln!("listening on http://{}/mcp", listener.local_addr().expect("address"));
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let app = axum::Router::new().route("/mcp", axum::routing::any(mcp));
    axum::serve(listener, app).await.expect("serve");
}

async fn serve_stdio() {
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut out = tokio::io::stdout();
    while let Ok(Some(line)) = lines.next_line().await {
        let Ok(msg) = serde_json::from_str::<Value>(&line) else { continue };
        if let Some(answer) = answer(&msg) {
            let mut text = answer.to_string();
            text.push('\n');
            if out.write_all(text.as_bytes()).await.is_err() || out.flush().await.is_err() {
                return;
            }
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["--http", addr] => serve_http(addr).await,
        ["--stdio"] => serve_stdio().await,
        _ => {
            eprintln!("usage: bare_upstream --http 127.0.0.1:PORT | --stdio");
            std::process::exit(3);
        }
    }
}
