//! `no_shell_metachars = true`: a value that a shell could read as more than
//! one plain word list is refused.
//!
//! The refused set is every character a POSIX shell (or bash) gives meaning to
//! beyond word splitting, not only the separators: `; | & $ \` < >` (commands,
//! substitution, redirection), `( ) { }` (subshells, brace expansion `{id,}`),
//! `* ? [ ]` (pathname expansion, as in the `/???/c?t` filter bypass),
//! `\ ' "` (quoting, which splices words), and every control character
//! (newline, CR, NUL, tab, ...). Spaces and `-` are allowed, so `ls -la` passes;
//! quoting is refused, so `git commit -m "x"` does not (use `pattern` for that).
//!
//! The value is checked at every percent-decoding stage, and after folding the
//! Unicode look-alikes some layers normalise to ASCII (fullwidth `；`, small
//! form `﹔`, Greek question mark `;`, Unicode line separators).
//!
//! A metacharacter filter cannot refuse a *whole* unwanted command (`whoami`,
//! `cat /etc/passwd`): that is the job of `pattern` or `enum` on the command.

use super::decode;

/// `Ok` when no stage of `value` holds a shell metacharacter; `Err` says why.
pub(super) fn check(value: &str) -> Result<(), &'static str> {
    let stages = decode::stages(value).map_err(|e| e.describe())?;
    for stage in &stages {
        if stage.chars().any(|c| is_meta(c) || fold(c).is_some_and(is_meta)) {
            return Err("contains shell metacharacters");
        }
    }
    Ok(())
}

fn is_meta(c: char) -> bool {
    matches!(
        c,
        ';' | '|' | '&' | '$' | '`' | '<' | '>' | '(' | ')' | '{' | '}' | '[' | ']' | '*' | '?' | '\\' | '\'' | '"'
    ) || c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}')
}

/// The ASCII character some normalisation (NFKC, "smart" terminals, lenient
/// parsers) would turn `c` into, if any.
fn fold(c: char) -> Option<char> {
    match c {
        // Fullwidth forms U+FF01..U+FF5E map one to one onto '!'..'~'.
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFF01 + 0x21),
        // Small form variants.
        '\u{FE50}' => Some(','),
        '\u{FE54}' => Some(';'),
        '\u{FE56}' => Some('?'),
        '\u{FE59}' => Some('('),
        '\u{FE5A}' => Some(')'),
        '\u{FE5B}' => Some('{'),
        '\u{FE5C}' => Some('}'),
        '\u{FE60}' => Some('&'),
        '\u{FE61}' => Some('*'),
        '\u{FE64}' => Some('<'),
        '\u{FE65}' => Some('>'),
        '\u{FE69}' => Some('$'),
        // Greek question mark, canonically equivalent to ';'.
        '\u{037E}' => Some(';'),
        // Reverse solidus look-alikes and the modifier grave.
        '\u{2216}' | '\u{29F5}' | '\u{FE68}' => Some('\\'),
        '\u{02CB}' | '\u{1FEF}' => Some('`'),
        _ => None,
    }
}
