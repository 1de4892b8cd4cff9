//! The response detectors end to end: a generated positive of every kind is
//! found with its kind and exact range; the benign look-alike corpus in
//! tests/data/lookalikes (git logs, digests, UUIDs, base64 images, minified
//! JS, CSS colours, prose with numbers, configs that name secrets) gives no
//! finding; redaction keeps every byte outside a match. Prints the
//! false-positive figures.
//!
//! Positives are built here with the right format and checksums from a
//! fixed seed; none is a real credential.

use std::path::PathBuf;

use mcp_warden::inspect::pii::find_pii;
use mcp_warden::inspect::secrets::{find_secrets, redact, Class, Match};
use proptest::prelude::*;

const B62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Deterministic base62 text (xorshift), so every run builds the same values.
fn b62(seed: u64, len: usize) -> String {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            B62[(x % 62) as usize] as char
        })
        .collect()
}

fn crc32(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &x in data {
        c ^= u32::from(x);
        for _ in 0..8 {
            c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
        }
    }
    !c
}

/// A GitHub classic or npm token: 30 random base62 characters and their
/// CRC-32 as 6 base62 digits.
fn checksummed(prefix: &str, seed: u64) -> String {
    let body = b62(seed, 30);
    let mut n = crc32(body.as_bytes());
    let mut check = [b'0'; 6];
    for slot in check.iter_mut().rev() {
        *slot = B62[(n % 62) as usize];
        n /= 62;
    }
    format!("{prefix}{body}{}", std::str::from_utf8(&check).unwrap())
}

fn base64url(data: &[u8]) -> String {
    let table = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &c)| n | (u32::from(c) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(table[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

fn luhn_complete(partial: &str) -> String {
    (0..10)
        .map(|c| format!("{partial}{c}"))
        .find(|s| {
            let sum: u32 = s
                .bytes()
                .rev()
                .enumerate()
                .map(|(i, c)| {
                    let d = u32::from(c - b'0');
                    if i % 2 == 1 {
                        if d * 2 > 9 {
                            d * 2 - 9
                        } else {
                            d * 2
                        }
                    } else {
                        d
                    }
                })
                .sum();
            sum.is_multiple_of(10)
        })
        .unwrap()
}

/// (kind, the text around it, the exact range expected) for every secret kind.
fn secret_positives() -> Vec<(&'static str, String, String)> {
    let pem_body: String = (0..5).map(|i| b62(100 + i, 64) + "\n").collect();
    let pem = format!("-----BEGIN OPENSSH PRIVATE KEY-----\n{pem_body}-----END OPENSSH PRIVATE KEY-----");
    let gcp_key = format!("-----BEGIN PRIVATE KEY-----\\n{}\\n-----END PRIVATE KEY-----\\n", b62(110, 400));
    let gcp = format!(
        "{{\"type\": \"service_account\", \"project_id\": \"demo\", \"private_key\": \"{gcp_key}\", \"client_email\": \"svc@demo.iam.gserviceaccount.com\"}}"
    );
    let aws_secret = format!("{}/{}+{}", b62(120, 18), b62(121, 12), b62(122, 8));
    let azure = format!(
        "DefaultEndpointsProtocol=https;AccountName=demo;AccountKey={}==;EndpointSuffix=core.windows.net",
        b62(130, 86)
    );
    let jwt = format!(
        "{}.{}.{}",
        base64url(br#"{"alg":"RS256","kid":"k1"}"#),
        base64url(br#"{"sub":"demo","exp":1900000000}"#),
        b62(140, 86)
    );
    let generic = b62(150, 40);
    let ghp = checksummed("ghp_", 160);
    let npm = checksummed("npm_", 161);
    let gitlab = format!("glpat-{}", b62(162, 20));
    let slack = format!("xoxp-{}-{}-{}-{}", 123456789012u64, 234567890123u64, 345678901234u64, b62(163, 32));
    let stripe = format!("sk_live_{}", b62(164, 99));
    let openai = format!("sk-proj-{}", b62(165, 156));
    let anthropic = format!("sk-ant-api03-{}AA", b62(166, 93));
    let pypi = format!("pypi-AgEIcHlwaS5vcmc{}", b62(167, 160));
    vec![
        ("private_key", format!("here:\n{pem}\nend"), pem),
        ("aws_access_key", "id AKIAQWERTYUIOPASDF23 end".into(), "AKIAQWERTYUIOPASDF23".into()),
        ("aws_secret_key", format!("aws_secret_access_key = {aws_secret}\n"), aws_secret),
        ("gcp_service_account", gcp, gcp_key),
        ("azure_connection_string", format!("conn: \"{azure}\""), azure),
        ("github_token", format!("token {ghp} here"), ghp),
        ("gitlab_token", format!("{gitlab}\n"), gitlab),
        ("slack_token", format!("SLACK={slack}"), slack),
        ("stripe_key", format!("'{stripe}'"), stripe),
        ("openai_key", format!("OPENAI_API_KEY={openai}"), openai),
        ("anthropic_key", format!("x-api-key: {anthropic}"), anthropic),
        ("npm_token", format!("//registry.npmjs.org/:_authToken={npm}"), npm),
        ("pypi_token", format!("password = {pypi}"), pypi),
        ("jwt", format!("Authorization: Bearer {jwt}"), jwt),
        ("url_credentials", "redis://default:Zq81mN02pL@cache.internal:6379/0".into(), "default:Zq81mN02pL".into()),
        ("generic_secret", format!("\"client_secret\": \"{generic}\""), generic),
    ]
}

fn pii_positives() -> Vec<(&'static str, String, String)> {
    let card = luhn_complete("545454545454545");
    let printed = format!("{} {} {} {}", &card[..4], &card[4..8], &card[8..12], &card[12..]);
    vec![
        ("email", "Contact: a.person+news@mail.example.org, thanks".into(), "a.person+news@mail.example.org".into()),
        ("phone", "Phone: +49 30 901820 (office)".into(), "+49 30 901820".into()),
        ("phone", "call (212) 555-0142 after 9".into(), "(212) 555-0142".into()),
        ("payment_card", format!("card {printed} exp 12/29"), printed),
        ("iban", "IBAN: DE89370400440532013000.".into(), "DE89370400440532013000".into()),
        ("iban", "IBAN GB82 WEST 1234 5698 7654 32 (UK)".into(), "GB82 WEST 1234 5698 7654 32".into()),
        ("national_id", "SSN 219-48-5561 on file".into(), "219-48-5561".into()),
    ]
}

fn check(found: &[Match], text: &str, kind: &str, expected: &str) {
    assert_eq!(found.len(), 1, "{kind}: {found:?} in {text:?}");
    assert_eq!(found[0].kind, kind, "{text:?}");
    assert_eq!(&text[found[0].start..found[0].end], expected, "{kind}");
}

#[test]
fn every_secret_kind_is_found() {
    for (kind, text, expected) in secret_positives() {
        let found = find_secrets(&text);
        check(&found, &text, kind, &expected);
        assert_eq!(found[0].class, Class::Secret);
    }
}

#[test]
fn every_pii_kind_is_found() {
    for (kind, text, expected) in pii_positives() {
        let found = find_pii(&text);
        check(&found, &text, kind, &expected);
        assert_eq!(found[0].class, Class::Pii);
    }
}

#[test]
fn broken_checksums_and_lengths_are_not_found() {
    let ghp = checksummed("ghp_", 170);
    let flipped = format!("{}{}", &ghp[..10], if &ghp[10..11] == "a" { "b" } else { "a" }) + &ghp[11..];
    assert!(find_secrets(&flipped).is_empty());
    assert!(find_secrets(&format!("{ghp}X")).is_empty());
    assert!(find_pii("DE89370400440532013001").is_empty());
    let card = luhn_complete("545454545454545");
    let wrong = format!("{}{}", &card[..15], (card.as_bytes()[15] - b'0' + 1) % 10);
    assert!(find_pii(&wrong).is_empty());
    let header_without_alg = base64url(br#"{"typ":"JWT","kid":"x"}"#);
    assert!(find_secrets(&format!("{header_without_alg}.{}.{}", base64url(b"{}"), b62(171, 30))).is_empty());
}

fn corpus() -> Vec<(String, String)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/lookalikes");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "run tests/data/lookalikes/generate.py");
    files
        .into_iter()
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read_to_string(&p).unwrap()))
        .collect()
}

#[test]
fn look_alikes_give_no_findings() {
    let (mut lines, mut bytes, mut secrets, mut pii) = (0, 0, 0, 0);
    for (name, text) in corpus() {
        lines += text.lines().count();
        bytes += text.len();
        let s = find_secrets(&text);
        let p = find_pii(&text);
        for m in s.iter().chain(&p) {
            println!("false positive in {name}: {} {:?}", m.kind, &text[m.start..m.end]);
        }
        // Line by line too: a detector must not depend on what surrounds a line.
        for line in text.lines() {
            secrets += find_secrets(line).len();
            pii += find_pii(line).len();
        }
        secrets += s.len();
        pii += p.len();
    }
    println!("look-alike corpus: {lines} lines, {bytes} bytes; secret findings {secrets}, pii findings {pii}");
    assert_eq!(secrets, 0, "secret false positives on the look-alike corpus");
    assert_eq!(pii, 0, "the corpus holds no personal data, so every pii finding is a false positive");
}

#[test]
fn redaction_keeps_every_other_byte() {
    let mut text = String::new();
    let (_, corpus_text) = &corpus()[0];
    let filler: Vec<&str> = corpus_text.lines().take(40).collect();
    for (i, (_, positive, _)) in secret_positives().into_iter().chain(pii_positives()).enumerate() {
        text.push_str(filler[i % filler.len()]);
        text.push_str(" — ünïcödé ");
        text.push_str(&positive);
        text.push('\n');
    }
    let mut matches = find_secrets(&text);
    matches.extend(find_pii(&text));
    matches.sort_by_key(|m| m.start);
    let redacted = redact(&text, &matches);
    let mut rebuilt = String::new();
    let mut at = 0;
    let mut rest = redacted.as_str();
    for m in &matches {
        let kept = &text[at..m.start];
        assert!(rest.starts_with(kept), "bytes before {} changed", m.kind);
        rest = &rest[kept.len()..];
        let placeholder = format!("[REDACTED:{}]", m.kind);
        assert!(rest.starts_with(&placeholder));
        rest = &rest[placeholder.len()..];
        rebuilt.push_str(kept);
        rebuilt.push_str(&text[m.start..m.end]);
        at = m.end;
    }
    assert_eq!(rest, &text[at..]);
    rebuilt.push_str(rest);
    assert_eq!(rebuilt, text);
    assert!(matches.len() >= secret_positives().len() + pii_positives().len());
}

fn well_formed(found: &[Match], text: &str) {
    for pair in found.windows(2) {
        assert!(pair[0].end <= pair[1].start, "sorted, non-overlapping");
    }
    for m in found {
        assert!(m.start < m.end && m.end <= text.len());
        assert!(text.is_char_boundary(m.start) && text.is_char_boundary(m.end));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_text_gives_well_formed_matches(text in "(\\PC|[-=:@+/._ \"'\\n0-9A-Za-z]|ghp_|sk-|eyJ|://|key=|AKIA|-----BEGIN ){0,80}") {
        let s = find_secrets(&text);
        let p = find_pii(&text);
        well_formed(&s, &text);
        well_formed(&p, &text);
        let out = redact(&text, &s);
        if s.is_empty() {
            prop_assert_eq!(out, text);
        }
    }
}
