//! What one record may take of the file: client- and upstream-supplied
//! text is cut to a bound, and the record says which fields were cut.

use serde_json::Value;

use super::{event, lines, parse};
use crate::audit::record::EncodedEvent;
use crate::audit::verify::verify;
use crate::audit::{ApprovalAudit, AuditEvent, AuditSink, MAX_NAME_BYTES, MAX_TEXT_BYTES};

/// The line `event` makes, as the writer writes it.
fn line_of(event: &AuditEvent) -> String {
    let mut out = Vec::new();
    EncodedEvent::new(event).unwrap().write_line(1, "2026-01-01T00:00:00.000Z", &"0".repeat(64), &mut out);
    String::from_utf8(out).expect("a line is UTF-8")
}

fn cut_fields(record: &Value) -> Vec<&str> {
    record["cut"].as_array().map(|a| a.iter().map(|v| v.as_str().unwrap()).collect()).unwrap_or_default()
}

#[tokio::test]
async fn a_2_mib_tool_name_is_cut_so_its_record_stays_a_few_kib() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let sink = AuditSink::open(&path).unwrap();
    let huge = format!("read_file{}", "A".repeat(2 << 20));
    let mut hostile = event(1);
    hostile.tool = huge.clone();
    // The engine names the tool in its reason, as it does for an unknown tool.
    hostile.reason = format!("tool {huge:?} on server \"demo\" is not allowed; no rule lists {huge:?}");
    sink.record(&hostile).await.unwrap();
    sink.record(&event(2)).await.unwrap();

    let written = lines(&path);
    assert!(written[0].len() < 4 * 1024, "one record took {} bytes", written[0].len());
    let record = parse(&written[0]);
    let tool = record["tool"].as_str().unwrap();
    assert!(tool.starts_with("read_fileAAAA"), "the start of the name is kept: {tool}");
    assert!(tool.ends_with(&format!("...[cut: {} bytes]", huge.len())), "{tool}");
    assert!(tool.len() <= MAX_NAME_BYTES && record["reason"].as_str().unwrap().len() <= MAX_TEXT_BYTES);
    assert_eq!(cut_fields(&record), ["tool", "reason"]);
    assert_eq!(verify(&path).unwrap().records, 2, "a record with cut fields chains like any other");
    assert!(parse(&written[1]).get("cut").is_none(), "records within bounds say nothing of cuts");
}

#[test]
fn a_value_made_of_escapes_is_bounded_as_written_not_as_received() {
    // 1,000 control characters are 6,000 bytes once escaped as \u0001.
    let mut hostile = event(1);
    hostile.client_name = Some("\u{1}".repeat(1000));
    hostile.argument = Some("\"".repeat(1000));
    let record = parse(&line_of(&hostile));
    let name = serde_json::to_string(&record["client_name"]).unwrap();
    let argument = serde_json::to_string(&record["argument"]).unwrap();
    assert!(name.len() <= MAX_NAME_BYTES + 2 && argument.len() <= MAX_NAME_BYTES + 2, "{name} {argument}");
    assert_eq!(cut_fields(&record), ["client_name", "argument"]);
}

#[test]
fn a_cut_never_splits_a_character() {
    let mut hostile = event(1);
    hostile.tool = "é€😀".repeat(1000);
    let record = parse(&line_of(&hostile));
    let tool = record["tool"].as_str().expect("still a valid JSON string");
    let kept = tool.split("...[cut:").next().unwrap();
    assert!(!kept.is_empty() && kept.chars().all(|c| "é€😀".contains(c)), "{kept}");
}

#[test]
fn every_client_or_upstream_supplied_field_is_bounded() {
    let long = |c: &str| c.repeat(10_000);
    let hostile = AuditEvent {
        session: long("s"),
        client_name: Some(long("n")),
        client_version: Some(long("v")),
        server: long("d"),
        tool: long("t"),
        rule: long("r"),
        reason: long("x"),
        argument: Some(long("a")),
        constraint: Some(long("c")),
        caller: Some(long("u")),
        approval: Some(ApprovalAudit {
            request: long("q"),
            approver: Some(long("p")),
            reason: Some(long("y")),
            scope: Some(long("o")),
            any_args: Some(true),
            channel: Some(long("h")),
        }),
        ..event(1)
    };
    let line = line_of(&hostile);
    let record = parse(&line);
    assert_eq!(
        cut_fields(&record),
        [
            "session",
            "client_name",
            "client_version",
            "server",
            "tool",
            "rule",
            "reason",
            "argument",
            "constraint",
            "caller",
            "approval.request",
            "approval.approver",
            "approval.reason",
            "approval.scope",
            "approval.channel"
        ]
    );
    assert!(line.len() < 16 * 1024, "the largest possible record is {} bytes", line.len());
    assert!(record["approval"]["reason"].as_str().unwrap().starts_with("yyy"));
    assert!(record["args_digest"].as_str().unwrap().starts_with("hmac-sha256:"), "the digest is never cut");
}

#[test]
fn a_value_at_its_bound_is_written_whole() {
    let mut edge = event(1);
    edge.tool = "t".repeat(MAX_NAME_BYTES);
    edge.reason = "r".repeat(MAX_TEXT_BYTES);
    let record = parse(&line_of(&edge));
    assert_eq!(record["tool"].as_str().unwrap().len(), MAX_NAME_BYTES);
    assert_eq!(record["reason"].as_str().unwrap().len(), MAX_TEXT_BYTES);
    assert!(record.get("cut").is_none());
    edge.tool.push('t');
    assert_eq!(cut_fields(&parse(&line_of(&edge))), ["tool"]);
}
