//! The demo upstream: a small "workspace" MCP server that mcp-warden protects
//! out of the box and that integration tests and benchmarks drive.
//!
//! It deliberately mixes harmless tools (`read_file`, `echo`) with dangerous
//! ones (`write_file`, `run_command`, `send_message`) so a policy has something
//! to allow, deny and send for approval, and it has tools that exercise the
//! awkward corners of the protocol a relay must get right: a server-to-client
//! request (`confirm_action`), progress notifications (`slow_count`),
//! `tools/list_changed` (`enable_extra_tool`), a child that dies mid-call
//! (`crash`), one that hangs (`sleep`) and one that reveals its environment
//! (`get_env`).
//!
//! ```text
//! demo_upstream [--http 127.0.0.1:PORT] [--root DIR] [--name NAME]
//! ```
//! Without `--http` it speaks newline-delimited JSON-RPC on stdin/stdout and
//! logs only to stderr (stdout belongs to the protocol). With `--http` it serves
//! Streamable HTTP at `/mcp` and prints `listening on http://ADDR/mcp` to stderr
//! once bound, with the real port when asked for port 0, so tests can parse it.

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    path::{Component, Path, PathBuf},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use rmcp::{
    handler::server::{
        router::tool::ToolRouter,
        tool::{InputResponses, ToolCallContext},
        wrapper::Parameters,
    },
    model::{
        CallToolRequestParams, CallToolResponse, CallToolResult, ClientResult, ContentBlock, ElicitRequest,
        ElicitRequestParams, ElicitResult, ElicitationAction, ElicitationSchema, GetPromptRequestParams,
        GetPromptResponse, GetPromptResult, Implementation, InputRequest, InputRequiredResult, ListPromptsResult,
        ListResourcesResult, ListToolsResult, PaginatedRequestParams, ProgressNotificationParam, Prompt,
        PromptArgument, PromptMessage, ProtocolVersion, ReadResourceRequestParams, ReadResourceResponse,
        ReadResourceResult, Resource, ResourceContents, Role, ServerCapabilities, ServerConfig, ServerRequest, Tool,
    },
    schemars::JsonSchema,
    service::RequestContext,
    tool, tool_router,
    transport::{
        stdio, streamable_http_server::session::local::LocalSessionManager, StreamableHttpServerConfig,
        StreamableHttpService,
    },
    ErrorData, RoleServer, ServerHandler, ServiceExt,
};
use serde::Deserialize;

/// Hidden from `tools/list` until `enable_extra_tool` runs.
const EXTRA_TOOL: &str = "extra_tool";
const README_URI: &str = "workspace://readme";
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);
/// Key of the one input request `confirm_action` sends on the stateless
/// (2026-07-28) protocol; the client echoes it back in `inputResponses`.
const CONFIRM_INPUT_KEY: &str = "confirm";

// ---------------------------------------------------------------------------
// Tool arguments. Doc comments become the JSON Schema descriptions clients see.
// ---------------------------------------------------------------------------

#[derive(Debug, Deserialize, JsonSchema)]
struct PathArgs {
    /// Path relative to the workspace root (absolute paths must lie inside it).
    path: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
struct WriteFileArgs {
    /// Path relative to the workspace root; parent directories are created.
    path: String,
    /// The complete new content of the file (UTF-8 text).
    content: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
struct RunCommandArgs {
    /// A shell command line, run with `sh -c` in the workspace root.
    command: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
struct SendMessageArgs {
    /// Recipient address.
    to: String,
    /// Message body.
    body: String,
    /// Optional carbon-copy recipients.
    #[serde(default)]
    cc: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
struct EchoArgs {
    /// The text to return unchanged.
    text: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
struct ConfirmActionArgs {
    /// What the user is asked to confirm, shown in the elicitation message.
    action: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
struct SlowCountArgs {
    /// How many steps to count (one progress notification per step).
    steps: u32,
    /// Delay before each step, in milliseconds.
    delay_ms: u64,
}

#[derive(Debug, Deserialize, JsonSchema)]
struct SleepArgs {
    /// How long to sleep before answering, in milliseconds.
    ms: u64,
}

#[derive(Debug, Deserialize, JsonSchema)]
struct GetEnvArgs {
    /// Name of the environment variable to read.
    name: String,
}

// ---------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------

/// A message `send_message` pretended to send; kept so tests can prove that a
/// call the gateway blocked never arrived.
#[derive(Debug, Clone)]
struct SentMessage {
    to: String,
    cc: Vec<String>,
    body: String,
}

/// State shared by every session of this process. Over HTTP each session gets
/// its own `Workspace`, but a gateway may list tools on one session and call
/// them on another, so the extra tool's visibility is process-wide.
#[derive(Debug)]
struct SharedState {
    root: PathBuf,
    name: String,
    extra_tool_enabled: AtomicBool,
    sent: Mutex<Vec<SentMessage>>,
}

#[derive(Debug, Clone)]
struct Workspace {
    shared: Arc<SharedState>,
    tool_router: ToolRouter<Self>,
}

#[tool_router]
impl Workspace {
    fn new(shared: Arc<SharedState>) -> Self {
        Self { shared, tool_router: Self::tool_router() }
    }

    #[tool(
        description = "Read a UTF-8 text file inside the workspace root and return its content.",
        annotations(title = "Read file", read_only_hint = true, open_world_hint = false)
    )]
    async fn read_file(&self, Parameters(args): Parameters<PathArgs>) -> Result<String, String> {
        let path = resolve_within(&self.shared.root, &args.path)?;
        tokio::fs::read_to_string(&path).await.map_err(|e| format!("cannot read {}: {e}", args.path))
    }

    #[tool(
        description = "List a directory inside the workspace root, one entry per line; directories end with '/'.",
        annotations(title = "List directory", read_only_hint = true, open_world_hint = false)
    )]
    async fn list_directory(&self, Parameters(args): Parameters<PathArgs>) -> Result<String, String> {
        let path = resolve_within(&self.shared.root, &args.path)?;
        let mut entries = tokio::fs::read_dir(&path).await.map_err(|e| format!("cannot list {}: {e}", args.path))?;
        let mut names = Vec::new();
        while let Some(entry) = entries.next_entry().await.map_err(|e| e.to_string())? {
            let mut name = entry.file_name().to_string_lossy().into_owned();
            if entry.file_type().await.is_ok_and(|t| t.is_dir()) {
                name.push('/');
            }
            names.push(name);
        }
        names.sort();
        Ok(names.join("\n"))
    }

    #[tool(
        description = "Create or overwrite a text file inside the workspace root.",
        annotations(
            title = "Write file",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn write_file(&self, Parameters(args): Parameters<WriteFileArgs>) -> Result<String, String> {
        let path = resolve_within(&self.shared.root, &args.path)?;
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| format!("cannot create parent of {}: {e}", args.path))?;
        }
        tokio::fs::write(&path, args.content.as_bytes())
            .await
            .map_err(|e| format!("cannot write {}: {e}", args.path))?;
        Ok(format!("wrote {} bytes to {}", args.content.len(), args.path))
    }

    #[tool(
        description = "Run a shell command (sh -c) in the workspace root with a 10 second timeout; returns exit code, stdout and stderr.",
        annotations(
            title = "Run command",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn run_command(&self, Parameters(args): Parameters<RunCommandArgs>) -> Result<String, String> {
        let child = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(&args.command)
            .current_dir(&self.shared.root)
            .stdin(std::process::Stdio::null())
            // Without this a timed-out command would outlive the call.
            .kill_on_drop(true)
            .output();
        let output = match tokio::time::timeout(COMMAND_TIMEOUT, child).await {
            Err(_) => return Err(format!("timed out after {}s", COMMAND_TIMEOUT.as_secs())),
            Ok(Err(e)) => return Err(format!("cannot start sh: {e}")),
            Ok(Ok(output)) => output,
        };
        let code = output.status.code().map_or_else(|| "killed by signal".to_string(), |c| c.to_string());
        let report = format!(
            "exit code: {code}\nstdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        if output.status.success() {
            Ok(report)
        } else {
            Err(report)
        }
    }

    #[tool(
        description = "Send a message to a recipient (the demo only records it in memory).",
        annotations(
            title = "Send message",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn send_message(&self, Parameters(args): Parameters<SendMessageArgs>) -> String {
        let cc = args.cc.unwrap_or_default();
        let reply = if cc.is_empty() {
            format!("sent to {}", args.to)
        } else {
            format!("sent to {} (cc {})", args.to, cc.join(", "))
        };
        let message = SentMessage { to: args.to, cc, body: args.body };
        eprintln!("[{}] send_message {message:?}", self.shared.name);
        lock(&self.shared.sent).push(message);
        reply
    }

    #[tool(
        description = "List the messages send_message has recorded in this process, oldest first.",
        annotations(title = "List sent messages", read_only_hint = true, open_world_hint = false)
    )]
    async fn list_sent_messages(&self) -> String {
        lock(&self.shared.sent)
            .iter()
            .map(|m| format!("to={} cc={} body={}", m.to, m.cc.join(","), m.body))
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[tool(
        description = "Return the given text unchanged.",
        annotations(title = "Echo", read_only_hint = true, idempotent_hint = true, open_world_hint = false)
    )]
    async fn echo(&self, Parameters(args): Parameters<EchoArgs>) -> String {
        args.text
    }

    #[tool(
        description = "Ask the user to confirm an action through an elicitation form; returns 'confirmed: <action>', 'declined' or 'cancelled'.",
        annotations(title = "Confirm action", read_only_hint = true, open_world_hint = false)
    )]
    async fn confirm_action(
        &self,
        Parameters(args): Parameters<ConfirmActionArgs>,
        InputResponses(responses): InputResponses,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let request = ElicitRequestParams::FormElicitationParams {
            meta: None,
            message: format!("Confirm: {}?", args.action),
            requested_schema: confirm_schema(),
        };
        // The 2026-07-28 protocol forbids server-to-client requests: the tool
        // answers "input required" and the client retries with the answer.
        let stateless = context.protocol_version().is_some_and(|v| v >= ProtocolVersion::V_2026_07_28);
        let answer = if stateless {
            match responses.and_then(|mut r| r.remove(CONFIRM_INPUT_KEY)) {
                Some(value) => serde_json::from_value::<ElicitResult>(value)
                    .map_err(|e| ErrorData::invalid_params(format!("bad elicitation response: {e}"), None))?,
                None => {
                    let requests = BTreeMap::from([(
                        CONFIRM_INPUT_KEY.to_string(),
                        InputRequest::Elicitation(ElicitRequest::new(request)),
                    )]);
                    return Ok(InputRequiredResult::from_input_requests(requests).into());
                }
            }
        } else {
            let declared = context.peer.peer_info().is_some_and(|info| info.capabilities.elicitation.is_some());
            if !declared {
                return Ok(CallToolResult::error(vec![ContentBlock::text(
                    "the client did not declare the elicitation capability",
                )])
                .into());
            }
            // rmcp's `Peer::create_elicitation` needs the `elicitation` feature;
            // the generic request works with the features this repo enables.
            let request = ServerRequest::ElicitRequest(ElicitRequest::new(request));
            match context.peer.send_request(request).await {
                Ok(ClientResult::ElicitResult(result)) => result,
                Ok(other) => {
                    return Err(ErrorData::internal_error(
                        format!("unexpected answer to elicitation/create: {other:?}"),
                        None,
                    ));
                }
                Err(e) => {
                    return Ok(
                        CallToolResult::error(vec![ContentBlock::text(format!("elicitation failed: {e}"))]).into()
                    );
                }
            }
        };
        Ok(CallToolResult::success(vec![ContentBlock::text(describe_answer(&args.action, &answer))]).into())
    }

    #[tool(
        description = "Count to `steps`, waiting `delay_ms` before each step and reporting progress when the request carries a progress token; returns 'counted N'.",
        annotations(title = "Slow count", read_only_hint = true, open_world_hint = false)
    )]
    async fn slow_count(
        &self,
        Parameters(args): Parameters<SlowCountArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<String, String> {
        let token = context.meta.get_progress_token();
        for step in 1..=args.steps {
            tokio::time::sleep(Duration::from_millis(args.delay_ms)).await;
            if let Some(token) = &token {
                let progress = ProgressNotificationParam::new(token.clone(), f64::from(step))
                    .with_total(f64::from(args.steps))
                    .with_message(format!("step {step} of {}", args.steps));
                context.peer.notify_progress(progress).await.map_err(|e| format!("cannot send progress: {e}"))?;
            }
        }
        Ok(format!("counted {}", args.steps))
    }

    #[tool(
        description = "Reveal the hidden 'extra_tool' and notify the client with notifications/tools/list_changed.",
        annotations(
            title = "Enable extra tool",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn enable_extra_tool(&self, context: RequestContext<RoleServer>) -> Result<String, String> {
        self.shared.extra_tool_enabled.store(true, Ordering::SeqCst);
        context.peer.notify_tool_list_changed().await.map_err(|e| format!("enabled, but cannot notify: {e}"))?;
        Ok(format!("{EXTRA_TOOL} enabled"))
    }

    #[tool(
        description = "A tool that only appears after enable_extra_tool; returns 'extra tool called'.",
        annotations(title = "Extra tool", read_only_hint = true, open_world_hint = false)
    )]
    async fn extra_tool(&self) -> String {
        "extra tool called".to_string()
    }

    #[tool(
        description = "Exit the server process immediately with status 3, without answering (simulates a crashing upstream).",
        annotations(title = "Crash", read_only_hint = false, destructive_hint = true, open_world_hint = false)
    )]
    async fn crash(&self) -> String {
        eprintln!("[{}] crash requested: exiting with status 3", self.shared.name);
        std::process::exit(3)
    }

    #[tool(
        description = "Sleep for `ms` milliseconds, then return 'slept N ms' (simulates a slow or hanging upstream).",
        annotations(title = "Sleep", read_only_hint = true, open_world_hint = false)
    )]
    async fn sleep(&self, Parameters(args): Parameters<SleepArgs>) -> String {
        tokio::time::sleep(Duration::from_millis(args.ms)).await;
        format!("slept {} ms", args.ms)
    }

    #[tool(
        description = "Return the value of an environment variable of the server process, or '<unset>'.",
        annotations(title = "Get environment variable", read_only_hint = true, open_world_hint = false)
    )]
    async fn get_env(&self, Parameters(args): Parameters<GetEnvArgs>) -> String {
        std::env::var(&args.name).unwrap_or_else(|_| "<unset>".to_string())
    }
}

impl Workspace {
    fn tool_visible(&self, name: &str) -> bool {
        name != EXTRA_TOOL || self.shared.extra_tool_enabled.load(Ordering::SeqCst)
    }
}

impl ServerHandler for Workspace {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_tool_list_changed()
                .enable_resources()
                .enable_prompts()
                .enable_completions()
                .build(),
        )
        .with_server_info(Implementation::new(self.shared.name.clone(), env!("CARGO_PKG_VERSION")))
        .with_instructions(
            "Demo workspace for mcp-warden: files under the root, a shell, a fake mailer \
             and tools that exercise elicitation, progress and list_changed.",
        )
    }

    // `#[tool_handler]` would list every route; the extra tool must stay hidden
    // (from listing and from calls) until it is enabled, so these three are
    // written by hand.
    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let tools = self.tool_router.list_all().into_iter().filter(|tool| self.tool_visible(&tool.name)).collect();
        Ok(ListToolsResult::with_all_items(tools))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        if !self.tool_visible(&request.name) {
            return Err(ErrorData::invalid_params(format!("tool not found: {}", request.name), None));
        }
        let call = ToolCallContext::new(self, request, context);
        self.tool_router.call(call).await
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        if !self.tool_visible(name) {
            return None;
        }
        self.tool_router.get(name).cloned()
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let readme = Resource::new(README_URI, "readme")
            .with_description("What this demo workspace is for")
            .with_mime_type("text/plain");
        Ok(ListResourcesResult::with_all_items(vec![readme]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        if request.uri != README_URI {
            return Err(ErrorData::resource_not_found(format!("no such resource: {}", request.uri), None));
        }
        let text = format!(
            "This is the '{}' demo workspace served from {}.\n\
             Reading is harmless; writing, running commands and sending messages are not.\n",
            self.shared.name,
            self.shared.root.display()
        );
        let contents = ResourceContents::text(text, README_URI).with_mime_type("text/plain");
        Ok(ReadResourceResult::new(vec![contents]).into())
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        let topic = PromptArgument::new("topic").with_description("What to summarize").with_required(true);
        let prompt =
            Prompt::new("summarize", Some("Ask the assistant for a short summary of a topic"), Some(vec![topic]));
        Ok(ListPromptsResult::with_all_items(vec![prompt]))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        if request.name != "summarize" {
            return Err(ErrorData::invalid_params(format!("no such prompt: {}", request.name), None));
        }
        let topic = request
            .arguments
            .as_ref()
            .and_then(|args| args.get("topic"))
            .and_then(|topic| topic.as_str())
            .ok_or_else(|| ErrorData::invalid_params("missing argument: topic", None))?;
        let message = PromptMessage::new_text(Role::User, format!("Summarize {topic} in three sentences."));
        Ok(GetPromptResult::new(vec![message]).with_description(format!("Summary of {topic}")).into())
    }
}

/// The form `confirm_action` asks the client to fill in: one required boolean.
fn confirm_schema() -> ElicitationSchema {
    ElicitationSchema::builder()
        .required_bool_with("confirm", |b| b.title("Confirm").description("Allow the action to proceed"))
        .build_unchecked()
}

fn describe_answer(action: &str, answer: &ElicitResult) -> String {
    match answer.action {
        ElicitationAction::Accept => {
            let confirmed =
                answer.content.as_ref().and_then(|c| c.get("confirm")).and_then(|v| v.as_bool()).unwrap_or(false);
            if confirmed {
                format!("confirmed: {action}")
            } else {
                "declined".to_string()
            }
        }
        ElicitationAction::Decline => "declined".to_string(),
        _ => "cancelled".to_string(),
    }
}

/// Maps a client-supplied path onto the workspace root, refusing anything that
/// would land outside it, whether through `..` or through a symlink.
fn resolve_within(root: &Path, requested: &str) -> Result<PathBuf, String> {
    let requested = Path::new(requested);
    let joined = if requested.is_absolute() { requested.to_path_buf() } else { root.join(requested) };
    // Lexical pass first: the target of write_file may not exist yet, so it
    // cannot simply be canonicalized.
    let mut normalized = PathBuf::new();
    for component in joined.components() {
        match component {
            Component::ParentDir => {
                normalized.pop();
            }
            Component::CurDir => {}
            other => normalized.push(other),
        }
    }
    let escapes = || format!("{} is outside the workspace root", requested.display());
    if !normalized.starts_with(root) {
        return Err(escapes());
    }
    // Then resolve symlinks on the longest part that exists. A dangling
    // symlink exists too (`exists()` would follow it and say no): it is where
    // a write would land, so it is canonicalized, and refused if it cannot be.
    let mut existing = normalized.as_path();
    while existing.symlink_metadata().is_err() {
        existing = existing.parent().ok_or_else(escapes)?;
    }
    let real = existing.canonicalize().map_err(|_| escapes())?;
    if !real.starts_with(root) {
        return Err(escapes());
    }
    Ok(normalized)
}

/// A poisoned lock only means another tool call panicked; the list is still valid.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

// ---------------------------------------------------------------------------
// CLI and transports
// ---------------------------------------------------------------------------

struct Options {
    http: Option<SocketAddr>,
    root: PathBuf,
    name: String,
}

fn parse_options() -> anyhow::Result<Options> {
    const USAGE: &str = "usage: demo_upstream [--http 127.0.0.1:PORT] [--root DIR] [--name NAME]";
    let mut http = None;
    let mut root = None;
    let mut name = "demo-workspace".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| anyhow::anyhow!("{flag} needs a value\n{USAGE}"));
        match flag.as_str() {
            "--http" => http = Some(value()?.parse()?),
            "--root" => root = Some(PathBuf::from(value()?)),
            "--name" => name = value()?,
            "-h" | "--help" => {
                eprintln!("{USAGE}");
                std::process::exit(0);
            }
            other => anyhow::bail!("unknown argument {other}\n{USAGE}"),
        }
    }
    let root = match root {
        Some(root) => root,
        None => std::env::current_dir()?,
    };
    // Canonical so that the containment checks compare like with like.
    let root = root.canonicalize().map_err(|e| anyhow::anyhow!("--root {}: {e}", root.display()))?;
    Ok(Options { http, root, name })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = parse_options()?;
    let shared = Arc::new(SharedState {
        root: options.root,
        name: options.name,
        extra_tool_enabled: AtomicBool::new(false),
        sent: Mutex::new(Vec::new()),
    });
    match options.http {
        None => serve_stdio(shared).await,
        Some(addr) => serve_http(shared, addr).await,
    }
}

async fn serve_stdio(shared: Arc<SharedState>) -> anyhow::Result<()> {
    eprintln!("[{}] serving MCP over stdio, root {}", shared.name, shared.root.display());
    let running = Workspace::new(shared).serve(stdio()).await?;
    running.waiting().await?;
    Ok(())
}

async fn serve_http(shared: Arc<SharedState>, addr: SocketAddr) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    // rmcp checks Host against a loopback allowlist (DNS-rebinding defence);
    // also accept the address we were told to bind, so `--http 0.0.0.0:…` or a
    // LAN address still answers when addressed directly.
    let config = StreamableHttpServerConfig::default().with_allowed_hosts([
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
        bound.ip().to_string(),
    ]);
    let service = StreamableHttpService::new(
        move || Ok(Workspace::new(shared.clone())),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    let app = axum::Router::new().nest_service("/mcp", service);
    // Tests parse this exact line to learn the port.
    eprintln!("listening on http://{bound}/mcp");
    // No graceful shutdown: an open SSE stream would keep it waiting, and a
    // demo that dies on SIGINT/SIGTERM is what tests expect.
    // Without TCP_NODELAY every SSE answer waits on a delayed ACK (~40 ms).
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app).await?;
    Ok(())
}
