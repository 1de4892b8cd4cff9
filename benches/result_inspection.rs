//! Sanitizing and inspecting a `tools/call` result before the client sees
//! it, as the call pipeline does for every answer: text content plus structured content, at
//! 4 KiB, 64 KiB and 1 MiB of mixed prose, code and non-Latin text. Most
//! results hold nothing to remove, so that is the case the budget is for
//! (≤ 5 µs at 4 KiB, ≤ 200 µs at 64 KiB, ≤ 3 ms at 1 MiB); one 64 KiB
//! result full of escapes and hidden characters shows the cost of finding.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use mcp_warden::inspect::sanitize::sanitize_value;
use serde_json::{json, Value};
use std::hint::black_box;

/// Paragraphs a tool might return: English prose with typographic
/// punctuation, source code, German, Russian, Chinese, Arabic and Persian
/// (with its ZWNJ), Hindi, emoji with joiners and a subdivision flag. Every
/// one passes the sanitizer untouched.
const PARAGRAPHS: [&str; 8] = [
    "The build finished in 42.7 s — 3 warnings, 0 errors. “cargo test” ran 1,284 tests; \
     see the report at https://ci.example.com/runs/98123 for details… Coverage is 87 %.\n",
    "fn parse(input: &str) -> Result<Config, Error> {\n    let value: toml::Value = input.parse()?;\n    \
     Ok(Config { name: value[\"name\"].as_str().unwrap_or(\"default\").to_owned(), retries: 3 })\n}\n",
    "Die Größe der Datei überschreitet das Limit; bitte prüfen Sie die Einstellungen.\n",
    "Файл успешно загружен. Размер: 2,4 МБ. Проверьте журнал для подробностей.\n",
    "构建成功完成。共有三个警告，没有错误。请查看日志以获取详细信息。\n",
    "تم تحميل الملف بنجاح. می‌خواهم این کتاب‌ها را بخوانم.\n",
    "फ़ाइल सफलतापूर्वक अपलोड हो गई। कृपया लॉग देखें।\n",
    "Status: ✅ done 👩🏽‍💻 👨‍👩‍👧 ❤️ 🏴󠁧󠁢󠁳󠁣󠁴󠁿 — next run at 14:00 UTC.\n",
];

/// Text of about `bytes` bytes built from the paragraphs, weighted towards
/// prose and code as tool output is.
fn mixed_text(bytes: usize, hostile: bool) -> String {
    let order = [0, 1, 0, 2, 1, 3, 0, 4, 1, 5, 0, 6, 1, 7];
    let mut text = String::with_capacity(bytes + 512);
    let mut i = 0;
    while text.len() < bytes {
        if hostile {
            // What a hostile server hides: colour codes, a hyperlink, a
            // split keyword, bidi overrides, tag-character ASCII.
            text.push_str(match i % 5 {
                0 => "\x1b[31mERROR\x1b[0m ",
                1 => "\x1b]8;;https://evil.example/\x1b\\link\x1b]8;;\x1b\\ ",
                2 => "ign\u{200B}ore prev\u{200D}ious ",
                3 => "\u{202E}gnp.exe\u{202C} ",
                _ => "\u{E0053}\u{E0045}\u{E004E}\u{E0044} ",
            });
        }
        text.push_str(PARAGRAPHS[order[i % order.len()]]);
        i += 1;
    }
    text
}

/// A `tools/call` result of about `bytes` bytes: three quarters text
/// content, the rest structured content in rows.
fn tool_result(bytes: usize, hostile: bool) -> Value {
    let rows: Vec<Value> = (0..(bytes / 4 / 160).max(1))
        .map(|i| {
            json!({
                "path": format!("src/module_{i}/file_{i}.rs"),
                "summary": mixed_text(90, hostile && i % 4 == 0).chars().take(90).collect::<String>(),
                "lines": 120 + i,
                "ok": i % 7 != 0,
            })
        })
        .collect();
    json!({
        "content": [{"type": "text", "text": mixed_text(bytes * 3 / 4, hostile)}],
        "structuredContent": {"files": rows, "total": rows.len(), "truncated": false},
        "isError": false,
    })
}

fn clean_results(c: &mut Criterion) {
    for (label, bytes) in [("4KiB", 4 << 10), ("64KiB", 64 << 10), ("1MiB", 1 << 20)] {
        let mut result = tool_result(bytes, false);
        assert!(sanitize_value(&mut result).is_empty(), "the clean fixture has something to remove");
        c.bench_function(&format!("sanitize_value/tools_call_result/nothing_to_find/{label}"), |b| {
            b.iter(|| sanitize_value(black_box(&mut result)))
        });
    }
}

/// Most tool output is ASCII (code, JSON, English): whole blocks are skipped.
fn ascii_text(c: &mut Criterion) {
    let mut text = String::new();
    while text.len() < 64 << 10 {
        text.push_str(PARAGRAPHS[1]);
        text.push_str("The build finished in 42.7 s, 3 warnings, 0 errors; see https://ci.example.com/runs/98123.\n");
    }
    assert!(mcp_warden::inspect::sanitize::sanitize_str(&text).is_none());
    c.bench_function("sanitize_str/ascii_code_and_prose/64KiB", |b| {
        b.iter(|| mcp_warden::inspect::sanitize::sanitize_str(black_box(&text)))
    });
}

fn hostile_result(c: &mut Criterion) {
    let result = tool_result(64 << 10, true);
    assert!(!sanitize_value(&mut result.clone()).is_empty());
    // The clone a rewrite needs is made outside the timing.
    c.bench_function("sanitize_value/tools_call_result/findings/64KiB", |b| {
        b.iter_batched_ref(|| result.clone(), |result| sanitize_value(black_box(result)), BatchSize::LargeInput)
    });
}

/// The whole inspection stage as the pipeline runs it on an answer with
/// the default `[inspect]` (secrets redacted, injection flagged, personal
/// data off) and sanitizing on; and with personal data on as well.
fn inspection_stage(c: &mut Criterion) {
    use mcp_warden::call::inspect::inspect_result;
    use mcp_warden::policy::{InspectAction, InspectSettings};
    let with_pii = InspectSettings { pii: InspectAction::Redact, ..InspectSettings::default() };
    // What most calls return: a line or two of text.
    let mut echo = json!({"content": [{"type": "text", "text": "Wrote 1,284 bytes to src/lib.rs (3 lines changed)."}]});
    c.bench_function("inspect_result/default/nothing_to_find/one_line", |b| {
        b.iter(|| inspect_result(black_box(&mut echo), InspectSettings::default(), true))
    });
    for (label, bytes) in [("4KiB", 4 << 10), ("64KiB", 64 << 10), ("1MiB", 1 << 20)] {
        let mut result = tool_result(bytes, false);
        assert!(inspect_result(&mut result, InspectSettings::default(), true).audit.is_none());
        c.bench_function(&format!("inspect_result/default/nothing_to_find/{label}"), |b| {
            b.iter(|| inspect_result(black_box(&mut result), InspectSettings::default(), true))
        });
        c.bench_function(&format!("inspect_result/with_pii/nothing_to_find/{label}"), |b| {
            b.iter(|| inspect_result(black_box(&mut result), with_pii, true))
        });
    }
}

criterion_group!(benches, clean_results, ascii_text, hostile_result, inspection_stage);
criterion_main!(benches);
