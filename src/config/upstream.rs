//! `[[upstreams]]`: the MCP servers the gateway fronts, how each is reached
//! (a child process or Streamable HTTP), the prefix of its tool names, and
//! the roots it is told about instead of the client's.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

use super::values::{resolve_headers, resolve_value, HeaderSite, Redacted};
use super::{Environment, Loader};
use crate::protocol::{SESSION_HEADER, VERSION_HEADER};
use crate::source::{self, SourceError};

const EXE_DIR: &str = "${exe_dir}";
/// Headers the HTTP transport sets on every request itself (or its client
/// does): a configured one would duplicate or replace the session, the
/// negotiated version, or the framing.
const RESERVED_UPSTREAM_HEADERS: [&str; 8] = [
    "content-type",
    "content-length",
    "transfer-encoding",
    "connection",
    "host",
    "accept",
    SESSION_HEADER,
    VERSION_HEADER,
];

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpstreamConfig {
    /// Unique; the server name policies match on.
    pub name: String,
    /// Replaces `name` in namespaced tool names.
    pub alias: Option<String>,
    pub transport: UpstreamTransport,
    /// `roots`: directories the gateway itself tells this upstream about when
    /// it asks for roots, instead of relaying the client's. `None` relays.
    pub roots: Option<Vec<PinnedRoot>>,
    /// Whether this server may ask the client's model for completions
    /// (`sampling/createMessage`); default true.
    pub sampling: bool,
    /// Whether this server may ask the user for input (`elicitation/create`); default true.
    pub elicitation: bool,
}

/// A root the gateway answers `roots/list` with for an upstream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PinnedRoot {
    /// `file://` URI of an absolute directory.
    pub uri: String,
    /// The directory's last component, as the root's display name.
    pub name: String,
}

impl UpstreamConfig {
    /// The prefix of this upstream's namespaced tool names: the alias, else the name.
    pub fn prefix(&self) -> &str {
        self.alias.as_deref().unwrap_or(&self.name)
    }
}

/// How to reach an upstream. `env` and `headers` values are resolved (they may
/// hold secrets), so `Debug` prints them as `***`.
#[derive(Clone, PartialEq, Eq)]
pub enum UpstreamTransport {
    Stdio {
        /// A bare name (looked up on PATH at spawn) or a resolved path.
        command: PathBuf,
        args: Vec<String>,
        cwd: Option<PathBuf>,
        env: BTreeMap<String, String>,
    },
    Http {
        url: String,
        headers: BTreeMap<String, String>,
    },
}

impl fmt::Debug for UpstreamTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UpstreamTransport::Stdio { command, args, cwd, env } => f
                .debug_struct("Stdio")
                .field("command", command)
                .field("args", args)
                .field("cwd", cwd)
                .field("env", &Redacted(env))
                .finish(),
            UpstreamTransport::Http { url, headers } => {
                f.debug_struct("Http").field("url", url).field("headers", &Redacted(headers)).finish()
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum TransportKind {
    Stdio,
    Http,
}

/// Flat rather than a tagged enum: toml spans do not survive serde's
/// buffering of internally tagged enums, and a flat table lets us say
/// "`url` is only valid for transport = \"http\"".
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct UpstreamTable {
    name: Spanned<String>,
    alias: Option<Spanned<String>>,
    transport: Spanned<TransportKind>,
    command: Option<Spanned<String>>,
    args: Option<Spanned<Vec<String>>>,
    cwd: Option<Spanned<String>>,
    env: Option<Spanned<BTreeMap<String, Spanned<String>>>>,
    url: Option<Spanned<String>>,
    headers: Option<Spanned<BTreeMap<String, Spanned<String>>>>,
    roots: Option<Spanned<Vec<Spanned<String>>>>,
    sampling: Option<bool>,
    elicitation: Option<bool>,
}

/// One `[[upstreams]]` table. `names` and `prefixes` hold those already
/// taken (with where), so a clash names both places.
pub(super) fn upstream_config(
    table: UpstreamTable,
    separator: &str,
    names: &mut HashMap<String, String>,
    prefixes: &mut HashMap<String, String>,
    source: &Loader<'_>,
    env: &Environment<'_>,
) -> Result<UpstreamConfig, SourceError> {
    check_prefix(&table.name, "name", separator, source)?;
    let name = table.name.get_ref().clone();
    if let Some(first) = names.get(&name) {
        return Err(
            source.error(&table.name.span(), format!("duplicate upstream name {name:?}: already defined at {first}"))
        );
    }
    names.insert(name.clone(), source.location(&table.name.span()));

    if let Some(alias) = &table.alias {
        check_prefix(alias, "alias", separator, source)?;
    }
    let prefix = table.alias.as_ref().unwrap_or(&table.name);
    if let Some(first) = prefixes.get(prefix.get_ref()) {
        return Err(source.error(
            &prefix.span(),
            format!("upstream {name:?}: tool prefix {:?} is already used at {first}", prefix.get_ref()),
        ));
    }
    prefixes.insert(prefix.get_ref().clone(), source.location(&prefix.span()));

    let transport = match table.transport.get_ref() {
        TransportKind::Stdio => stdio_transport(&table, &name, source, env)?,
        TransportKind::Http => http_transport(&table, &name, source, env)?,
    };
    let roots = match &table.roots {
        None => None,
        Some(list) => Some(pinned_roots(list.get_ref(), &name, source)?),
    };
    Ok(UpstreamConfig {
        name,
        alias: table.alias.map(Spanned::into_inner),
        transport,
        roots,
        sampling: table.sampling.unwrap_or(true),
        elicitation: table.elicitation.unwrap_or(true),
    })
}

fn stdio_transport(
    table: &UpstreamTable,
    name: &str,
    source: &Loader<'_>,
    env: &Environment<'_>,
) -> Result<UpstreamTransport, SourceError> {
    only_for(&table.url, "url", "http", name, source)?;
    only_for(&table.headers, "headers", "http", name, source)?;
    let Some(command) = &table.command else {
        return Err(
            source.error(&table.transport.span(), format!("upstream {name:?}: transport = \"stdio\" needs `command`"))
        );
    };
    let command = resolve_command(command, source, env)?;
    let cwd = match &table.cwd {
        Some(c) if c.get_ref().is_empty() => {
            return Err(source.error(&c.span(), format!("upstream {name:?}: cwd must not be empty")))
        }
        Some(c) => Some(source.resolve(c.get_ref())),
        None => None,
    };
    let mut resolved = BTreeMap::new();
    if let Some(vars) = &table.env {
        for (key, value) in vars.get_ref() {
            let key_ok = !key.is_empty() && !key.contains(['=', '\0']);
            if !key_ok {
                return Err(
                    source.error(&vars.span(), format!("upstream {name:?}: invalid environment variable name {key:?}"))
                );
            }
            let what = format!("upstream {name:?}: env {key:?}");
            resolved.insert(key.clone(), resolve_value(value, &what, source, env)?);
        }
    }
    let args = table.args.as_ref().map(|a| a.get_ref().clone()).unwrap_or_default();
    Ok(UpstreamTransport::Stdio { command, args, cwd, env: resolved })
}

fn http_transport(
    table: &UpstreamTable,
    name: &str,
    source: &Loader<'_>,
    env: &Environment<'_>,
) -> Result<UpstreamTransport, SourceError> {
    only_for(&table.command, "command", "stdio", name, source)?;
    only_for(&table.args, "args", "stdio", name, source)?;
    only_for(&table.cwd, "cwd", "stdio", name, source)?;
    only_for(&table.env, "env", "stdio", name, source)?;
    let Some(url) = &table.url else {
        return Err(
            source.error(&table.transport.span(), format!("upstream {name:?}: transport = \"http\" needs `url`"))
        );
    };
    // Never echo the URL: it may carry a token in its path or query.
    source::web_url(url.get_ref())
        .map_err(|problem| source.error(&url.span(), format!("upstream {name:?}: url {problem}")))?;
    let headers = match &table.headers {
        None => BTreeMap::new(),
        Some(headers) => {
            let scope = format!("upstream {name:?}");
            let label = |key: &str| format!("upstream {name:?}: header {key:?}");
            resolve_headers(
                headers,
                &HeaderSite { scope: &scope, label: &label, reserved: &RESERVED_UPSTREAM_HEADERS },
                source,
                env,
            )?
        }
    };
    Ok(UpstreamTransport::Http { url: url.get_ref().clone(), headers })
}

/// Checks a name or alias used as a tool-name prefix. Splitting a namespaced
/// name at the first separator must give back exactly this prefix.
fn check_prefix(value: &Spanned<String>, what: &str, separator: &str, source: &Loader<'_>) -> Result<(), SourceError> {
    let text = value.get_ref();
    let charset_ok = !text.is_empty() && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !charset_ok {
        return Err(source.error(
            &value.span(),
            format!("upstream {what} {text:?} must be non-empty and use only A-Z, a-z, 0-9, '_' and '-'"),
        ));
    }
    let joined = format!("{text}{separator}");
    if joined.find(separator) != Some(text.len()) {
        return Err(source.error(
            &value.span(),
            format!(
                "upstream {what} {text:?} clashes with the separator {separator:?}: \
                 namespaced tool names \"{text}{separator}<tool>\" would split at the wrong place"
            ),
        ));
    }
    Ok(())
}

fn only_for<T>(
    field: &Option<Spanned<T>>,
    key: &str,
    transport: &str,
    name: &str,
    source: &Loader<'_>,
) -> Result<(), SourceError> {
    match field {
        Some(f) => {
            Err(source
                .error(&f.span(), format!("upstream {name:?}: `{key}` is only valid for transport = {transport:?}")))
        }
        None => Ok(()),
    }
}

/// `roots = [...]`: directories, relative to the config file's directory.
fn pinned_roots(list: &[Spanned<String>], name: &str, source: &Loader<'_>) -> Result<Vec<PinnedRoot>, SourceError> {
    let mut roots = Vec::new();
    for dir in list {
        let invalid =
            |why: &str| source.error(&dir.span(), format!("upstream {name:?}: root {:?} {why}", dir.get_ref()));
        if dir.get_ref().is_empty() {
            return Err(invalid("must not be empty"));
        }
        let path = std::path::absolute(source.resolve(dir.get_ref())).map_err(|e| invalid(&e.to_string()))?;
        let uri = url::Url::from_file_path(&path).map_err(|()| invalid("is not a directory path"))?;
        let label = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
        roots.push(PinnedRoot { uri: uri.to_string(), name: label });
    }
    Ok(roots)
}

/// A command containing '/' is a path relative to the config directory; a bare
/// name is left for PATH lookup; a leading `${exe_dir}` is the running
/// executable's directory.
fn resolve_command(
    command: &Spanned<String>,
    source: &Loader<'_>,
    env: &Environment<'_>,
) -> Result<PathBuf, SourceError> {
    let text = command.get_ref();
    if text.is_empty() {
        return Err(source.error(&command.span(), "command must not be empty"));
    }
    if let Some(rest) = text.strip_prefix(EXE_DIR) {
        if rest.contains("${") {
            return Err(
                source.error(&command.span(), format!("command {text:?}: only a leading ${{exe_dir}} is expanded"))
            );
        }
        let Some(dir) = (env.exe_dir)() else {
            return Err(source.error(
                &command.span(),
                format!("command {text:?}: cannot determine the gateway executable's directory"),
            ));
        };
        return Ok(dir.join(rest.trim_start_matches(['/', '\\'])));
    }
    if text.contains("${") {
        return Err(source.error(&command.span(), format!("command {text:?}: only a leading ${{exe_dir}} is expanded")));
    }
    if text.contains('/') {
        Ok(source.resolve(text))
    } else {
        Ok(PathBuf::from(text))
    }
}
