//! The official MCP conformance suite (`@modelcontextprotocol/conformance`,
//! installed by `scripts/install-test-peers.sh`) run against the reference
//! server-everything over Streamable HTTP, once directly and once through
//! the gateway's `/mcp/<server>`: every check of every scenario must pass or
//! fail the same way, so the gateway neither breaks what the server does
//! right nor hides what it does wrong. The suite's own everything-server is
//! not in its npm package, so server-everything stands in. It lacks most of
//! the suite's fixture tools and answers a call to one with an `isError`
//! result, which some checks take as a pass; the gateway refuses a tool the
//! server does not advertise (-32010) before it reaches the server. So a
//! scenario may differ only when every failure the gateway adds is that
//! refusal, for a tool the server really does not list, on
//! `dns-rebinding-protection` only where the gateway is the stricter one,
//! and on `server-sse-multiple-streams` only in that the gateway answers
//! quick requests with plain JSON, which the suite does not judge.
//! Every other scenario must give the same verdicts, check by check.

mod common;

use common::client::{connect, tool_names};
use common::peers::{node22, peer_file, EverythingHttp};
use common::{http_upstream, start_gateway};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// Everything of server-everything open, with the default
/// `validate_input_schema`: the gateway as an operator would deploy it.
const ALLOW_EVERYTHING: &str = r#"
mode = "enforce"
[defaults]
tools = "deny"
[[rules]]
id = "everything-open"
server = "everything"
tools = ["*"]
resources = ["*"]
prompts = ["*"]
action = "allow"
"#;

/// Scenarios the server passes directly: if they fail, the run compared
/// nothing (server or suite not working), not the gateway.
const BASICS: [&str; 3] = ["server-initialize", "ping", "tools-list"];

/// One check of a scenario as the suite reported it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Check {
    id: String,
    /// `SUCCESS`, `FAILURE`, `WARNING`, `INFO`, ...
    status: String,
    error: String,
    /// The whole check as the suite wrote it, for reasons it gives only in
    /// its details.
    raw: String,
}

/// Per scenario, its checks sorted (an id may be reported several times,
/// e.g. one `incoming-sse-event` per event).
type Results = BTreeMap<String, Vec<Check>>;

fn conformance_cli() -> PathBuf {
    peer_file(
        "conformance/node_modules/@modelcontextprotocol/conformance/dist/index.js",
        "@modelcontextprotocol/conformance",
    )
}

/// The suite's CLI under Node 22, with Node 22 first on PATH for anything
/// it spawns.
fn conformance_command() -> tokio::process::Command {
    let node = node22();
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![node.parent().expect("node's directory").to_path_buf()];
    dirs.extend(std::env::split_paths(&path));
    let mut command = tokio::process::Command::new(&node);
    command
        .arg(conformance_cli())
        .env("PATH", std::env::join_paths(dirs).expect("PATH joins"))
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    command
}

/// The server scenarios the suite has for `version`, from its own list.
async fn scenarios_of(version: &str) -> Vec<String> {
    let out = conformance_command()
        .args(["list", "--server", "--spec-version", version])
        .output()
        .await
        .expect("the conformance CLI runs");
    assert!(out.status.success(), "conformance list failed: {}", String::from_utf8_lossy(&out.stderr));
    let scenarios: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| line.trim_start().strip_prefix("- "))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(str::to_string)
        .collect();
    assert!(!scenarios.is_empty(), "the suite lists no server scenario for {version}");
    scenarios
}

/// Runs every scenario of `version` (`--suite all`: the pending ones too)
/// against `url` and reads each scenario's `checks.json`.
async fn run_suite(url: &str, version: &str) -> Results {
    let out_dir = tempfile::tempdir().expect("temp dir");
    let run = conformance_command()
        .args(["server", "--url", url, "--suite", "all", "--spec-version", version, "--output-dir"])
        .arg(out_dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output();
    // The suite exits non-zero when any check fails, which server-everything
    // does for the fixture tools it lacks: only the results decide.
    let output = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("the suite finishes within 120s")
        .expect("the conformance CLI runs");
    let results = read_results(out_dir.path());
    assert!(
        !results.is_empty(),
        "the suite wrote no results for {url}:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    results
}

/// `<dir>/server-<scenario>-<timestamp>/checks.json`, per scenario.
fn read_results(dir: &Path) -> Results {
    let mut results = Results::new();
    for entry in std::fs::read_dir(dir).expect("results dir reads") {
        let entry = entry.expect("results entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        let scenario = scenario_of(&name).unwrap_or_else(|| panic!("unexpected results entry {name}"));
        let text = std::fs::read_to_string(entry.path().join("checks.json"))
            .unwrap_or_else(|e| panic!("{name}/checks.json: {e}"));
        let checks: Vec<Value> = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}/checks.json: {e}"));
        let mut reported: Vec<Check> = checks
            .iter()
            .map(|check| Check {
                id: check["id"].as_str().unwrap_or_else(|| panic!("a check without id in {name}")).to_string(),
                status: check["status"]
                    .as_str()
                    .unwrap_or_else(|| panic!("a check without status in {name}"))
                    .to_string(),
                error: check["errorMessage"].as_str().unwrap_or_default().to_string(),
                raw: check.to_string(),
            })
            .collect();
        reported.sort();
        let previous = results.insert(scenario.to_string(), reported);
        assert!(previous.is_none(), "scenario {scenario} reported twice");
    }
    results
}

/// `server-tools-list-2026-12-01T07-37-35-755Z` -> `tools-list`.
fn scenario_of(dir_name: &str) -> Option<&str> {
    const TIMESTAMP: usize = "-2026-12-01T07-37-35-755Z".len();
    let rest = dir_name.strip_prefix("server-")?;
    let cut = rest.len().checked_sub(TIMESTAMP)?;
    let (scenario, stamp) = (rest.get(..cut)?, rest.get(cut..)?);
    (stamp.starts_with('-') && stamp.ends_with('Z') && stamp.as_bytes().get(11) == Some(&b'T')).then_some(scenario)
}

/// Per scenario, the ids of its passed and failed checks with the verdict,
/// sorted: warnings and notes are advice, not results.
fn verdicts(results: &Results) -> BTreeMap<&str, Vec<(&str, bool)>> {
    results
        .iter()
        .map(|(scenario, checks)| {
            let mut verdicts: Vec<(&str, bool)> = checks
                .iter()
                .filter(|check| matches!(check.status.as_str(), "SUCCESS" | "FAILURE"))
                .map(|check| (check.id.as_str(), check.status == "SUCCESS"))
                .collect();
            verdicts.sort();
            (scenario.as_str(), verdicts)
        })
        .collect()
}

/// `clean scenarios/scenarios (passed checks, failed checks)`.
fn score(results: &Results) -> String {
    let verdicts = verdicts(results);
    let clean = verdicts.values().filter(|checks| checks.iter().all(|&(_, ok)| ok)).count();
    let passed: usize = verdicts.values().map(|checks| checks.iter().filter(|&&(_, ok)| ok).count()).sum();
    let failed: usize = verdicts.values().map(|checks| checks.iter().filter(|&&(_, ok)| !ok).count()).sum();
    format!("{clean}/{} scenarios clean ({passed} checks passed, {failed} failed)", verdicts.len())
}

/// A scenario's failures with the suite's reasons, for a readable diff.
fn failures(checks: Option<&Vec<Check>>) -> Vec<String> {
    checks
        .into_iter()
        .flatten()
        .filter(|check| check.status == "FAILURE")
        .map(|check| format!("{}: {}", check.id, check.error))
        .collect()
}

async fn assert_same_through_gateway(version: &str) {
    let scenarios = scenarios_of(version).await;
    let server = EverythingHttp::start().await;
    let gateway = start_gateway(&http_upstream("everything", &server.url), ALLOW_EVERYTHING).await;
    let through = format!("{}/everything", gateway.url);

    let direct = run_suite(&server.url, version).await;
    let gated = run_suite(&through, version).await;

    for (name, results) in [("direct", &direct), ("through the gateway", &gated)] {
        let ran: Vec<&String> = results.keys().collect();
        let mut listed: Vec<&String> = scenarios.iter().collect();
        listed.sort();
        assert_eq!(ran, listed, "{version} {name}: the suite did not run every listed scenario");
    }
    for basic in BASICS {
        let checks = &direct[basic];
        assert!(
            !checks.is_empty() && checks.iter().all(|check| check.status == "SUCCESS"),
            "{version}: `{basic}` fails against server-everything directly ({checks:?}): nothing to compare"
        );
    }
    eprintln!("{version}: direct {}; through /mcp/everything {}", score(&direct), score(&gated));

    let advertised: BTreeSet<String> = {
        let client = connect(&server.url).await;
        let names = tool_names(&client).await.into_iter().collect();
        let _ = client.cancel().await;
        names
    };
    let (direct_verdicts, gated_verdicts) = (verdicts(&direct), verdicts(&gated));
    let mut explained = Vec::new();
    let differing: Vec<String> = direct_verdicts
        .iter()
        .filter(|(scenario, checks)| gated_verdicts.get(*scenario) != Some(*checks))
        .filter(|(scenario, _)| match explain(scenario, &direct[**scenario], &gated[**scenario], &advertised) {
            Some(reason) => {
                explained.push(format!("{scenario}: {reason}"));
                false
            }
            None => true,
        })
        .map(|(scenario, _)| {
            format!(
                "{scenario}:\n  direct {:?} failed {:?}\n  gateway {:?} failed {:?}",
                direct_verdicts.get(scenario),
                failures(direct.get(*scenario)),
                gated_verdicts.get(scenario),
                failures(gated.get(*scenario))
            )
        })
        .collect();
    eprintln!(
        "{version}: {} scenarios identical, {} differ as explained:",
        scenarios.len() - explained.len(),
        explained.len()
    );
    for line in &explained {
        eprintln!("  {line}");
    }
    assert!(differing.is_empty(), "{version}: scenarios that differ through the gateway:\n{}", differing.join("\n"));
}

/// Why `scenario` may give other verdicts through the gateway, or `None`
/// when nothing but a gateway fault explains it.
fn explain(scenario: &str, direct: &[Check], gated: &[Check], advertised: &BTreeSet<String>) -> Option<String> {
    if scenario == "dns-rebinding-protection" {
        // Stricter only: every check that passes directly passes through
        // the gateway, which also turns away the foreign Host/Origin.
        let passed = |checks: &[Check]| -> BTreeSet<String> {
            checks.iter().filter(|c| c.status == "SUCCESS").map(|c| c.id.clone()).collect()
        };
        let failed_through = gated.iter().any(|c| c.status == "FAILURE");
        return (!failed_through && passed(direct).is_subset(&passed(gated)))
            .then(|| "the gateway rejects the foreign Host/Origin that server-everything accepts".to_string());
    }
    if scenario == "server-sse-multiple-streams" {
        // The gateway answers a quick request with plain JSON, which the
        // suite records as information ("SSE streams optional"), not as a
        // pass or a failure; every check it does judge must still agree.
        let judged = |checks: &[Check]| -> BTreeSet<(String, String)> {
            checks.iter().filter(|c| c.status != "INFO").map(|c| (c.id.clone(), c.status.clone())).collect()
        };
        let streams_optional = gated.iter().any(|c| c.id == "server-sse-streams-functional" && c.status == "INFO");
        let judged_direct: BTreeSet<_> =
            judged(direct).into_iter().filter(|(id, _)| id != "server-sse-streams-functional").collect();
        return (streams_optional && judged_direct == judged(gated)).then(|| {
            "the gateway answers quick requests with plain JSON, which the suite accepts (SSE streams optional)"
                .to_string()
        });
    }
    let called = called_tools(gated);
    let refusals_only = gated.iter().filter(|c| c.status == "FAILURE").all(|c| refused_tool(&c.error).is_some());
    (!called.is_empty() && refusals_only && called.iter().all(|tool| !advertised.contains(tool))).then(|| {
        format!(
            "the suite calls {called:?}, which server-everything does not advertise: refused by the gateway (-32010)"
        )
    })
}

/// The tool named by the gateway's refusal of an unadvertised tool.
fn refused_tool(error: &str) -> Option<String> {
    let rest = error.split("does not advertise a tool named \"").nth(1)?;
    error.contains("-32010").then(|| rest.split('"').next().unwrap_or_default().to_string())
}

/// The tools a scenario called through the gateway: named in a refusal, or
/// in a `tools/call` the suite logged sending.
fn called_tools(checks: &[Check]) -> BTreeSet<String> {
    let mut tools: BTreeSet<String> = checks.iter().filter_map(|c| refused_tool(&c.error)).collect();
    for check in checks {
        let Ok(raw) = serde_json::from_str::<Value>(&check.raw) else { continue };
        let body = &raw["details"]["body"];
        if body["method"] == "tools/call" {
            if let Some(name) = body["params"]["name"].as_str() {
                tools.insert(name.to_string());
            }
        }
    }
    tools
}

#[tokio::test(flavor = "multi_thread")]
async fn the_2025_11_25_conformance_suite_passes_and_fails_the_same_checks_through_the_gateway() {
    assert_same_through_gateway("2025-11-25").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_2025_06_18_conformance_suite_passes_and_fails_the_same_checks_through_the_gateway() {
    assert_same_through_gateway("2025-06-18").await;
}
