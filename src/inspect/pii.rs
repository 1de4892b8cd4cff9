//! The personal-data detector for what servers send back: e-mail
//! addresses, phone numbers, payment card numbers, IBANs and US social
//! security numbers. Reporting them is opt-in at the policy level; the
//! detector always exists so the choice is the policy's.
//!
//! Numbers are everywhere in tool output (timestamps, versions, ids, sizes),
//! so every rule is conservative and validates what it can: cards by Luhn,
//! issuer prefix and group layout; IBANs by the country's length and the
//! mod-97 check; SSNs by the dashed form and the ranges never issued; phone
//! numbers only in E.164 (`+` and 8–15 digits) or a separated national
//! format (NANP `(415) 555-0123`, trunk-prefixed `020 7946 0958`). A bare
//! run of digits is never a phone number.
//!
//! One pass over the bytes: non-digits cost a comparison each, and a run of
//! digits glued to letters (hex digests, ids, `v1`, `10px`) is skipped
//! whole. E-mail addresses are found from their `@`.

#![deny(unsafe_code)]

use super::secrets::{resolve, Class, Match, Rank};

/// Personal data sorted by start, non-overlapping.
pub fn find_pii(text: &str) -> Vec<Match> {
    let b = text.as_bytes();
    let mut found = Vec::new();
    for (at, _) in text.match_indices('@') {
        if let Some((start, end)) = email(b, at) {
            found.push(pii("email", start, end));
        }
    }
    numbers(b, &mut found);
    resolve(found)
}

fn pii(kind: &'static str, start: usize, end: usize) -> (Rank, Match) {
    (Rank::Token, Match { class: Class::Pii, kind, start, end })
}

fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

fn run_end(b: &[u8], from: usize, keep: impl Fn(u8) -> bool) -> usize {
    b[from..].iter().position(|&c| !keep(c)).map_or(b.len(), |n| from + n)
}

fn run_start(b: &[u8], to: usize, keep: impl Fn(u8) -> bool) -> usize {
    b[..to].iter().rposition(|&c| !keep(c)).map_or(0, |n| n + 1)
}

/// What looks like a domain but names a file (`icon@2x.png`).
const FILE_EXTENSIONS: [&[u8]; 20] = [
    b"png", b"jpg", b"jpeg", b"gif", b"svg", b"webp", b"ico", b"js", b"mjs", b"ts", b"css", b"json", b"md", b"txt",
    b"html", b"py", b"rs", b"go", b"lock", b"map",
];

/// `local@domain.tld`, but not a URL's user (`ssh://git@host`), a package
/// version (`pkg@1.2.3`) or an image name (`logo@2x.png`).
fn email(b: &[u8], at: usize) -> Option<(usize, usize)> {
    let start = run_start(b, at, |c| c.is_ascii_alphanumeric() || b"._%+-".contains(&c));
    let start = start + b[start..at].iter().take_while(|&&c| c == b'.').count();
    if start == at || at - start > 64 || b[at - 1] == b'.' {
        return None;
    }
    let mut end = run_end(b, at + 1, |c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.');
    while end > at + 1 && matches!(b[end - 1], b'.' | b'-') {
        end -= 1;
    }
    let domain = &b[at + 1..end];
    let labels: Vec<&[u8]> = domain.split(|&c| c == b'.').collect();
    let tld = labels.last()?;
    let labels_ok = labels.iter().all(|l| !l.is_empty() && l.len() <= 63 && l[0] != b'-' && l[l.len() - 1] != b'-');
    let tld_ok = (2..=24).contains(&tld.len()) && tld.iter().all(u8::is_ascii_alphabetic);
    let ext = FILE_EXTENSIONS.contains(&tld.to_ascii_lowercase().as_slice());
    if labels.len() < 2 || !labels_ok || !tld_ok || ext || b.get(end) == Some(&b'@') {
        return None;
    }
    let token = run_start(b, start, |c| !c.is_ascii_whitespace() && c != b'/');
    if b[..token].ends_with(b"://") {
        return None;
    }
    Some((start, end))
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Sep {
    Space,
    Dash,
    Dot,
    /// `)` after a group opened with `(`, with an optional space or dash.
    Paren,
}

/// A run of digit groups joined by single separators: `(415) 555-0123`,
/// `4111 1111 1111 1111`, `+44 20 7946 0958`. Fixed-size: numbers are
/// everywhere in text, so judging one must not allocate.
struct Sequence {
    groups: [(usize, usize); MAX_GROUPS],
    seps: [Sep; MAX_GROUPS],
    count: usize,
    plus: bool,
    /// The first group is written `(...)`.
    paren_first: bool,
}

impl Sequence {
    fn groups(&self) -> &[(usize, usize)] {
        &self.groups[..self.count]
    }

    fn seps(&self) -> &[Sep] {
        &self.seps[..self.count.saturating_sub(1)]
    }

    fn lens(&self) -> ([usize; MAX_GROUPS], usize) {
        let mut lens = [0; MAX_GROUPS];
        for (l, (s, e)) in lens.iter_mut().zip(self.groups()) {
            *l = e - s;
        }
        (lens, self.count)
    }

    fn start(&self) -> usize {
        self.groups[0].0 - usize::from(self.plus || self.paren_first)
    }

    fn end(&self) -> usize {
        self.groups[self.count - 1].1
    }

    fn seps_all(&self, allowed: &[Sep]) -> bool {
        let seps = self.seps();
        seps.first().is_some_and(|first| allowed.contains(first) && seps.iter().all(|s| s == first))
    }
}

/// More groups than any number this detector knows has.
const MAX_GROUPS: usize = 8;

fn numbers(b: &[u8], found: &mut Vec<(Rank, Match)>) {
    let mut i = 0;
    loop {
        i = next_digit(b, i);
        if i == b.len() {
            break;
        }
        let capitals = i >= 2 && b[i - 1].is_ascii_uppercase() && b[i - 2].is_ascii_uppercase();
        if capitals && (i == 2 || !is_word(b[i - 3])) {
            if let Some(end) = iban(b, i - 2) {
                found.push(pii("iban", i - 2, end));
                i = end;
                continue;
            }
        }
        if i > 0 && is_word(b[i - 1]) {
            i = run_end(b, i, is_word);
            continue;
        }
        if continues_a_code(b, i) {
            i = run_end(b, i, |c| c.is_ascii_alphanumeric() || matches!(c, b' ' | b'-' | b'.'));
            continue;
        }
        let (seq, next) = sequence(b, i);
        if let Some(seq) = seq {
            if let Some(kind) = judge(b, &seq) {
                found.push(pii(kind, seq.start(), seq.end()));
            }
        }
        i = next.max(i + 1);
    }
}

/// The first digit at or after `from`. Prose is mostly not digits, so
/// whole 16-byte blocks are tested at once.
fn next_digit(b: &[u8], from: usize) -> usize {
    let mut i = from;
    while i + 16 <= b.len() && !b[i..i + 16].iter().fold(false, |any, c| any | c.is_ascii_digit()) {
        i += 16;
    }
    b[i..].iter().position(u8::is_ascii_digit).map_or(b.len(), |n| i + n)
}

/// Digits after a space or dash that follows a word holding digits
/// (`1Z 999 AA1 01 2345 6784`, `INV-000123 2024`): the tail of a
/// reference code, not a number of its own.
fn continues_a_code(b: &[u8], i: usize) -> bool {
    if i < 2 || !matches!(b[i - 1], b' ' | b'-') || !b[i - 2].is_ascii_alphanumeric() {
        return false;
    }
    let token = run_start(b, i - 1, |c| c.is_ascii_alphanumeric());
    let word = &b[token..i - 1];
    word.iter().any(u8::is_ascii_digit) && word.iter().any(u8::is_ascii_alphabetic)
}

/// The sequence starting at the digit `i`, and where scanning resumes.
/// Longer sequences than any known number are skipped whole.
fn sequence(b: &[u8], i: usize) -> (Option<Sequence>, usize) {
    let plus = i >= 1 && b[i - 1] == b'+' && (i < 2 || !is_word(b[i - 2]));
    let paren_first = i >= 1 && b[i - 1] == b'(';
    let mut seq =
        Sequence { groups: [(0, 0); MAX_GROUPS], seps: [Sep::Space; MAX_GROUPS], count: 0, plus, paren_first };
    let mut p = i;
    let mut opened = paren_first;
    loop {
        let end = run_end(b, p, |c| c.is_ascii_digit());
        if b.get(end).is_some_and(|&c| is_word(c)) {
            // Digits glued to letters: a word, not a number. What came
            // before it still stands.
            let resume = run_end(b, end, is_word);
            return (if seq.count == 0 { None } else { Some(seq) }, resume);
        }
        if seq.count == MAX_GROUPS {
            let resume = run_end(b, end, |c| c.is_ascii_digit() || matches!(c, b' ' | b'-' | b'.' | b'(' | b')'));
            return (None, resume);
        }
        seq.groups[seq.count] = (p, end);
        seq.count += 1;
        let (sep, next) = match (b.get(end), b.get(end + 1)) {
            (Some(b')'), Some(b' ' | b'-')) if opened => (Sep::Paren, end + 2),
            (Some(b')'), _) if opened => (Sep::Paren, end + 1),
            (Some(b' '), Some(b'(')) => (Sep::Space, end + 2),
            (Some(b' '), _) => (Sep::Space, end + 1),
            (Some(b'-'), _) => (Sep::Dash, end + 1),
            (Some(b'.'), _) => (Sep::Dot, end + 1),
            _ => return (Some(seq), end),
        };
        if opened && sep != Sep::Paren {
            // An unclosed parenthesis: not a layout this detector reads.
            return (None, end);
        }
        if !b.get(next).is_some_and(u8::is_ascii_digit) {
            return (Some(seq), end);
        }
        opened = b[next - 1] == b'(';
        seq.seps[seq.count - 1] = sep;
        p = next;
    }
}

fn judge(b: &[u8], seq: &Sequence) -> Option<&'static str> {
    let total: usize = seq.groups().iter().map(|(s, e)| e - s).sum();
    // The shortest number judged here is an 8-digit E.164 one.
    if !(8..=19).contains(&total) {
        return None;
    }
    let mut buf = [0u8; 19];
    let mut n = 0;
    for &(s, e) in seq.groups() {
        for &c in &b[s..e] {
            buf[n] = c - b'0';
            n += 1;
        }
    }
    let digits = &buf[..n];
    if !seq.plus && !seq.paren_first && payment_card(seq, digits) {
        return Some("payment_card");
    }
    if !seq.plus && !seq.paren_first && ssn(seq, digits) {
        return Some("national_id");
    }
    phone(seq, digits).then_some("phone")
}

/// 13–19 digits, one block or the printed layouts (4-4-4-4[-n], Amex
/// 4-6-5, Diners 4-6-4), an issuer prefix in use, and a valid Luhn sum.
fn payment_card(seq: &Sequence, d: &[u8]) -> bool {
    let n = d.len();
    if !(13..=19).contains(&n) {
        return false;
    }
    let (lens, count) = seq.lens();
    let lens = &lens[..count];
    let layout = lens.len() == 1
        || (seq.seps_all(&[Sep::Space, Sep::Dash])
            && (lens[..lens.len() - 1].iter().all(|&l| l == 4) && (1..=4).contains(&lens[lens.len() - 1])
                || lens == [4, 6, 5]
                || lens == [4, 6, 4]));
    layout && issuer_known(d) && luhn(d)
}

fn issuer_known(d: &[u8]) -> bool {
    let n = d.len();
    let prefix = |k: usize| d[..k].iter().fold(0u32, |acc, &x| acc * 10 + u32::from(x));
    let (p1, p2, p3, p4) = (prefix(1), prefix(2), prefix(3), prefix(4));
    let visa = p1 == 4 && matches!(n, 13 | 16 | 19);
    let mastercard = n == 16 && ((51..=55).contains(&p2) || (2221..=2720).contains(&p4));
    let amex = n == 15 && matches!(p2, 34 | 37);
    let discover = (16..=19).contains(&n) && (p4 == 6011 || p2 == 65 || (644..=649).contains(&p3));
    let jcb = (16..=19).contains(&n) && (3528..=3589).contains(&p4);
    let diners = (14..=19).contains(&n) && ((300..=305).contains(&p3) || matches!(p2, 36 | 38 | 39));
    let unionpay = (16..=19).contains(&n) && p2 == 62;
    let maestro = matches!(p2, 50 | 56..=58);
    visa || mastercard || amex || discover || jcb || diners || unionpay || maestro
}

fn luhn(d: &[u8]) -> bool {
    let sum: u32 = d
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &x)| {
            let x = u32::from(x);
            if i % 2 == 1 {
                if x * 2 > 9 {
                    x * 2 - 9
                } else {
                    x * 2
                }
            } else {
                x
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// `AAA-GG-SSSS`, dashed, outside the ranges never issued: area 000, 666
/// and 900–999, group 00, serial 0000.
fn ssn(seq: &Sequence, d: &[u8]) -> bool {
    let (lens, count) = seq.lens();
    if lens[..count] != [3, 2, 4] || !seq.seps_all(&[Sep::Dash]) {
        return false;
    }
    let area = u32::from(d[0]) * 100 + u32::from(d[1]) * 10 + u32::from(d[2]);
    area != 0 && area != 666 && area < 900 && d[3..5] != [0, 0] && d[5..9] != [0, 0, 0, 0]
}

fn phone(seq: &Sequence, d: &[u8]) -> bool {
    let (lens, count) = seq.lens();
    let lens = &lens[..count];
    let n = d.len();
    if seq.plus {
        // E.164: a country code (no leading 0) and at most 15 digits. One
        // block must be long enough not to be a diff stat or a score.
        if d[0] == 0 || !(8..=15).contains(&n) {
            return false;
        }
        if lens.len() == 1 {
            return n >= 10;
        }
        let singles = lens[1..].iter().filter(|&&l| l == 1).count();
        let dots_only_alone = seq.seps().iter().all(|&s| s != Sep::Dot) || seq.seps_all(&[Sep::Dot]);
        return lens[0] <= 4 && singles <= 1 && lens[1..].iter().all(|&l| l <= 8) && dots_only_alone;
    }
    nanp(seq, lens, d) || trunk_prefixed(seq, lens, d)
}

/// `(415) 555-0123`, `415-555-0123`, `415.555.0123`, `1-800-555-0199`:
/// area code and exchange start with 2–9; bare spaces are not enough.
fn nanp(seq: &Sequence, lens: &[usize], d: &[u8]) -> bool {
    let (area_at, seps) = match lens {
        [3, 3, 4] => (0, seq.seps()),
        [1, 3, 3, 4] if d[0] == 1 && !seq.paren_first => (1, &seq.seps()[1..]),
        _ => return false,
    };
    let layout = match seps {
        [Sep::Paren, Sep::Dash | Sep::Dot | Sep::Space] => area_at == 1 || seq.paren_first,
        [Sep::Dash, Sep::Dash] | [Sep::Dot, Sep::Dot] => area_at == 0 || seq.seps()[0] == seps[0],
        _ => false,
    };
    layout && d[area_at] >= 2 && d[area_at + 3] >= 2
}

/// National numbers dialled with a trunk 0 (`020 7946 0958`, `06 12 34 56
/// 78`, `0151-12345678`): 10 or 11 digits in 2–5 groups of 2–8, one kind
/// of separator.
fn trunk_prefixed(seq: &Sequence, lens: &[usize], d: &[u8]) -> bool {
    let groups_ok = (2..=5).contains(&lens.len()) && lens.iter().all(|&l| (2..=8).contains(&l));
    let seps_ok =
        seq.seps_all(&[Sep::Space, Sep::Dash]) || (seq.paren_first && seq.seps().first() == Some(&Sep::Paren));
    (10..=11).contains(&d.len()) && d[0] == 0 && d[1] != 0 && groups_ok && seps_ok
}

/// IBAN lengths by country (the SWIFT registry).
const IBAN_LENGTHS: [(&[u8; 2], usize); 87] = [
    (b"AD", 24),
    (b"AE", 23),
    (b"AL", 28),
    (b"AT", 20),
    (b"AZ", 28),
    (b"BA", 20),
    (b"BE", 16),
    (b"BG", 22),
    (b"BH", 22),
    (b"BI", 27),
    (b"BR", 29),
    (b"BY", 28),
    (b"CH", 21),
    (b"CR", 22),
    (b"CY", 28),
    (b"CZ", 24),
    (b"DE", 22),
    (b"DJ", 27),
    (b"DK", 18),
    (b"DO", 28),
    (b"EE", 20),
    (b"EG", 29),
    (b"ES", 24),
    (b"FI", 18),
    (b"FK", 18),
    (b"FO", 18),
    (b"FR", 27),
    (b"GB", 22),
    (b"GE", 22),
    (b"GI", 23),
    (b"GL", 18),
    (b"GR", 27),
    (b"GT", 28),
    (b"HR", 21),
    (b"HU", 28),
    (b"IE", 22),
    (b"IL", 23),
    (b"IQ", 23),
    (b"IS", 26),
    (b"IT", 27),
    (b"JO", 30),
    (b"KW", 30),
    (b"KZ", 20),
    (b"LB", 28),
    (b"LC", 32),
    (b"LI", 21),
    (b"LT", 20),
    (b"LU", 20),
    (b"LV", 21),
    (b"LY", 25),
    (b"MC", 27),
    (b"MD", 24),
    (b"ME", 22),
    (b"MK", 19),
    (b"MN", 20),
    (b"MR", 27),
    (b"MT", 31),
    (b"MU", 30),
    (b"NI", 28),
    (b"NL", 18),
    (b"NO", 15),
    (b"OM", 23),
    (b"PK", 24),
    (b"PL", 28),
    (b"PS", 29),
    (b"PT", 25),
    (b"QA", 29),
    (b"RO", 24),
    (b"RS", 22),
    (b"RU", 33),
    (b"SA", 24),
    (b"SC", 31),
    (b"SD", 18),
    (b"SE", 24),
    (b"SI", 19),
    (b"SK", 24),
    (b"SM", 27),
    (b"SO", 23),
    (b"ST", 25),
    (b"SV", 28),
    (b"TL", 23),
    (b"TN", 24),
    (b"TR", 26),
    (b"UA", 29),
    (b"VA", 22),
    (b"VG", 24),
    (b"XK", 20),
];

fn iban_length(country: &[u8]) -> Option<usize> {
    IBAN_LENGTHS.iter().find(|(c, _)| c.as_slice() == country).map(|&(_, l)| l)
}

/// An IBAN at `s`, compact or printed in groups of four, with its country's
/// length and a mod-97 remainder of 1; the end of it if so.
fn iban(b: &[u8], s: usize) -> Option<usize> {
    let len = iban_length(&b[s..s + 2])?;
    let mut chars = [0u8; 34];
    let mut n = 0;
    let mut p = s;
    let mut grouped = false;
    while n < len {
        let c = *b.get(p)?;
        if n > 0 && n.is_multiple_of(4) && c == b' ' && (grouped || n == 4) {
            grouped = true;
            p += 1;
            continue;
        }
        if grouped && n.is_multiple_of(4) && p > 0 && b[p - 1] != b' ' {
            return None;
        }
        if !(c.is_ascii_uppercase() || c.is_ascii_digit()) {
            return None;
        }
        chars[n] = c;
        n += 1;
        p += 1;
    }
    if b.get(p).is_some_and(|&c| is_word(c)) || !chars[2].is_ascii_digit() || !chars[3].is_ascii_digit() {
        return None;
    }
    let remainder = chars[4..len].iter().chain(&chars[..4]).fold(0u32, |r, &c| {
        if c.is_ascii_digit() {
            (r * 10 + u32::from(c - b'0')) % 97
        } else {
            (r * 100 + u32::from(c - b'A' + 10)) % 97
        }
    });
    (remainder == 1).then_some(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn only(text: &str, kind: &str, needle: &str) {
        let found = find_pii(text);
        assert_eq!(found.len(), 1, "{text:?}: {found:?}");
        assert_eq!(found[0].kind, kind, "{text:?}");
        assert_eq!(&text[found[0].start..found[0].end], needle, "{text:?}");
    }

    fn none(text: &str) {
        assert_eq!(find_pii(text), Vec::new(), "{text:?}");
    }

    /// Completes `partial` with the Luhn check digit.
    fn with_luhn(partial: &str) -> String {
        (0..10)
            .map(|c| format!("{partial}{c}"))
            .find(|s| luhn(&s.bytes().map(|c| c - b'0').collect::<Vec<_>>()))
            .unwrap()
    }

    #[test]
    fn emails() {
        only("write to jane.doe+tag@mail.example.org.", "email", "jane.doe+tag@mail.example.org");
        only("<a href=\"mailto:ops@example.co.uk\">", "email", "ops@example.co.uk");
        for text in [
            "ssh://git@github.com/org/repo",
            "https://user:pw@host.example.com/",
            "npm i left-pad@1.3.0",
            "logo@2x.png",
            "@scope/pkg",
            "user@localhost",
            "image@sha256:abcd",
        ] {
            none(text);
        }
    }

    #[test]
    fn payment_cards() {
        let visa = with_luhn("411111111111111");
        only(&format!("card {visa} ok"), "payment_card", &visa);
        let spaced = format!("{} {} {} {}", &visa[..4], &visa[4..8], &visa[8..12], &visa[12..]);
        only(&format!("card: {spaced}."), "payment_card", &spaced);
        let dashed = spaced.replace(' ', "-");
        only(&dashed, "payment_card", &dashed);
        let amex = with_luhn("37828224631000");
        let amex_printed = format!("{} {} {}", &amex[..4], &amex[4..10], &amex[10..]);
        only(&amex_printed, "payment_card", &amex_printed);
        let mut wrong = visa.clone().into_bytes();
        wrong[15] = if wrong[15] == b'9' { b'0' } else { wrong[15] + 1 };
        none(std::str::from_utf8(&wrong).unwrap());
        none(&with_luhn("170000000000")); // a millisecond timestamp
        none(&format!("{}-{}", &visa[..8], &visa[8..]));
        none(&format!("0x{visa}"));
    }

    #[test]
    fn ibans() {
        only("IBAN GB82WEST12345698765432, thanks", "iban", "GB82WEST12345698765432");
        only("DE89 3704 0044 0532 0130 00", "iban", "DE89 3704 0044 0532 0130 00");
        only("FR1420041010050500013M02606", "iban", "FR1420041010050500013M02606");
        none("GB82WEST12345698765433");
        none("GB82WEST1234569876543");
        none("XX82WEST12345698765432");
        none("DE89 3704 0044 0532 0130 0");
    }

    #[test]
    fn social_security_numbers() {
        only("SSN 123-45-6789", "national_id", "123-45-6789");
        for text in ["000-12-3456", "666-12-3456", "912-34-5678", "123-00-4567", "123-45-0000", "123 45 6789"] {
            none(text);
        }
    }

    #[test]
    fn phone_numbers() {
        only("call +1 415 555 0123 now", "phone", "+1 415 555 0123");
        only("tel: +442079460958", "phone", "+442079460958");
        only("+33 6 12 34 56 78", "phone", "+33 6 12 34 56 78");
        only("(415) 555-0123", "phone", "(415) 555-0123");
        only("415-555-0123", "phone", "415-555-0123");
        only("1-800-555-0199", "phone", "1-800-555-0199");
        only("020 7946 0958", "phone", "020 7946 0958");
        for text in [
            "4155550123",
            "415 555 0123",
            "2024-01-15 12:30:45",
            "v1.2.3 and 10.0.0.1",
            "+12 -3",
            "+1234567",
            "123-456-7890",
            "3.14159265358979",
            "1,234,567.89",
        ] {
            none(text);
        }
    }

    #[test]
    fn digits_inside_words_are_skipped() {
        none("commit 4111111111111111abc and a1b2c3 and 9f86d081884c7d659a2feaa0c55ad015");
    }
}
