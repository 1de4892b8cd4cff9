//! Who is calling over HTTP: every request passes through the listener's
//! authenticator before any MCP is read, and what it yields is the
//! `Caller` that policy context, audit records and approval grants carry.
//!
//! Today the only authenticator is `Unauthenticated`: every client of the
//! listener (loopback by default) is `Caller::Local`. An authentication
//! layer (bearer tokens, OAuth, mTLS) plugs in here and yields
//! `Caller::Principal`; a session stays bound to the caller that opened it.

use crate::protocol::Caller;
use axum::http::HeaderMap;

/// Why a request was refused before it reached MCP. The text goes to the
/// client, so it never repeats a credential.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct AuthRefusal(pub String);

pub trait Authenticator: Send + Sync {
    fn authenticate(&self, headers: &HeaderMap) -> Result<Caller, AuthRefusal>;
}

/// A listener without authentication: everyone who can reach it is the
/// local caller. Safe only where reaching it is the credential (loopback,
/// a pod's own network namespace).
pub struct Unauthenticated;

impl Authenticator for Unauthenticated {
    fn authenticate(&self, _headers: &HeaderMap) -> Result<Caller, AuthRefusal> {
        Ok(Caller::Local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unauthenticated_listener_makes_every_client_the_local_caller() {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", "Bearer anything".parse().unwrap());
        assert_eq!(Unauthenticated.authenticate(&headers).unwrap(), Caller::Local);
        assert_eq!(Unauthenticated.authenticate(&HeaderMap::new()).unwrap(), Caller::Local);
    }
}
