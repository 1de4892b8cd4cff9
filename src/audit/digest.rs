//! The keyed digests that are all the audit log (and an approval binding)
//! keeps of a call's arguments and of a client's session id, and the plain
//! SHA-256 the chain uses.
//!
//! Why keyed: arguments are often guessable (a path, an address, a yes/no
//! flag), so an unsalted SHA-256 of them gave back the values to anyone
//! who tried a small dictionary against the log. An HMAC under a secret
//! kept beside the log ([`super::open_key`]) makes a digest useless without
//! that file, while two calls with the same arguments still digest the
//! same within one installation, which is what grants and approval
//! bindings compare. The chain does not use the key: `audit verify` needs
//! only the file.
//!
//! Digests are written `hmac-sha256:<hex>`; records written before the key
//! existed say `sha256:<hex>` and stay readable, and comparable with
//! nothing new.

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// What a keyed digest starts with.
pub const KEYED_PREFIX: &str = "hmac-sha256:";
/// Hex digits kept of a session id's HMAC: 128 bits, so two sessions of one
/// installation never share a digest by chance, and approval bindings,
/// which compare them, stay exact.
const SESSION_HEX: usize = 32;
/// Bytes of key material in an installation key.
pub const KEY_BYTES: usize = 32;

/// The installation's secret for argument and session digests.
#[derive(Clone)]
pub struct AuditKey {
    /// HMAC state already keyed, cloned for each digest.
    mac: HmacSha256,
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key itself: this may end up in a log line.
        f.write_str("AuditKey(..)")
    }
}

impl AuditKey {
    pub fn from_bytes(bytes: &[u8; KEY_BYTES]) -> AuditKey {
        AuditKey { mac: HmacSha256::new_from_slice(bytes).expect("HMAC takes keys of any length") }
    }

    /// A fresh random key kept nowhere: for tests, benchmarks, and sinks
    /// whose digests need compare only within one process.
    pub fn generate() -> AuditKey {
        AuditKey::from_bytes(&rand::random())
    }

    /// Digest of a tool call's arguments: `hmac-sha256:<64 hex>` over a
    /// canonical serialization (compact JSON, object keys sorted by byte
    /// order at every depth, array order kept), so the same arguments sent
    /// with keys in another order give the same digest. `None` digests as
    /// `null`.
    ///
    /// Keys are sorted here rather than relying on `serde_json::Map` being
    /// a BTreeMap: any crate in the build may turn on serde_json's
    /// `preserve_order` feature, which would make the map keep insertion
    /// order. Numbers are written as serde_json writes them, so `1` and
    /// `1.0` differ.
    pub fn digest_arguments(&self, args: Option<&Value>) -> String {
        let mut canonical = Vec::new();
        write_canonical(args.unwrap_or(&Value::Null), &mut canonical);
        let mut digest = String::with_capacity(KEYED_PREFIX.len() + 64);
        digest.push_str(KEYED_PREFIX);
        push_hex(&mut digest, &self.mac(b"arguments", &canonical));
        digest
    }

    /// How records name a client session: `hmac-sha256:<32 hex>` of its id.
    /// The id itself is the client's bearer credential on the gateway, so
    /// it is never written anywhere; the digest still tells one session's
    /// records from another's, and binds session-scoped approvals.
    pub fn digest_session(&self, session: &str) -> String {
        let mac = self.mac(b"session", session.as_bytes());
        let mut digest = String::with_capacity(KEYED_PREFIX.len() + SESSION_HEX);
        digest.push_str(KEYED_PREFIX);
        push_hex(&mut digest, &mac[..SESSION_HEX / 2]);
        digest
    }

    /// HMAC over a label and the data, so that no argument digest can ever
    /// equal a session digest, whatever either contains.
    fn mac(&self, label: &[u8], data: &[u8]) -> [u8; 32] {
        let mut mac = self.mac.clone();
        mac.update(label);
        mac.update(&[0]);
        mac.update(data);
        mac.finalize().into_bytes().into()
    }
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

/// Lowercase hex SHA-256: a line's hash, as the next line's `prev` holds it.
pub(super) fn sha256_hex(bytes: &[u8]) -> String {
    let mut digest = String::with_capacity(64);
    push_hex(&mut digest, &Sha256::digest(bytes));
    digest
}

/// Lowercase hex, as `hex::encode` writes it, without its per-character
/// iterator: every call writes two or three of these into its records.
fn push_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_written_as_hex_encode_writes_it() {
        let bytes: Vec<u8> = (0..=255).collect();
        let mut out = String::new();
        push_hex(&mut out, &bytes);
        assert_eq!(out, hex::encode(&bytes));
    }
    use serde_json::json;

    #[test]
    fn digest_is_stable_under_key_reordering() {
        let key = AuditKey::generate();
        let a: Value = serde_json::from_str(r#"{"path":"/srv/a","opts":{"x":1,"y":[1,{"b":2,"a":3}]}}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"opts":{"y":[1,{"a":3,"b":2}],"x":1},"path":"/srv/a"}"#).unwrap();
        let digest = key.digest_arguments(Some(&a));
        assert_eq!(digest, key.digest_arguments(Some(&b)));
        assert!(digest.starts_with("hmac-sha256:"));
        assert_eq!(digest.len(), "hmac-sha256:".len() + 64);
    }

    #[test]
    fn digest_differs_for_different_values() {
        let key = AuditKey::generate();
        let digest = |value: Value| key.digest_arguments(Some(&value));
        let base = digest(json!({ "to": "a@example.com" }));
        assert_ne!(base, digest(json!({ "to": "a@evil.com" })));
        assert_ne!(base, digest(json!({ "cc": "a@example.com" })));
        assert_ne!(digest(json!([1, 2])), digest(json!([2, 1])));
        assert_eq!(key.digest_arguments(None), digest(Value::Null));
        assert_ne!(key.digest_arguments(None), digest(json!({})));
    }

    /// The attack that recovered logged arguments: hash every candidate
    /// value the way the log used to, and look the digest up.
    #[test]
    fn a_dictionary_of_plain_sha256_digests_recovers_no_logged_argument() {
        let key = AuditKey::generate();
        let dictionary: Vec<Value> = ["yes", "no", "/etc/passwd", "bob@example.com", "id", "ls -la"]
            .into_iter()
            .flat_map(|v| [json!({ "path": v }), json!({ "command": v }), json!({ "to": v }), json!({ "confirm": v })])
            .collect();
        let unkeyed = |value: &Value| {
            let mut canonical = Vec::new();
            write_canonical(value, &mut canonical);
            sha256_hex(&canonical)
        };
        let logged = key.digest_arguments(Some(&json!({ "path": "/etc/passwd" })));
        let logged_hex = logged.strip_prefix("hmac-sha256:").unwrap();
        assert!(dictionary.iter().all(|guess| unkeyed(guess) != logged_hex), "the digest is not a plain SHA-256");
        // Without the key, the same dictionary under another key finds nothing either.
        let guessing_key = AuditKey::generate();
        assert!(dictionary.iter().all(|guess| guessing_key.digest_arguments(Some(guess)) != logged));
        // With the key, the same value digests the same: grants still compare.
        assert_eq!(key.digest_arguments(Some(&json!({ "path": "/etc/passwd" }))), logged);
    }

    #[test]
    fn a_session_digest_is_keyed_fixed_length_and_never_an_argument_digest() {
        let (key, other) = (AuditKey::generate(), AuditKey::generate());
        let id = "0123456789abcdef0123456789abcdef";
        let digest = key.digest_session(id);
        assert_eq!(digest, key.digest_session(id), "one session, one name in every record");
        assert_ne!(digest, key.digest_session("0123456789abcdef0123456789abcdee"));
        assert_ne!(digest, other.digest_session(id), "another installation cannot link the session");
        assert!(!digest.contains(id));
        assert_eq!(digest.len(), "hmac-sha256:".len() + 32);
        // Arguments `123` canonicalize to the very bytes of session id "123":
        // the digests still differ, so neither can stand in for the other.
        let as_arguments = key.digest_arguments(Some(&json!(123)));
        let as_session = key.digest_session("123");
        assert_ne!(&as_arguments[..as_session.len()], as_session);
    }

    #[test]
    fn the_key_never_shows_in_debug_output() {
        assert_eq!(format!("{:?}", AuditKey::from_bytes(&[7; KEY_BYTES])), "AuditKey(..)");
    }
}
