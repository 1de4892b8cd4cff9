//! The file format, and damage the verifier (or reopening) must name.

use serde_json::{json, Value};

use super::{broken_at, event, lines, log_with, parse, write_lines};
use crate::audit::digest::sha256_hex;
use crate::audit::record::GENESIS_PREV;
use crate::audit::verify::verify;
use crate::audit::{ApprovalAudit, AuditError, AuditSink, Outcome, RECORD_FIELDS};

#[test]
fn records_have_stable_key_order_and_genesis_prev() {
    let (_dir, path) = log_with(2);
    let lines = lines(&path);
    // Key order on disk, read back without a map that might reorder it.
    let first = &lines[0];
    let mut last_pos = 0;
    for key in RECORD_FIELDS {
        let pos = first.find(&format!("\"{key}\":")).unwrap();
        assert!(pos >= last_pos, "key {key} out of order in {first}");
        last_pos = pos;
    }
    assert_eq!(parse(first)["prev"], GENESIS_PREV);
    assert_eq!(parse(first)["seq"], 1);
    assert_eq!(parse(first)["client_version"], Value::Null);
    assert_eq!(parse(&lines[1])["prev"], sha256_hex(first.as_bytes()));
    assert!(parse(first)["time"].as_str().unwrap().ends_with('Z'));
    assert_eq!(verify(&path).unwrap().records, 2);
}

#[tokio::test]
async fn outcomes_are_snake_case_and_the_caller_follows_outcome_only_when_known() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let sink = AuditSink::open(&path).unwrap();
    let mut failed = event(1);
    failed.outcome = Some(Outcome::UpstreamError);
    failed.caller = Some("https://idp.example|alice".to_string());
    failed.approval = Some(ApprovalAudit { request: "r-1".to_string(), ..ApprovalAudit::default() });
    sink.record(&failed).await.unwrap();
    sink.record(&event(2)).await.unwrap();

    let lines = lines(&path);
    let outcome = lines[0].find("\"outcome\":\"upstream_error\"").expect("snake_case outcome");
    let caller = lines[0].find("\"caller\":\"https://idp.example|alice\"").expect("caller written");
    let approval = lines[0].find("\"approval\":{").expect("approval written");
    assert!(outcome < caller && caller < approval, "caller sits between outcome and approval: {}", lines[0]);
    assert!(!lines[1].contains("\"caller\""), "no caller key when none is known: {}", lines[1]);
    assert_eq!(parse(&lines[1])["verdict"], "deny");
    assert_eq!(verify(&path).unwrap().records, 2);
}

#[tokio::test]
async fn chain_continues_across_reopen() {
    let (_dir, path) = log_with(3);
    let sink = AuditSink::open(&path).unwrap();
    assert_eq!(sink.last_seq(), 3);
    sink.record(&event(4)).await.unwrap();
    sink.record(&event(5)).await.unwrap();
    drop(sink);

    let lines = lines(&path);
    assert_eq!(parse(&lines[3])["seq"], 4);
    assert_eq!(parse(&lines[3])["prev"], sha256_hex(lines[2].as_bytes()));
    assert_eq!(verify(&path).unwrap().records, 5);
}

#[tokio::test]
async fn reopen_finds_a_last_line_longer_than_one_read_chunk() {
    let (_dir, path) = log_with(1);
    let sink = AuditSink::open(&path).unwrap();
    // Every field at its bound still makes a line longer than one 8 KiB read.
    let mut long = event(2);
    long.reason = "x".repeat(20_000);
    long.tool = "t".repeat(20_000);
    long.client_name = Some("c".repeat(20_000));
    long.client_version = Some("v".repeat(20_000));
    long.rule = "r".repeat(20_000);
    long.caller = Some("u".repeat(20_000));
    long.approval = Some(ApprovalAudit {
        request: "q".repeat(20_000),
        approver: Some("a".repeat(20_000)),
        reason: Some("why".repeat(20_000)),
        ..ApprovalAudit::default()
    });
    sink.record(&long).await.unwrap();
    drop(sink);
    assert!(lines(&path)[1].len() > 8 * 1024, "the last line spans more than one read chunk");
    let sink = AuditSink::open(&path).unwrap();
    assert_eq!(sink.last_seq(), 2);
    sink.record(&event(3)).await.unwrap();
    assert_eq!(verify(&path).unwrap().records, 3);
}

#[test]
fn edited_verdict_is_detected_at_the_edited_line() {
    let (_dir, path) = log_with(4);
    let mut lines = lines(&path);
    lines[1] = lines[1].replace("\"verdict\":\"deny\"", "\"verdict\":\"allow\"");
    write_lines(&path, &lines);
    let (line, reason) = broken_at(&path);
    assert_eq!(line, 2);
    assert!(reason.contains("edited"), "{reason}");
}

#[test]
fn deleted_middle_line_is_named() {
    let (_dir, path) = log_with(5);
    let mut lines = lines(&path);
    lines.remove(2);
    write_lines(&path, &lines);
    let (line, reason) = broken_at(&path);
    assert_eq!(line, 3);
    assert!(reason.contains("seq 4 follows 2"), "{reason}");
    assert!(reason.contains("1 record(s) missing"), "{reason}");
}

#[test]
fn deleted_first_line_is_detected() {
    let (_dir, path) = log_with(3);
    let mut lines = lines(&path);
    lines.remove(0);
    write_lines(&path, &lines);
    let (line, reason) = broken_at(&path);
    assert_eq!(line, 1);
    assert!(reason.contains("earlier records were removed"), "{reason}");
}

#[test]
fn replayed_copy_of_an_earlier_line_is_detected() {
    let (_dir, path) = log_with(4);
    let mut lines = lines(&path);
    let copy = lines[1].clone();
    lines.insert(3, copy);
    write_lines(&path, &lines);
    let (line, reason) = broken_at(&path);
    assert_eq!(line, 4);
    assert!(reason.contains("does not increase"), "{reason}");
}

#[test]
fn forged_line_with_correct_prev_and_seq_is_detected_by_its_successor() {
    let (_dir, path) = log_with(4);
    let mut lines = lines(&path);
    // A forger who knows the format: chain the fake to line 3 properly.
    let mut forged = parse(&lines[2]);
    forged["seq"] = json!(4);
    forged["prev"] = json!(sha256_hex(lines[2].as_bytes()));
    forged["verdict"] = json!("allow");
    lines.insert(3, forged.to_string());
    write_lines(&path, &lines);
    let (line, reason) = broken_at(&path);
    assert_eq!(line, 5);
    assert!(reason.contains("seq 4 does not increase after 4"), "{reason}");
}

#[test]
fn swapped_lines_are_detected() {
    let (_dir, path) = log_with(4);
    let mut lines = lines(&path);
    lines.swap(1, 2);
    write_lines(&path, &lines);
    let (line, reason) = broken_at(&path);
    assert_eq!(line, 2);
    assert!(reason.contains("seq 3 follows 1"), "{reason}");
}

#[test]
fn torn_last_line_is_detected_and_blocks_reopen() {
    let (_dir, path) = log_with(3);
    let text = std::fs::read_to_string(&path).unwrap();
    // Cut the last record in half, as a crash mid-write would.
    std::fs::write(&path, &text[..text.len() - 40]).unwrap();
    let (line, reason) = broken_at(&path);
    assert_eq!(line, 3);
    assert!(reason.contains("not valid JSON"), "{reason}");
    match AuditSink::open(&path) {
        Err(AuditError::CorruptTail { reason, .. }) => {
            assert!(reason.contains("not valid JSON"), "{reason}")
        }
        other => panic!("expected CorruptTail, got {:?}", other.err()),
    }
}

#[test]
fn garbage_line_is_detected() {
    let (_dir, path) = log_with(4);
    let mut lines = lines(&path);
    lines[2] = "hello, auditor".to_string();
    write_lines(&path, &lines);
    let (line, reason) = broken_at(&path);
    assert_eq!(line, 3);
    assert!(reason.contains("not valid JSON"), "{reason}");
}

#[test]
fn missing_field_is_named() {
    let (_dir, path) = log_with(2);
    let mut lines = lines(&path);
    let mut record = parse(&lines[0]);
    record.as_object_mut().unwrap().remove("rule");
    lines[0] = record.to_string();
    write_lines(&path, &lines);
    assert_eq!(broken_at(&path), (1, "missing field `rule`".to_string()));
}

#[tokio::test]
async fn empty_file_verifies_with_zero_records_and_starts_a_chain() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    std::fs::write(&path, "").unwrap();
    assert_eq!(verify(&path).unwrap().records, 0);
    let sink = AuditSink::open(&path).unwrap();
    assert_eq!(sink.last_seq(), 0);
    sink.record(&event(1)).await.unwrap();
    assert_eq!(verify(&path).unwrap().records, 1);
}

#[tokio::test]
async fn valid_last_line_without_newline_is_completed_on_reopen() {
    let (_dir, path) = log_with(2);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.trim_end_matches('\n')).unwrap();
    assert_eq!(verify(&path).unwrap().records, 2);
    let sink = AuditSink::open(&path).unwrap();
    sink.record(&event(3)).await.unwrap();
    assert_eq!(verify(&path).unwrap().records, 3);
}
