//! The third-party test peers `scripts/install-test-peers.sh` installs into
//! `.peers/` (the MCP Python SDK, Node 22, the Inspector, server-filesystem),
//! and upstreams written against them: naive servers that do what real ones
//! do with a value (fetch it, mail it, run it), so a test can show what an
//! unpoliced value would have done.

use std::path::{Path, PathBuf};
use std::process::Stdio;

pub const INSTALL_HINT: &str =
    "run `scripts/install-test-peers.sh` (installs the test peers into .peers/ without root)";

pub fn peers() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(".peers")
}

/// A file under `.peers/`, or a failure telling how to install it.
pub fn peer_file(relative: &str, what: &str) -> PathBuf {
    let path = peers().join(relative);
    assert!(path.exists(), "{what} is missing ({} not found): {INSTALL_HINT}", path.display());
    path
}

pub fn python() -> PathBuf {
    let python = peer_file("venv/bin/python", "the MCP Python SDK venv");
    // The venv alone is not enough: the SDK must be importable.
    let probe = std::process::Command::new(&python)
        .args(["-c", "import mcp"])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{} does not run ({e}): {INSTALL_HINT}", python.display()));
    assert!(
        probe.status.success(),
        "the MCP Python SDK is not importable from {}: {INSTALL_HINT}\n{}",
        python.display(),
        String::from_utf8_lossy(&probe.stderr)
    );
    python
}

/// A script under `tests/peers/`.
pub fn peer_script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers").join(name)
}

/// A `[[upstreams]]` entry for a Python MCP server from `tests/peers/`,
/// run by the SDK's venv over stdio with `args`.
pub fn python_upstream(name: &str, script: &str, args: &[&str]) -> String {
    let mut all = vec![peer_script(script).display().to_string()];
    all.extend(args.iter().map(|a| a.to_string()));
    format!(
        "[[upstreams]]\nname = \"{name}\"\ntransport = \"stdio\"\ncommand = {:?}\nargs = {:?}\n",
        python().display().to_string(),
        all
    )
}

fn everything_script() -> PathBuf {
    peer_file(
        "everything/node_modules/@modelcontextprotocol/server-everything/dist/index.js",
        "@modelcontextprotocol/server-everything",
    )
}

pub fn node22() -> PathBuf {
    peer_file("node22/bin/node", "Node 22")
}

/// A `[[upstreams]]` entry for `@modelcontextprotocol/server-filesystem`
/// over stdio, named `files`, serving `dir`.
pub fn filesystem_upstream(dir: &Path) -> String {
    let entry =
        peer_file("npm/node_modules/@modelcontextprotocol/server-filesystem/dist/index.js", "server-filesystem");
    format!(
        "[[upstreams]]\nname = \"files\"\ntransport = \"stdio\"\ncommand = {:?}\nargs = [{:?}, {:?}]\n",
        node22().display().to_string(),
        entry.display().to_string(),
        dir.display().to_string()
    )
}

/// A `[[upstreams]]` entry for the reference server-everything over stdio,
/// named `name` (one child process per client session).
pub fn everything_upstream(name: &str) -> String {
    format!(
        "[[upstreams]]\nname = \"{name}\"\ntransport = \"stdio\"\ncommand = {:?}\nargs = [{:?}, \"stdio\"]\n",
        node22().display().to_string(),
        everything_script().display().to_string()
    )
}

/// server-everything serving Streamable HTTP (with its event store, so its
/// SSE events carry ids) on a port of 127.0.0.1 it bound itself.
pub struct EverythingHttp {
    pub url: String,
    _child: tokio::process::Child,
}

impl EverythingHttp {
    pub async fn start() -> EverythingHttp {
        use tokio::io::AsyncBufReadExt;
        let mut child = tokio::process::Command::new(node22())
            .arg("--import")
            .arg(peer_script("loopback_port.mjs"))
            .arg(everything_script())
            .arg("streamableHttp")
            .env("PORT", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("node runs server-everything");
        let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
        let address = tokio::time::timeout(std::time::Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(address) = line.strip_prefix("listening on ") {
                    return address.to_string();
                }
            }
            panic!("server-everything exited before listening");
        })
        .await
        .expect("server-everything listens within 30 s");
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        EverythingHttp { url: format!("http://{address}/mcp"), _child: child }
    }
}
