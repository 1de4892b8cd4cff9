//! How tools and prompts of several upstreams share one namespace on the
//! aggregated endpoint: `<prefix><separator><name>`, where the prefix is the
//! upstream's alias or name. Prefixes never contain the separator, so the
//! first separator in an exposed name always ends the prefix and a tool can
//! never be mistaken for another server's. Task ids take the same form.
//!
//! Resource URIs take another: `mcp-warden://<prefix>/<the server's own URI>`,
//! the original kept verbatim after the first `/` of the path. Verbatim, not
//! percent-encoded, so that a template's expansion maps back: the client
//! expands `mcp-warden://files/file:///{path}` exactly as it would have
//! expanded `file:///{path}`, and stripping the prefix gives the URI the
//! server would have been sent. Prefixes use only `[A-Za-z0-9_-]`, which a
//! URI's host allows and URL parsers keep as written for a non-special scheme.

/// The scheme of resource URIs on the aggregated endpoint.
pub const URI_SCHEME: &str = "mcp-warden";

#[derive(Clone, Debug)]
pub struct Naming {
    separator: String,
    prefixes: Vec<String>,
}

impl Naming {
    pub fn new(separator: &str, prefixes: Vec<String>) -> Naming {
        Naming { separator: separator.to_string(), prefixes }
    }

    /// The namespace of a gateway's configured upstreams, in config order.
    pub fn for_config(config: &crate::config::GatewayConfig) -> Naming {
        Naming::new(&config.relay.separator, config.upstreams.iter().map(|u| u.prefix().to_string()).collect())
    }

    pub fn expose(&self, upstream: usize, name: &str) -> String {
        format!("{}{}{}", self.prefixes[upstream], self.separator, name)
    }

    /// The URI a client of the aggregated endpoint uses for `upstream`'s `uri`.
    pub fn expose_uri(&self, upstream: usize, uri: &str) -> String {
        format!("{URI_SCHEME}://{}/{uri}", self.prefixes[upstream])
    }

    /// The upstream and its own URI behind a namespaced one; `Err` says what
    /// is wrong with it, for the client.
    pub fn resolve_uri<'a>(&self, exposed: &'a str) -> Result<(usize, &'a str), String> {
        let expected = || {
            format!(
                "on the aggregated endpoint a resource URI has the form {URI_SCHEME}://<server>/<the server's own URI>, \
                 as resources/list and resources/templates/list show it"
            )
        };
        let rest = exposed.strip_prefix(URI_SCHEME).and_then(|r| r.strip_prefix("://")).ok_or_else(expected)?;
        let (prefix, uri) = rest.split_once('/').ok_or_else(expected)?;
        let upstream = self
            .prefixes
            .iter()
            .position(|p| p == prefix)
            .ok_or_else(|| format!("no upstream server is named {prefix:?}"))?;
        if uri.is_empty() {
            return Err(expected());
        }
        Ok((upstream, uri))
    }

    /// The upstream and original name behind an exposed name.
    pub fn resolve<'a>(&self, exposed: &'a str) -> Option<(usize, &'a str)> {
        let (prefix, name) = exposed.split_once(self.separator.as_str())?;
        let upstream = self.prefixes.iter().position(|p| p == prefix)?;
        (!name.is_empty()).then_some((upstream, name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naming() -> Naming {
        Naming::new("__", vec!["files".into(), "mail".into()])
    }

    #[test]
    fn exposed_names_round_trip() {
        let n = naming();
        assert_eq!(n.expose(1, "send_email"), "mail__send_email");
        assert_eq!(n.resolve("mail__send_email"), Some((1, "send_email")));
    }

    #[test]
    fn a_tool_name_containing_the_separator_stays_with_its_server() {
        let n = naming();
        assert_eq!(n.resolve(&n.expose(0, "read__file")), Some((0, "read__file")));
    }

    #[test]
    fn the_same_uri_of_two_servers_is_two_uris_each_mapping_back_to_its_server() {
        let n = naming();
        let (files, mail) = (n.expose_uri(0, "internal://credentials"), n.expose_uri(1, "internal://credentials"));
        assert_eq!(files, "mcp-warden://files/internal://credentials");
        assert_ne!(files, mail);
        assert_eq!(n.resolve_uri(&files), Ok((0, "internal://credentials")));
        assert_eq!(n.resolve_uri(&mail), Ok((1, "internal://credentials")));
    }

    #[test]
    fn a_template_expanded_by_the_client_maps_back_to_the_servers_expansion() {
        let n = naming();
        let template = n.expose_uri(0, "file:///{path}");
        // What an RFC 6570 client makes of `{path}` = "a b/c", either way.
        for expansion in ["a%20b%2Fc", "a%20b/c"] {
            let expanded = template.replace("{path}", expansion);
            assert_eq!(n.resolve_uri(&expanded), Ok((0, format!("file:///{expansion}").as_str())));
        }
        assert_eq!(n.resolve_uri(&template), Ok((0, "file:///{path}")), "a completion names the template itself");
    }

    #[test]
    fn a_uri_not_in_the_namespaced_form_is_refused_saying_which_form_is_expected() {
        let n = naming();
        for bare in ["internal://credentials", "mcp-warden://files", "mcp-warden://files/", "mcp-warden:files/x://y"] {
            let err = n.resolve_uri(bare).unwrap_err();
            assert!(err.contains("mcp-warden://<server>/<the server's own URI>"), "{bare}: {err}");
        }
        assert_eq!(n.resolve_uri("mcp-warden://evil/x://y"), Err("no upstream server is named \"evil\"".into()));
        assert!(n.resolve_uri("mcp-warden://FILES/x://y").is_err(), "prefixes match as configured");
    }

    #[test]
    fn unknown_prefixes_and_bare_names_resolve_to_nothing() {
        let n = naming();
        assert_eq!(n.resolve("evil__send_email"), None);
        assert_eq!(n.resolve("send_email"), None);
        assert_eq!(n.resolve("mail__"), None);
    }
}
