//! One server's lock file (`<pins dir>/<server>.lock.toml`): the digest of
//! each tool's canonical definition with the text a reviewer reads (its
//! description and the rest of the definition as sorted JSON), the server's
//! instructions, and its prompts' and resource templates' descriptions.
//! Written so that a change of definition is a readable diff in a pull
//! request; read back strictly (unknown keys are errors, with file and line).

use crate::inspect::canonical::{canonical_definition, definition_digest, text_digest};
use crate::source::{Source, SourceError};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::{Path, PathBuf};

const HEADER: &str = "\
# mcp-warden pins: the tool definitions this server was reviewed with.
# A tool whose definition no longer has this digest is hidden and its calls
# refused until the change is reviewed (`mcp-warden pin --diff`) and pinned
# again (`mcp-warden pin`). Generated; review changes like code.
";

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockFile {
    pub server: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<TextPin>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<ToolPin>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prompts: Vec<NamedPin>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource_templates: Vec<NamedPin>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolPin {
    pub name: String,
    /// `sha256:<hex>` of the canonical definition (`inspect::canonical`).
    pub digest: String,
    /// For the reviewer; the digest is what is enforced.
    #[serde(default)]
    pub description: String,
    /// The rest of the pinned definition (title, schemas, annotations) as
    /// sorted, indented JSON, so a schema change is a line diff.
    #[serde(default)]
    pub definition: String,
    /// A digest whose scanner findings an operator reviewed and accepted
    /// (`mcp-warden pin --accept`); it covers that definition only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextPin {
    pub digest: String,
    pub text: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedPin {
    pub name: String,
    pub digest: String,
    #[serde(default)]
    pub description: String,
}

/// What a server advertised, as read from it (or from one listing).
#[derive(Clone, Debug, Default)]
pub struct Advertised {
    pub instructions: Option<String>,
    pub tools: Vec<Value>,
    pub prompts: Vec<Value>,
    pub resource_templates: Vec<Value>,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{0}")]
    Invalid(SourceError),
}

/// Where `server`'s lock file is kept.
pub fn lock_path(dir: &Path, server: &str) -> PathBuf {
    dir.join(format!("{server}.lock.toml"))
}

impl ToolPin {
    /// The pin of a definition as advertised now.
    pub fn of(tool: &Value) -> ToolPin {
        let name = tool.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
        ToolPin {
            name,
            digest: definition_digest(tool),
            description: tool.get("description").and_then(Value::as_str).unwrap_or_default().to_string(),
            definition: reviewed_rest(tool),
            accepted: None,
        }
    }
}

/// The pinned fields other than name and description, sorted and indented.
fn reviewed_rest(tool: &Value) -> String {
    let mut rest = tool.clone();
    if let Some(fields) = rest.as_object_mut() {
        fields.remove("name");
        fields.remove("description");
    }
    let canonical: Value = serde_json::from_str(&canonical_definition(&rest)).unwrap_or(Value::Null);
    serde_json::to_string_pretty(&canonical).unwrap_or_default()
}

fn named_pin(entry: &Value, field: &str) -> Option<NamedPin> {
    let name = entry.get(field)?.as_str()?.to_string();
    let description = entry.get("description").and_then(Value::as_str).unwrap_or_default().to_string();
    let mut covered = String::new();
    crate::inspect::canonical::write_canonical(entry, &mut covered);
    Some(NamedPin { name, digest: text_digest(&covered), description })
}

impl LockFile {
    /// The lock file for what `server` advertises now. Entries are sorted
    /// by name, so a re-pin of an unchanged server writes the same bytes.
    pub fn of(server: &str, advertised: &Advertised) -> LockFile {
        let mut tools: Vec<ToolPin> = advertised
            .tools
            .iter()
            .filter(|tool| tool.get("name").and_then(Value::as_str).is_some())
            .map(ToolPin::of)
            .collect();
        tools.sort_by(|a, b| a.name.cmp(&b.name));
        let mut prompts: Vec<NamedPin> = advertised.prompts.iter().filter_map(|p| named_pin(p, "name")).collect();
        prompts.sort_by(|a, b| a.name.cmp(&b.name));
        let mut resource_templates: Vec<NamedPin> =
            advertised.resource_templates.iter().filter_map(|t| named_pin(t, "uriTemplate")).collect();
        resource_templates.sort_by(|a, b| a.name.cmp(&b.name));
        LockFile {
            server: server.to_string(),
            instructions: advertised
                .instructions
                .as_ref()
                .map(|text| TextPin { digest: text_digest(text), text: text.clone() }),
            tools,
            prompts,
            resource_templates,
        }
    }

    pub fn tool(&self, name: &str) -> Option<&ToolPin> {
        self.tools.iter().find(|t| t.name == name)
    }

    /// Parses a lock file; errors name the file, line and column.
    pub fn parse(text: &str, origin: &str) -> Result<LockFile, SourceError> {
        Source::new(origin, text).parse()
    }

    pub fn read(path: &Path) -> Result<LockFile, LockError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| LockError::Io { path: path.to_path_buf(), source })?;
        LockFile::parse(&text, &path.display().to_string()).map_err(LockError::Invalid)
    }

    pub fn render(&self) -> String {
        let body = toml::to_string(self).expect("a lock file always serializes");
        format!("{HEADER}\n{body}")
    }

    /// Writes the file whole or not at all (a temporary file renamed over
    /// it), so a gateway reading it never sees half a lock file.
    pub fn write(&self, path: &Path) -> Result<(), LockError> {
        let io = |source| LockError::Io { path: path.to_path_buf(), source };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let partial = path.with_extension("toml.partial");
        std::fs::write(&partial, self.render()).map_err(io)?;
        std::fs::rename(&partial, path).map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn advertised() -> Advertised {
        Advertised {
            instructions: Some("Use read_file for docs.".into()),
            tools: vec![
                json!({"name": "write_file", "description": "Writes a file.\nOnly inside the workspace.", "inputSchema": {"type": "object", "properties": {"path": {"type": "string"}, "content": {"type": "string"}}}}),
                json!({"name": "read_file", "description": "Reads ''' a \"file\".", "inputSchema": {"type": "object"}, "annotations": {"readOnlyHint": true}}),
                json!({"description": "nameless"}),
            ],
            prompts: vec![json!({"name": "summarize", "description": "Summarizes."})],
            resource_templates: vec![json!({"uriTemplate": "docs://{page}", "description": "A page."})],
        }
    }

    #[test]
    fn a_lock_file_reads_back_as_written_and_is_sorted() {
        let lock = LockFile::of("files", &advertised());
        let text = lock.render();
        assert!(text.starts_with("# mcp-warden pins"));
        let back = LockFile::parse(&text, "files.lock.toml").unwrap();
        assert_eq!(back, lock);
        assert_eq!(lock.tools.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["read_file", "write_file"]);
        assert_eq!(lock.tool("read_file").unwrap().digest, definition_digest(&advertised().tools[1]));
        assert!(lock.tool("read_file").unwrap().definition.contains("\"readOnlyHint\": true"));
        assert_eq!(
            LockFile::of("files", &advertised()).render(),
            text,
            "pinning the same server twice writes the same bytes"
        );
    }

    #[test]
    fn a_broken_lock_file_is_refused_with_its_line() {
        let err = LockFile::parse(
            "server = \"files\"\n[[tools]]\nname = \"a\"\ndigest = \"x\"\ncolour = 1\n",
            "p/files.lock.toml",
        )
        .unwrap_err();
        assert_eq!((err.origin.as_str(), err.line), ("p/files.lock.toml", 5), "{err}");
    }

    #[test]
    fn writing_replaces_the_file_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = lock_path(&dir.path().join("pins"), "files");
        LockFile::of("files", &advertised()).write(&path).unwrap();
        assert_eq!(LockFile::read(&path).unwrap(), LockFile::of("files", &advertised()));
        assert!(!path.with_extension("toml.partial").exists());
    }
}
