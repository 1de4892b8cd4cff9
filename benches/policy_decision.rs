//! One policy decision, as the relay makes it for every `tools/call`: an
//! allowlist only, and 200 rules that carry argument constraints; with them,
//! the same call checked against the upstream's compiled `inputSchema` too,
//! and `explain` (every check recorded); and a resource read decided under
//! every reading of its URI.

use criterion::{criterion_group, criterion_main, Criterion};
use mcp_warden::policy::{Access, AccessContext, CallContext, InputSchema, Policy, Verdict};
use serde_json::json;
use std::hint::black_box;

/// `n` rules over `n / 4` servers, allow and deny mixed, exact names and
/// globs; with `constrained`, every allow rule also checks its arguments.
fn policy_with_rules(n: usize, constrained: bool) -> Policy {
    let mut src = String::from("mode = \"enforce\"\n[defaults]\ntools = \"deny\"\n");
    for i in 0..n {
        let server = i / 4;
        let (action, tools, args) = match i % 4 {
            0 => ("deny", format!("[\"run_{i}\", \"exec_*\"]"), ""),
            1 => (
                "allow",
                format!("[\"read_{i}\", \"list_*\"]"),
                "deny_unknown_args = true\nargs.path = { path_within = [\"/srv/projects\"], path_deny = [\"**/.ssh/**\", \"**/.env\"] }\nargs.limit = { type = \"integer\", min = 1, max = 100 }\n",
            ),
            2 => (
                "allow",
                format!("[\"fetch_{i}_*\"]"),
                "args.url = { url_schemes = [\"https\"], deny_private_ips = true }\n",
            ),
            _ => (
                "allow",
                format!("[\"tool_{i}\"]"),
                "deny_unknown_args = true\nargs.path = { path_within = [\"/srv/projects\"] }\nargs.limit = { type = \"integer\", max = 100 }\nargs.cmd = { no_shell_metachars = true, max_length = 200 }\n",
            ),
        };
        let args = if constrained { args } else { "" };
        src.push_str(&format!(
            "[[rules]]\nid = \"rule-{i}\"\nserver = \"server-{server}\"\ntools = {tools}\naction = \"{action}\"\n{args}"
        ));
    }
    Policy::from_sources(&[("bench.toml".into(), src)]).expect("bench policy loads")
}

fn decisions(c: &mut Criterion) {
    let args = json!({"path": "/srv/projects/notes/today.md", "limit": 10});
    for (rules, constrained) in [(10, false), (200, false), (200, true)] {
        let policy = policy_with_rules(rules, constrained);
        let kind = if constrained { "constrained" } else { "allowlist" };
        let last_server = format!("server-{}", rules / 4 - 1);
        let allowed_tool = format!("tool_{}", rules - 1);
        c.bench_function(&format!("decide/{kind}/{rules}_rules/allowed"), |b| {
            b.iter(|| policy.decide(black_box(&CallContext::new(&last_server, &allowed_tool, Some(&args)))))
        });
        c.bench_function(&format!("decide/{kind}/{rules}_rules/unknown_tool"), |b| {
            b.iter(|| policy.decide(black_box(&CallContext::new("server-0", "nope", Some(&args)))))
        });
        if constrained {
            let traversal = json!({"path": "/srv/projects/../../etc/passwd", "limit": 10});
            c.bench_function(&format!("decide/{kind}/{rules}_rules/path_traversal_refused"), |b| {
                b.iter(|| policy.decide(black_box(&CallContext::new(&last_server, &allowed_tool, Some(&traversal)))))
            });
            // Compiled once, as the relay does per catalog entry: only the check is per call.
            let schema = InputSchema::compile(&json!({
                "type": "object",
                "properties": {"path": {"type": "string"}, "limit": {"type": "integer", "minimum": 1}},
                "required": ["path"],
            }));
            c.bench_function(&format!("decide/{kind}/{rules}_rules/allowed_with_input_schema"), |b| {
                b.iter(|| {
                    let call = CallContext::new(&last_server, &allowed_tool, Some(&args));
                    policy.decide(black_box(&call.with_input_schema(Some(&schema))))
                })
            });
            c.bench_function(&format!("explain/{kind}/{rules}_rules/allowed"), |b| {
                b.iter(|| policy.explain(black_box(&CallContext::new(&last_server, &allowed_tool, Some(&args)))))
            });
        }
    }
}

/// A `resources/read` against 200 resource rules and one deny rule for
/// every server: the allowed URI, and a percent-encoded spelling of a
/// denied one that only a later reading of the URI refuses.
fn access_decisions(c: &mut Criterion) {
    let mut src = String::from("[defaults]\ntools = \"deny\"\nresources = \"deny\"\n");
    for i in 0..200 {
        src.push_str(&format!(
            "[[rules]]\nid = \"docs-{i}\"\nserver = \"server-{i}\"\nresources = [\"docs://handbook/*\", \"file:///srv/{i}/*\"]\naction = \"allow\"\n"
        ));
    }
    src.push_str("[[rules]]\nid = \"no-secrets\"\nserver = \"*\"\nresources = [\"docs://handbook/secret*\"]\naction = \"deny\"\n");
    let policy = Policy::from_sources(&[("bench.toml".into(), src)]).expect("bench policy loads");
    // What is timed is what the names say.
    let read = |uri| policy.decide_access(&AccessContext::new("server-199", Access::Resource(uri))).verdict;
    assert_eq!(read("docs://handbook/intro.md"), Verdict::Allow);
    assert_eq!(read("docs://handbook/%73ecret.md"), Verdict::Deny);
    c.bench_function("decide_access/200_rules/allowed", |b| {
        b.iter(|| {
            policy.decide_access(black_box(&AccessContext::new(
                "server-199",
                Access::Resource("docs://handbook/intro.md"),
            )))
        })
    });
    c.bench_function("decide_access/200_rules/encoded_denied_uri_refused", |b| {
        b.iter(|| {
            policy.decide_access(black_box(&AccessContext::new(
                "server-199",
                Access::Resource("docs://handbook/%73ecret.md"),
            )))
        })
    });
}

criterion_group!(benches, decisions, access_decisions);
criterion_main!(benches);
