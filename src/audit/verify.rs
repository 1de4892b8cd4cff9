//! The verifier: reads a whole audit file and names the first line where the
//! chain breaks (`mcp-warden audit verify`).

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use super::digest::sha256_hex;
use super::record::{check_record, GENESIS_PREV};

/// Result of a successful [`verify`].
#[derive(Debug)]
pub struct VerifyReport {
    pub records: u64,
}

/// Why an audit file failed verification. `line` is 1-based.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("line {line}: {reason}")]
    Broken { line: u64, reason: String },
    #[error("{0}")]
    Io(std::io::Error),
}

/// Check a whole audit file; see [`verify_reader`]. A file cut short at the
/// end still verifies: see the module docs.
pub fn verify(path: &Path) -> Result<VerifyReport, VerifyError> {
    let file = File::open(path).map_err(VerifyError::Io)?;
    verify_reader(BufReader::new(file))
}

/// Check every line of an audit log and stop at the first bad one.
///
/// Checked per line, in this order: well-formed record (JSON object, all
/// fields, right types); `seq` is 1 on the first line and exactly one more
/// than the previous line's after that; `prev` equals the SHA-256 of the
/// previous line (64 zeros on the first line).
///
/// When `seq` runs on but `prev` does not match, the error names the
/// *previous* line: its bytes no longer hash to what its successor recorded,
/// which is what an edited record looks like. (The other explanation, that
/// the successor's own `prev` field was rewritten, is given in the reason.)
pub fn verify_reader(mut r: impl BufRead) -> Result<VerifyReport, VerifyError> {
    let broken = |line: u64, reason: String| VerifyError::Broken { line, reason };
    let mut line_no: u64 = 0;
    let mut line = Vec::new();
    // (seq, hash) of the previous line.
    let mut previous: Option<(u64, String)> = None;

    loop {
        line.clear();
        if r.read_until(b'\n', &mut line).map_err(VerifyError::Io)? == 0 {
            break;
        }
        line_no += 1;
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        let head = check_record(&line).map_err(|reason| broken(line_no, reason))?;

        match &previous {
            None => {
                if head.seq != 1 {
                    return Err(broken(
                        line_no,
                        format!("the first record has seq {}, expected 1: earlier records were removed", head.seq),
                    ));
                }
                if head.prev != GENESIS_PREV {
                    return Err(broken(
                        line_no,
                        "the first record's prev is not 64 zeros: earlier records were removed, \
                         or this line was edited"
                            .to_string(),
                    ));
                }
            }
            Some((prev_seq, prev_hash)) => {
                if head.seq <= *prev_seq {
                    return Err(broken(
                        line_no,
                        format!(
                            "seq {} does not increase after {prev_seq}: a line was inserted, \
                             duplicated or moved here",
                            head.seq
                        ),
                    ));
                }
                if head.seq != prev_seq + 1 {
                    return Err(broken(
                        line_no,
                        format!(
                            "seq {} follows {prev_seq}: {} record(s) missing before this line \
                             (deleted or moved)",
                            head.seq,
                            head.seq - prev_seq - 1
                        ),
                    ));
                }
                if head.prev != *prev_hash {
                    return Err(broken(
                        line_no - 1,
                        format!(
                            "this line's SHA-256 does not match the prev recorded by line {line_no}: \
                             this line was edited (or line {line_no}'s prev field was)"
                        ),
                    ));
                }
            }
        }
        previous = Some((head.seq, sha256_hex(&line)));
    }
    Ok(VerifyReport { records: line_no })
}
