//! Reports for people and programs: the JSON shape the CLI and the admin API
//! print, and a text form with the evidence set off.

use serde_json::{json, Value};

use super::{Severity, ToolReport, Verdict};

/// `{"tools":[{"name","verdict","findings":[{"detector","field","evidence","severity"}]}]}`
pub fn json_report(reports: &[ToolReport]) -> Value {
    let tools: Vec<Value> = reports
        .iter()
        .map(|report| {
            json!({
                "name": report.name,
                "verdict": report.verdict,
                "findings": report.findings.iter().map(|f| json!({
                    "detector": f.detector,
                    "field": f.field,
                    "evidence": f.evidence,
                    "severity": f.severity,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({ "tools": tools })
}

const BOLD_RED: &str = "\x1b[1;31m";
const BOLD: &str = "\x1b[1m";
const YELLOW: &str = "\x1b[33m";
const RESET: &str = "\x1b[0m";

/// One block per tool, worst first within the order given; evidence between
/// «» (or bold red when `color`). Evidence is already escaped, so a hostile
/// description cannot drive the reader's terminal.
pub fn text_report(reports: &[ToolReport], color: bool) -> String {
    let mut out = String::new();
    let paint = |code: &str, text: &str| if color { format!("{code}{text}{RESET}") } else { text.to_string() };
    for report in reports {
        let verdict = match report.verdict {
            Verdict::Clean => "clean".to_string(),
            Verdict::Suspicious => paint(YELLOW, "suspicious"),
            Verdict::Malicious => paint(BOLD_RED, "MALICIOUS"),
        };
        out.push_str(&format!("{}  {}\n", paint(BOLD, &sanitize(&report.name)), verdict));
        for f in &report.findings {
            let severity = match f.severity {
                Severity::Low => "low",
                Severity::Medium => "medium",
                Severity::High => "high",
            };
            let evidence =
                if color { paint(BOLD_RED, &sanitize(&f.evidence)) } else { format!("«{}»", sanitize(&f.evidence)) };
            out.push_str(&format!("  [{severity}] {} in {}: {evidence}\n", f.detector, sanitize(&f.field)));
        }
    }
    let count = |v: Verdict| reports.iter().filter(|r| r.verdict == v).count();
    out.push_str(&format!(
        "{} tool(s): {} clean, {} suspicious, {} malicious\n",
        reports.len(),
        count(Verdict::Clean),
        count(Verdict::Suspicious),
        count(Verdict::Malicious)
    ));
    out
}

/// Names and fields come from the server unescaped; controls must not reach a terminal.
fn sanitize(text: &str) -> String {
    super::chars::escape_invisible(text)
}
