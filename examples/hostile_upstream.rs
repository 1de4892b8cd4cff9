//! A deliberately badly behaved MCP server over stdio, for fault-injection
//! tests. It speaks just enough raw JSON-RPC to pass a handshake, then
//! misbehaves on request:
//!
//! - `echo {text}`: answers, with fields no SDK knows (`x-vendor`) in both
//!   the tool definition and the result, to prove the relay keeps them;
//! - `garbage`: writes a line that is not JSON instead of an answer;
//! - `huge {mb}`: writes one line of `mb` megabytes (default 50);
//! - `close_stdout`: closes stdout but keeps running;
//! - `hang`: never answers;
//! - `crash`: exits with status 3 mid-call.
//!
//! Notifications it receives are appended to the file `$HOSTILE_LOG`, if set.
//! It is lenient as careless servers are: it reads a method whatever its case
//! and surrounding space, and runs a `tools/call` even when it comes as a
//! notification; every tool it runs is logged as `ran <name>`, so a test can
//! tell whether a call reached it.
//!
//! No SDK on purpose: an SDK would refuse to send most of this.

use serde_json::{json, Value};
use std::io::{BufRead, Write};

fn tool(name: &str, description: &str) -> Value {
    json!({
        "name": name,
        "description": description,
        "inputSchema": { "type": "object", "properties": { "text": { "type": "string" }, "mb": { "type": "integer" } } },
        "execution": { "taskSupport": "optional" },
        "x-vendor": { "risk": "high", "owner": "nobody" },
    })
}

/// Appends a line to `$HOSTILE_LOG`, if set.
fn log(line: &str) {
    if let Some(path) = std::env::var_os("HOSTILE_LOG") {
        if let Ok(mut log) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
            let _ = writeln!(log, "{line}");
        }
    }
}

fn main() {
    let stdin = std::io::stdin();
    let mut stdout = Some(std::io::stdout());
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        let Ok(msg) = serde_json::from_str::<Value>(&line) else { continue };
        let method = msg.get("method").and_then(Value::as_str).unwrap_or_default().trim().to_ascii_lowercase();
        let method = method.as_str();
        if method == "tools/call" {
            log(&format!("ran {}", msg.pointer("/params/name").and_then(Value::as_str).unwrap_or_default()));
        }
        let Some(id) = msg.get("id").cloned() else {
            // Notifications are recorded where a test can see them, if asked.
            log(&line);
            continue;
        };
        let result = match method {
            "initialize" => json!({
                "protocolVersion": msg.pointer("/params/protocolVersion").cloned().unwrap_or(json!("2025-06-18")),
                "capabilities": { "tools": {} },
                "serverInfo": { "name": "hostile", "version": "0.0.1" },
            }),
            "tools/list" => {
                let tools: Vec<Value> = ["echo", "garbage", "huge", "close_stdout", "hang", "crash"]
                    .iter()
                    .map(|n| tool(n, "misbehaves on purpose"))
                    .collect();
                json!({ "tools": tools, "x-list-extra": true })
            }
            "tools/call" => {
                let name = msg.pointer("/params/name").and_then(Value::as_str).unwrap_or_default();
                match name {
                    "echo" => json!({
                        "content": [{ "type": "text", "text": msg.pointer("/params/arguments/text").cloned().unwrap_or(json!("")) }],
                        "x-extra": { "kept": true },
                    }),
                    "garbage" => {
                        if let Some(out) = stdout.as_mut() {
                            let _ = out.write_all(b"{this is not json\n");
                            let _ = out.flush();
                        }
                        continue;
                    }
                    "huge" => {
                        let mb = msg.pointer("/params/arguments/mb").and_then(Value::as_u64).unwrap_or(50) as usize;
                        if let Some(out) = stdout.as_mut() {
                            let chunk = vec![b'A'; 1024 * 1024];
                            let _ = out.write_all(b"{\"jsonrpc\":\"2.0\",\"id\":");
                            let _ = out.write_all(id.to_string().as_bytes());
                            let _ = out.write_all(b",\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"");
                            for _ in 0..mb {
                                let _ = out.write_all(&chunk);
                            }
                            let _ = out.write_all(b"\"}]}}\n");
                            let _ = out.flush();
                        }
                        continue;
                    }
                    "close_stdout" => {
                        // Dropping the handle is not enough: the fd must go.
                        stdout = None;
                        // SAFETY: closing our own stdout fd; nothing else uses it.
                        unsafe { libc::close(1) };
                        continue;
                    }
                    "hang" => continue,
                    "crash" => std::process::exit(3),
                    _ => {
                        let err = json!({"jsonrpc":"2.0","id":id,"error":{"code":-32602,"message":"unknown tool"}});
                        if let Some(out) = stdout.as_mut() {
                            let _ = writeln!(out, "{err}");
                            let _ = out.flush();
                        }
                        continue;
                    }
                }
            }
            "ping" => json!({}),
            _ => {
                let err = json!({"jsonrpc":"2.0","id":id,"error":{"code":-32601,"message":"method not found"}});
                if let Some(out) = stdout.as_mut() {
                    let _ = writeln!(out, "{err}");
                    let _ = out.flush();
                }
                continue;
            }
        };
        if let Some(out) = stdout.as_mut() {
            let _ = writeln!(out, "{}", json!({ "jsonrpc": "2.0", "id": id, "result": result }));
            let _ = out.flush();
        }
    }
}
