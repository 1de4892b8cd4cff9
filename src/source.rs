//! The loader kit the config and policy loaders share: errors positioned as
//! `FILE:LINE:COL: reason`, TOML errors worded as refusals, and the value
//! checks both files need (bounded durations, HTTP header names and values,
//! web URLs), so the same mistake reads the same wherever it is made.
//!
//! Pure: no I/O, nothing above it in the crate.

use std::fmt;
use std::ops::Range;
use std::time::Duration;

/// A load error at a position in a source text. Display is
/// `{origin}:{line}:{column}: {reason}`; line and column are 1-based, the
/// column counted in characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceError {
    pub origin: String,
    pub line: usize,
    pub column: usize,
    pub reason: String,
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: {}", self.origin, self.line, self.column, self.reason)
    }
}

impl std::error::Error for SourceError {}

/// One source text being loaded, for positioned errors.
#[derive(Clone, Copy, Debug)]
pub struct Source<'a> {
    origin: &'a str,
    text: &'a str,
}

impl<'a> Source<'a> {
    /// `origin` names the text in errors (usually its path).
    pub fn new(origin: &'a str, text: &'a str) -> Self {
        Source { origin, text }
    }

    pub fn origin(&self) -> &'a str {
        self.origin
    }

    /// An error at the start of `span` (byte offsets into the text).
    pub fn error(&self, span: &Range<usize>, reason: impl Into<String>) -> SourceError {
        let (line, column) = line_col(self.text, span.start);
        SourceError { origin: self.origin.to_string(), line, column, reason: reason.into() }
    }

    /// `origin:line:column` of `span`, for "already defined at ..." errors.
    pub fn location(&self, span: &Range<usize>) -> String {
        let (line, column) = line_col(self.text, span.start);
        format!("{}:{line}:{column}", self.origin)
    }

    /// Deserializes the whole text, positioning any syntax or shape error.
    pub fn parse<T: serde::de::DeserializeOwned>(&self) -> Result<T, SourceError> {
        toml::from_str(self.text).map_err(|e| self.error(&e.span().unwrap_or(0..0), toml_reason(&e)))
    }
}

/// 1-based line and column (in characters) of a byte offset in `text`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = before.matches('\n').count() + 1;
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// Rewords a TOML/serde error so an unsupported key reads as a refusal, not a typo.
pub fn toml_reason(err: &toml::de::Error) -> String {
    let message = err.message().trim_end();
    if message.starts_with("unknown field") || message.starts_with("unknown variant") {
        format!("{message} (unsupported settings are refused, never ignored)")
    } else {
        message.to_string()
    }
}

/// Why a duration setting was refused; [`DurationError::reason`] words it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DurationError {
    /// Not a duration at all; humantime's explanation.
    Malformed(String),
    /// Zero, or below the setting's floor (`Duration::ZERO` when it has none).
    TooShort {
        min: Duration,
    },
    TooLong {
        max: Duration,
    },
}

impl DurationError {
    /// The refusal of setting `name` written as `text`; `example` shows a
    /// valid value (`"\"60s\" or \"2m\""`). Never more than `text` is echoed.
    pub fn reason(&self, name: &str, text: &str, example: &str) -> String {
        match self {
            DurationError::Malformed(why) => format!("{name} {text:?} is not a duration like {example}: {why}"),
            DurationError::TooShort { min } if min.is_zero() => format!("{name} must be greater than 0"),
            DurationError::TooShort { min } => format!("{name} must be at least {}", spell(*min)),
            DurationError::TooLong { max } => format!("{name} must be at most {}", spell(*max)),
        }
    }
}

/// A duration written like "60s", "1500ms" or "2m 30s", at least `min`
/// (and never zero: every setting that takes one is a wait or an interval)
/// and at most `max`.
pub fn parse_duration(text: &str, min: Duration, max: Duration) -> Result<Duration, DurationError> {
    let d = humantime::parse_duration(text).map_err(|e| DurationError::Malformed(e.to_string()))?;
    if d < min || d.is_zero() {
        return Err(DurationError::TooShort { min });
    }
    if d > max {
        return Err(DurationError::TooLong { max });
    }
    Ok(d)
}

/// A bound as people write it: `24h`, `5m`, `50ms` (humantime would say `1day`).
fn spell(d: Duration) -> String {
    let (secs, nanos) = (d.as_secs(), d.subsec_nanos());
    match (secs, nanos) {
        (s, 0) if s > 0 && s % 3600 == 0 => format!("{}h", s / 3600),
        (s, 0) if s > 0 && s % 60 == 0 => format!("{}m", s / 60),
        (s, 0) => format!("{s}s"),
        _ => format!("{}ms", d.as_millis()),
    }
}

/// Why a configured HTTP header was refused. Nothing here carries the value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderProblem {
    InvalidName,
    /// A header the gateway (or its HTTP client) sets itself.
    Reserved,
    InvalidValue,
}

/// A configured header name: valid, and not one of `reserved` (lowercase).
pub fn header_name(name: &str, reserved: &[&str]) -> Result<http::HeaderName, HeaderProblem> {
    let parsed = http::HeaderName::from_bytes(name.as_bytes()).map_err(|_| HeaderProblem::InvalidName)?;
    if reserved.contains(&parsed.as_str()) {
        return Err(HeaderProblem::Reserved);
    }
    Ok(parsed)
}

/// A configured header value: only what an HTTP header may carry.
pub fn header_value(value: &str) -> Result<(), HeaderProblem> {
    http::HeaderValue::from_str(value).map(drop).map_err(|_| HeaderProblem::InvalidValue)
}

/// An http(s) URL with a host and no credentials, or what is wrong with it.
/// The answer never repeats the URL: a webhook URL is often itself a secret,
/// and an upstream URL may carry a token.
pub fn web_url(text: &str) -> Result<url::Url, &'static str> {
    let url = url::Url::parse(text).map_err(|_| "is not a valid URL")?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must start with http:// or https://");
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("has no host");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not embed credentials; use headers = { Authorization = \"env:NAME\" }");
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(24 * 60 * 60);

    #[test]
    fn columns_count_characters_not_bytes() {
        assert_eq!(line_col("é = 1\nab", 7), (2, 1));
        assert_eq!(line_col("é = 1\nab", 8), (2, 2));
        assert_eq!(line_col("éx", 2), (1, 2));
        assert_eq!(line_col("abc", 99), (1, 4));
    }

    #[test]
    fn an_error_reads_file_line_col_reason() {
        let source = Source::new("/etc/warden/p.toml", "a = 1\nbb = \"x\"\n");
        let e = source.error(&(11..12), "bad value");
        assert_eq!(e.to_string(), "/etc/warden/p.toml:2:6: bad value");
        assert_eq!(source.location(&(0..1)), "/etc/warden/p.toml:1:1");
    }

    #[test]
    fn an_unknown_key_is_worded_as_a_refusal_not_a_typo() {
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        struct Shape {
            #[allow(dead_code)]
            known: Option<u8>,
        }
        let e = Source::new("c.toml", "known = 1\nbind_all = true\n").parse::<Shape>().unwrap_err();
        assert!(e.to_string().starts_with("c.toml:2:1: unknown field `bind_all`"), "{e}");
        assert!(e.reason.ends_with("(unsupported settings are refused, never ignored)"), "{e}");
    }

    #[test]
    fn a_zero_wait_is_refused_whatever_the_floor() {
        assert_eq!(parse_duration("0s", Duration::ZERO, DAY), Err(DurationError::TooShort { min: Duration::ZERO }));
        let e = parse_duration("0s", Duration::ZERO, DAY).unwrap_err();
        assert_eq!(e.reason("relay.request_timeout", "0s", "\"60s\""), "relay.request_timeout must be greater than 0");
        let floor = Duration::from_millis(50);
        let e = parse_duration("0s", floor, DAY).unwrap_err();
        assert_eq!(
            e.reason("approval.progress_interval", "0s", "\"5s\""),
            "approval.progress_interval must be at least 50ms"
        );
        assert_eq!(parse_duration("10ms", floor, DAY), Err(DurationError::TooShort { min: floor }));
        assert_eq!(parse_duration("50ms", floor, DAY), Ok(floor));
    }

    #[test]
    fn a_wait_beyond_the_ceiling_is_refused_in_the_words_people_use() {
        assert_eq!(parse_duration("24h", Duration::ZERO, DAY), Ok(DAY));
        let e = parse_duration("2d", Duration::ZERO, DAY).unwrap_err();
        assert_eq!(
            e.reason("defaults.approval_timeout", "2d", "\"120s\""),
            "defaults.approval_timeout must be at most 24h"
        );
        assert_eq!(spell(Duration::from_secs(300)), "5m");
        assert_eq!(spell(Duration::from_secs(7)), "7s");
    }

    #[test]
    fn a_malformed_duration_names_the_setting_and_an_example() {
        let e = parse_duration("soon", Duration::ZERO, Duration::MAX).unwrap_err();
        let reason = e.reason("relay.request_timeout", "soon", "\"60s\" or \"2m\"");
        assert!(
            reason.starts_with("relay.request_timeout \"soon\" is not a duration like \"60s\" or \"2m\": "),
            "{reason}"
        );
        assert_eq!(parse_duration("2m 30s", Duration::ZERO, Duration::MAX), Ok(Duration::from_secs(150)));
    }

    #[test]
    fn a_configured_header_cannot_be_malformed_or_replace_a_reserved_one() {
        assert_eq!(header_name("X-Team", &["host"]).map(|n| n.to_string()), Ok("x-team".to_string()));
        assert_eq!(header_name("bad header", &[]), Err(HeaderProblem::InvalidName));
        assert_eq!(header_name("Host", &["host"]), Err(HeaderProblem::Reserved));
        assert_eq!(header_value("Bearer tk-1"), Ok(()));
        assert_eq!(header_value("sec\nret"), Err(HeaderProblem::InvalidValue));
    }

    #[test]
    fn a_web_url_must_be_plain_http_with_a_host_and_no_credentials() {
        for (url, problem) in [
            ("ftp://hooks.example.com/x", "must start with http:// or https://"),
            ("https://user:hunter2@hooks.example.com/x", "must not embed credentials"),
            ("https://user@hooks.example.com/x", "must not embed credentials"),
            ("hooks.example.com/x", "is not a valid URL"),
            ("127.0.0.1:9000/mcp", "is not a valid URL"),
            ("file:///etc/passwd", "must start with http:// or https://"),
        ] {
            let why = web_url(url).unwrap_err();
            assert!(why.starts_with(problem), "{url}: {why}");
            assert!(!why.contains("hunter2"), "{why}");
        }
        assert_eq!(web_url("http://127.0.0.1:9000/mcp").unwrap().as_str(), "http://127.0.0.1:9000/mcp");
    }
}
