//! The files the gateway keeps, attacked as a local user, a log reader and
//! a second process would: who may read them, what a reader of the audit
//! log can learn (arguments by dictionary, session ids to hijack), how much
//! one hostile name can make a record take, and two gateways on one config.

mod common;

use common::approval::{mail_policy, message, AdminGateway, TOKEN};
use common::binary::ServedGateway;
use common::client::{call, call_text, connect, connect_stdio, mcp_error};
use common::fronts::{ThreeFronts, ALL_FRONTS};
use common::raw::RawSession;
use common::*;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o777
}

fn file_text(path: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(path).unwrap_or_default()).into_owned()
}

/// The records of one chain file only.
fn records_in(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path).unwrap_or_default().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn is_session_digest(session: &Value) -> bool {
    let session = session.as_str().unwrap_or_default();
    session
        .strip_prefix("hmac-sha256:")
        .is_some_and(|hex| hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[tokio::test]
async fn the_audit_log_its_key_and_the_approval_store_are_private_to_the_gateway_user() {
    let root = tempfile::tempdir().unwrap();
    let gw = start_gateway(&stdio_demo("demo", root.path()), DEMO_POLICY).await;
    let client = connect(&gw.url).await;
    call_text(&client, "demo__echo", json!({"text": "hello"})).await;
    for name in ["audit.jsonl", "audit.key", "approvals.sqlite"] {
        assert_eq!(mode(&gw.dir.path().join(name)), 0o600, "{name} is readable by its owner only");
    }
    client.cancel().await.unwrap();
}

/// A dictionary of likely arguments, hashed the way the log used to hash
/// them, finds nothing; the key beside the log is what keys every digest,
/// the same in every process of the installation.
#[tokio::test]
async fn a_logged_argument_cannot_be_recovered_with_a_dictionary_on_any_front() {
    let root = tempfile::tempdir().unwrap();
    let fronts = ThreeFronts::start(&stdio_demo("demo", root.path()), DEMO_POLICY, "demo").await;
    for front in ALL_FRONTS {
        fronts.call(front, "echo", json!({"text": "yes"})).await.expect("echo is allowed");
    }
    let audit = &fronts.gw.audit;
    let records =
        wait_for_audit(audit, |r| r.iter().filter(|r| r["tool"] == "echo" && is_call_ending(r)).count() == 3).await;
    let digests: Vec<&str> = records
        .iter()
        .filter(|r| r["tool"] == "echo" && r["outcome"] == "forwarded")
        .map(|r| r["args_digest"].as_str().unwrap())
        .collect();
    assert_eq!(digests.len(), 3, "one decision per front");

    let dictionary = ["yes", "no", "y", "n", "true", "ok", "hello", "/etc/passwd"];
    let plain: Vec<String> = dictionary
        .iter()
        .map(|word| format!("sha256:{}", hex::encode(Sha256::digest(json!({ "text": word }).to_string()))))
        .collect();
    for digest in &digests {
        assert!(digest.starts_with("hmac-sha256:"), "{digest}");
        assert!(!plain.iter().any(|p| p == digest || p[7..] == digest[12..]), "the digest is not a plain SHA-256");
    }
    // With the key file, and only with it, the digest is reproduced.
    let key = hex::decode(std::fs::read_to_string(fronts.gw.dir.path().join("audit.key")).unwrap().trim()).unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(b"arguments\0{\"text\":\"yes\"}");
    let expected = format!("hmac-sha256:{}", hex::encode(mac.finalize().into_bytes()));
    assert!(digests.iter().all(|d| *d == expected), "every front and process digests with the one key: {digests:?}");
    assert!(!file_text(audit).contains("\"yes\""));
    // The stdio front is a second process on this config: it names its session the same way.
    assert!(records.iter().all(|r| is_session_digest(&r["session"])), "{records:#?}");
}

/// A client that could read the log took over other clients' sessions:
/// the id is a bearer credential. It reaches no file and no API.
#[tokio::test]
async fn a_session_id_never_reaches_the_audit_log_the_store_or_the_admin_api() {
    let s = AdminGateway::start(&mail_policy("")).await;
    let aggregate = Arc::new(RawSession::open(&s.gw.url).await);
    let single = RawSession::open(&format!("{}/demo", s.gw.url)).await;
    let tools_call = |name: &str, arguments: Value| json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {"name": name, "arguments": arguments}});
    let allowed = single.json_answer(&tools_call("list_sent_messages", json!({}))).await;
    assert!(allowed.get("result").is_some(), "{allowed}");
    let refused = single.json_answer(&tools_call("send_message", message("eve@evil.example", "x"))).await;
    assert_eq!(refused["error"]["data"]["constraint"], "email_domain", "{refused}");
    let held = {
        let session = Arc::clone(&aggregate);
        tokio::spawn(async move {
            let body = tools_call("demo__send_message", message("bob@example.com", "quarterly"));
            session.json_answer(&body).await
        })
    };
    let pending = s.wait_pending(1).await;
    assert!(is_session_digest(&pending[0]["session"]), "{}", pending[0]);
    let denied = s.answer(pending[0]["id"].as_str().unwrap(), "deny", json!({"reason": "not today"})).await;
    assert_eq!(denied.status(), 200);
    assert!(held.await.unwrap().get("error").is_some());
    let decisions: Value =
        s.http.get(format!("{}/decisions", s.admin_api)).bearer_auth(TOKEN).send().await.unwrap().json().await.unwrap();
    assert_eq!(decisions[0]["arguments"], Value::Null, "an ended request keeps no arguments");
    assert_eq!(decisions[0]["session"], pending[0]["session"]);

    let records = all_audit_records(&s.gw.audit);
    assert!(records.len() >= 5, "{records:#?}");
    assert!(records.iter().all(|r| is_session_digest(&r["session"])), "{records:#?}");
    let held_records: Vec<&Value> = records.iter().filter(|r| r["approval"]["request"] == pending[0]["id"]).collect();
    assert!(held_records.iter().all(|r| r["session"] == pending[0]["session"]), "one name for the session everywhere");
    let stored = file_text(&s.gw.dir.path().join("approvals.sqlite"));
    let everything = [file_text(&s.gw.audit), stored, pending[0].to_string(), decisions.to_string()];
    for id in [&aggregate.id, &single.id] {
        assert!(everything.iter().all(|text| !text.contains(id.as_str())), "session id {id} was written somewhere");
    }
}

/// A 2 MiB tool name once made a 4 MB audit line. A hostile name is cut in
/// its record, which says so, on every front; the call is refused as usual.
#[tokio::test]
async fn an_oversized_tool_name_is_cut_in_its_audit_record_on_every_front() {
    let root = tempfile::tempdir().unwrap();
    let fronts = ThreeFronts::start(&stdio_demo("demo", root.path()), DEMO_POLICY, "demo").await;
    // As long as the test config's 64 KiB request bodies allow.
    let name = format!("echo{}", "E".repeat(60_000));
    for front in ALL_FRONTS {
        let refused = mcp_error(fronts.call(front, &name, json!({})).await.unwrap_err());
        assert_eq!(refused.code.0, -32010, "{front:?}: {}", refused.message);
        // The neighbour within bounds is untouched.
        let echoed = fronts.call(front, "echo", json!({"text": "fine"})).await.expect("echo is allowed");
        assert_eq!(common::client::text_of(&echoed), "fine");
    }
    let audit = &fronts.gw.audit;
    let records =
        wait_for_audit(audit, |r| r.iter().filter(|r| r["tool"] == "echo" && is_call_ending(r)).count() == 3).await;
    let cut: Vec<&Value> = records.iter().filter(|r| r.get("cut").is_some()).collect();
    assert_eq!(cut.len(), 3, "one refusal per front: {cut:#?}");
    for record in &cut {
        assert!(record["cut"].as_array().unwrap().contains(&json!("tool")), "{record}");
        assert!(record["tool"].as_str().unwrap().contains("...[cut: "), "{record}");
    }
    for file in mcp_warden::audit::chain_files(audit).unwrap() {
        let longest = std::fs::read_to_string(&file).unwrap().lines().map(str::len).max().unwrap();
        assert!(longest < 4096, "{}: a line of {longest} bytes", file.display());
        assert!(std::process::Command::new(warden_bin())
            .args(["audit", "verify"])
            .arg(&file)
            .output()
            .unwrap()
            .status
            .success());
    }
    let echoes = records.iter().filter(|r| r["tool"] == "echo" && r.get("cut").is_none()).count();
    assert_eq!(echoes, 6, "the allowed neighbours are recorded whole");
}

/// `serve` and the stdio front on one config, as the README's HTTP and
/// Claude Desktop instructions both set up, used to append to one file and
/// break its chain within three calls. Each keeps a chain of its own.
#[tokio::test]
async fn two_gateway_processes_on_one_config_keep_a_chain_each_and_both_verify() {
    let dir = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &stdio_demo("demo", root.path()), DEMO_POLICY);
    let served = ServedGateway::start(&config).await;
    let first = served.log.after("policy loaded").await;
    let http = connect(&served.mcp_url).await;
    let stdio = connect_stdio(&config).await;
    for n in 0..4 {
        assert_eq!(call_text(&http, "demo__echo", json!({"text": format!("http {n}")})).await, format!("http {n}"));
        assert_eq!(call_text(&stdio, "demo__echo", json!({"text": format!("stdio {n}")})).await, format!("stdio {n}"));
        let refused =
            mcp_error(stdio.call_tool(call("demo__run_command", json!({"command": "id"}))).await.unwrap_err());
        assert_eq!(refused.data.unwrap()["rule"], "no-shell");
    }
    let (main, second) = (dir.path().join("audit.jsonl"), dir.path().join("audit.2.jsonl"));
    assert!(first.contains(&main.display().to_string()), "serve says which file it writes: {first}");
    wait_for_audit(&main, |r| records_in(&main).len() == 8 && r.len() == 20).await;
    stdio.cancel().await.unwrap();
    http.cancel().await.unwrap();

    let (served_records, stdio_records) = (records_in(&main), records_in(&second));
    assert_eq!((served_records.len(), stdio_records.len()), (8, 12));
    let sessions =
        |records: &[Value]| records.iter().map(|r| r["session"].to_string()).collect::<std::collections::BTreeSet<_>>();
    assert_eq!(sessions(&served_records).len(), 1);
    assert!(sessions(&served_records).is_disjoint(&sessions(&stdio_records)), "each file holds one process's calls");
    assert_eq!(mode(&second), 0o600);
    assert_eq!(mode(&dir.path().join("approvals.2.sqlite")), 0o600, "and keeps its own pending approvals");

    let verify = std::process::Command::new(warden_bin()).args(["audit", "verify"]).arg(&main).output().unwrap();
    let stdout = String::from_utf8_lossy(&verify.stdout);
    assert!(verify.status.success(), "{stdout}{}", String::from_utf8_lossy(&verify.stderr));
    assert!(stdout.contains(&format!("{}: ok: 8 record(s)", main.display())), "{stdout}");
    assert!(stdout.contains(&format!("{}: ok: 12 record(s)", second.display())), "{stdout}");
}
