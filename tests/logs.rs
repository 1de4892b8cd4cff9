//! What a person reads of the gateway: its log as Claude Desktop keeps it
//! (stderr to a file), its start-up errors, and the refusals of a request
//! it cannot answer. Real `mcp-warden` processes; logs read from files.

mod common;

use common::binary::warden_command;
use common::raw::{self, messages, RawSession};
use common::*;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// How long a spawned gateway may take to log a line a test waits for.
const LOG_WAIT: Duration = Duration::from_secs(30);

/// A value no log line may ever show.
const SECRET: &str = "s3cret-argument-value-4711";

/// Starts `mcp-warden <subcommand>` with stderr going to `log`, as Claude
/// Desktop runs the stdio front, colour not disabled by the environment.
fn spawn_logging_to(subcommand: &str, config: &Path, log: &Path) -> tokio::process::Command {
    let mut command = warden_command(subcommand, config);
    command.env_remove("NO_COLOR").stderr(Stdio::from(std::fs::File::create(log).unwrap()));
    command
}

fn read_log(log: &Path) -> String {
    std::fs::read_to_string(log).unwrap_or_default()
}

/// Waits until the log at `log` has a line containing `needle`; that line.
async fn wait_for_line(log: &Path, needle: &str) -> String {
    let deadline = Instant::now() + LOG_WAIT;
    loop {
        if let Some(line) = read_log(log).lines().find(|l| l.contains(needle)) {
            return line.to_string();
        }
        assert!(Instant::now() < deadline, "no line with {needle:?} in the log:\n{}", read_log(log));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn lines_with<'a>(log: &'a str, needle: &str) -> Vec<&'a str> {
    log.lines().filter(|l| l.contains(needle)).collect()
}

/// The label logs give a session: the `session=` field of its opening line.
fn session_label(opened: &str) -> String {
    let label = opened.split("session=").nth(1).expect("the line names the session").split_whitespace().next();
    label.unwrap().to_string()
}

fn config_in(dir: &Path, root: &Path) -> PathBuf {
    write_config(dir, &stdio_demo("demo", root), DEMO_POLICY)
}

#[tokio::test]
async fn a_served_gateway_logging_to_a_file_writes_plain_lines_naming_sessions_and_refusals_never_values() {
    let (dir, root) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let log = dir.path().join("stderr.log");
    let _child = spawn_logging_to("serve", &config_in(dir.path(), root.path()), &log).spawn().unwrap();
    let url = wait_for_line(&log, "serving MCP on ").await.split("serving MCP on ").nth(1).unwrap().trim().to_string();

    let session = RawSession::open(&url).await;
    // Several ordinary requests: none of them is worth a line.
    for (id, method) in [(1, "tools/list"), (2, "ping"), (3, "tools/list")] {
        let answer = messages(session.post(json!({"jsonrpc":"2.0","id":id,"method":method}).to_string()).await).await;
        assert!(answer[0].get("result").is_some(), "{method} is answered: {answer:?}");
    }
    let allowed = json!({"jsonrpc":"2.0","id":4,"method":"tools/call",
        "params":{"name":"demo__echo","arguments":{"text":SECRET}}});
    let echoed = messages(session.post(allowed.to_string()).await).await;
    assert!(echoed[0].get("result").is_some(), "an allowed call goes through: {echoed:?}");
    let refused = json!({"jsonrpc":"2.0","id":5,"method":"tools/call",
        "params":{"name":"demo__run_command","arguments":{"command":SECRET}}});
    let refusal = messages(session.post(refused.to_string()).await).await;
    assert_eq!(refusal[0]["error"]["data"]["rule"], "no-shell", "the shell is refused: {refusal:?}");
    assert_eq!(session.delete().await.status(), 200);
    wait_for_line(&log, "session closed").await;

    let text = read_log(&log);
    assert!(!text.contains('\u{1b}'), "a log written to a file carries no colour escapes:\n{text}");
    assert!(!text.contains(SECRET), "no argument value reaches the log:\n{text}");
    assert!(!text.contains(&session.id), "the session id is a credential and never logged:\n{text}");

    let opened = lines_with(&text, "session opened");
    assert_eq!(opened.len(), 1, "one line for the session's opening:\n{text}");
    assert!(opened[0].contains("\"raw\" 0"), "the opening names the client and its version: {}", opened[0]);
    let label = session_label(opened[0]);
    let refusals = lines_with(&text, "call refused");
    assert_eq!(refusals.len(), 1, "one line for the one refused call:\n{text}");
    for (what, name) in [("rule", "no-shell"), ("tool", "run_command")] {
        assert!(refusals[0].contains(&format!("\"{name}\"")), "the refusal names its {what}: {}", refusals[0]);
    }
    let closed = lines_with(&text, "session closed");
    assert_eq!(closed.len(), 1, "one line for the session's end:\n{text}");
    assert!(closed[0].contains("(DELETE)") && closed[0].contains("\"raw\" 0"), "how and whose: {}", closed[0]);
    // Opened, refused, closed: the allowed requests added nothing.
    assert_eq!(lines_with(&text, &label).len(), 3, "the session's lines are its opening, refusal and end:\n{text}");
}

#[tokio::test]
async fn the_stdio_front_logs_its_session_and_how_it_ended_when_the_client_closes_stdin() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let (dir, root) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let log = dir.path().join("stderr.log");
    let mut child = spawn_logging_to("stdio", &config_in(dir.path(), root.path()), &log)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let init = json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{
        "protocolVersion":raw::LATEST,"capabilities":{},"clientInfo":{"name":"claude-ai","version":"0.1.0"}}});
    stdin.write_all(format!("{init}\n").as_bytes()).await.unwrap();
    let answer = tokio::time::timeout(LOG_WAIT, stdout.next_line()).await.unwrap().unwrap().unwrap();
    assert!(answer.contains("\"result\""), "initialize is answered: {answer}");
    drop(stdin);
    let status = tokio::time::timeout(LOG_WAIT, child.wait()).await.expect("the gateway exits").unwrap();
    assert!(status.success(), "a client that goes away is an ordinary end");

    let text = read_log(&log);
    assert!(!text.contains('\u{1b}'), "Claude Desktop's log file gets no colour escapes:\n{text}");
    let opened = lines_with(&text, "session opened");
    assert_eq!(opened.len(), 1, "{text}");
    assert!(opened[0].contains("\"claude-ai\" 0.1.0 on stdio"), "{}", opened[0]);
    let closed = lines_with(&text, "session closed");
    assert_eq!(closed.len(), 1, "{text}");
    assert!(closed[0].contains("closed stdin"), "the end says the client went away: {}", closed[0]);
    assert_eq!(session_label(opened[0]), session_label(closed[0]), "both lines name the same session");
}

/// A listener holding a loopback port, and the config of a gateway told to
/// serve MCP (or, with `admin`, its admin API) on that same address.
fn config_on_a_taken_port(dir: &Path, admin: bool) -> (std::net::TcpListener, PathBuf, String) {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let log = dir.join("upstream.log");
    let path = write_config(dir, &stdio_hostile("hostile", &log), ALLOW_ALL);
    let config = std::fs::read_to_string(&path).unwrap();
    let config = if admin {
        format!("{config}[admin]\nlisten = \"{addr}\"\ntoken = \"test-admin-token-0123456789abcdef\"\n")
    } else {
        config.replace("http = \"127.0.0.1:0\"", &format!("http = \"{addr}\""))
    };
    std::fs::write(&path, config).unwrap();
    (taken, path, addr)
}

#[tokio::test]
async fn serving_on_a_port_already_in_use_exits_with_the_address_and_its_key_and_starts_no_upstream() {
    for (admin, key) in [(false, "listen.http"), (true, "admin.listen")] {
        let dir = tempfile::tempdir().unwrap();
        let (_taken, config, addr) = config_on_a_taken_port(dir.path(), admin);
        let log = dir.path().join("stderr.log");
        let mut child = spawn_logging_to("serve", &config, &log).spawn().unwrap();
        let status = tokio::time::timeout(LOG_WAIT, child.wait()).await.expect("the gateway exits").unwrap();
        let text = read_log(&log);
        assert!(!status.success(), "a gateway that cannot listen where it was told fails:\n{text}");
        let error = lines_with(&text, "error:");
        assert_eq!(error.len(), 1, "one error line:\n{text}");
        for part in [addr.as_str(), key, "already in use"] {
            assert!(error[0].contains(part), "the error names {part:?}: {}", error[0]);
        }
        // The gateway never started: no policy loaded, no upstream to warn about.
        assert!(!text.contains("WARN") && !text.contains("upstream"), "nothing but the reason:\n{text}");
        assert!(!text.contains("policy loaded"), "the error comes before anything starts:\n{text}");
        assert!(!dir.path().join("upstream.log").exists(), "no upstream process was started");
    }
}

#[tokio::test]
async fn a_post_whose_accept_header_is_refused_is_told_what_is_accepted_and_each_is() {
    let root = tempfile::tempdir().unwrap();
    let gw = start_gateway(&stdio_demo("demo", root.path()), DEMO_POLICY).await;
    let http = reqwest::Client::new();
    let init = raw::initialize(raw::LATEST).to_string();
    let refused = raw::request(&http, &gw.url, None, "text/html", init.clone()).send().await.unwrap();
    assert_eq!(refused.status(), 406);
    let message = refused.text().await.unwrap();
    // Every type the message names as enough is: the message is the rule.
    for accept in ["text/event-stream", "application/json", "*/*"] {
        assert!(message.contains(accept), "the 406 names {accept}: {message}");
        let answer = raw::request(&http, &gw.url, None, accept, init.clone()).send().await.unwrap();
        assert_eq!(answer.status(), 200, "Accept: {accept} alone is answered, as the 406 says ({message})");
    }
    assert!(message.contains("without an Accept header"), "{message}");
    let no_accept = http.post(&gw.url).header("content-type", "application/json").body(init).send().await.unwrap();
    assert_eq!(no_accept.status(), 200, "a POST without Accept is answered, as the 406 says ({message})");

    let session = RawSession::open(&gw.url).await;
    let get = http.get(&gw.url).header("accept", "application/json").header("mcp-session-id", &session.id);
    let refused = get.send().await.unwrap();
    assert_eq!(refused.status(), 406);
    let message = refused.text().await.unwrap();
    assert!(message.contains("text/event-stream"), "a GET is told it needs text/event-stream: {message}");
}
