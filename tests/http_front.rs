//! The Streamable HTTP front at the wire level: what a hostile or broken
//! client gets back, with raw HTTP requests on 127.0.0.1.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

const ACCEPT: &str = "application/json, text/event-stream";

fn init_body() -> Value {
    json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{
        "protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}})
}

async fn post(url: &str, session: Option<&str>, body: impl Into<reqwest::Body>) -> reqwest::Response {
    let mut req =
        reqwest::Client::new().post(url).header("content-type", "application/json").header("accept", ACCEPT).body(body);
    if let Some(session) = session {
        req = req.header("mcp-session-id", session);
    }
    req.send().await.unwrap()
}

async fn open_session(url: &str) -> String {
    let resp = post(url, None, init_body().to_string()).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let session = resp.headers()["mcp-session-id"].to_str().unwrap().to_string();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["result"]["protocolVersion"], "2025-06-18");
    let note = json!({"jsonrpc":"2.0","method":"notifications/initialized"}).to_string();
    assert_eq!(post(url, Some(&session), note).await.status(), StatusCode::ACCEPTED);
    session
}

/// The JSON-RPC messages of an SSE or JSON response body.
async fn messages(resp: reqwest::Response) -> Vec<Value> {
    let is_sse = resp.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream");
    let text = resp.text().await.unwrap();
    if !is_sse {
        return vec![serde_json::from_str(&text).unwrap()];
    }
    text.lines().filter_map(|l| l.strip_prefix("data:")).map(|d| serde_json::from_str(d.trim()).unwrap()).collect()
}

async fn ping(url: &str, session: &str, id: i64) -> Value {
    let resp = post(url, Some(session), json!({"jsonrpc":"2.0","id":id,"method":"ping"}).to_string()).await;
    assert_eq!(resp.status(), StatusCode::OK);
    messages(resp).await.pop().unwrap()
}

async fn gateway() -> (TestGateway, tempfile::TempDir) {
    let root = tempfile::tempdir().unwrap();
    (start_gateway(&stdio_demo("demo", root.path()), DEMO_POLICY).await, root)
}

#[tokio::test]
async fn session_ids_are_random_128_bit_values() {
    let (gw, _root) = gateway().await;
    let (a, b) = (open_session(&gw.url).await, open_session(&gw.url).await);
    assert_eq!(a.len(), 32);
    assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
    assert_ne!(a, b);
}

#[tokio::test]
async fn malformed_json_gets_a_parse_error_and_the_session_survives() {
    let (gw, _root) = gateway().await;
    let session = open_session(&gw.url).await;
    let resp = post(&gw.url, Some(&session), "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":").await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], -32700);
    assert_eq!(body["id"], Value::Null);
    // Not JSON-RPC at all: invalid request, with the id echoed.
    let resp = post(&gw.url, Some(&session), json!({"id": 3, "method": "ping"}).to_string()).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], -32600);
    assert_eq!(body["id"], 3);
    assert_eq!(ping(&gw.url, &session, 4).await["result"], json!({}));
}

#[tokio::test]
async fn oversized_body_is_refused_with_413() {
    let (gw, _root) = gateway().await;
    let session = open_session(&gw.url).await;
    let huge = json!({"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"demo__echo","arguments":{"text":"x".repeat(70_000)}}});
    let resp = post(&gw.url, Some(&session), huge.to_string()).await;
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(ping(&gw.url, &session, 6).await["result"], json!({}));
}

#[tokio::test]
async fn foreign_origin_and_rebinding_host_are_refused_with_403() {
    let (gw, _root) = gateway().await;
    let client = reqwest::Client::new();
    let send = |origin: Option<&'static str>, host: Option<&'static str>| {
        let mut req = client
            .post(&gw.url)
            .header("content-type", "application/json")
            .header("accept", ACCEPT)
            .body(init_body().to_string());
        if let Some(origin) = origin {
            req = req.header("origin", origin);
        }
        if let Some(host) = host {
            req = req.header("host", host);
        }
        req.send()
    };
    assert_eq!(send(Some("https://evil.example"), None).await.unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(send(Some("null"), None).await.unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(send(None, Some("evil.example:8080")).await.unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(send(None, Some("localhost.evil.example")).await.unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(send(Some("http://localhost:3000"), None).await.unwrap().status(), StatusCode::OK);
}

#[tokio::test]
async fn unknown_session_is_404_and_missing_session_is_400() {
    let (gw, _root) = gateway().await;
    let ping = json!({"jsonrpc":"2.0","id":1,"method":"ping"}).to_string();
    let resp = post(&gw.url, Some("00000000000000000000000000000000"), ping.clone()).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let resp = post(&gw.url, None, ping).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn delete_ends_the_session() {
    let (gw, _root) = gateway().await;
    let session = open_session(&gw.url).await;
    let client = reqwest::Client::new();
    let resp = client.delete(&gw.url).header("mcp-session-id", &session).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = post(&gw.url, Some(&session), json!({"jsonrpc":"2.0","id":1,"method":"ping"}).to_string()).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn unsupported_protocol_version_header_is_400() {
    let (gw, _root) = gateway().await;
    let session = open_session(&gw.url).await;
    let resp = reqwest::Client::new()
        .post(&gw.url)
        .header("content-type", "application/json")
        .header("accept", ACCEPT)
        .header("mcp-session-id", &session)
        .header("mcp-protocol-version", "1999-01-01")
        .body(json!({"jsonrpc":"2.0","id":1,"method":"ping"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: Value = resp.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("1999-01-01"));
}

#[tokio::test]
async fn wrong_content_type_and_method_are_refused() {
    let (gw, _root) = gateway().await;
    let client = reqwest::Client::new();
    let resp = client.post(&gw.url).header("content-type", "text/plain").body("{}").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let resp = client.put(&gw.url).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn json_only_clients_get_a_json_answer() {
    let (gw, _root) = gateway().await;
    let session = open_session(&gw.url).await;
    let resp = reqwest::Client::new()
        .post(&gw.url)
        .header("content-type", "application/json")
        .header("accept", "application/json")
        .header("mcp-session-id", &session)
        .body(json!({"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"demo__echo","arguments":{"text":"j"}}}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-type"], "application/json");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["id"], 9);
    assert_eq!(body["result"]["content"][0]["text"], "j");
}

#[tokio::test]
async fn a_json_only_client_gets_requests_for_it_on_the_get_stream_and_its_call_completes() {
    use futures::StreamExt;
    let (gw, _root) = gateway().await;
    let mut init = init_body();
    init["params"]["capabilities"] = json!({"elicitation": {}});
    let resp = post(&gw.url, None, init.to_string()).await;
    let session = resp.headers()["mcp-session-id"].to_str().unwrap().to_string();
    let note = json!({"jsonrpc":"2.0","method":"notifications/initialized"}).to_string();
    assert_eq!(post(&gw.url, Some(&session), note).await.status(), StatusCode::ACCEPTED);
    let client = reqwest::Client::new();
    let stream = client.get(&gw.url).header("accept", "text/event-stream").header("mcp-session-id", &session).send();
    let mut stream = stream.await.unwrap().bytes_stream();

    let call = json!({"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"demo__confirm_action","arguments":{"action":"rotate keys"}}});
    let answer = tokio::spawn(
        client
            .post(&gw.url)
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .header("mcp-session-id", &session)
            .body(call.to_string())
            .send(),
    );
    // The upstream's elicitation arrives on the GET stream, not lost in the JSON answer.
    let mut seen = String::new();
    let request = loop {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), stream.next())
            .await
            .expect("the elicitation reaches the GET stream")
            .unwrap()
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
        let found = seen
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
            .find(|m| m["method"] == "elicitation/create");
        if let Some(found) = found {
            break found;
        }
    };
    let reply = json!({"jsonrpc":"2.0","id":request["id"],"result":{"action":"accept","content":{"confirm":true}}});
    assert_eq!(post(&gw.url, Some(&session), reply.to_string()).await.status(), StatusCode::ACCEPTED);
    let resp = answer.await.unwrap().unwrap();
    assert_eq!(resp.headers()["content-type"], "application/json");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["id"], 5);
    assert_eq!(body["result"]["content"][0]["text"], "confirmed: rotate keys", "{body}");
}

#[tokio::test]
async fn unknown_fields_survive_the_relay() {
    let (gw, _root) = gateway().await;
    let session = open_session(&gw.url).await;
    let resp = post(&gw.url, Some(&session), json!({"jsonrpc":"2.0","id":1,"method":"tools/list"}).to_string()).await;
    let list = messages(resp).await.pop().unwrap();
    let echo = list["result"]["tools"].as_array().unwrap().iter().find(|t| t["name"] == "demo__echo").unwrap().clone();
    // Whatever the upstream declared beyond name comes through: schema and
    // annotations intact (rmcp's typed structs would have dropped unknown keys).
    assert!(echo["inputSchema"]["properties"]["text"].is_object(), "{echo}");
    assert!(echo.get("description").is_some());
}

#[tokio::test]
async fn a_batch_is_answered_as_an_array() {
    let (gw, _root) = gateway().await;
    let session = open_session(&gw.url).await;
    let batch = json!([
        {"jsonrpc":"2.0","id":1,"method":"ping"},
        {"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"demo__run_command","arguments":{"command":"id"}}},
        {"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"x","progress":1}}
    ]);
    let resp = post(&gw.url, Some(&session), batch.to_string()).await;
    let answers: Vec<Value> = resp.json().await.unwrap();
    assert_eq!(answers.len(), 2);
    let denied = answers.iter().find(|a| a["id"] == 2).unwrap();
    assert_eq!(denied["error"]["data"]["rule"], "no-shell");
}

#[tokio::test]
async fn a_second_get_stream_is_a_conflict() {
    let (gw, _root) = gateway().await;
    let session = open_session(&gw.url).await;
    let client = reqwest::Client::new();
    let get = || client.get(&gw.url).header("accept", "text/event-stream").header("mcp-session-id", &session).send();
    let first = get().await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(get().await.unwrap().status(), StatusCode::CONFLICT);
    drop(first);
    // The stream slot comes back once the first stream is gone.
    let mut reopened = StatusCode::CONFLICT;
    for _ in 0..250 {
        reopened = get().await.unwrap().status();
        if reopened == StatusCode::OK {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(reopened, StatusCode::OK);
}
