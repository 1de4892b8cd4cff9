//! What one audit line holds: the event the relay supplies, the chain fields
//! the writer adds, the on-disk key order, the bound on what any one field
//! may take of a line, and the check that a line is a well-formed record
//! (shared by the writer, which reads the last line on open, and the
//! verifier).

use std::borrow::Cow;

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
    /// [`super::AuditKey::digest_session`] of the gateway session id,
    /// never the id: it is the client's bearer credential.
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
    /// [`super::AuditKey::digest_arguments`] of the arguments, never the values.
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
    /// For a tool definition kept from the model, flagged or pinned on
    /// first use: what happened, with digests (never the text).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub integrity: Option<IntegrityAudit>,
    /// What the sanitizer removed from what the client was sent (hidden
    /// characters, terminal escapes), by kind; only when it removed any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sanitized: Option<SanitizedAudit>,
    /// What the detectors found in the answer (secrets, personal data,
    /// injected instructions) and what was done: kinds and places, never values.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inspection: Option<InspectionAudit>,
}

/// The inspection part of a record. Kinds, detectors and actions are the
/// gateway's own words; `at` is a JSON pointer into the result, whose keys
/// come from the upstream, so its maker bounds it (`MAX_POINTER_BYTES`).
#[derive(Clone, Debug, Default, Serialize)]
pub struct InspectionAudit {
    /// `redact`, `block`, `flag` or `approve`.
    pub action: &'static str,
    pub findings: Vec<InspectionFinding>,
    /// Every finding, also those past the ones listed.
    pub total: u32,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct InspectionFinding {
    /// `secrets`, `pii` or `injection`.
    pub detector: &'static str,
    /// `github_token`, `email`, `hidden_markup`, ...
    pub kind: &'static str,
    /// Where in the result, as a JSON pointer (`/content/0/text`).
    pub at: String,
}

/// The integrity part of a record. Every field is the gateway's own
/// (digests, fixed words), so none needs a bound.
#[derive(Clone, Debug, Default, Serialize)]
pub struct IntegrityAudit {
    /// `drift`, `unpinned`, `quarantined`, `flagged` or `pinned`.
    pub event: &'static str,
    /// The pinned digest, for a drift.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pinned: Option<String>,
    /// The digest of the definition seen (the lock file's path for `pinned`
    /// and `unpinned`).
    pub seen: String,
    /// The scanner's verdict, when it judged the definition.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub detectors: Vec<&'static str>,
}

/// Characters and sequences removed from an answer, by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SanitizedAudit {
    pub tag: u32,
    pub bidi: u32,
    pub zero_width: u32,
    pub escapes: u32,
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

/// What a name-like field (tool, client name, argument, rule, caller, ...)
/// may take of a line, in bytes as written (JSON escapes included). Names
/// come from clients and upstreams: a 2 MiB tool name once made a 4 MB
/// line, and every copy of it in the reason another.
pub const MAX_NAME_BYTES: usize = 512;
/// What a free-text field (`reason`, the approver's reason) may take.
pub const MAX_TEXT_BYTES: usize = 2048;

/// The fields a record may have to cut, with their bounds, in on-disk
/// order. [`texts`] and [`texts_mut`] list exactly these.
const BOUNDED: [(&str, usize); 15] = [
    ("session", MAX_NAME_BYTES),
    ("client_name", MAX_NAME_BYTES),
    ("client_version", MAX_NAME_BYTES),
    ("server", MAX_NAME_BYTES),
    ("tool", MAX_NAME_BYTES),
    ("rule", MAX_NAME_BYTES),
    ("reason", MAX_TEXT_BYTES),
    ("argument", MAX_NAME_BYTES),
    ("constraint", MAX_NAME_BYTES),
    ("caller", MAX_NAME_BYTES),
    ("approval.request", MAX_NAME_BYTES),
    ("approval.approver", MAX_NAME_BYTES),
    ("approval.reason", MAX_TEXT_BYTES),
    ("approval.scope", MAX_NAME_BYTES),
    ("approval.channel", MAX_NAME_BYTES),
];

/// Every bounded text of an event, in [`BOUNDED`] order (`None` where absent).
fn texts(e: &AuditEvent) -> [Option<&str>; 15] {
    let a = e.approval.as_ref();
    [
        Some(&e.session),
        e.client_name.as_deref(),
        e.client_version.as_deref(),
        Some(&e.server),
        Some(&e.tool),
        Some(&e.rule),
        Some(&e.reason),
        e.argument.as_deref(),
        e.constraint.as_deref(),
        e.caller.as_deref(),
        a.map(|a| a.request.as_str()),
        a.and_then(|a| a.approver.as_deref()),
        a.and_then(|a| a.reason.as_deref()),
        a.and_then(|a| a.scope.as_deref()),
        a.and_then(|a| a.channel.as_deref()),
    ]
}

/// [`texts`], to cut them.
fn texts_mut(e: &mut AuditEvent) -> [Option<&mut String>; 15] {
    let (request, approver, reason, scope, channel) = match e.approval.as_mut() {
        Some(a) => (Some(&mut a.request), a.approver.as_mut(), a.reason.as_mut(), a.scope.as_mut(), a.channel.as_mut()),
        None => (None, None, None, None, None),
    };
    [
        Some(&mut e.session),
        e.client_name.as_mut(),
        e.client_version.as_mut(),
        Some(&mut e.server),
        Some(&mut e.tool),
        Some(&mut e.rule),
        Some(&mut e.reason),
        e.argument.as_mut(),
        e.constraint.as_mut(),
        e.caller.as_mut(),
        request,
        approver,
        reason,
        scope,
        channel,
    ]
}

/// Bytes serde_json writes for `text` between its quotes.
fn escaped_len(text: &str) -> usize {
    text.bytes()
        .map(|b| match b {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 2,
            0..=0x1f => 6,
            _ => 1,
        })
        .sum()
}

/// Cuts `text` so that, marker included, it takes at most `bound` bytes as
/// written. The marker says how long the value was; the record's `cut`
/// field, which no client can write, says which fields were cut.
fn cut(text: &mut String, bound: usize) {
    let marker = format!("...[cut: {} bytes]", text.len());
    let budget = bound.saturating_sub(marker.len());
    let mut used = 0;
    let mut end = 0;
    for (at, c) in text.char_indices() {
        let mut buf = [0u8; 4];
        let width = escaped_len(c.encode_utf8(&mut buf));
        if used + width > budget {
            break;
        }
        used += width;
        end = at + c.len_utf8();
    }
    text.truncate(end);
    text.push_str(&marker);
}

/// The event with every field within its bound, and the names of the
/// fields that had to be cut. Borrowed, without a copy, in the usual case
/// where nothing is over.
fn bounded(event: &AuditEvent) -> (Cow<'_, AuditEvent>, Vec<&'static str>) {
    let over: Vec<usize> = texts(event)
        .iter()
        .zip(BOUNDED)
        .enumerate()
        .filter(|(_, (text, (_, bound)))| text.is_some_and(|t| t.len() > bound / 6 && escaped_len(t) > *bound))
        .map(|(i, _)| i)
        .collect();
    if over.is_empty() {
        return (Cow::Borrowed(event), Vec::new());
    }
    let mut owned = event.clone();
    for (i, text) in texts_mut(&mut owned).into_iter().enumerate() {
        if let (true, Some(text)) = (over.contains(&i), text) {
            cut(text, BOUNDED[i].1);
        }
    }
    (Cow::Owned(owned), over.into_iter().map(|i| BOUNDED[i].0).collect())
}

/// An event serialized by its caller, ready for the writer to chain: the
/// caller pays for serialization, so the one writer thread only hashes and
/// writes.
pub(super) struct EncodedEvent(Vec<u8>);

impl EncodedEvent {
    /// Serializes the event with every field within its bound; a record
    /// that had fields cut ends with `"cut":["tool",...]`.
    pub(super) fn new(event: &AuditEvent) -> Result<EncodedEvent, serde_json::Error> {
        let (event, cut) = bounded(event);
        let mut bytes = serde_json::to_vec(&*event)?;
        if !cut.is_empty() {
            // Spliced in before the closing brace, after every other field.
            bytes.pop();
            bytes.extend_from_slice(b",\"cut\":");
            serde_json::to_writer(&mut bytes, &cut)?;
            bytes.push(b'}');
        }
        Ok(EncodedEvent(bytes))
    }

    /// Appends the whole line, without its newline, to `out`: the chain
    /// fields first, then the event's own fields in their declared order.
    /// The event is a non-empty JSON object (`session` is always there), so
    /// its fields are spliced in after its opening brace.
    pub(super) fn write_line(&self, seq: u64, time: &str, prev: &str, out: &mut Vec<u8>) {
        // `time` is RFC 3339 and `prev` hex: neither needs JSON escaping.
        use std::io::Write;
        // Straight into the batch's buffer: no string per record.
        let _ = write!(out, "{{\"seq\":{seq},\"time\":\"{time}\",\"prev\":\"{prev}\",");
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
