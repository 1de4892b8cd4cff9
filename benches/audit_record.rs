//! One awaited audit record, as the relay writes one before forwarding each
//! `tools/call`: a single caller (the latency a call pays), and 16 callers
//! at once (time per record when concurrent calls share group commits).
//! Each sample writes to a fresh file in a temporary directory.

use criterion::{criterion_group, criterion_main, Criterion};
use mcp_warden::audit::{AuditEvent, AuditKey, AuditSink, Outcome};
use mcp_warden::policy::Verdict;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

const CALLERS: u64 = 16;

fn event() -> AuditEvent {
    AuditEvent {
        session: "5f1c8e0a-3b7d-4c59-9a51-0d6e2f4b7c13".to_string(),
        client_name: Some("claude-desktop".to_string()),
        client_version: Some("0.9.3".to_string()),
        server: "filesystem".to_string(),
        tool: "read_file".to_string(),
        verdict: Verdict::Allow,
        enforced: true,
        rule: "fs-read-projects".to_string(),
        reason: "allowed by rule fs-read-projects".to_string(),
        argument: None,
        constraint: None,
        args_digest: AuditKey::generate().digest_arguments(Some(&json!({"path": "/srv/projects/notes/today.md"}))),
        latency_us: 38,
        outcome: Some(Outcome::Forwarded),
        caller: None,
        method: None,
        approval: None,
        integrity: None,
        sanitized: None,
        inspection: None,
    }
}

/// Writes `records` records from `callers` tasks at once on a fresh file and
/// returns the wall time they took, and the sink's batch count.
fn run(runtime: &tokio::runtime::Runtime, callers: u64, records: u64) -> (Duration, u64) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let sink = Arc::new(AuditSink::open(&dir.path().join("audit.jsonl")).expect("audit file opens"));
    let elapsed = runtime.block_on(async {
        let started = Instant::now();
        let tasks: Vec<_> = (0..callers)
            .map(|c| {
                let sink = Arc::clone(&sink);
                // Spread the remainder so that exactly `records` are written.
                let share = records / callers + u64::from(c < records % callers);
                tokio::spawn(async move {
                    let event = event();
                    for _ in 0..share {
                        sink.record(&event).await.expect("record written");
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("caller task");
        }
        started.elapsed()
    });
    (elapsed, sink.stats().batches)
}

fn record(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let mut group = c.benchmark_group("audit_record");
    group.sample_size(30);
    for callers in [1, CALLERS] {
        let mut batches = (0, 0);
        group.bench_function(format!("{callers}_callers/per_record"), |b| {
            b.iter_custom(|iters| {
                let (elapsed, written_in) = run(&runtime, callers, iters);
                batches = (batches.0 + iters, batches.1 + written_in);
                elapsed
            })
        });
        eprintln!(
            "audit_record/{callers}_callers: {} records in {} writes ({:.1} records per write)",
            batches.0,
            batches.1,
            batches.0 as f64 / batches.1.max(1) as f64
        );
    }
    group.finish();
}

criterion_group!(benches, record);
criterion_main!(benches);
