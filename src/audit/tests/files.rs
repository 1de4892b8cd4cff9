//! Who may read the audit file, and where a second writer's records go.

use std::os::unix::fs::PermissionsExt;

use super::{event, lines};
use crate::audit::verify::verify;
use crate::audit::{chain_files, AuditSink};

#[tokio::test]
async fn the_audit_file_is_created_readable_by_its_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let sink = AuditSink::open(&path).unwrap();
    sink.record(&event(1)).await.unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
}

#[tokio::test]
async fn a_second_writer_on_one_path_keeps_a_chain_of_its_own_and_both_verify() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let first = AuditSink::open(&path).unwrap();
    let second = AuditSink::open(&path).unwrap();
    assert_eq!((first.chain(), first.path()), (1, Some(path.as_path())));
    let other = dir.path().join("audit.2.jsonl");
    assert_eq!((second.chain(), second.path()), (2, Some(other.as_path())));
    // Interleaved, as two processes serving at once would write.
    for n in 1..=6 {
        let sink = if n % 2 == 0 { &second } else { &first };
        sink.record(&event(n)).await.unwrap();
    }
    assert_eq!(verify(&path).unwrap().records, 3);
    assert_eq!(verify(&other).unwrap().records, 3);
    assert_eq!(std::fs::metadata(&other).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(chain_files(&path).unwrap(), [path.clone(), other.clone()]);

    // The second writer restarts while the first still runs: it continues its own chain.
    drop(second);
    let second = AuditSink::open(&path).unwrap();
    assert_eq!((second.chain(), second.last_seq()), (2, 3));
    second.record(&event(7)).await.unwrap();
    assert_eq!(verify(&other).unwrap().records, 4);
    assert!(lines(&path).iter().all(|l| !l.contains("call 7 outside")));
}
