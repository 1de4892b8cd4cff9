//! Paths that passed `path_within` and still reached outside the root of a
//! server doing plain file I/O, through all three fronts:
//! (a) a write through a dangling symlink planted a file outside;
//! (b) Unicode compatibility forms, `%u` escapes and `file:` URIs, which a
//!     normalising server turns into `../` or an absolute path;
//! (c) relative paths, which the gateway joined to the rule's root and the
//!     server to its own working directory (the gateway's, `/` at worst).
//! Each test shows the hostile path never reaches outside and its benign
//! neighbour works.

mod common;

use common::binary::{warden_command, Log};
use common::client::{call, call_text, connect, mcp_error, text_of, Client, TestClient};
use common::fronts::{Front, ThreeFronts, ALL_FRONTS};
use common::peers::{peer_script, python, python_upstream};
use mcp_warden::config::GatewayConfig;
use mcp_warden::gateway::Gateway;
use rmcp::model::CallToolResult;
use rmcp::transport::TokioChildProcess;
use rmcp::{ServiceError, ServiceExt};
use serde_json::json;
use std::path::{Path, PathBuf};

/// A canonical root holding `notes.txt` and `docs/`, and `outside/secret.txt` beside it.
struct Sandbox {
    _dir: tempfile::TempDir,
    root: PathBuf,
    outside: PathBuf,
}

fn sandbox() -> Sandbox {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().canonicalize().unwrap();
    let (root, outside) = (base.join("root"), base.join("outside"));
    std::fs::create_dir_all(root.join("docs")).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(root.join("notes.txt"), "workspace notes").unwrap();
    std::fs::write(outside.join("secret.txt"), "the secret").unwrap();
    Sandbox { _dir: dir, root, outside }
}

/// Reads and writes confined to `root`, symlinks followed.
fn policy(root: &Path) -> String {
    format!(
        "mode = \"enforce\"\n[defaults]\ntools = \"deny\"\n[[rules]]\nid = \"files-in-root\"\nserver = \"files\"\n\
         tools = [\"read_file\", \"write_file\"]\naction = \"allow\"\n\
         args.path = {{ required = true, path_within = [{:?}], resolve_symlinks = true }}\n",
        root.display().to_string()
    )
}

/// A naive Python file server from `tests/peers/`, started in `root`.
fn files_in(script: &str, root: &Path) -> String {
    format!("{}cwd = {:?}\n", python_upstream("files", script, &[]), root.display().to_string())
}

fn assert_refused(result: Result<CallToolResult, ServiceError>, front: Front, value: &str) {
    let err = mcp_error(result.expect_err(&format!("{front:?}: {value:?} is refused")));
    assert_eq!(err.code.0 as i64, mcp_warden::errors::code::POLICY_DENIED, "{front:?} {value:?}: {}", err.message);
    assert!(err.message.contains("path_within"), "{front:?} {value:?}: {}", err.message);
}

#[cfg(unix)]
#[tokio::test]
async fn a_write_through_a_dangling_symlink_never_plants_a_file_outside_the_root() {
    use std::os::unix::fs::symlink;
    let s = sandbox();
    let fronts = ThreeFronts::start(&files_in("naive_fs.py", &s.root), &policy(&s.root), "files").await;
    for front in ALL_FRONTS {
        // ROOT/new.txt -> OUTSIDE/planted.txt, the target not there yet; and
        // a chain of relative links that ends outside, dangling too.
        let planted = s.outside.join(format!("{front:?}-planted.txt"));
        symlink(&planted, s.root.join(format!("{front:?}-new.txt"))).unwrap();
        symlink(format!("{front:?}-hop.txt"), s.root.join(format!("{front:?}-chain.txt"))).unwrap();
        symlink(format!("../outside/{front:?}-chained.txt"), s.root.join(format!("{front:?}-hop.txt"))).unwrap();
        let absolute_link = s.root.join(format!("{front:?}-new.txt")).display().to_string();
        for path in [format!("{front:?}-new.txt"), absolute_link, format!("docs/../{front:?}-chain.txt")] {
            let write = fronts.call(front, "write_file", json!({"path": path, "content": "planted"})).await;
            assert_refused(write, front, &path);
        }
        assert!(!planted.exists(), "{front:?}: nothing was planted outside");
        assert!(!s.outside.join(format!("{front:?}-chained.txt")).exists(), "{front:?}");

        // The benign neighbours: a new file, and a dangling link that stays inside.
        symlink(format!("{front:?}-later-target.txt"), s.root.join(format!("{front:?}-later.txt"))).unwrap();
        for (path, lands) in [("fresh.txt", "fresh.txt"), ("later.txt", "later-target.txt")] {
            let (path, lands) = (format!("{front:?}-{path}"), s.root.join(format!("{front:?}-{lands}")));
            let wrote = fronts.call(front, "write_file", json!({"path": path, "content": "kept"})).await;
            wrote.unwrap_or_else(|e| panic!("{front:?}: {path} is written: {e}"));
            assert_eq!(std::fs::read_to_string(&lands).unwrap(), "kept", "{front:?}: {path}");
        }
    }
    assert_eq!(std::fs::read_dir(&s.outside).unwrap().count(), 1, "only secret.txt is outside");
}

/// Spellings a normalising server reads as a way out of its working
/// directory (`ROOT`) to `OUTSIDE/secret.txt`.
fn normalising_escapes(outside: &Path) -> Vec<String> {
    let mut escapes: Vec<String> = [
        "．．/outside/secret.txt",          // fullwidth full stops
        "．．／outside／secret.txt",        // and fullwidth solidi
        "docs／..／..／outside/secret.txt", // `..` between fullwidth solidi
        "‥/outside/secret.txt",             // U+2025 two dot leader
        "․․/outside/secret.txt",            // U+2024 one dot leader, twice
        "\u{200B}../outside/secret.txt",    // zero-width space before `..`
        ".\u{200D}./outside/secret.txt",    // zero-width joiner inside `..`
        "%u002e%u002e/outside/secret.txt",  // IIS / JavaScript `unescape`
        "%u002E%u002E%u002Foutside/secret.txt",
    ]
    .map(str::to_string)
    .to_vec();
    let secret = outside.join("secret.txt").display().to_string();
    escapes.push(format!("file://{secret}"));
    escapes.push(format!("FILE:{secret}"));
    escapes
}

#[tokio::test]
async fn unicode_and_legacy_spellings_of_a_way_out_never_reach_a_normalising_server() {
    let s = sandbox();
    // Without the gateway, the server reads every one of them as the secret.
    for path in normalising_escapes(&s.outside) {
        let direct = std::process::Command::new(python())
            .arg(peer_script("naive_normalising_fs.py"))
            .args(["--read", &path])
            .current_dir(&s.root)
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&direct.stdout), "the secret", "{path:?} escapes the naive server");
    }
    let fronts = ThreeFronts::start(&files_in("naive_normalising_fs.py", &s.root), &policy(&s.root), "files").await;
    for front in ALL_FRONTS {
        for path in normalising_escapes(&s.outside) {
            assert_refused(fronts.call(front, "read_file", json!({"path": path})).await, front, &path);
        }
        let planted = format!("．．/outside/{front:?}-planted.txt");
        assert_refused(
            fronts.call(front, "write_file", json!({"path": planted, "content": "x"})).await,
            front,
            "write",
        );
        // The benign neighbours: compatibility forms that stay inside.
        for path in ["notes.txt", "ｎｏｔｅｓ.txt", "docs／..／notes.txt", "docs/\u{200B}../notes.txt"] {
            let read = fronts.call(front, "read_file", json!({"path": path})).await;
            let read = read.unwrap_or_else(|e| panic!("{front:?}: {path:?} is read: {e}"));
            assert_eq!(text_of(&read), "workspace notes", "{front:?}: {path:?}");
        }
    }
    assert_eq!(std::fs::read_dir(&s.outside).unwrap().count(), 1, "only secret.txt is outside");
}

#[tokio::test]
async fn a_relative_path_means_the_same_file_to_the_gateway_and_the_server() {
    let s = sandbox();
    // Without cwd the server would join `secret.txt` to the gateway's working
    // directory (here OUTSIDE) while the rule joins it to ROOT: no front starts.
    let dir = tempfile::tempdir().unwrap();
    let unset = python_upstream("files", "naive_fs.py", &[]);
    let config_path = common::write_config(dir.path(), &unset, &policy(&s.root));
    let refused = Gateway::start(GatewayConfig::load(&config_path).unwrap()).err().expect("no HTTP front starts");
    let refused = refused.to_string();
    assert!(
        refused.contains("has no cwd") && refused.contains(&format!("set cwd = {:?}", s.root.display().to_string())),
        "{refused}"
    );
    for subcommand in ["check", "stdio", "serve"] {
        let run = warden_command(subcommand, &config_path).current_dir(&s.outside).output();
        let out = tokio::time::timeout(std::time::Duration::from_secs(30), run).await.expect("exits").unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{subcommand} refuses to run: {stderr}");
        assert!(stderr.contains("relative paths") && stderr.contains("has no cwd"), "{subcommand}: {stderr}");
    }

    // With cwd = ROOT, a relative name means ROOT/name to both. The gateway's
    // own working directory (the test's) holds a Cargo.toml; it never comes back.
    assert!(Path::new("Cargo.toml").exists(), "the gateway's working directory holds Cargo.toml");
    let fronts = ThreeFronts::start(&files_in("naive_fs.py", &s.root), &policy(&s.root), "files").await;
    for front in ALL_FRONTS {
        let read = fronts.call(front, "read_file", json!({"path": "notes.txt"})).await.unwrap();
        assert_eq!(text_of(&read), "workspace notes", "{front:?}");
        let elsewhere = fronts.call(front, "read_file", json!({"path": "Cargo.toml"})).await;
        let answer = match elsewhere {
            Ok(result) => text_of(&result),
            Err(e) => e.to_string(),
        };
        assert!(!answer.contains("[package]"), "{front:?}: the gateway's Cargo.toml was read: {answer}");
        let wrote = fronts.call(front, "write_file", json!({"path": format!("{front:?}.txt"), "content": "x"})).await;
        wrote.unwrap_or_else(|e| panic!("{front:?}: {e}"));
        assert!(s.root.join(format!("{front:?}.txt")).exists(), "{front:?}: written in the root");
    }
}

#[tokio::test]
async fn the_shipped_demo_started_from_the_filesystem_root_serves_only_its_workspace() {
    let (clone, config) = common::binary::shipped_copy();
    let check = warden_command("check", &config).current_dir("/").output().await.unwrap();
    let said = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success(), "{said}{}", String::from_utf8_lossy(&check.stderr));
    assert!(said.contains("relative paths:") && said.contains("examples/workspace"), "{said}");

    let mut serve = warden_command("serve", &config);
    let mut child = serve.current_dir("/").stderr(std::process::Stdio::piped()).spawn().unwrap();
    let log = Log::default();
    log.follow(child.stderr.take().unwrap());
    let url = log.after("serving MCP on ").await;
    let mut stdio = warden_command("stdio", &config);
    stdio.current_dir("/").env("RUST_LOG", "off");
    let clients: Vec<(&str, Client, &str)> = vec![
        ("aggregate", connect(&url).await, "demo__"),
        ("single", connect(&format!("{url}/demo")).await, ""),
        ("stdio", TestClient::default().serve(TokioChildProcess::new(stdio).unwrap()).await.unwrap(), "demo__"),
    ];
    let welcome = std::fs::read_to_string(clone.path().join("examples/workspace/notes.txt")).unwrap();
    for (front, client, prefix) in &clients {
        let read_file = format!("{prefix}read_file");
        assert_eq!(call_text(client, &read_file, json!({"path": "notes.txt"})).await, welcome, "{front}");
        // Launched from /, `etc/hostname` was /etc/hostname to the demo.
        for path in ["etc/hostname", "../../../../../../etc/hostname", "/etc/hostname"] {
            // Refused by the gateway, or not found in the workspace by the demo.
            match client.call_tool(call(&read_file, json!({"path": path}))).await {
                Ok(result) => assert_eq!(result.is_error, Some(true), "{front}: {path}: {}", text_of(&result)),
                Err(e) => assert!(e.to_string().contains("path_within"), "{front}: {path}: {e}"),
            }
        }
    }
    assert!(!clone.path().join("examples/workspace/audit.jsonl").exists());
    assert!(
        clone.path().join("audit.jsonl").exists(),
        "the audit file is beside the config dir, outside the workspace"
    );
    let _ = child.kill().await;
}
