//! `[relay]`: how tool names are namespaced, how long an upstream may take to
//! answer, and the caps on messages, upstream sessions and requests in flight.

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
const DEFAULT_MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;
/// Each open upstream session of a stdio server is a process; this bounds
/// how many a gateway's clients can make it run.
const DEFAULT_MAX_UPSTREAM_SESSIONS: usize = 256;
const DEFAULT_MAX_INFLIGHT_PER_SESSION: usize = 100;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelayConfig {
    /// Joins an upstream prefix and a tool name: `<prefix><separator><tool>`.
    pub separator: String,
    pub request_timeout: Duration,
    /// Cap on one message from an upstream.
    pub max_message_bytes: usize,
    /// Upstream sessions open at once across all clients (warm spares not
    /// counted); a client session that would open one more is refused.
    pub max_upstream_sessions: usize,
    /// Requests one client session may have in flight at once.
    pub max_inflight_per_session: usize,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RelayTable {
    separator: Option<Spanned<String>>,
    request_timeout: Option<Spanned<String>>,
    max_message_bytes: Option<Spanned<u64>>,
    max_upstream_sessions: Option<Spanned<u64>>,
    max_inflight_per_session: Option<Spanned<u64>>,
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
    })
}
