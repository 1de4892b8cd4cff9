//! The running gateway's shared state: configuration, the policy in force,
//! the upstream pool, the audit sink and the key its digests use. Fronts
//! hold an `Arc<Gateway>`.
//!
//! Opening the files is done here, in an order that matters: the audit
//! sink first, which claims (and locks) this process's chain file, then the
//! approval store with the same number, so two processes on one config
//! (`serve` and the stdio front) each keep their own chain and their own
//! pending requests, and neither denies the other's as "abandoned" when it
//! starts. Every file is created readable by the gateway's user only.

use crate::approval::channels::Announcer;
use crate::approval::webhook::WebhookNotifier;
use crate::approval::ApprovalBroker;
use crate::audit::{ApprovalAudit, AuditEvent, AuditKey, AuditSink, Outcome};
use crate::config::GatewayConfig;
use crate::errors::GatewayError;
use crate::integrity::{Integrity, Notice};
use crate::naming::Naming;
use crate::policy::{Policy, Verdict};
use crate::upstream::UpstreamPool;
use arc_swap::ArcSwap;
use std::sync::Arc;

pub struct Gateway {
    pub config: GatewayConfig,
    policy: ArcSwap<Policy>,
    pub pool: Arc<UpstreamPool>,
    audit: AuditSink,
    /// Keys the argument and session digests in records and bindings.
    audit_key: AuditKey,
    /// Calls held for a person's approval.
    pub approvals: ApprovalBroker,
    /// How tools are named on the aggregated endpoint; fixed by the config,
    /// so built once rather than on every call.
    pub naming: Naming,
    /// Announces held calls to `[approval.webhook]`, when configured (through
    /// the broker), and checks the links it sent (on the admin listener).
    pub webhook: Option<Arc<WebhookNotifier>>,
    /// Pins and the definition scanner: what tools a model may see.
    pub integrity: Integrity,
    /// What each authenticated caller's sessions have been exposed to (the trifecta guard).
    pub caller_flows: crate::call::flow::CallerFlows,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Policy(#[from] crate::policy::PolicyError),
    #[error("{0}")]
    Audit(#[from] crate::audit::AuditError),
    #[error("{0}")]
    Approval(#[from] crate::approval::store::StoreError),
    #[error("cannot record a request denied at restart: {0}")]
    Record(GatewayError),
    #[error("{0}")]
    Webhook(String),
    /// A lock file in `[pins] dir` that cannot be read.
    #[error("pins: {0}")]
    Pins(#[from] crate::integrity::lockfile::LockError),
    /// An upstream would read relative paths against another directory than
    /// the policy joins them to (`config::relative_path_findings`).
    #[error("relative paths: {0}")]
    RelativePaths(String),
}

impl Gateway {
    /// Loads the policies, opens the audit file and starts every upstream.
    /// Must run inside a Tokio runtime.
    pub fn start(config: GatewayConfig) -> Result<Arc<Gateway>, StartError> {
        let policy = Policy::load(&config.policies)?;
        check_relative_paths(&config, &policy)?;
        let integrity = Integrity::load(&config.pins, &config.inspection, &server_names(&config))?;
        integrity.warm_up();
        let audit = AuditSink::open(&config.audit.path)?;
        let audit_key = crate::audit::installation_key(&config.audit.path)?;
        let chain_file = audit.path().unwrap_or(&config.audit.path);
        if audit.chain() > 1 {
            tracing::warn!(
                audit = %chain_file.display(),
                "another mcp-warden process writes {}: this one writes its own chain to {} \
                 (`mcp-warden audit verify {}` checks both)",
                config.audit.path.display(),
                chain_file.display(),
                config.audit.path.display()
            );
        }
        tracing::info!(
            policy_version = %policy.version(),
            audit = %chain_file.display(),
            audit_records = audit.last_seq(),
            "policy loaded"
        );
        // The api, cli and console channels all need the admin listener;
        // elicitation needs only the client, which the relay checks per call.
        let channels = crate::approval::served_channels(&config);
        for warning in crate::approval::channel_warnings(&policy, &channels) {
            tracing::warn!("{warning}");
        }
        let webhook = match &config.approval.webhook {
            Some(hook) => Some(WebhookNotifier::start(hook).map_err(StartError::Webhook)?),
            None => None,
        };
        let announcers: Vec<Arc<dyn Announcer>> =
            webhook.iter().map(|hook| Arc::clone(hook) as Arc<dyn Announcer>).collect();
        let mut store = config.approval.clone();
        store.store = crate::audit::numbered(&config.approval.store, audit.chain());
        let (approvals, abandoned) = ApprovalBroker::open(&store, channels, announcers)?;
        for (id, call) in abandoned {
            // Never forwarded: the client that waited is gone with the old process.
            let event = AuditEvent {
                session: call.session,
                client_name: call.client_name,
                client_version: call.client_version,
                server: call.server,
                tool: call.tool,
                verdict: Verdict::Approve,
                enforced: true,
                rule: call.rule,
                reason: crate::approval::RESTART_REASON.into(),
                argument: None,
                constraint: None,
                args_digest: call.args_digest,
                latency_us: 0,
                outcome: Some(Outcome::Denied),
                caller: None,
                method: None,
                integrity: None,
                sanitized: None,
                inspection: None,
                approval: Some(ApprovalAudit {
                    request: id,
                    approver: Some("mcp-warden".into()),
                    reason: Some(crate::approval::RESTART_REASON.into()),
                    ..ApprovalAudit::default()
                }),
            };
            // Start-up runs outside the runtime's tasks; the writer thread is already serving.
            audit.record_blocking(&event).map_err(|e| StartError::Record(GatewayError::AuditFailed(e.to_string())))?;
            tracing::warn!(request = %event.approval.as_ref().map_or("", |a| a.request.as_str()), "denied an approval request left pending by the previous run");
        }
        let pool = UpstreamPool::start(&config.upstreams, &config.relay);
        let naming = Naming::for_config(&config);
        let gateway = Arc::new(Gateway {
            config,
            policy: ArcSwap::from_pointee(policy),
            pool,
            audit,
            audit_key,
            approvals,
            naming,
            webhook,
            integrity,
            caller_flows: Default::default(),
        });
        gateway.check_definitions_at_start();
        Ok(gateway)
    }

    /// The key every argument and session digest of this installation is made with.
    pub fn audit_key(&self) -> &AuditKey {
        &self.audit_key
    }

    /// The policy in force; a reload swaps it without disturbing decisions
    /// already under way.
    pub fn policy(&self) -> Arc<Policy> {
        self.policy.load_full()
    }

    /// Re-reads the policy files. On any error the policy in force stays.
    pub fn reload_policy(&self) -> Result<String, StartError> {
        let policy = Policy::load(&self.config.policies)?;
        check_relative_paths(&self.config, &policy)?;
        let version = policy.version().to_string();
        for warning in crate::approval::channel_warnings(&policy, &crate::approval::served_channels(&self.config)) {
            tracing::warn!("{warning}");
        }
        self.policy.store(Arc::new(policy));
        Ok(version)
    }

    /// With pins on, checks every upstream's tool definitions once it is
    /// up, before any client lists them: a first-use pin is written at
    /// start, and a drift since the last run is told at once rather than
    /// at the first session (it costs one upstream session per server).
    fn check_definitions_at_start(self: &Arc<Self>) {
        if self.config.pins.mode == crate::config::PinMode::Off {
            return;
        }
        let gateway = Arc::clone(self);
        tokio::spawn(async move {
            let relay = &gateway.config.relay;
            for index in 0..gateway.pool.len() {
                gateway.pool.wait_settled(&[index], relay.startup_timeout).await;
                let server = gateway.pool.config(index).name.clone();
                let read = crate::integrity::capture::read_upstream(
                    &gateway.pool,
                    index,
                    relay.startup_timeout,
                    relay.request_timeout,
                )
                .await;
                let tools = match read {
                    Ok(advertised) => advertised.tools,
                    Err(e) => {
                        tracing::debug!(server = %server, "tool definitions not checked at start: {e}");
                        continue;
                    }
                };
                for notice in gateway.integrity.listed(&server, &tools) {
                    gateway.integrity_notice(notice, STARTUP_SESSION);
                }
                for tool in &tools {
                    let Some(name) = tool.get("name").and_then(serde_json::Value::as_str) else { continue };
                    let digest = crate::inspect::canonical::definition_digest(tool);
                    if let (_, Some(notice)) = gateway.integrity.admit(&server, name, tool, &digest) {
                        gateway.integrity_notice(notice, STARTUP_SESSION);
                    }
                }
            }
        });
    }

    /// Re-reads the lock files in `[pins] dir`. On any error the pins in force stay.
    pub fn reload_pins(&self) -> Result<(), StartError> {
        Ok(self.integrity.pins.reload(&server_names(&self.config))?)
    }

    /// Tells the operators about a tool definition (a drift, a quarantine,
    /// a flag, a first-use pin), once per definition: an audit record, a
    /// warning in the log, the webhook's `tool.drift` event, the console.
    pub fn integrity_notice(&self, notice: Notice, session: &str) {
        tracing::warn!(server = %notice.server, tool = %notice.tool, event = notice.event, "tool integrity: {}", notice.reason);
        let blocked = matches!(notice.event, "drift" | "unpinned" | "quarantined");
        let event = AuditEvent {
            session: self.audit_key.digest_session(session),
            client_name: None,
            client_version: None,
            server: notice.server.clone(),
            tool: notice.tool.clone(),
            verdict: if blocked { Verdict::Deny } else { Verdict::Allow },
            enforced: true,
            rule: if matches!(notice.event, "quarantined" | "flagged" | "sanitized") {
                "inspection.tool_definitions".into()
            } else {
                "pins".into()
            },
            reason: notice.reason.clone(),
            argument: None,
            constraint: None,
            args_digest: String::new(),
            latency_us: 0,
            outcome: Some(if blocked { Outcome::Blocked } else { Outcome::Forwarded }),
            caller: None,
            method: Some("tools/list".into()),
            approval: None,
            integrity: Some(crate::audit::IntegrityAudit {
                event: notice.event,
                pinned: notice.pinned.clone(),
                seen: notice.seen.clone(),
                verdict: notice.verdict.map(crate::integrity::verdict_word),
                detectors: notice.detectors.clone(),
            }),
            sanitized: notice.sanitized,
            inspection: None,
        };
        self.record_detached(event);
        let announced = match notice.event {
            "drift" | "unpinned" => Some("tool.drift"),
            "quarantined" => Some("tool.quarantined"),
            _ => None,
        };
        if let (Some(webhook), Some(name)) = (&self.webhook, announced) {
            // {"event": "tool.drift", "kind": "drift", "server", "tool", "pinned", "seen", "reason", "at"}
            let mut body = serde_json::to_value(&notice).unwrap_or_default();
            body["kind"] = body["event"].take();
            body["event"] = name.into();
            webhook.tell(body);
        }
    }

    /// Records a server-to-client request the relay refused (a sampling or
    /// elicitation request the client never saw), with why.
    pub fn record_refused_ask(&self, session: &str, server: &str, method: &str, why: &str) {
        self.record_detached(AuditEvent {
            session: self.audit_key.digest_session(session),
            client_name: None,
            client_version: None,
            server: server.to_string(),
            tool: method.to_string(),
            verdict: Verdict::Deny,
            enforced: true,
            rule: "server_requests".into(),
            reason: why.to_string(),
            argument: None,
            constraint: None,
            args_digest: String::new(),
            latency_us: 0,
            outcome: Some(Outcome::Blocked),
            caller: None,
            method: Some(method.to_string()),
            approval: None,
            integrity: None,
            sanitized: None,
            inspection: None,
        });
    }

    /// Records a decision and waits until it is in the audit file. A
    /// decision that cannot be recorded is not carried out: the caller
    /// returns this error instead of forwarding.
    pub async fn record(&self, event: &AuditEvent) -> Result<(), GatewayError> {
        log_decision(event);
        self.audit.record(event).await.map_err(|e| GatewayError::AuditFailed(e.to_string()))
    }

    /// [`Gateway::record`] for code that cannot await, such as a `Drop`:
    /// blocks the thread until the record is written, so that whatever the
    /// caller does next (and anyone who then reads the file) finds it there.
    pub fn record_blocking(&self, event: &AuditEvent) -> Result<(), GatewayError> {
        log_decision(event);
        self.audit.record_blocking(event).map_err(|e| GatewayError::AuditFailed(e.to_string()))
    }

    /// Records what nothing waits on (a call's completion) without
    /// waiting; a failure is logged.
    pub fn record_detached(&self, event: AuditEvent) {
        log_decision(&event);
        self.audit.record_detached(event);
    }
}

/// The session the start-up check of tool definitions is recorded under.
const STARTUP_SESSION: &str = "mcp-warden:startup";

fn server_names(config: &GatewayConfig) -> Vec<String> {
    config.upstreams.iter().map(|u| u.name.clone()).collect()
}

/// Refuses a policy that an upstream would read relative paths differently
/// from; logs what cannot be checked.
fn check_relative_paths(config: &GatewayConfig, policy: &Policy) -> Result<(), StartError> {
    let findings = crate::config::relative_path_findings(config, policy);
    for finding in findings.iter().filter(|f| f.severity == crate::config::Severity::Warning) {
        tracing::warn!("{}", finding.message);
    }
    match crate::config::relative_path_errors(&findings) {
        Some(errors) => Err(StartError::RelativePaths(errors)),
        None => Ok(()),
    }
}

/// The audit file is the record; this log line is for debugging.
fn log_decision(event: &AuditEvent) {
    tracing::debug!(
        session = %event.session, server = %event.server, tool = %event.tool,
        verdict = event.verdict.as_str(), rule = %event.rule, enforced = event.enforced,
        outcome = ?event.outcome, "decision"
    );
}
