//! A load generator for MCP over Streamable HTTP: real sessions
//! (`initialize`, `notifications/initialized`), then `tools/call` in a loop
//! from C concurrent workers over S sessions. Reports latency percentiles,
//! calls per second and errors, and always stops by itself (a call count and
//! a time limit).
//!
//! ```text
//! loadgen --url http://127.0.0.1:8080/mcp --tool demo__echo --sessions 16 --concurrency 16 --calls 20000
//! loadgen --url ... --idle-sessions 1000 --hold-secs 30   # open idle sessions and hold them
//! ```
//! Only ever point it at 127.0.0.1.

#[path = "shared/report.rs"]
mod report;

use clap::Parser;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Parser, Clone)]
struct Args {
    /// The MCP endpoint.
    #[arg(long)]
    url: String,
    /// The tool to call (its arguments are `{"text": ...}`).
    #[arg(long, default_value = "demo__echo")]
    tool: String,
    #[arg(long, default_value_t = 16)]
    sessions: usize,
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Total calls across all workers.
    #[arg(long, default_value_t = 10_000)]
    calls: u64,
    /// Hard stop, whatever the count.
    #[arg(long, default_value_t = 120)]
    max_secs: u64,
    /// Size of the echoed text.
    #[arg(long, default_value_t = 64)]
    text_bytes: usize,
    /// Ask for JSON answers only (no SSE).
    #[arg(long)]
    json_only: bool,
    /// Instead of calling tools, open this many idle sessions and hold them.
    #[arg(long)]
    idle_sessions: Option<usize>,
    #[arg(long, default_value_t = 10)]
    hold_secs: u64,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

struct Session {
    id: String,
    next: AtomicU64,
}

fn accept(args: &Args) -> &'static str {
    if args.json_only {
        "application/json"
    } else {
        "application/json, text/event-stream"
    }
}

/// The JSON-RPC answer in a JSON or SSE body.
fn answer(content_type: &str, body: &str) -> Option<Value> {
    if content_type.starts_with("text/event-stream") {
        body.lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
            .find(|m| m.get("method").is_none() && m.get("id").is_some())
    } else {
        serde_json::from_str(body).ok()
    }
}

async fn post(
    client: &reqwest::Client,
    args: &Args,
    session: Option<&str>,
    body: &Value,
) -> Result<(reqwest::header::HeaderMap, Option<Value>), String> {
    let mut req = client
        .post(&args.url)
        .header("content-type", "application/json")
        .header("accept", accept(args))
        .header("mcp-protocol-version", "2025-11-25")
        .body(body.to_string());
    if let Some(session) = session {
        req = req.header("mcp-session-id", session);
    }
    let resp = req.send().await.map_err(|e| e.to_string())?;
    let status = resp.status();
    let headers = resp.headers().clone();
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let text = resp.text().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("HTTP {status}: {}", text.chars().take(200).collect::<String>()));
    }
    Ok((headers, answer(&content_type, &text)))
}

async fn open_session(client: &reqwest::Client, args: &Args) -> Result<Session, String> {
    let init = json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{
        "protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"loadgen","version":"1"}}});
    let (headers, _) = post(client, args, None, &init).await?;
    let id = headers.get("mcp-session-id").and_then(|v| v.to_str().ok()).ok_or("no session id")?.to_string();
    let note = json!({"jsonrpc":"2.0","method":"notifications/initialized"});
    post(client, args, Some(&id), &note).await?;
    Ok(Session { id, next: AtomicU64::new(1) })
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let client = reqwest::Client::builder().pool_max_idle_per_host(args.concurrency.max(1) * 2).build().unwrap();
    if let Some(count) = args.idle_sessions {
        let started = Instant::now();
        let mut sessions = Vec::with_capacity(count);
        for chunk in (0..count).collect::<Vec<_>>().chunks(64) {
            let opened = futures::future::join_all(chunk.iter().map(|_| open_session(&client, &args))).await;
            for s in opened {
                sessions.push(s.unwrap_or_else(|e| panic!("opening a session failed: {e}")));
            }
        }
        eprintln!(
            "opened {} idle sessions in {:.1}s; holding {}s",
            sessions.len(),
            started.elapsed().as_secs_f64(),
            args.hold_secs
        );
        println!("ready");
        tokio::time::sleep(Duration::from_secs(args.hold_secs)).await;
        return;
    }

    let mut sessions = Vec::new();
    for _ in 0..args.sessions.max(1) {
        sessions
            .push(Arc::new(open_session(&client, &args).await.unwrap_or_else(|e| panic!("initialize failed: {e}"))));
    }
    let remaining = Arc::new(AtomicU64::new(args.calls));
    let errors = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(args.max_secs);
    let text = "x".repeat(args.text_bytes);
    let started = Instant::now();
    let workers: Vec<_> = (0..args.concurrency.max(1))
        .map(|w| {
            let (client, args, session) = (client.clone(), args.clone(), sessions[w % sessions.len()].clone());
            let (remaining, errors, text) = (remaining.clone(), errors.clone(), text.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while Instant::now() < deadline && remaining.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1)).is_ok() {
                    let id = session.next.fetch_add(1, Ordering::Relaxed);
                    let call = json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":args.tool,"arguments":{"text":text}}});
                    let t = Instant::now();
                    let ok = match post(&client, &args, Some(&session.id), &call).await {
                        Ok((_, Some(answer))) => answer.get("result").is_some_and(|r| r.get("isError") != Some(&Value::Bool(true))),
                        _ => false,
                    };
                    latencies.push(t.elapsed().as_micros() as u64);
                    if !ok {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for w in workers {
        latencies.extend(w.await.unwrap());
    }
    let secs = started.elapsed().as_secs_f64();
    let extra = json!({"sessions": args.sessions, "concurrency": args.concurrency});
    report::print(latencies, errors.load(Ordering::Relaxed), secs, extra, args.json);
}
