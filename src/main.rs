//! The `mcp-warden` command: parses the command line and wires the library's
//! parts together. No logic of its own lives here.

mod serve;

use clap::{Parser, Subcommand};
use mcp_warden::config::{GatewayConfig, Severity};
use mcp_warden::policy::Policy;
use serve::{run, Front};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "mcp-warden",
    version,
    about = "An MCP security gateway: allowlists and argument policies for every tool call"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the Streamable HTTP endpoint (default http://127.0.0.1:8080/mcp).
    Serve {
        /// The gateway configuration.
        #[arg(long, short, default_value = "config/gateway.toml")]
        config: PathBuf,
    },
    /// Serve one client on stdin/stdout (for claude_desktop_config.json).
    Stdio {
        #[arg(long, short, default_value = "config/gateway.toml")]
        config: PathBuf,
    },
    /// Load the configuration and its policies, report the first error.
    Check {
        #[arg(long, short, default_value = "config/gateway.toml")]
        config: PathBuf,
    },
    /// Show the decision the gateway would make for one tool call, resource,
    /// resource template or prompt, and every check behind it. Exits 0 for
    /// allow, 1 for deny, 2 for approve (held for a person), 3 on a usage or
    /// configuration error.
    #[command(group(clap::ArgGroup::new("target").required(true).args(["tool", "resource", "resource_template", "prompt"])))]
    Explain {
        #[arg(long, short, default_value = "config/gateway.toml")]
        config: PathBuf,
        /// The tool as a client of /mcp names it: <server>__<tool> (its own
        /// name with --server).
        #[arg(long)]
        tool: Option<String>,
        /// A resource URI, as resources/read sends it (needs --server).
        #[arg(long)]
        resource: Option<String>,
        /// A resource template, as resources/templates/list shows it (needs --server).
        #[arg(long)]
        resource_template: Option<String>,
        /// A prompt as a client of /mcp names it: <server>__<prompt> (its own
        /// name with --server).
        #[arg(long)]
        prompt: Option<String>,
        /// The upstream's configured name; names are then its own.
        #[arg(long)]
        server: Option<String>,
        /// The call's arguments, a JSON object.
        #[arg(long, default_value = "{}")]
        args: String,
        /// The upstream's inputSchema for the tool (JSON, or @FILE), which the
        /// live gateway checks too.
        #[arg(long)]
        input_schema: Option<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// A result of the tool (JSON, or @FILE): show what the inspection
        /// stage would make of it ([inspect] and [inspection] sanitize).
        #[arg(long, requires = "tool")]
        result: Option<String>,
    },
    /// Pin the tool definitions the upstreams advertise now: one lock file
    /// per server in `[pins] dir`, to review like code. Exits 0, 1 when
    /// something needs review (a diff, an unreadable upstream), 3 on a
    /// usage or configuration error.
    Pin {
        #[arg(long, short, default_value = "config/gateway.toml")]
        config: PathBuf,
        /// Only this upstream.
        #[arg(long)]
        server: Option<String>,
        /// Print what changed since the lock files were written (a unified
        /// diff of descriptions and schemas) instead of writing them.
        #[arg(long, conflicts_with = "accept")]
        diff: bool,
        /// Accept the scanner's findings on one tool's current, pinned
        /// definition (<server>__<tool>); bound to that definition's digest.
        #[arg(long, value_name = "SERVER__TOOL", conflicts_with = "server")]
        accept: Option<String>,
    },
    /// Judge tool definitions for poisoning (hidden instructions,
    /// exfiltration channels, invisible characters): a tools/list result in
    /// FILE, or every upstream of --config. Exits 0 when every tool is
    /// clean, 1 when any is not, 3 on a usage error.
    Scan {
        /// A tools/list result, {"tools": [...]}.
        file: Option<PathBuf>,
        /// Read the definitions from the upstreams of this configuration.
        #[arg(long, short, conflicts_with = "file")]
        config: Option<PathBuf>,
        /// Print {"tools": [{"name", "verdict", "findings": [...]}]}.
        #[arg(long)]
        json: bool,
    },
    /// Audit log tools.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Answer held calls on a running gateway, through its admin API.
    Approvals {
        #[command(subcommand)]
        command: ApprovalsCommand,
    },
}

#[derive(Subcommand)]
enum ApprovalsCommand {
    /// List the calls waiting for approval.
    List {
        #[arg(long, short, default_value = "config/gateway.toml")]
        config: PathBuf,
        /// Print a JSON array (id, server, tool, arguments, requested_at, expires_at, ...).
        #[arg(long)]
        json: bool,
    },
    /// Approve one held call (and, if widened, later identical ones).
    Approve {
        /// The approval request id (from `approvals list`).
        id: String,
        #[arg(long, short, default_value = "config/gateway.toml")]
        config: PathBuf,
        /// once, session (later identical calls in that session) or a duration like 15m.
        #[arg(long, default_value = "once")]
        scope: String,
        /// Widen a session or time scope to any arguments the rule allows.
        #[arg(long)]
        any_args: bool,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Deny one held call; the client is told who denied it and why.
    Deny {
        id: String,
        #[arg(long, short, default_value = "config/gateway.toml")]
        config: PathBuf,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the hash chain of an audit file, and of the chain files other
    /// processes on the same config wrote beside it (audit.2.jsonl, ...);
    /// exits 1 if any is broken, naming its first broken line.
    Verify {
        /// The audit file (JSON lines), as `[audit] path` names it.
        file: PathBuf,
    },
}

fn main() -> ExitCode {
    // A usage error exits 3 like every other one (clap's own code is 2,
    // which `explain` uses for "approve").
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(3);
        }
    };
    // Logs go to stderr: on the stdio front, stdout belongs to the protocol.
    // Colour only on a terminal: Claude Desktop writes the stdio front's
    // stderr to a log file, where escapes are noise (https://no-color.org).
    use std::io::IsTerminal;
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,upstream_stderr=info".into()),
        )
        .init();
    match cli.command {
        Command::Check { config } => check(&config),
        Command::Audit { command: AuditCommand::Verify { file } } => verify(&file),
        Command::Explain {
            config,
            tool,
            resource,
            resource_template,
            prompt,
            server,
            args,
            input_schema,
            json,
            result,
        } => {
            let target = match (tool, resource, resource_template, prompt) {
                (Some(tool), ..) => Target::Tool { name: tool, args, input_schema, result },
                (_, Some(uri), ..) => Target::Resource(uri),
                (_, _, Some(template), _) => Target::Template(template),
                (.., Some(prompt)) => Target::Prompt(prompt),
                _ => unreachable!("clap requires one of --tool, --resource, --resource-template, --prompt"),
            };
            explain(&config, server.as_deref(), target, json)
        }
        Command::Approvals { command } => approvals(command),
        Command::Pin { config, server, diff, accept } => {
            use mcp_warden::integrity::command::{pin, PinAction};
            let action = match (&accept, diff) {
                (Some(tool), _) => PinAction::Accept(tool),
                (None, true) => PinAction::Diff,
                (None, false) => PinAction::Pin,
            };
            ExitCode::from(pin(&config, server.as_deref(), action))
        }
        Command::Scan { file, config, json } => {
            use std::io::IsTerminal;
            let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
            ExitCode::from(mcp_warden::integrity::command::scan(file.as_deref(), config.as_deref(), json, color))
        }
        Command::Serve { config } => run(&config, Front::Http),
        Command::Stdio { config } => run(&config, Front::Stdio),
    }
}

fn check(path: &std::path::Path) -> ExitCode {
    let config = match GatewayConfig::load(path) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let policy = match Policy::load(&config.policies) {
        Ok(policy) => policy,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    // An upstream that reads relative paths against another directory than
    // the rules join them to fails the check, as it would fail the start.
    let findings = mcp_warden::config::relative_path_findings(&config, &policy);
    if mcp_warden::config::relative_path_errors(&findings).is_some() {
        for finding in findings.iter().filter(|f| f.severity == Severity::Error) {
            eprintln!("error: relative paths: {}", finding.message);
        }
        return ExitCode::FAILURE;
    }
    // A lock file that does not parse stops start-up: the check says so too.
    let servers: Vec<String> = config.upstreams.iter().map(|u| u.name.clone()).collect();
    if let Err(e) = mcp_warden::integrity::Integrity::load(&config.pins, &config.inspection, &servers) {
        eprintln!("error: pins: {e}");
        return ExitCode::FAILURE;
    }
    println!(
        "ok: {} upstream(s), {} rule(s) in {} policy file(s), mode {:?}, policy version {}",
        config.upstreams.len(),
        policy.rule_count(),
        config.policies.len(),
        policy.mode(),
        &policy.version()[..12]
    );
    let served = mcp_warden::approval::served_channels(&config);
    for warning in mcp_warden::approval::channel_warnings(&policy, &served) {
        println!("warning: {warning}");
    }
    for finding in &findings {
        match finding.severity {
            Severity::Agreed => println!("relative paths: {}", finding.message),
            Severity::Warning => println!("warning: relative paths: {}", finding.message),
            Severity::Error => {}
        }
    }
    ExitCode::SUCCESS
}

/// What `explain` is asked about.
enum Target {
    Tool { name: String, args: String, input_schema: Option<String>, result: Option<String> },
    Resource(String),
    Template(String),
    Prompt(String),
}

fn explain(path: &std::path::Path, server: Option<&str>, target: Target, json: bool) -> ExitCode {
    const USAGE_ERROR: u8 = 3;
    let usage_error = |e: String| {
        eprintln!("error: {e}");
        ExitCode::from(USAGE_ERROR)
    };
    let loaded = GatewayConfig::load(path)
        .map_err(|e| e.to_string())
        .and_then(|config| Policy::load(&config.policies).map(|p| (config, p)).map_err(|e| e.to_string()));
    let (config, policy) = match loaded {
        Ok(loaded) => loaded,
        Err(e) => return usage_error(e),
    };
    let parse = |what: &str, text: &str| -> Result<serde_json::Value, String> {
        let text = match text.strip_prefix('@') {
            Some(file) => std::fs::read_to_string(file).map_err(|e| format!("{what}: {file}: {e}"))?,
            None => text.to_string(),
        };
        serde_json::from_str(&text).map_err(|e| format!("{what} is not JSON: {e}"))
    };
    use mcp_warden::policy::Access;
    let explained = match &target {
        Target::Tool { name, args, input_schema, .. } => {
            let arguments = match parse("--args", args) {
                Ok(arguments) => arguments,
                Err(e) => return usage_error(e),
            };
            let schema = match input_schema.as_deref().map(|s| parse("--input-schema", s)).transpose() {
                Ok(schema) => schema,
                Err(e) => return usage_error(e),
            };
            // With --server the tool has its own name; explain resolves the name /mcp exposes.
            let exposed = match server {
                None => name.clone(),
                Some(server) => match config.upstreams.iter().find(|u| u.name == server) {
                    Some(upstream) => format!("{}{}{name}", upstream.prefix(), config.relay.separator),
                    None => return usage_error(format!("no upstream named {server:?} in the configuration")),
                },
            };
            Ok(mcp_warden::explain::explain(&config, &policy, &exposed, Some(&arguments), schema.as_ref()))
        }
        Target::Resource(uri) => mcp_warden::explain::explain_access(&config, &policy, server, Access::Resource(uri)),
        Target::Template(template) => {
            mcp_warden::explain::explain_access(&config, &policy, server, Access::ResourceTemplate(template))
        }
        Target::Prompt(name) => mcp_warden::explain::explain_access(&config, &policy, server, Access::Prompt(name)),
    };
    let mut explanation = match explained {
        Ok(explanation) => explanation,
        Err(e) => return usage_error(e),
    };
    if let Target::Tool { result: Some(result), .. } = &target {
        match parse("--result", result) {
            Ok(result) => mcp_warden::explain::explain_result(&config, &policy, &mut explanation, result),
            Err(e) => return usage_error(e),
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&explanation).expect("an explanation serializes"));
    } else {
        print!("{explanation}");
    }
    match explanation.decision.verdict {
        mcp_warden::policy::Verdict::Allow => ExitCode::SUCCESS,
        mcp_warden::policy::Verdict::Deny => ExitCode::from(1),
        mcp_warden::policy::Verdict::Approve => ExitCode::from(2),
    }
}

/// Verifies `file` and every numbered chain file beside it: each process
/// on one config writes a chain of its own, and a check that skipped one
/// would pass over its records unseen.
fn verify(file: &std::path::Path) -> ExitCode {
    let mut files = vec![file.to_path_buf()];
    match mcp_warden::audit::chain_files(file) {
        Ok(found) => files.extend(found.into_iter().filter(|f| f != file)),
        Err(e) => {
            eprintln!("{}: cannot look for the chain files of other processes beside it: {e}", file.display());
            return ExitCode::FAILURE;
        }
    }
    let several = files.len() > 1;
    let mut code = ExitCode::SUCCESS;
    for file in &files {
        match mcp_warden::audit::verify(file) {
            Ok(report) if several => println!("{}: ok: {} record(s), chain intact", file.display(), report.records),
            Ok(report) => println!("ok: {} record(s), chain intact", report.records),
            Err(e) => {
                eprintln!("{}: {e}", file.display());
                code = ExitCode::FAILURE;
            }
        }
    }
    code
}

fn approvals(command: ApprovalsCommand) -> ExitCode {
    use mcp_warden::admin::client::{cli_approver, summary_line, AdminClient};
    let path = match &command {
        ApprovalsCommand::List { config, .. }
        | ApprovalsCommand::Approve { config, .. }
        | ApprovalsCommand::Deny { config, .. } => config.clone(),
    };
    let client = match GatewayConfig::load(&path)
        .map_err(|e| e.to_string())
        .and_then(|c| AdminClient::new(&c).map_err(|e| e.to_string()))
    {
        Ok(client) => client,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(3);
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a Tokio runtime");
    let result = runtime.block_on(async {
        match &command {
            ApprovalsCommand::List { json, .. } => {
                let list = client.pending().await?;
                if *json {
                    println!("{}", serde_json::to_string_pretty(&list).expect("JSON serializes"));
                } else {
                    let items = list.as_array().cloned().unwrap_or_default();
                    if items.is_empty() {
                        println!("no calls are waiting for approval");
                    }
                    for item in &items {
                        println!("{}", summary_line(item));
                    }
                }
                Ok(())
            }
            ApprovalsCommand::Approve { id, scope, any_args, reason, .. } => {
                let answer = client.approve(id, scope, *any_args, reason, &cli_approver()).await?;
                println!("approved {id} (scope {})", answer["scope"].as_str().unwrap_or(scope));
                Ok(())
            }
            ApprovalsCommand::Deny { id, reason, .. } => {
                client.deny(id, reason, &cli_approver()).await?;
                println!("denied {id}");
                Ok(())
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let e: mcp_warden::admin::client::ClientError = e;
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
