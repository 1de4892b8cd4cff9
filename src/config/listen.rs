//! `[listen]`: the MCP endpoint clients reach, which Host and Origin headers
//! it accepts, how large a request may be, how long an unused session
//! lives, and how long a shutdown drains.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::values::{duration, positive_size, DurationKey};
use super::Loader;
use crate::source::SourceError;

const DEFAULT_HTTP: &str = "127.0.0.1:8080";
const DEFAULT_PATH: &str = "/mcp";
const DEFAULT_MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
const DEFAULT_REPLAY_BUFFER: usize = 100;
/// Each kept event may be as large as `relay.max_message_bytes`: a larger
/// buffer is more likely a typo than a plan.
const MAX_REPLAY_BUFFER: usize = 10_000;
const DRAIN_TIMEOUT: DurationKey = DurationKey {
    name: "listen.drain_timeout",
    default: Duration::from_secs(10),
    min: Duration::ZERO,
    example: "\"60s\" or \"2m\"",
};
/// Clients that never send DELETE (the Inspector CLI, `mcp-remote`) leave
/// their sessions, and a process per stdio upstream, until this passes.
const SESSION_IDLE_TIMEOUT: DurationKey = DurationKey {
    name: "listen.session_idle_timeout",
    default: Duration::from_secs(10 * 60),
    min: Duration::from_secs(1),
    example: "\"10m\" or \"1h\"",
};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListenConfig {
    pub http: SocketAddr,
    /// The MCP endpoint path; starts with '/'.
    pub path: String,
    /// Origins allowed in addition to same-host localhost ones, as `scheme://host[:port]`.
    pub allowed_origins: Vec<String>,
    /// Host header values allowed in addition to localhost/127.0.0.1/[::1] with the listen port.
    pub allowed_hosts: Vec<String>,
    pub max_body_bytes: usize,
    /// On SIGINT or SIGTERM, how long requests in flight may still finish
    /// before open streams are closed and the process exits.
    pub drain_timeout: Duration,
    /// An HTTP session with no request, no call in flight and no GET
    /// stream for this long is closed, with its upstream connections.
    pub session_idle_timeout: Duration,
    /// How many events of each SSE stream are kept for a client that
    /// reconnects with `Last-Event-ID`.
    pub replay_buffer: usize,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ListenTable {
    http: Option<Spanned<String>>,
    path: Option<Spanned<String>>,
    #[serde(default)]
    allowed_origins: Vec<Spanned<String>>,
    #[serde(default)]
    allowed_hosts: Vec<Spanned<String>>,
    max_body_bytes: Option<Spanned<u64>>,
    drain_timeout: Option<Spanned<String>>,
    session_idle_timeout: Option<Spanned<String>>,
    replay_buffer: Option<Spanned<u64>>,
}

pub(super) fn listen_config(table: ListenTable, source: &Loader<'_>) -> Result<ListenConfig, SourceError> {
    let http = match &table.http {
        None => DEFAULT_HTTP.parse().expect("default listen address parses"),
        Some(addr) => addr.get_ref().parse::<SocketAddr>().map_err(|_| {
            source.error(
                &addr.span(),
                format!(
                    "listen.http {:?} is not an address:port (e.g. \"127.0.0.1:8080\" or \"[::1]:8080\")",
                    addr.get_ref()
                ),
            )
        })?,
    };

    let path = match &table.path {
        None => DEFAULT_PATH.to_string(),
        Some(p) => {
            let text = p.get_ref();
            let valid = text.starts_with('/') && text.chars().all(|c| c.is_ascii_graphic() && c != '?' && c != '#');
            if !valid {
                return Err(source.error(
                    &p.span(),
                    format!("listen.path {text:?} must start with '/' and contain no spaces, '?' or '#'"),
                ));
            }
            text.clone()
        }
    };

    let mut allowed_origins = Vec::new();
    for origin in &table.allowed_origins {
        if !valid_origin(origin.get_ref()) {
            return Err(source.error(
                &origin.span(),
                format!(
                    "allowed origin {:?} must be scheme://host[:port], with no path or trailing '/'",
                    origin.get_ref()
                ),
            ));
        }
        allowed_origins.push(origin.get_ref().clone());
    }

    let mut allowed_hosts = Vec::new();
    for host in &table.allowed_hosts {
        let text = host.get_ref();
        let valid =
            !text.is_empty() && text.chars().all(|c| c.is_ascii_graphic() && !matches!(c, '/' | '@' | '?' | '#'));
        if !valid {
            return Err(source.error(
                &host.span(),
                format!("allowed host {text:?} must be host[:port], e.g. \"gateway.internal:8080\""),
            ));
        }
        allowed_hosts.push(text.clone());
    }

    let replay_buffer =
        positive_size(table.replay_buffer.clone(), DEFAULT_REPLAY_BUFFER, "listen.replay_buffer", source)?;
    if replay_buffer > MAX_REPLAY_BUFFER {
        let span = table.replay_buffer.as_ref().map(Spanned::span).unwrap_or_default();
        return Err(source.error(&span, format!("listen.replay_buffer must be at most {MAX_REPLAY_BUFFER} events")));
    }

    Ok(ListenConfig {
        http,
        path,
        allowed_origins,
        allowed_hosts,
        max_body_bytes: positive_size(table.max_body_bytes, DEFAULT_MAX_BODY_BYTES, "listen.max_body_bytes", source)?,
        drain_timeout: duration(&table.drain_timeout, &DRAIN_TIMEOUT, source)?,
        session_idle_timeout: duration(&table.session_idle_timeout, &SESSION_IDLE_TIMEOUT, source)?,
        replay_buffer,
    })
}

/// An Origin header value: `scheme://host[:port]`, exactly as browsers send it.
fn valid_origin(origin: &str) -> bool {
    let Some((scheme, rest)) = origin.split_once("://") else {
        return false;
    };
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    let rest_ok = !rest.is_empty() && rest.chars().all(|c| c.is_ascii_graphic() && !matches!(c, '/' | '@' | '?' | '#'));
    scheme_ok && rest_ok
}
