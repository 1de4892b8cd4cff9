//! Upstream MCP servers run as child processes, spoken to over
//! newline-delimited JSON-RPC on stdin/stdout.
//!
//! The child starts from an empty environment plus `PATH` and what the config
//! lists, so the gateway's own secrets never leak into a server it does not
//! trust. It runs in its own process group, so `npx`-style launchers and
//! their grandchildren die with the connection. What it writes to stderr
//! is logged (`stderr.rs`), and its last line explains its death.

use super::stderr::{self, LastLine, StderrLog};
use super::{Outbound, TransportEvent};
use crate::config::UpstreamTransport;
use crate::lines::{BoundedLines, Line};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// How long a process that exited may take to flush its stderr before its
/// death is reported without the last line.
const STDERR_GRACE: Duration = Duration::from_millis(200);

/// Kills the child's whole process group when the connection is dropped.
struct GroupKiller(Option<u32>);

impl Drop for GroupKiller {
    fn drop(&mut self) {
        // The child leads its own group (process_group(0)), so its pid is the
        // group's id. It may be gone already; then there is nothing to kill.
        let group = self.0.and_then(|pid| i32::try_from(pid).ok()).and_then(rustix::process::Pid::from_raw);
        if let Some(group) = group {
            let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
        }
    }
}

pub fn spawn(
    transport: &UpstreamTransport,
    max_message_bytes: usize,
    stderr_log: &Arc<StderrLog>,
) -> std::io::Result<(mpsc::Sender<Outbound>, mpsc::Receiver<TransportEvent>)> {
    let UpstreamTransport::Stdio { command, args, cwd, env } = transport else {
        return Err(std::io::Error::other("not a stdio upstream"));
    };
    let mut cmd = Command::new(command);
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into()))
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .process_group(0);
    if let Some(cwd) = cwd {
        cmd.current_dir(cwd);
    }
    let mut child = cmd.spawn()?;
    let killer = GroupKiller(child.id());
    let stdin = child.stdin.take().expect("stdin was piped");
    let stdout = child.stdout.take().expect("stdout was piped");
    let stderr = child.stderr.take().expect("stderr was piped");

    let (out_tx, out_rx) = mpsc::channel::<Outbound>(64);
    let (ev_tx, ev_rx) = mpsc::channel::<TransportEvent>(64);

    let writer = tokio::spawn(write_loop(stdin, out_rx));
    let last = LastLine::default();
    let stderr = tokio::spawn(stderr::follow(stderr, stderr_log.clone(), last.clone()));
    let child = Exit { child, killer, stderr, last, writer };
    tokio::spawn(read_loop(child, stdout, ev_tx, max_message_bytes));
    Ok((out_tx, ev_rx))
}

async fn write_loop(mut stdin: tokio::process::ChildStdin, mut rx: mpsc::Receiver<Outbound>) {
    while let Some(out) = rx.recv().await {
        let mut line = match serde_json::to_vec(&out.msg) {
            Ok(line) => line,
            Err(_) => continue,
        };
        line.push(b'\n');
        if stdin.write_all(&line).await.is_err() || stdin.flush().await.is_err() {
            // The reader sees the exit and reports it; nothing to add here.
            break;
        }
    }
}

/// The process and what tells how it ended.
struct Exit {
    child: Child,
    killer: GroupKiller,
    stderr: JoinHandle<()>,
    last: LastLine,
    /// Ends once everything sent to the process has been written to it.
    writer: JoinHandle<()>,
}

/// How long a process whose session ended may take to read what was still
/// queued for it (a `notifications/cancelled` for the calls the session
/// left in flight) and exit on its own before it is killed.
const LAST_WRITES_GRACE: Duration = Duration::from_secs(1);

async fn read_loop(
    child: Exit,
    stdout: tokio::process::ChildStdout,
    events: mpsc::Sender<TransportEvent>,
    max_message_bytes: usize,
) {
    // An over-long line is skipped, not buffered, so a hostile server
    // cannot make the gateway hold an unbounded message.
    let mut lines = BoundedLines::new(stdout, max_message_bytes);
    let reason = loop {
        let next = tokio::select! {
            next = lines.next_line() => next,
            // Nobody listens any more: the session ended, so the child goes.
            _ = events.closed() => break None,
        };
        let event = match next {
            Ok(Some(Line::Complete(line))) if line.iter().all(u8::is_ascii_whitespace) => continue,
            Ok(Some(Line::Complete(line))) => match serde_json::from_slice::<serde_json::Value>(&line) {
                Ok(msg) => TransportEvent::Message { msg, related: None },
                Err(e) => TransportEvent::Malformed(format!("invalid JSON on stdout: {e}")),
            },
            Ok(Some(Line::TooLong)) => {
                TransportEvent::Malformed(format!("a message larger than {max_message_bytes} bytes was discarded"))
            }
            Err(e) => break Some(format!("reading stdout failed: {e}")),
            Ok(None) => break Some("closed its stdout".to_string()),
        };
        if events.send(event).await.is_err() {
            break None;
        }
    };
    let Some(reason) = reason else {
        // The session's last messages (the cancellations of what it left in
        // flight) are queued just before it lets go: they go out first. The
        // writer's end closes stdin, which is how a stdio server learns to
        // shut down (the MCP spec's order: close stdin, wait, then kill);
        // bytes in the pipe are not yet read, so killing at once could lose
        // the cancellations.
        let Exit { mut child, killer, writer, .. } = child;
        let _ = tokio::time::timeout(LAST_WRITES_GRACE, async {
            let _ = writer.await;
            let _ = child.wait().await;
        })
        .await;
        drop(killer);
        return;
    };
    let detail = how_it_ended(child, &reason).await;
    let _ = events.send(TransportEvent::Closed(detail)).await;
}

/// Why the connection ended, as the client's error will say: the exit
/// status and the last thing the process wrote to stderr.
async fn how_it_ended(exit: Exit, reason: &str) -> String {
    let Exit { mut child, killer, mut stderr, last, .. } = exit;
    // Give the process a moment to exit so the error can say how it died.
    let status = tokio::time::timeout(Duration::from_millis(500), child.wait()).await;
    let mut detail = match status {
        Ok(Ok(status)) => match status.code() {
            Some(code) => format!("the process exited with status {code}"),
            None => format!("the process was killed ({status})"),
        },
        _ => format!("the process {reason}"),
    };
    drop(killer);
    // Its stderr is read by another task, which may still be behind.
    if tokio::time::timeout(STDERR_GRACE, &mut stderr).await.is_err() {
        stderr.abort();
    }
    if let Some(line) = last.lock().expect("last line lock").take() {
        detail.push_str(&format!("; its last stderr line: {line:?}"));
    }
    detail
}
