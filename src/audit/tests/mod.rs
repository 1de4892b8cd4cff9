//! Tests of the audit log: `chain` forges and damages files and expects the
//! verifier (and the sink's reopen) to notice; `writer` drives the writer
//! thread: concurrency, group commit, back-pressure and failed writes;
//! `bounds` what one record may take of a line; `files` who may read the
//! file and which chain file a second writer gets.

mod bounds;
mod chain;
mod files;
mod writer;

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::verify::{verify, VerifyError};
use super::{AuditEvent, AuditKey, AuditSink, Outcome};
use crate::policy::Verdict;

/// A refused call; `n` makes its reason, digest and latency unique.
fn event(n: u64) -> AuditEvent {
    AuditEvent {
        session: "stdio".to_string(),
        client_name: Some("claude-desktop".to_string()),
        client_version: None,
        server: "filesystem".to_string(),
        tool: "write_file".to_string(),
        verdict: Verdict::Deny,
        enforced: true,
        rule: "fs-write-needs-approval".to_string(),
        reason: format!("call {n} outside /srv/projects"),
        argument: Some("path".to_string()),
        constraint: Some("path_within".to_string()),
        args_digest: AuditKey::from_bytes(&[1; 32])
            .digest_arguments(Some(&json!({ "path": format!("/etc/passwd{n}") }))),
        latency_us: 40 + n,
        outcome: Some(Outcome::Blocked),
        caller: None,
        method: None,
        approval: None,
        integrity: None,
        sanitized: None,
        inspection: None,
    }
}

/// How event `n` shows in its line; the trailing word keeps `call 1` from matching `call 10`.
fn reason_of(n: u64) -> String {
    format!("\"reason\":\"call {n} outside")
}

/// A fresh log of `n` records; the TempDir must outlive the path.
fn log_with(n: u64) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let sink = AuditSink::open(&path).unwrap();
    for i in 1..=n {
        sink.record_blocking(&event(i)).unwrap();
    }
    (dir, path)
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path).unwrap().lines().map(str::to_string).collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

fn broken_at(path: &Path) -> (u64, String) {
    match verify(path) {
        Err(VerifyError::Broken { line, reason }) => (line, reason),
        other => panic!("expected a broken chain, got {other:?}"),
    }
}

fn parse(line: &str) -> Value {
    serde_json::from_str(line).unwrap()
}
