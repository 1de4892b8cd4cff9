//! What the pool knows of each upstream, whichever client session learned
//! it: its last handshake and its health (starting, ready, failing), and the
//! one log line per change of health. Every client session has its own
//! connection retrying a dead server, so logging attempts rather than changes
//! would repeat one failure once per session and per retry.

use super::transport::StderrLog;
use serde_json::Value;
use std::sync::{Arc, RwLock};
use tokio::sync::watch;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Health {
    /// No attempt to start it has finished yet.
    Starting,
    /// The last attempt to start it succeeded.
    Ready,
    /// The last attempt to start it failed; `attempts` have failed since it
    /// was last ready.
    Failing { detail: String, attempts: u32 },
}

impl Health {
    /// Whether its first attempt has finished, one way or the other.
    pub fn settled(&self) -> bool {
        !matches!(self, Health::Starting)
    }
}

pub struct UpstreamStatus {
    name: String,
    init: RwLock<Option<Arc<Value>>>,
    health: watch::Sender<Health>,
    stderr: Arc<StderrLog>,
}

impl UpstreamStatus {
    pub(super) fn new(name: &str) -> UpstreamStatus {
        UpstreamStatus {
            name: name.to_string(),
            init: RwLock::new(None),
            health: watch::Sender::new(Health::Starting),
            stderr: Arc::new(StderrLog::new(name)),
        }
    }

    /// Its last `initialize` result, if it ever connected.
    pub fn init(&self) -> Option<Arc<Value>> {
        self.init.read().expect("status lock").clone()
    }

    pub fn health(&self) -> Health {
        self.health.borrow().clone()
    }

    pub(super) fn watch(&self) -> watch::Receiver<Health> {
        self.health.subscribe()
    }

    /// Where the stderr of every process of this upstream is logged.
    pub(super) fn stderr(&self) -> &Arc<StderrLog> {
        &self.stderr
    }

    /// An attempt to start it succeeded.
    pub(super) fn ready(&self, init: Arc<Value>) {
        *self.init.write().expect("status lock") = Some(init);
        let was = self.health.send_replace(Health::Ready);
        let name = &self.name;
        match was {
            Health::Starting => tracing::info!(server = %name, "upstream \"{name}\" is ready"),
            Health::Failing { attempts, .. } => {
                let s = plural(attempts);
                tracing::info!(server = %name, "upstream \"{name}\" is ready again after {attempts} failed attempt{s}")
            }
            Health::Ready => {}
        }
    }

    /// An attempt to start it failed with `detail`.
    pub(super) fn failed(&self, detail: &str) {
        let mut entered = false;
        let mut count = 0;
        self.health.send_modify(|health| {
            count = match health {
                Health::Failing { attempts, .. } => attempts.saturating_add(1),
                _ => {
                    entered = true;
                    1
                }
            };
            *health = Health::Failing { detail: detail.to_string(), attempts: count };
        });
        let name = &self.name;
        if entered {
            tracing::warn!(server = %name, "upstream \"{name}\" is down: {detail} (attempt 1)");
        } else {
            tracing::debug!(server = %name, "upstream \"{name}\" is still down: {detail} (attempt {count})");
        }
    }
}

fn plural(n: u32) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn failures_while_failing_are_counted_and_a_success_clears_them() {
        let status = UpstreamStatus::new("x");
        assert_eq!(status.health(), Health::Starting);
        assert!(!status.health().settled());
        status.failed("exited with status 1");
        status.failed("exited with status 2");
        assert_eq!(status.health(), Health::Failing { detail: "exited with status 2".into(), attempts: 2 });
        assert!(status.health().settled());
        status.ready(Arc::new(json!({"protocolVersion": "2025-11-25"})));
        assert_eq!(status.health(), Health::Ready);
        assert!(status.init().is_some());
        status.failed("exited with status 3");
        assert_eq!(status.health(), Health::Failing { detail: "exited with status 3".into(), attempts: 1 });
        assert!(status.init().is_some(), "the last handshake is remembered while it is down");
    }
}
