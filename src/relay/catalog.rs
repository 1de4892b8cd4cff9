//! Each upstream's tools as this session last saw them listed: the
//! definition a call is checked against, and the proof that the tool was
//! advertised at all. A listing replaces the upstream's entries whole; an
//! upstream's `notifications/tools/list_changed` forgets them, so the next
//! call lists again.

use crate::call::Definition;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Default)]
pub struct ToolCatalog {
    tools: Mutex<HashMap<usize, HashMap<String, Arc<Definition>>>>,
}

impl ToolCatalog {
    /// Replaces what is known of `upstream` with a fresh listing. A tool the
    /// listing repeats unchanged keeps its entry (and its compiled schema).
    pub fn remember(&self, upstream: usize, listing: &[Value]) {
        let mut tools = self.tools.lock().expect("catalog lock");
        let previous = tools.remove(&upstream).unwrap_or_default();
        let fresh = listing
            .iter()
            .filter_map(|tool| {
                let name = tool.get("name")?.as_str()?;
                let entry = match previous.get(name) {
                    Some(known) if known.listed == *tool => known.clone(),
                    _ => Arc::new(Definition::new(tool.clone())),
                };
                Some((name.to_string(), entry))
            })
            .collect();
        tools.insert(upstream, fresh);
    }

    /// The tool's definition, if `upstream` listed it since it was last forgotten.
    pub fn get(&self, upstream: usize, tool: &str) -> Option<Arc<Definition>> {
        self.tools.lock().expect("catalog lock").get(&upstream).and_then(|tools| tools.get(tool).cloned())
    }

    pub fn forget(&self, upstream: usize) {
        self.tools.lock().expect("catalog lock").remove(&upstream);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_tool_is_known_only_as_its_upstream_listed_it() {
        let catalog = ToolCatalog::default();
        catalog.remember(
            0,
            &[json!({"name": "read_file", "inputSchema": {"type": "object"}}), json!({"title": "nameless"})],
        );
        assert_eq!(catalog.get(0, "read_file").unwrap().listed["inputSchema"], json!({"type": "object"}));
        assert!(catalog.get(1, "read_file").is_none(), "another upstream never listed it");
        assert!(catalog.get(0, "write_file").is_none());
    }

    #[test]
    fn a_new_listing_replaces_the_old_one_whole() {
        let catalog = ToolCatalog::default();
        catalog.remember(0, &[json!({"name": "a"}), json!({"name": "b"})]);
        catalog.remember(0, &[json!({"name": "b", "description": "changed"})]);
        assert!(catalog.get(0, "a").is_none(), "a tool dropped from the listing is no longer advertised");
        assert_eq!(catalog.get(0, "b").unwrap().listed["description"], "changed");
    }

    #[test]
    fn an_unchanged_tool_keeps_its_entry_and_a_changed_one_gets_a_new_one() {
        let catalog = ToolCatalog::default();
        catalog.remember(0, &[json!({"name": "a", "inputSchema": {}}), json!({"name": "b"})]);
        let (a, b) = (catalog.get(0, "a").unwrap(), catalog.get(0, "b").unwrap());
        catalog.remember(0, &[json!({"name": "a", "inputSchema": {}}), json!({"name": "b", "x": 1})]);
        assert!(Arc::ptr_eq(&a, &catalog.get(0, "a").unwrap()));
        assert!(!Arc::ptr_eq(&b, &catalog.get(0, "b").unwrap()));
    }

    #[test]
    fn forgetting_an_upstream_makes_its_tools_unknown_until_listed_again() {
        let catalog = ToolCatalog::default();
        catalog.remember(2, &[json!({"name": "a"})]);
        catalog.forget(2);
        assert!(catalog.get(2, "a").is_none());
    }
}
