//! `[audit]`: where the hash-chained audit log is written.

use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

use super::Loader;
use crate::source::SourceError;

const DEFAULT_AUDIT_PATH: &str = "audit.jsonl";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditConfig {
    /// The JSON-lines audit file, resolved against the config file's directory.
    pub path: PathBuf,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AuditTable {
    path: Option<Spanned<String>>,
}

pub(super) fn audit_config(table: &AuditTable, source: &Loader<'_>) -> Result<AuditConfig, SourceError> {
    let path = match &table.path {
        Some(p) if p.get_ref().is_empty() => return Err(source.error(&p.span(), "audit path must not be empty")),
        Some(p) => source.resolve(p.get_ref()),
        None => source.resolve(DEFAULT_AUDIT_PATH),
    };
    Ok(AuditConfig { path })
}
