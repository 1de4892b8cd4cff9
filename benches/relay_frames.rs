//! The relay's per-message work, without I/O: filtering a large
//! `tools/list`, and handling one `tools/call` frame (parse, classify, rename,
//! serialize).

use criterion::{criterion_group, criterion_main, Criterion};
use mcp_warden::naming::Naming;
use mcp_warden::policy::Policy;
use mcp_warden::relay::listing::visible_tools;
use serde_json::{json, Value};
use std::hint::black_box;

fn tools(n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| {
            json!({
                "name": if i % 2 == 0 { format!("read_{i}") } else { format!("write_{i}") },
                "description": "Reads a file from the workspace and returns its text content. ".repeat(3),
                "inputSchema": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
                "annotations": {"readOnlyHint": i % 2 == 0},
            })
        })
        .collect()
}

fn listing(c: &mut Criterion) {
    let policy = Policy::from_sources(&[(
        "p.toml".into(),
        "[[rules]]\nid = \"read\"\nserver = \"files\"\ntools = [\"read_*\"]\naction = \"allow\"\n".into(),
    )])
    .unwrap();
    let naming = Naming::new("__", vec!["files".into()]);
    let listing = tools(500);
    c.bench_function("tools_list/filter_and_rename/500_tools", |b| {
        b.iter_batched(
            || listing.clone(),
            |listing| visible_tools(&policy, "files", listing, |n| naming.expose(0, n)),
            criterion::BatchSize::SmallInput,
        )
    });
}

fn one_frame(c: &mut Criterion) {
    let naming = Naming::new("__", vec!["files".into(), "mail".into()]);
    let frame = json!({"jsonrpc":"2.0","id":42,"method":"tools/call","params":{
        "name":"files__read_file","arguments":{"path":"/srv/projects/notes.txt"},"_meta":{"progressToken":"t1"}}})
    .to_string();
    c.bench_function("frame/tools_call/parse_classify_rename_serialize", |b| {
        b.iter(|| {
            let mut msg: Value = serde_json::from_slice(black_box(frame.as_bytes())).unwrap();
            let kind = mcp_warden::jsonrpc::classify(&msg).is_ok();
            let name = msg.pointer("/params/name").and_then(Value::as_str).unwrap().to_string();
            let (_, original) = naming.resolve(&name).unwrap();
            let original = original.to_string();
            msg["params"]["name"] = Value::String(original);
            msg["id"] = json!(7);
            (kind, serde_json::to_vec(&msg).unwrap())
        })
    });
}

criterion_group!(benches, listing, one_frame);
criterion_main!(benches);
