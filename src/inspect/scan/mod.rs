//! The tool-definition scanner: reads every string a server shows a model
//! (tool names, titles, descriptions, schema texts, annotations, server
//! instructions, prompt and resource descriptions) and reports what looks
//! like poisoning, with evidence a person can check.
//!
//! Verdicts are deliberately asymmetric: real tools say "IMPORTANT:", name
//! paths and take tokens, so one weak signal makes a definition `suspicious`
//! only. `malicious` needs strong evidence: one high-severity finding
//! (concealment from the user, an order to read or pass a secret, tag-block
//! smuggling, injection phrasing, shadowing another server's tool), or
//! medium signals from two of the three families hiding / intent / payload.

mod chars;
mod detectors;
pub mod report;
mod rules;
#[cfg(test)]
mod tests;

use std::collections::HashMap;

use regex::Regex;
use serde_json::Value;

use detectors::Subject;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Clean,
    Suspicious,
    Malicious,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Finding {
    pub detector: &'static str,
    /// A path into the definition: `description`,
    /// `inputSchema.properties.sidenote.description`, `name`.
    pub field: String,
    /// The matched excerpt, at most about 160 characters, invisible
    /// characters shown as `[U+XXXX]`.
    pub evidence: String,
    pub severity: Severity,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ToolReport {
    pub name: String,
    pub verdict: Verdict,
    pub findings: Vec<Finding>,
}

/// What the scanner knows of the rest of the gateway's namespace, for
/// shadowing: the names of tools of OTHER servers, raw (`send_email`) and
/// exposed (`mail__send_email`).
#[derive(Default)]
pub struct Namespace {
    /// Mentions of distinctive names (with `_`, `-`, `.` or camelCase): a bare
    /// `search` or `fetch` occurs in ordinary prose and proves nothing.
    matcher: Option<Regex>,
    /// Name skeletons (look-alikes folded) to the names they came from.
    skeletons: HashMap<String, String>,
}

impl Namespace {
    pub fn new(other_tools: impl IntoIterator<Item = String>) -> Namespace {
        let mut names: Vec<String> = Vec::new();
        let mut skeletons = HashMap::new();
        for name in other_tools {
            skeletons.entry(chars::skeleton(&name)).or_insert_with(|| name.clone());
            if is_distinctive(&name) {
                names.push(name.to_ascii_lowercase());
            }
        }
        names.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        names.dedup();
        let matcher = (!names.is_empty()).then(|| {
            let alternatives: Vec<String> = names.iter().map(|n| regex::escape(n)).collect();
            Regex::new(&format!(r"(?-u:\b)(?:{})(?-u:\b)", alternatives.join("|"))).expect("escaped names compile")
        });
        Namespace { matcher, skeletons }
    }
}

fn is_distinctive(name: &str) -> bool {
    let camel = name.as_bytes().windows(2).any(|w| w[0].is_ascii_lowercase() && w[1].is_ascii_uppercase());
    name.len() >= 5 && (name.contains(['_', '-', '.']) || camel)
}

/// Scans one `tools/list` entry as the server sent it.
pub fn scan_tool(tool: &Value, namespace: &Namespace) -> ToolReport {
    let name = tool.get("name").and_then(Value::as_str).unwrap_or_default();
    let subject = Subject {
        namespace,
        own_name: Some(name),
        own_schema: tool.get("inputSchema"),
        own_params: Default::default(),
    };
    let mut findings = Vec::new();
    scan_name("name", name, namespace, &mut findings);
    detectors::scan_name_words("name", name, &mut findings);
    for key in ["title", "description"] {
        if let Some(text) = tool.get(key).and_then(Value::as_str) {
            detectors::scan_field(key, text, &subject, &mut findings);
        }
    }
    if let Some(annotations) = tool.get("annotations") {
        walk_strings("annotations", annotations, &subject, &mut findings);
    }
    for key in ["inputSchema", "outputSchema"] {
        if let Some(schema) = tool.get(key) {
            walk_schema(key, schema, &subject, &mut findings);
        }
    }
    let verdict = verdict_of(&findings);
    ToolReport { name: name.to_string(), verdict, findings }
}

/// Scans a server text that is not a tool: `instructions`, a prompt's or a
/// resource's description.
pub fn scan_text(field: &str, text: &str, namespace: &Namespace) -> Vec<Finding> {
    let mut findings = Vec::new();
    detectors::scan_field(
        field,
        text,
        &Subject { namespace, own_name: None, own_schema: None, own_params: Default::default() },
        &mut findings,
    );
    findings
}

/// Signals that hide text from the person reading the definition.
const HIDING: [&str; 4] = ["hidden_markup", "invisible_chars", "hidden_text", "terminal_escape"];
/// Signals that the text steers the model.
const INTENT: [&str; 3] = ["instruction", "shadowing", "concealment"];
/// Signals that the text goes after data.
const PAYLOAD: [&str; 2] = ["sensitive_path", "exfiltration"];

pub fn verdict_of(findings: &[Finding]) -> Verdict {
    if findings.iter().any(|f| f.severity == Severity::High) {
        return Verdict::Malicious;
    }
    let medium: Vec<&str> = findings.iter().filter(|f| f.severity == Severity::Medium).map(|f| f.detector).collect();
    if medium.is_empty() {
        return Verdict::Clean;
    }
    let families = [&HIDING[..], &INTENT[..], &PAYLOAD[..]]
        .iter()
        .filter(|family| medium.iter().any(|d| family.contains(d)))
        .count();
    if families >= 2 {
        Verdict::Malicious
    } else {
        Verdict::Suspicious
    }
}

fn scan_name(field: &str, name: &str, namespace: &Namespace, out: &mut Vec<Finding>) {
    use unicode_normalization::UnicodeNormalization;
    if name.is_ascii() {
        if name.bytes().any(|b| b.is_ascii_control()) {
            let shown = chars::escape_invisible(name);
            out.push(Finding {
                detector: "terminal_escape",
                field: field.into(),
                evidence: shown,
                severity: Severity::High,
            });
        }
    } else {
        let shown = chars::escape_invisible(name);
        let invisible = name.chars().any(|c| chars::hidden_kind(c).is_some() || chars::is_control(c));
        let folded_differs = name.nfkc().collect::<String>() != name;
        let lookalikes = name.chars().any(|c| chars::confusable_to_ascii(c).is_some());
        let latin = name.chars().any(|c| c.is_ascii_alphabetic());
        if invisible {
            out.push(Finding {
                detector: "invisible_chars",
                field: field.into(),
                evidence: shown.clone(),
                severity: Severity::High,
            });
        }
        let (severity, why) = if folded_differs || (lookalikes && latin) {
            (Severity::High, "letters that look like other letters")
        } else {
            (Severity::Medium, "non-ASCII characters")
        };
        if !invisible || severity == Severity::High {
            let evidence = format!("{shown} ({why}; reads as `{}`)", chars::skeleton(name));
            out.push(Finding { detector: "confusable_name", field: field.into(), evidence, severity });
        }
    }
    if namespace.skeletons.is_empty() {
        return;
    }
    if let Some(other) = namespace.skeletons.get(&chars::skeleton(name)) {
        let disguised = !name.is_ascii() || name.bytes().zip(other.bytes()).any(|(a, b)| a != b && a.is_ascii_digit());
        if !other.eq_ignore_ascii_case(name) && disguised {
            let evidence = format!("`{}` looks like `{}` of another server", chars::escape_invisible(name), other);
            out.push(Finding { detector: "confusable_name", field: field.into(), evidence, severity: Severity::High });
        }
    }
}

/// Every property name anywhere in a schema, lower-cased: a description
/// that names one of its own parameters is documenting, not shadowing.
pub(super) fn parameter_names(schema: &Value) -> Vec<String> {
    fn walk(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::Object(properties)) = map.get("properties") {
                    out.extend(properties.keys().map(|k| k.to_ascii_lowercase()));
                }
                map.values().for_each(|v| walk(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(schema, &mut out);
    out
}

/// Schema keys whose strings are structure, not text a model reads as prose.
const STRUCTURAL: [&str; 9] =
    ["type", "$schema", "$id", "$ref", "format", "pattern", "contentEncoding", "contentMediaType", "required"];

fn walk_schema(path: &str, value: &Value, subject: &Subject<'_>, out: &mut Vec<Finding>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                if STRUCTURAL.contains(&key.as_str()) {
                    continue;
                }
                let child_path = format!("{path}.{key}");
                if key == "properties" {
                    if let Value::Object(properties) = child {
                        for (name, property) in properties {
                            let property_path = format!("{child_path}.{name}");
                            scan_name(&property_path, name, &Namespace::default(), out);
                            let description = property.get("description").and_then(Value::as_str).unwrap_or_default();
                            detectors::scan_parameter(&property_path, name, description, out);
                            walk_schema(&property_path, property, subject, out);
                        }
                        continue;
                    }
                }
                walk_schema(&child_path, child, subject, out);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk_schema(&format!("{path}[{i}]"), item, subject, out);
            }
        }
        _ => walk_strings(path, value, subject, out),
    }
}

fn walk_strings(path: &str, value: &Value, subject: &Subject<'_>, out: &mut Vec<Finding>) {
    match value {
        Value::String(text) => detectors::scan_field(path, text, subject, out),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk_strings(&format!("{path}[{i}]"), item, subject, out);
            }
        }
        Value::Object(map) => {
            for (key, child) in map {
                walk_strings(&format!("{path}.{key}"), child, subject, out);
            }
        }
        _ => {}
    }
}
