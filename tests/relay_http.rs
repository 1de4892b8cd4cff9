//! End to end over Streamable HTTP: an rmcp client, the gateway on
//! 127.0.0.1, and demo upstreams as real child processes and HTTP servers.

mod common;

use common::client::{call, call_text, connect, mcp_error, text_of, tool_names};
use common::*;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn tools_list_is_namespaced_and_filtered_by_policy() {
    let root = tempfile::tempdir().unwrap();
    let gw = start_gateway(&stdio_demo("demo", root.path()), DEMO_POLICY).await;
    let client = connect(&gw.url).await;
    let names = tool_names(&client).await;
    assert!(names.contains(&"demo__echo".to_string()), "{names:?}");
    assert!(names.contains(&"demo__read_file".to_string()));
    // Denied by a rule, and not allowed by any: both hidden.
    assert!(!names.contains(&"demo__run_command".to_string()), "{names:?}");
    assert!(!names.contains(&"demo__write_file".to_string()), "{names:?}");
    assert!(names.iter().all(|n| n.starts_with("demo__")));
    let info = client.peer_info().unwrap();
    assert_eq!(info.server_info.as_ref().unwrap().name, "mcp-warden");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn allowed_call_is_relayed_over_a_stdio_upstream() {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("notes.txt"), "hello from the workspace").unwrap();
    let gw = start_gateway(&stdio_demo("demo", root.path()), DEMO_POLICY).await;
    let client = connect(&gw.url).await;
    assert_eq!(call_text(&client, "demo__echo", json!({"text": "ping"})).await, "ping");
    assert_eq!(call_text(&client, "demo__read_file", json!({"path": "notes.txt"})).await, "hello from the workspace");
    client.cancel().await.unwrap();
    let records = audit_records(&gw.audit);
    let echo = records.iter().find(|r| r["tool"] == "echo").expect("the echo call was audited");
    assert_eq!(echo["verdict"], "allow");
    assert_eq!(echo["rule"], "demo-safe");
    assert_eq!(echo["client_name"], "warden-test-client");
    assert_eq!(echo["client_version"], "1.2.3");
    assert!(echo["args_digest"].as_str().unwrap().starts_with("hmac-sha256:"));
    assert!(!std::fs::read_to_string(&gw.audit).unwrap().contains("ping"), "argument values stay out of the audit");
}

#[tokio::test]
async fn allowed_call_is_relayed_over_an_http_upstream() {
    let root = tempfile::tempdir().unwrap();
    let demo = HttpDemo::start("remote", root.path()).await;
    let gw = start_gateway(&http_upstream("remote", &demo.url), DEMO_POLICY).await;
    let client = connect(&gw.url).await;
    assert!(tool_names(&client).await.contains(&"remote__echo".to_string()));
    assert_eq!(call_text(&client, "remote__echo", json!({"text": "over http"})).await, "over http");
    client.cancel().await.unwrap();
    demo.stop().await;
}

#[tokio::test]
async fn denied_call_is_refused_with_the_rule_and_audited() {
    let root = tempfile::tempdir().unwrap();
    let gw = start_gateway(&stdio_demo("demo", root.path()), DEMO_POLICY).await;
    let client = connect(&gw.url).await;
    let err = mcp_error(client.call_tool(call("demo__run_command", json!({"command": "id"}))).await.unwrap_err());
    assert_eq!(err.code.0, -32010);
    assert!(err.message.contains("no-shell"), "{}", err.message);
    let data = err.data.unwrap();
    assert_eq!(data["rule"], "no-shell");
    assert_eq!(data["tool"], "run_command");
    // Not allowed by any rule: the default denies.
    let err =
        mcp_error(client.call_tool(call("demo__write_file", json!({"path": "x", "content": "y"}))).await.unwrap_err());
    assert_eq!(err.data.unwrap()["rule"], "defaults.tools");
    client.cancel().await.unwrap();
    let records = audit_records(&gw.audit);
    let denied = records.iter().find(|r| r["tool"] == "run_command").unwrap();
    assert_eq!(denied["verdict"], "deny");
    assert_eq!(denied["outcome"], "blocked");
    assert!(mcp_warden::audit::verify(&gw.audit).is_ok());
}

#[tokio::test]
async fn unknown_tools_and_servers_are_refused() {
    let root = tempfile::tempdir().unwrap();
    let gw = start_gateway(&stdio_demo("demo", root.path()), DEMO_POLICY).await;
    let client = connect(&gw.url).await;
    for name in ["evil__echo", "echo", "demo__", "demo__no_such_tool"] {
        let err = mcp_error(client.call_tool(call(name, json!({}))).await.unwrap_err());
        assert_eq!(err.code.0, -32010, "{name}: {}", err.message);
    }
    client.cancel().await.unwrap();
    let records = audit_records(&gw.audit);
    assert_eq!(records.iter().filter(|r| r["verdict"] == "deny").count(), 4);
}

#[tokio::test]
async fn two_upstreams_with_the_same_tool_never_collide() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    std::fs::write(a.path().join("who.txt"), "alpha").unwrap();
    std::fs::write(b.path().join("who.txt"), "beta").unwrap();
    let upstreams = format!("{}{}", stdio_demo("alpha", a.path()), stdio_demo("beta", b.path()));
    let gw = start_gateway(&upstreams, DEMO_POLICY).await;
    let client = connect(&gw.url).await;
    let names = tool_names(&client).await;
    assert!(names.contains(&"alpha__read_file".to_string()) && names.contains(&"beta__read_file".to_string()));
    assert_eq!(call_text(&client, "alpha__read_file", json!({"path": "who.txt"})).await, "alpha");
    assert_eq!(call_text(&client, "beta__read_file", json!({"path": "who.txt"})).await, "beta");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn per_server_endpoint_keeps_original_names() {
    let root = tempfile::tempdir().unwrap();
    let gw = start_gateway(&stdio_demo("demo", root.path()), DEMO_POLICY).await;
    let client = connect(&format!("{}/demo", gw.url)).await;
    let names = tool_names(&client).await;
    assert!(names.contains(&"echo".to_string()) && !names.contains(&"run_command".to_string()), "{names:?}");
    assert_eq!(call_text(&client, "echo", json!({"text": "direct"})).await, "direct");
    let err = mcp_error(client.call_tool(call("run_command", json!({"command": "id"}))).await.unwrap_err());
    assert_eq!(err.data.unwrap()["rule"], "no-shell");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn elicitation_from_the_upstream_is_answered_by_the_client() {
    let root = tempfile::tempdir().unwrap();
    let gw = start_gateway(&stdio_demo("demo", root.path()), DEMO_POLICY).await;
    let client = connect(&gw.url).await;
    let answer = call_text(&client, "demo__confirm_action", json!({"action": "deploy v2"})).await;
    assert_eq!(answer, "confirmed: deploy v2");
    let asked = client.service().elicited.lock().unwrap().clone();
    assert_eq!(asked.len(), 1);
    assert!(asked[0].contains("deploy v2"), "{asked:?}");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn elicitation_works_through_an_http_upstream() {
    let root = tempfile::tempdir().unwrap();
    let demo = HttpDemo::start("remote", root.path()).await;
    let gw = start_gateway(&http_upstream("remote", &demo.url), DEMO_POLICY).await;
    let client = connect(&gw.url).await;
    let answer = call_text(&client, "remote__confirm_action", json!({"action": "rotate keys"})).await;
    assert_eq!(answer, "confirmed: rotate keys");
    client.cancel().await.unwrap();
    demo.stop().await;
}

#[tokio::test]
async fn progress_and_list_changed_notifications_are_relayed() {
    let root = tempfile::tempdir().unwrap();
    let gw = start_gateway(&stdio_demo("demo", root.path()), DEMO_POLICY).await;
    let client = connect(&gw.url).await;
    let mut params = call("demo__slow_count", json!({"steps": 3, "delay_ms": 10}));
    params.meta = Some(rmcp::model::RequestMetaObject::with_progress_token(rmcp::model::ProgressToken(
        rmcp::model::NumberOrString::String("count-1".into()),
    )));
    assert_eq!(text_of(&client.call_tool(params).await.unwrap()), "counted 3");
    let progress = client.service().progress.lock().unwrap().clone();
    assert_eq!(progress.len(), 3, "{progress:?}");
    // rmcp's client substitutes a token of its own; the gateway relays
    // whichever token the request carried.
    assert!(progress.iter().all(|p| p.progress_token == progress[0].progress_token), "{progress:?}");
    assert_eq!(progress.iter().map(|p| p.progress).collect::<Vec<_>>(), vec![1.0, 2.0, 3.0]);

    assert!(!tool_names(&client).await.contains(&"demo__extra_tool".to_string()));
    call_text(&client, "demo__enable_extra_tool", json!({})).await;
    tokio::time::timeout(Duration::from_secs(5), client.service().tools_changed.notified())
        .await
        .expect("tools/list_changed reached the client");
    assert!(tool_names(&client).await.contains(&"demo__extra_tool".to_string()));
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn resources_and_prompts_pass_through() {
    let root = tempfile::tempdir().unwrap();
    let gw = start_gateway(&stdio_demo("demo", root.path()), DEMO_POLICY).await;
    let client = connect(&gw.url).await;
    let resources = client.list_all_resources().await.unwrap();
    let uri = resources.first().expect("the demo has a resource").uri.clone();
    let read = client.read_resource(rmcp::model::ReadResourceRequestParams::new(uri.clone())).await.unwrap();
    assert!(!read.contents.is_empty());
    let prompts = client.list_all_prompts().await.unwrap();
    let prompt = prompts.first().expect("the demo has a prompt");
    assert!(prompt.name.starts_with("demo__"), "{}", prompt.name);
    let mut args = serde_json::Map::new();
    args.insert("topic".into(), json!("gateways"));
    let got = client
        .get_prompt(rmcp::model::GetPromptRequestParams::new(prompt.name.clone()).with_arguments(args))
        .await
        .unwrap();
    assert!(!got.messages.is_empty());
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn upstream_crash_mid_call_fails_fast_then_recovers() {
    let root = tempfile::tempdir().unwrap();
    let gw = start_gateway(&stdio_demo("demo", root.path()), DEMO_POLICY).await;
    let client = connect(&gw.url).await;
    assert_eq!(call_text(&client, "demo__echo", json!({"text": "before"})).await, "before");
    let started = std::time::Instant::now();
    let err = mcp_error(client.call_tool(call("demo__crash", json!({}))).await.unwrap_err());
    assert_eq!(err.code.0, -32011, "{}", err.message);
    assert!(err.message.contains("exited with status 3"), "{}", err.message);
    assert!(started.elapsed() < Duration::from_secs(4), "the error came at once, not at the timeout");
    // Restarted with backoff; the next call goes through.
    assert_eq!(call_text(&client, "demo__echo", json!({"text": "after"})).await, "after");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn hanging_upstream_times_out_and_other_calls_carry_on() {
    let root = tempfile::tempdir().unwrap();
    let gw = start_gateway(&stdio_demo("demo", root.path()), DEMO_POLICY).await;
    let client = connect(&gw.url).await;
    let err = mcp_error(client.call_tool(call("demo__sleep", json!({"ms": 60000}))).await.unwrap_err());
    assert_eq!(err.code.0, -32012, "{}", err.message);
    assert!(err.message.contains("did not answer within 5s"), "{}", err.message);
    assert_eq!(call_text(&client, "demo__echo", json!({"text": "still here"})).await, "still here");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn stdio_upstream_gets_a_clean_environment() {
    // SAFETY: set before the gateway spawns anything; no other thread reads it.
    unsafe { std::env::set_var("WARDEN_TEST_SECRET", "hunter2") };
    let root = tempfile::tempdir().unwrap();
    let upstream = format!("{}env = {{ GREETING = \"hello\" }}\n", stdio_demo("demo", root.path()));
    let gw = start_gateway(&upstream, DEMO_POLICY).await;
    let client = connect(&gw.url).await;
    assert_eq!(call_text(&client, "demo__get_env", json!({"name": "WARDEN_TEST_SECRET"})).await, "<unset>");
    assert_eq!(call_text(&client, "demo__get_env", json!({"name": "HOME"})).await, "<unset>");
    assert_eq!(call_text(&client, "demo__get_env", json!({"name": "GREETING"})).await, "hello");
    assert_ne!(call_text(&client, "demo__get_env", json!({"name": "PATH"})).await, "<unset>");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn audit_mode_records_but_does_not_block() {
    let root = tempfile::tempdir().unwrap();
    let policy = DEMO_POLICY.replace("mode = \"enforce\"", "mode = \"audit\"");
    let gw = start_gateway(&stdio_demo("demo", root.path()), &policy).await;
    let client = connect(&gw.url).await;
    assert!(tool_names(&client).await.contains(&"demo__run_command".to_string()));
    let out = call_text(&client, "demo__run_command", json!({"command": "echo audited"})).await;
    assert!(out.contains("audited"), "{out}");
    client.cancel().await.unwrap();
    let records = audit_records(&gw.audit);
    let record = records.iter().find(|r| r["tool"] == "run_command").unwrap();
    assert_eq!(record["verdict"], "deny");
    assert_eq!(record["enforced"], false);
    assert_eq!(record["outcome"], "forwarded");
}

#[tokio::test]
async fn each_forwarded_call_is_recorded_again_with_how_the_upstream_answered() {
    let root = tempfile::tempdir().unwrap();
    let gw = start_gateway(&stdio_demo("demo", root.path()), DEMO_POLICY).await;
    let client = connect(&gw.url).await;
    assert_eq!(call_text(&client, "demo__echo", json!({"text": "ping"})).await, "ping");
    let crashed = client.call_tool(call("demo__crash", json!({}))).await;
    assert!(crashed.is_err(), "a crashing upstream answers nothing: {crashed:?}");
    let _ = client.call_tool(call("demo__run_command", json!({"command": "id"}))).await;
    client.cancel().await.unwrap();

    let records = wait_for_audit(&gw.audit, |r| r.iter().filter(|r| is_call_ending(r)).count() == 2).await;
    let of = |tool: &str| records.iter().filter(|r| r["tool"] == tool).cloned().collect::<Vec<_>>();
    let outcomes = |tool: &str| of(tool).iter().map(|r| r["outcome"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    // The decision first (written before the call was forwarded), then how it ended.
    assert_eq!(outcomes("echo"), ["forwarded", "completed"]);
    assert_eq!(outcomes("crash"), ["forwarded", "upstream_error"]);
    // A refused call never reached the upstream, so nothing more is said of it.
    assert_eq!(outcomes("run_command"), ["blocked"]);
    let ended = &of("echo")[1];
    assert_eq!((ended["verdict"].as_str(), ended["rule"].as_str()), (Some("allow"), Some("demo-safe")));
    assert_eq!(ended["args_digest"], of("echo")[0]["args_digest"], "both records are of the same call");
    assert!(ended["latency_us"].as_u64().unwrap() > 0, "the upstream's latency is recorded");
    assert_eq!(call_endings(&gw.audit).len(), 2);
}

#[tokio::test]
async fn a_session_cannot_hold_more_requests_in_flight_than_its_limit() {
    let root = tempfile::tempdir().unwrap();
    let relay = "request_timeout = \"5s\"\nmax_inflight_per_session = 1";
    let gw = start_gateway_with_relay(&stdio_demo("demo", root.path()), DEMO_POLICY, relay).await;
    let greedy = connect(&gw.url).await;
    // A slow call in flight (the client may have had a request of its own
    // in flight when it was sent: then it is refused, and sent again).
    let slow = loop {
        let peer = greedy.peer().clone();
        let slow = tokio::spawn(async move { peer.call_tool(call("demo__sleep", json!({"ms": 1500}))).await });
        tokio::time::sleep(Duration::from_millis(200)).await;
        if !slow.is_finished() {
            break slow;
        }
    };
    let refused = mcp_error(greedy.call_tool(call("demo__echo", json!({"text": "more"}))).await.unwrap_err());
    assert_eq!(refused.code.0 as i64, mcp_warden::errors::code::UPSTREAM_UNAVAILABLE);
    assert!(refused.message.contains("max_inflight_per_session"), "{}", refused.message);
    // Another session is not held back by this one.
    let other = connect(&gw.url).await;
    assert_eq!(call_text(&other, "demo__echo", json!({"text": "fine"})).await, "fine");
    assert_eq!(text_of(&slow.await.unwrap().unwrap()), "slept 1500 ms");
    // Once the slow call is done, the session may call again.
    assert_eq!(call_text(&greedy, "demo__echo", json!({"text": "again"})).await, "again");
}

#[tokio::test]
async fn one_call_reaches_the_same_upstream_through_all_three_fronts() {
    use common::fronts::{ThreeFronts, ALL_FRONTS};
    let root = tempfile::tempdir().unwrap();
    let fronts = ThreeFronts::start(&stdio_demo("demo", root.path()), DEMO_POLICY, "demo").await;
    for front in ALL_FRONTS {
        let result = fronts.call(front, "echo", json!({"text": format!("{front:?}")})).await.unwrap();
        assert_eq!(text_of(&result), format!("{front:?}"));
        let refused = mcp_error(fronts.call(front, "run_command", json!({"command": "id"})).await.unwrap_err());
        assert_eq!(refused.code.0 as i64, mcp_warden::errors::code::POLICY_DENIED, "{front:?}");
    }
}
