//! The audit sink: one JSON line per policy decision, hash-chained so that
//! edits, insertions, reorderings and deletions can be detected later; plus the
//! verifier that checks a whole file.
//!
//! # Line format
//! Each line is a JSON object with keys in this order (see [`RECORD_FIELDS`]):
//! `seq, time, prev, session, client_name, client_version, server, tool,
//! verdict, enforced, rule, reason, argument, constraint, args_digest,
//! latency_us, outcome`.
//!
//! - `seq` counts records from 1 and continues across restarts of the gateway
//!   (the sink reads the last line of the file on open).
//! - `prev` is the lowercase hex SHA-256 of the previous line's exact bytes,
//!   without the trailing newline; the first record of a file has 64 zeros.
//! - Argument values are never written, only [`digest_arguments`] of them.
//!
//! # What the chain does and does not prove
//! Changing any byte of a line breaks the `prev` of the line after it;
//! deleting or reordering lines breaks `seq`. What the file alone cannot show
//! is a cut tail: dropping the last N lines, or editing the very last line,
//! leaves a shorter but self-consistent chain, because nothing after it
//! anchors it. The gateway therefore also logs the record count
//! ([`AuditSink::last_seq`]) through its ordinary log, outside this file.
//!
//! # One writer per file
//! The sink assumes it is the only process appending to its file; two
//! gateways sharing one file would interleave two chains and fail to verify.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// `prev` of the first record in a file.
const GENESIS_PREV: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What the relay knows about one decision.
#[derive(Clone, Debug, Serialize)]
pub struct AuditEvent {
    /// Gateway session id (may be "stdio").
    pub session: String,
    pub client_name: Option<String>,
    pub client_version: Option<String>,
    /// Upstream name.
    pub server: String,
    /// Original (upstream) tool name.
    pub tool: String,
    /// "allow" | "deny" | "approve": kept as a string so new verdicts do not
    /// change the file format.
    pub verdict: String,
    /// False in audit mode: the verdict was recorded but not applied.
    pub enforced: bool,
    /// Id of the rule that decided.
    pub rule: String,
    pub reason: String,
    /// The argument a refusal is about (`"path"`, `"/options/target"`).
    pub argument: Option<String>,
    /// The constraint that refused it (`"path_within"`, `"input_schema"`).
    pub constraint: Option<String>,
    /// `"sha256:<hex>"` of the canonical arguments JSON, never the values.
    pub args_digest: String,
    /// Time spent deciding, or whole-call latency, as the relay supplies.
    pub latency_us: u64,
    /// Optional extra, e.g. "forwarded", "blocked", "upstream_error";
    /// for held calls "pending", "approved", "denied", "timeout", "cancelled".
    pub outcome: Option<String>,
    /// For held calls: the approval request, and who answered it how.
    /// Written only when present, after every field above.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval: Option<ApprovalAudit>,
}

/// The approval part of a held call's record.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ApprovalAudit {
    /// The approval request id.
    pub request: String,
    /// Who answered ("mcp-warden" when the gateway ended it: timeout, restart).
    pub approver: Option<String>,
    pub reason: Option<String>,
    /// "once", "session" or a duration, for approvals; "grant" when a
    /// standing grant covered the call.
    pub scope: Option<String>,
    pub any_args: Option<bool>,
    /// The channel the answer came through ("api", "cli", "console"); absent
    /// when nobody answered through a channel (pending, timeout, grants).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
}

/// One line of the file. Field order here is the key order on disk
/// (serde_json keeps struct order, and `flatten` appends the event's fields
/// in their declared order).
#[derive(Serialize)]
struct Record<'a> {
    seq: u64,
    time: String,
    prev: &'a str,
    #[serde(flatten)]
    event: &'a AuditEvent,
}

/// The JSON type a record field must have.
#[derive(Clone, Copy, Debug)]
enum FieldKind {
    Count,
    Text,
    OptionalText,
    Flag,
}

impl FieldKind {
    fn accepts(self, value: &Value) -> bool {
        match self {
            FieldKind::Count => value.as_u64().is_some(),
            FieldKind::Text => value.is_string(),
            FieldKind::OptionalText => value.is_string() || value.is_null(),
            FieldKind::Flag => value.is_boolean(),
        }
    }

    fn expected(self) -> &'static str {
        match self {
            FieldKind::Count => "an unsigned integer",
            FieldKind::Text => "a string",
            FieldKind::OptionalText => "a string or null",
            FieldKind::Flag => "a boolean",
        }
    }
}

/// Every key a record must carry, in on-disk order. Optional values are
/// written as `null`, never omitted, so a missing key always means damage.
pub const RECORD_FIELDS: [&str; 17] = [
    "seq",
    "time",
    "prev",
    "session",
    "client_name",
    "client_version",
    "server",
    "tool",
    "verdict",
    "enforced",
    "rule",
    "reason",
    "argument",
    "constraint",
    "args_digest",
    "latency_us",
    "outcome",
];

const FIELD_KINDS: [FieldKind; 17] = [
    FieldKind::Count,
    FieldKind::Text,
    FieldKind::Text,
    FieldKind::Text,
    FieldKind::OptionalText,
    FieldKind::OptionalText,
    FieldKind::Text,
    FieldKind::Text,
    FieldKind::Text,
    FieldKind::Flag,
    FieldKind::Text,
    FieldKind::Text,
    FieldKind::OptionalText,
    FieldKind::OptionalText,
    FieldKind::Text,
    FieldKind::Count,
    FieldKind::OptionalText,
];

/// Digest of a tool call's arguments: `"sha256:<hex>"` over a canonical
/// serialization (compact JSON, object keys sorted by byte order at every
/// depth, array order kept), so the same arguments sent with keys in another
/// order give the same digest. `None` digests as `null`.
///
/// Keys are sorted here rather than relying on `serde_json::Map` being a
/// BTreeMap: any crate in the build may turn on serde_json's
/// `preserve_order` feature, which would make the map keep insertion order.
/// Numbers are written as serde_json writes them, so `1` and `1.0` differ.
pub fn digest_arguments(args: Option<&Value>) -> String {
    let mut canonical = Vec::new();
    write_canonical(args.unwrap_or(&Value::Null), &mut canonical);
    format!("sha256:{}", sha256_hex(&canonical))
}

fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                // Display of a Value is its compact JSON, with escaping.
                out.extend_from_slice(Value::from(key.as_str()).to_string().as_bytes());
                out.push(b':');
                write_canonical(item, out);
            }
            out.push(b'}');
        }
        scalar => out.extend_from_slice(scalar.to_string().as_bytes()),
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Why the sink could not open its file or write a record. Every write error
/// reaches the caller, which fails closed (blocks the call).
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("cannot open audit log {path}: {source}")]
    Open { path: PathBuf, source: io::Error },
    #[error(
        "audit log {path}: the last line is not a valid audit record ({reason}); \
         refusing to extend a broken chain. Verify the file, then move it aside to start a new one"
    )]
    CorruptTail { path: PathBuf, reason: String },
    #[error("cannot write audit record to {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error("cannot encode audit record: {0}")]
    Encode(serde_json::Error),
    #[error(
        "audit log {path} is out of service: an earlier write failed and its partial line \
         could not be removed; check the file and restart"
    )]
    OutOfService { path: PathBuf },
}

/// The open file and where its chain stands.
struct ChainWriter {
    file: File,
    /// Bytes of complete records in the file; a failed write is truncated back to it.
    len: u64,
    last_seq: u64,
    /// Hex SHA-256 of the last line written, i.e. the next record's `prev`.
    last_hash: String,
    /// Set when a failed write could not be rolled back: appending after a
    /// partial line would break the chain for every later record.
    out_of_service: bool,
}

/// Appends hash-chained records to one file. `Send + Sync`; share it in an `Arc`.
///
/// Records are serialized under one mutex, so `seq` order is the order of
/// `record` calls and the chain is never interleaved.
pub struct AuditSink {
    path: PathBuf,
    /// `None` for [`AuditSink::discard`].
    chain: Option<Mutex<ChainWriter>>,
}

impl AuditSink {
    /// Open (create or append) the file. If it already has records, the last
    /// line gives the next `seq` and `prev`. Refuses to start if that line is
    /// not a valid record (a torn write, an edit), since appending to it would
    /// produce a chain that can never verify.
    ///
    /// Only the last line is read, so opening is fast on large files; use
    /// [`verify`] to check the whole chain.
    pub fn open(path: &Path) -> Result<AuditSink, AuditError> {
        let open_error = |source| AuditError::Open { path: path.to_path_buf(), source };
        let mut file = OpenOptions::new().read(true).append(true).create(true).open(path).map_err(open_error)?;
        let mut len = file.metadata().map_err(open_error)?.len();

        let (last_seq, last_hash) = if len == 0 {
            (0, GENESIS_PREV.to_string())
        } else {
            let (line, has_newline) = read_last_line(&mut file, len).map_err(open_error)?;
            let head =
                check_record(&line).map_err(|reason| AuditError::CorruptTail { path: path.to_path_buf(), reason })?;
            if !has_newline {
                // A complete record that lost its newline (e.g. an editor):
                // end the line so the next record does not join it. The
                // line's bytes, and so its hash, are unchanged.
                file.write_all(b"\n").map_err(open_error)?;
                len += 1;
            }
            (head.seq, sha256_hex(&line))
        };

        Ok(AuditSink {
            path: path.to_path_buf(),
            chain: Some(Mutex::new(ChainWriter { file, len, last_seq, last_hash, out_of_service: false })),
        })
    }

    /// A sink that keeps nothing (tests, or auditing disabled); `record` always succeeds.
    pub fn discard() -> AuditSink {
        AuditSink { path: PathBuf::new(), chain: None }
    }

    /// `seq` of the last record written (0 if none; always 0 for `discard`).
    /// Logged by the gateway so that a cut tail can be noticed: see the module docs.
    pub fn last_seq(&self) -> u64 {
        match &self.chain {
            Some(chain) => match chain.lock() {
                Ok(writer) => writer.last_seq,
                Err(poisoned) => poisoned.into_inner().last_seq,
            },
            None => 0,
        }
    }

    /// Append one record and flush it before returning. Adds `time` (RFC 3339,
    /// UTC, milliseconds), `seq` and `prev`.
    ///
    /// "Flushed" means handed to the operating system with one `write`; it
    /// survives a crash of the gateway, not a power loss (no fsync per record).
    /// On error the chain is left as it was (a partial line is truncated away),
    /// and the caller must block the call it was recording.
    pub fn record(&self, event: &AuditEvent) -> Result<(), AuditError> {
        let Some(chain) = &self.chain else {
            return Ok(());
        };
        let out_of_service = || AuditError::OutOfService { path: self.path.clone() };
        // A panic while holding the lock may have left the state half-updated.
        let mut guard = chain.lock().map_err(|_| out_of_service())?;
        let writer = &mut *guard;
        if writer.out_of_service {
            return Err(out_of_service());
        }

        let seq = writer.last_seq + 1;
        let record = Record {
            seq,
            // Taken under the lock so that time follows seq order (clock permitting).
            time: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
            prev: &writer.last_hash,
            event,
        };
        let mut line = serde_json::to_vec(&record).map_err(AuditError::Encode)?;
        let hash = sha256_hex(&line);
        line.push(b'\n');

        match writer.file.write_all(&line).and_then(|()| writer.file.flush()) {
            Ok(()) => {
                writer.len += line.len() as u64;
                writer.last_seq = seq;
                writer.last_hash = hash;
                Ok(())
            }
            Err(source) => {
                if writer.file.set_len(writer.len).is_err() {
                    writer.out_of_service = true;
                }
                Err(AuditError::Write { path: self.path.clone(), source })
            }
        }
    }
}

/// The last line of a non-empty file, without its newline, and whether it had one.
fn read_last_line(file: &mut File, len: u64) -> io::Result<(Vec<u8>, bool)> {
    const CHUNK: u64 = 8 * 1024;
    let mut last_byte = [0u8; 1];
    file.seek(SeekFrom::Start(len - 1))?;
    file.read_exact(&mut last_byte)?;
    let has_newline = last_byte[0] == b'\n';
    let end = if has_newline { len - 1 } else { len };

    // Walk back from `end` until the newline that ends the previous line.
    let mut start = end;
    let line_start = loop {
        let chunk_start = start.saturating_sub(CHUNK);
        let mut chunk = vec![0u8; (start - chunk_start) as usize];
        file.seek(SeekFrom::Start(chunk_start))?;
        file.read_exact(&mut chunk)?;
        if let Some(pos) = chunk.iter().rposition(|&b| b == b'\n') {
            break chunk_start + pos as u64 + 1;
        }
        if chunk_start == 0 {
            break 0;
        }
        start = chunk_start;
    };

    let mut line = vec![0u8; (end - line_start) as usize];
    file.seek(SeekFrom::Start(line_start))?;
    file.read_exact(&mut line)?;
    Ok((line, has_newline))
}

/// The chain fields of a record that passed [`check_record`].
struct RecordHead {
    seq: u64,
    prev: String,
}

/// Check one line (without newline) is a well-formed record; the reason names what is wrong.
fn check_record(line: &[u8]) -> Result<RecordHead, String> {
    if line.is_empty() {
        return Err("empty line".to_string());
    }
    let value: Value = serde_json::from_slice(line).map_err(|e| format!("not valid JSON ({e})"))?;
    let Value::Object(map) = value else {
        return Err("not a JSON object".to_string());
    };
    for (key, kind) in RECORD_FIELDS.iter().zip(FIELD_KINDS) {
        match map.get(*key) {
            None => return Err(format!("missing field `{key}`")),
            Some(v) if !kind.accepts(v) => {
                return Err(format!("field `{key}` is not {}", kind.expected()));
            }
            Some(_) => {}
        }
    }
    let time = map["time"].as_str().unwrap_or_default();
    if humantime::parse_rfc3339(time).is_err() {
        return Err(format!("field `time` is not an RFC 3339 UTC timestamp: {time:?}"));
    }
    let prev = map["prev"].as_str().unwrap_or_default();
    if prev.len() != 64 || !prev.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err("field `prev` is not 64 lowercase hex digits".to_string());
    }
    Ok(RecordHead { seq: map["seq"].as_u64().unwrap_or_default(), prev: prev.to_string() })
}

/// Result of a successful [`verify`].
#[derive(Debug)]
pub struct VerifyReport {
    pub records: u64,
}

/// Why an audit file failed verification. `line` is 1-based.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("line {line}: {reason}")]
    Broken { line: u64, reason: String },
    #[error("{0}")]
    Io(std::io::Error),
}

/// Check a whole audit file; see [`verify_reader`]. A file cut short at the
/// end still verifies: see the module docs.
pub fn verify(path: &Path) -> Result<VerifyReport, VerifyError> {
    let file = File::open(path).map_err(VerifyError::Io)?;
    verify_reader(BufReader::new(file))
}

/// Check every line of an audit log and stop at the first bad one.
///
/// Checked per line, in this order: well-formed record (JSON object, all
/// fields, right types); `seq` is 1 on the first line and exactly one more
/// than the previous line's after that; `prev` equals the SHA-256 of the
/// previous line (64 zeros on the first line).
///
/// When `seq` runs on but `prev` does not match, the error names the
/// *previous* line: its bytes no longer hash to what its successor recorded,
/// which is what an edited record looks like. (The other explanation, that
/// the successor's own `prev` field was rewritten, is given in the reason.)
pub fn verify_reader(mut r: impl BufRead) -> Result<VerifyReport, VerifyError> {
    let broken = |line: u64, reason: String| VerifyError::Broken { line, reason };
    let mut line_no: u64 = 0;
    let mut line = Vec::new();
    // (seq, hash) of the previous line.
    let mut previous: Option<(u64, String)> = None;

    loop {
        line.clear();
        if r.read_until(b'\n', &mut line).map_err(VerifyError::Io)? == 0 {
            break;
        }
        line_no += 1;
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        let head = check_record(&line).map_err(|reason| broken(line_no, reason))?;

        match &previous {
            None => {
                if head.seq != 1 {
                    return Err(broken(
                        line_no,
                        format!("the first record has seq {}, expected 1: earlier records were removed", head.seq),
                    ));
                }
                if head.prev != GENESIS_PREV {
                    return Err(broken(
                        line_no,
                        "the first record's prev is not 64 zeros: earlier records were removed, \
                         or this line was edited"
                            .to_string(),
                    ));
                }
            }
            Some((prev_seq, prev_hash)) => {
                if head.seq <= *prev_seq {
                    return Err(broken(
                        line_no,
                        format!(
                            "seq {} does not increase after {prev_seq}: a line was inserted, \
                             duplicated or moved here",
                            head.seq
                        ),
                    ));
                }
                if head.seq != prev_seq + 1 {
                    return Err(broken(
                        line_no,
                        format!(
                            "seq {} follows {prev_seq}: {} record(s) missing before this line \
                             (deleted or moved)",
                            head.seq,
                            head.seq - prev_seq - 1
                        ),
                    ));
                }
                if head.prev != *prev_hash {
                    return Err(broken(
                        line_no - 1,
                        format!(
                            "this line's SHA-256 does not match the prev recorded by line {line_no}: \
                             this line was edited (or line {line_no}'s prev field was)"
                        ),
                    ));
                }
            }
        }
        previous = Some((head.seq, sha256_hex(&line)));
    }
    Ok(VerifyReport { records: line_no })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::Arc;

    fn event(n: u64) -> AuditEvent {
        AuditEvent {
            session: "stdio".to_string(),
            client_name: Some("claude-desktop".to_string()),
            client_version: None,
            server: "filesystem".to_string(),
            tool: "write_file".to_string(),
            verdict: "deny".to_string(),
            enforced: true,
            rule: "fs-write-needs-approval".to_string(),
            reason: format!("call {n} outside /srv/projects"),
            argument: Some("path".to_string()),
            constraint: Some("path_within".to_string()),
            args_digest: digest_arguments(Some(&json!({ "path": format!("/etc/passwd{n}") }))),
            latency_us: 40 + n,
            outcome: Some("blocked".to_string()),
            approval: None,
        }
    }

    /// A fresh log of `n` records; the TempDir must outlive the path.
    fn log_with(n: u64) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let sink = AuditSink::open(&path).unwrap();
        for i in 1..=n {
            sink.record(&event(i)).unwrap();
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

    #[test]
    fn chain_continues_across_reopen() {
        let (_dir, path) = log_with(3);
        let sink = AuditSink::open(&path).unwrap();
        assert_eq!(sink.last_seq(), 3);
        sink.record(&event(4)).unwrap();
        sink.record(&event(5)).unwrap();
        drop(sink);

        let lines = lines(&path);
        assert_eq!(parse(&lines[3])["seq"], 4);
        assert_eq!(parse(&lines[3])["prev"], sha256_hex(lines[2].as_bytes()));
        assert_eq!(verify(&path).unwrap().records, 5);
    }

    #[test]
    fn reopen_finds_a_last_line_longer_than_one_read_chunk() {
        let (_dir, path) = log_with(1);
        let sink = AuditSink::open(&path).unwrap();
        let mut long = event(2);
        long.reason = "x".repeat(20_000);
        sink.record(&long).unwrap();
        drop(sink);
        let sink = AuditSink::open(&path).unwrap();
        assert_eq!(sink.last_seq(), 2);
        sink.record(&event(3)).unwrap();
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

    #[test]
    fn empty_file_verifies_with_zero_records_and_starts_a_chain() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        std::fs::write(&path, "").unwrap();
        assert_eq!(verify(&path).unwrap().records, 0);
        let sink = AuditSink::open(&path).unwrap();
        assert_eq!(sink.last_seq(), 0);
        sink.record(&event(1)).unwrap();
        assert_eq!(verify(&path).unwrap().records, 1);
    }

    #[test]
    fn valid_last_line_without_newline_is_completed_on_reopen() {
        let (_dir, path) = log_with(2);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.trim_end_matches('\n')).unwrap();
        assert_eq!(verify(&path).unwrap().records, 2);
        let sink = AuditSink::open(&path).unwrap();
        sink.record(&event(3)).unwrap();
        assert_eq!(verify(&path).unwrap().records, 3);
    }

    #[test]
    fn digest_is_stable_under_key_reordering() {
        let a: Value = serde_json::from_str(r#"{"path":"/srv/a","opts":{"x":1,"y":[1,{"b":2,"a":3}]}}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"opts":{"y":[1,{"a":3,"b":2}],"x":1},"path":"/srv/a"}"#).unwrap();
        let digest = digest_arguments(Some(&a));
        assert_eq!(digest, digest_arguments(Some(&b)));
        assert!(digest.starts_with("sha256:"));
        assert_eq!(digest.len(), "sha256:".len() + 64);
    }

    #[test]
    fn digest_differs_for_different_values() {
        let base = digest_arguments(Some(&json!({ "to": "a@example.com" })));
        assert_ne!(base, digest_arguments(Some(&json!({ "to": "a@evil.com" }))));
        assert_ne!(base, digest_arguments(Some(&json!({ "cc": "a@example.com" }))));
        assert_ne!(digest_arguments(Some(&json!([1, 2]))), digest_arguments(Some(&json!([2, 1]))));
        assert_eq!(digest_arguments(None), digest_arguments(Some(&Value::Null)));
        assert_ne!(digest_arguments(None), digest_arguments(Some(&json!({}))));
    }

    #[test]
    fn concurrent_records_from_8_threads_form_a_valid_chain() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let sink = Arc::new(AuditSink::open(&path).unwrap());
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let sink = Arc::clone(&sink);
                std::thread::spawn(move || {
                    for i in 0..25 {
                        sink.record(&event(t * 100 + i)).unwrap();
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(sink.last_seq(), 200);
        assert_eq!(verify(&path).unwrap().records, 200);
    }

    #[test]
    fn discard_sink_accepts_records() {
        let sink = AuditSink::discard();
        sink.record(&event(1)).unwrap();
        assert_eq!(sink.last_seq(), 0);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn failed_write_is_reported_so_the_call_fails_closed() {
        let full = Path::new("/dev/full");
        let Ok(sink) = AuditSink::open(full) else {
            return; // no /dev/full in this sandbox
        };
        assert!(matches!(sink.record(&event(1)), Err(AuditError::Write { .. })));
        // The partial line cannot be truncated on a device: the sink stays closed.
        assert!(matches!(sink.record(&event(2)), Err(AuditError::OutOfService { .. })));
        assert_eq!(sink.last_seq(), 0);
    }

    #[test]
    fn sink_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<AuditSink>();
    }
}
