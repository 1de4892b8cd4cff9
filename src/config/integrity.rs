//! `[pins]` and `[inspection]`: how tool definitions are held to what a
//! person reviewed (lock files of pinned digests) and what is done with
//! definitions the scanner judges, and whether hidden text is stripped
//! from what models read.

use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

use super::Loader;
use crate::source::SourceError;

const DEFAULT_PINS_DIR: &str = "pins";

/// How tool definitions are held to their pins.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PinMode {
    /// A tool with no pin, or whose definition differs from its pin, is
    /// hidden and its calls refused.
    Enforce,
    /// As `Enforce`, except that a server with no lock file yet gets one
    /// written from the first listing seen.
    TrustOnFirstUse,
    /// Definitions are not compared with pins (the default without `[pins]`).
    #[default]
    Off,
}

impl PinMode {
    pub fn as_str(self) -> &'static str {
        match self {
            PinMode::Enforce => "enforce",
            PinMode::TrustOnFirstUse => "trust_on_first_use",
            PinMode::Off => "off",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PinsConfig {
    pub mode: PinMode,
    /// One lock file per server, `<dir>/<server>.lock.toml`.
    pub dir: PathBuf,
}

/// What the gateway does with a tool definition the scanner judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DefinitionAction {
    /// A `malicious` tool is hidden and its calls refused (unless accepted
    /// in its lock file for this very digest); `suspicious` ones are listed
    /// and flagged.
    #[default]
    Quarantine,
    /// Findings are recorded; nothing is hidden.
    Flag,
    Off,
}

impl DefinitionAction {
    pub fn as_str(self) -> &'static str {
        match self {
            DefinitionAction::Quarantine => "quarantine",
            DefinitionAction::Flag => "flag",
            DefinitionAction::Off => "off",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InspectionConfig {
    pub tool_definitions: DefinitionAction,
    /// Strip tag characters, bidi controls, zero-width characters inside
    /// words and terminal escapes from what a model reads.
    pub sanitize: bool,
}

impl Default for InspectionConfig {
    fn default() -> Self {
        InspectionConfig { tool_definitions: DefinitionAction::Quarantine, sanitize: true }
    }
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PinsTable {
    mode: Option<Spanned<String>>,
    dir: Option<Spanned<String>>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct InspectionTable {
    tool_definitions: Option<Spanned<String>>,
    sanitize: Option<bool>,
}

pub(super) fn pins_config(table: &PinsTable, source: &Loader<'_>) -> Result<PinsConfig, SourceError> {
    let mode = match &table.mode {
        None => PinMode::Off,
        Some(mode) => match mode.get_ref().as_str() {
            "enforce" => PinMode::Enforce,
            "trust_on_first_use" => PinMode::TrustOnFirstUse,
            "off" => PinMode::Off,
            other => {
                return Err(source.error(
                    &mode.span(),
                    format!("pins.mode must be \"enforce\", \"trust_on_first_use\" or \"off\", not {other:?}"),
                ))
            }
        },
    };
    let dir = match &table.dir {
        Some(dir) if dir.get_ref().is_empty() => return Err(source.error(&dir.span(), "pins.dir must not be empty")),
        Some(dir) => source.resolve(dir.get_ref()),
        None => source.resolve(DEFAULT_PINS_DIR),
    };
    Ok(PinsConfig { mode, dir })
}

pub(super) fn inspection_config(table: &InspectionTable, source: &Loader<'_>) -> Result<InspectionConfig, SourceError> {
    let tool_definitions = match &table.tool_definitions {
        None => DefinitionAction::Quarantine,
        Some(action) => match action.get_ref().as_str() {
            "quarantine" => DefinitionAction::Quarantine,
            "flag" => DefinitionAction::Flag,
            "off" => DefinitionAction::Off,
            other => {
                return Err(source.error(
                    &action.span(),
                    format!("inspection.tool_definitions must be \"quarantine\", \"flag\" or \"off\", not {other:?}"),
                ))
            }
        },
    };
    Ok(InspectionConfig { tool_definitions, sanitize: table.sanitize.unwrap_or(true) })
}
