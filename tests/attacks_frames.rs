//! Frames that only resemble a policed method, sent through all three
//! fronts to an upstream as lenient as careless servers are (it runs
//! `Tools/Call` and a `tools/call` notification as calls): none reaches it,
//! each is refused (or, as a notification, dropped) and audited, and the
//! correctly spelt call next to them still goes through.

mod common;

use common::raw::{RawSession, RawStdio, JSON_ONLY};
use common::*;
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

/// Only `echo` is allowed; `garbage` is the tool a smuggled frame tries to run.
const ECHO_ONLY: &str = "[[rules]]\nid = \"echo-only\"\nserver = \"bad\"\ntools = [\"echo\"]\naction = \"allow\"\n";

fn frame(id: Option<u64>, method: &str, tool: &str) -> Value {
    let mut frame = json!({"jsonrpc":"2.0","method":method,"params":{"name":tool,"arguments":{"text":"x"}}});
    if let Some(id) = id {
        frame["id"] = json!(id);
    }
    frame
}

/// The smuggling attempts, each as (id or notification, method).
const SPELLINGS: [(Option<u64>, &str); 6] = [
    (Some(11), "Tools/Call"),
    (Some(12), "TOOLS/CALL"),
    (Some(13), " tools/call "),
    (Some(14), "tools/call\t"),
    (None, "tools/call"),
    (None, "Tools/Call"),
];

fn ran(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("ran "))
        .map(String::from)
        .collect()
}

fn assert_refused(answer: &Value, method: &str) {
    assert_eq!(answer["error"]["code"], mcp_warden::errors::code::POLICY_DENIED, "{method:?}: {answer}");
    assert_eq!(answer["error"]["data"]["rule"], "policed-method-spelling", "{method:?}: {answer}");
}

#[tokio::test]
async fn a_call_in_any_other_spelling_or_as_a_notification_never_reaches_a_lenient_upstream() {
    let logdir = tempfile::tempdir().unwrap();
    let log = logdir.path().join("upstream.log");
    let gw = start_gateway(&stdio_hostile("bad", &log), ECHO_ONLY).await;

    // /mcp and /mcp/<server>, raw HTTP (no SDK sends these frames).
    for (url, tool) in [(gw.url.clone(), "bad__garbage"), (format!("{}/bad", gw.url), "garbage")] {
        let session = RawSession::open(&url).await;
        for (id, method) in SPELLINGS {
            let response = session.request(JSON_ONLY, frame(id, method, tool).to_string()).send().await.unwrap();
            match id {
                Some(_) => assert_refused(&response.json::<Value>().await.unwrap(), method),
                None => assert_eq!(response.status(), 202, "a notification gets no answer, only acceptance"),
            }
        }
        let echo = if tool.contains("__") { "bad__echo" } else { "echo" };
        let answer = session.json_answer(&frame(Some(20), "tools/call", echo)).await;
        assert_eq!(answer["result"]["content"][0]["text"], "x", "the correct call still works: {answer}");
    }

    // The stdio front, raw JSON lines.
    let mut stdio = RawStdio::start(&gw.config_path).await;
    for (id, method) in SPELLINGS {
        match id {
            Some(_) => assert_refused(&stdio.request(frame(id, method, "bad__garbage")).await, method),
            None => stdio.send(frame(id, method, "bad__garbage")).await,
        }
    }
    let answer = stdio.request(frame(Some(20), "tools/call", "bad__echo")).await;
    assert_eq!(answer["result"]["content"][0]["text"], "x", "{answer}");

    // Only the three correct calls ran; nothing smuggled did.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(ran(&log), ["ran echo", "ran echo", "ran echo"], "{:?}", std::fs::read_to_string(&log));
    // Every attempt is on record as a refusal: 6 per front.
    let records = audit_records(&gw.audit);
    let refused: Vec<&Value> =
        records.iter().filter(|r| r["rule"].as_str().unwrap_or("").starts_with("policed-method")).collect();
    assert_eq!(refused.len(), 18, "{records:#?}");
    assert!(refused.iter().all(|r| r["verdict"] == "deny" && r["outcome"] == "blocked"));
    assert_eq!(refused.iter().filter(|r| r["rule"] == "policed-method-notification").count(), 6);
    assert!(refused.iter().all(|r| r["tool"].as_str().unwrap().ends_with("garbage")), "{refused:#?}");
}

#[tokio::test]
async fn a_listing_in_another_spelling_cannot_fetch_the_unfiltered_tools() {
    let logdir = tempfile::tempdir().unwrap();
    let gw = start_gateway(&stdio_hostile("bad", &logdir.path().join("upstream.log")), ECHO_ONLY).await;
    // On /mcp/<server> every unknown method is relayed as it is: a lenient
    // server would answer `Tools/List` with every tool, unfiltered.
    let session = RawSession::open(&format!("{}/bad", gw.url)).await;
    for method in ["Tools/List", " tools/list", "TOOLS/LIST"] {
        let answer = session.json_answer(&json!({"jsonrpc":"2.0","id":3,"method":method})).await;
        assert_refused(&answer, method);
    }
    let listed = session.json_answer(&json!({"jsonrpc":"2.0","id":4,"method":"tools/list"})).await;
    let names: Vec<&str> =
        listed["result"]["tools"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["echo"]);
}
