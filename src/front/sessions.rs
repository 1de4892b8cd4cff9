//! The HTTP front's open sessions: each bound to the caller and endpoint
//! that opened it, found by its id, and closed by DELETE, by the idle sweep
//! (`[listen] session_idle_timeout`: many clients never send DELETE) or at
//! shutdown, each closing logged once. Dropping a session drops its
//! upstream connections, which kills their child processes. Idle sessions
//! may together hold only `[relay] max_idle_upstream_sessions` upstream
//! connections: beyond that, the longest-unused close before their timeout.

use super::streams::SessionStreams;
use super::Closed;
use crate::protocol::{Caller, ClientContext};
use crate::relay::{ClientSession, Scope, Unsolicited};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// Beyond this many open sessions, new ones are refused (503) rather than
/// letting memory grow without bound.
const MAX_SESSIONS: usize = 50_000;

/// The sweep runs at least this often (and four times per idle timeout
/// when that is shorter), so a session outlives its timeout by at most a
/// quarter of it and idle sessions exceed the cap on upstream connections
/// for about a second. A pass is a walk over the table: at the 50,000
/// sessions it may hold, a few milliseconds a second.
const MAX_SWEEP_INTERVAL: Duration = Duration::from_secs(1);

/// A GET stream's source; taken while a GET stream is open.
pub type StreamSource = Arc<Mutex<Option<Unsolicited>>>;

struct Entry {
    session: Arc<ClientSession>,
    /// What the session's `initialize` established; every request on the
    /// session is handled in it.
    context: Arc<ClientContext>,
    scope: Scope,
    unsolicited: StreamSource,
    /// What a client that reconnects with `Last-Event-ID` may still get.
    streams: Arc<SessionStreams>,
    last_seen: Instant,
    opened: Instant,
}

impl Drop for Entry {
    /// However the session goes (DELETE, expiry, shutdown), what it still
    /// has in flight is cancelled upstream: nobody can resume it any more.
    fn drop(&mut self) {
        self.session.end();
    }
}

impl Entry {
    /// Whether something still uses the session though no request came
    /// lately: a request being answered (its task holds the session; a call
    /// held for approval may wait long), or an open GET stream, through
    /// which the client waits for what the servers send.
    fn in_use(&self) -> bool {
        Arc::strong_count(&self.session) > 1 || self.unsolicited.lock().expect("stream slot").is_none()
    }

    fn closed(self, how: Closed) {
        super::log_closed(&self.session.label, &self.context, how, self.opened.elapsed());
    }
}

/// A session found for a request.
pub struct Found {
    pub session: Arc<ClientSession>,
    pub context: Arc<ClientContext>,
    pub unsolicited: StreamSource,
    pub streams: Arc<SessionStreams>,
}

pub struct Sessions {
    open: Mutex<HashMap<String, Entry>>,
    /// Upstream connections idle sessions may hold together.
    idle_cap: usize,
}

impl Sessions {
    pub fn new(idle_cap: usize) -> Sessions {
        Sessions { open: Mutex::new(HashMap::new()), idle_cap }
    }

    /// Whether another session may be opened.
    pub fn has_room(&self) -> bool {
        self.open.lock().expect("sessions lock").len() < MAX_SESSIONS
    }

    pub fn insert(
        &self,
        id: String,
        session: Arc<ClientSession>,
        context: Arc<ClientContext>,
        scope: Scope,
        unsolicited: Unsolicited,
        streams: Arc<SessionStreams>,
    ) {
        let now = Instant::now();
        let entry = Entry {
            session,
            context,
            scope,
            unsolicited: Arc::new(Mutex::new(Some(unsolicited))),
            streams,
            last_seen: now,
            opened: now,
        };
        self.open.lock().expect("sessions lock").insert(id, entry);
    }

    /// The session `id`, if `caller` opened it on this endpoint; using it
    /// keeps it open. Another caller presenting its id finds nothing.
    pub fn find(&self, id: &str, scope: Scope, caller: &Caller) -> Option<Found> {
        let mut open = self.open.lock().expect("sessions lock");
        let entry = open.get_mut(id).filter(|e| e.scope == scope && e.context.caller == *caller)?;
        entry.last_seen = Instant::now();
        Some(Found {
            session: entry.session.clone(),
            context: entry.context.clone(),
            unsolicited: entry.unsolicited.clone(),
            streams: entry.streams.clone(),
        })
    }

    /// Closes a session its client ended.
    pub fn delete(&self, id: &str) {
        let removed = self.open.lock().expect("sessions lock").remove(id);
        if let Some(entry) = removed {
            entry.closed(Closed::Deleted);
        }
    }

    /// Ends every session still open.
    pub fn close_all(&self) {
        let open = std::mem::take(&mut *self.open.lock().expect("sessions lock"));
        for entry in open.into_values() {
            entry.closed(Closed::Shutdown);
        }
    }

    /// Closes the sessions nobody used for `timeout`, and the longest-unused
    /// idle ones beyond the cap on idle upstream connections, until
    /// `sessions` is gone.
    pub async fn sweep_idle(sessions: Weak<Sessions>, timeout: Duration) {
        let interval = MAX_SWEEP_INTERVAL.min(timeout / 4);
        loop {
            tokio::time::sleep(interval).await;
            let Some(sessions) = sessions.upgrade() else { return };
            let now = Instant::now();
            let closing: Vec<(Entry, Closed)> = {
                let mut open = sessions.open.lock().expect("sessions lock");
                let mut closing: Vec<(Entry, Closed)> = open
                    .extract_if(|_, entry| {
                        if entry.in_use() {
                            entry.last_seen = now;
                        }
                        now.duration_since(entry.last_seen) >= timeout
                    })
                    .map(|(_, entry)| (entry, Closed::Idle(timeout)))
                    .collect();
                closing.extend(over_the_idle_cap(&mut open, sessions.idle_cap));
                closing
            };
            // Dropped outside the lock: closing kills the upstream children.
            for (entry, how) in closing {
                entry.closed(how);
            }
        }
    }
}

/// Removes the longest-unused idle sessions until idle sessions hold at
/// most `cap` upstream connections together.
fn over_the_idle_cap(open: &mut HashMap<String, Entry>, cap: usize) -> Vec<(Entry, Closed)> {
    // Counted first: the usual pass, under the cap, allocates nothing.
    let idle = |e: &Entry| if e.in_use() { 0 } else { e.session.upstream_sessions() };
    let mut held: usize = open.values().map(idle).sum();
    if held <= cap {
        return Vec::new();
    }
    let mut oldest: Vec<(Instant, usize, String)> = open
        .iter()
        .map(|(id, e)| (e.last_seen, idle(e), id))
        .filter(|(_, n, _)| *n > 0)
        .map(|(seen, n, id)| (seen, n, id.clone()))
        .collect();
    oldest.sort();
    let mut closing = Vec::new();
    for (_, n, id) in oldest {
        if held <= cap {
            break;
        }
        if let Some(entry) = open.remove(&id) {
            held -= n;
            closing.push((entry, Closed::IdleCap(cap)));
        }
    }
    closing
}
