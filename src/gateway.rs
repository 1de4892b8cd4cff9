//! The running gateway's shared state: configuration, the policy in force,
//! the upstream pool and the audit sink. Fronts hold an `Arc<Gateway>`.

use crate::audit::{AuditEvent, AuditSink};
use crate::config::GatewayConfig;
use crate::errors::GatewayError;
use crate::policy::Policy;
use crate::upstream::UpstreamPool;
use arc_swap::ArcSwap;
use std::sync::Arc;

pub struct Gateway {
    pub config: GatewayConfig,
    policy: ArcSwap<Policy>,
    pub pool: Arc<UpstreamPool>,
    audit: AuditSink,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Policy(#[from] crate::policy::PolicyError),
    #[error("{0}")]
    Audit(#[from] crate::audit::AuditError),
}

impl Gateway {
    /// Loads the policies, opens the audit file and starts every upstream.
    /// Must run inside a Tokio runtime.
    pub fn start(config: GatewayConfig) -> Result<Arc<Gateway>, StartError> {
        let policy = Policy::load(&config.policies)?;
        let audit = AuditSink::open(&config.audit.path)?;
        tracing::info!(
            policy_version = %policy.version(),
            audit = %config.audit.path.display(),
            audit_records = audit.last_seq(),
            "policy loaded"
        );
        let pool = UpstreamPool::start(&config.upstreams, &config.relay);
        Ok(Arc::new(Gateway { config, policy: ArcSwap::from_pointee(policy), pool, audit }))
    }

    /// The policy in force; a reload swaps it without disturbing decisions
    /// already under way.
    pub fn policy(&self) -> Arc<Policy> {
        self.policy.load_full()
    }

    /// Re-reads the policy files. On any error the policy in force stays.
    pub fn reload_policy(&self) -> Result<String, crate::policy::PolicyError> {
        let policy = Policy::load(&self.config.policies)?;
        let version = policy.version().to_string();
        self.policy.store(Arc::new(policy));
        Ok(version)
    }

    /// Records a decision. A decision that cannot be recorded is not carried
    /// out: the caller returns this error instead of forwarding.
    pub fn record(&self, event: &AuditEvent) -> Result<(), GatewayError> {
        // The audit file is the record; the log line is for debugging.
        tracing::debug!(
            session = %event.session, server = %event.server, tool = %event.tool,
            verdict = %event.verdict, rule = %event.rule, enforced = event.enforced, "decision"
        );
        self.audit.record(event).map_err(|e| GatewayError::AuditFailed(e.to_string()))
    }
}
