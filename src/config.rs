//! The gateway configuration (`config/gateway.toml`): where to listen, which
//! upstreams to serve, which policy files to load, where to write the audit log.
//!
//! Everything is validated and resolved at load: relative paths against the
//! config file's directory, `env:NAME` values from the gateway's environment,
//! a leading `${exe_dir}` in a command. Unknown keys are errors. Errors read
//! `FILE:LINE:COL: reason`, like policy errors.

use std::collections::{BTreeMap, HashMap};
use std::env::VarError;
use std::fmt;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::policy::file::{line_col, toml_reason};

const DEFAULT_HTTP: &str = "127.0.0.1:8080";
const DEFAULT_PATH: &str = "/mcp";
const DEFAULT_MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
const DEFAULT_SEPARATOR: &str = "__";
const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
const DEFAULT_MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;
const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Each open upstream session of a stdio server is a process; this bounds
/// how many a gateway's clients can make it run.
const DEFAULT_MAX_UPSTREAM_SESSIONS: usize = 256;
const DEFAULT_MAX_INFLIGHT_PER_SESSION: usize = 100;
const DEFAULT_AUDIT_PATH: &str = "audit.jsonl";
/// Values of the form `env:NAME` are read from the gateway's environment at load.
const ENV_PREFIX: &str = "env:";
const EXE_DIR: &str = "${exe_dir}";

#[derive(Clone, Debug)]
pub struct GatewayConfig {
    /// The file this configuration was read from.
    pub source: PathBuf,
    /// Policy files, resolved against the config file's directory, in load order.
    pub policies: Vec<PathBuf>,
    pub listen: ListenConfig,
    pub relay: RelayConfig,
    pub upstreams: Vec<UpstreamConfig>,
    pub audit: AuditConfig,
    /// The admin listener (approvals API); absent unless `[admin]` is configured.
    pub admin: Option<AdminConfig>,
    pub approval: ApprovalConfig,
}

/// `[admin]`: a separate listener for people, never for MCP clients.
#[derive(Clone, PartialEq, Eq)]
pub struct AdminConfig {
    pub listen: SocketAddr,
    /// The bearer token every admin request must carry (resolved; a secret).
    pub token: String,
}

impl fmt::Debug for AdminConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminConfig").field("listen", &self.listen).field("token", &format_args!("***")).finish()
    }
}

/// `[approval]`: where held calls are kept and how the waiting client is kept informed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApprovalConfig {
    /// The SQLite file of pending approvals and grants.
    pub store: PathBuf,
    /// How often a waiting client that sent a progress token hears "waiting for approval".
    pub progress_interval: Duration,
    /// Held calls beyond this many are denied at once.
    pub max_pending: usize,
    /// Held calls of one client session beyond this many are denied at once,
    /// so one client cannot fill the queue for everyone.
    pub max_pending_per_session: usize,
    /// `[approval.webhook]`: where held calls are announced; absent = no webhook channel.
    pub webhook: Option<WebhookConfig>,
}

/// `[approval.webhook]`. `url`, `secret` and `headers` are resolved and may
/// hold secrets (a chat tool's webhook URL often is one), so `Debug` shows
/// only the URL's origin and header names.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    /// Where each held request is POSTed.
    pub url: String,
    /// Signs the POSTs and the callback links; at least `MIN_WEBHOOK_SECRET_LEN` characters.
    pub secret: String,
    /// The admin listener as the receiver reaches it, without a trailing '/'.
    pub callback_url: String,
    /// The limit of one delivery attempt.
    pub timeout: Duration,
    /// Delivery attempts before giving up, at least 1.
    pub attempts: u32,
    /// Extra request headers (a ticket system's token, say).
    pub headers: BTreeMap<String, String>,
}

impl fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let origin = url::Url::parse(&self.url).map(|u| u.origin().ascii_serialization()).unwrap_or_default();
        f.debug_struct("WebhookConfig")
            .field("url", &format_args!("{origin}/***"))
            .field("secret", &format_args!("***"))
            .field("callback_url", &self.callback_url)
            .field("timeout", &self.timeout)
            .field("attempts", &self.attempts)
            .field("headers", &Redacted(&self.headers))
            .finish()
    }
}

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
}

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

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpstreamConfig {
    /// Unique; the server name policies match on.
    pub name: String,
    /// Replaces `name` in namespaced tool names.
    pub alias: Option<String>,
    pub transport: UpstreamTransport,
    /// `roots`: directories the gateway itself tells this upstream about when
    /// it asks for roots, instead of relaying the client's. `None` relays.
    pub roots: Option<Vec<PinnedRoot>>,
}

/// A root the gateway answers `roots/list` with for an upstream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PinnedRoot {
    /// `file://` URI of an absolute directory.
    pub uri: String,
    /// The directory's last component, as the root's display name.
    pub name: String,
}

impl UpstreamConfig {
    /// The prefix of this upstream's namespaced tool names: the alias, else the name.
    pub fn prefix(&self) -> &str {
        self.alias.as_deref().unwrap_or(&self.name)
    }
}

/// How to reach an upstream. `env` and `headers` values are resolved (they may
/// hold secrets), so `Debug` prints them as `***`.
#[derive(Clone, PartialEq, Eq)]
pub enum UpstreamTransport {
    Stdio {
        /// A bare name (looked up on PATH at spawn) or a resolved path.
        command: PathBuf,
        args: Vec<String>,
        cwd: Option<PathBuf>,
        env: BTreeMap<String, String>,
    },
    Http {
        url: String,
        headers: BTreeMap<String, String>,
    },
}

/// Prints map keys with redacted values.
struct Redacted<'a>(&'a BTreeMap<String, String>);

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.0.keys().map(|k| (k, format_args!("***")))).finish()
    }
}

impl fmt::Debug for UpstreamTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UpstreamTransport::Stdio { command, args, cwd, env } => f
                .debug_struct("Stdio")
                .field("command", command)
                .field("args", args)
                .field("cwd", cwd)
                .field("env", &Redacted(env))
                .finish(),
            UpstreamTransport::Http { url, headers } => {
                f.debug_struct("Http").field("url", url).field("headers", &Redacted(headers)).finish()
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditConfig {
    /// The JSON-lines audit file, resolved against the config file's directory.
    pub path: PathBuf,
}

/// Why the configuration could not be loaded. Display is `FILE:LINE:COL: reason`.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: cannot read config file: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{origin}:{line}:{column}: {reason}")]
    Invalid { origin: String, line: usize, column: usize, reason: String },
}

// ---- the TOML shape ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GatewayFile {
    policies: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    listen: ListenTable,
    #[serde(default)]
    relay: RelayTable,
    #[serde(default)]
    upstreams: Vec<UpstreamTable>,
    #[serde(default)]
    audit: AuditTable,
    admin: Option<AdminTable>,
    #[serde(default)]
    approval: ApprovalTable,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdminTable {
    listen: Option<Spanned<String>>,
    token: Option<Spanned<String>>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ApprovalTable {
    store: Option<Spanned<String>>,
    progress_interval: Option<Spanned<String>>,
    max_pending: Option<Spanned<u64>>,
    max_pending_per_session: Option<Spanned<u64>>,
    webhook: Option<Spanned<WebhookTable>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WebhookTable {
    url: Option<Spanned<String>>,
    secret: Option<Spanned<String>>,
    callback_url: Option<Spanned<String>>,
    timeout: Option<Spanned<String>>,
    attempts: Option<Spanned<u64>>,
    headers: Option<Spanned<BTreeMap<String, Spanned<String>>>>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListenTable {
    http: Option<Spanned<String>>,
    path: Option<Spanned<String>>,
    #[serde(default)]
    allowed_origins: Vec<Spanned<String>>,
    #[serde(default)]
    allowed_hosts: Vec<Spanned<String>>,
    max_body_bytes: Option<Spanned<u64>>,
    drain_timeout: Option<Spanned<String>>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RelayTable {
    separator: Option<Spanned<String>>,
    request_timeout: Option<Spanned<String>>,
    max_message_bytes: Option<Spanned<u64>>,
    max_upstream_sessions: Option<Spanned<u64>>,
    max_inflight_per_session: Option<Spanned<u64>>,
}

#[derive(Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum TransportKind {
    Stdio,
    Http,
}

/// Flat rather than a tagged enum: toml spans do not survive serde's
/// buffering of internally tagged enums, and a flat table lets us say
/// "`url` is only valid for transport = \"http\"".
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpstreamTable {
    name: Spanned<String>,
    alias: Option<Spanned<String>>,
    transport: Spanned<TransportKind>,
    command: Option<Spanned<String>>,
    args: Option<Spanned<Vec<String>>>,
    cwd: Option<Spanned<String>>,
    env: Option<Spanned<BTreeMap<String, Spanned<String>>>>,
    url: Option<Spanned<String>>,
    headers: Option<Spanned<BTreeMap<String, Spanned<String>>>>,
    roots: Option<Spanned<Vec<Spanned<String>>>>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditTable {
    path: Option<Spanned<String>>,
}

// ---- loading ----

/// What loading needs from the process, injectable so tests need not mutate it.
struct Environment<'a> {
    var: &'a dyn Fn(&str) -> Result<String, VarError>,
    exe_dir: &'a dyn Fn() -> Option<PathBuf>,
}

fn process_exe_dir() -> Option<PathBuf> {
    std::env::current_exe().ok().and_then(|exe| exe.parent().map(Path::to_path_buf))
}

impl GatewayConfig {
    /// Reads and validates the config file.
    pub fn load(path: &Path) -> Result<GatewayConfig, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        GatewayConfig::from_str(&text, path)
    }

    /// Validates config text; `source` names it in errors and its directory is
    /// the base for relative paths. Reads `env:` variables from the process
    /// environment and `${exe_dir}` from the running executable.
    pub fn from_str(text: &str, source: &Path) -> Result<GatewayConfig, ConfigError> {
        let env = Environment { var: &|name| std::env::var(name), exe_dir: &process_exe_dir };
        parse(text, source, &env)
    }
}

struct Source<'a> {
    origin: String,
    text: &'a str,
    base: &'a Path,
}

impl Source<'_> {
    fn error(&self, span: &Range<usize>, reason: impl Into<String>) -> ConfigError {
        let (line, column) = line_col(self.text, span.start);
        ConfigError::Invalid { origin: self.origin.clone(), line, column, reason: reason.into() }
    }

    fn location(&self, span: &Range<usize>) -> String {
        let (line, column) = line_col(self.text, span.start);
        format!("{}:{line}:{column}", self.origin)
    }

    fn resolve(&self, path: &str) -> PathBuf {
        // `join` keeps absolute paths as they are.
        self.base.join(path)
    }
}

fn parse(text: &str, path: &Path, env: &Environment<'_>) -> Result<GatewayConfig, ConfigError> {
    let source = Source { origin: path.display().to_string(), text, base: path.parent().unwrap_or(Path::new("")) };
    let file: GatewayFile =
        toml::from_str(text).map_err(|e| source.error(&e.span().unwrap_or(0..0), toml_reason(&e)))?;

    if file.policies.get_ref().is_empty() {
        return Err(source.error(&file.policies.span(), "policies must name at least one policy file"));
    }
    let mut policies = Vec::new();
    for policy in file.policies.get_ref() {
        if policy.get_ref().is_empty() {
            return Err(source.error(&policy.span(), "policy path must not be empty"));
        }
        policies.push(source.resolve(policy.get_ref()));
    }

    let listen = listen_config(file.listen, &source)?;
    let relay = relay_config(file.relay, &source)?;

    let mut upstreams = Vec::with_capacity(file.upstreams.len());
    let mut names: HashMap<String, String> = HashMap::new();
    let mut prefixes: HashMap<String, String> = HashMap::new();
    for table in file.upstreams {
        let upstream = upstream_config(table, &relay.separator, &mut names, &mut prefixes, &source, env)?;
        upstreams.push(upstream);
    }

    let audit = AuditConfig {
        path: match file.audit.path {
            Some(p) if p.get_ref().is_empty() => return Err(source.error(&p.span(), "audit path must not be empty")),
            Some(p) => source.resolve(p.get_ref()),
            None => source.resolve(DEFAULT_AUDIT_PATH),
        },
    };

    let admin = match &file.admin {
        Some(table) => Some(admin_config(table, &source, env)?),
        None => None,
    };
    let mut approval = approval_config(&file.approval, &audit, &source)?;
    if let Some(table) = &file.approval.webhook {
        // Callbacks are served on the admin listener: without it no link could be answered.
        if admin.is_none() {
            return Err(source.error(
                &table.span(),
                "[approval.webhook] needs [admin]: its approve and deny links are served on the admin listener",
            ));
        }
        approval.webhook = Some(webhook_config(table, &source, env)?);
    }

    Ok(GatewayConfig { source: path.to_path_buf(), policies, listen, relay, upstreams, audit, admin, approval })
}

const DEFAULT_ADMIN: &str = "127.0.0.1:8081";
const DEFAULT_APPROVAL_STORE: &str = "approvals.sqlite";
const DEFAULT_PROGRESS_INTERVAL: Duration = Duration::from_secs(5);
const DEFAULT_MAX_PENDING: usize = 1000;
const DEFAULT_MAX_PENDING_PER_SESSION: usize = 20;
/// An admin token shorter than this is refused: it guards who may release held calls.
const MIN_ADMIN_TOKEN_LEN: usize = 16;

fn admin_config(table: &AdminTable, source: &Source<'_>, env: &Environment<'_>) -> Result<AdminConfig, ConfigError> {
    let listen = match &table.listen {
        None => DEFAULT_ADMIN.parse().expect("default admin address parses"),
        Some(addr) => addr.get_ref().parse::<SocketAddr>().map_err(|_| {
            source.error(
                &addr.span(),
                format!("admin.listen {:?} is not an address:port (e.g. \"127.0.0.1:8081\")", addr.get_ref()),
            )
        })?,
    };
    // Without a token nobody could be told apart from anybody: refuse to start.
    let Some(token) = &table.token else {
        return Err(source.error(&(0..0), "[admin] needs token = \"env:NAME\": every admin request must carry it"));
    };
    let resolved = resolve_value(token, "admin.token", source, env)?;
    if resolved.trim().len() < MIN_ADMIN_TOKEN_LEN {
        // Never echo the value.
        return Err(
            source.error(&token.span(), format!("admin.token must be at least {MIN_ADMIN_TOKEN_LEN} characters"))
        );
    }
    if http::HeaderValue::from_str(&format!("Bearer {resolved}")).is_err() {
        return Err(source.error(&token.span(), "admin.token contains characters not allowed in an HTTP header"));
    }
    Ok(AdminConfig { listen, token: resolved })
}

fn approval_config(
    table: &ApprovalTable,
    audit: &AuditConfig,
    source: &Source<'_>,
) -> Result<ApprovalConfig, ConfigError> {
    let store = match &table.store {
        Some(p) if p.get_ref().is_empty() => return Err(source.error(&p.span(), "approval.store must not be empty")),
        Some(p) => source.resolve(p.get_ref()),
        None => audit.path.with_file_name(DEFAULT_APPROVAL_STORE),
    };
    let progress_interval = match &table.progress_interval {
        None => DEFAULT_PROGRESS_INTERVAL,
        Some(t) => match humantime::parse_duration(t.get_ref()) {
            Ok(d) if d < Duration::from_millis(50) => {
                return Err(source.error(&t.span(), "approval.progress_interval must be at least 50ms"))
            }
            Ok(d) => d,
            Err(e) => {
                return Err(source.error(
                    &t.span(),
                    format!("approval.progress_interval {:?} is not a duration like \"5s\": {e}", t.get_ref()),
                ))
            }
        },
    };
    let max_pending = positive_size(table.max_pending.clone(), DEFAULT_MAX_PENDING, "approval.max_pending", source)?;
    let max_pending_per_session = positive_size(
        table.max_pending_per_session.clone(),
        DEFAULT_MAX_PENDING_PER_SESSION.min(max_pending),
        "approval.max_pending_per_session",
        source,
    )?;
    Ok(ApprovalConfig { store, progress_interval, max_pending, max_pending_per_session, webhook: None })
}

/// A webhook secret shorter than this is refused: it signs the links that
/// release held calls.
const MIN_WEBHOOK_SECRET_LEN: usize = 32;
const DEFAULT_WEBHOOK_TIMEOUT: Duration = Duration::from_secs(5);
const DEFAULT_WEBHOOK_ATTEMPTS: u32 = 3;
const MAX_WEBHOOK_ATTEMPTS: u32 = 10;
/// Headers the gateway sets on a delivery itself (or the HTTP client does);
/// a configured header must not replace the signature or the framing.
const RESERVED_WEBHOOK_HEADERS: [&str; 7] = [
    "content-type",
    "content-length",
    "transfer-encoding",
    "connection",
    "host",
    "x-warden-timestamp",
    "x-warden-signature",
];

fn webhook_config(
    table: &Spanned<WebhookTable>,
    source: &Source<'_>,
    env: &Environment<'_>,
) -> Result<WebhookConfig, ConfigError> {
    let span = table.span();
    let table = table.get_ref();
    let required = |field: &Option<Spanned<String>>, key: &str, example: &str| {
        field.clone().ok_or_else(|| source.error(&span, format!("[approval.webhook] needs {key} = {example}")))
    };

    let url_field = required(&table.url, "url", "\"https://...\" (or \"env:NAME\")")?;
    let url = resolve_value(&url_field, "approval.webhook.url", source, env)?;
    // Never echo the URL: a chat tool's incoming-webhook URL is itself a secret.
    web_url(&url).map_err(|problem| source.error(&url_field.span(), format!("approval.webhook.url {problem}")))?;

    let secret_field = required(&table.secret, "secret", "\"env:NAME\" (at least 32 characters)")?;
    let secret = resolve_value(&secret_field, "approval.webhook.secret", source, env)?;
    if secret.trim().chars().count() < MIN_WEBHOOK_SECRET_LEN {
        return Err(source.error(
            &secret_field.span(),
            format!("approval.webhook.secret must be at least {MIN_WEBHOOK_SECRET_LEN} characters"),
        ));
    }

    let callback_field =
        required(&table.callback_url, "callback_url", "\"https://warden.example:8081\" (the admin listener)")?;
    let callback = web_url(callback_field.get_ref())
        .map_err(|problem| source.error(&callback_field.span(), format!("approval.webhook.callback_url {problem}")))?;
    if callback.query().is_some() || callback.fragment().is_some() {
        return Err(source.error(
            &callback_field.span(),
            "approval.webhook.callback_url must not have a query or fragment: links are built by appending to it",
        ));
    }
    let callback_url = callback.as_str().trim_end_matches('/').to_string();

    let timeout = match &table.timeout {
        None => DEFAULT_WEBHOOK_TIMEOUT,
        Some(t) => match humantime::parse_duration(t.get_ref()) {
            Ok(d) if d.is_zero() => {
                return Err(source.error(&t.span(), "approval.webhook.timeout must be greater than 0"))
            }
            Ok(d) => d,
            Err(e) => {
                return Err(source.error(
                    &t.span(),
                    format!("approval.webhook.timeout {:?} is not a duration like \"5s\": {e}", t.get_ref()),
                ))
            }
        },
    };
    let attempts = match &table.attempts {
        None => DEFAULT_WEBHOOK_ATTEMPTS,
        Some(n) => match u32::try_from(*n.get_ref()) {
            Ok(n @ 1..=MAX_WEBHOOK_ATTEMPTS) => n,
            _ => {
                return Err(source
                    .error(&n.span(), format!("approval.webhook.attempts must be from 1 to {MAX_WEBHOOK_ATTEMPTS}")))
            }
        },
    };

    let mut headers = BTreeMap::new();
    if let Some(table) = &table.headers {
        for (key, value) in table.get_ref() {
            let name = http::HeaderName::from_bytes(key.as_bytes()).map_err(|_| {
                source
                    .error(&table.span(), format!("approval.webhook.headers: {key:?} is not a valid HTTP header name"))
            })?;
            if RESERVED_WEBHOOK_HEADERS.contains(&name.as_str()) {
                return Err(source.error(
                    &table.span(),
                    format!("approval.webhook.headers: {key:?} is set by the gateway and cannot be configured"),
                ));
            }
            let what = format!("approval.webhook.headers {key:?}");
            let resolved = resolve_value(value, &what, source, env)?;
            if http::HeaderValue::from_str(&resolved).is_err() {
                // Never echo the value: it may be a secret.
                return Err(source
                    .error(&value.span(), format!("{what}: value contains characters not allowed in an HTTP header")));
            }
            headers.insert(key.clone(), resolved);
        }
    }
    Ok(WebhookConfig { url, secret, callback_url, timeout, attempts, headers })
}

/// An http(s) URL with a host and no credentials, or why not. The message
/// never repeats the URL.
fn web_url(text: &str) -> Result<url::Url, &'static str> {
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

fn positive_size(
    value: Option<Spanned<u64>>,
    default: usize,
    name: &str,
    source: &Source<'_>,
) -> Result<usize, ConfigError> {
    match value {
        None => Ok(default),
        Some(v) => match usize::try_from(*v.get_ref()) {
            Ok(0) => Err(source.error(&v.span(), format!("{name} must be greater than 0"))),
            Ok(n) => Ok(n),
            Err(_) => Err(source.error(&v.span(), format!("{name} is too large"))),
        },
    }
}

/// A positive duration written like "60s" or "2m 30s".
fn duration(
    value: &Option<Spanned<String>>,
    default: Duration,
    name: &str,
    source: &Source<'_>,
) -> Result<Duration, ConfigError> {
    let Some(t) = value else { return Ok(default) };
    match humantime::parse_duration(t.get_ref()) {
        Ok(d) if d.is_zero() => Err(source.error(&t.span(), format!("{name} must be greater than 0"))),
        Ok(d) => Ok(d),
        Err(e) => {
            Err(source
                .error(&t.span(), format!("{name} {:?} is not a duration like \"60s\" or \"2m\": {e}", t.get_ref())))
        }
    }
}

fn listen_config(table: ListenTable, source: &Source<'_>) -> Result<ListenConfig, ConfigError> {
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

    Ok(ListenConfig {
        http,
        path,
        allowed_origins,
        allowed_hosts,
        max_body_bytes: positive_size(table.max_body_bytes, DEFAULT_MAX_BODY_BYTES, "listen.max_body_bytes", source)?,
        drain_timeout: duration(&table.drain_timeout, DEFAULT_DRAIN_TIMEOUT, "listen.drain_timeout", source)?,
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

fn relay_config(table: RelayTable, source: &Source<'_>) -> Result<RelayConfig, ConfigError> {
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

    let request_timeout = duration(&table.request_timeout, DEFAULT_REQUEST_TIMEOUT, "relay.request_timeout", source)?;

    Ok(RelayConfig {
        separator,
        request_timeout,
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

/// Checks a name or alias used as a tool-name prefix. Splitting a namespaced
/// name at the first separator must give back exactly this prefix.
fn check_prefix(value: &Spanned<String>, what: &str, separator: &str, source: &Source<'_>) -> Result<(), ConfigError> {
    let text = value.get_ref();
    let charset_ok = !text.is_empty() && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !charset_ok {
        return Err(source.error(
            &value.span(),
            format!("upstream {what} {text:?} must be non-empty and use only A-Z, a-z, 0-9, '_' and '-'"),
        ));
    }
    let joined = format!("{text}{separator}");
    if joined.find(separator) != Some(text.len()) {
        return Err(source.error(
            &value.span(),
            format!(
                "upstream {what} {text:?} clashes with the separator {separator:?}: \
                 namespaced tool names \"{text}{separator}<tool>\" would split at the wrong place"
            ),
        ));
    }
    Ok(())
}

fn only_for<T>(
    field: &Option<Spanned<T>>,
    key: &str,
    transport: &str,
    name: &str,
    source: &Source<'_>,
) -> Result<(), ConfigError> {
    match field {
        Some(f) => {
            Err(source
                .error(&f.span(), format!("upstream {name:?}: `{key}` is only valid for transport = {transport:?}")))
        }
        None => Ok(()),
    }
}

fn upstream_config(
    table: UpstreamTable,
    separator: &str,
    names: &mut HashMap<String, String>,
    prefixes: &mut HashMap<String, String>,
    source: &Source<'_>,
    env: &Environment<'_>,
) -> Result<UpstreamConfig, ConfigError> {
    check_prefix(&table.name, "name", separator, source)?;
    let name = table.name.get_ref().clone();
    if let Some(first) = names.get(&name) {
        return Err(
            source.error(&table.name.span(), format!("duplicate upstream name {name:?}: already defined at {first}"))
        );
    }
    names.insert(name.clone(), source.location(&table.name.span()));

    if let Some(alias) = &table.alias {
        check_prefix(alias, "alias", separator, source)?;
    }
    let prefix = table.alias.as_ref().unwrap_or(&table.name);
    if let Some(first) = prefixes.get(prefix.get_ref()) {
        return Err(source.error(
            &prefix.span(),
            format!("upstream {name:?}: tool prefix {:?} is already used at {first}", prefix.get_ref()),
        ));
    }
    prefixes.insert(prefix.get_ref().clone(), source.location(&prefix.span()));

    let transport = match table.transport.get_ref() {
        TransportKind::Stdio => {
            only_for(&table.url, "url", "http", &name, source)?;
            only_for(&table.headers, "headers", "http", &name, source)?;
            let Some(command) = &table.command else {
                return Err(source.error(
                    &table.transport.span(),
                    format!("upstream {name:?}: transport = \"stdio\" needs `command`"),
                ));
            };
            let command = resolve_command(command, source, env)?;
            let cwd = match &table.cwd {
                Some(c) if c.get_ref().is_empty() => {
                    return Err(source.error(&c.span(), format!("upstream {name:?}: cwd must not be empty")))
                }
                Some(c) => Some(source.resolve(c.get_ref())),
                None => None,
            };
            let mut resolved = BTreeMap::new();
            if let Some(vars) = &table.env {
                for (key, value) in vars.get_ref() {
                    let key_ok = !key.is_empty() && !key.contains(['=', '\0']);
                    if !key_ok {
                        return Err(source.error(
                            &vars.span(),
                            format!("upstream {name:?}: invalid environment variable name {key:?}"),
                        ));
                    }
                    let what = format!("upstream {name:?}: env {key:?}");
                    resolved.insert(key.clone(), resolve_value(value, &what, source, env)?);
                }
            }
            UpstreamTransport::Stdio {
                command,
                args: table.args.map(Spanned::into_inner).unwrap_or_default(),
                cwd,
                env: resolved,
            }
        }
        TransportKind::Http => {
            only_for(&table.command, "command", "stdio", &name, source)?;
            only_for(&table.args, "args", "stdio", &name, source)?;
            only_for(&table.cwd, "cwd", "stdio", &name, source)?;
            only_for(&table.env, "env", "stdio", &name, source)?;
            let Some(url) = &table.url else {
                return Err(source
                    .error(&table.transport.span(), format!("upstream {name:?}: transport = \"http\" needs `url`")));
            };
            check_url(url, &name, source)?;
            let mut resolved = BTreeMap::new();
            if let Some(headers) = &table.headers {
                for (key, value) in headers.get_ref() {
                    if http::HeaderName::from_bytes(key.as_bytes()).is_err() {
                        return Err(source.error(
                            &headers.span(),
                            format!("upstream {name:?}: {key:?} is not a valid HTTP header name"),
                        ));
                    }
                    let what = format!("upstream {name:?}: header {key:?}");
                    let resolved_value = resolve_value(value, &what, source, env)?;
                    if http::HeaderValue::from_str(&resolved_value).is_err() {
                        // Never echo the value: it may be a secret.
                        return Err(source.error(
                            &value.span(),
                            format!("{what}: value contains characters not allowed in an HTTP header"),
                        ));
                    }
                    resolved.insert(key.clone(), resolved_value);
                }
            }
            UpstreamTransport::Http { url: url.get_ref().clone(), headers: resolved }
        }
    };

    let roots = match &table.roots {
        None => None,
        Some(list) => Some(pinned_roots(list.get_ref(), &name, source)?),
    };
    Ok(UpstreamConfig { name, alias: table.alias.map(Spanned::into_inner), transport, roots })
}

/// `roots = [...]`: directories, relative to the config file's directory.
fn pinned_roots(list: &[Spanned<String>], name: &str, source: &Source<'_>) -> Result<Vec<PinnedRoot>, ConfigError> {
    let mut roots = Vec::new();
    for dir in list {
        let invalid =
            |why: &str| source.error(&dir.span(), format!("upstream {name:?}: root {:?} {why}", dir.get_ref()));
        if dir.get_ref().is_empty() {
            return Err(invalid("must not be empty"));
        }
        let path = std::path::absolute(source.resolve(dir.get_ref())).map_err(|e| invalid(&e.to_string()))?;
        let uri = url::Url::from_file_path(&path).map_err(|()| invalid("is not a directory path"))?;
        let label = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
        roots.push(PinnedRoot { uri: uri.to_string(), name: label });
    }
    Ok(roots)
}

/// A command containing '/' is a path relative to the config directory; a bare
/// name is left for PATH lookup; a leading `${exe_dir}` is the running
/// executable's directory.
fn resolve_command(
    command: &Spanned<String>,
    source: &Source<'_>,
    env: &Environment<'_>,
) -> Result<PathBuf, ConfigError> {
    let text = command.get_ref();
    if text.is_empty() {
        return Err(source.error(&command.span(), "command must not be empty"));
    }
    if let Some(rest) = text.strip_prefix(EXE_DIR) {
        if rest.contains("${") {
            return Err(
                source.error(&command.span(), format!("command {text:?}: only a leading ${{exe_dir}} is expanded"))
            );
        }
        let Some(dir) = (env.exe_dir)() else {
            return Err(source.error(
                &command.span(),
                format!("command {text:?}: cannot determine the gateway executable's directory"),
            ));
        };
        return Ok(dir.join(rest.trim_start_matches(['/', '\\'])));
    }
    if text.contains("${") {
        return Err(source.error(&command.span(), format!("command {text:?}: only a leading ${{exe_dir}} is expanded")));
    }
    if text.contains('/') {
        Ok(source.resolve(text))
    } else {
        Ok(PathBuf::from(text))
    }
}

/// `env:NAME` reads NAME from the environment; anything else is taken literally.
fn resolve_value(
    value: &Spanned<String>,
    what: &str,
    source: &Source<'_>,
    env: &Environment<'_>,
) -> Result<String, ConfigError> {
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

fn check_url(url: &Spanned<String>, name: &str, source: &Source<'_>) -> Result<(), ConfigError> {
    let text = url.get_ref();
    let uri = text
        .parse::<http::Uri>()
        .map_err(|e| source.error(&url.span(), format!("upstream {name:?}: url {text:?} is not a valid URL: {e}")))?;
    match uri.scheme_str() {
        Some("http") | Some("https") => {}
        _ => {
            return Err(source
                .error(&url.span(), format!("upstream {name:?}: url {text:?} must start with http:// or https://")))
        }
    }
    let Some(authority) = uri.authority() else {
        return Err(source.error(&url.span(), format!("upstream {name:?}: url {text:?} has no host")));
    };
    if authority.as_str().contains('@') {
        return Err(source.error(
            &url.span(),
            format!(
                "upstream {name:?}: url must not embed credentials; use headers = {{ Authorization = \"env:NAME\" }}"
            ),
        ));
    }
    if authority.host().is_empty() {
        return Err(source.error(&url.span(), format!("upstream {name:?}: url {text:?} has no host")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_with<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Result<String, VarError> + 'a {
        move |name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string()).ok_or(VarError::NotPresent)
    }

    fn parse_with(text: &str, vars: &[(&str, &str)]) -> Result<GatewayConfig, ConfigError> {
        let var = env_with(vars);
        let env = Environment { var: &var, exe_dir: &|| Some(PathBuf::from("/opt/warden/bin")) };
        parse(text, Path::new("/etc/warden/gateway.toml"), &env)
    }

    fn ok(text: &str) -> GatewayConfig {
        parse_with(text, &[]).unwrap_or_else(|e| panic!("config should load: {e}"))
    }

    fn err(text: &str) -> String {
        parse_with(text, &[]).expect_err("config should be refused").to_string()
    }

    const MINIMAL: &str = "policies = [\"../policies/default.toml\"]\n";

    #[test]
    fn defaults_bind_localhost_only() {
        let c = ok(MINIMAL);
        assert_eq!(c.source, Path::new("/etc/warden/gateway.toml"));
        assert_eq!(c.listen.http, "127.0.0.1:8080".parse().unwrap());
        assert!(c.listen.http.ip().is_loopback());
        assert_eq!(c.listen.path, "/mcp");
        assert!(c.listen.allowed_origins.is_empty());
        assert!(c.listen.allowed_hosts.is_empty());
        assert_eq!(c.listen.max_body_bytes, 4 * 1024 * 1024);
        assert_eq!(c.relay.separator, "__");
        assert_eq!(c.relay.request_timeout, Duration::from_secs(60));
        assert_eq!(c.listen.drain_timeout, Duration::from_secs(10));
        assert_eq!((c.relay.max_upstream_sessions, c.relay.max_inflight_per_session), (256, 100));
        assert_eq!(c.relay.max_message_bytes, 16 * 1024 * 1024);
        assert!(c.upstreams.is_empty());
        assert_eq!(c.audit.path, Path::new("/etc/warden/audit.jsonl"));
    }

    #[test]
    fn relative_paths_resolve_against_config_dir() {
        let c = ok(r#"
policies = ["../policies/default.toml", "/abs/extra.toml"]
[audit]
path = "logs/audit.jsonl"
[[upstreams]]
name = "files"
transport = "stdio"
command = "./bin/server"
cwd = "work"
"#);
        assert_eq!(
            c.policies,
            vec![PathBuf::from("/etc/warden/../policies/default.toml"), PathBuf::from("/abs/extra.toml")]
        );
        assert_eq!(c.audit.path, Path::new("/etc/warden/logs/audit.jsonl"));
        let UpstreamTransport::Stdio { command, cwd, .. } = &c.upstreams[0].transport else {
            panic!("stdio expected");
        };
        assert_eq!(command, Path::new("/etc/warden/./bin/server"));
        assert_eq!(cwd.as_deref(), Some(Path::new("/etc/warden/work")));
    }

    #[test]
    fn config_in_current_dir_keeps_relative_paths() {
        let var = env_with(&[]);
        let env = Environment { var: &var, exe_dir: &|| None };
        let c = parse(MINIMAL, Path::new("gateway.toml"), &env).unwrap();
        assert_eq!(c.policies, vec![PathBuf::from("../policies/default.toml")]);
        assert_eq!(c.audit.path, Path::new("audit.jsonl"));
    }

    #[test]
    fn pinned_roots_become_file_uris_relative_to_the_config() {
        let files = "[[upstreams]]\nname = \"files\"\ntransport = \"stdio\"\ncommand = \"npx\"\n";
        let c = ok(&format!("{MINIMAL}{files}roots = [\"/srv/shared docs\", \"data\"]\n"));
        let roots = c.upstreams[0].roots.clone().expect("roots pinned");
        assert_eq!(roots[0], PinnedRoot { uri: "file:///srv/shared%20docs".into(), name: "shared docs".into() });
        assert_eq!(roots[1], PinnedRoot { uri: "file:///etc/warden/data".into(), name: "data".into() });
        assert_eq!(ok(&format!("{MINIMAL}{files}roots = []\n")).upstreams[0].roots, Some(Vec::new()));
        assert_eq!(ok(&format!("{MINIMAL}{files}")).upstreams[0].roots, None, "without roots the client's are relayed");
        assert!(err(&format!("{MINIMAL}{files}roots = [\"\"]\n")).contains("must not be empty"));
    }

    #[test]
    fn bare_command_is_left_for_path_lookup() {
        let c = ok(&format!("{MINIMAL}[[upstreams]]\nname = \"files\"\ntransport = \"stdio\"\ncommand = \"npx\"\nargs = [\"-y\", \"pkg\"]\n"));
        let u = &c.upstreams[0];
        assert_eq!(u.prefix(), "files");
        assert_eq!(
            u.transport,
            UpstreamTransport::Stdio {
                command: PathBuf::from("npx"),
                args: vec!["-y".into(), "pkg".into()],
                cwd: None,
                env: BTreeMap::new(),
            }
        );
    }

    #[test]
    fn exe_dir_placeholder_expands_to_executable_directory() {
        let c = ok(&format!("{MINIMAL}[[upstreams]]\nname = \"demo\"\ntransport = \"stdio\"\ncommand = \"${{exe_dir}}/examples/demo_upstream\"\n"));
        let UpstreamTransport::Stdio { command, .. } = &c.upstreams[0].transport else {
            panic!("stdio expected");
        };
        assert_eq!(command, Path::new("/opt/warden/bin/examples/demo_upstream"));
    }

    #[test]
    fn placeholder_other_than_leading_exe_dir_is_refused() {
        let e = err(&format!(
            "{MINIMAL}[[upstreams]]\nname = \"demo\"\ntransport = \"stdio\"\ncommand = \"/x/${{HOME}}/y\"\n"
        ));
        assert!(e.starts_with("/etc/warden/gateway.toml:5:11: command"), "{e}");
        assert!(e.contains("only a leading ${exe_dir}"), "{e}");
    }

    #[test]
    fn env_values_resolve_from_gateway_environment() {
        let text = format!("{MINIMAL}[[upstreams]]\nname = \"files\"\ntransport = \"stdio\"\ncommand = \"npx\"\nenv = {{ NODE_ENV = \"production\", TOKEN = \"env:FILES_TOKEN\" }}\n");
        let c = parse_with(&text, &[("FILES_TOKEN", "s3cret")]).unwrap();
        let UpstreamTransport::Stdio { env, .. } = &c.upstreams[0].transport else {
            panic!("stdio expected");
        };
        assert_eq!(env["NODE_ENV"], "production");
        assert_eq!(env["TOKEN"], "s3cret");
    }

    #[test]
    fn missing_env_var_is_a_load_error_naming_it() {
        let text = format!("{MINIMAL}[[upstreams]]\nname = \"remote\"\ntransport = \"http\"\nurl = \"https://mcp.example.com/mcp\"\nheaders = {{ Authorization = \"env:REMOTE_TOKEN\" }}\n");
        let e = parse_with(&text, &[]).unwrap_err().to_string();
        assert_eq!(
            e,
            r#"/etc/warden/gateway.toml:6:29: upstream "remote": header "Authorization": environment variable REMOTE_TOKEN is not set"#
        );
    }

    #[test]
    fn malformed_env_reference_is_refused() {
        let text = format!(
            "{MINIMAL}[[upstreams]]\nname = \"f\"\ntransport = \"stdio\"\ncommand = \"x\"\nenv = {{ A = \"env:\" }}\n"
        );
        assert!(err(&text).contains("is not an environment variable name"));
    }

    #[test]
    fn secrets_never_appear_in_debug_output() {
        let text = format!("{MINIMAL}[[upstreams]]\nname = \"remote\"\ntransport = \"http\"\nurl = \"https://mcp.example.com/mcp\"\nheaders = {{ Authorization = \"env:REMOTE_TOKEN\" }}\n[[upstreams]]\nname = \"files\"\ntransport = \"stdio\"\ncommand = \"npx\"\nenv = {{ API_KEY = \"env:API_KEY\" }}\n");
        let c = parse_with(&text, &[("REMOTE_TOKEN", "Bearer hunter2"), ("API_KEY", "sk-live-42")]).unwrap();
        let debug = format!("{c:?}");
        assert!(!debug.contains("hunter2") && !debug.contains("sk-live-42"), "{debug}");
        assert!(debug.contains("Authorization") && debug.contains("***"), "{debug}");
        let UpstreamTransport::Http { headers, .. } = &c.upstreams[0].transport else {
            panic!("http expected");
        };
        assert_eq!(headers["Authorization"], "Bearer hunter2");
    }

    #[test]
    fn header_value_error_does_not_echo_the_secret() {
        let text = format!("{MINIMAL}[[upstreams]]\nname = \"remote\"\ntransport = \"http\"\nurl = \"https://h/mcp\"\nheaders = {{ Authorization = \"env:T\" }}\n");
        let e = parse_with(&text, &[("T", "sec\nret")]).unwrap_err().to_string();
        assert!(!e.contains("sec"), "{e}");
        assert!(e.contains("not allowed in an HTTP header"), "{e}");
    }

    #[test]
    fn duplicate_upstream_name_is_refused() {
        let up = "[[upstreams]]\nname = \"files\"\ntransport = \"stdio\"\ncommand = \"x\"\n";
        let e = err(&format!("{MINIMAL}{up}{up}"));
        assert_eq!(
            e,
            r#"/etc/warden/gateway.toml:7:8: duplicate upstream name "files": already defined at /etc/warden/gateway.toml:3:8"#
        );
    }

    #[test]
    fn alias_colliding_with_another_prefix_is_refused() {
        let text = format!("{MINIMAL}[[upstreams]]\nname = \"files\"\ntransport = \"stdio\"\ncommand = \"x\"\n[[upstreams]]\nname = \"other\"\nalias = \"files\"\ntransport = \"stdio\"\ncommand = \"x\"\n");
        let e = err(&text);
        assert!(
            e.starts_with("/etc/warden/gateway.toml:8:9: upstream \"other\": tool prefix \"files\" is already used"),
            "{e}"
        );
    }

    #[test]
    fn alias_is_the_prefix() {
        let c = ok(&format!(
            "{MINIMAL}[[upstreams]]\nname = \"filesystem\"\nalias = \"fs\"\ntransport = \"stdio\"\ncommand = \"x\"\n"
        ));
        assert_eq!(c.upstreams[0].prefix(), "fs");
        assert_eq!(c.upstreams[0].name, "filesystem");
    }

    #[test]
    fn name_containing_separator_is_refused() {
        let e = err(&format!("{MINIMAL}[[upstreams]]\nname = \"my__files\"\ntransport = \"stdio\"\ncommand = \"x\"\n"));
        assert!(
            e.starts_with(
                "/etc/warden/gateway.toml:3:8: upstream name \"my__files\" clashes with the separator \"__\""
            ),
            "{e}"
        );
    }

    #[test]
    fn name_ending_in_half_a_separator_is_refused() {
        // "files_" + "__" + "read" = "files___read", which splits as "files" + "_read".
        let e = err(&format!("{MINIMAL}[[upstreams]]\nname = \"files_\"\ntransport = \"stdio\"\ncommand = \"x\"\n"));
        assert!(e.contains("clashes with the separator"), "{e}");
        // With a different separator the same name is fine.
        ok(&format!("{MINIMAL}[relay]\nseparator = \".\"\n[[upstreams]]\nname = \"files_\"\ntransport = \"stdio\"\ncommand = \"x\"\n"));
    }

    #[test]
    fn alias_containing_separator_is_refused() {
        let e = err(&format!(
            "{MINIMAL}[[upstreams]]\nname = \"files\"\nalias = \"f__s\"\ntransport = \"stdio\"\ncommand = \"x\"\n"
        ));
        assert!(e.starts_with("/etc/warden/gateway.toml:4:9: upstream alias"), "{e}");
    }

    #[test]
    fn name_with_bad_characters_is_refused() {
        for name in ["", "has space", "a/b", "ünï"] {
            let e = err(&format!("{MINIMAL}[[upstreams]]\nname = {name:?}\ntransport = \"stdio\"\ncommand = \"x\"\n"));
            assert!(e.starts_with("/etc/warden/gateway.toml:3:8: upstream name"), "{e}");
        }
    }

    #[test]
    fn non_http_url_scheme_is_refused() {
        for url in ["ftp://host/mcp", "file:///etc/passwd", "127.0.0.1:9000/mcp"] {
            let e = err(&format!("{MINIMAL}[[upstreams]]\nname = \"r\"\ntransport = \"http\"\nurl = {url:?}\n"));
            assert!(e.starts_with("/etc/warden/gateway.toml:5:7: upstream \"r\": url"), "{e}");
        }
        let c = ok(&format!(
            "{MINIMAL}[[upstreams]]\nname = \"r\"\ntransport = \"http\"\nurl = \"http://127.0.0.1:9000/mcp\"\n"
        ));
        assert_eq!(
            c.upstreams[0].transport,
            UpstreamTransport::Http { url: "http://127.0.0.1:9000/mcp".into(), headers: BTreeMap::new() }
        );
    }

    #[test]
    fn credentials_in_url_are_refused() {
        let e = err(&format!(
            "{MINIMAL}[[upstreams]]\nname = \"r\"\ntransport = \"http\"\nurl = \"https://user:pw@host/mcp\"\n"
        ));
        assert!(e.contains("must not embed credentials"), "{e}");
        assert!(!e.contains("pw@"), "{e}");
    }

    #[test]
    fn fields_of_the_other_transport_are_refused() {
        let e = err(&format!(
            "{MINIMAL}[[upstreams]]\nname = \"r\"\ntransport = \"http\"\nurl = \"http://h/mcp\"\ncommand = \"x\"\n"
        ));
        assert_eq!(
            e,
            r#"/etc/warden/gateway.toml:6:11: upstream "r": `command` is only valid for transport = "stdio""#
        );
        let e = err(&format!(
            "{MINIMAL}[[upstreams]]\nname = \"f\"\ntransport = \"stdio\"\ncommand = \"x\"\nurl = \"http://h/mcp\"\n"
        ));
        assert!(e.contains("`url` is only valid for transport = \"http\""), "{e}");
    }

    #[test]
    fn transport_without_its_required_field_is_refused() {
        let e = err(&format!("{MINIMAL}[[upstreams]]\nname = \"r\"\ntransport = \"http\"\n"));
        assert!(
            e.starts_with("/etc/warden/gateway.toml:4:13: upstream \"r\": transport = \"http\" needs `url`"),
            "{e}"
        );
        let e = err(&format!("{MINIMAL}[[upstreams]]\nname = \"f\"\ntransport = \"stdio\"\n"));
        assert!(e.contains("needs `command`"), "{e}");
    }

    #[test]
    fn unknown_transport_is_refused() {
        let e = err(&format!("{MINIMAL}[[upstreams]]\nname = \"r\"\ntransport = \"sse\"\nurl = \"http://h\"\n"));
        assert!(e.starts_with("/etc/warden/gateway.toml:4:13: unknown variant `sse`"), "{e}");
    }

    #[test]
    fn bad_listen_path_is_refused() {
        for path in ["mcp", "", "/m cp", "/mcp?x=1"] {
            let e = err(&format!("{MINIMAL}[listen]\npath = {path:?}\n"));
            assert!(e.starts_with("/etc/warden/gateway.toml:3:8: listen.path"), "{e}");
        }
        assert_eq!(ok(&format!("{MINIMAL}[listen]\npath = \"/gw/mcp\"\n")).listen.path, "/gw/mcp");
    }

    #[test]
    fn bad_listen_address_is_refused() {
        let e = err(&format!("{MINIMAL}[listen]\nhttp = \"localhost\"\n"));
        assert!(e.starts_with("/etc/warden/gateway.toml:3:8: listen.http \"localhost\" is not an address:port"), "{e}");
        let c = ok(&format!("{MINIMAL}[listen]\nhttp = \"[::1]:9090\"\n"));
        assert_eq!(c.listen.http, "[::1]:9090".parse().unwrap());
    }

    #[test]
    fn origins_and_hosts_must_be_well_formed() {
        let c = ok(&format!("{MINIMAL}[listen]\nallowed_origins = [\"https://app.example.com\", \"vscode-webview://abc\"]\nallowed_hosts = [\"gw.internal:8080\"]\n"));
        assert_eq!(c.listen.allowed_origins.len(), 2);
        assert_eq!(c.listen.allowed_hosts, vec!["gw.internal:8080".to_string()]);
        for origin in ["https://app.example.com/", "app.example.com", "*", "https://a.com/path"] {
            let e = err(&format!("{MINIMAL}[listen]\nallowed_origins = [{origin:?}]\n"));
            assert!(e.contains("allowed origin"), "{e}");
        }
        let e = err(&format!("{MINIMAL}[listen]\nallowed_hosts = [\"http://gw\"]\n"));
        assert!(e.contains("allowed host"), "{e}");
    }

    #[test]
    fn sizes_and_timeouts_are_validated() {
        let c = ok(&format!("{MINIMAL}[listen]\nmax_body_bytes = 1024\n[relay]\nrequest_timeout = \"2m 30s\"\nmax_message_bytes = 2048\nseparator = \"-\"\n"));
        assert_eq!(c.listen.max_body_bytes, 1024);
        assert_eq!(c.relay.request_timeout, Duration::from_secs(150));
        assert_eq!(c.relay.max_message_bytes, 2048);
        assert_eq!(c.relay.separator, "-");
        assert!(err(&format!("{MINIMAL}[listen]\nmax_body_bytes = 0\n")).contains("greater than 0"));
        assert!(err(&format!("{MINIMAL}[listen]\nmax_body_bytes = -1\n")).starts_with("/etc/warden/gateway.toml:3:18:"));
        assert!(err(&format!("{MINIMAL}[relay]\nrequest_timeout = \"soon\"\n")).contains("is not a duration"));
        assert!(err(&format!("{MINIMAL}[relay]\nrequest_timeout = \"0s\"\n")).contains("greater than 0"));
        let c = ok(&format!(
            "{MINIMAL}[listen]\ndrain_timeout = \"3s\"\n[relay]\nmax_upstream_sessions = 4\nmax_inflight_per_session = 2\n"
        ));
        assert_eq!(c.listen.drain_timeout, Duration::from_secs(3));
        assert_eq!((c.relay.max_upstream_sessions, c.relay.max_inflight_per_session), (4, 2));
        assert!(err(&format!("{MINIMAL}[listen]\ndrain_timeout = \"never\"\n")).contains("listen.drain_timeout"));
        assert!(err(&format!("{MINIMAL}[relay]\nmax_upstream_sessions = 0\n")).contains("greater than 0"));
        assert!(err(&format!("{MINIMAL}[relay]\nseparator = \"\"\n")).contains("relay.separator"));
        assert!(err(&format!("{MINIMAL}[relay]\nseparator = \"/\"\n")).contains("relay.separator"));
    }

    #[test]
    fn policies_are_required() {
        assert!(err("[listen]\n").contains("missing field `policies`"));
        assert_eq!(
            err("policies = []\n"),
            "/etc/warden/gateway.toml:1:12: policies must name at least one policy file"
        );
    }

    #[test]
    fn unknown_keys_fail_closed_with_line_numbers() {
        let e = err(&format!("{MINIMAL}[listen]\nhttp = \"127.0.0.1:1\"\nbind_all = true\n"));
        assert!(e.starts_with("/etc/warden/gateway.toml:4:1: unknown field `bind_all`"), "{e}");
        let e = err(&format!(
            "{MINIMAL}[[upstreams]]\nname = \"f\"\ntransport = \"stdio\"\ncommand = \"x\"\ninherit_env = true\n"
        ));
        assert!(e.starts_with("/etc/warden/gateway.toml:6:1: unknown field `inherit_env`"), "{e}");
        assert!(err("policies = [\"p\"]\n[approvals]\n").contains("unknown field `approvals`"));
    }

    #[test]
    fn syntax_error_reports_file_line_col() {
        let e = err("policies = [\"p\"]\n[listen\n");
        assert!(e.starts_with("/etc/warden/gateway.toml:2:"), "{e}");
    }

    #[test]
    fn load_names_unreadable_file() {
        let path = std::env::temp_dir().join("warden-config-does-not-exist/gateway.toml");
        let e = GatewayConfig::load(&path).unwrap_err().to_string();
        assert!(e.starts_with(&format!("{}: cannot read config file", path.display())), "{e}");
    }

    #[test]
    fn admin_listener_needs_a_strong_token_and_binds_loopback_by_default() {
        let c = parse_with(
            &format!("{MINIMAL}[admin]\ntoken = \"env:WARDEN_ADMIN_TOKEN\"\n"),
            &[("WARDEN_ADMIN_TOKEN", "0123456789abcdef0123")],
        )
        .unwrap();
        let admin = c.admin.expect("[admin] configured");
        assert_eq!(admin.listen, "127.0.0.1:8081".parse().unwrap());
        assert_eq!(admin.token, "0123456789abcdef0123");
        assert!(!format!("{admin:?}").contains("0123456789"), "the token never reaches a log");
        assert!(ok(MINIMAL).admin.is_none());
        assert!(err(&format!("{MINIMAL}[admin]\nlisten = \"127.0.0.1:8081\"\n")).contains("needs token"));
        assert!(err(&format!("{MINIMAL}[admin]\ntoken = \"env:UNSET_ADMIN_TOKEN\"\n")).contains("is not set"));
        assert!(err(&format!("{MINIMAL}[admin]\ntoken = \"short\"\n")).contains("at least 16"));
        assert!(err(&format!("{MINIMAL}[admin]\nlisten = \"nowhere\"\ntoken = \"0123456789abcdef\"\n"))
            .contains("not an address"));
    }

    #[test]
    fn approval_store_defaults_next_to_the_audit_file() {
        let c = ok(&format!("{MINIMAL}[audit]\npath = \"logs/audit.jsonl\"\n"));
        assert_eq!(c.approval.store, Path::new("/etc/warden/logs/approvals.sqlite"));
        assert_eq!(c.approval.max_pending, 1000);
        assert_eq!(c.approval.max_pending_per_session, 20);
        assert_eq!(c.approval.progress_interval, Duration::from_secs(5));
        let c = ok(&format!("{MINIMAL}[approval]\nstore = \"state/a.sqlite\"\nmax_pending = 5\n"));
        assert_eq!(c.approval.store, Path::new("/etc/warden/state/a.sqlite"));
        assert_eq!(c.approval.max_pending, 5);
        assert_eq!(c.approval.max_pending_per_session, 5, "never above the gateway-wide cap by default");
        assert!(err(&format!("{MINIMAL}[approval]\nmax_pending = 0\n")).contains("greater than 0"));
    }

    const WEBHOOK_SECRET: &str = "whsec-0123456789abcdef0123456789abcdef";

    /// `[admin]` and a complete `[approval.webhook]`, with `extra` appended to the latter.
    fn webhook_text(extra: &str) -> String {
        format!(
            "{MINIMAL}[admin]\ntoken = \"0123456789abcdef\"\n[approval.webhook]\nurl = \"env:HOOK_URL\"\n\
             secret = \"env:HOOK_SECRET\"\ncallback_url = \"https://warden.corp.example:8081/\"\n{extra}"
        )
    }

    fn webhook_env() -> [(&'static str, &'static str); 3] {
        [
            ("HOOK_URL", "https://hooks.example.com/services/T0/B0/tokenpart"),
            ("HOOK_SECRET", WEBHOOK_SECRET),
            ("TICKET_TOKEN", "Bearer tk-998877"),
        ]
    }

    fn webhook_err(text: &str) -> String {
        parse_with(text, &webhook_env()).expect_err("config should be refused").to_string()
    }

    #[test]
    fn webhook_loads_with_defaults_and_never_prints_its_secrets() {
        let text = webhook_text("headers = { Authorization = \"env:TICKET_TOKEN\", X-Team = \"sec\" }\n");
        let c = parse_with(&text, &webhook_env()).unwrap();
        let hook = c.approval.webhook.clone().expect("webhook configured");
        assert_eq!(hook.url, "https://hooks.example.com/services/T0/B0/tokenpart");
        assert_eq!(hook.secret, WEBHOOK_SECRET);
        assert_eq!(hook.callback_url, "https://warden.corp.example:8081", "no trailing '/'");
        assert_eq!(hook.timeout, Duration::from_secs(5));
        assert_eq!(hook.attempts, 3);
        assert_eq!(hook.headers["Authorization"], "Bearer tk-998877");
        let debug = format!("{c:?}");
        for secret in [WEBHOOK_SECRET, "tokenpart", "tk-998877"] {
            assert!(!debug.contains(secret), "{secret} in {debug}");
        }
        assert!(debug.contains("https://hooks.example.com") && debug.contains("Authorization"), "{debug}");
        assert!(ok(MINIMAL).approval.webhook.is_none());

        let c = parse_with(&webhook_text("timeout = \"1500ms\"\nattempts = 5\n"), &webhook_env()).unwrap();
        let hook = c.approval.webhook.unwrap();
        assert_eq!((hook.timeout, hook.attempts), (Duration::from_millis(1500), 5));
    }

    #[test]
    fn webhook_without_the_admin_listener_is_refused() {
        let text = format!(
            "{MINIMAL}[approval.webhook]\nurl = \"https://h/x\"\nsecret = \"{WEBHOOK_SECRET}\"\ncallback_url = \"https://w\"\n"
        );
        let e = webhook_err(&text);
        assert!(e.starts_with("/etc/warden/gateway.toml:2:"), "{e}");
        assert!(e.contains("[approval.webhook] needs [admin]"), "{e}");
    }

    #[test]
    fn webhook_required_fields_are_named() {
        let admin = format!("{MINIMAL}[admin]\ntoken = \"0123456789abcdef\"\n[approval.webhook]\n");
        let e = webhook_err(&format!("{admin}secret = \"{WEBHOOK_SECRET}\"\ncallback_url = \"https://w\"\n"));
        assert!(e.starts_with("/etc/warden/gateway.toml:4:") && e.contains("needs url"), "{e}");
        let e = webhook_err(&format!("{admin}url = \"https://h/x\"\ncallback_url = \"https://w\"\n"));
        assert!(e.contains("needs secret"), "{e}");
        let e = webhook_err(&format!("{admin}url = \"https://h/x\"\nsecret = \"{WEBHOOK_SECRET}\"\n"));
        assert!(e.contains("needs callback_url"), "{e}");
        let e = webhook_err(&format!(
            "{admin}url = \"env:UNSET_HOOK\"\nsecret = \"{WEBHOOK_SECRET}\"\ncallback_url = \"https://w\"\n"
        ));
        assert!(e.starts_with("/etc/warden/gateway.toml:5:7:") && e.contains("UNSET_HOOK is not set"), "{e}");
    }

    #[test]
    fn webhook_secret_must_be_long_and_is_never_echoed() {
        let text = webhook_text("").replace("env:HOOK_SECRET", "too-short-but-secret");
        let e = webhook_err(&text);
        assert!(e.starts_with("/etc/warden/gateway.toml:6:10: approval.webhook.secret must be at least 32"), "{e}");
        assert!(!e.contains("too-short"), "{e}");
    }

    #[test]
    fn webhook_urls_must_be_plain_http_and_are_never_echoed() {
        for (url, problem) in [
            ("ftp://hooks.example.com/x", "must start with http:// or https://"),
            ("https://user:hunter2@hooks.example.com/x", "must not embed credentials"),
            ("hooks.example.com/x", "is not a valid URL"),
        ] {
            let e = parse_with(&webhook_text(""), &[("HOOK_URL", url), ("HOOK_SECRET", WEBHOOK_SECRET)])
                .unwrap_err()
                .to_string();
            assert!(e.starts_with("/etc/warden/gateway.toml:5:7: approval.webhook.url"), "{e}");
            assert!(e.contains(problem) && !e.contains("hunter2") && !e.contains(url), "{e}");
        }
        for callback in ["https://w.example/?a=1", "https://w.example/#x", "javascript:alert(1)", "/relative"] {
            let e = webhook_err(&webhook_text("").replace("https://warden.corp.example:8081/", callback));
            assert!(e.starts_with("/etc/warden/gateway.toml:7:16: approval.webhook.callback_url"), "{e}");
        }
        // A reverse proxy may serve the admin listener under a path.
        let text = webhook_text("").replace("https://warden.corp.example:8081/", "https://corp.example/warden/");
        let hook = parse_with(&text, &webhook_env()).unwrap().approval.webhook.unwrap();
        assert_eq!(hook.callback_url, "https://corp.example/warden");
    }

    #[test]
    fn webhook_limits_and_headers_are_validated() {
        let e = webhook_err(&webhook_text("attempts = 0\n"));
        assert!(e.starts_with("/etc/warden/gateway.toml:8:12: approval.webhook.attempts must be from 1 to 10"), "{e}");
        assert!(webhook_err(&webhook_text("attempts = 11\n")).contains("from 1 to 10"));
        assert!(webhook_err(&webhook_text("timeout = \"0s\"\n")).contains("greater than 0"));
        let e = webhook_err(&webhook_text("timeout = \"soon\"\n"));
        assert!(e.starts_with("/etc/warden/gateway.toml:8:11:") && e.contains("not a duration"), "{e}");
        for reserved in ["X-Warden-Signature", "content-type", "Host"] {
            let e = webhook_err(&webhook_text(&format!("headers = {{ {reserved} = \"x\" }}\n")));
            assert!(e.contains("is set by the gateway"), "{e}");
        }
        let e = webhook_err(&webhook_text("headers = { \"bad header\" = \"x\" }\n"));
        assert!(e.contains("not a valid HTTP header name"), "{e}");
        let e = parse_with(
            &webhook_text("headers = { Authorization = \"env:T\" }\n"),
            &[("HOOK_URL", "https://h/x"), ("HOOK_SECRET", WEBHOOK_SECRET), ("T", "sec\nret")],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("not allowed in an HTTP header") && !e.contains("sec"), "{e}");
        let e = webhook_err(&webhook_text("retries = 2\n"));
        assert!(e.starts_with("/etc/warden/gateway.toml:8:1: unknown field `retries`"), "{e}");
    }
}
