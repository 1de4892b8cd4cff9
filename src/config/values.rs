//! How config values are read alike across sections: `env:NAME` resolution,
//! positive sizes, bounded durations, and maps of HTTP headers (whose values
//! may be secrets, so neither errors nor `Debug` ever show them).

use std::collections::BTreeMap;
use std::env::VarError;
use std::fmt;
use std::time::Duration;

use toml::Spanned;

use super::{Environment, Loader};
use crate::source::{self, HeaderProblem, SourceError};

/// Values of the form `env:NAME` are read from the gateway's environment at load.
const ENV_PREFIX: &str = "env:";

/// `env:NAME` reads NAME from the environment; anything else is taken literally.
pub(super) fn resolve_value(
    value: &Spanned<String>,
    what: &str,
    source: &Loader<'_>,
    env: &Environment<'_>,
) -> Result<String, SourceError> {
    let Some(var) = value.get_ref().strip_prefix(ENV_PREFIX) else {
        return Ok(value.get_ref().clone());
    };
    let name_ok = var.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && var.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !name_ok {
        return Err(source.error(
            &value.span(),
            format!("{what}: {var:?} is not an environment variable name (env:NAME with NAME from A-Z, a-z, 0-9, '_')"),
        ));
    }
    match (env.var)(var) {
        Ok(v) => Ok(v),
        Err(VarError::NotPresent) => {
            Err(source.error(&value.span(), format!("{what}: environment variable {var} is not set")))
        }
        Err(VarError::NotUnicode(_)) => {
            Err(source.error(&value.span(), format!("{what}: environment variable {var} is not valid UTF-8")))
        }
    }
}

pub(super) fn positive_size(
    value: Option<Spanned<u64>>,
    default: usize,
    name: &str,
    source: &Loader<'_>,
) -> Result<usize, SourceError> {
    match value {
        None => Ok(default),
        Some(v) => match usize::try_from(*v.get_ref()) {
            Ok(0) => Err(source.error(&v.span(), format!("{name} must be greater than 0"))),
            Ok(n) => Ok(n),
            Err(_) => Err(source.error(&v.span(), format!("{name} is too large"))),
        },
    }
}

/// The longest wait any duration setting may ask for. Each one is added to
/// the clock (`Instant + Duration` panics on overflow, and humantime accepts
/// centuries), and no timeout or interval of the gateway's needs a day.
const MAX_WAIT: Duration = Duration::from_secs(24 * 60 * 60);

/// A duration setting: its key, its default, its bounds and a valid example
/// for the error that refuses a malformed one.
pub(super) struct DurationKey {
    pub(super) name: &'static str,
    pub(super) default: Duration,
    /// `Duration::ZERO`: any positive duration.
    pub(super) min: Duration,
    pub(super) example: &'static str,
}

/// A duration written like "60s" or "2m 30s", or the key's default.
pub(super) fn duration(
    value: &Option<Spanned<String>>,
    key: &DurationKey,
    source: &Loader<'_>,
) -> Result<Duration, SourceError> {
    let Some(text) = value else { return Ok(key.default) };
    source::parse_duration(text.get_ref(), key.min, MAX_WAIT)
        .map_err(|e| source.error(&text.span(), e.reason(key.name, text.get_ref(), key.example)))
}

/// Where a header table sits, for its errors.
pub(super) struct HeaderSite<'a> {
    /// Prefixes errors about a header's name: `{scope}: "X-Name" ...`.
    pub(super) scope: &'a str,
    /// Names one header for errors about its value.
    pub(super) label: &'a dyn Fn(&str) -> String,
    /// Lowercase names the gateway or its HTTP client sets itself.
    pub(super) reserved: &'a [&'a str],
}

/// A `headers = { Name = "value" | "env:NAME" }` table, resolved and checked.
pub(super) fn resolve_headers(
    table: &Spanned<BTreeMap<String, Spanned<String>>>,
    site: &HeaderSite<'_>,
    source: &Loader<'_>,
    env: &Environment<'_>,
) -> Result<BTreeMap<String, String>, SourceError> {
    let scope = site.scope;
    let mut resolved = BTreeMap::new();
    for (key, value) in table.get_ref() {
        match source::header_name(key, site.reserved) {
            Ok(_) => {}
            Err(HeaderProblem::Reserved) => {
                return Err(source
                    .error(&table.span(), format!("{scope}: {key:?} is set by the gateway and cannot be configured")));
            }
            Err(_) => {
                return Err(source.error(&table.span(), format!("{scope}: {key:?} is not a valid HTTP header name")));
            }
        }
        let what = (site.label)(key);
        let text = resolve_value(value, &what, source, env)?;
        if source::header_value(&text).is_err() {
            // Never echo the value: it may be a secret.
            return Err(
                source.error(&value.span(), format!("{what}: value contains characters not allowed in an HTTP header"))
            );
        }
        resolved.insert(key.clone(), text);
    }
    Ok(resolved)
}

/// Prints map keys with redacted values.
pub(super) struct Redacted<'a>(pub(super) &'a BTreeMap<String, String>);

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.0.keys().map(|k| (k, format_args!("***")))).finish()
    }
}
