//! The webhook approval channel end to end: a real client's call is held,
//! the gateway POSTs it to a real receiver (an HTTP server in this test, on
//! 127.0.0.1) which checks the signature the way a receiver must, and the
//! signed approve and deny links, followed over HTTP (and in a browser),
//! release the call once or deny it. The demo upstream records what it is
//! asked to send, so each test proves whether the call arrived, and how often.
//!
//! The browser test needs `chromium` and `scripts/install-test-peers.sh`,
//! like tests/approval_console.rs; without them it fails, it never skips.

mod common;

use axum::http::{HeaderMap, StatusCode};
use common::approval::*;
use common::browser::run_browser_script;
use common::client::{connect, text_of};
use hmac::{Hmac, Mac};
use mcp_warden::approval::webhook::{LinkAction, WebhookKeys};
use rmcp::model::CallToolResult;
use rmcp::ServiceError;
use serde_json::{json, Value};
use sha2::Sha256;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Nothing listens on port 1 (tcpmux) on a test machine: connections are
/// refused at once. A port picked as free could be taken by a test running
/// alongside, whose server would then receive these deliveries.
const CLOSED_PORT_URL: &str = "http://127.0.0.1:1/hook";
const SECRET: &str = "test-webhook-secret-0123456789abcdef";
/// A secret-looking argument value: pages and payloads must show it masked.
const API_KEY: &str = "sk-live-4f9a8b7c6d5e4f3a2b1c";

static POLICY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| mail_policy("approval = [\"webhook\"]\n"));

/// One POST the receiver got.
#[derive(Clone)]
struct Delivery {
    path: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

/// A webhook receiver: records every request and answers each with the next
/// scripted status (200 once the script runs out).
struct Receiver {
    url: String,
    deliveries: Arc<Mutex<Vec<Delivery>>>,
    _server: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start(script: &[u16]) -> Receiver {
        let deliveries: Arc<Mutex<Vec<Delivery>>> = Arc::default();
        let script = Arc::new(Mutex::new(script.iter().copied().collect::<VecDeque<u16>>()));
        let app = axum::Router::new().fallback({
            let deliveries = deliveries.clone();
            move |uri: axum::http::Uri, headers: HeaderMap, body: axum::body::Bytes| {
                let deliveries = deliveries.clone();
                let script = script.clone();
                async move {
                    deliveries.lock().unwrap().push(Delivery {
                        path: uri.path().to_string(),
                        headers,
                        body: body.to_vec(),
                    });
                    let status = script.lock().unwrap().pop_front().unwrap_or(200);
                    let status = StatusCode::from_u16(status).unwrap();
                    (status, [(axum::http::header::LOCATION, "/elsewhere")], "")
                }
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver { url, deliveries, _server: server }
    }

    fn deliveries(&self) -> Vec<Delivery> {
        self.deliveries.lock().unwrap().clone()
    }

    /// Waits until `n` requests have arrived.
    async fn wait(&self, n: usize) -> Vec<Delivery> {
        for _ in 0..200 {
            let got = self.deliveries();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("expected {n} webhook deliveries, got {}", self.deliveries().len());
    }
}

fn webhook_section(url: &str, admin: &str, extra: &str) -> String {
    format!("[approval.webhook]\nurl = \"{url}\"\nsecret = \"{SECRET}\"\ncallback_url = \"{admin}\"\ntimeout = \"2s\"\n{extra}")
}

async fn start(policy: &str, receiver_url: &str) -> AdminGateway {
    AdminGateway::start_with_admin(policy, |admin| webhook_section(receiver_url, admin, "")).await
}

/// What a receiver must do before trusting a delivery: recompute the
/// signature over "{timestamp}.{body}" with the shared secret (compared in
/// constant time) and refuse stale timestamps. Returns the payload.
fn verify_delivery(delivery: &Delivery) -> Result<Value, String> {
    let header = |name: &str| delivery.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if header("content-type") != "application/json" {
        return Err(format!("content-type {:?}", header("content-type")));
    }
    let timestamp: u64 = header("x-warden-timestamp").parse().map_err(|_| "no timestamp".to_string())?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    if now.abs_diff(timestamp) > 300 {
        return Err(format!("stale timestamp {timestamp}"));
    }
    let signature = header("x-warden-signature").strip_prefix("v1=").ok_or("no v1 signature")?;
    let signature = hex::decode(signature).map_err(|e| e.to_string())?;
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(&delivery.body);
    mac.verify_slice(&signature).map_err(|_| "signature mismatch".to_string())?;
    serde_json::from_slice(&delivery.body).map_err(|e| e.to_string())
}

fn held_args() -> Value {
    json!({"to": "bob@example.com", "body": API_KEY})
}

/// The admin listener's base URL, as the gateway was told it.
fn admin_base(s: &AdminGateway) -> String {
    s.console.trim_end_matches("/admin").to_string()
}

/// Holds one call and returns its verified announcement.
async fn held_and_announced(
    s: &AdminGateway,
    receiver: &Receiver,
    client: &common::client::Client,
) -> (tokio::task::JoinHandle<Result<CallToolResult, ServiceError>>, Value) {
    let call = send_in_background(client, held_args());
    let delivery = receiver.wait(1).await.remove(0);
    let payload = verify_delivery(&delivery).expect("the delivery is signed with the shared secret");
    assert_eq!(s.wait_pending(1).await[0]["id"], payload["request"]["id"]);
    (call, payload)
}

fn link(payload: &Value, field: &str) -> String {
    payload[field].as_str().unwrap_or_else(|| panic!("no {field} in {payload}")).to_string()
}

#[tokio::test]
async fn call_approved_through_the_signed_link_arrives_exactly_once() {
    let receiver = Receiver::start(&[]).await;
    let s = start(&POLICY, &receiver.url).await;
    let client = connect(&s.gw.url).await;
    let (call, payload) = held_and_announced(&s, &receiver, &client).await;

    let delivery = receiver.deliveries().remove(0);
    assert_eq!(delivery.path, "/hook");
    let mut forged = delivery.clone();
    forged.body = String::from_utf8(forged.body).unwrap().replace("bob@example.com", "eve@example.com").into_bytes();
    assert_eq!(verify_delivery(&forged).unwrap_err(), "signature mismatch", "the signature covers the body");
    let mut replayed = delivery.clone();
    replayed.headers.insert("x-warden-timestamp", "1700000000".parse().unwrap());
    assert!(verify_delivery(&replayed).is_err(), "the signature covers the timestamp");

    assert_eq!(payload["event"], "approval.requested");
    let request = &payload["request"];
    assert_eq!((&request["server"], &request["tool"]), (&json!("demo"), &json!("send_message")));
    assert_eq!(request["rule"], "mail-needs-approval");
    assert_eq!(request["arguments"], json!({"to": "bob@example.com", "body": "***"}), "masked before it leaves");
    assert!(!String::from_utf8_lossy(&delivery.body).contains(API_KEY));
    assert_eq!(request["channels"], json!(["webhook"]));
    // The session id is the client's handle on the gateway: only its keyed
    // digest leaves it, the one the admin API and the audit log show too.
    let session = s.pending().await[0]["session"].as_str().unwrap().to_string();
    assert!(session.starts_with("hmac-sha256:") && session.len() == "hmac-sha256:".len() + 32, "{session}");
    assert_eq!(request["session"], session);
    assert_eq!(s.audit_for("send_message")[0]["session"], session);
    assert_eq!(payload["expires_at"], request["expires_at"]);
    let id = request["id"].as_str().unwrap();
    let approve_url = link(&payload, "approve_url");
    assert!(
        approve_url.starts_with(&format!("{}/admin/webhook/{id}/approve?expires=", admin_base(&s))),
        "{approve_url}"
    );
    assert_eq!(sent(&client).await, "", "nothing arrives while the call is held");

    // The link is the credential: no admin token is sent.
    let answer = s
        .http
        .post(&approve_url)
        .json(&json!({"approver": "dana", "reason": "ticket OPS-12", "scope": "once"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let answered: Value = answer.json().await.unwrap();
    assert_eq!(
        answered,
        json!({"id": id, "status": "approved", "approver": "dana", "scope": "once", "any_args": false})
    );

    let result = tokio::time::timeout(Duration::from_secs(20), call).await.unwrap().unwrap();
    assert_eq!(text_of(&result.expect("the approved call succeeds")), "sent to bob@example.com");
    assert_eq!(sent(&client).await, format!("to=bob@example.com cc= body={API_KEY}"), "arrived exactly once");
    let records = s.audit_for("send_message");
    let outcomes: Vec<&str> = records.iter().map(|r| r["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["pending", "approved"]);
    let approval = &records[1]["approval"];
    assert_eq!((&approval["request"], &approval["channel"]), (&json!(id), &json!("webhook")));
    assert_eq!((&approval["approver"], &approval["reason"]), (&json!("dana"), &json!("ticket OPS-12")));
    assert_eq!(approval["scope"], "once");

    // Single use: the link, and its deny twin, now find nothing to answer.
    assert_eq!(s.http.post(&approve_url).json(&json!({})).send().await.unwrap().status(), 404);
    assert_eq!(s.http.post(link(&payload, "deny_url")).json(&json!({})).send().await.unwrap().status(), 404);
    assert_eq!(s.http.get(&approve_url).send().await.unwrap().status(), 404);
    assert_eq!(sent(&client).await, format!("to=bob@example.com cc= body={API_KEY}"));

    // The receiver then hears how it ended, signed the same way, without links.
    let deliveries = receiver.wait(2).await;
    assert_eq!(deliveries.len(), 2, "one announcement and one ending per held call");
    let ended = verify_delivery(&deliveries[1]).expect("the ending is signed too");
    assert_eq!(ended["event"], "approval.resolved");
    assert_eq!(ended["request"]["id"], id);
    assert_eq!(ended["request"]["session"], request["session"]);
    assert_eq!(
        (&ended["status"], &ended["channel"], &ended["approver"]),
        (&json!("approved"), &json!("webhook"), &json!("dana"))
    );
    assert_eq!((&ended["reason"], &ended["scope"]), (&json!("ticket OPS-12"), &json!("once")));
    assert!(ended.get("approve_url").is_none() && !String::from_utf8_lossy(&deliveries[1].body).contains("sig="));
}

/// The receiver's deliveries of one kind of event ("approval.requested", "approval.resolved").
fn events(receiver: &Receiver, event: &str) -> Vec<Value> {
    let payloads = receiver.deliveries().iter().map(|d| verify_delivery(d).expect("signed")).collect::<Vec<_>>();
    payloads.into_iter().filter(|p| p["event"] == event).collect()
}

/// Waits until the receiver has heard `n` endings.
async fn wait_endings(receiver: &Receiver, n: usize) -> Vec<Value> {
    for _ in 0..200 {
        let got = events(receiver, "approval.resolved");
        if got.len() >= n {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("expected {n} approval.resolved deliveries");
}

#[tokio::test]
async fn the_receiver_hears_when_a_call_is_answered_elsewhere_or_times_out() {
    let receiver = Receiver::start(&[]).await;
    let policy = POLICY
        .replace("approval = [\"webhook\"]", "approval = [\"webhook\", \"api\"]")
        .replace("approval_timeout = \"30s\"", "approval_timeout = \"1s\"");
    let s = start(&policy, &receiver.url).await;
    let client = connect(&s.gw.url).await;

    let (call, payload) = held_and_announced(&s, &receiver, &client).await;
    let id = payload["request"]["id"].as_str().unwrap();
    assert_eq!(s.answer(id, "deny", json!({"approver": "carol", "reason": "not today"})).await.status(), 200);
    assert!(call.await.unwrap().is_err());
    let ended = wait_endings(&receiver, 1).await.remove(0);
    assert_eq!((&ended["request"]["id"], &ended["status"]), (&json!(id), &json!("denied")));
    assert_eq!(
        (&ended["channel"], &ended["approver"], &ended["reason"]),
        (&json!("api"), &json!("carol"), &json!("not today"))
    );

    // Nobody answers the next one: the receiver hears that it timed out.
    let error = rpc_error(send_in_background(&client, held_args()).await.unwrap());
    assert_eq!(error.code.0 as i64, mcp_warden::errors::code::APPROVAL_TIMEOUT);
    let ended = wait_endings(&receiver, 2).await.remove(1);
    assert_eq!(
        (&ended["status"], &ended["channel"], &ended["approver"]),
        (&json!("timeout"), &Value::Null, &json!("mcp-warden"))
    );
    assert_eq!(events(&receiver, "approval.requested").len(), 2);
    assert_eq!(sent(&client).await, "");
}

#[tokio::test]
async fn call_denied_through_the_signed_link_never_arrives() {
    let receiver = Receiver::start(&[]).await;
    let s = start(&POLICY, &receiver.url).await;
    let client = connect(&s.gw.url).await;
    let (call, payload) = held_and_announced(&s, &receiver, &client).await;

    let answer = s
        .http
        .post(link(&payload, "deny_url"))
        .json(&json!({"approver": "carol", "reason": "no keys by mail"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.json::<Value>().await.unwrap()["status"], "denied");

    let error = rpc_error(tokio::time::timeout(Duration::from_secs(20), call).await.unwrap().unwrap());
    assert_eq!(error.code.0 as i64, mcp_warden::errors::code::APPROVAL_DENIED);
    assert!(error.message.contains("carol") && error.message.contains("no keys by mail"), "{}", error.message);
    assert_eq!(sent(&client).await, "");
    let last = s.audit_for("send_message").pop().unwrap();
    assert_eq!(last["outcome"], "denied");
    assert_eq!((&last["approval"]["channel"], &last["approval"]["approver"]), (&json!("webhook"), &json!("carol")));
    assert_eq!(last["approval"]["reason"], "no keys by mail");
    assert_eq!(s.http.post(link(&payload, "approve_url")).send().await.unwrap().status(), 404, "denied stays denied");
}

#[tokio::test]
async fn tampered_swapped_or_expired_links_are_refused_and_the_call_stays_held() {
    let receiver = Receiver::start(&[]).await;
    let s = start(&POLICY, &receiver.url).await;
    let client = connect(&s.gw.url).await;
    let (call, payload) = held_and_announced(&s, &receiver, &client).await;
    let id = payload["request"]["id"].as_str().unwrap().to_string();
    let approve_url = link(&payload, "approve_url");
    let deny_url = link(&payload, "deny_url");
    let (approve_path, approve_query) = approve_url.split_once('?').unwrap();
    let (deny_path, deny_query) = deny_url.split_once('?').unwrap();
    let expires: u64 = approve_query.split('&').find_map(|p| p.strip_prefix("expires=")).unwrap().parse().unwrap();
    let sig = approve_query.split('&').find_map(|p| p.strip_prefix("sig=")).unwrap();
    let flipped = format!("{}{}", &sig[..63], if sig.ends_with('0') { "1" } else { "0" });
    // Right key, right id and action, but an expiry already past.
    let keys = WebhookKeys::new(SECRET);
    let expired = keys.link(&admin_base(&s), &id, LinkAction::Approve, expires - 3600);
    assert_eq!(s.http.post(&expired).send().await.unwrap().status(), 403);
    // A genuine link for a request that is not waiting finds nothing: 404.
    let other_request = keys.link(&admin_base(&s), "apr_000000000000000000000000", LinkAction::Approve, expires);
    assert_eq!(s.http.post(&other_request).send().await.unwrap().status(), 404);

    let refused = [
        format!("{approve_path}?expires={expires}&sig={flipped}"),
        format!("{deny_path}?{approve_query}"),
        format!("{approve_path}?{deny_query}"),
        format!("{approve_path}?expires={}&sig={sig}", expires + 1),
        format!("{approve_path}?expires=soon&sig={sig}"),
        format!("{approve_path}?expires=&sig={sig}"),
        format!("{approve_path}?sig={sig}"),
        format!("{approve_path}?expires={expires}"),
        format!("{approve_path}?expires={expires}&sig={sig}&sig={flipped}"),
        approve_path.to_string(),
        approve_path.replace("/approve", "/release") + "?" + approve_query,
        approve_path.replace(&id, &format!("{id}x")) + "?" + approve_query,
        expired.clone(),
    ];
    for url in &refused {
        let get = s.http.get(url).send().await.unwrap();
        assert_eq!(get.status(), 403, "GET {url}");
        let page = get.text().await.unwrap();
        assert!(!page.contains("send_message") && !page.contains("bob@") && !page.contains(&id), "{page}");
        let post = s.http.post(url).json(&json!({"reason": "forged"})).send().await.unwrap();
        assert_eq!(post.status(), 403, "POST {url}");
        let body = post.text().await.unwrap();
        assert!(!body.contains("send_message") && !body.contains("bob@"), "{body}");
        let form = s
            .http
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("reason=forged")
            .send()
            .await
            .unwrap();
        assert_eq!(form.status(), 403, "form POST {url}");
    }
    // The admin token does not stand in for a signature, and the admin API
    // cannot answer for a webhook-only rule, nor claim to be the webhook.
    let with_token =
        s.http.post(format!("{approve_path}?expires={expires}&sig={flipped}")).bearer_auth(TOKEN).send().await;
    assert_eq!(with_token.unwrap().status(), 403);
    assert_eq!(s.answer(&id, "approve", json!({})).await.status(), 403);
    assert_eq!(s.answer(&id, "approve", json!({"channel": "webhook"})).await.status(), 400);

    assert_eq!(s.wait_pending(1).await[0]["id"], id.as_str(), "still held");
    assert_eq!(sent(&client).await, "");

    // A well-signed link with an invalid body is refused without answering.
    let bad = s.http.post(&approve_url).json(&json!({"scope": "forever"})).send().await.unwrap();
    assert_eq!(bad.status(), 400);
    let bad = s.http.post(&approve_url).header("content-type", "text/plain").body("yes").send().await.unwrap();
    assert_eq!(bad.status(), 400);
    let huge = json!({"reason": "x".repeat(100 * 1024)});
    assert_eq!(s.http.post(&approve_url).json(&huge).send().await.unwrap().status(), 413, "64 KiB cap");
    assert_eq!(s.wait_pending(1).await[0]["id"], id.as_str(), "still held");

    // The genuine link, as a form post, still works; then it is spent.
    let form = s
        .http
        .post(&approve_url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("approver=erin&reason=checked&scope=once")
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 200);
    assert!(form.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(form.text().await.unwrap().contains("Approved"));
    tokio::time::timeout(Duration::from_secs(20), call).await.unwrap().unwrap().expect("approved");
    assert_eq!(sent(&client).await, format!("to=bob@example.com cc= body={API_KEY}"), "arrived exactly once");
    assert_eq!(s.http.post(&approve_url).send().await.unwrap().status(), 404);
    let form_again = s
        .http
        .post(&approve_url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("reason=again")
        .send()
        .await
        .unwrap();
    assert_eq!(form_again.status(), 404);
    assert_eq!(sent(&client).await, format!("to=bob@example.com cc= body={API_KEY}"));
}

#[tokio::test]
async fn following_a_link_with_get_shows_the_call_and_changes_nothing() {
    let receiver = Receiver::start(&[]).await;
    let s = start(&POLICY, &receiver.url).await;
    let client = connect(&s.gw.url).await;
    let (call, payload) = held_and_announced(&s, &receiver, &client).await;
    let id = payload["request"]["id"].as_str().unwrap().to_string();

    for (field, button) in [("approve_url", "Approve"), ("deny_url", "Deny")] {
        // Link previews and mail scanners fetch links, some more than once.
        for _ in 0..2 {
            let page = s.http.get(link(&payload, field)).send().await.unwrap();
            assert_eq!(page.status(), 200);
            let headers = page.headers().clone();
            assert!(headers["content-type"].to_str().unwrap().starts_with("text/html"));
            let csp = headers["content-security-policy"].to_str().unwrap();
            assert!(csp.contains("default-src 'none'") && csp.contains("form-action 'self'"), "{csp}");
            assert!(csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe"), "{csp}");
            assert_eq!(headers["referrer-policy"], "no-referrer", "the signed URL must not leak as a Referer");
            assert_eq!(headers["cache-control"], "no-store");
            let html = page.text().await.unwrap();
            assert!(html.contains("<dd id=\"server\">demo</dd>") && html.contains("<dd id=\"tool\">send_message</dd>"));
            assert!(html.contains("mail-needs-approval") && html.contains("warden-test-client"), "{html}");
            assert!(html.contains("&quot;to&quot;: &quot;bob@example.com&quot;"), "pretty-printed and escaped: {html}");
            assert!(html.contains("&quot;body&quot;: &quot;***&quot;") && !html.contains(API_KEY), "{html}");
            assert!(html.contains("<form method=\"post\">") && html.contains(&format!(">{button}</button>")));
            assert!(!html.contains("<script"), "{html}");
        }
        let head = s.http.head(link(&payload, field)).send().await.unwrap();
        assert_eq!(head.status(), 200);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(s.wait_pending(1).await[0]["id"], id.as_str(), "still held after every GET");
    assert!(!call.is_finished());
    assert_eq!(sent(&client).await, "");
    let outcomes: Vec<Value> = s.audit_for("send_message").iter().map(|r| r["outcome"].clone()).collect();
    assert_eq!(outcomes, [json!("pending")]);
    call.abort();
}

#[tokio::test]
async fn an_unreachable_webhook_denies_a_webhook_only_call_at_once() {
    let closed = CLOSED_PORT_URL;
    let s = start(&POLICY, closed).await;
    let client = connect(&s.gw.url).await;
    let started = Instant::now();
    let result = tokio::time::timeout(Duration::from_secs(20), send_in_background(&client, held_args())).await;
    let error = rpc_error(result.expect("denied well before the 30s approval timeout").unwrap());
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    assert_eq!(error.code.0 as i64, mcp_warden::errors::code::APPROVAL_DENIED);
    assert!(error.message.contains("approval webhook could not be delivered"), "{}", error.message);
    assert!(error.message.contains("3 attempts") && !error.message.contains(closed), "{}", error.message);
    assert_eq!(sent(&client).await, "");
    assert!(s.pending().await.is_empty());
    let last = s.audit_for("send_message").pop().unwrap();
    assert_eq!(last["outcome"], "denied");
    assert_eq!(last["approval"]["approver"], "mcp-warden");
    assert!(last["approval"]["reason"].as_str().unwrap().contains("webhook"), "{last}");
}

#[tokio::test]
async fn an_unreachable_webhook_leaves_the_rules_other_channels_waiting() {
    let closed = CLOSED_PORT_URL;
    let policy = POLICY.replace("approval = [\"webhook\"]", "approval = [\"webhook\", \"api\"]");
    let s = start(&policy, closed).await;
    let client = connect(&s.gw.url).await;
    let call = send_in_background(&client, held_args());
    let id = s.wait_pending(1).await[0]["id"].as_str().unwrap().to_string();
    // Three attempts with 200ms and 400ms pauses are over well within this.
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert_eq!(s.wait_pending(1).await[0]["id"], id.as_str(), "still held for the API");
    assert!(!call.is_finished());

    let answer = s.answer(&id, "approve", json!({"approver": "alice", "reason": "webhook is down"})).await;
    assert_eq!(answer.status(), 200);
    let result = tokio::time::timeout(Duration::from_secs(20), call).await.unwrap().unwrap();
    assert_eq!(text_of(&result.expect("approved")), "sent to bob@example.com");
    assert_eq!(sent(&client).await, format!("to=bob@example.com cc= body={API_KEY}"), "arrived exactly once");
    let last = s.audit_for("send_message").pop().unwrap();
    assert_eq!((&last["approval"]["channel"], &last["approval"]["approver"]), (&json!("api"), &json!("alice")));
}

#[tokio::test]
async fn failed_deliveries_are_retried_and_redirects_are_not_followed() {
    // A redirect, then a server error, then success: the third attempt lands.
    let receiver = Receiver::start(&[307, 503]).await;
    let s = start(&POLICY, &receiver.url).await;
    let client = connect(&s.gw.url).await;
    let call = send_in_background(&client, held_args());
    let deliveries = receiver.wait(3).await;
    assert!(deliveries.iter().all(|d| d.path == "/hook"), "the redirect to /elsewhere was not followed");
    let payloads: Vec<Value> = deliveries.iter().map(|d| verify_delivery(d).expect("each attempt is signed")).collect();
    assert!(payloads.windows(2).all(|w| w[0] == w[1]), "every attempt carries the same announcement");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.deliveries().len(), 3, "no attempts after a delivery succeeded");
    assert_eq!(s.wait_pending(1).await[0]["id"], payloads[0]["request"]["id"], "a late delivery still holds the call");

    let answer = s.http.post(link(&payloads[2], "approve_url")).json(&json!({"reason": "third time lucky"})).send();
    assert_eq!(answer.await.unwrap().status(), 200);
    tokio::time::timeout(Duration::from_secs(20), call).await.unwrap().unwrap().expect("approved");
    assert_eq!(sent(&client).await, format!("to=bob@example.com cc= body={API_KEY}"));
    assert_eq!(s.audit_for("send_message").pop().unwrap()["approval"]["approver"], "webhook", "the default approver");
}

#[tokio::test]
async fn a_receiver_that_keeps_failing_gets_the_webhook_only_call_denied() {
    let receiver = Receiver::start(&[500, 302, 500, 500]).await;
    let s =
        AdminGateway::start_with_admin(&POLICY, |admin| webhook_section(&receiver.url, admin, "attempts = 3\n")).await;
    let client = connect(&s.gw.url).await;
    let error = rpc_error(
        tokio::time::timeout(Duration::from_secs(20), send_in_background(&client, held_args())).await.unwrap().unwrap(),
    );
    assert!(error.message.contains("approval webhook could not be delivered"), "{}", error.message);
    assert!(error.message.contains("HTTP 500"), "names the last failure: {}", error.message);
    assert_eq!(events(&receiver, "approval.requested").len(), 3, "exactly `attempts` tries");
    assert!(receiver.deliveries().iter().all(|d| d.path == "/hook"));
    assert_eq!(sent(&client).await, "");
}

#[tokio::test]
async fn call_approved_from_the_link_page_in_a_browser_arrives_exactly_once() {
    let receiver = Receiver::start(&[]).await;
    let s = start(&POLICY, &receiver.url).await;
    let client = connect(&s.gw.url).await;
    let (call, payload) = held_and_announced(&s, &receiver, &client).await;
    let id = payload["request"]["id"].as_str().unwrap().to_string();

    let approve_url = link(&payload, "approve_url");
    let mut env = vec![
        ("EXPECT_TEXT", "bob@example.com"),
        ("FORBID_TEXT", API_KEY),
        ("APPROVER", "frank"),
        ("REASON", "read it in the chat"),
    ];
    let screenshot = std::env::var("WEBHOOK_SCREENSHOT").unwrap_or_default();
    if !screenshot.is_empty() {
        env.push(("SCREENSHOT", &screenshot));
    }
    run_browser_script("webhook.mjs", &[&approve_url], &env).await;

    let result = tokio::time::timeout(Duration::from_secs(20), call).await.unwrap().unwrap();
    assert_eq!(text_of(&result.expect("the approved call succeeds")), "sent to bob@example.com");
    assert_eq!(sent(&client).await, format!("to=bob@example.com cc= body={API_KEY}"), "arrived exactly once");
    let last = s.audit_for("send_message").pop().unwrap();
    assert_eq!(last["outcome"], "approved");
    assert_eq!(last["approval"]["request"], id.as_str());
    assert_eq!((&last["approval"]["channel"], &last["approval"]["approver"]), (&json!("webhook"), &json!("frank")));
    assert_eq!(
        (&last["approval"]["reason"], &last["approval"]["scope"]),
        (&json!("read it in the chat"), &json!("once"))
    );
}
