//! Values bound for mail headers: `mail_header` (a subject or any other
//! header text) and `email_domain` (one recipient address).
//!
//! A mail library decodes RFC 2047 encoded words before it builds the
//! message, so `=?utf-8?q?hi=0D=0ABcc:_eve@evil.example?=` passes a raw
//! CR/LF check and becomes a real `Bcc:` header (Python's `email` does exactly
//! that). Header text is therefore checked raw, at every percent-decoding
//! stage, and after decoding encoded words at each of them (repeatedly, in
//! case another layer decodes again): CR, LF, NEL (U+0085), U+2028, U+2029 and
//! every other control character but tab are refused in any of those forms.
//! `encoded.rs` decodes the words; `address.rs` reads one address.
//!
//! What these checks cannot know: how the upstream quotes or folds the
//! header it builds, or what its mail server does with an accepted
//! recipient (aliases, forwarding rules). They keep each value to one
//! header line and one address in an allowed domain.

mod address;
mod encoded;

use std::borrow::Cow;

use super::decode;

pub(super) use address::check_address;

/// More rounds of encoded-word decoding than any real header needs.
const MAX_WORD_ROUNDS: usize = 4;

const BREAKS_HEADER: &str =
    "contains a line break or control character, raw or encoded (=?...?= or %XX), which starts a new mail header";

/// `mail_header`: `Ok` when no reading of `value` starts a new header line.
pub(super) fn check_header(value: &str) -> Result<(), &'static str> {
    let stages = decode::stages(value).map_err(|e| e.describe())?;
    for stage in &stages {
        if u_escapes(stage).any(breaks_header) {
            return Err(BREAKS_HEADER);
        }
        let mut text: Cow<'_, str> = Cow::Borrowed(stage.as_ref());
        let mut rounds = 0;
        loop {
            if text.chars().any(breaks_header) {
                return Err(BREAKS_HEADER);
            }
            match encoded::decode_once(&text)? {
                Some(next) if rounds < MAX_WORD_ROUNDS => text = Cow::Owned(next),
                Some(_) => return Err("has encoded words nested too deeply"),
                None => break,
            }
            rounds += 1;
        }
    }
    Ok(())
}

/// The characters of `%uXXXX` escapes (the non-standard form IIS and old
/// JavaScript `unescape` decode), which some layer may decode.
fn u_escapes(text: &str) -> impl Iterator<Item = char> + '_ {
    text.match_indices("%u").filter_map(|(at, _)| {
        let hex = text.get(at + 2..at + 6)?;
        u32::from_str_radix(hex, 16).ok().and_then(char::from_u32)
    })
}

/// A character that ends a header line for some reader (Python's
/// `str.splitlines` also breaks at NEL, U+2028 and U+2029), or has no place
/// in one. Tab is folding whitespace and stays.
fn breaks_header(c: char) -> bool {
    (c.is_control() && c != '\t') || matches!(c, '\u{2028}' | '\u{2029}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_break_is_refused_in_every_form_a_mail_library_decodes() {
        for subject in [
            "hi\r\nBcc: eve@evil.example",
            "hi\u{85}Bcc: eve@evil.example",
            "hi\u{2028}Bcc: eve@evil.example",
            "=?utf-8?q?hi=0D=0ABcc=3A_attacker=40evil.example?=",
            "=?UTF-8?Q?hi=0ABcc:_eve@evil.example?=",
            "=?utf-8?B?aGkNCkJjYzogYXR0YWNrZXJAZXZpbC5leGFtcGxl?=",
            "Re: x=?utf-8?q?=0A?=Bcc: eve@evil.example",
            "=?utf-8?q?ok?= =?utf-8?q?=0ABcc:_eve@evil.example?=",
            "=?utf-8?q?a=E2=80=A8b?=",
            "=?utf-8?q?a=C2=85b?=",
            "=?iso-8859-1?q?a=85b?=",
            "hi%0d%0aBcc: eve@evil.example",
            "hi%250ABcc: eve@evil.example",
            "hi%u000ABcc: eve@evil.example",
            "hi%u2028Bcc: eve@evil.example",
            "%3D%3Futf-8%3Fq%3Fhi%3D0ABcc%3A_eve%3F%3D",
            "=?utf-8?q?=3D=3Futf-8=3Fq=3F=3D0A=3F=3D?=",
            "=?utf-7?q?a+AA0ACg-Bcc:_eve@evil.example?=",
        ] {
            assert!(check_header(subject).is_err(), "{subject:?}");
        }
    }

    #[test]
    fn ordinary_subjects_pass() {
        for subject in [
            "Release notes",
            "Re: Überweisung – Q3",
            "50% off =?not a word?",
            "=?utf-8?q?Gr=C3=BC=C3=9Fe?=",
            "=?ISO-2022-JP?B?GyRCJEgkcyQrGyhC?=",
            "Tabs\tare folding whitespace",
            "日本語の件名",
        ] {
            assert_eq!(check_header(subject), Ok(()), "{subject:?}");
        }
    }
}
