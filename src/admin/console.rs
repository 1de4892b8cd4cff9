//! The web console for approvals at `/admin`: a static HTML shell, its
//! script and its stylesheet, embedded in the binary. They carry no data and
//! are served without the token; the page logs in with the admin token
//! (kept in the tab's `sessionStorage`) and reads and answers through the
//! authenticated JSON API, as channel `console`.
//!
//! Every admin response gets a strict Content-Security-Policy (no inline
//! script or style, nothing from elsewhere, no framing), `X-Frame-Options:
//! DENY`, `Referrer-Policy: no-referrer`, `nosniff` and `no-store`.

use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

const HTML: &str = include_str!("console.html");
const SCRIPT: &str = include_str!("console.js");
const STYLE: &str = include_str!("console.css");

pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; \
     connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The console's static routes (no token needed: they hold no data).
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/admin", get(|| async { asset("text/html; charset=utf-8", HTML) }))
        .route("/admin/", get(|| async { asset("text/html; charset=utf-8", HTML) }))
        .route("/admin/console.js", get(|| async { asset("text/javascript; charset=utf-8", SCRIPT) }))
        .route("/admin/console.css", get(|| async { asset("text/css; charset=utf-8", STYLE) }))
        // Browsers ask for it on their own; an empty answer keeps their consoles quiet.
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// Adds the security headers to every admin response, API included.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    lock_down(response.headers_mut(), CONTENT_SECURITY_POLICY);
    response
}

/// The headers every admin response carries, with `csp` as its policy.
pub fn lock_down(headers: &mut HeaderMap, csp: &'static str) {
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(csp));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_nothing_inline_and_nothing_from_elsewhere() {
        assert!(!HTML.contains("<script>") && !HTML.contains("style="), "inline code would break the CSP");
        assert!(!HTML.contains("http://") && !HTML.contains("https://"), "no external assets");
        assert!(HTML.contains("src=\"/admin/console.js\"") && HTML.contains("href=\"/admin/console.css\""));
    }

    #[test]
    fn the_script_never_writes_html() {
        for sink in ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("] {
            assert!(!SCRIPT.contains(sink), "console.js uses {sink}");
        }
    }
}
