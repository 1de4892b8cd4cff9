//! What the stores keep after a decision, and who may read the file.

use super::memory::MemoryStore;
use super::{ApprovalStore, Outcome, SqliteStore};
use crate::approval::fixtures;
use crate::policy::ApprovalChannel;
use rusqlite::{params, Connection};
use serde_json::{json, Value};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

const PAYLOAD: &str = "PAYLOAD-curl-evil.example-4711";
const MINUTE: Duration = Duration::from_secs(60);

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn held(store: &mut dyn ApprovalStore, id: &str) {
    // Long enough that the row's ending is written into another cell of the page.
    let arguments = json!({ "command": PAYLOAD, "body": "b".repeat(600) });
    let request = fixtures::request(id, ApprovalChannel::Api, arguments, SystemTime::now(), MINUTE);
    store.insert_pending(&request).unwrap();
}

fn arguments_of(store: &mut dyn ApprovalStore, id: &str) -> Value {
    store.recent(10).unwrap().into_iter().find(|r| r.id == id).expect("listed").arguments
}

/// Both stores: a pending request shows its arguments; once it ends,
/// however it ends, they are gone.
fn an_ended_request_keeps_no_arguments(store: &mut dyn ApprovalStore) {
    for id in ["apr_answered", "apr_open", "apr_abandoned"] {
        held(store, id);
    }
    let now = SystemTime::now();
    assert!(store.decide("apr_answered", &Outcome::by_gateway("denied", "no"), None, now).unwrap());
    assert_eq!(arguments_of(store, "apr_answered"), Value::Null);
    assert_eq!(arguments_of(store, "apr_open")["command"], PAYLOAD, "a person still needs them");
    store.deny_abandoned("restarted", now).unwrap();
    for id in ["apr_open", "apr_abandoned"] {
        assert_eq!(arguments_of(store, id), Value::Null, "{id}");
    }
    let listed = store.recent(10).unwrap();
    assert!(listed.iter().all(|r| r.view()["args_digest"] == json!("d")), "ended requests still name their digest");
}

#[test]
fn an_ended_request_keeps_no_arguments_in_memory() {
    an_ended_request_keeps_no_arguments(&mut MemoryStore::new());
}

#[test]
fn an_ended_request_keeps_no_arguments_in_sqlite_nor_anywhere_in_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("approvals.sqlite");
    let mut store = SqliteStore::open(&path).unwrap();
    an_ended_request_keeps_no_arguments(&mut store);
    drop(store);
    let bytes = std::fs::read(&path).unwrap();
    let found = bytes.windows(PAYLOAD.len()).any(|w| w == PAYLOAD.as_bytes());
    assert!(!found, "the erased arguments are overwritten, not left in free pages");
}

#[test]
fn the_store_and_its_journal_are_readable_by_their_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("approvals.sqlite");
    let mut store = SqliteStore::open(&path).unwrap();
    assert_eq!(mode(&path), 0o600);
    // A write in progress, held open so that SQLite's journal exists.
    let other = Connection::open(&path).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    other.execute("DELETE FROM requests", []).unwrap();
    other.execute("INSERT INTO grants VALUES ('g', '{}', '1h', 0, 'a', 'r', 1)", []).unwrap();
    let journal = dir.path().join("approvals.sqlite-journal");
    assert!(journal.exists(), "the transaction has a journal");
    assert_eq!(mode(&journal), 0o600, "SQLite gives the journal the database's mode");
    other.execute_batch("ROLLBACK").unwrap();
    held(&mut store, "apr_1");
}

#[test]
fn a_store_left_world_readable_by_an_earlier_version_is_narrowed_and_scrubbed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("approvals.sqlite");
    let raw_session = "6b1e0c9a7e2b4d6a8c0f1e2d3c4b5a69";
    let binding = |session: &str| {
        json!({"session": session, "caller": "local", "client_name": null,
        "client_version": null, "server": "demo", "tool": "t", "rule": "r", "args_digest": "sha256:00",
        "policy_version": "v"})
        .to_string()
    };
    {
        // What an earlier version left: an ended request with its arguments, raw session ids.
        let db = Connection::open(&path).unwrap();
        db.execute_batch(super::sqlite::SCHEMA).unwrap();
        for (id, status) in [("apr_old", "approved"), ("apr_pending", "pending")] {
            db.execute(
                "INSERT INTO requests (id, status, requested_at, expires_at, binding, arguments, channels)
                 VALUES (?1, ?2, 0, 1, ?3, ?4, '[\"api\"]')",
                params![id, status, binding(raw_session), json!({ "command": PAYLOAD }).to_string()],
            )
            .unwrap();
        }
        db.execute(
            "INSERT INTO grants VALUES ('apr_old', ?1, '1h', 0, 'alice', 'ok', ?2)",
            params![binding(raw_session), i64::MAX / 2],
        )
        .unwrap();
        // A grant that expired: deleted, but without secure_delete its bytes stay in the page.
        db.execute(
            "INSERT INTO grants VALUES ('apr_gone', ?1, '1h', 0, 'bob', 'ok', 1)",
            params![binding("a-deleted-grant's-raw-session")],
        )
        .unwrap();
        db.execute("DELETE FROM grants WHERE request = 'apr_gone'", []).unwrap();
    }
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();

    let mut store = SqliteStore::open(&path).unwrap();
    assert_eq!(mode(&path), 0o600);
    assert_eq!(arguments_of(&mut store, "apr_old"), Value::Null);
    let listed = store.recent(10).unwrap();
    for request in &listed {
        let session = request.binding["session"].as_str().unwrap();
        assert!(session.starts_with("sha256:") && session.len() == "sha256:".len() + 16, "{session}");
    }
    let grants = store.live_grants(SystemTime::now()).unwrap();
    assert_eq!(grants.len(), 1, "a grant still reads after its session is replaced");
    assert!(grants[0].binding.session.starts_with("sha256:"));
    drop(store);
    let bytes = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
    assert!(!bytes.contains(raw_session), "no raw session id is left in the file");
    assert!(!bytes.contains("a-deleted-grant's-raw-session"), "nor in its free pages");
    assert_eq!(bytes.matches(PAYLOAD).count(), 1, "only the pending request keeps its arguments");

    // Cleaned once: a second open changes nothing.
    let mut store = SqliteStore::open(&path).unwrap();
    assert_eq!(arguments_of(&mut store, "apr_pending"), json!({ "command": PAYLOAD }));
}
