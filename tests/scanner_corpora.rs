//! The tool-definition scanner against data nobody on this project wrote
//! (shared corpora), real `tools/list` captures of popular servers, and the
//! poisoned definitions in tests/data/scanner/poisoned.json. Prints a table
//! (run with `--nocapture` to see it) and holds the scanner to the figures in
//! BENCHMARKS.md.

use std::path::PathBuf;

use mcp_warden::inspect::scan::{scan_text, scan_tool, Namespace, ToolReport, Verdict};
use serde_json::{json, Value};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn load(path: PathBuf) -> Value {
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

fn corpus(file: &str) -> Value {
    load(repo().join("../shared/corpora").join(file))
}

/// The shared corpora list parameters by name only; a definition as a server
/// would send it has them in an input schema.
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

struct Tally {
    label: String,
    total: usize,
    flagged: usize,
    malicious: usize,
}

impl Tally {
    fn of(label: &str, reports: &[ToolReport]) -> Tally {
        Tally {
            label: label.to_string(),
            total: reports.len(),
            flagged: reports.iter().filter(|r| r.verdict != Verdict::Clean).count(),
            malicious: reports.iter().filter(|r| r.verdict == Verdict::Malicious).count(),
        }
    }
    fn flagged_share(&self) -> f64 {
        self.flagged as f64 / self.total.max(1) as f64
    }
    fn malicious_share(&self) -> f64 {
        self.malicious as f64 / self.total.max(1) as f64
    }
}

fn print_table(rows: &[Tally]) {
    println!("\n{:<44} {:>6} {:>9} {:>10} {:>10}", "set", "tools", "not clean", "malicious", "share");
    for row in rows {
        println!(
            "{:<44} {:>6} {:>9} {:>10} {:>5.1}% / {:.1}%",
            row.label,
            row.total,
            row.flagged,
            row.malicious,
            100.0 * row.flagged_share(),
            100.0 * row.malicious_share()
        );
    }
}

fn scan_all(tools: impl IntoIterator<Item = Value>) -> Vec<ToolReport> {
    let namespace = Namespace::default();
    tools.into_iter().map(|t| scan_tool(&t, &namespace)).collect()
}

fn show(reports: &[ToolReport], verdicts: &[Verdict]) {
    for r in reports.iter().filter(|r| verdicts.contains(&r.verdict)) {
        println!("  {:?} {}", r.verdict, r.name);
        for f in &r.findings {
            println!("      {:?} {} {}: {}", f.severity, f.detector, f.field, f.evidence);
        }
    }
}

/// DVMCP's six hidden-instruction tools, judged by reading them: (name, line).
const DVMCP_POISONED: [(&str, u64); 6] = [
    ("get_company_data", 32),
    ("search_company_database", 58),
    ("get_user_profile", 195),
    ("malicious_check_system_status", 298),
    ("calculate", 67),
    ("enhanced_calculate", 159),
];

fn real_tool_files() -> Vec<(String, Value)> {
    let dir = repo().join("tests/data/scanner/real_tools");
    let mut files: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| (p.file_stem().unwrap().to_string_lossy().into_owned(), load(p)))
        .collect();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    files
}

#[test]
fn scanner_meets_its_figures_on_the_corpora() {
    let mut rows = Vec::new();

    let dvmcp = corpus("dvmcp_tools.json");
    let (mut hidden, mut plain) = (Vec::new(), Vec::new());
    for item in dvmcp["items"].as_array().unwrap() {
        let key = (item["name"].as_str().unwrap(), item["lineno"].as_u64().unwrap());
        if DVMCP_POISONED.contains(&key) {
            hidden.push(as_definition(item));
        } else {
            plain.push(as_definition(item));
        }
    }
    let dvmcp_hidden = scan_all(hidden);
    let dvmcp_plain = scan_all(plain);
    rows.push(Tally::of("dvmcp: hidden-instruction tools (6)", &dvmcp_hidden));
    rows.push(Tally::of("dvmcp: other tools (benign or vulnerable code)", &dvmcp_plain));

    let poisoned_file = load(repo().join("tests/data/scanner/poisoned.json"));
    let poisoned = scan_all(poisoned_file["items"].as_array().unwrap().iter().map(|i| i["tool"].clone()));
    rows.push(Tally::of("poisoned.json (published attack styles)", &poisoned));

    // MIT-licensed attack labs (MSB, mcp-attack-labs, CISECSL): their poisoned tools and their benign ones.
    let labs = load(repo().join("tests/data/scanner/public_poisoned.json"));
    let labs_poisoned = scan_all(labs["poisoned"].as_array().unwrap().iter().map(|i| i["tool"].clone()));
    rows.push(Tally::of("attack labs: poisoned", &labs_poisoned));
    let labs_benign = scan_all(labs["benign"].as_array().unwrap().iter().map(|i| i["tool"].clone()));
    rows.push(Tally::of("attack labs: benign", &labs_benign));

    let cisco_bad =
        scan_all(corpus("cisco_malicious_tools.json")["items"].as_array().unwrap().iter().map(as_definition));
    rows.push(Tally::of("cisco malicious (openly harmful capability)", &cisco_bad));
    let cisco_good = scan_all(corpus("cisco_benign_tools.json")["items"].as_array().unwrap().iter().map(as_definition));
    rows.push(Tally::of("cisco benign", &cisco_good));

    let mut real_all = Vec::new();
    for (server, file) in real_tool_files() {
        let reports = scan_all(file["tools"].as_array().unwrap().iter().cloned());
        if let Some(instructions) = file.get("instructions").and_then(Value::as_str) {
            let findings = scan_text("instructions", instructions, &Namespace::default());
            println!("{server} instructions: {} finding(s)", findings.len());
        }
        rows.push(Tally::of(&format!("real: {server}"), &reports));
        real_all.extend(reports);
    }
    rows.push(Tally::of("real: all servers", &real_all));

    // User-side prompts, read as free text: only the injection group is hostile.
    let bench = corpus("mcpsecbench_attacks.json");
    for group in bench.as_array().unwrap() {
        let name = group["name"].as_str().unwrap();
        let reports: Vec<ToolReport> = group["prompts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                let findings = scan_text("prompt", p.as_str().unwrap_or_default(), &Namespace::default());
                let verdict = mcp_warden::inspect::scan::verdict_of(&findings);
                ToolReport { name: name.to_string(), verdict, findings }
            })
            .collect();
        rows.push(Tally::of(&format!("mcpsecbench prompts: {name}"), &reports));
    }

    print_table(&rows);
    println!("\nmisses in poisoned.json and dvmcp:");
    show(&poisoned, &[Verdict::Clean, Verdict::Suspicious]);
    show(&dvmcp_hidden, &[Verdict::Clean]);
    println!("\nreal tools not clean:");
    show(&real_all, &[Verdict::Suspicious, Verdict::Malicious]);
    let missed: Vec<&str> = cisco_bad.iter().filter(|r| r.verdict == Verdict::Clean).map(|r| r.name.as_str()).collect();
    println!("\ncisco malicious judged clean: {}", missed.join(" "));
    println!("\ncisco benign not clean:");
    show(&cisco_good, &[Verdict::Suspicious, Verdict::Malicious]);

    let find = |label: &str| rows.iter().find(|r| r.label.starts_with(label)).unwrap();
    assert_eq!(find("dvmcp: hidden").flagged, 6, "every DVMCP hidden instruction is found");
    assert_eq!(find("dvmcp: hidden").malicious, 6, "and judged malicious");
    assert!(find("poisoned.json").flagged_share() >= 0.9, "recall on poisoned.json");
    // Preference manipulation, dependency injection and function overlapping alone are `suspicious` by design.
    assert!(find("poisoned.json").malicious_share() >= 0.75, "most published-style poisonings are malicious");
    assert!(find("cisco malicious").flagged_share() >= 0.5, "openly harmful capabilities are mostly flagged");
    assert!(find("attack labs: poisoned").flagged_share() >= 0.9, "recall on the attack labs' poisoned tools");
    assert_eq!(find("attack labs: benign").flagged, 0, "the attack labs' benign tools are clean");
    assert!(find("cisco benign").malicious_share() <= 0.02, "benign cisco tools are not malicious");
    assert!(find("dvmcp: other").malicious_share() <= 0.05, "plain DVMCP tools are not malicious");
    // Real servers' own wording (orders about formats and tool order, vendors praising their tool)
    // may be flagged for review; none may be quarantined.
    assert!(find("real: all").flagged_share() <= 0.03, "real tools are rarely flagged");
    for report in &real_all {
        assert_ne!(
            report.verdict,
            Verdict::Malicious,
            "real tool {} judged malicious: {:?}",
            report.name,
            report.findings
        );
    }
}

#[test]
fn five_hundred_tools_scan_quickly() {
    let mut tools: Vec<Value> = Vec::new();
    for file in ["cisco_benign_tools.json", "cisco_malicious_tools.json", "dvmcp_tools.json"] {
        tools.extend(corpus(file)["items"].as_array().unwrap().iter().map(as_definition));
    }
    for (_, file) in real_tool_files() {
        tools.extend(file["tools"].as_array().unwrap().iter().cloned());
    }
    let tools: Vec<Value> = tools.into_iter().cycle().take(500).collect();
    let namespace = Namespace::default();
    // The rules' lazy DFA builds its states on first use and keeps them for the
    // life of the process (the scanner is a static): the first list pays that.
    let cold = std::time::Instant::now();
    for tool in &tools {
        std::hint::black_box(scan_tool(tool, &namespace));
    }
    println!("500 tools, first list in the process: {:?}", cold.elapsed());
    for tool in &tools {
        std::hint::black_box(scan_tool(tool, &namespace));
    }
    let start = std::time::Instant::now();
    let rounds: u32 = std::env::var("SCAN_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(10);
    for _ in 0..rounds {
        for tool in &tools {
            std::hint::black_box(scan_tool(tool, &namespace));
        }
    }
    let per_list = start.elapsed() / rounds;
    println!("500 tools: {per_list:?} per list");
    // A guard against regressions, with room for a loaded CI machine: the
    // 5 ms goal is measured by `cargo bench --bench scan_definitions`.
    let budget = std::time::Duration::from_millis(if cfg!(debug_assertions) { 1000 } else { 25 });
    assert!(per_list < budget, "500 tools took {per_list:?}");
}
