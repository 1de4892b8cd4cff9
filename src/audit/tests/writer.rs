//! The writer: one chain however many callers, an acknowledgement
//! only once the line is in the file, one write per batch, a bounded queue,
//! and failed writes that fail closed.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::{event, lines, reason_of};
use crate::audit::sink::{open_chain, LogFile};
use crate::audit::verify::verify;
use crate::audit::{AuditError, AuditSink, SinkStats, QUEUE_CAPACITY};

/// A sink whose queue holds only `capacity` records.
fn sink_with_capacity(path: &Path, capacity: usize) -> AuditSink {
    let (file, end) = open_chain(path).unwrap();
    AuditSink::start(path, file, end, capacity).unwrap()
}

/// Polls until `ready`, failing the test after five seconds.
async fn wait_until(what: &str, ready: impl Fn() -> bool) {
    for _ in 0..5_000 {
        if ready() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    panic!("timed out waiting until {what}");
}

/// Starts `record(event(n))` for each `n` on its own task.
fn record_in_background(
    sink: &Arc<AuditSink>,
    ns: impl IntoIterator<Item = u64>,
) -> Vec<tokio::task::JoinHandle<Result<(), AuditError>>> {
    ns.into_iter()
        .map(|n| {
            let sink = Arc::clone(sink);
            tokio::spawn(async move { sink.record(&event(n)).await })
        })
        .collect()
}

/// A real file on a disk with `room` bytes left: writes stop part-way, as
/// on a full disk. With `stuck`, the partial line cannot be cut off again
/// either (as on a device, or a file system that has gone read-only).
struct FillingDisk {
    file: File,
    room: Arc<AtomicU64>,
    stuck: bool,
}

impl Write for FillingDisk {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = self.room.load(Ordering::SeqCst);
        if room == 0 {
            return Err(io::Error::from_raw_os_error(libc::ENOSPC));
        }
        let n = self.file.write(&buf[..buf.len().min(room as usize)])?;
        self.room.fetch_sub(n as u64, Ordering::SeqCst);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl LogFile for FillingDisk {
    fn truncate(&mut self, len: u64) -> io::Result<()> {
        match self.stuck {
            true => Err(io::Error::from_raw_os_error(libc::EROFS)),
            false => self.file.set_len(len),
        }
    }
}

fn sink_on_filling_disk(path: &Path, stuck: bool) -> (Arc<AuditSink>, Arc<AtomicU64>) {
    let (file, end) = open_chain(path).unwrap();
    let room = Arc::new(AtomicU64::new(u64::MAX));
    let disk = FillingDisk { file, room: Arc::clone(&room), stuck };
    (Arc::new(AuditSink::start(path, disk, end, QUEUE_CAPACITY).unwrap()), room)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_callers_form_one_chain_and_each_ack_means_the_line_is_on_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = Arc::new(dir.path().join("audit.jsonl"));
    let sink = Arc::new(AuditSink::open(&path).unwrap());
    let callers: Vec<_> = (0..16u64)
        .map(|t| {
            let (sink, path) = (Arc::clone(&sink), Arc::clone(&path));
            tokio::spawn(async move {
                for i in 0..20 {
                    let n = t * 100 + i;
                    sink.record(&event(n)).await.unwrap();
                    // Write-before-forward: the caller may act now, so the line must be there now.
                    let text = std::fs::read_to_string(&*path).unwrap();
                    assert!(text.contains(&reason_of(n)), "record {n} acknowledged but not in the file");
                }
            })
        })
        .collect();
    for caller in callers {
        caller.await.unwrap();
    }
    assert_eq!(sink.last_seq(), 320);
    assert_eq!(verify(&path).unwrap().records, 320);
}

#[test]
fn concurrent_records_from_8_threads_form_a_valid_chain() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let sink = Arc::new(AuditSink::open(&path).unwrap());
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let sink = Arc::clone(&sink);
            std::thread::spawn(move || {
                for i in 0..25 {
                    sink.record_blocking(&event(t * 100 + i)).unwrap();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert_eq!(sink.last_seq(), 200);
    assert_eq!(verify(&path).unwrap().records, 200);
}

#[tokio::test]
async fn records_queued_while_the_writer_is_busy_share_one_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let sink = Arc::new(AuditSink::open(&path).unwrap());
    sink.pause_writer();
    let calls = record_in_background(&sink, 1..=10);
    wait_until("all ten records are queued", || sink.queued() == 10).await;
    sink.resume_writer();
    for call in calls {
        call.await.unwrap().unwrap();
    }
    assert_eq!(sink.stats(), SinkStats { records: 10, batches: 1 });
    assert_eq!(verify(&path).unwrap().records, 10);
}

#[tokio::test]
async fn detached_records_are_chained_in_order_with_awaited_ones() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let sink = AuditSink::open(&path).unwrap();
    for n in 1..=30 {
        if n % 3 == 0 {
            sink.record(&event(n)).await.unwrap();
        } else {
            sink.record_detached(event(n));
        }
    }
    // The last record was awaited: everything queued before it is written too.
    let lines = lines(&path);
    assert_eq!(lines.len(), 30);
    for (n, line) in (1..=30).zip(&lines) {
        assert!(line.contains(&reason_of(n)), "line {n} holds another record: {line}");
    }
    assert_eq!(verify(&path).unwrap().records, 30);
}

#[tokio::test]
async fn a_full_queue_makes_callers_wait_instead_of_dropping_or_growing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let sink = Arc::new(sink_with_capacity(&path, 2));
    sink.pause_writer();
    let calls = record_in_background(&sink, 1..=5);
    wait_until("the queue is full", || sink.queued() == 2).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(sink.queued(), 2, "the queue grew past its capacity");
    assert!(calls.iter().all(|call| !call.is_finished()), "a caller was answered before its record was written");

    sink.resume_writer();
    for call in calls {
        call.await.unwrap().unwrap();
    }
    assert_eq!(sink.last_seq(), 5);
    assert_eq!(verify(&path).unwrap().records, 5);
}

#[tokio::test]
async fn a_detached_record_is_never_dropped_for_want_of_room() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let sink = Arc::new(sink_with_capacity(&path, 1));
    sink.pause_writer();
    let first = record_in_background(&sink, [1]);
    wait_until("the queue is full", || sink.queued() == 1).await;
    sink.record_detached(event(2));
    sink.record_detached(event(3));
    assert_eq!(sink.queued(), 3, "detached records must be queued even when the queue is full");
    // An awaited record still waits for room: detached ones do not open the bound to everyone.
    let last = record_in_background(&sink, [4]);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(sink.queued(), 3);

    sink.resume_writer();
    for call in first.into_iter().chain(last) {
        call.await.unwrap().unwrap();
    }
    let lines = lines(&path);
    for (n, line) in (1..=4).zip(&lines) {
        assert!(line.contains(&reason_of(n)), "line {n} holds another record: {line}");
    }
    assert_eq!(verify(&path).unwrap().records, 4);
}

#[test]
fn dropping_the_sink_writes_the_detached_records_still_queued() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let sink = AuditSink::open(&path).unwrap();
    sink.pause_writer();
    for n in 1..=3 {
        sink.record_detached(event(n));
    }
    drop(sink);
    assert_eq!(verify(&path).unwrap().records, 3);
}

#[tokio::test]
async fn a_disk_that_fills_mid_batch_fails_the_whole_batch_and_leaves_no_partial_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let (sink, room) = sink_on_filling_disk(&path, false);
    sink.record(&event(1)).await.unwrap();
    sink.record(&event(2)).await.unwrap();
    let before = std::fs::read(&path).unwrap();
    // Room for the batch's first line and half of its second.
    room.store((before.len() / 2 + before.len() / 4) as u64, Ordering::SeqCst);

    sink.pause_writer();
    let calls = record_in_background(&sink, 3..=5);
    wait_until("the batch is queued", || sink.queued() == 3).await;
    sink.resume_writer();
    for call in calls {
        let result = call.await.unwrap();
        assert!(matches!(result, Err(AuditError::Write { .. })), "every record of the batch fails: {result:?}");
    }
    assert_eq!(std::fs::read(&path).unwrap(), before, "nothing of the failed batch may stay in the file");
    assert_eq!(sink.last_seq(), 2);

    // Once there is room again the chain goes on from the last good record.
    room.store(u64::MAX, Ordering::SeqCst);
    sink.record(&event(6)).await.unwrap();
    assert_eq!(sink.last_seq(), 3);
    assert_eq!(verify(&path).unwrap().records, 3);
}

#[tokio::test]
async fn a_partial_line_that_cannot_be_removed_stops_every_later_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let (sink, room) = sink_on_filling_disk(&path, true);
    sink.record(&event(1)).await.unwrap();
    room.store(40, Ordering::SeqCst);

    sink.pause_writer();
    let calls = record_in_background(&sink, 2..=4);
    wait_until("the batch is queued", || sink.queued() == 3).await;
    sink.resume_writer();
    for call in calls {
        assert!(matches!(call.await.unwrap(), Err(AuditError::Write { .. })));
    }
    let torn = std::fs::read(&path).unwrap();

    room.store(u64::MAX, Ordering::SeqCst);
    assert!(matches!(sink.record(&event(5)).await, Err(AuditError::OutOfService { .. })));
    sink.record_detached(event(6));
    drop(Arc::into_inner(sink).expect("the only handle")); // waits for the writer to finish its queue
    assert_eq!(std::fs::read(&path).unwrap(), torn, "nothing may be appended after a partial line");
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn failed_write_is_reported_so_the_call_fails_closed() {
    let full = Path::new("/dev/full");
    let Ok(sink) = AuditSink::open(full) else {
        return; // no /dev/full in this sandbox
    };
    assert!(matches!(sink.record(&event(1)).await, Err(AuditError::Write { .. })));
    // The partial line cannot be truncated on a device: the sink stays closed.
    assert!(matches!(sink.record(&event(2)).await, Err(AuditError::OutOfService { .. })));
    assert_eq!(sink.last_seq(), 0);
}

#[tokio::test]
async fn discard_sink_accepts_records() {
    let sink = AuditSink::discard();
    sink.record(&event(1)).await.unwrap();
    sink.record_detached(event(2));
    assert_eq!(sink.last_seq(), 0);
}

#[test]
fn sink_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<AuditSink>();
}

/// A file that notes which thread made each write.
struct WitnessedFile {
    file: File,
    writers: Arc<std::sync::Mutex<Vec<String>>>,
}

impl Write for WitnessedFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let name = std::thread::current().name().unwrap_or("unnamed").to_string();
        self.writers.lock().unwrap().push(name);
        self.file.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl LogFile for WitnessedFile {
    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.file.set_len(len)
    }
}

#[test]
fn a_waiting_caller_writes_its_own_record_and_the_thread_writes_what_nobody_waits_on() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let (file, end) = open_chain(&path).unwrap();
    let writers = Arc::new(std::sync::Mutex::new(Vec::new()));
    let witnessed = WitnessedFile { file, writers: Arc::clone(&writers) };
    let sink = Arc::new(AuditSink::start(&path, witnessed, end, QUEUE_CAPACITY).unwrap());
    // Nobody else writing: no hand-off to another thread and back.
    let caller = Arc::clone(&sink);
    std::thread::Builder::new()
        .name("a-call".into())
        .spawn(move || caller.record_blocking(&event(1)).unwrap())
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(writers.lock().unwrap().as_slice(), ["a-call"]);
    assert_eq!(lines(&path).len(), 1, "written before record returned");
    // A record nobody waits on is written by the sink's own thread, soon.
    sink.record_detached(event(2));
    for _ in 0..500 {
        if lines(&path).len() == 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(lines(&path).len(), 2, "a detached record is written without anyone waiting on it");
    assert_eq!(writers.lock().unwrap().last().map(String::as_str), Some("audit-writer"));
    assert_eq!(verify(&path).unwrap().records, 2);
}
