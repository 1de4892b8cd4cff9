//! Inspection: what servers say to models, read before a model reads it.
//! Pure like the policy engine (no I/O, nothing above it): `scan/` judges
//! tool definitions and server texts (hidden instructions, exfiltration
//! channels, invisible characters); `sanitize.rs` removes the characters a
//! person cannot see from text a model will read; `injection.rs` runs the
//! scanner over results where it could find something; `secrets/` and
//! `pii.rs` find values that must not reach a model; `canonical.rs` is the
//! digest a pin binds to.

pub mod canonical;
pub mod injection;
pub mod pii;
pub mod sanitize;
pub mod scan;
pub mod secrets;
