//! `mcp-warden pin` and `mcp-warden scan`: the operator's side of tool
//! integrity. Exit codes: 0 nothing to report, 1 something to review (a
//! diff, a tool that is not clean, an upstream that could not be read),
//! 3 a usage or configuration error.

use super::diff::diff;
use super::lockfile::{lock_path, Advertised, LockFile};
use crate::config::GatewayConfig;
use crate::inspect::scan::{self, report, Namespace, ToolReport, Verdict};
use serde_json::Value;
use std::path::Path;

pub const CLEAN: u8 = 0;
pub const REVIEW: u8 = 1;
pub const USAGE: u8 = 3;

/// What `mcp-warden pin` was asked to do.
pub enum PinAction<'a> {
    /// Write every (or one) server's lock file from what it advertises now.
    Pin,
    /// Print what changed since the lock files were written.
    Diff,
    /// Accept the scanner's findings on one tool's current definition.
    Accept(&'a str),
}

pub fn pin(config_path: &Path, server: Option<&str>, action: PinAction<'_>) -> u8 {
    let config = match GatewayConfig::load(config_path) {
        Ok(config) => config,
        Err(e) => return usage(e),
    };
    let (server, accept) = match &action {
        PinAction::Accept(exposed) => match split_exposed(&config, exposed) {
            Some((server, tool)) => (Some(server), Some(tool)),
            None => {
                return usage(format!("{exposed:?} does not name a tool as <server>{}<tool>", config.relay.separator))
            }
        },
        _ => (server.map(str::to_string), None),
    };
    if let Some(name) = &server {
        if !config.upstreams.iter().any(|u| &u.name == name) {
            return usage(format!("no upstream named {name:?} in {}", config_path.display()));
        }
    }
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => return usage(format!("cannot start the runtime: {e}")),
    };
    let captured = runtime.block_on(super::capture::advertised(&config, server.as_deref()));
    let mut code = CLEAN;
    for (name, advertised) in captured {
        let advertised = match advertised {
            Ok(advertised) => advertised,
            Err(e) => {
                eprintln!("{name}: cannot read what it advertises: {e}");
                code = REVIEW;
                continue;
            }
        };
        let path = lock_path(&config.pins.dir, &name);
        let old = match path.exists().then(|| LockFile::read(&path)).transpose() {
            Ok(old) => old,
            Err(e) => return usage(e),
        };
        let now = LockFile::of(&name, &advertised);
        let outcome = match (&action, accept.as_deref()) {
            (PinAction::Diff, _) => {
                let empty = LockFile { server: name.clone(), ..LockFile::default() };
                match diff(old.as_ref().unwrap_or(&empty), &now) {
                    Some(text) => {
                        print!("{text}");
                        code = REVIEW;
                    }
                    None => println!("{name}: no change since {}", path.display()),
                }
                Ok(())
            }
            (PinAction::Accept(_), Some(tool)) => accept_tool(&name, &path, now, old.as_ref(), tool),
            _ => write_pins(&name, &path, now, old.as_ref()),
        };
        if let Err(e) = outcome {
            eprintln!("{name}: {e}");
            code = code.max(REVIEW);
        }
    }
    code
}

/// Writes the new pins, keeping each acceptance whose definition is unchanged.
fn write_pins(server: &str, path: &Path, mut now: LockFile, old: Option<&LockFile>) -> Result<(), String> {
    if let Some(old) = old {
        for pin in &mut now.tools {
            pin.accepted = old.tool(&pin.name).and_then(|p| p.accepted.clone()).filter(|a| *a == pin.digest);
        }
    }
    now.write(path).map_err(|e| e.to_string())?;
    println!("{server}: pinned {} tool(s) in {}", now.tools.len(), path.display());
    Ok(())
}

/// Records that a person reviewed `tool`'s current definition despite the
/// scanner's findings. The definition must be the pinned one: accepting is
/// not a way around reviewing a change.
fn accept_tool(server: &str, path: &Path, now: LockFile, old: Option<&LockFile>, tool: &str) -> Result<(), String> {
    let current = now.tool(tool).ok_or_else(|| format!("advertises no tool named {tool:?}"))?.digest.clone();
    let Some(mut lock) = old.cloned() else {
        return Err(format!(
            "has no lock file ({}): review the server and pin it first (`mcp-warden pin --server {server}`)",
            path.display()
        ));
    };
    let pin = lock.tools.iter_mut().find(|p| p.name == tool);
    match pin {
        Some(pin) if pin.digest == current => pin.accepted = Some(current.clone()),
        Some(pin) => {
            return Err(format!(
                "tool {tool:?} changed since it was pinned ({} in {}, now {current}): review it with `mcp-warden pin --diff --server {server}` and pin it first",
                pin.digest,
                path.display()
            ))
        }
        None => {
            return Err(format!(
                "tool {tool:?} has no pin in {}: review it and pin it first (`mcp-warden pin --server {server}`)",
                path.display()
            ))
        }
    }
    lock.write(path).map_err(|e| e.to_string())?;
    println!("{server}: accepted {tool} at {current} in {}", path.display());
    Ok(())
}

/// `<server><sep><tool>` to the upstream's name and the tool's own.
fn split_exposed(config: &GatewayConfig, exposed: &str) -> Option<(String, String)> {
    config.upstreams.iter().find_map(|u| {
        let tool = exposed.strip_prefix(u.prefix())?.strip_prefix(config.relay.separator.as_str())?;
        (!tool.is_empty()).then(|| (u.name.clone(), tool.to_string()))
    })
}

/// `mcp-warden scan`: a `tools/list` result from `file`, or every upstream
/// of `config`, judged tool by tool.
pub fn scan(file: Option<&Path>, config: Option<&Path>, json: bool, color: bool) -> u8 {
    let reports = match (file, config) {
        (Some(file), None) => match scan_file(file) {
            Ok(reports) => reports,
            Err(e) => return usage(e),
        },
        (None, Some(config)) => match scan_upstreams(config) {
            Ok(reports) => reports,
            Err(e) => return usage(e),
        },
        _ => return usage("give a tools/list result FILE or --config FILE (not both)"),
    };
    if json {
        println!("{}", report::json_report(&reports));
    } else {
        print!("{}", report::text_report(&reports, color));
    }
    if reports.iter().all(|r| r.verdict == Verdict::Clean) {
        CLEAN
    } else {
        REVIEW
    }
}

fn scan_file(file: &Path) -> Result<Vec<ToolReport>, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let value: Value = serde_json::from_str(&text).map_err(|e| format!("{}: not JSON: {e}", file.display()))?;
    // A whole JSON-RPC answer is taken too.
    let listing = value.get("result").unwrap_or(&value);
    let tools = listing
        .get("tools")
        .and_then(Value::as_array)
        .ok_or_else(|| format!("{}: expected a tools/list result, {{\"tools\": [...]}}", file.display()))?;
    // Tools of one file are one server's: none can shadow another server's.
    let namespace = Namespace::new(std::iter::empty());
    Ok(tools.iter().map(|tool| scan::scan_tool(tool, &namespace)).collect())
}

fn scan_upstreams(config_path: &Path) -> Result<Vec<ToolReport>, String> {
    let config = GatewayConfig::load(config_path).map_err(|e| e.to_string())?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    let captured = runtime.block_on(super::capture::advertised(&config, None));
    let mut servers: Vec<(String, Advertised)> = Vec::new();
    for (name, advertised) in captured {
        match advertised {
            Ok(advertised) => servers.push((name, advertised)),
            Err(e) => eprintln!("{name}: cannot read what it advertises: {e}"),
        }
    }
    let mut reports = Vec::new();
    for (name, advertised) in &servers {
        let others = servers
            .iter()
            .filter(|(other, _)| other != name)
            .flat_map(|(other, a)| {
                let prefix = config.upstreams.iter().find(|u| &u.name == other).map(|u| u.prefix().to_string());
                let separator = config.relay.separator.clone();
                a.tools.iter().filter_map(|t| t.get("name").and_then(Value::as_str)).flat_map(move |tool| {
                    let exposed = prefix.as_ref().map(|p| format!("{p}{separator}{tool}"));
                    std::iter::once(tool.to_string()).chain(exposed)
                })
            })
            .collect::<Vec<_>>();
        let namespace = Namespace::new(others);
        let prefix = config.upstreams.iter().find(|u| &u.name == name).map_or(name.as_str(), |u| u.prefix());
        for tool in &advertised.tools {
            let mut report = scan::scan_tool(tool, &namespace);
            report.name = format!("{prefix}{}{}", config.relay.separator, report.name);
            reports.push(report);
        }
        if let Some(instructions) = &advertised.instructions {
            let findings = scan::scan_text("instructions", instructions, &namespace);
            if !findings.is_empty() {
                let verdict = scan::verdict_of(&findings);
                reports.push(ToolReport { name: format!("{prefix} (server instructions)"), verdict, findings });
            }
        }
        for (kind, entries, field) in [
            ("prompt", &advertised.prompts, "name"),
            ("resource template", &advertised.resource_templates, "uriTemplate"),
        ] {
            for entry in entries {
                let (Some(id), Some(text)) =
                    (entry.get(field).and_then(Value::as_str), entry.get("description").and_then(Value::as_str))
                else {
                    continue;
                };
                let findings = scan::scan_text("description", text, &namespace);
                if !findings.is_empty() {
                    let verdict = scan::verdict_of(&findings);
                    reports.push(ToolReport { name: format!("{prefix} ({kind} {id})"), verdict, findings });
                }
            }
        }
    }
    Ok(reports)
}

fn usage(e: impl std::fmt::Display) -> u8 {
    eprintln!("error: {e}");
    USAGE
}
