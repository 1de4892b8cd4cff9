//! Newline-delimited framing with a hard cap on line length, for the stdio
//! transports in both directions.
//!
//! A line longer than the cap is reported once, as soon as it crosses the
//! cap, and the rest of it is skipped without being buffered; reading then
//! goes on with the next line. (tokio-util's `LinesCodec` ends the stream
//! after such an error, which would turn one bad message into a dead
//! connection.)

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// One line without its terminator (and without a trailing `\r`).
    Complete(Vec<u8>),
    /// A line crossed the cap; its bytes are being discarded.
    TooLong,
}

pub struct BoundedLines<R> {
    reader: BufReader<R>,
    buf: Vec<u8>,
    max: usize,
    discarding: bool,
}

impl<R: AsyncRead + Unpin> BoundedLines<R> {
    pub fn new(reader: R, max: usize) -> Self {
        BoundedLines { reader: BufReader::with_capacity(64 * 1024, reader), buf: Vec::new(), max, discarding: false }
    }

    /// The next line, or `None` at the end of the input.
    pub async fn next_line(&mut self) -> std::io::Result<Option<Line>> {
        loop {
            let available = self.reader.fill_buf().await?;
            if available.is_empty() {
                self.discarding = false;
                if self.buf.is_empty() {
                    return Ok(None);
                }
                return Ok(Some(Line::Complete(std::mem::take(&mut self.buf))));
            }
            let (chunk, ends_line) = match available.iter().position(|b| *b == b'\n') {
                Some(pos) => (&available[..pos], true),
                None => (available, false),
            };
            let consumed = chunk.len() + usize::from(ends_line);
            let mut crossed = false;
            if !self.discarding {
                if self.buf.len() + chunk.len() > self.max {
                    self.discarding = true;
                    crossed = true;
                    self.buf = Vec::new();
                } else {
                    self.buf.extend_from_slice(chunk);
                }
            }
            self.reader.consume(consumed);
            if crossed {
                if ends_line {
                    self.discarding = false;
                }
                return Ok(Some(Line::TooLong));
            }
            if ends_line {
                if self.discarding {
                    self.discarding = false;
                    continue;
                }
                let mut line = std::mem::take(&mut self.buf);
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(Some(Line::Complete(line)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn all(input: &[u8], max: usize) -> Vec<Line> {
        let mut lines = BoundedLines::new(input, max);
        let mut out = Vec::new();
        while let Some(line) = lines.next_line().await.unwrap() {
            out.push(line);
        }
        out
    }

    #[tokio::test]
    async fn splits_lines_and_strips_carriage_returns() {
        let got = all(b"one\r\ntwo\nthree", 10).await;
        assert_eq!(
            got,
            vec![Line::Complete(b"one".to_vec()), Line::Complete(b"two".to_vec()), Line::Complete(b"three".to_vec())]
        );
    }

    #[tokio::test]
    async fn an_over_long_line_is_reported_once_and_reading_goes_on() {
        let mut input = vec![b'x'; 1000];
        input.extend_from_slice(b"\nafter\n");
        let got = all(&input, 100).await;
        assert_eq!(got, vec![Line::TooLong, Line::Complete(b"after".to_vec())]);
    }

    #[tokio::test]
    async fn a_line_of_exactly_the_cap_is_kept() {
        let got = all(b"12345\n", 5).await;
        assert_eq!(got, vec![Line::Complete(b"12345".to_vec())]);
    }

    #[tokio::test]
    async fn an_endless_line_is_reported_without_being_buffered() {
        // 8 MiB with no newline at all: reported, then the input just ends.
        let input = vec![b'A'; 8 * 1024 * 1024];
        let mut lines = BoundedLines::new(&input[..], 1024);
        assert_eq!(lines.next_line().await.unwrap(), Some(Line::TooLong));
        assert!(lines.buf.capacity() <= 1024);
        assert_eq!(lines.next_line().await.unwrap(), None);
    }
}
