//! Any bytes a peer sends: parsing and classifying must never panic, and a
//! frame classified as a request must really carry a method and an id.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcp_warden::jsonrpc::{classify, Kind};

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    let frames = match &value {
        serde_json::Value::Array(batch) => batch.iter().collect::<Vec<_>>(),
        one => vec![one],
    };
    for frame in frames {
        match classify(frame) {
            Ok(Kind::Request { id, method }) => {
                assert_eq!(frame.get("method").and_then(|m| m.as_str()), Some(method));
                assert!(id.is_string() || id.is_number());
            }
            Ok(Kind::Notification { .. }) => assert!(frame.get("id").is_none()),
            Ok(Kind::Response { .. }) => assert!(frame.get("method").is_none()),
            Err(_) => {}
        }
    }
});
