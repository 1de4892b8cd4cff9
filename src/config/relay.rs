//! `[relay]`: how tool names are namespaced, how long an upstream may take to
//! answer (and to start, before `initialize` is answered without it), and the
//! caps on messages, upstream sessions and requests in flight.

use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::values::{duration, positive_size, DurationKey};
use super::Loader;
use crate::source::SourceError;

const DEFAULT_SEPARATOR: &str = "__";
const REQUEST_TIMEOUT: DurationKey = DurationKey {
    name: "relay.request_timeout",
    default: Duration::from_secs(60),
    min: Duration::ZERO,
    example: "\"60s\" or \"2m\"",
};
/// Long enough for a local server to start, short enough that a client
/// launching the gateway is not kept waiting by one that never will.
const STARTUP_TIMEOUT: DurationKey = DurationKey {
    name: "relay.startup_timeout",
    default: Duration::from_secs(5),
    min: Duration::ZERO,
    example: "\"5s\" or \"30s\"",
};
const DEFAULT_MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;
/// Each open upstream session of a stdio server is a process; this bounds
/// how many a gateway's clients can make it run.
const DEFAULT_MAX_UPSTREAM_SESSIONS: usize = 256;
const DEFAULT_MAX_INFLIGHT_PER_SESSION: usize = 100;
/// Clients that never send DELETE leave processes behind until their
/// sessions time out; this bounds how many such processes wait meanwhile.
const DEFAULT_MAX_IDLE_UPSTREAM_SESSIONS: usize = 32;
/// More runtime threads than this only adds hand-offs.
const MAX_WORKER_THREADS: u64 = 256;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelayConfig {
    /// Joins an upstream prefix and a tool name: `<prefix><separator><tool>`.
    pub separator: String,
    pub request_timeout: Duration,
    /// How long `initialize` waits for upstreams still starting before it
    /// answers with those that have.
    pub startup_timeout: Duration,
    /// Cap on one message from an upstream.
    pub max_message_bytes: usize,
    /// Upstream sessions open at once across all clients (warm spares not
    /// counted); a client session that would open one more is refused.
    pub max_upstream_sessions: usize,
    /// Requests one client session may have in flight at once.
    pub max_inflight_per_session: usize,
    /// Upstream sessions that idle client sessions (nothing in flight, no
    /// GET stream) may keep open; beyond it, the longest-unused close.
    pub max_idle_upstream_sessions: usize,
    /// Threads that run the gateway's tasks; `None` (the default, or `0`):
    /// half the CPUs the process may use, at least one.
    pub worker_threads: Option<usize>,
}

impl RelayConfig {
    /// How many runtime threads to start. A sidecar shares its host with the
    /// client and the upstream, and on two cores one thread costs a third
    /// less CPU per call than two (BENCHMARKS.md): every hand-off between
    /// threads is a futex wake-up, and one thread needs none.
    pub fn runtime_threads(&self) -> usize {
        self.worker_threads.unwrap_or_else(|| {
            let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
            (cpus / 2).max(1)
        })
    }
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RelayTable {
    separator: Option<Spanned<String>>,
    request_timeout: Option<Spanned<String>>,
    startup_timeout: Option<Spanned<String>>,
    max_message_bytes: Option<Spanned<u64>>,
    max_upstream_sessions: Option<Spanned<u64>>,
    max_inflight_per_session: Option<Spanned<u64>>,
    max_idle_upstream_sessions: Option<Spanned<u64>>,
    worker_threads: Option<Spanned<u64>>,
}

pub(super) fn relay_config(table: RelayTable, source: &Loader<'_>) -> Result<RelayConfig, SourceError> {
    let separator = match &table.separator {
        None => DEFAULT_SEPARATOR.to_string(),
        Some(sep) => {
            let text = sep.get_ref();
            // Namespaced names must stay valid tool names for clients that
            // restrict them to [A-Za-z0-9_.-] (or [A-Za-z0-9_-]).
            let valid = (1..=8).contains(&text.len()) && text.chars().all(|c| matches!(c, '_' | '-' | '.'));
            if !valid {
                return Err(source.error(
                    &sep.span(),
                    format!("relay.separator {text:?} must be 1-8 characters from '_', '-' and '.'"),
                ));
            }
            text.clone()
        }
    };

    Ok(RelayConfig {
        separator,
        request_timeout: duration(&table.request_timeout, &REQUEST_TIMEOUT, source)?,
        startup_timeout: duration(&table.startup_timeout, &STARTUP_TIMEOUT, source)?,
        max_message_bytes: positive_size(
            table.max_message_bytes,
            DEFAULT_MAX_MESSAGE_BYTES,
            "relay.max_message_bytes",
            source,
        )?,
        max_upstream_sessions: positive_size(
            table.max_upstream_sessions,
            DEFAULT_MAX_UPSTREAM_SESSIONS,
            "relay.max_upstream_sessions",
            source,
        )?,
        max_inflight_per_session: positive_size(
            table.max_inflight_per_session,
            DEFAULT_MAX_INFLIGHT_PER_SESSION,
            "relay.max_inflight_per_session",
            source,
        )?,
        max_idle_upstream_sessions: positive_size(
            table.max_idle_upstream_sessions,
            DEFAULT_MAX_IDLE_UPSTREAM_SESSIONS,
            "relay.max_idle_upstream_sessions",
            source,
        )?,
        worker_threads: match table.worker_threads {
            Some(n) if *n.get_ref() == 0 => None,
            Some(n) if *n.get_ref() > MAX_WORKER_THREADS => {
                return Err(source.error(
                    &n.span(),
                    format!("relay.worker_threads must be at most {MAX_WORKER_THREADS} (0 picks half the CPUs)"),
                ))
            }
            Some(n) => Some(*n.get_ref() as usize),
            None => None,
        },
    })
}

#[cfg(test)]
mod tests {
    use crate::config::tests::{err, ok, MINIMAL};
    use std::time::Duration;

    #[test]
    fn startup_timeout_defaults_to_five_seconds_and_reads_like_other_durations() {
        assert_eq!(ok(MINIMAL).relay.startup_timeout, Duration::from_secs(5));
        let c = ok(&format!("{MINIMAL}[relay]\nstartup_timeout = \"1m 30s\"\n"));
        assert_eq!(c.relay.startup_timeout, Duration::from_secs(90));
        assert!(err(&format!("{MINIMAL}[relay]\nstartup_timeout = \"soon\"\n")).contains("relay.startup_timeout"));
        assert!(err(&format!("{MINIMAL}[relay]\nstartup_timeout = \"0s\"\n")).contains("greater than 0"));
    }

    #[test]
    fn worker_threads_default_to_half_the_cpus_and_zero_means_the_default() {
        let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        let default = ok(MINIMAL).relay;
        assert_eq!(default.worker_threads, None);
        assert_eq!(default.runtime_threads(), (cpus / 2).max(1));
        assert_eq!(ok(&format!("{MINIMAL}[relay]\nworker_threads = 0\n")).relay.runtime_threads(), (cpus / 2).max(1));
        assert_eq!(ok(&format!("{MINIMAL}[relay]\nworker_threads = 3\n")).relay.runtime_threads(), 3);
        assert!(err(&format!("{MINIMAL}[relay]\nworker_threads = 100000\n")).contains("relay.worker_threads"));
    }
}
