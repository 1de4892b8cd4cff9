//! `mcp-warden explain`: the decision the gateway would make for one call,
//! or one access to a resource, resource template or prompt, computed
//! offline from the configuration and policies, so a security team can
//! review a policy change before it goes live. It shares the naming and the
//! engine with the relay, so it cannot drift from the live verdict except
//! for what only a live upstream knows (its `inputSchema`, which can be
//! supplied by hand; whether it advertises the tool at all; which upstream
//! lists a resource URI on `/mcp`, which is why a resource needs its server).

use crate::config::GatewayConfig;
use crate::naming::Naming;
use crate::policy::{Access, AccessContext, CallContext, Decision, InputSchema, Policy};
use serde_json::Value;

/// The outcome of explaining one call or access.
#[derive(Debug, serde::Serialize)]
pub struct Explanation {
    /// The upstream's configured name, when the exposed name resolved.
    pub server: Option<String>,
    /// The tool's original name, when the exposed name resolved (a call).
    pub tool: Option<String>,
    /// The resource URI, template or prompt name explained (an access).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_template: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    #[serde(flatten)]
    pub decision: Decision,
    /// With `--result`: what that result would become on its way to the client.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<ResultExplanation>,
}

/// What the inspection stage would make of one result of the explained tool.
#[derive(Debug, serde::Serialize)]
pub struct ResultExplanation {
    /// `redact`, `block`, `flag` or `approve`; absent when nothing was found.
    pub action: Option<&'static str>,
    /// Kinds and places, never values.
    pub findings: Vec<crate::audit::InspectionFinding>,
    /// Hidden characters and escapes removed.
    pub sanitized: Option<crate::audit::SanitizedAudit>,
    /// The result as the client would receive it.
    pub result: Value,
}

/// Adds to `explanation` what a result of its tool would become under the
/// policy's `[inspect]` and the config's `[inspection] sanitize`.
pub fn explain_result(config: &GatewayConfig, policy: &Policy, explanation: &mut Explanation, mut result: Value) {
    let (server, name) = match (&explanation.server, explanation.tool.as_ref().or(explanation.prompt.as_ref())) {
        (Some(server), Some(name)) => (server.clone(), name.clone()),
        _ => (String::new(), String::new()),
    };
    let settings = policy.inspect_settings(&server, &name);
    let inspected = crate::call::inspect::inspect_result(&mut result, settings, config.inspection.sanitize);
    let (action, findings) = match inspected.audit {
        Some(audit) => (Some(audit.action), audit.findings),
        None => (None, Vec::new()),
    };
    explanation.result = Some(ResultExplanation { action, findings, sanitized: inspected.sanitized, result });
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
        return Explanation { tool: None, ..Explanation::of(None, Decision::unknown_tool(exposed)) };
    };
    let server = &config.upstreams[upstream].name;
    let input_schema = input_schema.map(InputSchema::compile);
    let decision = policy.explain(&CallContext::new(server, tool, arguments).with_input_schema(input_schema.as_ref()));
    Explanation { tool: Some(tool.to_string()), ..Explanation::of(Some(server.clone()), decision) }
}

/// Explains an access. `server` is the upstream's configured name; without
/// it, a prompt is named as a client of `/mcp` names it
/// (`<server><separator><prompt>`). A resource or template needs `server`:
/// on `/mcp` the gateway routes a URI by the listings of the moment. `Err`
/// is a usage error (an unknown server, a resource without one).
pub fn explain_access(
    config: &GatewayConfig,
    policy: &Policy,
    server: Option<&str>,
    access: Access,
) -> Result<Explanation, String> {
    let (server, access) = match (server, access) {
        (Some(server), access) => {
            if !config.upstreams.iter().any(|u| u.name == server) {
                return Err(format!("no upstream named {server:?} in the configuration"));
            }
            (server.to_string(), access)
        }
        (None, Access::Prompt(exposed)) => {
            let naming = Naming::for_config(config);
            let Some((upstream, prompt)) = naming.resolve(exposed) else {
                return Err(format!(
                    "no upstream has a prompt named {exposed:?}: name it <server>{}<prompt>, or pass --server",
                    config.relay.separator
                ));
            };
            (config.upstreams[upstream].name.clone(), Access::Prompt(prompt))
        }
        (None, _) => return Err("a resource or template needs --server: the upstream that serves it".into()),
    };
    let decision = policy.explain_access(&AccessContext::new(&server, access));
    let mut explanation = Explanation::of(Some(server), decision);
    let name = Some(access.name().to_string());
    match access {
        Access::Resource(_) => explanation.resource = name,
        Access::ResourceTemplate(_) => explanation.resource_template = name,
        Access::Prompt(_) => explanation.prompt = name,
    }
    Ok(explanation)
}

impl Explanation {
    fn of(server: Option<String>, decision: Decision) -> Explanation {
        Explanation {
            server,
            tool: None,
            resource: None,
            resource_template: None,
            prompt: None,
            decision,
            result: None,
        }
    }
}

impl std::fmt::Display for Explanation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let d = &self.decision;
        writeln!(f, "verdict:    {}", d.verdict.as_str())?;
        if let Some(server) = &self.server {
            writeln!(f, "server:     {server}")?;
        }
        if let Some(tool) = &self.tool {
            writeln!(f, "tool:       {tool}")?;
        }
        // Quoted: a refused URI may hold characters a terminal acts on.
        let named =
            [("resource:  ", &self.resource), ("template:  ", &self.resource_template), ("prompt:    ", &self.prompt)];
        for (label, name) in named {
            if let Some(name) = name {
                writeln!(f, "{label} {name:?}")?;
            }
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
        if let Some(result) = &self.result {
            writeln!(f, "result:     {}", result.action.unwrap_or("passed unchanged (nothing found)"))?;
            for finding in &result.findings {
                writeln!(f, "  {} {} at {}", finding.detector, finding.kind, finding.at)?;
            }
            if let Some(s) = &result.sanitized {
                writeln!(
                    f,
                    "  sanitized: {} tag, {} bidi, {} zero-width, {} escape sequence(s)",
                    s.tag, s.bidi, s.zero_width, s.escapes
                )?;
            }
            let shown = serde_json::to_string_pretty(&result.result).unwrap_or_default();
            writeln!(f, "client sees:\n{shown}")?;
        }
        Ok(())
    }
}
