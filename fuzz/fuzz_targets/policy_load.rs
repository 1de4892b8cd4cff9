//! Any policy text: loading returns a policy or an error, never a panic, and
//! a loaded policy can decide.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcp_warden::policy::{CallContext, Policy};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(policy) = Policy::from_sources(&[("fuzz.toml".to_string(), text.to_string())]) {
        let args = serde_json::json!({"path": "../etc/passwd", "url": "http://127.1/", "to": "a@b.c"});
        let _ = policy.decide(&CallContext::new("files", "read_file", Some(&args)));
        let _ = policy.tool_listed("files", "read_file");
    }
});
