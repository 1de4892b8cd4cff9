//! The layering ARCHITECTURE.md promises, checked against the code: which
//! top-level module of `src/` may name which, and which module alone may
//! decide, record and forward a call. Reads every `crate::` path in `src/`
//! (comments and strings aside), grouped imports included.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// module -> the modules it must never name.
const FORBIDDEN: &[(&str, &[&str])] = &[
    // Pure: reach nothing above them (policy may read its source files' positions through `source`).
    ("policy", &["*", "!source"]),
    ("protocol", &["*"]),
    ("inspect", &["*"]),
    // Pins and the scanner's verdicts: below the relay and the pipeline that ask it.
    ("integrity", &["relay", "front", "call", "admin", "approval", "gateway", "policy"]),
    ("relay", &["front", "admin"]),
    ("upstream", &["relay", "front", "policy", "call", "approval", "admin", "gateway"]),
    ("approval", &["relay", "front", "admin", "call"]),
    ("call", &["front", "admin"]),
    ("audit", &["relay", "front", "call", "approval", "admin", "upstream", "gateway"]),
];

/// Calls that only the call pipeline (`src/call/`) may make, as they read
/// in code (any of the spellings), and what making them means.
const PIPELINE_ONLY: &[(&[&str], &str)] = &[
    (&["policy.decide(", "policy().decide("], "decides a call (Policy::decide)"),
    (
        &["policy.decide_access(", "policy().decide_access("],
        "decides an access to a resource or prompt (Policy::decide_access)",
    ),
    (&["Cleared("], "clears a call for forwarding"),
    (&["CallRecord::begin("], "starts a call's audit record"),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a file without comments and string literals, so that a
/// module named in prose or in a message does not count.
fn code_of(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                let mut last = ' ';
                for c in chars.by_ref() {
                    if last == '*' && c == '/' {
                        break;
                    }
                    last = c;
                }
            }
            '"' => {
                let mut escaped = false;
                for c in chars.by_ref() {
                    if !escaped && c == '"' {
                        break;
                    }
                    escaped = !escaped && c == '\\';
                }
                out.push_str("\"\"");
            }
            // A char literal such as '"' must not open a string.
            '\'' if chars.clone().nth(1) == Some('\'') => {
                chars.next();
                chars.next();
                out.push_str("' '");
            }
            c => out.push(c),
        }
    }
    out
}

/// The top-level modules a file names through `crate::`.
fn named_modules(code: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // `crate::{a::b, c}`: every top-level item of the group.
            let (mut depth, mut item_start, mut end) = (0usize, 0usize, group.len());
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        end = i;
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        names.insert(first_segment(&group[item_start..i]));
                        item_start = i + 1;
                    }
                    _ => {}
                }
            }
            names.insert(first_segment(&group[item_start..end]));
        } else {
            names.insert(first_segment(rest));
        }
    }
    names.remove("");
    names
}

fn first_segment(path: &str) -> String {
    path.trim().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect()
}

/// `src/policy/engine.rs` -> "policy"; `src/gateway.rs` -> "gateway".
fn module_of(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).unwrap();
    let first = relative.components().next().unwrap().as_os_str().to_string_lossy().to_string();
    first.trim_end_matches(".rs").to_string()
}

fn sources() -> (PathBuf, Vec<(String, PathBuf, String)>) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let sources = files
        .into_iter()
        .filter(|f| !f.ends_with("main.rs") && !f.ends_with("lib.rs"))
        .map(|f| {
            let code = code_of(&std::fs::read_to_string(&f).unwrap());
            (module_of(&src, &f), f, code)
        })
        .collect();
    (src, sources)
}

#[test]
fn no_module_names_a_module_its_layer_must_not_reach() {
    let (src, sources) = sources();
    let mut violations = Vec::new();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, file, code) in &sources {
        let named = named_modules(code);
        graph.entry(module.clone()).or_default().extend(named.iter().filter(|n| *n != module).cloned());
        let Some((_, forbidden)) = FORBIDDEN.iter().find(|(m, _)| m == module) else { continue };
        let everything = forbidden.contains(&"*");
        for name in named.iter().filter(|n| *n != module) {
            let allowed = forbidden.contains(&format!("!{name}").as_str());
            if (everything && !allowed) || forbidden.contains(&name.as_str()) {
                violations
                    .push(format!("{}: `{module}` names `crate::{name}`", file.strip_prefix(&src).unwrap().display()));
            }
        }
    }
    assert!(violations.is_empty(), "layering broken (see ARCHITECTURE.md):\n{}", violations.join("\n"));
    // The checker itself must see imports, or it proves nothing.
    assert!(graph["relay"].contains("call") && graph["call"].contains("policy"), "{graph:#?}");
}

#[test]
fn only_the_call_pipeline_decides_records_and_forwards_a_call() {
    let (src, sources) = sources();
    let mut violations = Vec::new();
    let mut seen_in_pipeline = BTreeSet::new();
    for (module, file, code) in &sources {
        for (needles, what) in PIPELINE_ONLY {
            let Some(needle) = needles.iter().find(|n| code.contains(*n)) else { continue };
            if module == "call" {
                seen_in_pipeline.insert(*what);
            } else if module != "policy" {
                violations.push(format!("{} {what} (`{needle}`)", file.strip_prefix(&src).unwrap().display()));
            }
        }
    }
    assert!(violations.is_empty(), "only src/call/ may do this:\n{}", violations.join("\n"));
    assert_eq!(seen_in_pipeline.len(), PIPELINE_ONLY.len(), "the pipeline itself must do each: {seen_in_pipeline:?}");
}

#[test]
fn the_checker_reads_grouped_imports_and_ignores_prose() {
    let code = code_of(
        "use crate::{policy::{A, B}, audit::X};\n// crate::front in a comment\nlet s = \"crate::admin\";\nuse crate::errors::E;\n",
    );
    let named = named_modules(&code);
    assert_eq!(named, ["audit", "errors", "policy"].into_iter().map(String::from).collect());
}
