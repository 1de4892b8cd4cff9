//! The generic rule: a value assigned to a name that holds a key word
//! (`API_KEY=...`, `"password": "..."`, `Bearer ...`) is a secret when it
//! looks random, and is not one when the name or the value says otherwise
//! (a `cache_key` holding a digest, a version, a file name, an identifier).

use super::{contains, is_b64, is_b64url, placeholder, run_end, run_start, secret, skip_blanks, Found, Rank};

/// `Authorization: Bearer <token>`: an opaque bearer token is a secret
/// whatever issued it.
pub(super) fn bearer(b: &[u8], _s: usize, e: usize) -> Found {
    let end = run_end(b, e, |c| is_b64url(c) || matches!(c, b'.' | b'~' | b'+' | b'/'));
    let end = run_end(b, end, |c| c == b'=');
    let value = &b[e..end];
    (value.len() >= 20 && random_looking(value)).then(|| secret(Rank::Generic, "generic_secret", e, end))?
}

/// Names that hold a key-like word but not a secret: digests, identifiers,
/// pagination cursors, settings about a secret.
const NOT_SECRET_NAMES: [&str; 34] = [
    "public",
    "cache",
    "sort",
    "primary",
    "foreign",
    "partition",
    "idempot",
    "hash",
    "digest",
    "checksum",
    "fingerprint",
    "etag",
    "commit",
    "_id",
    "-id",
    "keyid",
    "tokenid",
    "name",
    "type",
    "file",
    "path",
    "url",
    "uri",
    "length",
    "size",
    "count",
    "expir",
    "ttl",
    "usage",
    "field",
    "prefix",
    "page",
    "cursor",
    "next",
];

/// Compounds where a secret word follows a lower-case letter (`apikey`);
/// elsewhere that means another word (`monkey`, `turkey`).
const COMPOUNDS: [&str; 14] = [
    "apikey",
    "accesskey",
    "secretkey",
    "privatekey",
    "authkey",
    "signingkey",
    "masterkey",
    "apitoken",
    "accesstoken",
    "authtoken",
    "refreshtoken",
    "sessiontoken",
    "apisecret",
    "clientsecret",
];

/// `API_KEY=...`, `"password": "..."`, `client_secret: ...`: a value
/// assigned to a name holding a secret word, judged by its shape.
pub(super) fn assignment(b: &[u8], s: usize, e: usize) -> Found {
    let ident = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.');
    // Most secret words in text are not assigned anything: look for the
    // separator and value before judging the name.
    let name_end = run_end(b, e, ident);
    let (start, end) = assigned_value(b, name_end)?;
    let name_start = run_start(b, s, ident);
    if name_end - name_start > 64 {
        return None;
    }
    let mut lower = [0u8; 64];
    let name = &mut lower[..name_end - name_start];
    name.copy_from_slice(&b[name_start..name_end]);
    name.make_ascii_lowercase();
    let name = &*name;
    let upper = b[s].is_ascii_uppercase() && b[e - 1].is_ascii_uppercase();
    let same_case = |c: u8| if upper { c.is_ascii_uppercase() } else { c.is_ascii_lowercase() };
    if s > name_start && same_case(b[s - 1]) && !COMPOUNDS.iter().any(|c| contains(name, c.as_bytes())) {
        return None;
    }
    let passw = b[s..e].eq_ignore_ascii_case(b"passw");
    if e < name_end && same_case(b[e]) && !passw {
        let plural = (b[e] | 0x20) == b's' && !b.get(e + 1).is_some_and(|&c| same_case(c));
        if !plural {
            return None;
        }
    }
    if NOT_SECRET_NAMES.iter().any(|n| contains(name, n.as_bytes())) {
        return None;
    }
    let value = &b[start..end];
    let strong = !b[s..e].eq_ignore_ascii_case(b"key")
        || ["api", "secret", "private", "access", "auth", "master", "signing", "encrypt"]
            .iter()
            .any(|w| contains(name, w.as_bytes()));
    let secret_name = contains(name, b"secret");
    let aws_name = contains(name, b"aws") || (secret_name && contains(name, b"access"));
    let kind = judge_value(value, strong, secret_name, aws_name)?;
    secret(if kind == "aws_secret_key" { Rank::Token } else { Rank::Generic }, kind, start, end)
}

/// The value after `name` `=`/`:`/`:=`/`=>`, quoted or bare, on the same line.
fn assigned_value(b: &[u8], name_end: usize) -> Option<(usize, usize)> {
    let mut p = name_end;
    if b.get(p) == Some(&b'\\') {
        p += 1;
    }
    if matches!(b.get(p), Some(b'"' | b'\'' | b'`')) {
        p += 1;
    }
    if b.get(p) == Some(&b']') {
        p += 1;
    }
    p = skip_blanks(b, p);
    match (b.get(p), b.get(p + 1)) {
        (Some(b':'), Some(b'=')) | (Some(b'='), Some(b'>')) => p += 2,
        (Some(b':'), Some(b':')) | (Some(b'='), Some(b'=')) => return None,
        (Some(b':' | b'='), _) => p += 1,
        _ => return None,
    }
    p = skip_blanks(b, p);
    let escaped = b.get(p) == Some(&b'\\') && matches!(b.get(p + 1), Some(b'"' | b'\''));
    if escaped {
        p += 1;
    }
    match b.get(p) {
        Some(&q @ (b'"' | b'\'' | b'`')) => {
            let start = p + 1;
            let len = b[start..b.len().min(start + 258)].iter().position(|&c| c == q || c == b'\\' || c <= b' ')?;
            let end = start + len;
            let closed = if escaped { b.get(end) == Some(&b'\\') } else { b[end] == q };
            closed.then_some((start, end))
        }
        Some(_) => {
            let start = p;
            let mut end = run_end(b, start, |c| is_b64(c) || matches!(c, b'_' | b'-' | b'.' | b'~'));
            while end > start && matches!(b[end - 1], b'.' | b',') {
                end -= 1;
            }
            // A bare value followed by a call or an index is code.
            let ends_well = b.get(end).is_none_or(|&c| c.is_ascii_whitespace() || b",;&)}]\"'<.".contains(&c));
            ends_well.then_some((start, end))
        }
        None => None,
    }
}

/// What a value assigned to a secret word is: `aws_secret_key`,
/// `generic_secret`, or nothing.
fn judge_value(v: &[u8], strong: bool, secret_name: bool, aws_name: bool) -> Option<&'static str> {
    if v.len() < 16 || v.len() > 256 || placeholder(v) || contains(v, b"://") || contains(v, b"${") {
        return None;
    }
    if v.starts_with(b"/") || v.starts_with(b"./") || v.starts_with(b"~/") || v.starts_with(b"../") {
        return None;
    }
    let hex = v.iter().all(|&c| c.is_ascii_hexdigit() || c == b'-');
    if hex {
        return (strong && v.len() >= 20 && entropy(v) >= 3.0).then_some("generic_secret");
    }
    // AWS secret keys are 40 base64 characters; after a name that says
    // AWS or access, or holding the `/` or `+` a base62 secret cannot.
    let aws_shape = v.len() == 40 && v.iter().all(|&c| is_b64(c) && c != b'=');
    if aws_shape && (aws_name || (secret_name && v.iter().any(|&c| c == b'/' || c == b'+'))) && random_looking(v) {
        return Some("aws_secret_key");
    }
    random_looking(v).then_some("generic_secret")
}

/// Letters and digits mixed, no version or date inside, not an identifier
/// made of words, and close to the entropy of random text of its length.
pub(super) fn random_looking(v: &[u8]) -> bool {
    let has_digit = v.iter().any(u8::is_ascii_digit);
    let has_alpha = v.iter().any(u8::is_ascii_alphabetic);
    if !has_digit || !has_alpha {
        return false;
    }
    let version = v.windows(3).any(|w| w[0].is_ascii_digit() && w[1] == b'.' && w[2].is_ascii_digit());
    let date = v.windows(5).any(|w| w[0].is_ascii_digit() && w[1].is_ascii_digit() && w[2] == b'-' && w[4] == b'-');
    if version || date || file_name(v) || identifier(v) {
        return false;
    }
    let threshold = (0.85 * (v.len() as f64).log2()).min(4.0);
    entropy(v) >= threshold
}

/// `settings.prod.json`: an extension of two to four lower-case letters.
fn file_name(v: &[u8]) -> bool {
    v.iter().rposition(|&c| c == b'.').is_some_and(|dot| {
        let ext = &v[dot + 1..];
        (2..=4).contains(&ext.len()) && ext.iter().all(u8::is_ascii_lowercase)
    })
}

/// `MY_APP_DB_PASSWORD_2`, `user-profile-v2`: segments that are each a
/// word or a number. Random tokens mix letters and digits in a segment.
fn identifier(v: &[u8]) -> bool {
    let mut segments = v.split(|&c| matches!(c, b'_' | b'-' | b'.')).filter(|s| !s.is_empty()).peekable();
    let mut count = 0;
    let plain = segments.all(|s| {
        count += 1;
        s.iter().all(u8::is_ascii_digit)
            || s.iter().all(u8::is_ascii_lowercase)
            || s.iter().all(u8::is_ascii_uppercase)
            || (s[0].is_ascii_uppercase() && s[1..].iter().all(u8::is_ascii_lowercase))
    });
    plain && count >= 2
}

/// Shannon entropy in bits per byte.
fn entropy(v: &[u8]) -> f64 {
    let mut counts = [0u32; 256];
    for &c in v {
        counts[c as usize] += 1;
    }
    let n = v.len() as f64;
    counts.iter().filter(|&&k| k > 0).map(|&k| f64::from(k) / n).map(|p| -p * p.log2()).sum()
}
