//! JSON Schema checks on the whole arguments object: the rule's own `schema` /
//! `schema_file` (compiled at load), and the upstream's advertised
//! `inputSchema` ([`InputSchema`], compiled by the caller once per listing).
//!
//! The `jsonschema` crate is built without default features, so a `$ref` to a
//! remote or file URI is never fetched: such a schema does not compile. A
//! rule's schema that does not compile is a load error; an upstream schema that
//! does not compile refuses the call (fail closed).
//!
//! Refusals name the JSON pointer and the keyword that failed (`/count`,
//! `minimum`), never the value: the crate's own messages quote the instance.

use jsonschema::Validator;
use serde_json::Value;

/// A compiled schema.
pub(super) struct CompiledSchema(Validator);

impl std::fmt::Debug for CompiledSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CompiledSchema")
    }
}

/// Where and why an instance failed a schema, without the instance's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SchemaFailure {
    /// JSON pointer into the arguments (`""` for the whole object).
    pub(super) pointer: String,
    /// The schema keyword that failed (`required`, `type`, ...).
    pub(super) keyword: String,
}

impl CompiledSchema {
    /// Compiles `schema`; the error is the crate's message (it describes the
    /// schema, which comes from the policy or the upstream, not from the client).
    pub(super) fn compile(schema: &Value) -> Result<CompiledSchema, String> {
        jsonschema::validator_for(schema).map(CompiledSchema).map_err(|e| e.to_string())
    }

    pub(super) fn check(&self, instance: &Value) -> Result<(), SchemaFailure> {
        match self.0.validate(instance) {
            Ok(()) => Ok(()),
            Err(e) => {
                Err(SchemaFailure { pointer: e.instance_path().to_string(), keyword: e.kind().keyword().to_string() })
            }
        }
    }
}

/// An upstream's advertised `inputSchema`, compiled once by whoever holds the
/// tool's definition (the relay, per catalog entry) rather than on every call.
/// A schema that does not compile is kept as such: every call checked against
/// it is refused (fail closed), since its arguments cannot be checked.
pub struct InputSchema(Result<CompiledSchema, String>);

impl InputSchema {
    pub fn compile(schema: &Value) -> InputSchema {
        InputSchema(CompiledSchema::compile(schema))
    }

    /// Why it does not compile, if it does not (the crate's message about the
    /// schema, for logs; it never reaches a client).
    pub fn error(&self) -> Option<&str> {
        self.0.as_ref().err().map(String::as_str)
    }

    pub(super) fn compiled(&self) -> Option<&CompiledSchema> {
        self.0.as_ref().ok()
    }
}

impl std::fmt::Debug for InputSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Ok(_) => f.write_str("InputSchema"),
            Err(e) => f.debug_tuple("InputSchema").field(&format_args!("does not compile: {e}")).finish(),
        }
    }
}
