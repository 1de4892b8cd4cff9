//! The thread every store call runs on. SQLite (like any blocking client)
//! must not run on a Tokio worker: a slow disk would stall every session
//! scheduled there. One thread owns the store and runs the broker's work
//! one job at a time, in the order it was queued, which also makes the
//! store's compare-and-set trivially serial within one process.
//!
//! A job is the store call *and* what the broker does with its result
//! (`broker::settle_*`): it runs to the end on this thread even when the
//! async caller that queued it has gone away (a dropped HTTP request, a
//! client that hung up), so a decision in the store is never left without
//! its wake-up.

use super::{ApprovalStore, StoreError};
use std::panic::AssertUnwindSafe;
use tokio::sync::{mpsc, oneshot};

/// The name the store thread runs under (tests check store work runs there).
pub const THREAD_NAME: &str = "approval-store";
/// Jobs waiting for the store; beyond this, callers wait for room.
const QUEUE: usize = 1024;

type Job = Box<dyn FnOnce(&mut dyn ApprovalStore) + Send>;

/// The queue to the store's thread. The thread ends when the last handle is
/// dropped and the queued jobs have run.
pub struct StoreThread {
    jobs: mpsc::Sender<Job>,
}

fn gone() -> StoreError {
    StoreError("the store thread has stopped".into())
}

impl StoreThread {
    /// Starts the thread: opens the store there, runs `first` on it and
    /// returns its result once done. Blocks the caller until then: it is
    /// meant for start-up, before anything is served.
    pub fn start<R: Send + 'static>(
        open: impl FnOnce() -> Result<Box<dyn ApprovalStore>, StoreError> + Send + 'static,
        first: impl FnOnce(&mut dyn ApprovalStore) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<(StoreThread, R), StoreError> {
        let (jobs, mut queue) = mpsc::channel::<Job>(QUEUE);
        let (started, start_result) = std::sync::mpsc::sync_channel(1);
        std::thread::Builder::new()
            .name(THREAD_NAME.into())
            .spawn(move || {
                let mut store = match open() {
                    Ok(store) => store,
                    Err(e) => {
                        let _ = started.send(Err(e));
                        return;
                    }
                };
                let _ = started.send(first(store.as_mut()));
                while let Some(job) = queue.blocking_recv() {
                    // A panic in one job must not take the store away from
                    // every later call; its caller hears a store error.
                    if std::panic::catch_unwind(AssertUnwindSafe(|| job(store.as_mut()))).is_err() {
                        tracing::error!("an approval store job panicked; its caller was told the store failed");
                    }
                }
            })
            .map_err(|e| StoreError(format!("cannot start the store thread: {e}")))?;
        let first = start_result.recv().map_err(|_| gone())??;
        Ok((StoreThread { jobs }, first))
    }

    /// Runs `work` on the store thread and returns its result. If the
    /// caller stops waiting, `work` still runs to the end.
    pub async fn run<R: Send + 'static>(
        &self,
        work: impl FnOnce(&mut dyn ApprovalStore) -> R + Send + 'static,
    ) -> Result<R, StoreError> {
        let (reply, result) = oneshot::channel();
        let job: Job = Box::new(move |store| {
            let _ = reply.send(work(store));
        });
        self.jobs.send(job).await.map_err(|_| gone())?;
        result.await.map_err(|_| gone())
    }
}
