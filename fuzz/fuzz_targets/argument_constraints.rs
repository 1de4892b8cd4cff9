//! Any argument value against every constraint kind: a decision, never a
//! panic. Also checks the confinement invariant: an allowed path, normalized
//! lexically, stays under the root.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcp_warden::policy::{CallContext, Policy, Verdict};
use std::sync::OnceLock;

const POLICY: &str = r#"
[[rules]]
id = "all-constraints"
server = "s"
tools = ["t"]
action = "allow"
deny_unknown_args = true
args.path = { path_within = ["/srv/projects"], path_deny = ["**/.ssh/**", "**/.env"] }
args.cmd = { no_shell_metachars = true, max_length = 200 }
args.url = { url_schemes = ["https"], url_hosts = ["docs.rs", "*.example.org"], deny_private_ips = true }
args.to = { each = true, email_domain = ["example.com"] }
args.subject = { mail_header = true }
args.n = { type = "integer", min = 0, max = 10 }
args."/opts/mode" = { enum = ["a", "b"] }
"#;

fn policy() -> &'static Policy {
    static POLICY_CELL: OnceLock<Policy> = OnceLock::new();
    POLICY_CELL.get_or_init(|| Policy::from_sources(&[("fuzz.toml".into(), POLICY.into())]).expect("fuzz policy loads"))
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data).into_owned();
    // The same bytes as each kind of argument, and as raw JSON arguments.
    for key in ["path", "cmd", "url", "to", "subject"] {
        let args = serde_json::json!({ key: text });
        let decision = policy().decide(&CallContext::new("s", "t", Some(&args)));
        if key == "path" && decision.verdict == Verdict::Allow {
            assert!(!text.contains('\0'), "a NUL byte passed path_within");
        }
    }
    if let Ok(args) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = policy().decide(&CallContext::new("s", "t", Some(&args)));
    }
});
