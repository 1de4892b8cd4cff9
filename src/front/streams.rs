//! The resumable SSE streams of one Streamable HTTP session (MCP
//! "Resumability and Redelivery"): every event carries an id `<stream>-<n>`
//! naming its stream and its place in it, the last `[listen] replay_buffer`
//! events of each stream are kept, and a client that reconnects with GET and
//! `Last-Event-ID` gets the rest of that stream and only that stream,
//! including the answer to a request whose POST stream dropped.
//!
//! Stream 0 is the session's GET stream; each POST answered with SSE opens
//! the next number. A request stream is filled by a task of its own, so
//! what the relay sends while the client is away is kept rather than lost,
//! and the relay never learns of the disconnection (it is not a
//! cancellation). The task ends, and with it the relay's stream, when the
//! relay has sent the answer or the session ends.

use axum::response::sse::Event;
use futures::Stream;
use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::{CancellationToken, DropGuard};

/// The session's GET stream.
pub const GET_STREAM: u64 = 0;
/// Answered request streams kept for a late resumption, per session.
const FINISHED_KEPT: usize = 16;
/// How long an answered request stream is kept for a late resumption.
const FINISHED_FOR: Duration = Duration::from_secs(5 * 60);

/// Where a `Last-Event-ID` points: a stream, and the last event of it the
/// client has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor {
    pub stream: u64,
    pub seen: u64,
}

impl Cursor {
    /// Reads an id this gateway gave; anything else is no cursor.
    pub fn parse(id: &str) -> Option<Cursor> {
        let (stream, seen) = id.trim().split_once('-')?;
        let digits = |s: &str| !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(stream) || !digits(seen) {
            return None;
        }
        Some(Cursor { stream: stream.parse().ok()?, seen: seen.parse().ok()? })
    }
}

fn event_id(stream: u64, seq: u64) -> String {
    format!("{stream}-{seq}")
}

/// Every stream of one session that can still be resumed.
pub struct SessionStreams {
    replay: usize,
    registry: Mutex<Registry>,
    /// Cancelled when the session's entry goes: the filling tasks end, which
    /// closes the relay's streams.
    ended: CancellationToken,
    _end: DropGuard,
}

struct Registry {
    next: u64,
    streams: HashMap<u64, Arc<Replay>>,
}

impl SessionStreams {
    pub fn new(replay: usize) -> Arc<SessionStreams> {
        let ended = CancellationToken::new();
        // The GET stream's buffer is made when a client first opens it: most
        // sessions never do.
        Arc::new(SessionStreams {
            replay,
            registry: Mutex::new(Registry { next: GET_STREAM + 1, streams: HashMap::new() }),
            _end: ended.clone().drop_guard(),
            ended,
        })
    }

    /// A new request stream, starting with `first` when the relay has sent
    /// something already, then filled from `rx` until the relay lets go.
    pub fn open(&self, first: Option<&Value>, rx: mpsc::Receiver<Value>) -> Arc<Replay> {
        let stream = {
            let mut registry = self.registry.lock().expect("streams lock");
            registry.prune();
            let number = registry.next;
            registry.next += 1;
            let stream = Arc::new(Replay::new(number, self.replay));
            registry.streams.insert(number, stream.clone());
            stream
        };
        if let Some(first) = first {
            stream.push(first);
        }
        tokio::spawn(fill(stream.clone(), rx, self.ended.clone()));
        stream
    }

    /// The stream a cursor names, if it is still kept.
    pub fn find(&self, stream: u64) -> Option<Arc<Replay>> {
        let mut registry = self.registry.lock().expect("streams lock");
        registry.prune();
        if stream == GET_STREAM {
            let replay = self.replay;
            return Some(
                registry.streams.entry(GET_STREAM).or_insert_with(|| Arc::new(Replay::new(GET_STREAM, replay))).clone(),
            );
        }
        registry.streams.get(&stream).cloned()
    }
}

impl Registry {
    /// Forgets answered streams beyond the newest `FINISHED_KEPT`, and those
    /// answered more than `FINISHED_FOR` ago.
    fn prune(&mut self) {
        let mut finished: Vec<(u64, Instant)> =
            self.streams.values().filter_map(|s| Some((s.number, s.finished_at()?))).collect();
        finished.sort_by_key(|&(number, _)| std::cmp::Reverse(number));
        for (kept, (number, at)) in finished.into_iter().enumerate() {
            if kept >= FINISHED_KEPT || at.elapsed() > FINISHED_FOR {
                self.streams.remove(&number);
            }
        }
    }
}

/// One stream's last events.
pub struct Replay {
    number: u64,
    cap: usize,
    state: Mutex<Buffer>,
    /// Bumped on every change, to wake the reader and the filling task.
    changed: watch::Sender<u64>,
}

struct Buffer {
    /// (sequence number from 1, the event's data), oldest first.
    events: VecDeque<(u64, Arc<str>)>,
    last: u64,
    finished: Option<Instant>,
    /// The connection reading the stream now (0: none); a new one takes
    /// over from an older one, so each event goes to one connection.
    reader: u64,
    readers: u64,
    /// The last event handed to the current reader.
    delivered: u64,
}

impl Replay {
    fn new(number: u64, cap: usize) -> Replay {
        let state = Buffer { events: VecDeque::new(), last: 0, finished: None, reader: 0, readers: 0, delivered: 0 };
        Replay { number, cap: cap.max(1), state: Mutex::new(state), changed: watch::channel(0).0 }
    }

    fn finished_at(&self) -> Option<Instant> {
        self.state.lock().expect("stream lock").finished
    }

    fn wake(&self) {
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Keeps a message; returns its event id. Beyond the cap the oldest
    /// event is forgotten.
    pub fn push(&self, msg: &Value) -> String {
        let seq = {
            let mut state = self.state.lock().expect("stream lock");
            state.last += 1;
            let seq = state.last;
            state.events.push_back((seq, Arc::from(msg.to_string())));
            while state.events.len() > self.cap {
                state.events.pop_front();
            }
            seq
        };
        self.wake();
        event_id(self.number, seq)
    }

    /// Whether the reader has `cap` events it has not taken: the filling
    /// task waits rather than forget what the reader still needs.
    fn reader_lags(&self) -> bool {
        let state = self.state.lock().expect("stream lock");
        state.reader != 0 && state.last - state.delivered >= self.cap as u64
    }

    fn finish(&self) {
        self.state.lock().expect("stream lock").finished = Some(Instant::now());
        self.wake();
    }

    /// Kept events after `seen`, with their ids (the GET stream's replay).
    pub fn after(&self, seen: u64) -> Vec<(String, Arc<str>)> {
        let state = self.state.lock().expect("stream lock");
        state
            .events
            .iter()
            .filter(|(seq, _)| *seq > seen)
            .map(|(seq, data)| (event_id(self.number, *seq), data.clone()))
            .collect()
    }

    fn attach(&self, seen: u64) -> u64 {
        let reader = {
            let mut state = self.state.lock().expect("stream lock");
            state.readers += 1;
            state.reader = state.readers;
            state.delivered = seen;
            state.reader
        };
        // An older connection still reading learns it was replaced.
        self.wake();
        reader
    }

    fn detach(&self, reader: u64) {
        let mut state = self.state.lock().expect("stream lock");
        if state.reader == reader {
            state.reader = 0;
            drop(state);
            self.wake();
        }
    }

    fn next_for(&self, reader: u64, cursor: u64) -> Next {
        let mut state = self.state.lock().expect("stream lock");
        if state.reader != reader {
            return Next::Replaced;
        }
        if let Some((seq, data)) = state.events.iter().find(|(seq, _)| *seq > cursor).cloned() {
            if seq > cursor + 1 {
                tracing::debug!(
                    stream = self.number,
                    "a resumed stream lost {} event(s) to the replay buffer's cap",
                    seq - cursor - 1
                );
            }
            state.delivered = seq;
            drop(state);
            self.wake();
            return Next::Event(seq, data);
        }
        if state.finished.is_some() {
            Next::End
        } else {
            Next::Wait
        }
    }
}

enum Next {
    Event(u64, Arc<str>),
    Wait,
    End,
    Replaced,
}

/// Takes what the relay sends for one request into the stream's buffer,
/// whether or not a client is connected, until the relay lets go.
async fn fill(stream: Arc<Replay>, mut rx: mpsc::Receiver<Value>, ended: CancellationToken) {
    let mut changes = stream.changed.subscribe();
    loop {
        changes.borrow_and_update();
        if stream.reader_lags() {
            tokio::select! {
                _ = changes.changed() => continue,
                () = ended.cancelled() => return,
            }
        }
        let msg = tokio::select! {
            msg = rx.recv() => msg,
            () = ended.cancelled() => return,
        };
        match msg {
            Some(msg) => {
                stream.push(&msg);
            }
            None => return stream.finish(),
        }
    }
}

pub fn message_event(id: &str, data: &str) -> Event {
    Event::default().event("message").id(id).data(data)
}

/// Reads one request stream from after `seen` for one connection: kept
/// events, then new ones as they come, ending after the relay's last. At
/// `deadline` (shutdown's drain deadline) it ends with `cut_off`'s event.
/// `prime` first sends an event with an id and no data, so a client can
/// resume even a stream that drops before its first message (2025-11-25).
pub fn read(
    stream: Arc<Replay>,
    seen: u64,
    prime: bool,
    deadline: CancellationToken,
    cut_off: Value,
    guard: impl Send + 'static,
) -> impl Stream<Item = Result<Event, Infallible>> {
    struct Reading<G> {
        stream: Arc<Replay>,
        reader: u64,
        cursor: u64,
        prime: bool,
        changes: watch::Receiver<u64>,
        deadline: CancellationToken,
        cut_off: Option<Value>,
        _guard: G,
    }
    impl<G> Drop for Reading<G> {
        fn drop(&mut self) {
            self.stream.detach(self.reader);
        }
    }
    let reader = stream.attach(seen);
    let changes = stream.changed.subscribe();
    let state =
        Reading { stream, reader, cursor: seen, prime, changes, deadline, cut_off: Some(cut_off), _guard: guard };
    futures::stream::unfold(Some(state), |state| async move {
        let mut state = state?;
        if std::mem::take(&mut state.prime) {
            let primer = Event::default().id(event_id(state.stream.number, state.cursor)).data("");
            return Some((Ok(primer), Some(state)));
        }
        loop {
            state.changes.borrow_and_update();
            match state.stream.next_for(state.reader, state.cursor) {
                Next::Event(seq, data) => {
                    state.cursor = seq;
                    let event = message_event(&event_id(state.stream.number, seq), &data);
                    return Some((Ok(event), Some(state)));
                }
                Next::End | Next::Replaced => return None,
                Next::Wait => {}
            }
            tokio::select! {
                biased;
                _ = state.changes.changed() => {}
                () = state.deadline.cancelled() => {
                    let cut_off = state.cut_off.take().unwrap_or(Value::Null);
                    return Some((Ok(Event::default().event("message").data(cut_off.to_string())), None));
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;
    use serde_json::json;

    #[test]
    fn only_ids_this_gateway_gives_are_cursors() {
        assert_eq!(Cursor::parse("3-17"), Some(Cursor { stream: 3, seen: 17 }));
        assert_eq!(Cursor::parse("0-0"), Some(Cursor { stream: 0, seen: 0 }));
        for junk in ["", "3", "-1", "3-", "a-1", "3-1-2", "3 - 1", "99999999999999999999999-1", "+3-1"] {
            assert_eq!(Cursor::parse(junk), None, "{junk:?}");
        }
    }

    #[test]
    fn a_stream_keeps_only_its_last_events() {
        let stream = Replay::new(4, 3);
        for n in 1..=5 {
            assert_eq!(stream.push(&json!(n)), format!("4-{n}"));
        }
        let kept: Vec<String> = stream.after(0).into_iter().map(|(id, _)| id).collect();
        assert_eq!(kept, ["4-3", "4-4", "4-5"]);
        assert_eq!(stream.after(4).len(), 1);
    }

    #[tokio::test]
    async fn a_dropped_request_stream_is_still_filled_and_resumes_where_the_client_stopped() {
        let streams = SessionStreams::new(100);
        let (tx, rx) = mpsc::channel(4);
        let stream = streams.open(None, rx);
        let mut first = Box::pin(read(stream.clone(), 0, false, CancellationToken::new(), Value::Null, ()));
        tx.send(json!({"progress": 1})).await.unwrap();
        assert!(first.next().await.is_some());
        drop(first);
        // Nobody reads now; the relay is not held up and nothing is lost.
        for n in 2..=10 {
            tx.send(json!({"progress": n})).await.unwrap();
        }
        tx.send(json!({"result": "done"})).await.unwrap();
        drop(tx);
        let found = streams.find(stream.number).expect("the stream is kept");
        let rest: Vec<_> = read(found, 1, false, CancellationToken::new(), Value::Null, ()).collect().await;
        assert_eq!(rest.len(), 10, "progress 2..=10 and the result, each once");
    }

    #[tokio::test]
    async fn a_new_connection_takes_the_stream_from_an_old_one() {
        let streams = SessionStreams::new(100);
        let (tx, rx) = mpsc::channel(4);
        let stream = streams.open(None, rx);
        let mut old = Box::pin(read(stream.clone(), 0, false, CancellationToken::new(), Value::Null, ()));
        let mut new = Box::pin(read(stream.clone(), 0, false, CancellationToken::new(), Value::Null, ()));
        tx.send(json!(1)).await.unwrap();
        drop(tx);
        assert!(new.next().await.is_some());
        assert!(new.next().await.is_none(), "the stream ends after the relay's last message");
        assert!(old.next().await.is_none(), "the replaced connection gets nothing");
    }

    #[test]
    fn answered_streams_are_forgotten_beyond_the_newest_few() {
        let streams = SessionStreams::new(10);
        let numbers: Vec<u64> = (0..FINISHED_KEPT + 5)
            .map(|_| {
                let mut registry = streams.registry.lock().unwrap();
                let number = registry.next;
                registry.next += 1;
                let stream = Arc::new(Replay::new(number, 10));
                stream.finish();
                registry.streams.insert(number, stream);
                number
            })
            .collect();
        assert!(streams.find(numbers[0]).is_none(), "the oldest answered stream is gone");
        assert!(streams.find(*numbers.last().unwrap()).is_some());
        assert!(streams.find(GET_STREAM).is_some(), "the GET stream is never pruned");
    }
}
