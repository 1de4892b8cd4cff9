//! The secret detector for what servers send back (tool results, resource
//! contents, prompt messages): credentials a model should not read and an
//! audit record should not keep. It also owns the `Match` both response
//! detectors report and the redaction that replaces them.
//!
//! One pass finds anchors: literal prefixes a credential cannot do without
//! (`-----BEGIN `, `AKIA`, `ghp_`, `xoxb-`, `sk-`, `eyJ`, `://`, ...) and the
//! words a generic secret is assigned to (key, secret, token, password),
//! compiled into one literal alternation so the regex engine runs its
//! multi-literal prefilter over text that holds nothing. Only at an anchor
//! does a precise check run, by hand, on the bytes around it: shape and
//! length, then the checksum where the format has one (CRC-32 for GitHub
//! classic and npm tokens, the JSON header of a JWT).
//!
//! The generic rule is the one that can misfire, so it asks for a lot: an
//! assignment to a name holding a secret word (not `cache_key`, `page_token`,
//! `key_id`), a single-token value of 16–256 characters that mixes letters
//! and digits and whose Shannon entropy is near that of random text of its
//! length. Hex digests and UUIDs pass only after a strong word (secret,
//! token, password, api key): a `cache_key` holding a SHA-256 is not one.
//!
//! All checks look at ASCII bytes only, so every range starts and ends on a
//! character boundary.

#![deny(unsafe_code)]

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

mod generic;
use generic::random_looking;
use generic::{assignment, bearer};

/// Which detector family a match belongs to; personal data is opt-in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    Secret,
    Pii,
}

/// One finding: a byte range of the scanned string and what it holds.
/// `kind` is stable: it appears in `[REDACTED:<kind>]` and audit records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Match {
    pub class: Class,
    pub kind: &'static str,
    pub start: usize,
    pub end: usize,
}

/// Secrets sorted by start, non-overlapping: where two findings overlap,
/// the more specific kind wins, then the longer one.
pub fn find_secrets(text: &str) -> Vec<Match> {
    let b = text.as_bytes();
    let mut found = Vec::new();
    for m in ANCHORS.find_iter(text) {
        inspect_anchor(b, m.start(), m.end(), &mut found);
    }
    resolve(found)
}

/// Where a secret could start: the literals every format's check begins
/// at. No span, no secret (a caller may search many strings at once).
pub fn anchor_spans(text: &str) -> impl Iterator<Item = (usize, usize)> + '_ {
    ANCHORS.find_iter(text).map(|m| (m.start(), m.end()))
}

/// Each match replaced by `[REDACTED:<kind>]`; every other byte kept.
/// Overlapping or out-of-range matches are skipped rather than trusted.
pub fn redact(text: &str, matches: &[Match]) -> String {
    let mut sorted: Vec<&Match> = matches.iter().collect();
    sorted.sort_by_key(|m| (m.start, m.end));
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for m in sorted {
        let sound = m.start >= at
            && m.start < m.end
            && m.end <= text.len()
            && text.is_char_boundary(m.start)
            && text.is_char_boundary(m.end);
        if !sound {
            continue;
        }
        out.push_str(&text[at..m.start]);
        out.push_str("[REDACTED:");
        out.push_str(m.kind);
        out.push(']');
        at = m.end;
    }
    out.push_str(&text[at..]);
    out
}

/// How sure a finding is of its kind: a container (a whole key, a service
/// account, a connection string) beats a token inside it, and a token with
/// a documented prefix beats the generic rule.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Rank {
    Generic = 1,
    Token = 2,
    Container = 3,
}

/// Keeps the best of overlapping findings (rank, then length, then the
/// earlier one) and returns them sorted by start.
pub(super) fn resolve(mut found: Vec<(Rank, Match)>) -> Vec<Match> {
    if found.len() <= 1 {
        return found.into_iter().map(|(_, m)| m).collect();
    }
    found.sort_by(|(ra, a), (rb, b)| {
        rb.cmp(ra).then((b.end - b.start).cmp(&(a.end - a.start))).then(a.start.cmp(&b.start))
    });
    // Accepted ranges are disjoint, so their ends grow with their starts:
    // the one starting last before a candidate's end is the only one that
    // can overlap it.
    let mut kept: BTreeMap<usize, Match> = BTreeMap::new();
    for (_, m) in found {
        let clash = kept.range(..m.end).next_back().is_some_and(|(_, k)| k.end > m.start);
        if !clash {
            kept.insert(m.start, m);
        }
    }
    kept.into_values().collect()
}

const ANCHOR_PATTERN: &str = concat!(
    r"-----BEGIN |AKIA|ASIA|gh[pousr]_|github_pat_|",
    r"gl(?:pat|dt|rt|ptt|soat|cbt|ft|imt|agent|oas)-|",
    r"xox|xapp-|hooks\.slack\.com/services/|",
    r"[sr]k_(?:live|test)_|whsec_|sk-|npm_|pypi-AgE|eyJ|://|",
    r"AccountKey=|SharedAccessKey=|private_key|",
    r"[Bb]earer |key|Key|KEY|secret|Secret|SECRET|token|Token|TOKEN|",
    r"passw|Passw|PASSW|pwd|Pwd|PWD",
);

static ANCHORS: LazyLock<Regex> = LazyLock::new(|| Regex::new(ANCHOR_PATTERN).expect("anchor pattern"));

/// Runs the check the anchor at `s..e` calls for.
fn inspect_anchor(b: &[u8], s: usize, e: usize, found: &mut Vec<(Rank, Match)>) {
    let anchor = &b[s..e];
    let hit = match anchor {
        b"-----BEGIN " => private_key(b, s, e),
        b"AKIA" | b"ASIA" => aws_access_key(b, s),
        b"github_pat_" => github_fine_grained(b, s, e),
        b"sk-" => sk_dash(b, s, e),
        b"npm_" => checksummed_base62(b, s, e, "npm_token"),
        b"pypi-AgE" => prefixed_run(b, s, e, 50, is_b64url, "pypi_token"),
        b"eyJ" => jwt(b, s),
        b"://" => url_credentials(b, s, e),
        b"AccountKey=" | b"SharedAccessKey=" => azure(b, s, e),
        b"private_key" => gcp_service_account(b, s, e).or_else(|| assignment(b, e - 3, e)),
        b"whsec_" => prefixed_run(b, s, e, 24, is_b64, "stripe_key"),
        b"xapp-" => slack(b, s, e),
        b"Bearer " | b"bearer " => bearer(b, s, e),
        _ if anchor.starts_with(b"gh") && anchor.len() == 4 => checksummed_base62(b, s, e, "github_token"),
        _ if anchor.starts_with(b"gl") => prefixed_run(b, s, e, 20, is_b64url, "gitlab_token"),
        // One literal for the six Slack token types keeps the prefilter small.
        b"xox" => {
            let typed = b.get(e).is_some_and(|c| b"abprse".contains(c)) && matches!(b.get(e + 1), Some(b'-' | b'.'));
            typed.then(|| slack(b, s, e + 2)).flatten()
        }
        _ if anchor.starts_with(b"hooks.") => slack_webhook(b, s, e),
        _ if anchor.len() == 8 && anchor[2] == b'_' => prefixed_run(b, s, e, 20, is_b62, "stripe_key"),
        _ => assignment(b, s, e),
    };
    if let Some(found_here) = hit {
        found.push(found_here);
    }
}

type Found = Option<(Rank, Match)>;

fn secret(rank: Rank, kind: &'static str, start: usize, end: usize) -> Found {
    Some((rank, Match { class: Class::Secret, kind, start, end }))
}

fn is_b62(c: u8) -> bool {
    c.is_ascii_alphanumeric()
}

fn is_b64url(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-' || c == b'_'
}

fn is_b64(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'+' || c == b'/' || c == b'='
}

fn run_end(b: &[u8], from: usize, keep: impl Fn(u8) -> bool) -> usize {
    b[from..].iter().position(|&c| !keep(c)).map_or(b.len(), |n| from + n)
}

fn run_start(b: &[u8], to: usize, keep: impl Fn(u8) -> bool) -> usize {
    b[..to].iter().rposition(|&c| !keep(c)).map_or(0, |n| n + 1)
}

/// A token must not continue a longer word on its left (`task-`, `disk-`).
fn starts_word(b: &[u8], s: usize) -> bool {
    s == 0 || !is_b64url(b[s - 1])
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else { return true };
    hay.iter().enumerate().any(|(i, &c)| c == first && hay[i + 1..].starts_with(rest))
}

/// A prefix and at least `min` characters of the token's alphabet, standing
/// as a word of its own.
fn prefixed_run(b: &[u8], s: usize, e: usize, min: usize, keep: fn(u8) -> bool, kind: &'static str) -> Found {
    if !starts_word(b, s) {
        return None;
    }
    let end = run_end(b, e, keep);
    (end - e >= min).then_some(())?;
    secret(Rank::Token, kind, s, end)
}

/// GitHub classic tokens and npm tokens: 30 random base62 characters and a
/// CRC-32 of them written as 6 base62 digits. The checksum is what tells a
/// real token from a look-alike, so a wrong one is no finding.
fn checksummed_base62(b: &[u8], s: usize, e: usize, kind: &'static str) -> Found {
    if !starts_word(b, s) {
        return None;
    }
    let end = run_end(b, e, is_b62);
    if end - e != 36 || b.get(end).is_some_and(|&c| is_b64url(c)) {
        return None;
    }
    let (body, check) = b[e..end].split_at(30);
    (base62_value(check)? == u64::from(crc32(body))).then_some(())?;
    secret(Rank::Token, kind, s, end)
}

fn base62_value(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0u64, |acc, &c| {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'A'..=b'Z' => c - b'A' + 10,
            b'a'..=b'z' => c - b'a' + 36,
            _ => return None,
        };
        Some(acc * 62 + u64::from(d))
    })
}

const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut n = 0;
    while n < 256 {
        let mut c = n as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
            k += 1;
        }
        table[n] = c;
        n += 1;
    }
    table
};

/// CRC-32 (IEEE, as zlib computes it).
pub(super) fn crc32(data: &[u8]) -> u32 {
    !data.iter().fold(!0u32, |c, &x| CRC_TABLE[((c ^ u32::from(x)) & 0xFF) as usize] ^ (c >> 8))
}

/// `github_pat_` + 22 + `_` + 59 characters; no public checksum.
fn github_fine_grained(b: &[u8], s: usize, e: usize) -> Found {
    if !starts_word(b, s) {
        return None;
    }
    let end = run_end(b, e, |c| is_b62(c) || c == b'_');
    (end - e >= 82).then_some(())?;
    secret(Rank::Token, "github_token", s, end)
}

/// `AKIA`/`ASIA` and 16 base32 characters: a long-term or session key id.
fn aws_access_key(b: &[u8], s: usize) -> Found {
    let end = s + 20;
    let body = b.get(s + 4..end)?;
    let base32 = body.iter().all(|&c| c.is_ascii_uppercase() || (b'2'..=b'7').contains(&c));
    (base32 && starts_word(b, s) && !b.get(end).is_some_and(|&c| is_b64url(c))).then_some(())?;
    secret(Rank::Token, "aws_access_key", s, end)
}

/// `sk-` opens Anthropic keys (`sk-ant-api03-...`), OpenAI keys (`sk-proj-`,
/// `sk-svcacct-`, `sk-admin-`, or the `T3BlbkFJ` marker, base64 for
/// "OpenAI") and other vendors' keys, which the generic rule judges.
fn sk_dash(b: &[u8], s: usize, e: usize) -> Found {
    if !starts_word(b, s) {
        return None;
    }
    let end = run_end(b, e, is_b64url);
    let body = &b[e..end];
    if body.starts_with(b"ant-") {
        let tail = &body[4..];
        let dash = tail.iter().position(|&c| c == b'-')?;
        let (label, key) = (&tail[..dash], &tail[dash + 1..]);
        let known = [&b"api"[..], b"admin", b"oat", b"ort"].iter().any(|p| label.starts_with(p));
        return (known && key.len() >= 80).then(|| secret(Rank::Token, "anthropic_key", s, end))?;
    }
    let openai = [&b"proj-"[..], b"svcacct-", b"admin-", b"None-"].iter().any(|p| body.starts_with(p));
    if (openai && body.len() >= 40) || (contains(body, b"T3BlbkFJ") && body.len() >= 40) {
        return secret(Rank::Token, "openai_key", s, end);
    }
    let alnum = body.iter().all(|&c| is_b62(c));
    (alnum && body.len() >= 32 && random_looking(body)).then(|| secret(Rank::Generic, "generic_secret", s, end))?
}

fn slack(b: &[u8], s: usize, e: usize) -> Found {
    if !starts_word(b, s) {
        return None;
    }
    let end = run_end(b, e, |c| is_b62(c) || c == b'-' || c == b'.');
    let body = &b[e..end];
    let groups = body.split(|&c| c == b'-').filter(|g| !g.is_empty()).count();
    let digits = body.iter().filter(|c| c.is_ascii_digit()).count();
    (body.len() >= 20 && groups >= 2 && digits >= 6).then_some(())?;
    secret(Rank::Token, "slack_token", s, end)
}

/// `hooks.slack.com/services/T…/B…/secret`: the URL is the credential.
fn slack_webhook(b: &[u8], s: usize, e: usize) -> Found {
    let end = run_end(b, e, |c| is_b62(c) || c == b'/');
    let parts: Vec<&[u8]> = b[e..end].split(|&c| c == b'/').collect();
    (parts.len() >= 3 && parts[2].len() >= 16).then_some(())?;
    let scheme = b"https://";
    let start = if b[..s].ends_with(scheme) { s - scheme.len() } else { s };
    secret(Rank::Token, "slack_token", start, end)
}

/// Three base64url parts whose first decodes to a JSON object with "alg".
fn jwt(b: &[u8], s: usize) -> Found {
    if !starts_word(b, s) {
        return None;
    }
    let head_end = run_end(b, s, is_b64url);
    if head_end - s < 10 || b.get(head_end) != Some(&b'.') {
        return None;
    }
    let body_end = run_end(b, head_end + 1, is_b64url);
    if body_end - head_end - 1 < 2 || b.get(body_end) != Some(&b'.') {
        return None;
    }
    let mut end = run_end(b, body_end + 1, is_b64url);
    // A JWE has five parts; the same header rule covers it.
    while b.get(end) == Some(&b'.') && b.get(end + 1).is_some_and(|&c| is_b64url(c)) {
        end = run_end(b, end + 1, is_b64url);
    }
    let header = decode_base64url(&b[s..head_end])?;
    let alg = serde_json::from_slice::<Value>(&header).ok()?.get("alg").is_some_and(Value::is_string);
    alg.then(|| secret(Rank::Token, "jwt", s, end))?
}

fn decode_base64url(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &c in text {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// A PEM, OpenSSH or PGP private key: the header, base64 lines and the
/// matching footer. A key cut off before its footer still counts from its
/// header to the last base64 line. Lines may be real or JSON-escaped.
fn private_key(b: &[u8], s: usize, e: usize) -> Found {
    let label_end = e + b.get(e..e + 64)?.windows(5).position(|w| w == b"-----")?;
    let label = &b[e..label_end];
    let is_key = label.ends_with(b"PRIVATE KEY") || label.ends_with(b"PRIVATE KEY BLOCK");
    if !is_key || !label.iter().all(|&c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b' ') {
        return None;
    }
    let body_start = label_end + 5;
    let window = &b[body_start..b.len().min(body_start + 65_536)];
    let mut footer = b"-----END ".to_vec();
    footer.extend_from_slice(label);
    footer.extend_from_slice(b"-----");
    let (body, end) = match window.windows(footer.len()).position(|w| w == footer.as_slice()) {
        Some(at) => (&window[..at], body_start + at + footer.len()),
        None => {
            let len = armoured_lines(window);
            (&window[..len], body_start + len)
        }
    };
    let base64 = body.iter().filter(|&&c| is_b64(c)).count();
    (base64 >= 40 && !contains(body, b"-----BEGIN")).then_some(())?;
    secret(Rank::Container, "private_key", s, end)
}

/// Length of the leading lines that look like the inside of an armoured
/// key: base64, or `Header: value` lines (Proc-Type, PGP Version).
fn armoured_lines(w: &[u8]) -> usize {
    let mut at = 0;
    let mut kept = 0;
    while at < w.len() {
        let (line_len, sep) = next_line(&w[at..]);
        let line = w[at..at + line_len].trim_ascii();
        let header = line.contains(&b':') && line.iter().all(|&c| c.is_ascii_graphic() || c == b' ');
        if !line.is_empty() && !line.iter().all(|&c| is_b64(c)) && !header {
            break;
        }
        if !line.is_empty() {
            kept = at + line_len;
        }
        if sep == 0 {
            break;
        }
        at += line_len + sep;
    }
    kept
}

/// The next line's length and the length of what ends it (`\n`, `\r\n` or
/// a JSON-escaped `\n`), 0 at the end of the text.
fn next_line(w: &[u8]) -> (usize, usize) {
    for i in 0..w.len() {
        match w[i] {
            b'\n' => return (i, 1),
            b'\r' if w.get(i + 1) == Some(&b'\n') => return (i, 2),
            b'\\' if w.get(i + 1) == Some(&b'n') => return (i, 2),
            b'"' => return (i, 0),
            _ => {}
        }
    }
    (w.len(), 0)
}

/// `scheme://user:password@host`: the user and password are redacted, the
/// scheme and host kept so the text still reads.
fn url_credentials(b: &[u8], s: usize, e: usize) -> Found {
    let scheme_start = run_start(b, s, |c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'.' | b'-'));
    if scheme_start == s || !b[scheme_start].is_ascii_alphabetic() {
        return None;
    }
    let userinfo_end = run_end(b, e, |c| c.is_ascii_alphanumeric() || b"-._~%!$&*+,;=:".contains(&c));
    if b.get(userinfo_end) != Some(&b'@') {
        return None;
    }
    let userinfo = &b[e..userinfo_end];
    let colon = userinfo.iter().position(|&c| c == b':')?;
    let password = &userinfo[colon + 1..];
    let host_len = run_end(b, userinfo_end + 1, |c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'['))
        - (userinfo_end + 1);
    (!password.is_empty() && host_len > 0 && !placeholder(password)).then_some(())?;
    secret(Rank::Token, "url_credentials", e, userinfo_end)
}

/// Values that stand for a secret without being one.
fn placeholder(v: &[u8]) -> bool {
    let lower = v.to_ascii_lowercase();
    let words: [&[u8]; 9] =
        [b"password", b"pass", b"passwd", b"pwd", b"secret", b"changeme", b"pw", b"yourpassword", b"your_password"];
    words.contains(&lower.as_slice())
        || v.iter().all(|&c| c == b'*' || c == b'x' || c == b'X' || c == b'.')
        || matches!(v.first(), Some(b'$' | b'<' | b'{' | b'%'))
}

/// Azure storage and Service Bus connection strings, found by the account
/// key in them; the whole `Name=value;` string is redacted when it is one.
fn azure(b: &[u8], s: usize, e: usize) -> Found {
    let value_end = run_end(b, e, is_b64);
    (value_end - e >= 20 && random_looking(&b[e..value_end])).then_some(())?;
    let in_string = |c: u8| c.is_ascii_graphic() && !matches!(c, b'"' | b'\'' | b'`' | b'<' | b'>' | b'\\');
    let start = run_start(b, s, in_string);
    let end = run_end(b, value_end, in_string);
    let whole = &b[start..end];
    if contains(whole, b"AccountName=") || contains(whole, b"Endpoint=") {
        secret(Rank::Container, "azure_connection_string", start, end)
    } else {
        secret(Rank::Token, "azure_connection_string", e, value_end)
    }
}

/// A GCP service-account key file: its `private_key` (and the
/// `private_key_id` naming it) in a JSON text that says `service_account`.
fn gcp_service_account(b: &[u8], s: usize, e: usize) -> Found {
    let lo = s.saturating_sub(8192);
    let hi = b.len().min(e + 8192);
    let nearby = &b[lo..hi];
    let service_account = contains(nearby, b"service_account") || contains(nearby, b"gserviceaccount.com");
    if !service_account || (s > 0 && is_b64url(b[s - 1])) {
        return None;
    }
    let is_id = b[e..].starts_with(b"_id");
    let (start, end) = json_string_value(b, if is_id { e + 3 } else { e })?;
    let value = &b[start..end];
    let fits = if is_id {
        value.len() >= 20 && value.iter().all(u8::is_ascii_hexdigit)
    } else {
        contains(value, b"-----BEGIN") && contains(value, b"PRIVATE KEY")
    };
    fits.then(|| secret(Rank::Container, "gcp_service_account", start, end))?
}

/// The string value after a JSON key ending at `at`: `": "value"`, or the
/// same escaped inside another string (`\": \"value\"`).
fn json_string_value(b: &[u8], at: usize) -> Option<(usize, usize)> {
    let escaped = b.get(at) == Some(&b'\\');
    let mut p = at + usize::from(escaped);
    (b.get(p) == Some(&b'"')).then_some(())?;
    p = skip_blanks(b, p + 1);
    (b.get(p) == Some(&b':')).then_some(())?;
    p = skip_blanks(b, p + 1);
    if escaped {
        (b.get(p) == Some(&b'\\')).then_some(())?;
        p += 1;
    }
    (b.get(p) == Some(&b'"')).then_some(())?;
    let start = p + 1;
    let mut i = start;
    while i < b.len() {
        match b[i] {
            b'\\' if escaped && b.get(i + 1) == Some(&b'"') => return Some((start, i)),
            b'\\' => i += 2,
            b'"' if !escaped => return Some((start, i)),
            _ => i += 1,
        }
    }
    None
}

fn skip_blanks(b: &[u8], from: usize) -> usize {
    run_end(b, from.min(b.len()), |c| c == b' ' || c == b'\t')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic stream of base62 characters, so positives are built
    /// fresh in the test and never copied from a real credential.
    fn random_b62(seed: u64, len: usize) -> String {
        const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                ALPHABET[(x % 62) as usize] as char
            })
            .collect()
    }

    fn base62_fixed(mut n: u64, width: usize) -> String {
        const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        let mut out = vec![b'0'; width];
        for slot in out.iter_mut().rev() {
            *slot = ALPHABET[(n % 62) as usize];
            n /= 62;
        }
        String::from_utf8(out).unwrap()
    }

    fn checksummed(prefix: &str, seed: u64) -> String {
        let body = random_b62(seed, 30);
        format!("{prefix}{body}{}", base62_fixed(u64::from(crc32(body.as_bytes())), 6))
    }

    fn kinds(text: &str) -> Vec<&'static str> {
        find_secrets(text).into_iter().map(|m| m.kind).collect()
    }

    fn only(text: &str, kind: &str, needle: &str) {
        let found = find_secrets(text);
        assert_eq!(found.len(), 1, "{text:?}: {found:?}");
        assert_eq!(found[0].kind, kind, "{text:?}");
        assert_eq!(&text[found[0].start..found[0].end], needle, "{text:?}");
    }

    #[test]
    fn crc32_matches_the_zlib_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn github_and_npm_tokens_need_their_checksum() {
        for (i, prefix) in ["ghp_", "gho_", "ghu_", "ghs_", "ghr_"].iter().enumerate() {
            let token = checksummed(prefix, i as u64 + 1);
            only(&format!("token is {token}."), "github_token", &token);
            let mut wrong = token.clone().into_bytes();
            let last = wrong.len() - 1;
            wrong[last] = if wrong[last] == b'A' { b'B' } else { b'A' };
            assert!(find_secrets(std::str::from_utf8(&wrong).unwrap()).is_empty());
            assert!(find_secrets(&token[..token.len() - 1]).is_empty(), "too short");
        }
        let npm = checksummed("npm_", 99);
        only(&format!("//registry.npmjs.org/:_authToken={npm}\n"), "npm_token", &npm);
        let mut bad = checksummed("npm_", 100);
        bad.replace_range(6..7, if &bad[6..7] == "x" { "y" } else { "x" });
        assert!(find_secrets(&bad).is_empty());
    }

    #[test]
    fn fine_grained_github_tokens() {
        let token = format!("github_pat_{}_{}", random_b62(3, 22), random_b62(4, 59));
        only(&format!("GH={token}"), "github_token", &token);
    }

    #[test]
    fn vendor_tokens_by_prefix() {
        let gitlab = format!("glpat-{}", random_b62(5, 20));
        only(&format!("use {gitlab} here"), "gitlab_token", &gitlab);
        let slack = format!("xoxb-{}-{}-{}", 1234567890123u64, 9876543210987u64, random_b62(6, 24));
        only(&format!("SLACK {slack}"), "slack_token", &slack);
        let hook = format!("https://hooks.slack.com/services/T{}/B{}/{}", "A1B2C3D4E", "F5G6H7I8J", random_b62(7, 24));
        only(&format!("post to {hook} now"), "slack_token", &hook);
        let stripe = format!("sk_live_{}", random_b62(8, 24));
        only(&format!("stripe: {stripe}"), "stripe_key", &stripe);
        let rk = format!("rk_test_{}", random_b62(9, 24));
        only(&format!("({rk})"), "stripe_key", &rk);
        let openai = format!("sk-proj-{}", random_b62(10, 120));
        only(&format!("OPENAI {openai}"), "openai_key", &openai);
        let legacy = format!("sk-{}T3BlbkFJ{}", random_b62(11, 20), random_b62(12, 20));
        only(&format!("key {legacy}"), "openai_key", &legacy);
        let anthropic = format!("sk-ant-api03-{}AA", random_b62(13, 93));
        only(&format!("x {anthropic} y"), "anthropic_key", &anthropic);
        let pypi = format!("pypi-AgEIcHlwaS5vcmc{}", random_b62(14, 120));
        only(&format!("password = {pypi}"), "pypi_token", &pypi);
    }

    #[test]
    fn look_alike_prefixes_do_not_fire() {
        for text in [
            "task-1234 disk-usage risk-free sk-short",
            "ghp_tooshort and gh_pages",
            "xoxb- nothing",
            "npm_config_cache=/tmp/npm",
            "sk_live_ short",
            "the ASIAN market grew; AKIA alone",
        ] {
            assert_eq!(kinds(text), Vec::<&str>::new(), "{text}");
        }
    }

    #[test]
    fn aws_keys() {
        let id = format!("AKIA{}", "ABCDEFGHIJ234567");
        only(&format!("aws_access_key_id = {id}\n"), "aws_access_key", &id);
        only("ASIAQWERTYUIOPASDFGH", "aws_access_key", "ASIAQWERTYUIOPASDFGH");
        assert!(find_secrets("AKIAABCDEFGHIJ01").is_empty(), "0 and 1 are not base32");
        let secret_value = format!("{}/{}+{}", random_b62(15, 20), random_b62(16, 10), random_b62(17, 8));
        only(&format!("aws_secret_access_key = {secret_value}\n"), "aws_secret_key", &secret_value);
        only(&format!("{{\"SecretAccessKey\": \"{secret_value}\"}}"), "aws_secret_key", &secret_value);
    }

    #[test]
    fn private_keys() {
        let body: String = (0..6).map(|i| random_b62(20 + i, 64) + "\n").collect();
        for label in
            ["RSA PRIVATE KEY", "PRIVATE KEY", "OPENSSH PRIVATE KEY", "EC PRIVATE KEY", "PGP PRIVATE KEY BLOCK"]
        {
            let pem = format!("-----BEGIN {label}-----\n{body}-----END {label}-----");
            only(&format!("key:\n{pem}\ndone"), "private_key", &pem);
        }
        let escaped = format!("-----BEGIN PRIVATE KEY-----\\n{}\\n-----END PRIVATE KEY-----\\n", random_b62(30, 200));
        let found = find_secrets(&format!("{{\"k\": \"{escaped}\"}}"));
        assert_eq!(found.len(), 1);
        let cut = format!("-----BEGIN RSA PRIVATE KEY-----\n{}\n{}\n", random_b62(31, 64), random_b62(32, 40));
        let text = format!("{cut}(truncated) see the docs");
        let found = find_secrets(&text);
        assert_eq!(found.len(), 1);
        assert_eq!(&text[found[0].end..], "\n(truncated) see the docs");
        assert!(find_secrets("-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n").is_empty());
        assert!(find_secrets("a file starting with -----BEGIN RSA PRIVATE KEY----- is a key").is_empty());
    }

    #[test]
    fn gcp_service_account_covers_the_key() {
        let key = format!("-----BEGIN PRIVATE KEY-----\\n{}\\n-----END PRIVATE KEY-----\\n", random_b62(40, 300));
        let id = "0123456789abcdef0123456789abcdef01234567";
        let json = format!(
            "{{\n  \"type\": \"service_account\",\n  \"project_id\": \"demo\",\n  \"private_key_id\": \"{id}\",\n  \"private_key\": \"{key}\",\n  \"client_email\": \"svc@demo.iam.gserviceaccount.com\"\n}}"
        );
        let found = find_secrets(&json);
        assert_eq!(found.iter().map(|m| m.kind).collect::<Vec<_>>(), ["gcp_service_account", "gcp_service_account"]);
        assert_eq!(&json[found[0].start..found[0].end], id);
        assert_eq!(&json[found[1].start..found[1].end], key);
    }

    #[test]
    fn azure_connection_strings() {
        let account_key = format!("{}==", random_b62(41, 86));
        let conn = format!(
            "DefaultEndpointsProtocol=https;AccountName=demo;AccountKey={account_key};EndpointSuffix=core.windows.net"
        );
        only(&format!("conn=\"{conn}\""), "azure_connection_string", &conn);
        let sb = format!(
            "Endpoint=sb://demo.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey={}=",
            random_b62(42, 43)
        );
        only(&format!("{sb} "), "azure_connection_string", &sb);
    }

    #[test]
    fn jwts_need_a_header_with_alg() {
        let b64 = |s: &str| {
            let table = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
            let bits: Vec<u8> = s.bytes().collect();
            let mut out = String::new();
            for chunk in bits.chunks(3) {
                let n = chunk.iter().enumerate().fold(0u32, |n, (i, &c)| n | (u32::from(c) << (16 - 8 * i)));
                for i in 0..=chunk.len() {
                    out.push(table[((n >> (18 - 6 * i)) & 63) as usize] as char);
                }
            }
            out
        };
        let token = format!(
            "{}.{}.{}",
            b64(r#"{"alg":"HS256","typ":"JWT"}"#),
            b64(r#"{"sub":"1234567890","iat":1516239022}"#),
            random_b62(43, 43)
        );
        only(&format!("Cookie: session={token}; Path=/"), "jwt", &token);
        only(&format!("Authorization: Bearer {token}"), "jwt", &token);
        let no_alg = format!("{}.{}.{}", b64(r#"{"typ":"JWT","x":1}"#), b64("{}"), random_b62(44, 20));
        assert!(find_secrets(&no_alg).is_empty());
        assert!(find_secrets("eyJhbGciOiJIUzI1NiJ9 alone").is_empty());
    }

    #[test]
    fn url_credentials_keep_scheme_and_host() {
        only("postgres://app:s3cr3t-Pa55@db.internal:5432/app", "url_credentials", "app:s3cr3t-Pa55");
        only("fetch https://user:hunter2@example.com/x", "url_credentials", "user:hunter2");
        for text in [
            "https://user@example.com/",
            "https://example.com/a:b@c",
            "postgres://user:password@localhost/db",
            "redis://:${REDIS_PASSWORD}@cache:6379",
            "https://user:****@example.com",
        ] {
            assert!(find_secrets(text).is_empty(), "{text}");
        }
    }

    #[test]
    fn generic_assignments() {
        let v = random_b62(50, 32);
        for text in [
            format!("API_KEY={v}\n"),
            format!("\"password\": \"{v}\""),
            format!("client_secret: '{v}'"),
            format!("export GITHUB_TOKEN={v}"),
            format!("config[\"apiKey\"] = \"{v}\";"),
            format!("X-Api-Key: {v}\r\n"),
            format!("db_password := \"{v}\""),
        ] {
            only(&text, "generic_secret", &v);
        }
        let hex = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b";
        only(&format!("SECRET_TOKEN={hex}"), "generic_secret", hex);
    }

    #[test]
    fn generic_rule_ignores_look_alikes() {
        let sha = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        for text in [
            format!("cache_key = \"{sha}\""),
            format!("\"key\": \"{sha}\""),
            "\"key\": \"550e8400-e29b-41d4-a716-446655440000\"".to_owned(),
            "monkey=Zx81Kq02Lm93Np45Rt67".to_owned(),
            "keyboard: Zx81Kq02Lm93Np45Rt67".to_owned(),
            "tokenizer=Zx81Kq02Lm93Np45Rt67".to_owned(),
            "nextPageToken: \"CiAKGjBpNDd2Nmp2Zml2cXRwYjBpOXA2\"".to_owned(),
            "token_type: access_token_refresh_v2".to_owned(),
            "SECRET_NAME=MY_APP_DB_PASSWORD_2".to_owned(),
            "key: version-1.2.3-beta.4+build.5678".to_owned(),
            "password: correcthorsebatterystaple".to_owned(),
            "password=${DB_PASSWORD}".to_owned(),
            "var key=t.getKey2(n),token=e.token(r)".to_owned(),
            "secret_file: config/secrets.prod.yaml".to_owned(),
            "token_expires_at: 2024-01-15T10:00:00Z".to_owned(),
            "the key: abc".to_owned(),
        ] {
            assert_eq!(kinds(&text), Vec::<&str>::new(), "{text}");
        }
    }

    #[test]
    fn overlaps_keep_the_most_specific() {
        let gh = checksummed("ghp_", 7);
        only(&format!("GITHUB_TOKEN={gh}"), "github_token", &gh);
        let id = "AKIAABCDEFGHIJ234567";
        let text = format!("{id} {}", checksummed("ghp_", 8));
        assert_eq!(kinds(&text), ["aws_access_key", "github_token"]);
    }

    #[test]
    fn redaction_keeps_the_rest() {
        let gh = checksummed("ghp_", 9);
        let text = format!("héllo {gh} — wörld AKIAABCDEFGHIJ234567!");
        let out = redact(&text, &find_secrets(&text));
        assert_eq!(out, "héllo [REDACTED:github_token] — wörld [REDACTED:aws_access_key]!");
        assert_eq!(redact("abc", &[]), "abc");
        let bogus = Match { class: Class::Secret, kind: "x", start: 2, end: 99 };
        assert_eq!(redact("abc", &[bogus]), "abc");
    }
}
