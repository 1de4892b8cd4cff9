//! Streamable HTTP spoken by hand: what a client sends on the wire, for
//! tests that need headers, bodies or timing an SDK would not produce, and
//! a reader for the SSE answers and GET streams that come back.

use reqwest::{Body, RequestBuilder, Response};
use serde_json::{json, Value};
use std::time::Duration;

/// The protocol version a raw session asks for unless a test names another.
pub const LATEST: &str = "2025-11-25";
/// What a client that takes either kind of answer sends.
pub const SSE_OR_JSON: &str = "application/json, text/event-stream";
/// What a client that cannot read SSE sends.
pub const JSON_ONLY: &str = "application/json";
/// A test SSE buffer never needs more than this; more is a server that
/// never ends its event.
const MAX_SSE_BUFFER: usize = 1 << 20;

/// An `initialize` request with no capabilities.
pub fn initialize(protocol_version: &str) -> Value {
    json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{
        "protocolVersion":protocol_version,"capabilities":{},"clientInfo":{"name":"raw","version":"0"}}})
}

/// A POST of `body` as JSON, in `session` if given, accepting `accept`;
/// the caller may add headers before sending.
pub fn request(
    http: &reqwest::Client,
    url: &str,
    session: Option<&str>,
    accept: &str,
    body: impl Into<Body>,
) -> RequestBuilder {
    let request = http.post(url).header("content-type", "application/json").header("accept", accept).body(body);
    match session {
        Some(session) => request.header("mcp-session-id", session),
        None => request,
    }
}

/// A POST as a client that takes SSE or JSON sends it.
pub async fn post(http: &reqwest::Client, url: &str, session: Option<&str>, body: impl Into<Body>) -> Response {
    request(http, url, session, SSE_OR_JSON, body).send().await.unwrap()
}

/// The JSON-RPC messages of an SSE or JSON answer.
pub async fn messages(response: Response) -> Vec<Value> {
    let is_sse = response.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream");
    if !is_sse {
        return vec![response.json().await.unwrap()];
    }
    let (messages, end) = Sse::new(response).rest().await;
    if let SseNext::Broken(e) = end {
        panic!("the SSE answer broke off: {e}");
    }
    messages
}

/// One MCP session, initialized as a client would: `initialize`, then
/// `notifications/initialized`.
pub struct RawSession {
    pub http: reqwest::Client,
    pub url: String,
    /// The `mcp-session-id` the gateway gave it.
    pub id: String,
    /// The gateway's answer to `initialize`.
    pub init_answer: Value,
}

impl RawSession {
    pub async fn open(url: &str) -> RawSession {
        RawSession::open_with(url, &initialize(LATEST)).await
    }

    /// As `open`, with this `initialize` request (another version, capabilities).
    pub async fn open_with(url: &str, init: &Value) -> RawSession {
        let http = reqwest::Client::new();
        let answer = post(&http, url, None, init.to_string()).await;
        assert_eq!(answer.status(), 200, "initialize is answered");
        let id = answer.headers()["mcp-session-id"].to_str().unwrap().to_string();
        let init_answer = messages(answer).await.pop().expect("an answer to initialize");
        let session = RawSession { http, url: url.to_string(), id, init_answer };
        let note = json!({"jsonrpc":"2.0","method":"notifications/initialized"});
        assert_eq!(session.post(note.to_string()).await.status(), 202, "notifications/initialized is accepted");
        session
    }

    /// A POST in this session accepting `accept`, to send when the test wants.
    pub fn request(&self, accept: &str, body: impl Into<Body>) -> RequestBuilder {
        request(&self.http, &self.url, Some(&self.id), accept, body)
    }

    /// A POST in this session, as a client that takes SSE or JSON sends it.
    pub async fn post(&self, body: impl Into<Body>) -> Response {
        post(&self.http, &self.url, Some(&self.id), body).await
    }

    /// The answer to `body` sent as a client that cannot read SSE sends it.
    pub async fn json_answer(&self, body: &Value) -> Value {
        self.request(JSON_ONLY, body.to_string()).send().await.unwrap().json().await.unwrap()
    }

    /// Opens the session's GET stream; it stays open until the server ends it.
    pub async fn get_stream(&self) -> Sse {
        let response = self
            .http
            .get(&self.url)
            .header("accept", "text/event-stream")
            .header("mcp-session-id", &self.id)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "the GET stream opens");
        Sse::new(response)
    }

    pub async fn delete(&self) -> Response {
        self.http.delete(&self.url).header("mcp-session-id", &self.id).send().await.unwrap()
    }
}

/// Reads an SSE response one message at a time, as the events arrive.
pub struct Sse {
    response: Response,
    buffer: String,
    /// The id of the last event read, as a client keeps it for `Last-Event-ID`.
    pub last_event_id: Option<String>,
}

pub enum SseNext {
    Message(Value),
    /// The server ended the stream cleanly.
    End,
    /// The connection broke mid-stream.
    Broken(String),
}

impl Sse {
    pub fn new(response: Response) -> Sse {
        Sse { response, buffer: String::new(), last_event_id: None }
    }

    pub async fn next(&mut self) -> SseNext {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let event: String = self.buffer.drain(..end + 2).collect();
                if let Some(id) = event.lines().find_map(|l| l.strip_prefix("id:")) {
                    self.last_event_id = Some(id.trim().to_string());
                }
                let data: Vec<&str> = event.lines().filter_map(|l| l.strip_prefix("data:")).map(str::trim).collect();
                // An event with no data only primes `Last-Event-ID`.
                if data.iter().any(|d| !d.is_empty()) {
                    return SseNext::Message(serde_json::from_str(&data.join("\n")).expect("SSE data is JSON"));
                }
                continue;
            }
            match self.response.chunk().await {
                Ok(Some(chunk)) => {
                    self.buffer.push_str(&String::from_utf8_lossy(&chunk));
                    assert!(self.buffer.len() < MAX_SSE_BUFFER, "an SSE event without end");
                }
                Ok(None) => return SseNext::End,
                Err(e) => return SseNext::Broken(e.to_string()),
            }
        }
    }

    /// The next message, waiting up to 30 s; panics if the stream ends first.
    pub async fn message(&mut self) -> Value {
        match tokio::time::timeout(Duration::from_secs(30), self.next()).await.expect("a message within 30 s") {
            SseNext::Message(msg) => msg,
            SseNext::End => panic!("the stream ended before the next message"),
            SseNext::Broken(e) => panic!("the stream broke before the next message: {e}"),
        }
    }

    /// Everything left on the stream, and how it ended.
    pub async fn rest(mut self) -> (Vec<Value>, SseNext) {
        let mut messages = Vec::new();
        loop {
            match self.next().await {
                SseNext::Message(msg) => messages.push(msg),
                end => return (messages, end),
            }
        }
    }
}

/// A session on `mcp-warden stdio`, spoken to in raw JSON lines, as Claude
/// Desktop's launch does: initialized when returned.
pub struct RawStdio {
    pub child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    stdout: tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
    /// The gateway's stderr, line by line.
    pub log: super::binary::Log,
}

impl RawStdio {
    pub async fn start(config: &std::path::Path) -> RawStdio {
        use tokio::io::AsyncBufReadExt;
        let mut child = super::binary::warden_command("stdio", config)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let log = super::binary::Log::default();
        log.follow(child.stderr.take().unwrap());
        let stdin = child.stdin.take().unwrap();
        let stdout = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let mut stdio = RawStdio { child, stdin, stdout, log };
        stdio.send(initialize(LATEST)).await;
        assert!(stdio.read().await.expect("an answer to initialize")["result"].is_object());
        stdio.send(json!({"jsonrpc":"2.0","method":"notifications/initialized"})).await;
        stdio
    }

    pub async fn send(&mut self, msg: Value) {
        use tokio::io::AsyncWriteExt;
        self.stdin.write_all(format!("{msg}\n").as_bytes()).await.unwrap();
        self.stdin.flush().await.unwrap();
    }

    /// The next message on stdout, or `None` once stdout is closed.
    pub async fn read(&mut self) -> Option<Value> {
        let line =
            tokio::time::timeout(std::time::Duration::from_secs(30), self.stdout.next_line()).await.expect("stdout");
        line.unwrap().map(|l| serde_json::from_str(&l).expect("stdout carries JSON lines"))
    }

    /// Sends a request and returns the answer to it, skipping what comes before.
    pub async fn request(&mut self, msg: Value) -> Value {
        let id = msg["id"].clone();
        self.send(msg).await;
        loop {
            let answer = self.read().await.expect("an answer before stdout closed");
            if answer.get("method").is_none() && answer["id"] == id {
                return answer;
            }
        }
    }
}
