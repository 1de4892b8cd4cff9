//! What a client sees of an upstream's `tools/list`: the tools the policy
//! lets it call, under their exposed names, every other field untouched.

use crate::policy::Policy;
use serde_json::Value;

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
}
