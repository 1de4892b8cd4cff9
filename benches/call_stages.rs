//! The per-call stages that BENCHMARKS.md gives a budget and that the other
//! benches do not already cover (`policy_decision`: decide;
//! `audit_record`: the awaited audit write; `relay_frames`: a frame's
//! parse and rename). Each is measured as the pipeline runs it, without I/O.

use criterion::{criterion_group, criterion_main, Criterion};
use mcp_warden::audit::AuditKey;
use serde_json::{json, Value};
use std::hint::black_box;
use std::sync::Arc;
use tokio::sync::Semaphore;

/// The per-session in-flight limit: a permit taken when a request arrives
/// and given back when it ends (`relay.max_inflight_per_session`).
fn limit_check(c: &mut Criterion) {
    let inflight = Arc::new(Semaphore::new(100));
    c.bench_function("stage/limit/inflight_permit_take_and_return", |b| {
        b.iter(|| {
            let permit = black_box(&inflight).clone().try_acquire_owned().expect("room");
            drop(black_box(permit));
        })
    });
}

/// The keyed digests each call's audit record carries: its arguments and
/// its session, computed once per call.
fn audit_digests(c: &mut Criterion) {
    let key = AuditKey::generate();
    let args = json!({"path": "/srv/projects/notes/today.md", "encoding": "utf-8", "max_bytes": 65536});
    c.bench_function("stage/audit/digest_arguments", |b| b.iter(|| key.digest_arguments(Some(black_box(&args)))));
    let session = "5f1c8e0a3b7d4c599a510d6e2f4b7c13";
    c.bench_function("stage/audit/digest_session", |b| b.iter(|| key.digest_session(black_box(session))));
}

/// The answer on its way back: the upstream's JSON body parsed, its id
/// restored to the client's, and encoded for the client.
fn answer(c: &mut Criterion) {
    let body = json!({"jsonrpc":"2.0","id":7,"result":{"content":[{"type":"text","text":"x".repeat(64)}],
        "isError":false}})
    .to_string();
    c.bench_function("stage/answer/parse_restore_id_encode", |b| {
        b.iter(|| {
            let mut msg: Value = serde_json::from_slice(black_box(body.as_bytes())).expect("JSON");
            msg["id"] = json!(42);
            serde_json::to_vec(&msg).expect("encodes")
        })
    });
}

/// The definition stage of a call (`Integrity::admit`): the pin looked up
/// and compared, the cached scan read. The digest is made once per
/// definition (`Definition::digest`), measured apart.
fn pin_check(c: &mut Criterion) {
    use mcp_warden::config::{InspectionConfig, PinMode, PinsConfig};
    use mcp_warden::integrity::Integrity;
    let dir = tempfile::tempdir().unwrap();
    let pins = PinsConfig { mode: PinMode::TrustOnFirstUse, dir: dir.path().to_path_buf() };
    let integrity = Integrity::load(&pins, &InspectionConfig::default(), &["files".to_string()]).unwrap();
    let tools: Vec<Value> = (0..40)
        .map(|i| {
            json!({"name": format!("tool_{i}"), "description": "Reads a file from the workspace.",
            "inputSchema": {"type": "object", "properties": {"path": {"type": "string"}}}})
        })
        .collect();
    integrity.listed("files", &tools);
    let tool = &tools[39];
    let digest = mcp_warden::inspect::canonical::definition_digest(tool);
    integrity.admit("files", "tool_39", tool, &digest);
    c.bench_function("stage/pin_check/admit_pinned_clean", |b| {
        b.iter(|| integrity.admit(black_box("files"), black_box("tool_39"), black_box(tool), black_box(&digest)))
    });
    c.bench_function("stage/pin_check/definition_digest_once_per_definition", |b| {
        b.iter(|| mcp_warden::inspect::canonical::definition_digest(black_box(tool)))
    });
}

criterion_group!(benches, limit_check, audit_digests, answer, pin_check);
criterion_main!(benches);
