//! One policy decision, as the relay makes it for every `tools/call`.

use criterion::{criterion_group, criterion_main, Criterion};
use mcp_warden::policy::{CallContext, Policy};
use serde_json::json;
use std::hint::black_box;

/// `n` rules over `n / 4` servers, allow and deny mixed, exact names and globs.
fn policy_with_rules(n: usize) -> Policy {
    let mut src = String::from("mode = \"enforce\"\n[defaults]\ntools = \"deny\"\n");
    for i in 0..n {
        let (action, tools) = match i % 4 {
            0 => ("deny", format!("[\"run_{i}\", \"exec_*\"]")),
            1 => ("allow", format!("[\"read_{i}\", \"list_*\"]")),
            2 => ("allow", format!("[\"get_{i}_*\"]")),
            _ => ("allow", format!("[\"tool_{i}\"]")),
        };
        src.push_str(&format!(
            "[[rules]]\nid = \"rule-{i}\"\nserver = \"server-{}\"\ntools = {tools}\naction = \"{action}\"\n",
            i / 4
        ));
    }
    Policy::from_sources(&[("bench.toml".into(), src)]).expect("bench policy loads")
}

fn decisions(c: &mut Criterion) {
    let args = json!({"path": "/srv/projects/notes.txt", "limit": 10});
    for rules in [10, 200] {
        let policy = policy_with_rules(rules);
        let last_server = format!("server-{}", rules / 4 - 1);
        let allowed_tool = format!("tool_{}", rules - 1);
        c.bench_function(&format!("decide/allowlist/{rules}_rules/allowed"), |b| {
            b.iter(|| {
                policy.decide(black_box(&CallContext {
                    server: &last_server,
                    tool: &allowed_tool,
                    arguments: Some(&args),
                    ..CallContext::default()
                }))
            })
        });
        c.bench_function(&format!("decide/allowlist/{rules}_rules/unknown_tool"), |b| {
            b.iter(|| {
                policy.decide(black_box(&CallContext {
                    server: "server-0",
                    tool: "nope",
                    arguments: Some(&args),
                    ..CallContext::default()
                }))
            })
        });
    }
}

criterion_group!(benches, decisions);
criterion_main!(benches);
