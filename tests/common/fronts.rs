//! One call, sent the three ways a client reaches the gateway: the
//! aggregated endpoint (`/mcp`, tools named `<server>__<tool>`), the
//! single-server endpoint (`/mcp/<server>`, original names), and the stdio
//! front (`mcp-warden stdio`, a child process, as Claude Desktop runs it,
//! aggregated like `/mcp`: resource URIs `mcp-warden://<server>/<uri>`).
//! A check is only as good as its weakest front, so attack tests run on all three.

use super::client::{call, connect_as, connect_stdio_as, Client, TestClient};
use super::{start_gateway_with_relay, TestGateway, DEFAULT_RELAY};
use rmcp::model::CallToolResult;
use rmcp::ServiceError;
use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Front {
    Aggregate,
    Single,
    Stdio,
}

pub const ALL_FRONTS: [Front; 3] = [Front::Aggregate, Front::Single, Front::Stdio];

/// A gateway with one server of interest, and a client on each front.
pub struct ThreeFronts {
    pub gw: TestGateway,
    pub server: String,
    aggregate: Client,
    single: Client,
    stdio: Client,
}

impl ThreeFronts {
    /// `upstreams` as in `start_gateway`; `server` names the upstream the
    /// tests call.
    pub async fn start(upstreams: &str, policy: &str, server: &str) -> ThreeFronts {
        ThreeFronts::start_as(upstreams, policy, server, TestClient::default()).await
    }

    /// As `start`, each front's client a clone of `client` (its declared
    /// capabilities, its answers to forms).
    pub async fn start_as(upstreams: &str, policy: &str, server: &str, client: TestClient) -> ThreeFronts {
        ThreeFronts::start_with(upstreams, policy, server, DEFAULT_RELAY, client).await
    }

    /// As `start`, with these `[relay]` settings (whole TOML lines), such as
    /// a longer `request_timeout` for upstreams that are slow to start.
    pub async fn start_with_relay(upstreams: &str, policy: &str, server: &str, relay: &str) -> ThreeFronts {
        ThreeFronts::start_with(upstreams, policy, server, relay, TestClient::default()).await
    }

    async fn start_with(upstreams: &str, policy: &str, server: &str, relay: &str, client: TestClient) -> ThreeFronts {
        let gw = start_gateway_with_relay(upstreams, policy, relay).await;
        let aggregate = connect_as(&gw.url, client.clone()).await;
        let single = connect_as(&format!("{}/{server}", gw.url), client.clone()).await;
        let stdio = connect_stdio_as(&gw.config_path, client).await;
        ThreeFronts { gw, server: server.to_string(), aggregate, single, stdio }
    }

    pub fn client(&self, front: Front) -> &Client {
        match front {
            Front::Aggregate => &self.aggregate,
            Front::Single => &self.single,
            Front::Stdio => &self.stdio,
        }
    }

    /// The name a client of `front` uses for the server's `tool`.
    pub fn tool_name(&self, front: Front, tool: &str) -> String {
        match front {
            Front::Single => tool.to_string(),
            Front::Aggregate | Front::Stdio => format!("{}__{tool}", self.server),
        }
    }

    /// The URI a client of `front` uses for the server's resource `uri`:
    /// namespaced on the aggregated fronts, as listings show it there.
    pub fn uri(&self, front: Front, uri: &str) -> String {
        match front {
            Front::Single => uri.to_string(),
            Front::Aggregate | Front::Stdio => format!("mcp-warden://{}/{uri}", self.server),
        }
    }

    /// Calls the server's `tool` through `front`.
    pub async fn call(&self, front: Front, tool: &str, args: Value) -> Result<CallToolResult, ServiceError> {
        self.client(front).call_tool(call(&self.tool_name(front, tool), args)).await
    }
}
