//! What one audit line holds: the event the relay supplies, the chain fields
//! the writer adds, the on-disk key order, and the check that a line is a
//! well-formed record (shared by the writer, which reads the last line on
//! open, and the verifier).

use serde::Serialize;
use serde_json::Value;

use crate::policy::Verdict;

/// `prev` of the first record in a file.
pub(super) const GENESIS_PREV: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// How a recorded call ended, or where it stands. A call can be recorded
/// more than once (held, then answered; forwarded, then completed), each
/// record with its own outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Sent to the upstream.
    Forwarded,
    /// Refused by the policy; never sent.
    Blocked,
    /// Held for a person's approval.
    Pending,
    Approved,
    Denied,
    /// Nobody answered the approval request in time.
    Timeout,
    /// The client withdrew the call (or went away) before it was made.
    Cancelled,
    /// The upstream answered a forwarded call; `latency_us` is its latency.
    Completed,
    /// The upstream failed a forwarded call (an error, a timeout, a dead session).
    UpstreamError,
}

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
    /// Written as "allow", "deny" or "approve".
    pub verdict: Verdict,
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
    /// Time spent deciding, or the upstream's latency for `Completed` and
    /// `UpstreamError`, as the relay supplies.
    pub latency_us: u64,
    pub outcome: Option<Outcome>,
    /// Who called, as an authentication layer proved it (`local`, or
    /// `<issuer>|<subject>`). Omitted when absent so that files written
    /// before it existed, and records without it, keep the same format.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caller: Option<String>,
    /// What the record decides when it is not a `tools/call`:
    /// `resources/read`, `resources/subscribe`, `prompts/get` or
    /// `completion/complete`, with `tool` holding the resource URI or the
    /// prompt's name. Omitted for tool calls, so their lines are unchanged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
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

/// An event serialized by its caller, ready for the writer to chain: the
/// caller pays for serialization, so the one writer thread only hashes and
/// writes.
pub(super) struct EncodedEvent(Vec<u8>);

impl EncodedEvent {
    pub(super) fn new(event: &AuditEvent) -> Result<EncodedEvent, serde_json::Error> {
        serde_json::to_vec(event).map(EncodedEvent)
    }

    /// Appends the whole line, without its newline, to `out`: the chain
    /// fields first, then the event's own fields in their declared order.
    /// The event is a non-empty JSON object (`session` is always there), so
    /// its fields are spliced in after its opening brace.
    pub(super) fn write_line(&self, seq: u64, time: &str, prev: &str, out: &mut Vec<u8>) {
        // `time` is RFC 3339 and `prev` hex: neither needs JSON escaping.
        out.extend_from_slice(format!("{{\"seq\":{seq},\"time\":\"{time}\",\"prev\":\"{prev}\",").as_bytes());
        out.extend_from_slice(&self.0[1..]);
    }
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
/// (`caller`, `method` and `approval` come after these, only when present.)
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

/// The chain fields of a record that passed [`check_record`].
pub(super) struct RecordHead {
    pub(super) seq: u64,
    pub(super) prev: String,
}

/// Check one line (without newline) is a well-formed record; the reason names what is wrong.
pub(super) fn check_record(line: &[u8]) -> Result<RecordHead, String> {
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
