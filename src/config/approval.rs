//! `[approval]` and `[approval.webhook]`: where held calls are stored, how
//! the waiting client is kept informed, how many may wait, and the webhook
//! channel that announces them (its URL, signing secret and callback base).

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::audit::AuditConfig;
use super::values::{duration, positive_size, resolve_headers, resolve_value, DurationKey, HeaderSite, Redacted};
use super::{Environment, Loader};
use crate::source::{self, SourceError};

const DEFAULT_APPROVAL_STORE: &str = "approvals.sqlite";
const PROGRESS_INTERVAL: DurationKey = DurationKey {
    name: "approval.progress_interval",
    default: Duration::from_secs(5),
    // Faster than this would flood the client's stream for no news.
    min: Duration::from_millis(50),
    example: "\"5s\"",
};
/// A bound on memory, not a quota: reachable only by very many clients at once.
const DEFAULT_MAX_PENDING: usize = 10_000;
const DEFAULT_MAX_PENDING_PER_CALLER: usize = 100;
const DEFAULT_MAX_PENDING_PER_SESSION: usize = 20;

/// A webhook secret shorter than this is refused: it signs the links that
/// release held calls.
const MIN_WEBHOOK_SECRET_LEN: usize = 32;
const WEBHOOK_TIMEOUT: DurationKey = DurationKey {
    name: "approval.webhook.timeout",
    default: Duration::from_secs(5),
    min: Duration::ZERO,
    example: "\"5s\"",
};
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

/// `[approval]`: where held calls are kept and how the waiting client is kept informed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApprovalConfig {
    /// The SQLite file of pending approvals and grants.
    pub store: PathBuf,
    /// How often a waiting client that sent a progress token hears "waiting for approval".
    pub progress_interval: Duration,
    /// Held calls beyond this many, across all clients, are denied at once:
    /// a bound on memory, set far above what the per-session and per-caller
    /// caps let any one client hold.
    pub max_pending: usize,
    /// Held calls of one client session beyond this many are denied at once,
    /// so one client cannot fill the queue for everyone.
    pub max_pending_per_session: usize,
    /// The same for an authenticated caller across all its sessions. An
    /// unauthenticated caller is every local client, so for it the session
    /// is the only fair unit and this does not apply.
    pub max_pending_per_caller: usize,
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

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ApprovalTable {
    store: Option<Spanned<String>>,
    progress_interval: Option<Spanned<String>>,
    max_pending: Option<Spanned<u64>>,
    max_pending_per_session: Option<Spanned<u64>>,
    max_pending_per_caller: Option<Spanned<u64>>,
    pub(super) webhook: Option<Spanned<WebhookTable>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WebhookTable {
    url: Option<Spanned<String>>,
    secret: Option<Spanned<String>>,
    callback_url: Option<Spanned<String>>,
    timeout: Option<Spanned<String>>,
    attempts: Option<Spanned<u64>>,
    headers: Option<Spanned<BTreeMap<String, Spanned<String>>>>,
}

/// `[approval]` without its webhook, which needs `[admin]` and is wired by the caller.
pub(super) fn approval_config(
    table: &ApprovalTable,
    audit: &AuditConfig,
    source: &Loader<'_>,
) -> Result<ApprovalConfig, SourceError> {
    let store = match &table.store {
        Some(p) if p.get_ref().is_empty() => return Err(source.error(&p.span(), "approval.store must not be empty")),
        Some(p) => source.resolve(p.get_ref()),
        None => audit.path.with_file_name(DEFAULT_APPROVAL_STORE),
    };
    let progress_interval = duration(&table.progress_interval, &PROGRESS_INTERVAL, source)?;
    let max_pending = positive_size(table.max_pending.clone(), DEFAULT_MAX_PENDING, "approval.max_pending", source)?;
    let max_pending_per_session = positive_size(
        table.max_pending_per_session.clone(),
        DEFAULT_MAX_PENDING_PER_SESSION.min(max_pending),
        "approval.max_pending_per_session",
        source,
    )?;
    let max_pending_per_caller = positive_size(
        table.max_pending_per_caller.clone(),
        DEFAULT_MAX_PENDING_PER_CALLER.min(max_pending),
        "approval.max_pending_per_caller",
        source,
    )?;
    Ok(ApprovalConfig {
        store,
        progress_interval,
        max_pending,
        max_pending_per_session,
        max_pending_per_caller,
        webhook: None,
    })
}

pub(super) fn webhook_config(
    table: &Spanned<WebhookTable>,
    source: &Loader<'_>,
    env: &Environment<'_>,
) -> Result<WebhookConfig, SourceError> {
    let span = table.span();
    let table = table.get_ref();
    let required = |field: &Option<Spanned<String>>, key: &str, example: &str| {
        field.clone().ok_or_else(|| source.error(&span, format!("[approval.webhook] needs {key} = {example}")))
    };

    let url_field = required(&table.url, "url", "\"https://...\" (or \"env:NAME\")")?;
    let url = resolve_value(&url_field, "approval.webhook.url", source, env)?;
    source::web_url(&url)
        .map_err(|problem| source.error(&url_field.span(), format!("approval.webhook.url {problem}")))?;

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
    let callback = source::web_url(callback_field.get_ref())
        .map_err(|problem| source.error(&callback_field.span(), format!("approval.webhook.callback_url {problem}")))?;
    if callback.query().is_some() || callback.fragment().is_some() {
        return Err(source.error(
            &callback_field.span(),
            "approval.webhook.callback_url must not have a query or fragment: links are built by appending to it",
        ));
    }
    let callback_url = callback.as_str().trim_end_matches('/').to_string();

    let timeout = duration(&table.timeout, &WEBHOOK_TIMEOUT, source)?;
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

    let headers = match &table.headers {
        None => BTreeMap::new(),
        Some(headers) => {
            let site = HeaderSite {
                scope: "approval.webhook.headers",
                label: &|key| format!("approval.webhook.headers {key:?}"),
                reserved: &RESERVED_WEBHOOK_HEADERS,
            };
            resolve_headers(headers, &site, source, env)?
        }
    };
    Ok(WebhookConfig { url, secret, callback_url, timeout, attempts, headers })
}
