//! The canonical digest of a call's arguments, which is all the audit log
//! (and an approval binding) keeps of them, and the SHA-256 the chain uses.

use serde_json::Value;
use sha2::{Digest, Sha256};

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

/// Lowercase hex SHA-256: a line's hash, as the next line's `prev` holds it.
pub(super) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
}
