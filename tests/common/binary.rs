//! The real `mcp-warden` binary as a child process: `serve` and the
//! addresses it reports, its log as the lines come, signals to it, and its
//! exit. The process is killed when the test drops it.

use super::warden_bin;
use std::path::Path;
use std::process::ExitStatus;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};

/// A logged line longer than this is kept in pieces.
const MAX_LINE_BYTES: u64 = 64 * 1024;
/// What the test keeps of a child's log; later lines are read and dropped,
/// so a chatty child neither stalls on a full pipe nor grows the test.
const MAX_LOG_BYTES: usize = 8 << 20;
/// How long a child may take to log a line a test waits for.
const LOG_WAIT: Duration = Duration::from_secs(30);

#[derive(Default)]
struct Lines {
    lines: Vec<String>,
    bytes: usize,
    /// The child closed its stderr: nothing more will come.
    closed: bool,
}

/// Lines a child logged so far, read from its stderr as they come.
#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<Lines>>);

impl Log {
    /// Reads `stderr` into this log until it closes.
    pub fn follow(&self, stderr: impl AsyncRead + Unpin + Send + 'static) {
        let log = self.clone();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stderr);
            let mut line = Vec::new();
            loop {
                line.clear();
                match (&mut reader).take(MAX_LINE_BYTES).read_until(b'\n', &mut line).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => log.push(String::from_utf8_lossy(&line).trim_end().to_string()),
                }
            }
            log.0.lock().unwrap().closed = true;
        });
    }

    fn push(&self, line: String) {
        let mut log = self.0.lock().unwrap();
        if log.bytes + line.len() <= MAX_LOG_BYTES {
            log.bytes += line.len();
            log.lines.push(line);
        }
    }

    pub fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().lines.clone()
    }

    /// The first line containing `needle`, waiting up to 30 s for it.
    pub async fn wait_for(&self, needle: &str) -> String {
        let found = tokio::time::timeout(LOG_WAIT, async {
            loop {
                {
                    let log = self.0.lock().unwrap();
                    if let Some(line) = log.lines.iter().find(|l| l.contains(needle)) {
                        return Some(line.clone());
                    }
                    if log.closed {
                        return None;
                    }
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        match found {
            Ok(Some(line)) => line,
            Ok(None) => panic!("the process exited without logging {needle:?}; it logged {:?}", self.lines()),
            Err(_) => panic!("the process never logged {needle:?}; it logged {:?}", self.lines()),
        }
    }

    /// The text after `needle` on the first line containing it, waiting for it.
    pub async fn after(&self, needle: &str) -> String {
        self.wait_for(needle).await.split_once(needle).unwrap().1.trim().to_string()
    }

    /// The text after `needle` on the first line so far containing it.
    fn seen_after(&self, needle: &str) -> Option<String> {
        let log = self.0.lock().unwrap();
        log.lines.iter().find_map(|l| l.split_once(needle)).map(|(_, after)| after.trim().to_string())
    }
}

/// `mcp-warden <subcommand> --config <config>`, logging at info and killed
/// when dropped; the caller wires its standard streams.
pub fn warden_command(subcommand: &str, config: &Path) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(warden_bin());
    command.args([subcommand, "--config"]).arg(config).env("RUST_LOG", "info").kill_on_drop(true);
    command
}

/// Sends `kill -<signal>` (`INT`, `TERM`, ...) to a process.
pub fn send_signal(pid: u32, signal: &str) {
    let status = std::process::Command::new("kill").args([format!("-{signal}"), pid.to_string()]).status().unwrap();
    assert!(status.success(), "kill -{signal} {pid}");
}

/// `mcp-warden serve` as a child process, with the URLs it reported.
pub struct ServedGateway {
    pub child: tokio::process::Child,
    pub log: Log,
    /// `http://127.0.0.1:PORT/mcp`
    pub mcp_url: String,
    /// `http://127.0.0.1:PORT/admin/api`, when the config has `[admin]`.
    pub admin_url: Option<String>,
}

impl ServedGateway {
    /// Starts `mcp-warden serve --config <config>` and waits until it serves MCP.
    pub async fn start(config: &Path) -> ServedGateway {
        ServedGateway::start_with_env(config, &[]).await
    }

    /// As `start`, with these variables added to the child's environment
    /// (an `env:` admin token, say).
    pub async fn start_with_env(config: &Path, env: &[(&str, &str)]) -> ServedGateway {
        let mut child = warden_command("serve", config)
            .envs(env.iter().copied())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let log = Log::default();
        log.follow(child.stderr.take().unwrap());
        let mcp_url = log.after("serving MCP on ").await;
        // The admin listener binds and reports before the MCP one (a gateway
        // whose admin listener fails exits), so its line, if any, is in by now.
        let admin_url = log.seen_after("serving the admin API on ");
        ServedGateway { child, log, mcp_url, admin_url }
    }

    pub fn pid(&self) -> u32 {
        self.child.id().expect("the gateway is running")
    }

    pub fn send_signal(&self, signal: &str) {
        send_signal(self.pid(), signal);
    }

    /// Waits for the exit, at most `limit` after `since`; its status and when
    /// it came. Kills the gateway and panics with its log if it overstays.
    pub async fn exit_within(&mut self, since: Instant, limit: Duration) -> (ExitStatus, Duration) {
        let waited = tokio::time::timeout(limit.saturating_sub(since.elapsed()), self.child.wait()).await;
        match waited {
            Ok(status) => (status.unwrap(), since.elapsed()),
            Err(_) => {
                let _ = self.child.kill().await;
                panic!("the gateway was still running {limit:?} after the signal; it logged {:?}", self.log.lines())
            }
        }
    }
}

/// The tracked files of the shipped demo, copied as a fresh clone has them:
/// `config/gateway.toml` (on a free port), `policies/default.toml` and
/// `examples/workspace/`. The demo binary is the built one (`${exe_dir}`).
pub fn shipped_copy() -> (tempfile::TempDir, std::path::PathBuf) {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let clone = tempfile::tempdir().unwrap();
    let listed = std::process::Command::new("git")
        .args(["ls-files", "config/gateway.toml", "policies/default.toml", "examples/workspace"])
        .current_dir(repo)
        .output()
        .unwrap();
    let listed = String::from_utf8(listed.stdout).unwrap();
    assert!(listed.contains("examples/workspace/"), "the demo workspace is tracked: {listed}");
    for file in listed.lines() {
        let to = clone.path().join(file);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(repo.join(file), &to).unwrap();
    }
    let config = clone.path().join("config/gateway.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("http = \"127.0.0.1:8080\""));
    std::fs::write(&config, text.replace("http = \"127.0.0.1:8080\"", "http = \"127.0.0.1:0\"")).unwrap();
    (clone, config)
}
