//! `[admin]`: the listener people use to answer held calls (API, console,
//! CLI), never MCP clients, and the bearer token that guards it.

use std::fmt;
use std::net::SocketAddr;

use serde::Deserialize;
use toml::Spanned;

use super::values::resolve_value;
use super::{Environment, Loader};
use crate::source::{self, SourceError};

const DEFAULT_ADMIN: &str = "127.0.0.1:8081";
/// An admin token shorter than this is refused: it guards who may release held calls.
const MIN_ADMIN_TOKEN_LEN: usize = 16;

/// `[admin]`: a separate listener for people, never for MCP clients.
#[derive(Clone, PartialEq, Eq)]
pub struct AdminConfig {
    pub listen: SocketAddr,
    /// The bearer token every admin request must carry (resolved; a secret).
    pub token: String,
}

impl fmt::Debug for AdminConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminConfig").field("listen", &self.listen).field("token", &format_args!("***")).finish()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AdminTable {
    listen: Option<Spanned<String>>,
    token: Option<Spanned<String>>,
}

pub(super) fn admin_config(
    table: &AdminTable,
    source: &Loader<'_>,
    env: &Environment<'_>,
) -> Result<AdminConfig, SourceError> {
    let listen = match &table.listen {
        None => DEFAULT_ADMIN.parse().expect("default admin address parses"),
        Some(addr) => addr.get_ref().parse::<SocketAddr>().map_err(|_| {
            source.error(
                &addr.span(),
                format!("admin.listen {:?} is not an address:port (e.g. \"127.0.0.1:8081\")", addr.get_ref()),
            )
        })?,
    };
    // Without a token nobody could be told apart from anybody: refuse to start.
    let Some(token) = &table.token else {
        return Err(source.error(&(0..0), "[admin] needs token = \"env:NAME\": every admin request must carry it"));
    };
    let resolved = resolve_value(token, "admin.token", source, env)?;
    if resolved.trim().len() < MIN_ADMIN_TOKEN_LEN {
        // Never echo the value.
        return Err(
            source.error(&token.span(), format!("admin.token must be at least {MIN_ADMIN_TOKEN_LEN} characters"))
        );
    }
    if source::header_value(&format!("Bearer {resolved}")).is_err() {
        return Err(source.error(&token.span(), "admin.token contains characters not allowed in an HTTP header"));
    }
    Ok(AdminConfig { listen, token: resolved })
}
