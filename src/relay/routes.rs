//! Bookkeeping for one client session's traffic in flight: which client
//! request is waiting on which upstream request, and which server-to-client
//! request the client is answering. Pure data; the relay does the I/O.

use serde_json::Value;
use std::collections::HashMap;
use tokio::sync::{mpsc, oneshot};

use crate::jsonrpc::id_key;

/// A client request the gateway is still working on.
pub struct InFlight {
    /// Where messages about this request go (its SSE stream, or stdout).
    pub out: mpsc::Sender<Value>,
    pub progress_token: Option<Value>,
    /// Set once the request has been forwarded.
    pub upstream: Option<(usize, u64)>,
    pub cancelled: bool,
    /// Requests of the gateway's own made on behalf of this one; they end with it.
    own_requests: Vec<String>,
    seq: u64,
}

#[derive(Default)]
pub struct Routes {
    inflight: HashMap<String, InFlight>,
    /// Client-facing id of a server-to-client request -> (upstream, its id).
    server_requests: HashMap<String, (usize, Value)>,
    /// Progress tokens of server-to-client requests -> upstream.
    server_progress: HashMap<String, usize>,
    /// Requests the gateway itself sent the client (approval forms) -> who
    /// waits for the answer.
    own_requests: HashMap<String, oneshot::Sender<Value>>,
    next_server_id: u64,
    seq: u64,
}

impl Routes {
    pub fn begin(&mut self, client_id: &Value, out: mpsc::Sender<Value>, progress_token: Option<Value>) {
        self.seq += 1;
        let entry =
            InFlight { out, progress_token, upstream: None, cancelled: false, own_requests: Vec::new(), seq: self.seq };
        self.inflight.insert(id_key(client_id), entry);
    }

    pub fn forwarded(&mut self, client_id: &Value, upstream: usize, upstream_id: u64) {
        if let Some(entry) = self.inflight.get_mut(&id_key(client_id)) {
            entry.upstream = Some((upstream, upstream_id));
        }
    }

    /// Where progress about a request the gateway itself is working on
    /// goes, if the client asked for progress with a token.
    pub fn progress_target(&self, client_id: &Value) -> Option<(mpsc::Sender<Value>, Value)> {
        let entry = self.inflight.get(&id_key(client_id))?;
        Some((entry.out.clone(), entry.progress_token.clone()?))
    }

    /// The stream of a request the client is waiting on.
    pub fn stream_of(&self, client_id: &Value) -> Option<mpsc::Sender<Value>> {
        self.inflight.get(&id_key(client_id)).map(|e| e.out.clone())
    }

    /// An id for a request of the gateway's own to the client about the
    /// client's request `on_behalf_of`, from the same sequence as relayed
    /// ones so the two never collide, and the receiver its answer arrives on.
    pub fn own_request(&mut self, on_behalf_of: &Value) -> (Value, oneshot::Receiver<Value>) {
        self.next_server_id += 1;
        let client_id = Value::String(format!("warden-{}", self.next_server_id));
        let (tx, rx) = oneshot::channel();
        self.own_requests.insert(id_key(&client_id), tx);
        if let Some(entry) = self.inflight.get_mut(&id_key(on_behalf_of)) {
            entry.own_requests.push(id_key(&client_id));
        }
        (client_id, rx)
    }

    /// Who waits for the client's answer to a request of the gateway's own.
    pub fn own_answer(&mut self, client_id: &Value) -> Option<oneshot::Sender<Value>> {
        self.own_requests.remove(&id_key(client_id))
    }

    /// Whether the client sent `notifications/cancelled` for this request.
    pub fn is_cancelled(&self, client_id: &Value) -> bool {
        self.inflight.get(&id_key(client_id)).is_some_and(|e| e.cancelled)
    }

    pub fn finish(&mut self, client_id: &Value) -> Option<InFlight> {
        let entry = self.inflight.remove(&id_key(client_id))?;
        for own in &entry.own_requests {
            self.own_requests.remove(own);
        }
        if self.inflight.is_empty() {
            // An idle session keeps no table: across 10,000 idle sessions
            // the emptied tables alone would be 5 MiB.
            self.inflight.shrink_to_fit();
        }
        Some(entry)
    }

    /// Marks a request the client gave up on; returns where it was sent.
    pub fn cancel(&mut self, client_id: &Value) -> Option<(usize, u64)> {
        let entry = self.inflight.get_mut(&id_key(client_id))?;
        entry.cancelled = true;
        entry.upstream
    }

    /// Where a message from `upstream` should go: the request whose stream
    /// carried it; else the request that set its progress token; else the
    /// newest request waiting on that upstream; else nowhere in particular.
    pub fn stream_for(
        &self,
        upstream: usize,
        related: Option<u64>,
        progress_token: Option<&Value>,
    ) -> Option<mpsc::Sender<Value>> {
        let waiting = || {
            self.inflight.values().filter(move |e| e.upstream.map(|(u, _)| u) == Some(upstream) && !e.out.is_closed())
        };
        if let Some(related) = related {
            if let Some(entry) = waiting().find(|e| e.upstream == Some((upstream, related))) {
                return Some(entry.out.clone());
            }
        }
        if let Some(token) = progress_token {
            if let Some(entry) = waiting().find(|e| e.progress_token.as_ref() == Some(token)) {
                return Some(entry.out.clone());
            }
        }
        waiting().max_by_key(|e| e.seq).map(|e| e.out.clone())
    }

    /// Gives a server-to-client request an id of the gateway's own, so ids
    /// from different upstreams never collide at the client.
    pub fn server_request(&mut self, upstream: usize, upstream_id: Value, progress_token: Option<&Value>) -> Value {
        self.next_server_id += 1;
        let client_id = Value::String(format!("warden-{}", self.next_server_id));
        self.server_requests.insert(id_key(&client_id), (upstream, upstream_id));
        if let Some(token) = progress_token {
            self.server_progress.insert(id_key(token), upstream);
        }
        client_id
    }

    /// The upstream request a client's response answers.
    pub fn answer(&mut self, client_id: &Value) -> Option<(usize, Value)> {
        self.server_requests.remove(&id_key(client_id))
    }

    /// The client-facing id of a server-to-client request the upstream is
    /// cancelling.
    pub fn server_request_id(&mut self, upstream: usize, upstream_id: &Value) -> Option<Value> {
        let key = self
            .server_requests
            .iter()
            .find(|(_, (u, id))| *u == upstream && id == upstream_id)
            .map(|(key, _)| key.clone())?;
        self.server_requests.remove(&key);
        serde_json::from_str(&key).ok()
    }

    pub fn progress_upstream(&self, token: &Value) -> Option<usize> {
        self.server_progress.get(&id_key(token)).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn channel() -> (mpsc::Sender<Value>, mpsc::Receiver<Value>) {
        mpsc::channel(4)
    }

    #[test]
    fn upstream_message_goes_to_the_request_whose_stream_carried_it() {
        let mut routes = Routes::default();
        let (a, _ra) = channel();
        let (b, _rb) = channel();
        routes.begin(&json!(1), a.clone(), None);
        routes.begin(&json!(2), b.clone(), None);
        routes.forwarded(&json!(1), 0, 10);
        routes.forwarded(&json!(2), 0, 11);
        assert!(routes.stream_for(0, Some(10), None).unwrap().same_channel(&a));
        // Unrelated: the newest request waiting on that upstream.
        assert!(routes.stream_for(0, None, None).unwrap().same_channel(&b));
        // No request waits on upstream 1.
        assert!(routes.stream_for(1, None, None).is_none());
    }

    #[test]
    fn progress_follows_its_token() {
        let mut routes = Routes::default();
        let (a, _ra) = channel();
        let (b, _rb) = channel();
        routes.begin(&json!("x"), a.clone(), Some(json!("tok")));
        routes.begin(&json!("y"), b, None);
        routes.forwarded(&json!("x"), 0, 1);
        routes.forwarded(&json!("y"), 0, 2);
        assert!(routes.stream_for(0, None, Some(&json!("tok"))).unwrap().same_channel(&a));
    }

    #[test]
    fn server_requests_get_fresh_ids_and_map_back() {
        let mut routes = Routes::default();
        let first = routes.server_request(0, json!(1), None);
        let second = routes.server_request(1, json!(1), None);
        assert_ne!(first, second);
        assert_eq!(routes.answer(&second), Some((1, json!(1))));
        assert_eq!(routes.answer(&second), None, "an answer is used once");
        assert_eq!(routes.server_request_id(0, &json!(1)), Some(first));
    }

    #[test]
    fn the_gateways_own_requests_never_share_ids_with_relayed_ones() {
        let mut routes = Routes::default();
        let relayed = routes.server_request(0, json!(1), None);
        let (own, mut rx) = routes.own_request(&json!(7));
        assert_ne!(relayed, own);
        assert!(routes.answer(&own).is_none(), "an upstream never gets the gateway's answer");
        routes.own_answer(&own).unwrap().send(json!({"ok": true})).unwrap();
        assert_eq!(rx.try_recv().unwrap(), json!({"ok": true}));
        assert!(routes.own_answer(&own).is_none(), "answered once");
    }

    #[test]
    fn the_gateways_own_requests_end_with_the_call_they_serve() {
        let mut routes = Routes::default();
        let (a, _ra) = channel();
        routes.begin(&json!(7), a, None);
        let (own, _rx) = routes.own_request(&json!(7));
        routes.finish(&json!(7));
        assert!(routes.own_answer(&own).is_none(), "nothing is left behind for a reply that cannot matter");
    }

    #[test]
    fn ids_one_and_string_one_are_different_requests() {
        let mut routes = Routes::default();
        let (a, _ra) = channel();
        routes.begin(&json!(1), a, None);
        assert!(routes.finish(&json!("1")).is_none());
        assert!(routes.finish(&json!(1)).is_some());
    }
}
