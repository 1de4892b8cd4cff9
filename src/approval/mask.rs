//! Masks argument values that look like secrets before a held call is shown
//! to a person or written to the approval store. Pure.
//!
//! A value is masked when its key names a secret (`password`, `token`,
//! `secret`, `api_key`, `authorization`, ...) or when it looks like one
//! (`sk-...`, `ghp_...`, `xox...-`, `AKIA...`, `Bearer ...`, a JWT).

use serde_json::Value;

pub const MASK: &str = "***";

const SECRET_KEYS: [&str; 12] = [
    "password",
    "passwd",
    "passphrase",
    "token",
    "secret",
    "api_key",
    "apikey",
    "api-key",
    "authorization",
    "private_key",
    "credential",
    "cookie",
];

/// A copy of `value` with secret-looking values replaced by `***`.
pub fn mask_secrets(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, item)| {
                    let masked = if secret_key(key) { Value::from(MASK) } else { mask_secrets(item) };
                    (key.clone(), masked)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(mask_secrets).collect()),
        Value::String(text) if secret_value(text) => Value::from(MASK),
        other => other.clone(),
    }
}

fn secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    SECRET_KEYS.iter().any(|s| key.contains(s))
}

fn secret_value(text: &str) -> bool {
    let text = text.trim();
    let prefixed = ["sk-", "sk_live_", "ghp_", "gho_", "github_pat_", "xoxb-", "xoxp-", "AKIA", "glpat-"]
        .iter()
        .any(|p| text.starts_with(p) && text.len() >= p.len() + 8);
    let bearer = text.len() > 15 && text[..7].eq_ignore_ascii_case("bearer ");
    prefixed || bearer || looks_like_jwt(text)
}

fn looks_like_jwt(text: &str) -> bool {
    let parts: Vec<&str> = text.split('.').collect();
    parts.len() == 3
        && text.starts_with("eyJ")
        && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_keys_are_masked_at_any_depth_and_case() {
        let masked = mask_secrets(&json!({
            "to": "bob@example.com",
            "Password": "hunter2",
            "options": {"api_key": "abc", "headers": [{"Authorization": "x"}], "GITHUB_TOKEN": "y"},
        }));
        assert_eq!(
            masked,
            json!({
                "to": "bob@example.com",
                "Password": "***",
                "options": {"api_key": "***", "headers": [{"Authorization": "***"}], "GITHUB_TOKEN": "***"},
            })
        );
    }

    #[test]
    fn secret_looking_values_are_masked_under_innocent_keys() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlX2J5dGVz";
        let masked = mask_secrets(&json!({
            "body": "sk-abcdefghijklmnop",
            "note": jwt,
            "header": "Bearer abcdefghijkl",
            "list": ["ghp_0123456789abcdef", "plain"],
        }));
        assert_eq!(masked, json!({"body": "***", "note": "***", "header": "***", "list": ["***", "plain"]}));
    }

    #[test]
    fn ordinary_values_are_shown_as_they_are() {
        let args = json!({"path": "notes/sk-.txt", "count": 3, "body": "a.b.c", "ok": true});
        assert_eq!(mask_secrets(&args), args);
    }
}
