//! Server-sent events, parsed incrementally from the byte chunks of an HTTP
//! body, with a hard cap on what one event may make the gateway hold.
//!
//! Follows the WHATWG event-stream rules: `data`, `event`, `id` and `retry`
//! fields, `:` comments, one optional space after the colon, CR, LF or CRLF
//! line ends (a CRLF may be split between chunks), `data` lines joined with
//! `\n`, an event dispatched by a blank line, a BOM skipped at the start, and
//! an unfinished event discarded at the end of the stream.
//!
//! A generic parser buffers `data` lines until the blank line that may never
//! come; this one counts them, and fails the stream the moment one event's
//! data (or any one line) passes the cap, having buffered nothing beyond it.

const BOM: &[u8] = "\u{feff}".as_bytes();

/// The longest field prefix a `data` line carries on top of its value
/// (`data: `), so that an event of exactly the cap still fits on one line.
const DATA_PREFIX: usize = "data: ".len();

/// Line buffers up to this size are kept for the next line.
const REUSED_LINE_BYTES: usize = 8 * 1024;

/// One dispatched event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event` field, `"message"` when the server gave none.
    pub event: String,
    pub data: String,
    /// The last event id in force when this event was dispatched.
    pub id: Option<String>,
}

/// Why a stream can no longer be read. Once returned, the parser stays
/// failed: the rest of the stream belongs to an event already given up on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SseError {
    #[error("an SSE event was larger than {0} bytes")]
    EventTooLarge(usize),
    #[error("an SSE line was larger than {0} bytes")]
    LineTooLarge(usize),
}

pub struct SseParser {
    cap: usize,
    /// The line read so far, without its line end.
    line: Vec<u8>,
    /// The previous chunk ended in CR: an LF opening this one ends nothing.
    after_cr: bool,
    /// Nothing has been read yet, so a BOM may still be (partly) in `line`.
    at_start: bool,
    /// The event's `data` so far, each line followed by `\n` as the standard
    /// has it (the last one is dropped at dispatch).
    data: Vec<u8>,
    event: String,
    last_event_id: Option<String>,
    retry_ms: Option<u64>,
    failed: Option<SseError>,
}

impl SseParser {
    /// A parser whose events may carry at most `cap` bytes of data.
    pub fn new(cap: usize) -> SseParser {
        SseParser {
            cap,
            line: Vec::new(),
            after_cr: false,
            at_start: true,
            data: Vec::new(),
            event: String::new(),
            last_event_id: None,
            retry_ms: None,
            failed: None,
        }
    }

    /// The id of the last event seen, for resuming with `Last-Event-ID`.
    pub fn last_event_id(&self) -> Option<&str> {
        self.last_event_id.as_deref()
    }

    /// The reconnection delay the server asked for, in milliseconds.
    pub fn retry_ms(&self) -> Option<u64> {
        self.retry_ms
    }

    /// Reads one chunk. Events it completes are pushed to `events`, even
    /// when the chunk then crosses the cap: those arrived whole and intact.
    pub fn feed(&mut self, mut chunk: &[u8], events: &mut Vec<SseEvent>) -> Result<(), SseError> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        while !chunk.is_empty() {
            if std::mem::take(&mut self.after_cr) && chunk[0] == b'\n' {
                chunk = &chunk[1..];
                continue;
            }
            match chunk.iter().position(|&b| b == b'\n' || b == b'\r') {
                Some(end) => {
                    self.extend_line(&chunk[..end])?;
                    self.after_cr = chunk[end] == b'\r';
                    chunk = &chunk[end + 1..];
                    self.end_line(events)?;
                }
                None => {
                    self.extend_line(chunk)?;
                    chunk = &[];
                }
            }
        }
        Ok(())
    }

    fn extend_line(&mut self, part: &[u8]) -> Result<(), SseError> {
        self.line.extend_from_slice(part);
        if self.at_start && (self.line.len() >= BOM.len() || !BOM.starts_with(&self.line)) {
            self.skip_bom();
        }
        // A data line counts against its event before it ends, so one endless
        // line is stopped as early as many short ones.
        if let Some(value) = data_value(&self.line) {
            if self.data.len() + value.len() > self.cap {
                return Err(self.fail(SseError::EventTooLarge(self.cap)));
            }
        }
        if self.line.len() > self.cap.saturating_add(DATA_PREFIX) {
            return Err(self.fail(SseError::LineTooLarge(self.cap)));
        }
        Ok(())
    }

    fn skip_bom(&mut self) {
        self.at_start = false;
        if self.line.starts_with(BOM) {
            self.line.drain(..BOM.len());
        }
    }

    fn end_line(&mut self, events: &mut Vec<SseEvent>) -> Result<(), SseError> {
        if self.at_start {
            self.skip_bom();
        }
        let line = std::mem::take(&mut self.line);
        if line.is_empty() {
            self.dispatch(events);
            return Ok(());
        }
        if line[0] == b':' {
            return Ok(());
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (&line[..], &[][..]),
        };
        match field {
            b"data" => {
                if self.data.len() + value.len() > self.cap {
                    return Err(self.fail(SseError::EventTooLarge(self.cap)));
                }
                self.data.extend_from_slice(value);
                self.data.push(b'\n');
            }
            b"event" => self.event = String::from_utf8_lossy(value).into_owned(),
            // An id with NUL is ignored by the standard, lest it end a header.
            b"id" if !value.contains(&0) => self.last_event_id = Some(String::from_utf8_lossy(value).into_owned()),
            b"retry" if !value.is_empty() && value.iter().all(u8::is_ascii_digit) => {
                if let Some(ms) = std::str::from_utf8(value).ok().and_then(|v| v.parse().ok()) {
                    self.retry_ms = Some(ms);
                }
            }
            _ => {}
        }
        // A short line's buffer serves the next one; a long one's is freed,
        // so a single large event does not pin its size for the stream's life.
        if line.capacity() <= REUSED_LINE_BYTES {
            self.line = line;
            self.line.clear();
        }
        Ok(())
    }

    fn dispatch(&mut self, events: &mut Vec<SseEvent>) {
        let event = std::mem::take(&mut self.event);
        if self.data.is_empty() {
            return;
        }
        let mut data = std::mem::take(&mut self.data);
        data.pop();
        // The event takes the buffer with it: no copy, and nothing kept.
        let data = String::from_utf8(data).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        let event = if event.is_empty() { "message".to_string() } else { event };
        events.push(SseEvent { event, data, id: self.last_event_id.clone() });
    }

    /// Drops everything buffered: after a failure nothing of the stream is
    /// kept, whatever the caller does with the parser.
    fn fail(&mut self, error: SseError) -> SseError {
        self.line = Vec::new();
        self.data = Vec::new();
        self.failed = Some(error.clone());
        error
    }
}

/// The value of a (possibly unfinished) `data` line, without the one
/// optional space.
fn data_value(line: &[u8]) -> Option<&[u8]> {
    let value = line.strip_prefix(b"data:")?;
    Some(value.strip_prefix(b" ").unwrap_or(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_chunks(cap: usize, chunks: &[&[u8]]) -> (Vec<SseEvent>, Result<(), SseError>) {
        let mut parser = SseParser::new(cap);
        let mut events = Vec::new();
        for chunk in chunks {
            if let Err(e) = parser.feed(chunk, &mut events) {
                return (events, Err(e));
            }
        }
        (events, Ok(()))
    }

    fn data_of(events: &[SseEvent]) -> Vec<&str> {
        events.iter().map(|e| e.data.as_str()).collect()
    }

    #[test]
    fn an_event_is_dispatched_only_by_a_blank_line() {
        let (events, result) = parse_chunks(1024, &[b"data: one\n\ndata: two\n"]);
        assert_eq!(result, Ok(()));
        assert_eq!(data_of(&events), ["one"], "the second event never ended, so it is not delivered");
        assert_eq!(events[0].event, "message");
    }

    #[test]
    fn multi_line_data_is_joined_with_newlines() {
        let (events, _) = parse_chunks(1024, &[b"data: {\"a\":\ndata:1,\ndata:  \"b\":2}\n\n"]);
        assert_eq!(data_of(&events), ["{\"a\":\n1,\n \"b\":2}"], "only one space after the colon is dropped");
    }

    #[test]
    fn event_id_and_retry_fields_are_kept() {
        let mut parser = SseParser::new(1024);
        let mut events = Vec::new();
        parser.feed(b"event: ping\nid: 7\nretry: 1500\ndata: x\n\ndata: y\n\n", &mut events).unwrap();
        assert_eq!(events[0], SseEvent { event: "ping".into(), data: "x".into(), id: Some("7".into()) });
        assert_eq!(events[1].event, "message", "the event type lasts one event");
        assert_eq!(events[1].id.as_deref(), Some("7"), "the last event id lasts until replaced");
        assert_eq!(parser.last_event_id(), Some("7"));
        assert_eq!(parser.retry_ms(), Some(1500));
    }

    #[test]
    fn an_id_with_nul_and_a_retry_that_is_not_a_number_are_ignored() {
        let mut parser = SseParser::new(1024);
        let mut events = Vec::new();
        parser.feed(b"id: a\nid: b\0c\nretry: 10s\ndata: x\n\n", &mut events).unwrap();
        assert_eq!(parser.last_event_id(), Some("a"));
        assert_eq!(parser.retry_ms(), None);
    }

    #[test]
    fn comments_and_unknown_fields_are_skipped() {
        let (events, _) = parse_chunks(1024, &[b": keep-alive\nfoo: bar\ndata\n:\ndata: x\n\n"]);
        assert_eq!(data_of(&events), ["\nx"], "a bare `data` line adds an empty line");
    }

    #[test]
    fn an_event_with_no_data_is_not_dispatched() {
        let (events, _) = parse_chunks(1024, &[b"event: nothing\n\n\n\ndata: x\n\n"]);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].event, "message", "the empty event's type did not leak into the next one");
    }

    #[test]
    fn cr_lf_and_crlf_all_end_lines() {
        let (events, _) = parse_chunks(1024, &[b"data: a\r\rdata: b\n\ndata: c\r\n\r\n"]);
        assert_eq!(data_of(&events), ["a", "b", "c"]);
    }

    #[test]
    fn a_crlf_split_between_chunks_is_one_line_end() {
        let (events, _) = parse_chunks(1024, &[b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"]);
        assert_eq!(data_of(&events), ["a\nb"], "an LF after a CR in the previous chunk is no blank line");
    }

    #[test]
    fn a_field_split_anywhere_between_chunks_reads_the_same() {
        let stream = b"event: x\r\ndata: {\"jsonrpc\":\"2.0\"}\r\nid: 9\r\n\r\n";
        let whole = parse_chunks(1024, &[stream]).0;
        for split in 1..stream.len() {
            let (head, tail) = stream.split_at(split);
            assert_eq!(parse_chunks(1024, &[head, tail]).0, whole, "split at {split}");
        }
        let bytewise: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(parse_chunks(1024, &bytewise).0, whole);
    }

    #[test]
    fn a_bom_at_the_start_is_skipped_even_split_between_chunks() {
        let (events, _) = parse_chunks(1024, &[b"\xEF", b"\xBB", b"\xBFdata: x\n\n"]);
        assert_eq!(data_of(&events), ["x"]);
        let (events, _) = parse_chunks(1024, &[b"\xEF\xBB\xBFdata: x\n\ndata: y\n\n"]);
        assert_eq!(data_of(&events), ["x", "y"]);
    }

    #[test]
    fn a_bom_after_the_start_is_not_skipped() {
        let (events, _) = parse_chunks(1024, &[b"data: x\n\n\xEF\xBB\xBFdata: y\n\ndata: z\n\n"]);
        assert_eq!(data_of(&events), ["x", "z"], "a BOM mid-stream makes its line a field nobody knows");
    }

    #[test]
    fn a_character_split_between_chunks_survives_and_invalid_utf8_is_replaced() {
        let (events, _) = parse_chunks(1024, &[b"data: \xC3", b"\xA9\n\ndata: \xFF\n\n"]);
        assert_eq!(data_of(&events), ["\u{e9}", "\u{fffd}"]);
    }

    #[test]
    fn an_unfinished_event_at_the_end_of_the_stream_is_discarded() {
        let (events, result) = parse_chunks(1024, &[b"data: x\n\ndata: half"]);
        assert_eq!((data_of(&events), result), (vec!["x"], Ok(())));
    }

    #[test]
    fn an_event_of_exactly_the_cap_is_delivered() {
        let mut stream = b"data: ".to_vec();
        stream.extend(std::iter::repeat_n(b'a', 64));
        stream.extend_from_slice(b"\n\n");
        let (events, result) = parse_chunks(64, &[&stream]);
        assert_eq!(result, Ok(()));
        assert_eq!(events[0].data.len(), 64);
    }

    #[test]
    fn many_small_data_lines_without_a_blank_line_cross_the_cap() {
        let cap = 10_000;
        let line = format!("data: {}\n", "x".repeat(1_000));
        let mut parser = SseParser::new(cap);
        let mut events = Vec::new();
        let mut fed = 0;
        let error = loop {
            match parser.feed(line.as_bytes(), &mut events) {
                Ok(()) => fed += 1,
                Err(e) => break e,
            }
            assert!(fed < 1_000, "an endless event was never cut");
        };
        assert_eq!(error, SseError::EventTooLarge(cap));
        assert_eq!(error.to_string(), "an SSE event was larger than 10000 bytes");
        assert_eq!(fed, 9, "ten 1,000-byte lines and their joins are over 10,000 bytes: the tenth is refused");
        assert!(events.is_empty());
        assert!(parser.data.capacity() == 0 && parser.line.capacity() == 0, "nothing is held after the failure");
        assert_eq!(parser.feed(b"\n\n", &mut events), Err(error), "the stream stays failed");
        assert!(events.is_empty());
    }

    #[test]
    fn one_endless_data_line_is_cut_before_it_ends() {
        let mut parser = SseParser::new(4096);
        let mut events = Vec::new();
        parser.feed(b"data: ", &mut events).unwrap();
        let chunk = [b'a'; 1024];
        let results: Vec<_> = (0..10).map(|_| parser.feed(&chunk, &mut events)).collect();
        assert_eq!(results.iter().position(Result::is_err), Some(4), "the fifth KiB crosses a 4 KiB cap");
        assert_eq!(results[4], Err(SseError::EventTooLarge(4096)), "no line end needed to see it");
    }

    #[test]
    fn one_endless_comment_line_is_cut_too() {
        let mut parser = SseParser::new(4096);
        let mut events = Vec::new();
        parser.feed(b":", &mut events).unwrap();
        let result = (0..10).try_for_each(|_| parser.feed(&[b'a'; 1024], &mut events));
        assert_eq!(result, Err(SseError::LineTooLarge(4096)));
    }

    #[test]
    fn events_completed_before_the_cap_is_crossed_are_still_delivered() {
        let mut stream = b"data: small\n\ndata: ".to_vec();
        stream.extend(std::iter::repeat_n(b'a', 100));
        let (events, result) = parse_chunks(64, &[&stream]);
        assert_eq!(data_of(&events), ["small"]);
        assert_eq!(result, Err(SseError::EventTooLarge(64)));
    }

    #[test]
    fn the_cap_counts_one_event_not_the_whole_stream() {
        let event = format!("data: {}\n\n", "x".repeat(60));
        let stream = event.repeat(100);
        let (events, result) = parse_chunks(64, &[stream.as_bytes()]);
        assert_eq!((events.len(), result), (100, Ok(())));
    }
}
