//! A quick timing of `decide` against 200 rules with argument constraints,
//! until the criterion bench exists. Run in release:
//! `cargo test --release --lib policy::tests::timing -- --ignored --nocapture`.

use std::time::Instant;

use serde_json::{json, Value};

use super::policy;
use crate::policy::{CallContext, Policy, Verdict};

fn two_hundred_rules() -> Policy {
    let mut text = String::from("[defaults]\ntools = \"deny\"\n");
    for i in 0..200 {
        let body = match i % 4 {
            0 => "args.path = { path_within = [\"/srv/projects\"], path_deny = [\"**/.ssh/**\", \"**/.env\"] }\nargs.mode = { enum = [\"r\", \"w\"] }".to_string(),
            1 => "deny_unknown_args = true\nargs.url = { url_schemes = [\"https\"], url_hosts = [\"example.com\", \"*.example.org\"], deny_private_ips = true }".to_string(),
            2 => "args.cmd = { no_shell_metachars = true, pattern = \"^[a-z ]+$\", deny_pattern = \"rm\\\\s+-rf\" }\nargs.count = { type = \"integer\", min = 1, max = 100 }".to_string(),
            _ => "deny_unknown_args = true\nargs.to = { email_domain = [\"example.com\"] }\nargs.subject = { max_length = 200 }".to_string(),
        };
        text.push_str(&format!(
            "\n[[rules]]\nid = \"rule-{i}\"\nserver = \"server-{}\"\ntools = [\"tool_{i}\", \"tool_{i}_*\"]\naction = \"allow\"\n{body}\n",
            i % 10
        ));
    }
    policy(&text)
}

/// Median nanoseconds per call over batches.
fn time(mut f: impl FnMut()) -> f64 {
    const BATCH: u32 = 2_000;
    for _ in 0..BATCH {
        f();
    }
    let mut samples: Vec<f64> = (0..41)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..BATCH {
                f();
            }
            start.elapsed().as_nanos() as f64 / f64::from(BATCH)
        })
        .collect();
    samples.sort_by(|a, b| a.total_cmp(b));
    samples[samples.len() / 2]
}

#[test]
#[ignore = "timing; run in release with --ignored --nocapture"]
fn decide_timing_with_200_constrained_rules() {
    let p = two_hundred_rules();
    assert_eq!(p.rule_count(), 200);
    let cases: [(&str, &str, Value, Verdict); 6] = [
        ("path allowed", "tool_196", json!({"path": "docs/Zürich/notes.md", "mode": "r"}), Verdict::Allow),
        ("path refused (encoded traversal)", "tool_196", json!({"path": "%2e%2e/%2e%2e/etc/passwd"}), Verdict::Deny),
        ("url allowed", "tool_197", json!({"url": "https://api.example.org/v1/items?q=1"}), Verdict::Allow),
        ("url refused (metadata)", "tool_197", json!({"url": "http://169.254.169.254/latest/"}), Verdict::Deny),
        ("command allowed", "tool_198", json!({"cmd": "ls la", "count": 5}), Verdict::Allow),
        ("email allowed", "tool_199", json!({"to": "Bob <bob@example.com>", "subject": "hi"}), Verdict::Allow),
    ];
    for (what, tool, args, verdict) in &cases {
        let server = format!("server-{}", &tool[5..].parse::<usize>().unwrap() % 10);
        let ctx = CallContext::new(&server, tool, Some(args));
        assert_eq!(p.decide(&ctx).verdict, *verdict, "{what}: {}", p.decide(&ctx).reason);
        let ns = time(|| {
            std::hint::black_box(p.decide(std::hint::black_box(&ctx)));
        });
        println!("decide, {what}: {:.2} µs median", ns / 1000.0);
    }
    let schema = json!({"type": "object", "properties": {"path": {"type": "string"}, "mode": {"enum": ["r", "w"]}}, "required": ["path"]});
    let args = json!({"path": "docs/a.md", "mode": "r"});
    let ctx = CallContext::new("server-6", "tool_196", Some(&args)).with_input_schema(Some(&schema));
    assert_eq!(p.decide(&ctx).verdict, Verdict::Allow);
    let ns = time(|| {
        std::hint::black_box(p.decide(std::hint::black_box(&ctx)));
    });
    println!("decide, path allowed + upstream inputSchema (cached): {:.2} µs median", ns / 1000.0);
    let compile = time(|| {
        std::hint::black_box(crate::policy::schema::CompiledSchema::compile(std::hint::black_box(&schema)).is_ok());
    });
    println!("compiling that inputSchema without the cache: {:.2} µs median", compile / 1000.0);
    let ns = time(|| {
        std::hint::black_box(p.explain(std::hint::black_box(&ctx)));
    });
    println!("explain, same call: {:.2} µs median", ns / 1000.0);
}
