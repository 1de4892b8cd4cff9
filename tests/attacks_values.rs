//! Hostile argument values (issue 10: URL parser differentials, mail header
//! injection, shell expansion, vacuous constraints) sent through all three
//! fronts to naive upstreams that do what real ones do with a value: fetch it
//! with httpx, build a message with Python's `email`, run it with `sh -c`,
//! join it to a root and delete. Each test shows the hostile values never
//! arrive (nothing happened that the upstream leaves evidence of) and the
//! benign neighbours do.

mod common;

use std::path::Path;
use std::sync::{Arc, Mutex};

use common::client::{mcp_error, text_of};
use common::fronts::{Front, ThreeFronts, ALL_FRONTS};
use common::peers::python_upstream;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// Python MCP servers take a second or more to start, and each front's
/// session starts its own; on a loaded machine that outlasts the default 5s.
const SLOW_START: &str = "request_timeout = \"30s\"";

async fn three_fronts(upstream: &str, policy: &str, server: &str) -> ThreeFronts {
    ThreeFronts::start_with_relay(upstream, policy, server, SLOW_START).await
}

/// Calls `tool` with `args` through `front` and asserts the gateway refused
/// it on `constraint` of `argument`.
async fn assert_refused(fronts: &ThreeFronts, front: Front, tool: &str, args: Value, argument: &str, constraint: &str) {
    let err = fronts.call(front, tool, args.clone()).await.expect_err(&format!("{front:?}: {args} was let through"));
    let err = mcp_error(err);
    assert_eq!(err.code.0 as i64, mcp_warden::errors::code::POLICY_DENIED, "{front:?}: {args}: {}", err.message);
    let data = err.data.unwrap_or_default();
    assert_eq!(data["argument"], argument, "{front:?}: {args}: {}", err.message);
    assert_eq!(data["constraint"], constraint, "{front:?}: {args}: {}", err.message);
}

async fn assert_arrives(fronts: &ThreeFronts, front: Front, tool: &str, args: Value) -> String {
    let result = fronts.call(front, tool, args.clone()).await;
    text_of(&result.unwrap_or_else(|e| panic!("{front:?}: {args} was refused: {e}")))
}

/// An HTTP proxy on 127.0.0.1 that records each request line (where the
/// client would connect) and refuses the request.
async fn recording_proxy() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let record = record.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut line = String::new();
                // One request line, capped: a peer's buffer is bounded.
                let mut reader = BufReader::new(tokio::io::AsyncReadExt::take(read, 8192));
                if reader.read_line(&mut line).await.is_ok() {
                    record.lock().unwrap().push(line.trim_end().to_string());
                }
                let _ =
                    write.write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").await;
            });
        }
    });
    (url, seen)
}

#[tokio::test]
async fn a_url_that_clients_read_as_another_host_never_reaches_it_and_a_plain_one_does() {
    let (proxy, seen) = recording_proxy().await;
    let policy = r#"
[[rules]]
id = "fetch-docs"
server = "fetch"
tools = ["fetch"]
action = "allow"
deny_unknown_args = true
args.url = { required = true, type = "string", url_schemes = ["https"], url_hosts = ["docs.rs"], deny_private_ips = true }
"#;
    let fronts = three_fronts(&python_upstream("fetch", "naive_fetch.py", &[&proxy]), policy, "fetch").await;
    for front in ALL_FRONTS {
        // Each is docs.rs to a WHATWG reading and another host to httpx,
        // urllib or curl (loopback as an integer, or evil.example.net).
        for (url, constraint) in [
            ("https://docs.rs\\@2130706433:8443/", "url_hosts"),
            ("https://docs.rs\\@evil.example.net/", "url_hosts"),
            ("https://docs.rs:443\\@evil.example.net/x", "url_hosts"),
            ("https:/\\docs.rs\\@127.0.0.1/", "url_hosts"),
            ("https://docs.rs%5C@evil.example.net/", "url_hosts"),
        ] {
            assert_refused(&fronts, front, "fetch", json!({ "url": url }), "url", constraint).await;
        }
        // Plain URLs arrive, an address in query text included.
        assert_arrives(&fronts, front, "fetch", json!({"url": "https://docs.rs/regex/latest/regex/"})).await;
        assert_arrives(
            &fronts,
            front,
            "fetch",
            json!({"url": "https://docs.rs/releases/search?query=what+is+10.0.0.1"}),
        )
        .await;
    }
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.iter().filter(|l| l.as_str() == "CONNECT docs.rs:443 HTTP/1.1").count(), 6, "{seen:#?}");
    assert_eq!(seen.len(), 6, "httpx connected somewhere else: {seen:#?}");
}

/// The header lines of each message the naive mail tool queued.
fn queued_headers(outbox: &Path) -> Vec<Vec<String>> {
    let mut files: Vec<_> = std::fs::read_dir(outbox).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            let head = text.split("\n\n").next().unwrap_or("").to_string();
            head.lines().map(str::to_string).collect()
        })
        .collect()
}

#[tokio::test]
async fn an_encoded_line_break_never_becomes_a_mail_header_and_a_plain_message_is_sent() {
    let outbox = tempfile::tempdir().unwrap();
    let policy =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/email-internal.toml")).unwrap();
    let upstream = python_upstream("mail", "naive_mail.py", &[&outbox.path().display().to_string()]);
    let fronts = three_fronts(&upstream, &policy, "mail").await;
    let mail = |to: Value, subject: &str| json!({"to": to, "subject": subject, "body": "Hello"});
    for front in ALL_FRONTS {
        for subject in [
            "=?utf-8?q?hi=0D=0ABcc=3A_attacker=40evil.example?=",
            "=?UTF-8?B?aGkNCkJjYzogYXR0YWNrZXJAZXZpbC5leGFtcGxl?=",
            "=?utf-8?q?hi?= =?utf-8?Q?=0ABcc:_attacker@evil.example?=",
            "Re: x=?iso-8859-1?q?=0A?=Bcc: attacker@evil.example",
            "=?utf-7?q?hi+AA0ACg-Bcc:_attacker@evil.example?=",
            "hi%0D%0ABcc: attacker@evil.example",
        ] {
            let args = mail(json!("alice@example.com"), subject);
            assert_refused(&fronts, front, "send_email", args, "subject", "mail_header").await;
        }
        for to in [
            json!("bob＠evil.example@example.com"),
            json!("=?utf-8?q?Bob=0D=0ABcc:_attacker@evil.example?= <alice@example.com>"),
            json!("\"attacker@evil.example\" <alice@example.com>"),
        ] {
            assert_refused(&fronts, front, "send_email", mail(to, "Hi"), "to", "email_domain").await;
        }
        assert_refused(&fronts, front, "send_email", mail(json!([]), "Hi"), "to", "required").await;
        // A quoted name with a comma, and an encoded subject without line breaks.
        let benign = mail(json!("\"Smith, Alice\" <alice@example.com>"), "=?utf-8?q?Gr=C3=BC=C3=9Fe?=");
        assert!(assert_arrives(&fronts, front, "send_email", benign).await.starts_with("queued"));
    }
    let queued = queued_headers(outbox.path());
    assert_eq!(queued.len(), 3, "only the benign message is queued, once per front: {queued:#?}");
    for headers in &queued {
        assert!(headers.iter().all(|h| !h.to_ascii_lowercase().starts_with("bcc")), "{headers:#?}");
        assert!(headers.iter().all(|h| !h.contains("evil.example")), "{headers:#?}");
        assert!(headers.iter().any(|h| h.starts_with("To: ") && h.contains("<alice@example.com>")), "{headers:#?}");
        assert!(headers.iter().any(|h| h.starts_with("Subject: ")), "{headers:#?}");
    }
}

#[tokio::test]
async fn shell_expansions_never_reach_sh_and_plain_words_do() {
    let dir = tempfile::tempdir().unwrap();
    let (work, home, log) = (dir.path().join("work"), dir.path().join("home"), dir.path().join("commands.log"));
    std::fs::create_dir_all(&work).unwrap();
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(home.join(".secret"), "the-secret\n").unwrap();
    std::fs::write(work.join("notes.txt"), "plain notes\n").unwrap();
    let upstream = format!(
        "{}env = {{ HOME = {:?} }}\n",
        python_upstream("shell", "naive_shell.py", &[&work.display().to_string(), &log.display().to_string()]),
        home.display().to_string()
    );
    let policy = r#"
[[rules]]
id = "shell-words"
server = "shell"
tools = ["run_command"]
action = "allow"
deny_unknown_args = true
args.command = { required = true, type = "string", max_length = 200, no_shell_metachars = true }
"#;
    let fronts = three_fronts(&upstream, policy, "shell").await;
    let hostile = [
        "cat ~/.secret",
        "cat ~",
        "cat notes.txt --from=~/.secret",
        "PWN=1 env",
        "HOME=/ env",
        "touch PWNED # and the rest is hidden",
        "touch PWNED ! ls",
        "cat ～/.secret",
        "cat %7E/.secret",
    ];
    for front in ALL_FRONTS {
        for command in hostile {
            let args = json!({ "command": command });
            assert_refused(&fronts, front, "run_command", args, "command", "no_shell_metachars").await;
        }
        let marker = format!("touch ok-{front:?}");
        assert_arrives(&fronts, front, "run_command", json!({ "command": marker })).await;
        let notes = assert_arrives(&fronts, front, "run_command", json!({"command": "cat notes.txt"})).await;
        assert_eq!(notes, "plain notes\n");
        let diff = assert_arrives(&fronts, front, "run_command", json!({"command": "echo HEAD~1 100% done"})).await;
        assert_eq!(diff, "HEAD~1 100% done\n");
    }
    let ran = std::fs::read_to_string(&log).unwrap();
    for command in hostile {
        assert!(!ran.contains(&serde_json::to_string(command).unwrap()), "sh was given {command:?}");
    }
    assert_eq!(ran.lines().count(), 9, "{ran}");
    assert!(!work.join("PWNED").exists());
    for front in ALL_FRONTS {
        assert!(work.join(format!("ok-{front:?}")).exists(), "{front:?}");
    }
}

#[tokio::test]
async fn an_empty_path_never_names_the_root_to_a_tool_that_deletes_it() {
    let root = tempfile::tempdir().unwrap();
    let root = root.path().canonicalize().unwrap();
    std::fs::write(root.join("keep.txt"), "keep").unwrap();
    let policy = format!(
        r#"
[[rules]]
id = "files-remove"
server = "files"
tools = ["remove"]
action = "allow"
deny_unknown_args = true
args.path = {{ required = true, type = "string", path_within = [{:?}] }}
"#,
        root.display().to_string()
    );
    // The server runs in the root, so a relative path means the same file to both.
    let upstream = format!(
        "{}cwd = {:?}\n",
        python_upstream("files", "naive_files.py", &[&root.display().to_string()]),
        root.display().to_string()
    );
    let fronts = three_fronts(&upstream, &policy, "files").await;
    for front in ALL_FRONTS {
        for (path, constraint) in [
            (json!([]), "required"),
            (json!(""), "required"),
            (json!(null), "required"),
            (json!(["keep.txt"]), "type"),
            (json!([root.join("keep.txt").display().to_string()]), "type"),
        ] {
            assert_refused(&fronts, front, "remove", json!({ "path": path }), "path", constraint).await;
        }
        let old = root.join(format!("old-{front:?}.txt"));
        std::fs::write(&old, "old").unwrap();
        assert_arrives(&fronts, front, "remove", json!({"path": old.display().to_string()})).await;
        assert!(!old.exists(), "{front:?}: the benign path was not removed");
    }
    assert_eq!(std::fs::read_to_string(root.join("keep.txt")).unwrap(), "keep", "the root was emptied");
}
