//! How a held call hears that its request was decided. Today the waiter and
//! the decider share a process and a oneshot per request carries the
//! answer ([`LocalBus`]). Behind [`DecisionBus`] a shared setup can carry it
//! between processes instead (Redis pub/sub, PostgreSQL `LISTEN/NOTIFY`):
//! the process whose store write won publishes, the one holding the call
//! hears it.
//!
//! The bus carries news, never authority: a decision is published only
//! after the store's compare-and-set recorded it (see `store`).

use super::Answered;
use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::oneshot;

pub trait DecisionBus: Send + Sync {
    /// Starts listening for request `id`'s decision. Called before the
    /// request is recorded, so no decision can be published unheard.
    fn listen(&self, id: &str) -> oneshot::Receiver<Answered>;

    /// Request `id` was decided (and recorded): wakes whoever listens.
    /// Returns whether anyone here was still listening.
    fn publish(&self, id: &str, answered: Answered) -> bool;

    /// Stops listening for `id`: it ended without an answer to deliver
    /// (timed out, withdrawn, never recorded).
    fn forget(&self, id: &str);
}

/// The in-process bus: one oneshot per pending request.
#[derive(Default)]
pub struct LocalBus {
    waiting: Mutex<HashMap<String, oneshot::Sender<Answered>>>,
}

impl LocalBus {
    fn waiting(&self) -> std::sync::MutexGuard<'_, HashMap<String, oneshot::Sender<Answered>>> {
        self.waiting.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl DecisionBus for LocalBus {
    fn listen(&self, id: &str) -> oneshot::Receiver<Answered> {
        let (tx, rx) = oneshot::channel();
        self.waiting().insert(id.to_string(), tx);
        rx
    }

    fn publish(&self, id: &str, answered: Answered) -> bool {
        // Taken out first: a request is woken at most once.
        let Some(waiter) = self.waiting().remove(id) else { return false };
        waiter.send(answered).is_ok()
    }

    fn forget(&self, id: &str) {
        self.waiting().remove(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::approval::Answer;

    fn denial(reason: &str) -> Answered {
        (Answer::Denied { approver: "alice".into(), reason: reason.into() }, None)
    }

    #[test]
    fn a_request_is_woken_once_with_the_first_decision_published() {
        let bus = LocalBus::default();
        let mut heard = bus.listen("apr_1");
        assert!(bus.publish("apr_1", denial("first")));
        assert!(!bus.publish("apr_1", denial("second")), "nobody listens any more");
        assert_eq!(heard.try_recv().unwrap(), denial("first"));
    }

    #[test]
    fn a_decision_for_another_request_wakes_nobody() {
        let bus = LocalBus::default();
        let mut heard = bus.listen("apr_1");
        assert!(!bus.publish("apr_2", denial("elsewhere")));
        assert!(heard.try_recv().is_err(), "still waiting");
    }

    #[test]
    fn a_forgotten_request_hears_that_nothing_will_come() {
        let bus = LocalBus::default();
        let mut heard = bus.listen("apr_1");
        bus.forget("apr_1");
        assert!(matches!(heard.try_recv(), Err(oneshot::error::TryRecvError::Closed)));
        assert!(!bus.publish("apr_1", denial("late")));
    }
}
