//! An rmcp client that records what the gateway relays to it and answers
//! elicitation requests, so tests can check both directions of the relay;
//! connected over HTTP or to `mcp-warden stdio`.

use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig, ElicitRequestParams, ElicitResult,
    ElicitationAction, Implementation, ProgressNotificationParam,
};
use rmcp::service::{NotificationContext, RequestContext, RunningService};
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{ClientHandler, ErrorData, RoleClient, ServiceError, ServiceExt};
use std::path::Path;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

#[derive(Clone)]
pub struct TestClient {
    /// Whether the client declares the elicitation capability at all.
    pub elicitation: bool,
    pub answer: ElicitationAction,
    /// What an accepted form carries (default `{"confirm": true}`).
    pub content: Option<serde_json::Value>,
    /// Never answer a form; wait until the server withdraws it.
    pub hold_forms: bool,
    /// Forms the server withdrew (notifications/cancelled) while unanswered.
    pub withdrawn: Arc<Mutex<usize>>,
    pub elicited: Arc<Mutex<Vec<String>>>,
    pub progress: Arc<Mutex<Vec<ProgressNotificationParam>>>,
    pub tools_changed: Arc<Notify>,
    /// Runs when a form arrives, before it is answered: the world changing
    /// while the person reads it.
    pub before_answer: Option<Arc<dyn Fn() + Send + Sync>>,
}

impl Default for TestClient {
    fn default() -> Self {
        TestClient {
            elicitation: true,
            answer: ElicitationAction::Accept,
            content: None,
            hold_forms: false,
            withdrawn: Arc::default(),
            elicited: Arc::default(),
            progress: Arc::default(),
            tools_changed: Arc::default(),
            before_answer: None,
        }
    }
}

impl ClientHandler for TestClient {
    fn get_info(&self) -> ClientConfig {
        let capabilities = match self.elicitation {
            true => ClientCapabilities::builder().enable_elicitation().build(),
            false => ClientCapabilities::default(),
        };
        ClientConfig::new(capabilities, Implementation::new("warden-test-client", "1.2.3"))
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        if let ElicitRequestParams::FormElicitationParams { message, .. } = &request {
            self.elicited.lock().unwrap().push(message.clone());
        }
        if let Some(change) = &self.before_answer {
            change();
        }
        if self.hold_forms {
            context.ct.cancelled().await;
            *self.withdrawn.lock().unwrap() += 1;
            return Err(ErrorData::internal_error("withdrawn", None));
        }
        let result = ElicitResult::new(self.answer.clone());
        Ok(match self.answer {
            ElicitationAction::Accept => {
                result.with_content(self.content.clone().unwrap_or_else(|| serde_json::json!({ "confirm": true })))
            }
            _ => result,
        })
    }

    async fn on_progress(&self, params: ProgressNotificationParam, _context: NotificationContext<RoleClient>) {
        self.progress.lock().unwrap().push(params);
    }

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.tools_changed.notify_one();
    }
}

pub type Client = RunningService<RoleClient, TestClient>;

pub async fn connect(url: &str) -> Client {
    connect_as(url, TestClient::default()).await
}

pub async fn connect_as(url: &str, client: TestClient) -> Client {
    client.serve(StreamableHttpClientTransport::from_uri(url.to_string())).await.expect("client connects")
}

/// `mcp-warden stdio --config <config>` as a child process, with a client
/// on its stdin and stdout.
pub async fn connect_stdio(config: &Path) -> Client {
    connect_stdio_as(config, TestClient::default()).await
}

pub async fn connect_stdio_as(config: &Path, client: TestClient) -> Client {
    let mut command = tokio::process::Command::new(super::warden_bin());
    command.args(["stdio", "--config"]).arg(config);
    client.serve(TokioChildProcess::new(command).unwrap()).await.expect("stdio handshake")
}

/// The JSON-RPC error a request was answered with; panics on any other failure.
pub fn mcp_error(err: ServiceError) -> ErrorData {
    match err {
        ServiceError::McpError(e) => e,
        other => panic!("expected a JSON-RPC error, got {other}"),
    }
}

pub fn call(name: &str, args: serde_json::Value) -> CallToolRequestParams {
    let serde_json::Value::Object(args) = args else { panic!("tool arguments must be an object") };
    CallToolRequestParams::new(name.to_string()).with_arguments(args)
}

pub fn text_of(result: &CallToolResult) -> String {
    result.content.iter().filter_map(|c| c.as_text().map(|t| t.text.clone())).collect::<Vec<_>>().join("")
}

pub async fn call_text(client: &Client, name: &str, args: serde_json::Value) -> String {
    text_of(&client.call_tool(call(name, args)).await.unwrap_or_else(|e| panic!("{name} failed: {e}")))
}

pub async fn tool_names(client: &Client) -> Vec<String> {
    let mut names: Vec<String> =
        client.list_all_tools().await.unwrap().into_iter().map(|t| t.name.to_string()).collect();
    names.sort();
    names
}
