//! The writer: records go through a bounded queue to whoever holds the
//! chain, and leave it in batches, one `write_all` each (group commit), so
//! concurrent calls share one write instead of taking turns on a lock and a
//! syscall each. A caller that must not act before its record is on file
//! (write-before-forward) awaits its own acknowledgement.
//!
//! Who writes: a caller that finds nobody writing becomes the leader and
//! writes the queue itself, everything that arrives meanwhile included,
//! before it returns; callers that find a leader at work only wait for it.
//! The sink's own thread writes what nobody waits on (a call's ending)
//! when no leader comes by within `DETACHED_DELAY`, and whatever is left
//! when the sink closes. Measured on this project's 2-core machines, handing
//! every record to a thread and waiting for it to wake cost two thread
//! wake-ups per call (about 0.1 ms at p50 on an idle machine, and a context
//! switch per call under load) for page-cache writes of a few microseconds;
//! see BENCHMARKS.md.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::SystemTime;

use tokio::sync::{oneshot, Semaphore};

use super::chains::{self, ClaimError};
use super::digest::sha256_hex;
use super::error::AuditError;
use super::record::{check_record, AuditEvent, EncodedEvent, GENESIS_PREV};

/// Records that may wait for the writer before `record` callers wait too.
/// At a few hundred bytes a record this caps the queue near 2 MB.
pub const QUEUE_CAPACITY: usize = 4096;
/// How long a detached record may wait for an awaited one to share its
/// write. Waking the writer for each record nothing waits on would cost a
/// thread hand-off per call; under load the next decision record carries
/// it out, and when the gateway goes quiet this bounds its delay.
const DETACHED_DELAY: std::time::Duration = std::time::Duration::from_millis(100);

/// What the writer has done so far: for the gateway's log and for benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SinkStats {
    /// Records written.
    pub records: u64,
    /// Successful `write_all` calls that wrote them: one per batch.
    pub batches: u64,
}

/// Where the writer's bytes go. Only the audit file in production; tests
/// put a disk that fills up behind it.
pub(super) trait LogFile: Write + Send + 'static {
    /// Cut the file back to `len` bytes, removing a partial write.
    fn truncate(&mut self, len: u64) -> io::Result<()>;
}

impl LogFile for File {
    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.set_len(len)
    }
}

/// Where the chain stands at the end of the file.
pub(super) struct ChainEnd {
    /// Bytes of complete records in the file; a failed write is truncated back to it.
    len: u64,
    last_seq: u64,
    /// Hex SHA-256 of the last line written, i.e. the next record's `prev`.
    last_hash: String,
}

struct Job {
    event: EncodedEvent,
    /// `None` for detached records: nobody waits, so failures are logged.
    ack: Option<oneshot::Sender<Result<(), AuditError>>>,
    /// Whether it took a slot of the queue's capacity (detached records
    /// queued while it was full did not).
    holds_room: bool,
}

struct Queue {
    jobs: VecDeque<Job>,
    /// An empty buffer with room, for the next leader's batch.
    spare: VecDeque<Job>,
    /// Queued jobs somebody waits on: the writer takes the queue as soon as there is one.
    awaited: usize,
    /// A leader (a caller or the sink's thread) is writing; whatever is
    /// queued meanwhile it writes too before it lets go.
    writing: bool,
    /// The writer sleeps until told (it found nothing to do for a whole
    /// `DETACHED_DELAY`): a detached record must wake it.
    parked: bool,
    /// The sink was dropped: write what is queued, then exit.
    closing: bool,
    /// The writer thread has exited; nothing queued now would be written.
    stopped: bool,
    #[cfg(test)]
    paused: bool,
}

impl Queue {
    #[cfg(test)]
    fn paused(&self) -> bool {
        self.paused
    }

    #[cfg(not(test))]
    fn paused(&self) -> bool {
        false
    }
}

/// What the callers and the writer thread share.
struct Shared {
    path: PathBuf,
    queue: Mutex<Queue>,
    /// The file and where its chain ends; held by the leader while it writes.
    chain: Mutex<ChainWriter>,
    /// Wakes the writer: a job was queued or the sink is closing.
    work: Condvar,
    /// One permit per free slot of the queue; `record` waits here when it is full.
    room: Semaphore,
    last_seq: AtomicU64,
    records: AtomicU64,
    batches: AtomicU64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // Nothing panics while holding the lock, and the queue is valid at every step.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn out_of_service(&self) -> AuditError {
        AuditError::OutOfService { path: self.path.clone() }
    }

    /// Queues a job. An awaited job whose caller finds nobody writing makes
    /// that caller the leader: it writes the queue before returning. A
    /// detached one wakes the thread only if it sleeps until told; a dozing
    /// thread, or the next leader, picks it up within `DETACHED_DELAY`.
    fn enqueue(&self, job: Job) -> Result<(), Job> {
        let mut queue = self.lock();
        if queue.stopped {
            return Err(job);
        }
        let awaited = job.ack.is_some();
        queue.awaited += usize::from(awaited);
        queue.jobs.push_back(job);
        if awaited && !queue.writing && !queue.paused() {
            self.lead(queue, false);
            return Ok(());
        }
        let wake = queue.parked;
        drop(queue);
        if wake {
            self.work.notify_one();
        }
        Ok(())
    }

    /// Writes batches until the queue is empty, as its one writer. With
    /// `closing`, a paused writer (tests) writes too.
    fn lead<'a>(&'a self, mut queue: MutexGuard<'a, Queue>, closing: bool) {
        queue.writing = true;
        // The queue's spare buffer: swapped with the queue and back, so
        // neither is allocated again per batch.
        let mut batch = std::mem::take(&mut queue.spare);
        loop {
            if queue.jobs.is_empty() || (queue.paused() && !closing) {
                queue.writing = false;
                queue.spare = batch;
                return;
            }
            std::mem::swap(&mut queue.jobs, &mut batch);
            queue.awaited = 0;
            drop(queue);
            self.room.add_permits(batch.iter().filter(|job| job.holds_room).count());
            self.chain.lock().unwrap_or_else(PoisonError::into_inner).write_batch(&mut batch, self);
            queue = self.lock();
        }
    }

    fn answer(&self, job: Job, result: Result<(), AuditError>) {
        match (job.ack, result) {
            (Some(ack), result) => {
                // The caller may have stopped waiting; the record's fate stands anyway.
                let _ = ack.send(result);
            }
            (None, Ok(())) => {}
            (None, Err(e)) => tracing::error!(audit = %self.path.display(), "a detached audit record was lost: {e}"),
        }
    }
}

/// Appends hash-chained records to one file through its own writer thread.
/// `Send + Sync`; share it in an `Arc`.
///
/// `seq` order is the order records are queued. Dropping the sink lets the
/// thread write everything already queued, and waits for it.
pub struct AuditSink {
    /// `None` for [`AuditSink::discard`].
    shared: Option<Arc<Shared>>,
    writer: Option<JoinHandle<()>>,
    /// The chain this sink writes: 1 for the configured file, more when
    /// other processes hold the lower ones (see `chains`).
    chain: u32,
}

impl AuditSink {
    /// Open (create with mode 0600, or append to) the configured file, or
    /// the first numbered chain file beside it that no other process holds
    /// ([`AuditSink::path`] says which), lock it for the sink's life, and
    /// start the writer thread. If the file already has records, the last
    /// line gives the next `seq` and `prev`. Refuses to start if that line
    /// is not a valid record (a torn write, an edit), since appending to it
    /// would produce a chain that can never verify.
    ///
    /// Only the last line is read, so opening is fast on large files; use
    /// [`super::verify`] to check the whole chain.
    pub fn open(path: &Path) -> Result<AuditSink, AuditError> {
        let claimed = match chains::claim(path) {
            Ok(claimed) => claimed,
            Err(ClaimError::Io(path, source)) => return Err(AuditError::Open { path, source }),
            Err(ClaimError::AllTaken) => {
                return Err(AuditError::AllChainsTaken { path: path.to_path_buf(), max: chains::MAX_CHAINS })
            }
        };
        let (file, end) = chain_end(claimed.file, &claimed.path)?;
        let mut sink = AuditSink::start(&claimed.path, file, end, QUEUE_CAPACITY)?;
        sink.chain = claimed.number;
        Ok(sink)
    }

    /// Starts the writer thread on an opened file whose chain ends at `end`.
    pub(super) fn start<F: LogFile>(
        path: &Path,
        file: F,
        end: ChainEnd,
        capacity: usize,
    ) -> Result<AuditSink, AuditError> {
        let last_seq = end.last_seq;
        let shared = Arc::new(Shared {
            path: path.to_path_buf(),
            queue: Mutex::new(Queue {
                jobs: VecDeque::new(),
                spare: VecDeque::new(),
                awaited: 0,
                writing: false,
                parked: false,
                closing: false,
                stopped: false,
                #[cfg(test)]
                paused: false,
            }),
            chain: Mutex::new(ChainWriter { file: Box::new(file), end, out_of_service: false, bytes: Vec::new() }),
            work: Condvar::new(),
            room: Semaphore::new(capacity),
            last_seq: AtomicU64::new(last_seq),
            records: AtomicU64::new(0),
            batches: AtomicU64::new(0),
        });
        let thread_shared = Arc::clone(&shared);
        let handle = std::thread::Builder::new()
            .name("audit-writer".into())
            .spawn(move || run_flusher(&thread_shared))
            .map_err(|source| AuditError::Open { path: path.to_path_buf(), source })?;
        Ok(AuditSink { shared: Some(shared), writer: Some(handle), chain: 1 })
    }

    /// A sink that keeps nothing (tests, or auditing disabled); `record` always succeeds.
    pub fn discard() -> AuditSink {
        AuditSink { shared: None, writer: None, chain: 1 }
    }

    /// The file this sink writes (`None` for `discard`): the configured
    /// path, or a numbered chain file beside it.
    pub fn path(&self) -> Option<&Path> {
        self.shared.as_ref().map(|shared| shared.path.as_path())
    }

    /// Which chain of the configured path this sink writes: 1 for the
    /// configured file itself. Per-process files (the approval store) take
    /// the same number.
    pub fn chain(&self) -> u32 {
        self.chain
    }

    /// `seq` of the last record written (0 if none; always 0 for `discard`).
    /// Logged by the gateway so that a cut tail can be noticed: see the module docs.
    pub fn last_seq(&self) -> u64 {
        self.shared.as_ref().map_or(0, |shared| shared.last_seq.load(Ordering::Acquire))
    }

    /// Records and writes so far (zero for `discard`).
    pub fn stats(&self) -> SinkStats {
        self.shared.as_ref().map_or(SinkStats::default(), |shared| SinkStats {
            records: shared.records.load(Ordering::Relaxed),
            batches: shared.batches.load(Ordering::Relaxed),
        })
    }

    /// Queue one record and resolve once it is written. The writer adds
    /// `time` (RFC 3339, UTC, milliseconds), `seq` and `prev`.
    ///
    /// "Written" means handed to the operating system by a `write` that
    /// returned; it survives a crash of the gateway, not a power loss (no
    /// fsync). When the queue is full this waits for room. On error the
    /// chain is left as it was (a partial line is truncated away) and the
    /// caller must block the call it was recording. Dropping the future
    /// after it has queued the record does not withdraw the record.
    pub async fn record(&self, event: &AuditEvent) -> Result<(), AuditError> {
        let Some(shared) = &self.shared else { return Ok(()) };
        let event = EncodedEvent::new(event).map_err(AuditError::Encode)?;
        // Closed only when the writer has stopped.
        let permit = shared.room.acquire().await.map_err(|_| shared.out_of_service())?;
        let (ack, written) = oneshot::channel();
        if shared.enqueue(Job { event, ack: Some(ack), holds_room: true }).is_err() {
            return Err(shared.out_of_service());
        }
        // The writer gives the slot back when it takes the job.
        permit.forget();
        // A writer that died with the job queued drops the sender: fail closed.
        written.await.unwrap_or_else(|_| Err(shared.out_of_service()))
    }

    /// [`AuditSink::record`] for code that cannot await (start-up, a `Drop`):
    /// blocks the calling thread until the record is written. The writer is
    /// its own thread, so this never waits on the runtime it may be called
    /// from; the wait is one batch write, or room in a full queue.
    pub fn record_blocking(&self, event: &AuditEvent) -> Result<(), AuditError> {
        futures::executor::block_on(self.record(event))
    }

    /// Queue a record that nothing waits on (a call's completion) and
    /// return at once; a failure to write it is logged. It is chained in
    /// queue order with every other record. Never dropped for want of room:
    /// when the queue is full it is queued beyond the capacity, and such
    /// records only follow calls whose own decision record already waited
    /// for room, so the overdraft is bounded by the calls in flight.
    pub fn record_detached(&self, event: AuditEvent) {
        let Some(shared) = &self.shared else { return };
        let event = match EncodedEvent::new(&event) {
            Ok(event) => event,
            Err(e) => {
                tracing::error!(audit = %shared.path.display(), "cannot encode an audit record: {e}");
                return;
            }
        };
        let holds_room = match shared.room.try_acquire() {
            Ok(permit) => {
                permit.forget();
                true
            }
            Err(_) => false,
        };
        if let Err(job) = shared.enqueue(Job { event, ack: None, holds_room }) {
            shared.answer(job, Err(shared.out_of_service()));
        }
    }

    /// Holds the writer before its next batch, so a test can line records up.
    #[cfg(test)]
    pub(super) fn pause_writer(&self) {
        self.shared.as_ref().expect("a file sink").lock().paused = true;
    }

    #[cfg(test)]
    pub(super) fn resume_writer(&self) {
        let shared = self.shared.as_ref().expect("a file sink");
        shared.lock().paused = false;
        shared.work.notify_one();
    }

    /// Records queued and not yet taken by the writer.
    #[cfg(test)]
    pub(super) fn queued(&self) -> usize {
        self.shared.as_ref().expect("a file sink").lock().jobs.len()
    }
}

impl Drop for AuditSink {
    fn drop(&mut self) {
        let Some(shared) = &self.shared else { return };
        shared.lock().closing = true;
        shared.work.notify_one();
        if let Some(writer) = self.writer.take() {
            // Detached records still queued are written before the sink is gone.
            if writer.join().is_err() {
                tracing::error!(audit = %shared.path.display(), "the audit writer thread panicked");
            }
        }
    }
}

/// The open file and where its chain stands; whoever writes holds it.
struct ChainWriter {
    file: Box<dyn LogFile>,
    end: ChainEnd,
    /// Set when a failed write could not be rolled back: appending after a
    /// partial line would break the chain for every later record.
    out_of_service: bool,
    /// The batch being written, kept to reuse its allocation.
    bytes: Vec<u8>,
}

/// The sink's thread: writes what nobody waits on when no leader comes by,
/// and everything left when the sink closes. Sleeps until told once the
/// gateway has been quiet for a whole `DETACHED_DELAY`.
fn run_flusher(shared: &Shared) {
    let _stopped = StopGuard(shared);
    let mut queue = shared.lock();
    let mut quiet = false;
    loop {
        if queue.closing {
            // Write what is left (a leader may still be at it: then wait for it).
            while queue.writing {
                queue = shared.work.wait_timeout(queue, DETACHED_DELAY).unwrap_or_else(PoisonError::into_inner).0;
            }
            shared.lead(queue, true);
            return;
        }
        let due = queue.awaited > 0 || (quiet && !queue.jobs.is_empty());
        if due && !queue.writing && !queue.paused() {
            shared.lead(queue, false);
            queue = shared.lock();
            quiet = false;
            continue;
        }
        if quiet && queue.jobs.is_empty() {
            // Nothing at all for a while: sleep until a record comes.
            queue.parked = true;
            queue = shared.work.wait(queue).unwrap_or_else(PoisonError::into_inner);
            queue.parked = false;
            quiet = false;
            continue;
        }
        let (guard, waited) = shared.work.wait_timeout(queue, DETACHED_DELAY).unwrap_or_else(PoisonError::into_inner);
        queue = guard;
        quiet = waited.timed_out();
    }
}

impl ChainWriter {
    /// Chains, writes and acknowledges one batch: one `write_all` for all of
    /// it, and one outcome for all of it.
    fn write_batch(&mut self, batch: &mut VecDeque<Job>, shared: &Shared) {
        if self.out_of_service {
            for job in batch.drain(..) {
                shared.answer(job, Err(shared.out_of_service()));
            }
            return;
        }
        // One timestamp for the batch: the records are written together, and time follows seq.
        let time = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
        let mut seq = self.end.last_seq;
        let mut prev = self.end.last_hash.clone();
        let bytes = &mut self.bytes;
        bytes.clear();
        for job in batch.iter() {
            seq += 1;
            let start = bytes.len();
            job.event.write_line(seq, &time, &prev, bytes);
            prev = sha256_hex(&bytes[start..]);
            bytes.push(b'\n');
        }

        match self.file.write_all(bytes).and_then(|()| self.file.flush()) {
            Ok(()) => {
                let written = seq - self.end.last_seq;
                self.end = ChainEnd { len: self.end.len + bytes.len() as u64, last_seq: seq, last_hash: prev };
                // Before the acknowledgements, so a caller that was answered sees its own seq.
                shared.last_seq.store(seq, Ordering::Release);
                shared.records.fetch_add(written, Ordering::Relaxed);
                shared.batches.fetch_add(1, Ordering::Relaxed);
                for job in batch.drain(..) {
                    shared.answer(job, Ok(()));
                }
            }
            Err(source) => {
                if self.file.truncate(self.end.len).is_err() {
                    self.out_of_service = true;
                }
                for job in batch.drain(..) {
                    // io::Error is not Clone: each caller gets its own copy.
                    let source = io::Error::new(source.kind(), source.to_string());
                    shared.answer(job, Err(AuditError::Write { path: shared.path.clone(), source }));
                }
            }
        }
    }
}

/// Marks the writer gone however its thread ends, so that nobody queues or
/// waits for a writer that is not there: waiting callers fail closed.
struct StopGuard<'a>(&'a Shared);

impl Drop for StopGuard<'_> {
    fn drop(&mut self) {
        let shared = self.0;
        let orphans = {
            let mut queue = shared.lock();
            queue.stopped = true;
            std::mem::take(&mut queue.jobs)
        };
        shared.room.close();
        for job in orphans {
            shared.answer(job, Err(shared.out_of_service()));
        }
    }
}

/// Opens (or creates) exactly `path` for appending, locked against other
/// writers, and finds where its chain ends; for tests that put their own
/// file behind the writer. A file another writer holds is an error here.
#[cfg(test)]
pub(super) fn open_chain(path: &Path) -> Result<(File, ChainEnd), AuditError> {
    let open_error = |source| AuditError::Open { path: path.to_path_buf(), source };
    match chains::try_lock(path).map_err(open_error)? {
        Some(file) => chain_end(file, path),
        None => Err(open_error(io::Error::other("another writer holds it"))),
    }
}

/// Where the chain of a locked file ends.
fn chain_end(mut file: File, path: &Path) -> Result<(File, ChainEnd), AuditError> {
    let open_error = |source| AuditError::Open { path: path.to_path_buf(), source };
    let mut len = file.metadata().map_err(open_error)?.len();
    if len == 0 {
        return Ok((file, ChainEnd { len, last_seq: 0, last_hash: GENESIS_PREV.to_string() }));
    }
    let (line, has_newline) = read_last_line(&mut file, len).map_err(open_error)?;
    let head = check_record(&line).map_err(|reason| AuditError::CorruptTail { path: path.to_path_buf(), reason })?;
    if !has_newline {
        // A complete record that lost its newline (e.g. an editor): end the
        // line so the next record does not join it. The line's bytes, and so
        // its hash, are unchanged.
        file.write_all(b"\n").map_err(open_error)?;
        len += 1;
    }
    Ok((file, ChainEnd { len, last_seq: head.seq, last_hash: sha256_hex(&line) }))
}

/// The last line of a non-empty file, without its newline, and whether it had one.
fn read_last_line(file: &mut File, len: u64) -> io::Result<(Vec<u8>, bool)> {
    const CHUNK: u64 = 8 * 1024;
    let mut last_byte = [0u8; 1];
    file.seek(SeekFrom::Start(len - 1))?;
    file.read_exact(&mut last_byte)?;
    let has_newline = last_byte[0] == b'\n';
    let end = if has_newline { len - 1 } else { len };

    // Walk back from `end` until the newline that ends the previous line.
    let mut start = end;
    let line_start = loop {
        let chunk_start = start.saturating_sub(CHUNK);
        let mut chunk = vec![0u8; (start - chunk_start) as usize];
        file.seek(SeekFrom::Start(chunk_start))?;
        file.read_exact(&mut chunk)?;
        if let Some(pos) = chunk.iter().rposition(|&b| b == b'\n') {
            break chunk_start + pos as u64 + 1;
        }
        if chunk_start == 0 {
            break 0;
        }
        start = chunk_start;
    };

    let mut line = vec![0u8; (end - line_start) as usize];
    file.seek(SeekFrom::Start(line_start))?;
    file.read_exact(&mut line)?;
    Ok((line, has_newline))
}
