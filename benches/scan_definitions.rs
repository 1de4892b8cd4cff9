//! The tool-definition scanner on a 500-tool list (the goal: under 5 ms) and
//! on one clean, typical tool. The list mixes the shared corpora (benign,
//! malicious, DVMCP) with the real `tools/list` captures, whose schemas are
//! larger, so both short and long definitions are in it.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion};
use mcp_warden::inspect::scan::{scan_tool, Namespace};
use serde_json::{json, Value};

fn load(path: PathBuf) -> Value {
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).expect("corpus parses")
}

fn as_definition(item: &Value) -> Value {
    let properties: serde_json::Map<String, Value> = item["params"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|p| (p.to_string(), json!({"type": "string"})))
        .collect();
    json!({"name": item["name"], "description": item["description"], "inputSchema": {"type": "object", "properties": properties}})
}

fn five_hundred_tools() -> Vec<Value> {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut real = Vec::new();
    let dir = repo.join("tests/data/scanner/real_tools");
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(&dir).expect("real tools").filter_map(|e| e.ok().map(|e| e.path())).collect();
    files.sort();
    for file in files {
        real.extend(load(file)["tools"].as_array().cloned().unwrap_or_default());
    }
    let mut corpora = Vec::new();
    for file in ["cisco_benign_tools.json", "cisco_malicious_tools.json", "dvmcp_tools.json"] {
        let corpus = load(repo.join("../shared/corpora").join(file));
        corpora.extend(corpus["items"].as_array().expect("items").iter().map(as_definition));
    }
    // Real definitions are the heavy ones: the first 500 of them in file-name
    // order (725 are captured), corpora filling in if there were fewer.
    real.into_iter().chain(corpora.into_iter().cycle()).take(500).collect()
}

fn scanner(c: &mut Criterion) {
    let tools = five_hundred_tools();
    let namespace = Namespace::new(tools.iter().filter_map(|t| t["name"].as_str().map(str::to_string)));
    c.bench_function("scan 500 tool definitions", |b| {
        b.iter(|| {
            for tool in &tools {
                black_box(scan_tool(black_box(tool), &namespace));
            }
        })
    });
    let typical = json!({
        "name": "read_text_file",
        "description": "Read the complete contents of a file from the file system as text. Use the 'head' parameter to read only the first N lines of a file, or the 'tail' parameter to read only the last N lines. Only works within allowed directories.",
        "inputSchema": {"type": "object", "properties": {
            "path": {"type": "string"},
            "tail": {"type": "number", "description": "If provided, returns only the last N lines of the file"},
            "head": {"type": "number", "description": "If provided, returns only the first N lines of the file"}},
            "required": ["path"]},
        "annotations": {"readOnlyHint": true}
    });
    let empty = Namespace::default();
    c.bench_function("scan one clean typical tool", |b| b.iter(|| black_box(scan_tool(black_box(&typical), &empty))));
}

criterion_group!(benches, scanner);
criterion_main!(benches);
