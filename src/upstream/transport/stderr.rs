//! What a stdio upstream writes to stderr: logged at info under the
//! server's name, so `fatal: missing API key` reaches the person reading
//! the gateway's log, and its last line kept, so that the reason a process
//! died can quote it. Both are cleaned of control characters (an upstream
//! must not be able to forge log lines or colour the terminal) and bounded.
//!
//! The rate limit is per upstream, not per process: a server that cannot
//! start is started again on every retry of every client session, each time
//! as a new process saying the same thing. For the same reason a line the
//! same as the last one shown is logged at debug only: once is enough for
//! `fatal: missing API key` or a start-up banner.

use futures::StreamExt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::codec::{FramedRead, LinesCodec, LinesCodecError};

/// At most this many lines of one upstream's stderr are logged per window.
const LINES_PER_WINDOW: u32 = 20;
const WINDOW: Duration = Duration::from_secs(10);
/// A logged stderr line is cut here; a quoted one (in an error) shorter.
const MAX_LOGGED_CHARS: usize = 1000;
const MAX_QUOTED_CHARS: usize = 200;
/// Longer lines are skipped whole rather than buffered.
const MAX_LINE_BYTES: usize = 8 * 1024;

/// One upstream's stderr log, shared by all its processes.
pub struct StderrLog {
    server: String,
    window: Mutex<Window>,
}

struct Window {
    started: Instant,
    shown: u32,
    suppressed: u32,
    /// The last line logged at info.
    last: Option<String>,
}

/// What to log for one line.
#[derive(Debug, PartialEq)]
struct Verdict {
    show: bool,
    /// Lines suppressed in the window that just closed, to report first.
    report: u32,
}

impl Window {
    fn admit(&mut self, now: Instant) -> Verdict {
        let mut report = 0;
        if now.duration_since(self.started) >= WINDOW {
            report = std::mem::take(&mut self.suppressed);
            self.started = now;
            self.shown = 0;
        }
        let show = self.shown < LINES_PER_WINDOW;
        if show {
            self.shown += 1;
        } else {
            self.suppressed += 1;
        }
        Verdict { show, report }
    }
}

impl StderrLog {
    pub fn new(server: &str) -> StderrLog {
        StderrLog {
            server: server.to_string(),
            window: Mutex::new(Window { started: Instant::now(), shown: 0, suppressed: 0, last: None }),
        }
    }

    fn line(&self, line: &str) {
        let line = clean(line, MAX_LOGGED_CHARS);
        let server = &self.server;
        let verdict = {
            let mut window = self.window.lock().expect("stderr window lock");
            if window.last.as_deref() == Some(line.as_str()) {
                None
            } else {
                let verdict = window.admit(Instant::now());
                if verdict.show {
                    window.last = Some(line.clone());
                }
                Some(verdict)
            }
        };
        let Some(verdict) = verdict else {
            tracing::debug!(target: "upstream_stderr", server = %server, "[{server}] {line}");
            return;
        };
        self.report(verdict.report);
        if verdict.show {
            tracing::info!(target: "upstream_stderr", server = %server, "[{server}] {line}");
        }
    }

    /// Says how many lines were not shown, so silence is never mistaken
    /// for a quiet server.
    fn report(&self, suppressed: u32) {
        if suppressed > 0 {
            let server = &self.server;
            tracing::info!(
                target: "upstream_stderr",
                server = %server,
                "[{server}] {suppressed} more stderr line(s) not shown (at most {LINES_PER_WINDOW} per {}s)",
                WINDOW.as_secs()
            );
        }
    }

    /// A process ended: what it had suppressed is reported now rather than
    /// at the next line, which may never come.
    fn flush(&self) {
        let suppressed = std::mem::take(&mut self.window.lock().expect("stderr window lock").suppressed);
        self.report(suppressed);
    }
}

/// The last non-empty line a process wrote to stderr, cleaned and bounded.
pub type LastLine = Arc<Mutex<Option<String>>>;

/// Reads one process's stderr until it closes, logging each line and
/// keeping the last non-empty one in `last`.
pub async fn follow(stderr: tokio::process::ChildStderr, log: Arc<StderrLog>, last: LastLine) {
    let mut lines = FramedRead::new(stderr, LinesCodec::new_with_max_length(MAX_LINE_BYTES));
    while let Some(line) = lines.next().await {
        match line {
            Ok(line) => {
                let quoted = clean(&line, MAX_QUOTED_CHARS);
                if quoted.trim().is_empty() {
                    continue;
                }
                log.line(&line);
                *last.lock().expect("last line lock") = Some(quoted.trim().to_string());
            }
            Err(LinesCodecError::MaxLineLengthExceeded) => continue,
            Err(LinesCodecError::Io(_)) => break,
        }
    }
    log.flush();
}

/// `line` without control characters, cut to `max` characters.
fn clean(line: &str, max: usize) -> String {
    let mut kept: String = line.chars().filter(|c| !c.is_control()).take(max + 1).collect();
    if kept.chars().count() > max {
        kept = kept.chars().take(max).collect();
        kept.push('…');
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chatty_upstream_is_cut_to_twenty_lines_per_window_and_the_rest_counted() {
        let start = Instant::now();
        let mut window = Window { started: start, shown: 0, suppressed: 0, last: None };
        let shown = (0..50).filter(|_| window.admit(start).show).count();
        assert_eq!(shown, 20);
        let next = window.admit(start + WINDOW);
        assert_eq!(next, Verdict { show: true, report: 30 }, "the next window reports what the last one hid");
        assert_eq!(window.admit(start + WINDOW).report, 0, "reported once");
    }

    #[test]
    fn escape_sequences_cannot_reach_the_log_and_long_lines_are_cut() {
        assert_eq!(clean("\u{1b}[31mfatal\r\n: key\u{7}", 200), "[31mfatal: key");
        let long = "x".repeat(500);
        let cut = clean(&long, 200);
        assert_eq!(cut.chars().count(), 201);
        assert!(cut.ends_with('…'));
        assert_eq!(clean("short", 5), "short");
    }
}
