//! The Streamable HTTP front at the wire level: what a hostile or broken
//! client gets back, with raw HTTP requests on 127.0.0.1.

mod common;

use common::raw::{self, messages, RawSession, SseNext, JSON_ONLY, SSE_OR_JSON};
use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

/// A version older than the latest: the gateway must answer with the one
/// the client asked for.
fn init_body() -> Value {
    raw::initialize("2025-06-18")
}

async fn open_session(url: &str) -> RawSession {
    let session = RawSession::open_with(url, &init_body()).await;
    assert_eq!(session.init_answer["result"]["protocolVersion"], "2025-06-18");
    session
}

async fn ping(session: &RawSession, id: i64) -> Value {
    let resp = session.post(json!({"jsonrpc":"2.0","id":id,"method":"ping"}).to_string()).await;
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
    let (a, b) = (open_session(&gw.url).await.id, open_session(&gw.url).await.id);
    assert_eq!(a.len(), 32);
    assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
    assert_ne!(a, b);
}

#[tokio::test]
async fn malformed_json_gets_a_parse_error_and_the_session_survives() {
    let (gw, _root) = gateway().await;
    let session = open_session(&gw.url).await;
    let resp = session.post("{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":").await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], -32700);
    assert_eq!(body["id"], Value::Null);
    // Not JSON-RPC at all: invalid request, with the id echoed.
    let resp = session.post(json!({"id": 3, "method": "ping"}).to_string()).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], -32600);
    assert_eq!(body["id"], 3);
    assert_eq!(ping(&session, 4).await["result"], json!({}));
}

#[tokio::test]
async fn oversized_body_is_refused_with_413() {
    let (gw, _root) = gateway().await;
    let session = open_session(&gw.url).await;
    let huge = json!({"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"demo__echo","arguments":{"text":"x".repeat(70_000)}}});
    let resp = session.post(huge.to_string()).await;
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(ping(&session, 6).await["result"], json!({}));
}

#[tokio::test]
async fn foreign_origin_and_rebinding_host_are_refused_with_403() {
    let (gw, _root) = gateway().await;
    let client = reqwest::Client::new();
    let send = |origin: Option<&'static str>, host: Option<&'static str>| {
        let mut req = raw::request(&client, &gw.url, None, SSE_OR_JSON, init_body().to_string());
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
    let http = reqwest::Client::new();
    let ping = json!({"jsonrpc":"2.0","id":1,"method":"ping"}).to_string();
    let resp = raw::post(&http, &gw.url, Some("00000000000000000000000000000000"), ping.clone()).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let resp = raw::post(&http, &gw.url, None, ping).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn delete_ends_the_session() {
    let (gw, _root) = gateway().await;
    let session = open_session(&gw.url).await;
    assert_eq!(session.delete().await.status(), StatusCode::OK);
    let resp = session.post(json!({"jsonrpc":"2.0","id":1,"method":"ping"}).to_string()).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn unsupported_protocol_version_header_is_400() {
    let (gw, _root) = gateway().await;
    let session = open_session(&gw.url).await;
    let ping = json!({"jsonrpc":"2.0","id":1,"method":"ping"}).to_string();
    let resp = session.request(SSE_OR_JSON, ping).header("mcp-protocol-version", "1999-01-01").send().await.unwrap();
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
    let call =
        json!({"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"demo__echo","arguments":{"text":"j"}}});
    let resp = session.request(JSON_ONLY, call.to_string()).send().await.unwrap();
    assert_eq!(resp.headers()["content-type"], "application/json");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["id"], 9);
    assert_eq!(body["result"]["content"][0]["text"], "j");
}

#[tokio::test]
async fn a_quick_answer_is_plain_json_even_for_a_client_that_takes_sse() {
    let (gw, _root) = gateway().await;
    let session = open_session(&gw.url).await;
    // Listed first, as clients do: the first sight of a definition (its
    // digest, its scan) is not what this test times.
    let list = json!({"jsonrpc":"2.0","id":11,"method":"tools/list"});
    messages(session.request(SSE_OR_JSON, list.to_string()).send().await.unwrap()).await;
    let call =
        json!({"jsonrpc":"2.0","id":10,"method":"tools/call","params":{"name":"demo__echo","arguments":{"text":"q"}}});
    let resp = session.request(SSE_OR_JSON, call.to_string()).send().await.unwrap();
    assert_eq!(resp.headers()["content-type"], "application/json", "one answer needs no stream");
    let body: Value = resp.json().await.unwrap();
    assert_eq!((body["id"].clone(), body["result"]["content"][0]["text"].clone()), (json!(10), json!("q")));
}

#[tokio::test]
async fn a_json_only_client_gets_requests_for_it_on_the_get_stream_and_its_call_completes() {
    let (gw, _root) = gateway().await;
    let mut init = init_body();
    init["params"]["capabilities"] = json!({"elicitation": {}});
    let session = RawSession::open_with(&gw.url, &init).await;
    let mut stream = session.get_stream().await;

    let call = json!({"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"demo__confirm_action","arguments":{"action":"rotate keys"}}});
    let answer = tokio::spawn(session.request(JSON_ONLY, call.to_string()).send());
    // The upstream's elicitation arrives on the GET stream, not lost in the JSON answer.
    let request = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match stream.next().await {
                SseNext::Message(msg) if msg["method"] == "elicitation/create" => return msg,
                SseNext::Message(_) => {}
                SseNext::End | SseNext::Broken(_) => panic!("the GET stream ended before the elicitation"),
            }
        }
    })
    .await
    .expect("the elicitation reaches the GET stream");
    let reply = json!({"jsonrpc":"2.0","id":request["id"],"result":{"action":"accept","content":{"confirm":true}}});
    assert_eq!(session.post(reply.to_string()).await.status(), StatusCode::ACCEPTED);
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
    let resp = session.post(json!({"jsonrpc":"2.0","id":1,"method":"tools/list"}).to_string()).await;
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
    let resp = session.post(batch.to_string()).await;
    let answers: Vec<Value> = resp.json().await.unwrap();
    assert_eq!(answers.len(), 2);
    let denied = answers.iter().find(|a| a["id"] == 2).unwrap();
    assert_eq!(denied["error"]["data"]["rule"], "no-shell");
}

#[tokio::test]
async fn a_second_get_stream_is_a_conflict() {
    let (gw, _root) = gateway().await;
    let session = open_session(&gw.url).await;
    let get =
        || session.http.get(&gw.url).header("accept", "text/event-stream").header("mcp-session-id", &session.id).send();
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
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(reopened, StatusCode::OK);
}
