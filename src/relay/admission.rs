//! What of an upstream's `tools/list` a model may see, as far as tool
//! integrity goes (the policy's own filter is `listing.rs`): the listing is
//! remembered as this session's advertisement, each definition is put to
//! `Integrity::admit` (pins, the scanner), those withheld are dropped, and
//! the rest have hidden characters stripped before the client reads them.
//! What the operators must hear of goes to `Gateway::integrity_notice`.

use super::ClientSession;
use crate::inspect::sanitize;
use crate::integrity::Admission;
use serde_json::Value;

/// The tools of `listing` a model may see, sanitized. Returns them and
/// whether any tool was withheld.
pub fn admit(session: &ClientSession, upstream: usize, listing: Vec<Value>) -> (Vec<Value>, bool) {
    let gateway = &session.gateway;
    let integrity = &gateway.integrity;
    let server = &gateway.pool.config(upstream).name;
    for notice in integrity.listed(server, &listing) {
        gateway.integrity_notice(notice, &session.id);
    }
    session.catalog.remember(upstream, &listing);
    let mut withheld = false;
    let admitted = listing
        .into_iter()
        .filter_map(|mut tool| {
            let name = tool.get("name")?.as_str()?.to_string();
            let definition = session.catalog.get(upstream, &name)?;
            let (admission, notice) = integrity.admit(server, &name, &definition.listed, definition.digest());
            if let Some(notice) = notice {
                gateway.integrity_notice(notice, &session.id);
            }
            if let Admission::Withheld(_) = admission {
                withheld = true;
                return None;
            }
            if integrity.sanitize() {
                let removed = sanitize::sanitize_definition(&mut tool);
                if !removed.is_empty() {
                    if let Some(notice) = integrity.sanitized_definition(server, &name, definition.digest(), removed) {
                        gateway.integrity_notice(notice, &session.id);
                    }
                }
            }
            Some(tool)
        })
        .collect();
    (admitted, withheld)
}
