//! A load generator for MCP over stdio, the path Claude Desktop takes: it
//! starts the server command as its child, opens the session
//! (`initialize`, `notifications/initialized`), then sends `tools/call`
//! with up to C requests in flight on the one pipe, and reports latency
//! percentiles, calls per second, errors and the CPU the child (and, for a
//! gateway, the child's own children) spent per call.
//!
//! ```text
//! stdio_loadgen --tool demo__echo --concurrency 1 --calls 3000 -- mcp-warden stdio --config gw.toml
//! stdio_loadgen --tool echo --concurrency 16 --calls 20000 --json -- bare_upstream --stdio
//! ```

#[path = "shared/report.rs"]
mod report;

use clap::Parser;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

#[derive(Parser)]
struct Args {
    /// The tool to call (its arguments are `{"text": ...}`).
    #[arg(long, default_value = "demo__echo")]
    tool: String,
    /// Requests in flight at once on the pipe.
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    #[arg(long, default_value_t = 3000)]
    calls: u64,
    /// Size of the echoed text.
    #[arg(long, default_value_t = 64)]
    text_bytes: usize,
    /// Hard stop, whatever the count.
    #[arg(long, default_value_t = 120)]
    max_secs: u64,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// The server command and its arguments.
    #[arg(last = true, required = true)]
    command: Vec<String>,
}

/// CPU time (user + system, in microseconds) `pid` has used, and with
/// `children` what its live descendants have used too: a gateway's stdio
/// upstreams are its children.
fn cpu_us(pid: u32, children: bool) -> u64 {
    fn stat(pid: u32) -> Option<(u64, Vec<u32>)> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // Fields after the command name, which is in parentheses and may hold spaces.
        let fields: Vec<&str> = text.rsplit_once(')')?.1.split_whitespace().collect();
        let ticks: u64 = fields[11].parse::<u64>().ok()? + fields[12].parse::<u64>().ok()?;
        let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        Some((ticks, children.split_whitespace().filter_map(|c| c.parse().ok()).collect()))
    }
    let hz = 100; // USER_HZ on Linux
    let mut total = 0;
    let mut pending = vec![pid];
    while let Some(p) = pending.pop() {
        if let Some((ticks, kids)) = stat(p) {
            total += ticks * 1_000_000 / hz;
            if children {
                pending.extend(kids);
            }
        }
    }
    total
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args = Args::parse();
    let mut child = Command::new(&args.command[0])
        .args(&args.command[1..])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {:?}: {e}", args.command));
    let pid = child.id().expect("a running child has a pid");
    let mut stdin = child.stdin.take().expect("piped");
    let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
    let deadline = Instant::now() + Duration::from_secs(args.max_secs);

    let init = json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{
        "protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"stdio-loadgen","version":"1"}}});
    stdin.write_all(format!("{init}\n").as_bytes()).await.expect("write initialize");
    loop {
        let line = tokio::time::timeout_at(deadline.into(), lines.next_line())
            .await
            .expect("initialize timed out")
            .expect("read")
            .expect("the server closed its stdout before answering initialize");
        let msg: Value = serde_json::from_str(&line).expect("the server wrote a line that is not JSON");
        if msg.get("id") == Some(&json!(0)) {
            assert!(msg.get("result").is_some(), "initialize failed: {msg}");
            break;
        }
    }
    stdin.write_all(b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n").await.expect("write");

    let text = "x".repeat(args.text_bytes);
    let mut sent_at: HashMap<u64, Instant> = HashMap::new();
    let mut latencies = Vec::with_capacity(args.calls as usize);
    let (mut next, mut errors) = (1u64, 0u64);
    let cpu_before = (cpu_us(pid, false), cpu_us(pid, true));
    let started = Instant::now();
    while (latencies.len() as u64) < args.calls && Instant::now() < deadline {
        while sent_at.len() < args.concurrency.max(1) && next <= args.calls {
            let call = json!({"jsonrpc":"2.0","id":next,"method":"tools/call",
                "params":{"name":args.tool,"arguments":{"text":text}}});
            sent_at.insert(next, Instant::now());
            stdin.write_all(format!("{call}\n").as_bytes()).await.expect("write a call");
            next += 1;
        }
        let Ok(line) = tokio::time::timeout_at(deadline.into(), lines.next_line()).await else { break };
        let Some(line) = line.expect("read") else { break };
        let Ok(msg) = serde_json::from_str::<Value>(&line) else {
            errors += 1;
            continue;
        };
        if msg.get("method").is_some() {
            continue; // a notification or a request of the server's: not an answer
        }
        let Some(at) = msg.get("id").and_then(Value::as_u64).and_then(|id| sent_at.remove(&id)) else { continue };
        latencies.push(at.elapsed().as_micros() as u64);
        if msg.pointer("/result/isError") != Some(&Value::Bool(false)) && msg.pointer("/result/isError").is_some()
            || msg.get("error").is_some()
        {
            errors += 1;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let cpu = (cpu_us(pid, false) - cpu_before.0, cpu_us(pid, true) - cpu_before.1);
    drop(stdin);
    let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
    let calls = latencies.len() as u64;
    errors += args.calls - calls;
    let extra = json!({
        "concurrency": args.concurrency,
        "server_cpu_us_per_call": cpu.0.checked_div(calls).unwrap_or(0),
        "with_children_cpu_us_per_call": cpu.1.checked_div(calls).unwrap_or(0),
    });
    report::print(latencies, errors, secs, extra, args.json);
}
