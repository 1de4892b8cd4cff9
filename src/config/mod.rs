//! The gateway configuration (`config/gateway.toml`): where to listen, which
//! upstreams to serve, which policy files to load, where to write the audit log.
//!
//! Everything is validated and resolved at load: relative paths against the
//! config file's directory, `env:NAME` values from the gateway's environment,
//! a leading `${exe_dir}` in a command. Unknown keys are errors. Errors read
//! `FILE:LINE:COL: reason`, like policy errors.
//!
//! This file owns the top-level shape and wires the sections; each section
//! (`listen`, `relay`, `upstream`, `admin`, `approval`, `audit`, `pins` and
//! `inspection` in `integrity`) validates its
//! own table, and `values` holds what several sections resolve alike.
//! `working_dirs` checks a loaded config against a policy: whether each
//! upstream reads relative paths against the roots the rules join them to.

mod admin;
mod approval;
mod audit;
mod integrity;
mod listen;
mod relay;
#[cfg(test)]
mod tests;
mod upstream;
mod values;
mod working_dirs;

use std::collections::HashMap;
use std::env::VarError;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::source::{Source, SourceError};

pub use admin::AdminConfig;
pub use approval::{ApprovalConfig, WebhookConfig};
pub use audit::AuditConfig;
pub use integrity::{DefinitionAction, InspectionConfig, PinMode, PinsConfig};
pub use listen::ListenConfig;
pub use relay::RelayConfig;
pub use upstream::{PinnedRoot, UpstreamConfig, UpstreamTransport};
pub use working_dirs::{relative_path_errors, relative_path_findings, PathFinding, Severity};

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
    /// `[pins]`: definitions held to reviewed lock files.
    pub pins: PinsConfig,
    /// `[inspection]`: what is done with what servers say to models.
    pub inspection: InspectionConfig,
}

/// Why the configuration could not be loaded. Display is `FILE:LINE:COL: reason`.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: cannot read config file: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Invalid(#[from] SourceError),
}

/// The file as written. Sections may be absent; each one's defaults live with it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GatewayFile {
    policies: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    listen: listen::ListenTable,
    #[serde(default)]
    relay: relay::RelayTable,
    #[serde(default)]
    upstreams: Vec<upstream::UpstreamTable>,
    #[serde(default)]
    audit: audit::AuditTable,
    admin: Option<admin::AdminTable>,
    #[serde(default)]
    approval: approval::ApprovalTable,
    #[serde(default)]
    pins: integrity::PinsTable,
    #[serde(default)]
    inspection: integrity::InspectionTable,
}

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

/// The config text being loaded: positions for errors, and the directory
/// relative paths are resolved against.
struct Loader<'a> {
    source: Source<'a>,
    base: &'a Path,
}

impl Loader<'_> {
    fn error(&self, span: &Range<usize>, reason: impl Into<String>) -> SourceError {
        self.source.error(span, reason)
    }

    fn location(&self, span: &Range<usize>) -> String {
        self.source.location(span)
    }

    fn resolve(&self, path: &str) -> PathBuf {
        // `join` keeps absolute paths as they are.
        self.base.join(path)
    }
}

fn parse(text: &str, path: &Path, env: &Environment<'_>) -> Result<GatewayConfig, ConfigError> {
    let origin = path.display().to_string();
    let source = Loader { source: Source::new(&origin, text), base: path.parent().unwrap_or(Path::new("")) };
    let file: GatewayFile = source.source.parse()?;

    if file.policies.get_ref().is_empty() {
        return Err(source.error(&file.policies.span(), "policies must name at least one policy file").into());
    }
    let mut policies = Vec::new();
    for policy in file.policies.get_ref() {
        if policy.get_ref().is_empty() {
            return Err(source.error(&policy.span(), "policy path must not be empty").into());
        }
        policies.push(source.resolve(policy.get_ref()));
    }

    let listen = listen::listen_config(file.listen, &source)?;
    let relay = relay::relay_config(file.relay, &source)?;

    let mut upstreams = Vec::with_capacity(file.upstreams.len());
    let mut names: HashMap<String, String> = HashMap::new();
    let mut prefixes: HashMap<String, String> = HashMap::new();
    for table in file.upstreams {
        let upstream = upstream::upstream_config(table, &relay.separator, &mut names, &mut prefixes, &source, env)?;
        upstreams.push(upstream);
    }

    let audit = audit::audit_config(&file.audit, &source)?;
    let admin = match &file.admin {
        Some(table) => Some(admin::admin_config(table, &source, env)?),
        None => None,
    };
    let mut approval = approval::approval_config(&file.approval, &audit, &source)?;
    if let Some(table) = &file.approval.webhook {
        // Callbacks are served on the admin listener: without it no link could be answered.
        if admin.is_none() {
            return Err(source
                .error(
                    &table.span(),
                    "[approval.webhook] needs [admin]: its approve and deny links are served on the admin listener",
                )
                .into());
        }
        approval.webhook = Some(approval::webhook_config(table, &source, env)?);
    }

    let pins = integrity::pins_config(&file.pins, &source)?;
    let inspection = integrity::inspection_config(&file.inspection, &source)?;
    Ok(GatewayConfig {
        source: path.to_path_buf(),
        policies,
        listen,
        relay,
        upstreams,
        audit,
        admin,
        approval,
        pins,
        inspection,
    })
}
