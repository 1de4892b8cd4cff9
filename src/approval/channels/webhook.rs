//! The webhook approval channel, gateway side: each held call whose rule
//! accepts `webhook` is POSTed to `[approval.webhook] url` with two signed
//! links, approve and deny, which a person (through a chat tool or a ticket
//! system) follows to answer it on the admin listener (`admin::webhook`).
//!
//! Two signatures, both HMAC-SHA256 keyed from the one configured secret:
//! - the delivery: `X-Warden-Signature: v1=<hex HMAC(secret, "{timestamp}.{body}")>`
//!   next to `X-Warden-Timestamp`, so the receiver can tell the gateway sent
//!   it and refuse replays of old deliveries;
//! - the links: `sig = hex HMAC(link_key, "{id}.{action}.{expires}")` with
//!   `link_key = HMAC(secret, LINK_KEY_LABEL)`: a key of its own, so no
//!   delivery signature can pass for a link, nor a link for a delivery.
//!
//! A link is a bearer credential: whoever holds it can give that one answer
//! to that one request until the request expires, without the admin token.
//! It is never logged; the broker's single answer per request makes it
//! single-use.
//!
//! Signing and verification are pure (the caller passes `now`) and
//! unit-tested; delivering and reporting endings are the I/O, each on tasks
//! of their own so a slow or dead receiver never stalls the broker.

use super::Announcer;
use crate::approval::store::rfc3339;
use crate::approval::{Answer, AnswerError, ApprovalBroker, ApprovalRequest, Ended};
use crate::config::WebhookConfig;
use crate::policy::ApprovalChannel;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;

type HmacSha256 = Hmac<Sha256>;

/// Derives the link key from the secret; changing it voids every link out there.
const LINK_KEY_LABEL: &[u8] = b"mcp-warden approval webhook callback link v1";
/// The first pause between delivery attempts; it doubles up to `MAX_BACKOFF`.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
pub const TIMESTAMP_HEADER: &str = "x-warden-timestamp";
pub const SIGNATURE_HEADER: &str = "x-warden-signature";
/// Who the gateway says denied a call whose only channel could not be reached.
const GATEWAY: &str = "mcp-warden";
/// Endings waiting to be reported to the receiver; beyond this they are dropped.
const ENDINGS_BUFFER: usize = 256;

/// What a link does when followed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkAction {
    Approve,
    Deny,
}

impl LinkAction {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkAction::Approve => "approve",
            LinkAction::Deny => "deny",
        }
    }

    pub fn parse(text: &str) -> Option<LinkAction> {
        match text {
            "approve" => Some(LinkAction::Approve),
            "deny" => Some(LinkAction::Deny),
            _ => None,
        }
    }
}

/// Why a link was refused. Only logs see it: the holder of a bad link learns
/// nothing about the request it names.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum LinkRefused {
    #[error("the link is malformed")]
    Malformed,
    #[error("the link's signature does not match")]
    BadSignature,
    #[error("the link has expired")]
    Expired,
}

/// The two keys derived from the configured secret.
#[derive(Clone)]
pub struct WebhookKeys {
    delivery: HmacSha256,
    link: HmacSha256,
}

impl WebhookKeys {
    pub fn new(secret: &str) -> WebhookKeys {
        let delivery = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
        let mut derive = delivery.clone();
        derive.update(LINK_KEY_LABEL);
        let link_key = derive.finalize().into_bytes();
        let link = HmacSha256::new_from_slice(&link_key).expect("HMAC takes keys of any length");
        WebhookKeys { delivery, link }
    }

    /// `X-Warden-Signature` for a delivery of `body` at `timestamp` (unix seconds).
    pub fn sign_delivery(&self, timestamp: u64, body: &[u8]) -> String {
        let mut mac = self.delivery.clone();
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1={}", hex::encode(mac.finalize().into_bytes()))
    }

    fn link_mac(&self, id: &str, action: LinkAction, expires: u64) -> HmacSha256 {
        let mut mac = self.link.clone();
        mac.update(format!("{id}.{}.{expires}", action.as_str()).as_bytes());
        mac
    }

    /// The link that gives `action` as the answer to request `id` until `expires`.
    /// `base` is `[approval.webhook] callback_url`, without a trailing '/'.
    pub fn link(&self, base: &str, id: &str, action: LinkAction, expires: u64) -> String {
        let sig = hex::encode(self.link_mac(id, action, expires).finalize().into_bytes());
        format!("{base}/admin/webhook/{id}/{}?expires={expires}&sig={sig}", action.as_str())
    }

    /// Checks a followed link's parts as they came off the URL, in constant
    /// time for the signature. `now` is unix seconds.
    pub fn verify_link(
        &self,
        id: &str,
        action: &str,
        expires: Option<&str>,
        sig: Option<&str>,
        now: u64,
    ) -> Result<LinkAction, LinkRefused> {
        let action = LinkAction::parse(action).ok_or(LinkRefused::Malformed)?;
        // Request ids are `apr_<hex>`: any other character could make two
        // different (id, action, expires) triples sign the same message.
        let id_ok = !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        let expires = expires.filter(|e| (1..=20).contains(&e.len()) && e.bytes().all(|b| b.is_ascii_digit()));
        let (Some(expires), Some(sig), true) = (expires, sig, id_ok) else {
            return Err(LinkRefused::Malformed);
        };
        let expires: u64 = expires.parse().map_err(|_| LinkRefused::Malformed)?;
        let sig = hex::decode(sig).map_err(|_| LinkRefused::Malformed)?;
        self.link_mac(id, action, expires).verify_slice(&sig).map_err(|_| LinkRefused::BadSignature)?;
        if now >= expires {
            return Err(LinkRefused::Expired);
        }
        Ok(action)
    }
}

pub fn unix_seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The JSON a receiver gets for one held call: the request as the admin API
/// shows it. Its `session` is the keyed digest the call record made of the
/// session id (the id is the client's handle on the MCP endpoint and never
/// leaves the gateway), the same the audit log and the admin API show, so a
/// receiver can group calls of one session and an operator can find them.
pub fn announcement(request: &ApprovalRequest, keys: &WebhookKeys, callback_url: &str) -> Value {
    let expires = unix_seconds(request.expires_at);
    let view = request.view();
    json!({
        "event": "approval.requested",
        "request": view,
        "approve_url": keys.link(callback_url, &request.id, LinkAction::Approve, expires),
        "deny_url": keys.link(callback_url, &request.id, LinkAction::Deny, expires),
        "expires_at": rfc3339(request.expires_at),
    })
}

/// The JSON a receiver gets when a request it was told about ends, however
/// it ended (answered here or through another channel, timed out, withdrawn),
/// so it can close the chat message or ticket it opened. Carries no links.
pub fn resolution(ended: &Ended, now: SystemTime) -> Value {
    let request = &ended.request;
    json!({
        "event": "approval.resolved",
        "request": {
            "id": request.id,
            "server": request.binding.server,
            "tool": request.binding.tool,
            "rule": request.binding.rule,
            "session": request.binding.session,
        },
        "status": ended.status,
        "approver": ended.approver,
        "reason": ended.reason,
        "scope": ended.scope,
        "any_args": ended.any_args,
        "channel": ended.channel.map(|c| c.as_str()),
        "resolved_at": rfc3339(now),
    })
}

/// The pause after failed attempt number `attempt` (1-based).
fn backoff(attempt: u32) -> Duration {
    FIRST_BACKOFF.saturating_mul(1 << attempt.saturating_sub(1).min(8)).min(MAX_BACKOFF)
}

/// The webhook as an [`Announcer`]: posts each held call to the configured
/// receiver and reports how it ended. The admin listener checks the links
/// it sent with [`WebhookNotifier::keys`].
pub struct WebhookNotifier {
    poster: Arc<Poster>,
    /// To the task that reports endings, one after another.
    endings: mpsc::Sender<Ended>,
}

/// The signed POSTs to the receiver, shared by the delivery and report tasks.
struct Poster {
    config: WebhookConfig,
    keys: WebhookKeys,
    http: reqwest::Client,
}

impl WebhookNotifier {
    /// Sets up the HTTP client and starts the task that reports endings.
    /// Must run inside a Tokio runtime.
    pub fn start(config: &WebhookConfig) -> Result<Arc<WebhookNotifier>, String> {
        let http = reqwest::Client::builder()
            // A redirect could carry the signed links somewhere nobody configured.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(config.timeout)
            .build()
            .map_err(|e| format!("cannot set up the approval webhook's HTTP client: {}", e.without_url()))?;
        let poster = Arc::new(Poster { config: config.clone(), keys: WebhookKeys::new(&config.secret), http });
        let (endings, to_report) = mpsc::channel(ENDINGS_BUFFER);
        tokio::spawn(Arc::clone(&poster).report_endings(to_report));
        Ok(Arc::new(WebhookNotifier { poster, endings }))
    }

    pub fn keys(&self) -> &WebhookKeys {
        &self.poster.keys
    }
}

impl WebhookNotifier {
    /// Posts an event that is not about a held call (`tool.drift`), signed
    /// like the others, retried with backoff; nothing waits on it, and
    /// the audit log holds the event whether or not it is delivered.
    pub fn tell(&self, event: Value) {
        let poster = Arc::clone(&self.poster);
        tokio::spawn(async move {
            let body = event.to_string();
            let name = event["event"].as_str().unwrap_or("event").to_string();
            for attempt in 1..=poster.config.attempts {
                match poster.post(&body, poster.config.timeout).await {
                    Ok(()) => return,
                    Err(e) => {
                        tracing::warn!(event = %name, attempt, "webhook delivery failed: {e}");
                        if attempt < poster.config.attempts {
                            tokio::time::sleep(backoff(attempt)).await;
                        }
                    }
                }
            }
        });
    }
}

impl Announcer for WebhookNotifier {
    fn channel(&self) -> ApprovalChannel {
        ApprovalChannel::Webhook
    }

    fn announce(&self, request: &ApprovalRequest, broker: &ApprovalBroker) {
        let (poster, broker, request) = (Arc::clone(&self.poster), broker.clone(), request.clone());
        tokio::spawn(async move { poster.deliver(&broker, &request).await });
    }

    fn ended(&self, ended: &Ended) {
        if self.endings.try_send(ended.clone()).is_err() {
            tracing::warn!("too many approval endings waiting to be reported to the webhook; one was dropped");
        }
    }
}

impl Poster {
    /// Delivers `request`, retrying with backoff, never past its expiry and
    /// never once it has been answered. If every attempt fails and the
    /// webhook was the request's only channel, denies it at once: nobody
    /// could answer, so waiting for the timeout would only keep the client hanging.
    async fn deliver(&self, broker: &ApprovalBroker, request: &ApprovalRequest) {
        let body = announcement(request, &self.keys, &self.config.callback_url).to_string();
        let mut failure = String::new();
        let mut attempt = 0;
        while attempt < self.config.attempts {
            let Some(remaining) = time_left(request) else { return };
            if !broker.is_pending(&request.id) {
                return;
            }
            attempt += 1;
            match self.post(&body, remaining.min(self.config.timeout)).await {
                Ok(()) => {
                    tracing::info!(request = %request.id, attempt, "approval webhook delivered");
                    return;
                }
                Err(e) => {
                    tracing::warn!(request = %request.id, attempt, "approval webhook delivery failed: {e}");
                    failure = e;
                }
            }
            if attempt < self.config.attempts {
                let pause = backoff(attempt);
                if time_left(request).is_none_or(|left| left <= pause) {
                    return;
                }
                tokio::time::sleep(pause).await;
            }
        }
        let reason = format!(
            "the approval webhook could not be delivered: {failure} ({attempt} attempt{})",
            if attempt == 1 { "" } else { "s" }
        );
        if request.channels != [ApprovalChannel::Webhook] {
            tracing::warn!(request = %request.id, "{reason}; the call waits for its other approval channels");
            return;
        }
        let denied = Answer::Denied { approver: GATEWAY.into(), reason: reason.clone() };
        match broker.answer(&request.id, denied, ApprovalChannel::Webhook).await {
            Ok(()) => tracing::warn!(request = %request.id, "{reason}; the call was denied"),
            // Answered, timed out or withdrawn meanwhile: that ending stands.
            Err(AnswerError::NotFound(_)) => {}
            Err(e) => tracing::error!(request = %request.id, "could not deny a call after the webhook failed: {e}"),
        }
    }

    /// Reports, one after another, how announced requests ended. A report
    /// that cannot be delivered after `attempts` is dropped: the call has
    /// already ended, and the audit log holds how. Ends with the notifier.
    async fn report_endings(self: Arc<Self>, mut endings: mpsc::Receiver<Ended>) {
        while let Some(ended) = endings.recv().await {
            let body = resolution(&ended, SystemTime::now()).to_string();
            for attempt in 1..=self.config.attempts {
                match self.post(&body, self.config.timeout).await {
                    Ok(()) => break,
                    Err(e) => {
                        tracing::warn!(request = %ended.request.id, attempt, "approval webhook: reporting the end failed: {e}");
                        if attempt < self.config.attempts {
                            tokio::time::sleep(backoff(attempt)).await;
                        }
                    }
                }
            }
        }
    }

    async fn post(&self, body: &str, timeout: Duration) -> Result<(), String> {
        let timestamp = unix_seconds(SystemTime::now());
        let mut post = self
            .http
            .post(&self.config.url)
            .timeout(timeout)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(SIGNATURE_HEADER, self.keys.sign_delivery(timestamp, body.as_bytes()));
        for (name, value) in &self.config.headers {
            post = post.header(name, value);
        }
        let response = post.body(body.to_string()).send().await.map_err(describe)?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else if status.is_redirection() {
            Err(format!("the receiver answered HTTP {status}, a redirect, which is not followed"))
        } else {
            Err(format!("the receiver answered HTTP {status}"))
        }
    }
}

/// Time left before `request` expires, if any.
fn time_left(request: &ApprovalRequest) -> Option<Duration> {
    request.expires_at.duration_since(SystemTime::now()).ok().filter(|d| !d.is_zero())
}

/// A transport failure in a sentence, without the URL (it may be a secret).
fn describe(e: reqwest::Error) -> String {
    if e.is_timeout() {
        return "no answer within the timeout".into();
    }
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::approval::fixtures;
    use sha2::Digest;

    const SECRET: &str = "whsec-0123456789abcdef0123456789abcdef";
    const NOW: u64 = 1_800_000_000;

    /// HMAC-SHA256 written out from RFC 2104, so the tests do not check the
    /// `hmac` crate against itself.
    fn rfc2104(key: &[u8], message: &[u8]) -> [u8; 32] {
        let mut block = [0u8; 64];
        if key.len() > 64 {
            block[..32].copy_from_slice(&Sha256::digest(key));
        } else {
            block[..key.len()].copy_from_slice(key);
        }
        let inner: Vec<u8> = block.iter().map(|b| b ^ 0x36).chain(message.iter().copied()).collect();
        let inner = Sha256::digest(inner);
        let outer: Vec<u8> = block.iter().map(|b| b ^ 0x5c).chain(inner.iter().copied()).collect();
        Sha256::digest(outer).into()
    }

    fn query<'a>(link: &'a str, key: &str) -> Option<&'a str> {
        let (_, query) = link.split_once('?')?;
        query.split('&').find_map(|pair| pair.strip_prefix(key)?.strip_prefix('='))
    }

    #[test]
    fn rfc2104_reference_matches_a_published_vector() {
        // RFC 4231 test case 2.
        let expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        assert_eq!(hex::encode(rfc2104(b"Jefe", b"what do ya want for nothing?")), expected);
    }

    #[test]
    fn delivery_signature_is_hmac_of_timestamp_dot_body_with_the_secret() {
        let keys = WebhookKeys::new(SECRET);
        let body = br#"{"event":"approval.requested"}"#;
        let expected = rfc2104(SECRET.as_bytes(), &[b"1800000000.".as_slice(), body].concat());
        assert_eq!(keys.sign_delivery(NOW, body), format!("v1={}", hex::encode(expected)));
        assert_ne!(keys.sign_delivery(NOW + 1, body), keys.sign_delivery(NOW, body), "the timestamp is signed");
        assert_ne!(keys.sign_delivery(NOW, b"{}"), keys.sign_delivery(NOW, body));
        assert_ne!(WebhookKeys::new(&format!("{SECRET}x")).sign_delivery(NOW, body), keys.sign_delivery(NOW, body));
    }

    #[test]
    fn a_link_verifies_for_its_own_id_action_and_expiry_only() {
        let keys = WebhookKeys::new(SECRET);
        let id = "apr_0123456789abcdef01234567";
        let link = keys.link("https://w.example:8081", id, LinkAction::Approve, NOW + 60);
        assert!(
            link.starts_with(&format!("https://w.example:8081/admin/webhook/{id}/approve?expires={}&sig=", NOW + 60))
        );
        let (expires, sig) = (query(&link, "expires"), query(&link, "sig"));
        assert_eq!(keys.verify_link(id, "approve", expires, sig, NOW), Ok(LinkAction::Approve));

        let other_id = "apr_0123456789abcdef01234568";
        assert_eq!(keys.verify_link(other_id, "approve", expires, sig, NOW), Err(LinkRefused::BadSignature));
        assert_eq!(keys.verify_link(id, "deny", expires, sig, NOW), Err(LinkRefused::BadSignature));
        let later = (NOW + 3600).to_string();
        assert_eq!(keys.verify_link(id, "approve", Some(&later), sig, NOW), Err(LinkRefused::BadSignature));
        let mut flipped = sig.unwrap().to_string();
        let last = if flipped.ends_with('0') { "1" } else { "0" };
        flipped.replace_range(63.., last);
        assert_eq!(keys.verify_link(id, "approve", expires, Some(&flipped), NOW), Err(LinkRefused::BadSignature));
        let other_keys = WebhookKeys::new(&format!("{SECRET}-rotated"));
        assert_eq!(other_keys.verify_link(id, "approve", expires, sig, NOW), Err(LinkRefused::BadSignature));
    }

    #[test]
    fn a_link_stops_working_when_its_request_expires() {
        let keys = WebhookKeys::new(SECRET);
        let id = "apr_00";
        let link = keys.link("http://w", id, LinkAction::Deny, NOW);
        let (expires, sig) = (query(&link, "expires"), query(&link, "sig"));
        assert_eq!(keys.verify_link(id, "deny", expires, sig, NOW - 1), Ok(LinkAction::Deny));
        assert_eq!(keys.verify_link(id, "deny", expires, sig, NOW), Err(LinkRefused::Expired));
        assert_eq!(keys.verify_link(id, "deny", expires, sig, NOW + 86_400), Err(LinkRefused::Expired));
    }

    #[test]
    fn garbled_links_are_refused_without_panicking() {
        let keys = WebhookKeys::new(SECRET);
        let id = "apr_00";
        let link = keys.link("http://w", id, LinkAction::Approve, NOW + 60);
        let (expires, sig) = (query(&link, "expires"), query(&link, "sig"));
        let malformed = [
            ("apr_00", "approve", None, sig),
            ("apr_00", "approve", expires, None),
            ("apr_00", "approve", Some(""), sig),
            ("apr_00", "approve", Some("-5"), sig),
            ("apr_00", "approve", Some("+1800000060"), sig),
            ("apr_00", "approve", Some("99999999999999999999999"), sig),
            ("apr_00", "approve", Some("18e8"), sig),
            ("apr_00", "approve", expires, Some("zz")),
            ("apr_00", "approve", expires, Some("abc")),
            ("apr_00", "APPROVE", expires, sig),
            ("apr_00", "release", expires, sig),
            ("apr_00.approve", "approve", expires, sig),
            ("apr 00", "approve", expires, sig),
            ("", "approve", expires, sig),
        ];
        for (id, action, expires, sig) in malformed {
            assert_eq!(
                keys.verify_link(id, action, expires, sig, NOW),
                Err(LinkRefused::Malformed),
                "{id:?} {action:?} {expires:?} {sig:?}"
            );
        }
        // A signature of the wrong length is a mismatch, not a crash.
        assert_eq!(keys.verify_link(id, "approve", expires, Some("00ff"), NOW), Err(LinkRefused::BadSignature));
    }

    #[test]
    fn a_delivery_signature_never_passes_for_a_link() {
        let keys = WebhookKeys::new(SECRET);
        let id = "apr_00";
        let message = format!("{id}.approve.{}", NOW + 60);
        // Signed with the secret itself, as deliveries are: refused.
        let forged = hex::encode(rfc2104(SECRET.as_bytes(), message.as_bytes()));
        let expires = (NOW + 60).to_string();
        assert_eq!(keys.verify_link(id, "approve", Some(&expires), Some(&forged), NOW), Err(LinkRefused::BadSignature));
        // Signed with the derived link key: accepted (the key derivation is what it says).
        let link_key = rfc2104(SECRET.as_bytes(), LINK_KEY_LABEL);
        let genuine = hex::encode(rfc2104(&link_key, message.as_bytes()));
        assert_eq!(keys.verify_link(id, "approve", Some(&expires), Some(&genuine), NOW), Ok(LinkAction::Approve));
    }

    #[test]
    fn the_announcement_carries_the_request_and_both_links() {
        let keys = WebhookKeys::new(SECRET);
        let expires_at = UNIX_EPOCH + Duration::from_secs(NOW + 120);
        let ttl = Duration::from_secs(120);
        let request = fixtures::request(
            "apr_ab",
            ApprovalChannel::Webhook,
            json!({"to": "bob@example.com"}),
            expires_at - ttl,
            ttl,
        );
        let sent = announcement(&request, &keys, "https://w");
        assert_eq!(sent["event"], "approval.requested");
        // The binding names the session by the digest the call record made; that is what leaves.
        assert_eq!(sent["request"], request.view());
        assert_eq!(sent["request"]["session"], json!(request.binding.session));
        assert_eq!(sent["expires_at"], request.view()["expires_at"]);
        for (field, action) in [("approve_url", "approve"), ("deny_url", "deny")] {
            let link = sent[field].as_str().unwrap();
            assert!(link.starts_with(&format!("https://w/admin/webhook/apr_ab/{action}?")), "{link}");
            let verified = keys.verify_link("apr_ab", action, query(link, "expires"), query(link, "sig"), NOW);
            assert_eq!(verified.map(LinkAction::as_str), Ok(action));
        }
    }

    #[test]
    fn backoff_grows_and_stays_short() {
        assert_eq!(backoff(1), Duration::from_millis(200));
        assert_eq!(backoff(2), Duration::from_millis(400));
        assert_eq!(backoff(3), Duration::from_millis(800));
        assert_eq!(backoff(10), MAX_BACKOFF);
        assert_eq!(backoff(u32::MAX), MAX_BACKOFF);
    }
}
