//! `email_domain`: the value is one recipient, `addr@domain`,
//! `Name <addr@domain>` or `"Last, First" <addr@domain>`, whose domain
//! matches a pattern, read the way mail libraries read it.
//!
//! Refused: several recipients (`,` or `;` outside a quoted name, several
//! `@`), groups and routes (`:`), comments (`(...)`), an `@`, `<` or `>` inside
//! a display name (naive readers take it for the address), quoted local parts
//! and bracketed domain literals, routing tricks in the local part (`%`, `!`),
//! line breaks and controls in any encoded form (see `mail/mod.rs`), Unicode
//! compatibility characters (`bob＠evil.example` reads as two addresses once
//! NFKC-normalised), and encoded words that change which address the value
//! names once decoded.

use unicode_normalization::UnicodeNormalization;

use super::super::net::{self, DomainPattern};
use super::encoded;

/// `Ok` when `value` is one address in an allowed domain.
pub(in crate::policy) fn check_address(value: &str, domains: &[DomainPattern]) -> Result<(), &'static str> {
    if super::check_header(value).is_err() {
        return Err("contains a line break or control character, raw or encoded (header injection)");
    }
    if value.nfkc().ne(value.nfc()) {
        return Err("contains Unicode compatibility characters (such as a fullwidth ＠), which mail software may read as others");
    }
    let address = read_one(value)?;
    if encoded::has_encoded_word(value) {
        let decoded = fully_decoded(value)?;
        if read_one(&decoded) != Ok(address) {
            return Err("has an encoded word (=?...?=) that changes which address it names once decoded");
        }
    }
    let (_, domain) = address.rsplit_once('@').ok_or("is not an email address")?;
    let key = net::mail_domain(domain)?;
    if net::any_matches(domains, &key) {
        Ok(())
    } else {
        Err("has an address outside the allowed domains")
    }
}

fn fully_decoded(value: &str) -> Result<String, &'static str> {
    let mut text = value.to_string();
    // `check_header` has already bounded the rounds.
    while let Some(next) = encoded::decode_once(&text)? {
        text = next;
    }
    Ok(text)
}

/// The addr-spec of a value that names exactly one address.
fn read_one(value: &str) -> Result<&str, &'static str> {
    let value = value.trim();
    let mut quoted: Vec<(usize, usize)> = Vec::new();
    let mut outside: Vec<(usize, char)> = Vec::new();
    let (mut open_quote, mut escaped) = (None, false);
    for (i, c) in value.char_indices() {
        match open_quote {
            Some(start) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == '"' {
                    quoted.push((start, i));
                    open_quote = None;
                }
            }
            None if c == '"' => open_quote = Some(i),
            None => outside.push((i, c)),
        }
    }
    if open_quote.is_some() {
        return Err("has an unclosed quote");
    }
    let has = |set: &[char]| outside.iter().any(|(_, c)| set.contains(c));
    if has(&[',', ';']) {
        return Err("lists more than one recipient");
    }
    if has(&[':', '(', ')', '\\', '[', ']']) {
        return Err("is a group, route, comment or literal, which mail libraries read differently");
    }
    let opens: Vec<usize> = outside.iter().filter(|(_, c)| *c == '<').map(|(i, _)| *i).collect();
    let closes: Vec<usize> = outside.iter().filter(|(_, c)| *c == '>').map(|(i, _)| *i).collect();
    match (opens.as_slice(), closes.as_slice()) {
        ([], []) if quoted.is_empty() => addr_spec(value),
        ([], []) => Err("has a quoted local part"),
        ([open], [close]) if open < close && *close == value.len() - 1 => {
            if quoted.iter().any(|(_, end)| end > open) {
                return Err("has a quoted local part");
            }
            let in_name = |c: &char| matches!(c, '@' | '<' | '>');
            let name_has_at = outside.iter().any(|(i, c)| i < open && in_name(c))
                || quoted.iter().any(|(s, e)| value[s + 1..*e].chars().any(|c| in_name(&c)));
            if name_has_at {
                return Err("has an '@', '<' or '>' in its display name, which naive readers take for the address");
            }
            addr_spec(&value[open + 1..*close])
        }
        _ => Err("is not a single plain email address"),
    }
}

/// `local@domain` with a plain local part.
fn addr_spec(address: &str) -> Result<&str, &'static str> {
    if address.matches('@').count() != 1 {
        return Err("is not a single email address (exactly one '@' is allowed)");
    }
    let (local, domain) = address.split_once('@').ok_or("is not an email address")?;
    let routing =
        |c: char| c.is_whitespace() || matches!(c, '%' | '!' | '"' | '\\' | '(' | ')' | ':' | '[' | ']' | '<' | '>');
    if local.is_empty() || local.contains(routing) {
        return Err("has a local part with routing or quoting characters");
    }
    if domain.is_empty() || domain.starts_with('[') || domain.contains(char::is_whitespace) {
        return Err("has no plain domain");
    }
    Ok(address)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn domains() -> [DomainPattern; 2] {
        [DomainPattern::parse("example.com").unwrap(), DomainPattern::parse("*.example.org").unwrap()]
    }

    #[test]
    fn email_patterns_match_subdomains_only_with_a_wildcard() {
        let d = domains();
        assert_eq!(check_address("bob@example.com", &d), Ok(()));
        assert_eq!(check_address("Bob Smith <bob@EXAMPLE.com>", &d), Ok(()));
        // A comma inside a quoted display name is part of the name (issue 10).
        assert_eq!(check_address("\"Smith, Bob\" <bob@example.com>", &d), Ok(()));
        assert_eq!(check_address("a@mail.example.org", &d), Ok(()));
        assert!(check_address("a@example.org", &d).is_err());
        assert!(check_address("a@evilexample.com", &d).is_err());
    }

    #[test]
    fn an_address_hidden_by_a_compatibility_character_or_an_encoded_word_is_refused() {
        let d = domains();
        for value in [
            "bob＠evil.example@example.com",
            "bob@evil.example＜alice@example.com＞",
            "alice@example．com",
            "=?utf-8?q?eve=40evil.example=2C?= <alice@example.com>",
            "=?utf-8?q?eve=40evil.example?=@example.com",
            "=?utf-8?q?Bob=0D=0ABcc:_eve@evil.example?= <alice@example.com>",
            "\"eve@evil.example\" <alice@example.com>",
            "\"a <eve@evil.example>\" <alice@example.com>",
            "alice@example.com (eve@evil.example)",
            "undisclosed:alice@example.com;",
        ] {
            assert!(check_address(value, &d).is_err(), "{value}");
        }
    }

    #[test]
    fn display_names_as_mail_clients_write_them_pass() {
        let d = domains();
        for value in [
            "\"Smith, Alice\" <alice@example.com>",
            "\"O'Neil; Frank\" <frank@example.com>",
            "\"Bob \\\"the builder\\\"\" <bob@example.com>",
            "=?utf-8?q?Zo=C3=AB?= <zoe@example.com>",
            "Zoë Ångström <zoe@example.com>",
            "<alice@example.com>",
            "John Q. Public <john@example.com>",
        ] {
            assert_eq!(check_address(value, &d), Ok(()), "{value}");
        }
    }
}
