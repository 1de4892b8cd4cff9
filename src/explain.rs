//! `mcp-warden explain`: the decision the gateway would make for one call,
//! computed offline from the configuration and policies, so a security team
//! can review a policy change before it goes live. It shares the naming and
//! the engine with the relay, so it cannot drift from the live verdict
//! except for what only a live upstream knows (its `inputSchema`, which can
//! be supplied by hand, and whether it advertises the tool at all).

use crate::config::GatewayConfig;
use crate::naming::Naming;
use crate::policy::{CallContext, Decision, InputSchema, Policy};
use serde_json::Value;

/// The outcome of explaining one call.
#[derive(Debug, serde::Serialize)]
pub struct Explanation {
    /// The upstream's configured name, when the exposed name resolved.
    pub server: Option<String>,
    /// The tool's original name, when the exposed name resolved.
    pub tool: Option<String>,
    #[serde(flatten)]
    pub decision: Decision,
}

/// Explains a call to `exposed` (as a client of the aggregated endpoint
/// names it: `<server><separator><tool>`).
pub fn explain(
    config: &GatewayConfig,
    policy: &Policy,
    exposed: &str,
    arguments: Option<&Value>,
    input_schema: Option<&Value>,
) -> Explanation {
    let naming = Naming::for_config(config);
    let Some((upstream, tool)) = naming.resolve(exposed) else {
        return Explanation { server: None, tool: None, decision: Decision::unknown_tool(exposed) };
    };
    let server = &config.upstreams[upstream].name;
    let input_schema = input_schema.map(InputSchema::compile);
    let decision = policy.explain(&CallContext::new(server, tool, arguments).with_input_schema(input_schema.as_ref()));
    Explanation { server: Some(server.clone()), tool: Some(tool.to_string()), decision }
}

impl std::fmt::Display for Explanation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let d = &self.decision;
        writeln!(f, "verdict:    {}", d.verdict.as_str())?;
        if let (Some(server), Some(tool)) = (&self.server, &self.tool) {
            writeln!(f, "server:     {server}")?;
            writeln!(f, "tool:       {tool}")?;
        }
        writeln!(f, "rule:       {}", d.rule_id)?;
        writeln!(f, "reason:     {}", d.reason)?;
        if let Some(argument) = &d.argument {
            writeln!(f, "argument:   {argument}")?;
        }
        if let Some(constraint) = &d.constraint {
            writeln!(f, "constraint: {constraint}")?;
        }
        if let Some(terms) = &d.approval {
            let channels: Vec<&str> = terms.channels.iter().map(|c| c.as_str()).collect();
            writeln!(
                f,
                "approval:   within {} via {}",
                humantime::format_duration(terms.timeout()),
                channels.join(", ")
            )?;
        }
        if !d.checks.is_empty() {
            writeln!(f, "checks:")?;
            for check in &d.checks {
                let mark = if check.passed { "pass" } else { "FAIL" };
                let argument = check.argument.as_deref().map(|a| format!(" {a}")).unwrap_or_default();
                writeln!(f, "  {mark}  {}{argument} {}: {}", check.rule_id, check.constraint, check.detail)?;
            }
        }
        Ok(())
    }
}
