//! Tool integrity: whether a definition a server advertises is the one a
//! person reviewed (pins, `book.rs` and `lockfile.rs`) and whether the
//! scanner (`inspect::scan`) finds it poisoned; `capture.rs` reads what
//! upstreams advertise for `mcp-warden pin` and `scan`, `diff.rs` shows a
//! reviewer what changed.
//!
//! `Integrity::admit` is the one answer to "may a model see and call this
//! definition": asked for every tool of every `tools/list` an upstream
//! returns and again for every call (the definition stage of the call
//! pipeline). It does no I/O except the first-use write of a lock file;
//! scans are cached by digest, so a definition is scanned once, never per
//! call. What it finds worth telling (a drift, a quarantine, a flag) comes
//! back as `Notice`s, each once per server, tool and digest, for the
//! gateway to audit, log, announce and show.

pub mod book;
pub mod capture;
pub mod command;
pub mod diff;
pub mod lockfile;

use crate::audit::SanitizedAudit;
use crate::config::{DefinitionAction, InspectionConfig, PinsConfig};
use crate::inspect::sanitize::Removed;
use crate::inspect::scan::{self, Finding, Namespace, Verdict};
use book::{PinBook, Standing};
use serde::Serialize;
use serde_json::Value;
use std::collections::{HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

/// Scans kept, by digest; beyond it the cache starts over (a server
/// churning definitions costs scans, never memory).
const MAX_SCANS: usize = 10_000;
/// Notices kept for the console.
const MAX_NOTICES: usize = 200;

/// A definition's scan, shared by every session that sees the definition.
#[derive(Debug)]
pub struct Scanned {
    pub verdict: Verdict,
    pub findings: Vec<Finding>,
}

impl Scanned {
    /// The detectors that fired, each once, for records and refusals (never the evidence).
    pub fn detectors(&self) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = self.findings.iter().map(|f| f.detector).collect();
        names.sort_unstable();
        names.dedup();
        names
    }
}

/// Why a definition is kept from the model.
#[derive(Clone, Debug)]
pub enum Withheld {
    Unpinned { lock: PathBuf },
    Drifted { lock: PathBuf, pinned: String, seen: String },
    Quarantined { seen: String, scanned: Arc<Scanned> },
}

impl Withheld {
    /// The rule a refusal names.
    pub fn rule(&self) -> &'static str {
        match self {
            Withheld::Unpinned { .. } | Withheld::Drifted { .. } => "pins",
            Withheld::Quarantined { .. } => "inspection.tool_definitions",
        }
    }

    /// The check that failed.
    pub fn constraint(&self) -> &'static str {
        match self {
            Withheld::Unpinned { .. } => "unpinned",
            Withheld::Drifted { .. } => "pin",
            Withheld::Quarantined { .. } => "quarantine",
        }
    }

    /// Names the pin and the server, never the definition's text.
    pub fn reason(&self, server: &str, tool: &str) -> String {
        match self {
            Withheld::Unpinned { lock } => format!(
                "tool {tool:?} on server {server:?} has no pin in {}: review it and pin it (`mcp-warden pin --server {server}`)",
                lock.display()
            ),
            Withheld::Drifted { lock, pinned, seen } => format!(
                "tool {tool:?} on server {server:?} changed since it was pinned ({pinned} in {}, now {seen}): \
                 review the change (`mcp-warden pin --diff --server {server}`)",
                lock.display()
            ),
            Withheld::Quarantined { seen, scanned } => format!(
                "tool {tool:?} on server {server:?} is quarantined: its definition ({seen}) was judged {} by {}; \
                 review it (`mcp-warden scan`) and accept it (`mcp-warden pin --accept {server}__{tool}`)",
                verdict_word(scanned.verdict),
                scanned.detectors().join(", ")
            ),
        }
    }
}

/// What `admit` decided for one definition.
#[derive(Clone, Debug)]
pub enum Admission {
    Admitted,
    /// Shown and callable, with findings worth recording.
    Flagged(Arc<Scanned>),
    Withheld(Withheld),
}

/// Something about a definition the operators must hear of, once.
#[derive(Clone, Debug, Serialize)]
pub struct Notice {
    /// `drift`, `unpinned`, `quarantined`, `flagged` or `pinned` (first use).
    pub event: &'static str,
    pub server: String,
    pub tool: String,
    /// The pinned digest, for a drift.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pinned: Option<String>,
    pub seen: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub detectors: Vec<&'static str>,
    /// The refusal's wording, or what was done.
    pub reason: String,
    /// What the sanitizer removed from the definition, for `sanitized`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sanitized: Option<SanitizedAudit>,
    /// Unix seconds.
    pub at: u64,
}

pub struct Integrity {
    pub pins: PinBook,
    inspection: InspectionConfig,
    scans: Mutex<HashMap<String, Arc<Scanned>>>,
    /// The tool names each server last listed, for the scanner's shadowing check.
    namespace: RwLock<HashMap<String, Vec<String>>>,
    /// Per server, the scanner's view of the other servers' names: built
    /// once (a regex of every name) and dropped when any listing changes them.
    shadows: Mutex<HashMap<String, Arc<Namespace>>>,
    /// `event server tool digest` already told.
    told: Mutex<HashSet<String>>,
    notices: Mutex<VecDeque<Notice>>,
}

impl Integrity {
    pub fn load(
        pins: &PinsConfig,
        inspection: &InspectionConfig,
        servers: &[String],
    ) -> Result<Integrity, lockfile::LockError> {
        Ok(Integrity {
            pins: PinBook::load(pins, servers)?,
            inspection: inspection.clone(),
            scans: Mutex::new(HashMap::new()),
            namespace: RwLock::new(HashMap::new()),
            shadows: Mutex::new(HashMap::new()),
            told: Mutex::new(HashSet::new()),
            notices: Mutex::new(VecDeque::new()),
        })
    }

    /// Builds the scanner's rules on a thread of their own, so the first
    /// `tools/list` a client makes does not wait for them (tens of ms).
    pub fn warm_up(&self) {
        if self.inspection.tool_definitions != DefinitionAction::Off {
            std::thread::spawn(|| {
                let tool = serde_json::json!({"name": "warm_up", "description": "Reads a file."});
                scan::scan_tool(&tool, &Namespace::default());
            });
        }
    }

    pub fn sanitize(&self) -> bool {
        self.inspection.sanitize
    }

    /// Takes in one listing of `server`'s tools before its definitions are
    /// admitted: the scanner's view of the namespace, and the first-use pin.
    pub fn listed(&self, server: &str, tools: &[Value]) -> Vec<Notice> {
        let names: Vec<String> =
            tools.iter().filter_map(|t| t.get("name").and_then(Value::as_str)).map(str::to_string).collect();
        {
            let mut namespace = self.namespace.write().expect("namespace lock");
            if namespace.get(server) != Some(&names) {
                namespace.insert(server.to_string(), names);
                self.shadows.lock().expect("shadows lock").clear();
            }
        }
        match self.pins.first_use(server, tools) {
            Ok(Some(path)) => {
                let reason = format!("first use: {} tools pinned in {}", tools.len(), path.display());
                self.tell("pinned", server, "*", None, path.display().to_string(), None, reason).into_iter().collect()
            }
            Ok(None) => Vec::new(),
            Err(e) => {
                // Fail closed: the tools stay unpinned, so hidden.
                tracing::error!(server = %server, "cannot write the first-use pins: {e}");
                Vec::new()
            }
        }
    }

    /// Whether a model may see and call `tool` of `server` as defined by
    /// `definition` (its canonical `digest`), and what to tell about it.
    pub fn admit(&self, server: &str, tool: &str, definition: &Value, digest: &str) -> (Admission, Option<Notice>) {
        let standing = self.pins.standing(server, tool, digest);
        let withheld = match standing {
            Standing::Unpinned { lock } => Some(Withheld::Unpinned { lock }),
            Standing::Drifted { lock, pinned } => Some(Withheld::Drifted { lock, pinned, seen: digest.to_string() }),
            Standing::Pinned | Standing::Unchecked => None,
        };
        if let Some(withheld) = withheld {
            let notice = self.withheld_notice(server, tool, &withheld);
            return (Admission::Withheld(withheld), notice);
        }
        if self.inspection.tool_definitions == DefinitionAction::Off {
            return (Admission::Admitted, None);
        }
        let scanned = self.scan(server, definition, digest);
        if scanned.verdict == Verdict::Clean {
            return (Admission::Admitted, None);
        }
        let accepted = self.pins.accepted(server, tool, digest);
        if scanned.verdict == Verdict::Malicious
            && self.inspection.tool_definitions == DefinitionAction::Quarantine
            && !accepted
        {
            let withheld = Withheld::Quarantined { seen: digest.to_string(), scanned };
            let notice = self.withheld_notice(server, tool, &withheld);
            return (Admission::Withheld(withheld), notice);
        }
        let reason = if accepted {
            format!("accepted in {} despite the scanner's findings", self.pins.lock_path(server).display())
        } else {
            format!("judged {} by {}; listed", verdict_word(scanned.verdict), scanned.detectors().join(", "))
        };
        let notice = self.tell(
            "flagged",
            server,
            tool,
            None,
            digest.to_string(),
            Some((scanned.verdict, scanned.detectors())),
            reason,
        );
        (Admission::Flagged(scanned), notice)
    }

    /// A notice that hidden characters were removed from a definition, once per definition.
    pub fn sanitized_definition(&self, server: &str, tool: &str, digest: &str, removed: Removed) -> Option<Notice> {
        let reason = format!(
            "removed {} hidden character(s) or escape sequence(s) from the definition before the client saw it",
            removed.total()
        );
        let mut notice = self.tell("sanitized", server, tool, None, digest.to_string(), None, reason)?;
        notice.sanitized = Some(audit_counts(removed));
        Some(notice)
    }

    /// The latest notices, newest last (for the console and the admin API).
    pub fn notices(&self) -> Vec<Notice> {
        self.notices.lock().expect("notices lock").iter().cloned().collect()
    }

    fn scan(&self, server: &str, definition: &Value, digest: &str) -> Arc<Scanned> {
        // By digest alone: the same definition under another server name
        // reads the same to a model.
        if let Some(found) = self.scans.lock().expect("scans lock").get(digest) {
            return found.clone();
        }
        let namespace = self.shadows_of(server);
        let report = scan::scan_tool(definition, &namespace);
        let scanned = Arc::new(Scanned { verdict: report.verdict, findings: report.findings });
        let mut scans = self.scans.lock().expect("scans lock");
        if scans.len() >= MAX_SCANS {
            scans.clear();
        }
        scans.insert(digest.to_string(), scanned.clone());
        scanned
    }

    fn shadows_of(&self, server: &str) -> Arc<Namespace> {
        if let Some(found) = self.shadows.lock().expect("shadows lock").get(server) {
            return found.clone();
        }
        let namespace = {
            let servers = self.namespace.read().expect("namespace lock");
            let others = servers.iter().filter(|(name, _)| name.as_str() != server);
            Arc::new(Namespace::new(others.flat_map(|(_, tools)| tools.iter().cloned())))
        };
        self.shadows.lock().expect("shadows lock").insert(server.to_string(), namespace.clone());
        namespace
    }

    fn withheld_notice(&self, server: &str, tool: &str, withheld: &Withheld) -> Option<Notice> {
        let reason = withheld.reason(server, tool);
        match withheld {
            Withheld::Unpinned { lock } => {
                self.tell("unpinned", server, tool, None, lock.display().to_string(), None, reason)
            }
            Withheld::Drifted { pinned, seen, .. } => {
                self.tell("drift", server, tool, Some(pinned.clone()), seen.clone(), None, reason)
            }
            Withheld::Quarantined { seen, scanned } => self.tell(
                "quarantined",
                server,
                tool,
                None,
                seen.clone(),
                Some((scanned.verdict, scanned.detectors())),
                reason,
            ),
        }
    }

    /// A notice, the first time this event is seen for this definition.
    #[allow(clippy::too_many_arguments)]
    fn tell(
        &self,
        event: &'static str,
        server: &str,
        tool: &str,
        pinned: Option<String>,
        seen: String,
        verdict: Option<(Verdict, Vec<&'static str>)>,
        reason: String,
    ) -> Option<Notice> {
        let key = format!("{event} {server} {tool} {seen}");
        {
            let mut told = self.told.lock().expect("told lock");
            if told.contains(&key) {
                return None;
            }
            if told.len() >= MAX_SCANS {
                told.clear();
            }
            told.insert(key);
        }
        let (verdict, detectors) = match verdict {
            Some((verdict, detectors)) => (Some(verdict), detectors),
            None => (None, Vec::new()),
        };
        let at = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let notice = Notice {
            event,
            server: server.to_string(),
            tool: tool.to_string(),
            pinned,
            seen,
            verdict,
            detectors,
            reason,
            sanitized: None,
            at,
        };
        let mut notices = self.notices.lock().expect("notices lock");
        if notices.len() >= MAX_NOTICES {
            notices.pop_front();
        }
        notices.push_back(notice.clone());
        Some(notice)
    }
}

/// The sanitizer's counts as an audit record writes them.
pub fn audit_counts(removed: Removed) -> SanitizedAudit {
    SanitizedAudit { tag: removed.tag, bidi: removed.bidi, zero_width: removed.zero_width, escapes: removed.escapes }
}

pub fn verdict_word(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Clean => "clean",
        Verdict::Suspicious => "suspicious",
        Verdict::Malicious => "malicious",
    }
}
