//! JSON Schema checks on the whole arguments object: the rule's own `schema` /
//! `schema_file` (compiled at load), and the upstream's advertised
//! `inputSchema` (compiled on first use and cached).
//!
//! The `jsonschema` crate is built without default features, so a `$ref` to a
//! remote or file URI is never fetched: such a schema does not compile. A
//! rule's schema that does not compile is a load error; an upstream schema that
//! does not compile refuses the call (fail closed).
//!
//! Refusals name the JSON pointer and the keyword that failed (`/count`,
//! `minimum`), never the value: the crate's own messages quote the instance.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher, RandomState};
use std::sync::{Arc, Mutex};

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

/// At most this many upstream schemas are kept compiled.
pub(super) const INPUT_SCHEMA_CACHE_CAPACITY: usize = 1024;

/// Compiled upstream `inputSchema`s, keyed by a hash of the schema.
///
/// THE ONE PIECE OF INTERNAL MUTABILITY IN THE POLICY ENGINE. It never changes
/// a verdict: an entry is used only when its schema is equal (not just same
/// hash) to the one asked for, so a collision costs a compile, never a wrong
/// answer. Bounded: when full, the least recently used entry is dropped.
/// Compiling and validating happen outside the lock.
pub(super) struct InputSchemaCache {
    hasher: RandomState,
    entries: Mutex<CacheEntries>,
}

#[derive(Default)]
struct CacheEntries {
    map: HashMap<u64, CacheEntry>,
    clock: u64,
}

struct CacheEntry {
    schema: Arc<Value>,
    compiled: Arc<Result<CompiledSchema, String>>,
    last_used: u64,
}

impl std::fmt::Debug for InputSchemaCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let len = self.entries.lock().map(|e| e.map.len()).unwrap_or(0);
        f.debug_struct("InputSchemaCache").field("entries", &len).finish()
    }
}

impl Default for InputSchemaCache {
    fn default() -> Self {
        InputSchemaCache { hasher: RandomState::new(), entries: Mutex::new(CacheEntries::default()) }
    }
}

impl InputSchemaCache {
    /// The compiled form of `schema`, compiling it on a miss. `Err` when the
    /// schema does not compile.
    pub(super) fn get(&self, schema: &Value) -> Arc<Result<CompiledSchema, String>> {
        let key = {
            let mut h = self.hasher.build_hasher();
            hash_value(schema, &mut h);
            h.finish()
        };
        if let Some(hit) = self.lookup(key, schema) {
            return hit;
        }
        let compiled = Arc::new(CompiledSchema::compile(schema));
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.clock += 1;
        let now = entries.clock;
        if entries.map.len() >= INPUT_SCHEMA_CACHE_CAPACITY && !entries.map.contains_key(&key) {
            if let Some(oldest) = entries.map.iter().min_by_key(|(_, e)| e.last_used).map(|(k, _)| *k) {
                entries.map.remove(&oldest);
            }
        }
        entries
            .map
            .insert(key, CacheEntry { schema: Arc::new(schema.clone()), compiled: compiled.clone(), last_used: now });
        compiled
    }

    fn lookup(&self, key: u64, schema: &Value) -> Option<Arc<Result<CompiledSchema, String>>> {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.clock += 1;
        let now = entries.clock;
        let entry = entries.map.get_mut(&key)?;
        if *entry.schema != *schema {
            return None;
        }
        entry.last_used = now;
        Some(entry.compiled.clone())
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.entries.lock().map(|e| e.map.len()).unwrap_or(0)
    }
}

/// Hashes a JSON value structurally (object keys in their stored order, which
/// serde_json keeps sorted without `preserve_order`).
fn hash_value<H: Hasher>(value: &Value, h: &mut H) {
    match value {
        Value::Null => 0u8.hash(h),
        Value::Bool(b) => (1u8, b).hash(h),
        Value::Number(n) => {
            2u8.hash(h);
            match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => i.hash(h),
                (None, Some(u)) => u.hash(h),
                (None, None) => n.as_f64().map(f64::to_bits).hash(h),
            }
        }
        Value::String(s) => (3u8, s).hash(h),
        Value::Array(items) => {
            (4u8, items.len()).hash(h);
            for item in items {
                hash_value(item, h);
            }
        }
        Value::Object(map) => {
            (5u8, map.len()).hash(h);
            for (k, v) in map {
                k.hash(h);
                hash_value(v, h);
            }
        }
    }
}
