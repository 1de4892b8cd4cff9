//! How tools and prompts of several upstreams share one namespace on the
//! aggregated endpoint: `<prefix><separator><name>`, where the prefix is the
//! upstream's alias or name. Prefixes never contain the separator, so the
//! first separator in an exposed name always ends the prefix and a tool can
//! never be mistaken for another server's.

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
    fn unknown_prefixes_and_bare_names_resolve_to_nothing() {
        let n = naming();
        assert_eq!(n.resolve("evil__send_email"), None);
        assert_eq!(n.resolve("send_email"), None);
        assert_eq!(n.resolve("mail__"), None);
    }
}
