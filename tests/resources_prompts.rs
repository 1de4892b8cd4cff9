//! Resources and prompts are policed like tools, on every front: a policy
//! that allows one harmless tool no longer hands out every resource and
//! prompt of its server (issue 10, item 7). Against a naive Python server
//! that writes down what it served, and against the reference
//! server-everything, through `/mcp`, `/mcp/<server>` and the stdio front.

mod common;

use common::client::{mcp_error, text_of, Client};
use common::fronts::{Front, ThreeFronts, ALL_FRONTS};
use common::peers::{everything_upstream, python_upstream};
use common::{all_audit_records, stdio_demo, wait_for_audit, warden_bin};
use rmcp::model::{
    ArgumentInfo, CompleteRequestParams, GetPromptRequestParams, ReadResourceRequestParams, Reference,
    SubscribeRequestParams,
};
use rmcp::ErrorData;
use serde_json::{json, Value};
use std::path::Path;

/// The shape of the attack in the issue: one harmless tool allowed.
const ECHO_ONLY: &str = r#"
[[rules]]
id = "echo-only"
server = "internal"
tools = ["echo"]
action = "allow"
"#;

/// Every page but the credentials, one prompt.
const PAGES_BUT_CREDENTIALS: &str = r#"
[[rules]]
id = "internal-pages"
server = "internal"
tools = ["echo"]
resources = ["internal://*"]
prompts = ["summarize"]
action = "allow"

[[rules]]
id = "no-credentials"
server = "internal"
resources = ["internal://credentials"]
prompts = ["leak_*"]
action = "deny"
"#;

/// Spellings of the credentials' URI that the naive server (or another
/// real one) would serve as the credentials.
const CREDENTIAL_SPELLINGS: [&str; 6] = [
    "internal://credentials",
    "internal://CREDENTIALS",
    "internal://%63redentials",
    "internal://%2563redentials",
    "internal://credentials#raw",
    "internal://credentials/",
];

/// Python and Node servers can take seconds to start on a busy machine, and
/// the stdio front starts its own.
const SLOW_START: &str = "request_timeout = \"30s\"";

fn naive_upstream(evidence: &Path) -> String {
    python_upstream("internal", "resource_server.py", &[evidence.to_str().unwrap()])
}

/// What the naive server says it served, one line per resource or prompt.
fn served(evidence: &Path) -> Vec<String> {
    std::fs::read_to_string(evidence).unwrap_or_default().lines().map(str::to_string).collect()
}

async fn read(client: &Client, uri: &str) -> Result<Value, ErrorData> {
    let read = client.read_resource(ReadResourceRequestParams::new(uri)).await.map_err(mcp_error)?;
    Ok(serde_json::to_value(read).unwrap())
}

async fn get_prompt(client: &Client, name: &str, args: Value) -> Result<Value, ErrorData> {
    let Value::Object(args) = args else { panic!("prompt arguments are an object") };
    let params = GetPromptRequestParams::new(name).with_arguments(args);
    let got = client.get_prompt(params).await.map_err(mcp_error)?;
    Ok(serde_json::to_value(got).unwrap())
}

async fn complete(
    client: &Client,
    reference: Reference,
    argument: &str,
    value: &str,
) -> Result<Vec<String>, ErrorData> {
    let params = CompleteRequestParams::new(reference, ArgumentInfo::new(argument, value));
    let done = client.complete(params).await.map_err(mcp_error)?;
    Ok(done.completion.values)
}

/// The error is the gateway's refusal by `rule`.
fn assert_refused(what: &str, result: Result<impl std::fmt::Debug, ErrorData>, rule: &str) {
    let err = result.expect_err(&format!("{what} must be refused"));
    assert_eq!(err.code.0, -32010, "{what}: {}", err.message);
    let data = err.data.clone().unwrap_or_default();
    assert_eq!(data["rule"], rule, "{what}: {}", err.message);
    assert!(err.message.contains(rule), "{what}: the message names the rule: {}", err.message);
    assert!(!err.message.contains("hunter2"), "{what}: {}", err.message);
}

fn first_text(read: &Value) -> String {
    read["contents"][0]["text"].as_str().unwrap_or_default().to_string()
}

fn prompt_messages(got: &Value) -> String {
    got["messages"].as_array().unwrap().iter().map(|m| m["content"]["text"].as_str().unwrap_or_default()).collect()
}

/// The records of `method` accesses to `name`, decisions only.
fn decisions<'a>(records: &'a [Value], method: &str, name: &str) -> Vec<&'a Value> {
    records
        .iter()
        .filter(|r| {
            r["method"] == method
                && r["tool"] == name
                && !matches!(r["outcome"].as_str(), Some("completed" | "upstream_error"))
        })
        .collect()
}

/// `mcp-warden explain` for one access: its exit code and decision.
fn explain(config: &Path, server: &str, flag: &str, name: &str) -> (i32, Value) {
    let out = std::process::Command::new(warden_bin())
        .args(["explain", "--json", "--server", server, flag, name, "--config"])
        .arg(config)
        .output()
        .unwrap();
    let decision = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("explain printed no JSON ({e}): {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap(), decision)
}

#[tokio::test]
async fn a_policy_allowing_one_tool_lets_no_resource_or_prompt_of_its_server_through_any_front() {
    let dir = tempfile::tempdir().unwrap();
    let evidence = dir.path().join("served.txt");
    let fronts = ThreeFronts::start_with_relay(&naive_upstream(&evidence), ECHO_ONLY, "internal", SLOW_START).await;
    for front in ALL_FRONTS {
        let client = fronts.client(front);
        assert!(client.list_all_resources().await.unwrap().is_empty(), "{front:?}: nothing listed");
        assert!(client.list_all_resource_templates().await.unwrap().is_empty(), "{front:?}");
        assert!(client.list_all_prompts().await.unwrap().is_empty(), "{front:?}");
        let credentials = fronts.uri(front, "internal://credentials");
        assert_refused(&format!("{front:?} read"), read(client, &credentials).await, "defaults.resources");
        let leak = fronts.tool_name(front, "leak_credentials");
        assert_refused(&format!("{front:?} prompt"), get_prompt(client, &leak, json!({})).await, "defaults.prompts");
        // The benign neighbour: the one tool the policy allows.
        assert_eq!(text_of(&fronts.call(front, "echo", json!({"text": "hi"})).await.unwrap()), "hi", "{front:?}");
    }
    assert!(served(&evidence).is_empty(), "nothing reached the server: {:?}", served(&evidence));
    let records =
        wait_for_audit(&fronts.gw.audit, |r| decisions(r, "prompts/get", "leak_credentials").len() == 3).await;
    let reads = decisions(&records, "resources/read", "internal://credentials");
    assert_eq!(reads.len(), 3, "one record per front: {records:#?}");
    for record in reads {
        assert_eq!((record["verdict"].as_str(), record["outcome"].as_str()), (Some("deny"), Some("blocked")));
        assert_eq!(
            (record["rule"].as_str(), record["server"].as_str()),
            (Some("defaults.resources"), Some("internal"))
        );
    }
}

#[tokio::test]
async fn the_credentials_stay_unread_under_every_spelling_while_the_handbook_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let evidence = dir.path().join("served.txt");
    let fronts =
        ThreeFronts::start_with_relay(&naive_upstream(&evidence), PAGES_BUT_CREDENTIALS, "internal", SLOW_START).await;
    for front in ALL_FRONTS {
        let client = fronts.client(front);
        let listed: Vec<String> =
            client.list_all_resources().await.unwrap().into_iter().map(|r| r.uri.clone()).collect();
        assert_eq!(listed, [fronts.uri(front, "internal://handbook")], "{front:?}");
        // A template is listed when an allow rule covers its every URI; the
        // narrower deny rule is applied to each URI read through it.
        let templates: Vec<String> =
            client.list_all_resource_templates().await.unwrap().into_iter().map(|t| t.uri_template.clone()).collect();
        assert_eq!(templates, [fronts.uri(front, "internal://{key}")], "{front:?}");
        let prompts: Vec<String> =
            client.list_all_prompts().await.unwrap().into_iter().map(|p| p.name.to_string()).collect();
        assert_eq!(prompts, [fronts.tool_name(front, "summarize")], "{front:?}");

        let handbook = read(client, &fronts.uri(front, "internal://handbook")).await.unwrap();
        assert_eq!(first_text(&handbook), "Be kind to the on-call engineer.", "{front:?}");
        for uri in CREDENTIAL_SPELLINGS {
            assert_refused(&format!("{front:?} {uri}"), read(client, &fronts.uri(front, uri)).await, "no-credentials");
        }
        let summary = get_prompt(client, &fronts.tool_name(front, "summarize"), json!({"topic": "gateways"})).await;
        assert!(prompt_messages(&summary.unwrap()).contains("Summarize gateways"), "{front:?}");
        let leak = fronts.tool_name(front, "leak_credentials");
        assert_refused(&format!("{front:?} prompt"), get_prompt(client, &leak, json!({})).await, "no-credentials");
        let completion = complete(client, Reference::for_prompt(leak), "x", "").await;
        assert_refused(&format!("{front:?} completion"), completion, "no-credentials");
    }
    let served = served(&evidence);
    assert!(served.iter().all(|line| line == "read handbook" || line == "get summarize"), "{served:?}");
    assert_eq!(served.iter().filter(|l| *l == "read handbook").count(), 3, "{served:?}");

    // Each refusal is on record, and `explain` decides it the same way offline.
    let records =
        wait_for_audit(&fronts.gw.audit, |r| decisions(r, "resources/read", "internal://credentials/").len() == 3)
            .await;
    for uri in CREDENTIAL_SPELLINGS {
        let recorded = decisions(&records, "resources/read", uri);
        assert_eq!(recorded.len(), 3, "{uri}: {records:#?}");
        assert!(recorded
            .iter()
            .all(|r| r["verdict"] == "deny" && r["outcome"] == "blocked" && r["rule"] == "no-credentials"));
        let (code, explained) = explain(&fronts.gw.config_path, "internal", "--resource", uri);
        assert_eq!((code, &explained["rule_id"]), (1, &recorded[0]["rule"]), "{uri}: {explained}");
        assert_eq!(explained["constraint"], recorded[0]["constraint"], "{uri}");
    }
    let encoded = decisions(&records, "resources/read", "internal://%63redentials");
    assert_eq!(encoded[0]["constraint"], "uri_readings");
    let handbook = decisions(&records, "resources/read", "internal://handbook");
    assert!(handbook.iter().all(|r| r["verdict"] == "allow" && r["outcome"] == "forwarded"), "{handbook:#?}");
    let (code, explained) = explain(&fronts.gw.config_path, "internal", "--resource", "internal://handbook");
    assert_eq!((code, explained["rule_id"].as_str()), (0, Some("internal-pages")));
}

#[tokio::test]
async fn the_naive_server_serves_another_spelling_of_its_credentials_when_nothing_stops_it() {
    // Audit mode records the refusal and blocks nothing: what the enforce
    // mode test stops is what this server really hands out.
    let dir = tempfile::tempdir().unwrap();
    let evidence = dir.path().join("served.txt");
    let policy = format!("mode = \"audit\"\n{PAGES_BUT_CREDENTIALS}");
    let gw = common::start_gateway_with_relay(&naive_upstream(&evidence), &policy, SLOW_START).await;
    let client = common::client::connect(&gw.url).await;
    let credentials = read(&client, "mcp-warden://internal/internal://%63redentials").await.unwrap();
    assert_eq!(first_text(&credentials), "admin password: hunter2");
    assert_eq!(served(&evidence), ["read credentials"]);
    let records = all_audit_records(&gw.audit);
    let decision = decisions(&records, "resources/read", "internal://%63redentials")[0];
    assert_eq!((decision["verdict"].as_str(), decision["enforced"].as_bool()), (Some("deny"), Some(false)));
    assert_eq!(decision["outcome"], "forwarded");
    client.cancel().await.unwrap();
}

/// One document of server-everything stands in for a secret.
const EVERYTHING_POLICY: &str = r#"
[[rules]]
id = "everything-echo"
server = "everything"
tools = ["echo"]
action = "allow"

[[rules]]
id = "everything-docs"
server = "everything"
resources = ["demo://resource/static/document/*", "demo://resource/dynamic/text/*"]
prompts = ["simple-prompt", "completable-prompt"]
action = "allow"

[[rules]]
id = "everything-no-instructions"
server = "everything"
resources = ["demo://resource/static/document/instructions.md"]
action = "deny"
"#;

const DOCS: &str = "demo://resource/static/document/";
const SECRET_DOC: &str = "demo://resource/static/document/instructions.md";

#[tokio::test]
async fn server_everything_serves_only_what_the_policy_allows_on_every_front() {
    let fronts =
        ThreeFronts::start_with_relay(&everything_upstream("everything"), EVERYTHING_POLICY, "everything", SLOW_START)
            .await;
    for front in ALL_FRONTS {
        let client = fronts.client(front);
        check_everything_listings(&fronts, front, client).await;

        let features = read(client, &fronts.uri(front, &format!("{DOCS}features.md"))).await.unwrap();
        assert!(first_text(&features).contains("Everything Server"), "{front:?}: {features}");
        let secret = fronts.uri(front, SECRET_DOC);
        assert_refused(&format!("{front:?}"), read(client, &secret).await, "everything-no-instructions");
        let encoded = fronts.uri(front, &format!("{DOCS}%69nstructions.md"));
        assert_refused(&format!("{front:?}"), read(client, &encoded).await, "everything-no-instructions");
        let text = read(client, &fronts.uri(front, "demo://resource/dynamic/text/1")).await.unwrap();
        assert!(first_text(&text).starts_with("Resource 1:"), "{front:?}: {text}");
        assert_refused(
            &format!("{front:?}"),
            read(client, &fronts.uri(front, "demo://resource/dynamic/blob/1")).await,
            "defaults.resources",
        );
        #[allow(deprecated)]
        let subscribed = client.subscribe(SubscribeRequestParams::new(secret)).await.map_err(mcp_error);
        assert_refused(&format!("{front:?} subscribe"), subscribed, "everything-no-instructions");

        let simple = get_prompt(client, &fronts.tool_name(front, "simple-prompt"), json!({})).await.unwrap();
        assert!(prompt_messages(&simple).contains("simple prompt"), "{front:?}: {simple}");
        let args_prompt = fronts.tool_name(front, "args-prompt");
        assert_refused(
            &format!("{front:?}"),
            get_prompt(client, &args_prompt, json!({"city": "Oslo"})).await,
            "defaults.prompts",
        );

        let completable = Reference::for_prompt(fronts.tool_name(front, "completable-prompt"));
        let values = complete(client, completable, "department", "E").await.unwrap();
        assert_eq!(values, ["Engineering"], "{front:?}");
        let refused = complete(client, Reference::for_prompt(args_prompt), "city", "O").await;
        assert_refused(&format!("{front:?} completion"), refused, "defaults.prompts");
        let blob = Reference::for_resource(fronts.uri(front, "demo://resource/dynamic/blob/{resourceId}"));
        assert_refused(
            &format!("{front:?} completion"),
            complete(client, blob, "resourceId", "1").await,
            "defaults.resources",
        );
    }

    let records = wait_for_audit(&fronts.gw.audit, |r| {
        decisions(r, "completion/complete", "demo://resource/dynamic/blob/{resourceId}").len() == 3
    })
    .await;
    for (method, name, verdict) in [
        ("resources/read", SECRET_DOC, "deny"),
        ("resources/read", "demo://resource/static/document/features.md", "allow"),
        ("resources/subscribe", SECRET_DOC, "deny"),
        ("prompts/get", "simple-prompt", "allow"),
        ("prompts/get", "args-prompt", "deny"),
        ("completion/complete", "completable-prompt", "allow"),
    ] {
        let found = decisions(&records, method, name);
        assert_eq!(found.len(), 3, "{method} {name}: one record per front");
        assert!(found.iter().all(|r| r["verdict"] == verdict && r["server"] == "everything"), "{found:#?}");
    }
    // `explain` decides offline what the live gateway decided.
    for (flag, name) in [
        ("--resource", SECRET_DOC),
        ("--resource", "demo://resource/static/document/%69nstructions.md"),
        ("--resource", "demo://resource/static/document/features.md"),
        ("--resource", "demo://resource/dynamic/blob/1"),
        ("--prompt", "args-prompt"),
        ("--prompt", "simple-prompt"),
    ] {
        let method = if flag == "--prompt" { "prompts/get" } else { "resources/read" };
        let live = decisions(&records, method, name)[0];
        let (code, explained) = explain(&fronts.gw.config_path, "everything", flag, name);
        assert_eq!(explained["rule_id"], live["rule"], "{name}: {explained}");
        assert_eq!(explained["verdict"], live["verdict"], "{name}");
        assert_eq!(code, if live["verdict"] == "allow" { 0 } else { 1 }, "{name}");
    }
}

async fn check_everything_listings(fronts: &ThreeFronts, front: Front, client: &Client) {
    let uris: Vec<String> = client.list_all_resources().await.unwrap().into_iter().map(|r| r.uri.clone()).collect();
    let docs = fronts.uri(front, DOCS);
    assert!(uris.contains(&format!("{docs}features.md")), "{front:?}: {uris:?}");
    let secret = fronts.uri(front, SECRET_DOC);
    assert!(!uris.contains(&secret), "{front:?}: the denied document is not listed: {uris:?}");
    assert!(uris.iter().all(|u| u.starts_with(&docs)), "{front:?}: {uris:?}");
    let templates: Vec<String> =
        client.list_all_resource_templates().await.unwrap().into_iter().map(|t| t.uri_template.clone()).collect();
    assert_eq!(templates, [fronts.uri(front, "demo://resource/dynamic/text/{resourceId}")], "{front:?}");
    let mut prompts: Vec<String> =
        client.list_all_prompts().await.unwrap().into_iter().map(|p| p.name.to_string()).collect();
    prompts.sort();
    let expected = [fronts.tool_name(front, "completable-prompt"), fronts.tool_name(front, "simple-prompt")];
    assert_eq!(prompts, expected, "{front:?}");
}

/// The README's demo under the shipped policy: its readme and its prompt
/// are served on every front, and any other resource stays refused.
#[tokio::test]
async fn the_shipped_policy_serves_the_demo_readme_and_prompt_and_nothing_else() {
    let root = tempfile::tempdir().unwrap();
    // The shipped workspace root is relative to the shipped policy file; this
    // copy lives elsewhere, so it names the test's workspace instead.
    let shipped = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/default.toml"))
        .unwrap()
        .replace("\"../examples/workspace\"", &format!("{:?}", root.path().display().to_string()));
    let fronts = ThreeFronts::start(&stdio_demo("demo", root.path()), &shipped, "demo").await;
    for front in ALL_FRONTS {
        let client = fronts.client(front);
        let listed: Vec<String> =
            client.list_all_resources().await.unwrap().into_iter().map(|r| r.uri.clone()).collect();
        assert_eq!(listed, [fronts.uri(front, "workspace://readme")], "{front:?}");
        let readme = read(client, &fronts.uri(front, "workspace://readme")).await.unwrap();
        assert!(first_text(&readme).contains("demo workspace"), "{front:?}: {readme}");
        let summarize = fronts.tool_name(front, "summarize");
        let summary = get_prompt(client, &summarize, json!({"topic": "gateways"})).await.unwrap();
        assert!(prompt_messages(&summary).contains("Summarize gateways"), "{front:?}");
        for uri in ["workspace://secrets", "workspace://README"] {
            assert_refused(&format!("{front:?}"), read(client, &fronts.uri(front, uri)).await, "defaults.resources");
        }
    }
}
