//! Percent-decoding to a fixed point, for checks that must see a value the way
//! an upstream might after decoding it once, twice or more.
//!
//! What must stay true: a checker looks at *every* stage (the raw text and each
//! decoding of it), because it cannot know how many times the upstream decodes.
//! A stage whose bytes are not UTF-8 (overlong `%c0%af`, stray `%ff`) is an
//! error, never silently replaced, so a refused byte cannot hide behind U+FFFD.

use std::borrow::Cow;

/// More rounds than any legitimate value needs; a value still changing after
/// this many decodings is refused rather than decoded further.
pub(super) const MAX_DECODE_ROUNDS: usize = 8;

/// Why a value's decoding stages could not all be produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DecodeError {
    /// A decoding produced bytes that are not UTF-8.
    NotUtf8,
    /// Still changing after [`MAX_DECODE_ROUNDS`].
    TooDeep,
}

impl DecodeError {
    pub(super) fn describe(self) -> &'static str {
        match self {
            DecodeError::NotUtf8 => "is not valid UTF-8 once percent-decoded",
            DecodeError::TooDeep => "is percent-encoded too many times",
        }
    }
}

/// The raw value followed by each distinct percent-decoding of it, until stable.
/// The common case (no `%`) borrows and allocates nothing.
pub(super) fn stages(raw: &str) -> Result<Vec<Cow<'_, str>>, DecodeError> {
    let mut out = vec![Cow::Borrowed(raw)];
    for _ in 0..MAX_DECODE_ROUNDS {
        let last = out.last().map(|s| s.as_ref()).unwrap_or(raw);
        match decode_once(last)? {
            Some(next) => out.push(Cow::Owned(next)),
            None => return Ok(out),
        }
    }
    Err(DecodeError::TooDeep)
}

/// The fully decoded value (the last stage).
pub(super) fn fully_decoded(raw: &str) -> Result<Cow<'_, str>, DecodeError> {
    let mut stages = stages(raw)?;
    Ok(stages.pop().unwrap_or(Cow::Borrowed(raw)))
}

/// One round of `%XX` decoding; `None` when there is nothing to decode.
/// A `%` not followed by two hex digits is kept as is (as browsers do).
fn decode_once(text: &str) -> Result<Option<String>, DecodeError> {
    let bytes = text.as_bytes();
    if !bytes.contains(&b'%') {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut changed = false;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(hi << 4 | lo);
                i += 3;
                changed = true;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    if !changed {
        return Ok(None);
    }
    String::from_utf8(out).map(Some).map_err(|_| DecodeError::NotUtf8)
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn double_encoding_is_decoded_to_the_end() {
        let s = stages("%252e%252e%252f").unwrap();
        let s: Vec<&str> = s.iter().map(|c| c.as_ref()).collect();
        assert_eq!(s, ["%252e%252e%252f", "%2e%2e%2f", "../"]);
    }

    #[test]
    fn split_nibble_encoding_is_decoded() {
        // `%%35%63` decodes to `%5c`, which decodes to `\`.
        assert_eq!(fully_decoded("%%35%63").unwrap(), "\\");
    }

    #[test]
    fn overlong_utf8_is_refused_not_replaced() {
        assert_eq!(stages("..%c0%af..").unwrap_err(), DecodeError::NotUtf8);
    }

    #[test]
    fn endless_encoding_is_refused() {
        let mut v = "%41".to_string();
        for _ in 0..=MAX_DECODE_ROUNDS {
            v = v.replace('%', "%25");
        }
        assert_eq!(stages(&v).unwrap_err(), DecodeError::TooDeep);
    }

    #[test]
    fn stray_percent_is_kept() {
        assert_eq!(fully_decoded("100% done %4").unwrap(), "100% done %4");
        assert_eq!(fully_decoded("%").unwrap(), "%");
    }
}
