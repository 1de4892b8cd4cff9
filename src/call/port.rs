//! What the pipeline needs from the client session a call arrived on: the
//! tool's advertised definition, a way to send the cleared call upstream,
//! and the call's own stream to the client (progress, the approval form).
//! The relay implements it; the pipeline's unit tests use a fake.

use crate::errors::GatewayError;
use crate::policy::InputSchema;
use serde_json::Value;
use std::future::Future;
use std::sync::{Arc, OnceLock};
use tokio::sync::{mpsc, oneshot};

/// A tool as its upstream advertised it in this session, with what the
/// pipeline checks calls against compiled once, on the first call: a
/// listing of hundreds of tools compiles nothing it does not need.
#[derive(Debug)]
pub struct Definition {
    /// The tool object exactly as listed.
    pub listed: Value,
    input_schema: OnceLock<Option<InputSchema>>,
    digest: OnceLock<String>,
}

impl Definition {
    pub fn new(listed: Value) -> Definition {
        Definition { listed, input_schema: OnceLock::new(), digest: OnceLock::new() }
    }

    /// The digest a pin binds to (`inspect::canonical`), made once.
    pub fn digest(&self) -> &str {
        self.digest.get_or_init(|| crate::inspect::canonical::definition_digest(&self.listed))
    }

    /// The tool's `inputSchema`, compiled; `None` when it has none.
    pub fn input_schema(&self) -> Option<&InputSchema> {
        self.input_schema.get_or_init(|| self.listed.get("inputSchema").map(InputSchema::compile)).as_ref()
    }
}

/// Proof that the pipeline cleared a `tools/call` for forwarding: only the
/// pipeline can make one, and the relay's upstream link sends a call only
/// with one, so no path around the decision can forward a call.
pub struct Cleared(pub(super) ());

/// The session side of the pipeline.
pub trait CallPort: Sync {
    /// The session's id, as audit records and approval bindings name it.
    fn session_id(&self) -> &str;

    /// The upstream and the tool's own name behind the name the client used.
    fn resolve(&self, exposed: &str) -> Option<(usize, String)>;

    /// The upstream's configured name.
    fn server_name(&self, upstream: usize) -> &str;

    /// The tool's definition as the upstream advertised it in this session
    /// (listing it once more if the session has not seen it), or `None`
    /// when the upstream does not advertise it.
    fn definition(
        &self,
        upstream: usize,
        tool: &str,
    ) -> impl Future<Output = Result<Option<Arc<Definition>>, GatewayError>> + Send;

    /// Sends a cleared call to the upstream and waits for its answer (the
    /// gateway-side id; the relay restores the client's).
    fn send_call(
        &self,
        cleared: Cleared,
        upstream: usize,
        call: &Value,
        msg: Value,
    ) -> impl Future<Output = Result<Value, GatewayError>> + Send;

    /// Where progress about `call` goes, if the client sent a progress token.
    fn progress_target(&self, call: &Value) -> Option<(mpsc::Sender<Value>, Value)>;

    /// Sends a request of the gateway's own to the client on `call`'s stream
    /// without waiting on a client that is not reading. Returns its id and
    /// where the client's answer arrives, or `None` when it could not be sent.
    fn ask_client(&self, call: &Value, method: &str, params: Value) -> Option<(Value, oneshot::Receiver<Value>)>;

    /// Takes back a request of the gateway's own nobody needs answered.
    fn withdraw(&self, call: &Value, request: &Value, reason: &str);

    /// Whether the client cancelled `call`.
    fn cancelled(&self, call: &Value) -> bool;

    /// What this client session has been exposed to (the trifecta guard).
    fn flow(&self) -> &std::sync::Mutex<super::flow::FlowState>;
}
