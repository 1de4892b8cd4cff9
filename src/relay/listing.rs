//! What a client sees of an upstream's listings: the tools, resources,
//! resource templates and prompts the policy lets it use, tools and prompts
//! under their exposed names, every other field untouched. An entry without
//! the string field the policy decides on is dropped: the gateway cannot
//! police what it cannot name.

use crate::policy::{Access, Policy};
use serde_json::Value;

/// Which listing, and the field of each entry the policy decides on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listing {
    Resources,
    ResourceTemplates,
    Prompts,
}

impl Listing {
    /// The listing's method, as the protocol spells it.
    pub fn method(self) -> &'static str {
        match self {
            Listing::Resources => "resources/list",
            Listing::ResourceTemplates => "resources/templates/list",
            Listing::Prompts => "prompts/list",
        }
    }

    /// The result's array of entries.
    pub fn key(self) -> &'static str {
        match self {
            Listing::Resources => "resources",
            Listing::ResourceTemplates => "resourceTemplates",
            Listing::Prompts => "prompts",
        }
    }

    /// The entry's field that names it.
    pub fn field(self) -> &'static str {
        match self {
            Listing::Resources => "uri",
            Listing::ResourceTemplates => "uriTemplate",
            Listing::Prompts => "name",
        }
    }

    /// The capability an upstream declares for it.
    pub fn capability(self) -> &'static str {
        match self {
            Listing::Resources | Listing::ResourceTemplates => "resources",
            Listing::Prompts => "prompts",
        }
    }

    fn access(self, name: &str) -> Access<'_> {
        match self {
            Listing::Resources => Access::Resource(name),
            Listing::ResourceTemplates => Access::ResourceTemplate(name),
            Listing::Prompts => Access::Prompt(name),
        }
    }
}

/// Filters one upstream's resources, templates or prompts by policy; prompt
/// names are renamed with `expose` (URIs are not: on `/mcp` the relay
/// namespaces them after filtering, since rules name the server's own URIs).
pub fn visible_entries(
    policy: &Policy,
    server: &str,
    listing: Listing,
    entries: Vec<Value>,
    expose: impl Fn(&str) -> String,
) -> Vec<Value> {
    let field = listing.field();
    entries
        .into_iter()
        .filter_map(|mut entry| {
            let name = entry.get(field)?.as_str()?;
            if !policy.access_listed(server, listing.access(name)) {
                return None;
            }
            if listing == Listing::Prompts {
                let exposed = expose(name);
                entry[field] = Value::String(exposed);
            }
            Some(entry)
        })
        .collect()
}

/// Filters one upstream's tools by policy and renames them with `expose`.
/// Tools without a string name are dropped: they could not be called, and a
/// client should not be shown what the gateway cannot police.
pub fn visible_tools(
    policy: &Policy,
    server: &str,
    listing: Vec<Value>,
    expose: impl Fn(&str) -> String,
) -> Vec<Value> {
    listing
        .into_iter()
        .filter_map(|mut tool| {
            let name = tool.get("name")?.as_str()?;
            if !policy.tool_listed(server, name) {
                return None;
            }
            let exposed = expose(name);
            tool["name"] = Value::String(exposed);
            Some(tool)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy() -> Policy {
        let src = "[[rules]]\nid = \"read\"\nserver = \"files\"\ntools = [\"read_*\"]\naction = \"allow\"\n";
        Policy::from_sources(&[("p.toml".into(), src.into())]).unwrap()
    }

    #[test]
    fn hidden_tools_are_dropped_and_the_rest_renamed_with_fields_intact() {
        let listing = vec![
            json!({"name": "read_file", "inputSchema": {"type": "object"}, "x-vendor": 1}),
            json!({"name": "write_file", "inputSchema": {"type": "object"}}),
            json!({"description": "no name"}),
        ];
        let tools = visible_tools(&policy(), "files", listing, |n| format!("files__{n}"));
        assert_eq!(tools, vec![json!({"name": "files__read_file", "inputSchema": {"type": "object"}, "x-vendor": 1})]);
    }

    fn docs_policy() -> Policy {
        let src = "[[rules]]\nid = \"docs\"\nserver = \"files\"\nresources = [\"docs://*\"]\nprompts = [\"summarize\"]\naction = \"allow\"\n\
                   [[rules]]\nid = \"secret\"\nserver = \"files\"\nresources = [\"docs://secret\"]\naction = \"deny\"\n";
        Policy::from_sources(&[("p.toml".into(), src.into())]).unwrap()
    }

    #[test]
    fn hidden_resources_are_dropped_and_uris_are_never_renamed() {
        let listing = vec![
            json!({"uri": "docs://handbook", "name": "handbook", "x-vendor": 1}),
            json!({"uri": "docs://secret", "name": "secret"}),
            json!({"uri": "internal://credentials", "name": "credentials"}),
            json!({"uri": 7, "name": "not a string"}),
            json!({"name": "no uri"}),
        ];
        let shown = visible_entries(&docs_policy(), "files", Listing::Resources, listing, |n| format!("files__{n}"));
        assert_eq!(shown, vec![json!({"uri": "docs://handbook", "name": "handbook", "x-vendor": 1})]);
    }

    #[test]
    fn templates_and_prompts_are_filtered_and_prompts_renamed() {
        let templates = vec![json!({"uriTemplate": "docs://{page}"}), json!({"uriTemplate": "internal://{key}"})];
        let shown = visible_entries(&docs_policy(), "files", Listing::ResourceTemplates, templates, |n| n.to_string());
        assert_eq!(shown, vec![json!({"uriTemplate": "docs://{page}"})]);
        let prompts = vec![json!({"name": "summarize", "arguments": []}), json!({"name": "leak"})];
        let shown = visible_entries(&docs_policy(), "files", Listing::Prompts, prompts, |n| format!("files__{n}"));
        assert_eq!(shown, vec![json!({"name": "files__summarize", "arguments": []})]);
    }
}
