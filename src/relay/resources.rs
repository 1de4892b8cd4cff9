//! Where an upstream's resource URIs reach a client of the aggregated
//! endpoint, and their rewriting there to the namespaced form
//! (`mcp-warden://<server>/<uri>`, see `naming`). URIs the client sends are
//! mapped back by `Naming::resolve_uri` before anything is decided, so the
//! server is named by the URI itself: two servers' identical URIs are two
//! URIs, and routing needs no memory of past listings.
//!
//! Only the places the protocol defines as URIs are rewritten: the contents
//! of `resources/read`, resource links and embedded resources in tool,
//! prompt and task results, and `notifications/resources/updated`. Listings
//! are rewritten where they are filtered (`access`).

use serde_json::Value;

/// Rewrites every resource URI in a result (`resources/read`, `tools/call`,
/// `prompts/get`, `tasks/result`) with `expose`; other fields are untouched.
pub fn expose_result_uris(result: &mut Value, expose: impl Fn(&str) -> String) {
    // resources/read: the contents of the resource (and of any it includes).
    if let Some(Value::Array(contents)) = result.get_mut("contents") {
        for item in contents {
            expose_field(item, "uri", &expose);
        }
    }
    // tools/call and tasks/result: content blocks.
    if let Some(Value::Array(blocks)) = result.get_mut("content") {
        for block in blocks {
            expose_block(block, &expose);
        }
    }
    // prompts/get: one content block per message.
    if let Some(Value::Array(messages)) = result.get_mut("messages") {
        for message in messages {
            if let Some(block) = message.get_mut("content") {
                expose_block(block, &expose);
            }
        }
    }
}

/// A resource link names its URI; an embedded resource carries its contents.
fn expose_block(block: &mut Value, expose: &impl Fn(&str) -> String) {
    match block.get("type").and_then(Value::as_str) {
        Some("resource_link") => expose_field(block, "uri", expose),
        Some("resource") => {
            if let Some(resource) = block.get_mut("resource") {
                expose_field(resource, "uri", expose);
            }
        }
        _ => {}
    }
}

fn expose_field(item: &mut Value, field: &str, expose: &impl Fn(&str) -> String) {
    if let Some(uri) = item.get(field).and_then(Value::as_str) {
        let exposed = expose(uri);
        item[field] = Value::String(exposed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn files(uri: &str) -> String {
        format!("mcp-warden://files/{uri}")
    }

    #[test]
    fn read_contents_name_the_server_that_served_them() {
        let mut read = json!({"contents": [
            {"uri": "file:///a", "text": "a"},
            {"uri": "file:///b", "blob": "Yg==", "x-vendor": 1},
            {"text": "no uri"}
        ]});
        expose_result_uris(&mut read, files);
        assert_eq!(read["contents"][0]["uri"], "mcp-warden://files/file:///a");
        assert_eq!(read["contents"][1], json!({"uri": "mcp-warden://files/file:///b", "blob": "Yg==", "x-vendor": 1}));
        assert_eq!(read["contents"][2], json!({"text": "no uri"}));
    }

    #[test]
    fn links_and_embedded_resources_in_tool_and_prompt_results_can_be_read_back() {
        let mut tool = json!({"content": [
            {"type": "text", "text": "file:///not-a-uri-field"},
            {"type": "resource_link", "uri": "file:///a", "name": "a"},
            {"type": "resource", "resource": {"uri": "file:///b", "text": "b"}}
        ], "structuredContent": {"uri": "file:///c"}});
        expose_result_uris(&mut tool, files);
        assert_eq!(tool["content"][0]["text"], "file:///not-a-uri-field");
        assert_eq!(tool["content"][1]["uri"], "mcp-warden://files/file:///a");
        assert_eq!(tool["content"][2]["resource"]["uri"], "mcp-warden://files/file:///b");
        assert_eq!(tool["structuredContent"]["uri"], "file:///c", "a tool's own data is its own");

        let mut prompt = json!({"messages": [
            {"role": "user", "content": {"type": "resource", "resource": {"uri": "docs://x", "text": "x"}}},
            {"role": "user", "content": {"type": "text", "text": "hi"}}
        ]});
        expose_result_uris(&mut prompt, files);
        assert_eq!(prompt["messages"][0]["content"]["resource"]["uri"], "mcp-warden://files/docs://x");
        assert_eq!(prompt["messages"][1]["content"], json!({"type": "text", "text": "hi"}));
    }
}
