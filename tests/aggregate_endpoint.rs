//! The aggregated endpoint (`/mcp`) in front of servers that name things
//! alike (issue 11, item 4). Two server-everything instances and a Python
//! twin all list `demo://resource/static/document/features.md`: on `/mcp`
//! each is its own `mcp-warden://<server>/<uri>`, and a read, a template, a
//! completion or a subscription reaches the server it names, never another.
//! Task ids issued by two servers come back namespaced and are answered by
//! the server that issued them.

mod common;

use common::peers::{everything_upstream, python_upstream};
use common::raw::{messages, RawSession};
use common::{start_gateway_with_relay, wait_for_audit, TestGateway};
use serde_json::{json, Value};

const FEATURES: &str = "demo://resource/static/document/features.md";
const TEXT_TEMPLATE: &str = "demo://resource/dynamic/text/{resourceId}";
const RELATED_TASK: &str = "io.modelcontextprotocol/related-task";

const POLICY: &str = r#"
[[rules]]
id = "demo"
server = "*"
tools = ["simulate-research-query", "toggle-subscriber-updates"]
resources = ["demo://*"]
action = "allow"
"#;

/// Node and Python servers can take seconds to start on a busy machine, and
/// `tasks/result` waits for a task of several seconds.
const RELAY: &str = "request_timeout = \"30s\"";

async fn three_lookalikes() -> TestGateway {
    let upstreams =
        [everything_upstream("alpha"), everything_upstream("beta"), python_upstream("twin", "twin_resources.py", &[])]
            .concat();
    start_gateway_with_relay(&upstreams, POLICY, RELAY).await
}

fn on(server: &str, uri: &str) -> String {
    format!("mcp-warden://{server}/{uri}")
}

fn request(id: u64, method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

/// The result of a request that must succeed.
async fn result(session: &RawSession, id: u64, method: &str, params: Value) -> Value {
    let answer = session.json_answer(&request(id, method, params.clone())).await;
    assert!(answer.get("error").is_none(), "{method} {params}: {answer}");
    answer["result"].clone()
}

/// The error of a request that must fail.
async fn error(session: &RawSession, id: u64, method: &str, params: Value) -> Value {
    let answer = session.json_answer(&request(id, method, params.clone())).await;
    assert!(answer.get("result").is_none(), "{method} {params} must fail: {answer}");
    answer["error"].clone()
}

fn strings(items: &Value, field: &str) -> Vec<String> {
    items.as_array().unwrap().iter().filter_map(|i| i[field].as_str().map(str::to_string)).collect()
}

#[tokio::test]
async fn three_servers_listing_one_uri_show_three_uris_each_read_from_its_own_server() {
    let gw = three_lookalikes().await;
    let session = RawSession::open(&gw.url).await;

    let uris = strings(&result(&session, 1, "resources/list", json!({})).await["resources"], "uri");
    for server in ["alpha", "beta", "twin"] {
        assert!(uris.contains(&on(server, FEATURES)), "{server}: {uris:?}");
    }
    assert!(uris.iter().all(|u| u.starts_with("mcp-warden://")), "no bare URI is listed: {uris:?}");

    let everything = result(&session, 2, "resources/read", json!({"uri": on("beta", FEATURES)})).await;
    assert!(everything["contents"][0]["text"].as_str().unwrap().contains("Everything Server"), "{everything}");
    assert_eq!(everything["contents"][0]["uri"], on("beta", FEATURES), "contents name the server that served them");
    let twin = result(&session, 3, "resources/read", json!({"uri": on("twin", FEATURES)})).await;
    assert_eq!(twin["contents"][0]["text"], "The twin's features, not the Everything Server's.");
    assert_eq!(twin["contents"][0]["uri"], on("twin", FEATURES));

    // A template expands on the client exactly as the server's would.
    let templates =
        strings(&result(&session, 4, "resources/templates/list", json!({})).await["resourceTemplates"], "uriTemplate");
    for server in ["alpha", "twin"] {
        assert!(templates.contains(&on(server, TEXT_TEMPLATE)), "{server}: {templates:?}");
    }
    let expanded = |server: &str| on(server, TEXT_TEMPLATE).replace("{resourceId}", "7");
    let twin_text = result(&session, 5, "resources/read", json!({"uri": expanded("twin")})).await;
    assert_eq!(twin_text["contents"][0]["text"], "twin text 7");
    assert_eq!(twin_text["contents"][0]["uri"], expanded("twin"));
    let alpha_text = result(&session, 6, "resources/read", json!({"uri": expanded("alpha")})).await;
    assert!(alpha_text["contents"][0]["text"].as_str().unwrap().starts_with("Resource 7:"), "{alpha_text}");

    for (id, server, values) in [(7, "twin", json!(["twin-3"])), (8, "alpha", json!(["3"]))] {
        let params = json!({"ref": {"type": "ref/resource", "uri": on(server, TEXT_TEMPLATE)},
                            "argument": {"name": "resourceId", "value": "3"}});
        assert_eq!(result(&session, id, "completion/complete", params).await["completion"]["values"], values);
    }

    // The policy decided each read under the server's own URI.
    let records = wait_for_audit(&gw.audit, |r| {
        r.iter().filter(|r| r["method"] == "resources/read" && r["tool"] == FEATURES).count() >= 4
    })
    .await;
    let mut servers: Vec<&str> = records
        .iter()
        .filter(|r| r["method"] == "resources/read" && r["tool"] == FEATURES && r["outcome"] == "forwarded")
        .filter_map(|r| r["server"].as_str())
        .collect();
    servers.sort();
    assert_eq!(servers, ["beta", "twin"]);
}

#[tokio::test]
async fn a_uri_not_naming_its_server_is_refused_saying_which_form_is_expected() {
    let gw = three_lookalikes().await;
    let session = RawSession::open(&gw.url).await;
    for (id, method, uri) in [
        (1, "resources/read", FEATURES.to_string()),
        (2, "resources/subscribe", FEATURES.to_string()),
        (3, "resources/unsubscribe", FEATURES.to_string()),
        (4, "resources/read", "mcp-warden://alpha".to_string()),
    ] {
        let refused = error(&session, id, method, json!({"uri": uri})).await;
        assert_eq!(refused["code"], -32602, "{method} {uri}: {refused}");
        let message = refused["message"].as_str().unwrap();
        assert!(message.contains("mcp-warden://<server>/<the server's own URI>"), "{method} {uri}: {message}");
    }
    let unknown = error(&session, 5, "resources/read", json!({"uri": on("gamma", FEATURES)})).await;
    assert_eq!(unknown["code"], -32602);
    assert!(unknown["message"].as_str().unwrap().contains("no upstream server is named \"gamma\""), "{unknown}");
}

#[tokio::test]
async fn a_subscription_to_the_second_servers_resource_hears_that_server_and_no_other() {
    let gw = three_lookalikes().await;
    let session = RawSession::open(&gw.url).await;
    for (id, server) in [(1, "alpha"), (2, "beta")] {
        assert_eq!(result(&session, id, "resources/subscribe", json!({"uri": on(server, FEATURES)})).await, json!({}));
    }
    let mut stream = session.get_stream().await;
    // server-everything sends updates only once asked to (at once, then
    // every 5 s); only beta is asked. Were both subscriptions routed to one
    // server, nothing would come, or it would come from alpha.
    let toggle = request(3, "tools/call", json!({"name": "beta__toggle-subscriber-updates", "arguments": {}}));
    let answer = messages(session.post(toggle.to_string()).await).await;
    let is_update = |m: &Value| m["method"] == "notifications/resources/updated";
    let mut updates: Vec<Value> = answer.into_iter().filter(is_update).collect();
    while updates.len() < 2 {
        let msg = stream.message().await;
        if is_update(&msg) {
            updates.push(msg);
        }
    }
    for update in &updates {
        assert_eq!(update["params"]["uri"], on("beta", FEATURES), "{update}");
    }
    assert_eq!(result(&session, 4, "resources/unsubscribe", json!({"uri": on("beta", FEATURES)})).await, json!({}));
}

#[tokio::test]
async fn tasks_of_two_servers_are_told_apart_and_answered_by_the_server_that_made_them() {
    let gw = three_lookalikes().await;
    let session = RawSession::open(&gw.url).await;
    assert!(session.init_answer["result"]["capabilities"]["tasks"].is_object(), "{}", session.init_answer);

    let mut ids = Vec::new();
    for (id, server) in [(1, "alpha"), (2, "beta")] {
        let params = json!({"name": format!("{server}__simulate-research-query"),
                            "arguments": {"topic": format!("{server} topic")}, "task": {"ttl": 60000}});
        let created = result(&session, id, "tools/call", params).await;
        let task_id = created["task"]["taskId"].as_str().unwrap().to_string();
        assert!(task_id.starts_with(&format!("{server}__")), "{created}");
        ids.push(task_id);
    }
    let (alpha, beta) = (ids[0].clone(), ids[1].clone());

    let listed = strings(&result(&session, 3, "tasks/list", json!({})).await["tasks"], "taskId");
    assert!(listed.contains(&alpha) && listed.contains(&beta), "{listed:?}");
    assert_eq!(result(&session, 4, "tasks/get", json!({"taskId": alpha})).await["taskId"], alpha);

    // Beta never issued alpha's task: the id's server, not a guess, decides.
    let stolen = alpha.replacen("alpha__", "beta__", 1);
    error(&session, 5, "tasks/get", json!({"taskId": stolen})).await;

    let cancelled = result(&session, 6, "tasks/cancel", json!({"taskId": beta})).await;
    assert_eq!((&cancelled["taskId"], cancelled["status"].as_str()), (&json!(beta), Some("cancelled")));

    let report = result(&session, 7, "tasks/result", json!({"taskId": alpha})).await;
    assert!(report["content"][0]["text"].as_str().unwrap().contains("Research Report: alpha topic"), "{report}");
    assert_eq!(report["_meta"][RELATED_TASK]["taskId"], alpha, "{report}");
    assert_eq!(result(&session, 8, "tasks/get", json!({"taskId": alpha})).await["status"], "completed");

    let bare = alpha.trim_start_matches("alpha__").to_string();
    let refused = error(&session, 9, "tasks/get", json!({"taskId": bare})).await;
    assert_eq!(refused["code"], -32602);
    assert!(refused["message"].as_str().unwrap().contains("<server>__<the server's task id>"), "{refused}");
}
