//! `no_shell_metachars = true`: a value that a shell could read as more than
//! a plain list of words is refused.
//!
//! The refused set is every character a POSIX shell, bash or zsh (in their
//! default interactive and non-interactive modes) gives meaning to beyond word
//! splitting: `; | & $ \` < >` (commands, substitution, redirection), `( ) { }`
//! (subshells, brace expansion `{id,}`), `* ? [ ]` (pathname expansion, as in
//! the `/???/c?t` filter bypass), `\ ' "` (quoting, which splices words), `!`
//! (history expansion in interactive bash and zsh, pipeline negation), and
//! every control character (newline, CR, NUL, tab, ...). Some characters mean
//! something only at the start of a word, so they are refused there:
//! `~` (tilde expansion, also after `=` or `:` as in `--dir=~/x` or `PATH=a:~`),
//! `#` (a comment: `touch PWNED # ...` hides the rest), `%` (a job spec),
//! `^` (history substitution, zsh's negated glob) and `=` (zsh's `=cmd`).
//! A first word of the form `NAME=value` (or `NAME+=value`) is an assignment
//! prefix (`PWN=1 env`, `LD_PRELOAD=x ls`) and is refused. Spaces and `-` are
//! allowed, so `ls -la` and `git diff HEAD~1` pass; quoting is refused, so
//! `git commit -m "x"` does not (use `pattern` for that).
//!
//! The value is checked at every percent-decoding stage, and after folding the
//! Unicode look-alikes some layers normalise to ASCII (NFKC, which maps
//! fullwidth `；` and `～` and small form `﹟`; and the few look-alikes it
//! leaves alone: Greek question mark `;`, `∖`, modifier grave).
//!
//! A metacharacter filter cannot refuse a *whole* unwanted command (`whoami`,
//! `cat /etc/passwd`) or an option that makes an allowed program write files
//! or run others (`find . -fprint x`, `git log --output=x`): that is the job
//! of `pattern` or `enum` on the command (see `policies/shell-allowlist.toml`).

use unicode_normalization::UnicodeNormalization;

use super::decode;

const META: &str = "contains shell metacharacters";

/// `Ok` when no stage of `value` holds shell syntax; `Err` says why.
pub(super) fn check(value: &str) -> Result<(), &'static str> {
    let stages = decode::stages(value).map_err(|e| e.describe())?;
    for stage in &stages {
        check_words(stage)?;
        let folded: String = stage.chars().map(|c| fold(c).unwrap_or(c)).collect();
        check_words(&folded)?;
        let normalised: String = folded.nfkc().collect();
        check_words(&normalised)?;
    }
    Ok(())
}

/// One reading of the value: no metacharacter anywhere, nothing special at
/// the start of a word, and no assignment prefix.
fn check_words(text: &str) -> Result<(), &'static str> {
    if text.chars().any(is_meta) {
        return Err(META);
    }
    for (index, word) in text.split(' ').filter(|w| !w.is_empty()).enumerate() {
        if word.starts_with(['~', '#', '%', '^', '=']) {
            return Err("has a word starting with '~', '#', '%', '^' or '=' (tilde expansion, comment, job or history reference)");
        }
        if word.contains("=~") || word.contains(":~") {
            return Err("has a tilde after '=' or ':', which shells expand to a home directory");
        }
        if index == 0 && is_assignment(word) {
            return Err("starts with a variable assignment (NAME=value), which changes the command's environment");
        }
    }
    Ok(())
}

fn is_assignment(word: &str) -> bool {
    let Some((name, _)) = word.split_once('=') else {
        return false;
    };
    let name = name.strip_suffix('+').unwrap_or(name);
    name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_meta(c: char) -> bool {
    matches!(
        c,
        ';' | '|'
            | '&'
            | '$'
            | '`'
            | '<'
            | '>'
            | '('
            | ')'
            | '{'
            | '}'
            | '['
            | ']'
            | '*'
            | '?'
            | '\\'
            | '\''
            | '"'
            | '!'
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
