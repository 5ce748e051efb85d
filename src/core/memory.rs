//! Memories: identity (content hash), the wire shape of mcp-memory-service, and validation
//! of what callers may store.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::core::error::{Error, Result};
use crate::core::time::iso8601;

/// Largest content a memory may hold (bigger content belongs in a document upload).
pub const MAX_CONTENT_BYTES: usize = 8 * 1024 * 1024;
/// Content above this size lives in R2, not in the D1 row.
pub const LARGE_CONTENT_THRESHOLD: usize = 1024 * 1024;
pub const MAX_TAGS: usize = 64;
pub const MAX_TAG_CHARS: usize = 100;
pub const MAX_TYPE_CHARS: usize = 64;
pub const MAX_METADATA_BYTES: usize = 64 * 1024;

/// The identity of a memory: hex SHA-256 of its content trimmed and lower-cased, exactly as
/// mcp-memory-service computes it, so that imported memories keep their hashes.
pub fn content_hash(content: &str) -> String {
    let normalised = content.trim().to_lowercase();
    hex::encode(Sha256::digest(normalised.as_bytes()))
}

/// Whether a string has the shape of a content hash (64 lower-case hex digits).
pub fn is_content_hash(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A memory as the REST API and MCP tools show it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Memory {
    pub content: String,
    pub content_hash: String,
    pub tags: Vec<String>,
    pub memory_type: Option<String>,
    pub metadata: Map<String, Value>,
    pub created_at: f64,
    pub created_at_iso: String,
    pub updated_at: f64,
    pub updated_at_iso: String,
}

impl Memory {
    pub fn new(
        content: String,
        tags: Vec<String>,
        memory_type: Option<String>,
        metadata: Map<String, Value>,
        created_at: f64,
        updated_at: f64,
    ) -> Self {
        Memory {
            content_hash: content_hash(&content),
            content,
            tags,
            memory_type,
            metadata,
            created_at,
            created_at_iso: iso8601(created_at),
            updated_at,
            updated_at_iso: iso8601(updated_at),
        }
    }
}

/// Tags arrive as a JSON array or, from some clients, as one comma-separated string.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum TagsInput {
    List(Vec<Value>),
    Csv(String),
}

/// `POST /api/memories` body.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateMemoryRequest {
    pub content: Value,
    #[serde(default)]
    pub tags: Option<TagsInput>,
    #[serde(default)]
    pub memory_type: Option<Value>,
    #[serde(default)]
    pub metadata: Option<Value>,
    /// Sent by mcp-memory-service clients; kept in metadata as `hostname`.
    #[serde(default)]
    pub client_hostname: Option<String>,
}

/// `PUT /api/memories/{hash}` body: content is immutable (it is the identity).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateMemoryRequest {
    #[serde(default)]
    pub tags: Option<TagsInput>,
    #[serde(default)]
    pub memory_type: Option<Value>,
    #[serde(default)]
    pub metadata: Option<Value>,
}

/// A validated memory ready to be stored.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMemory {
    pub content: String,
    pub content_hash: String,
    pub tags: Vec<String>,
    pub memory_type: Option<String>,
    pub metadata: Map<String, Value>,
}

/// A validated partial update.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MemoryPatch {
    pub tags: Option<Vec<String>>,
    pub memory_type: Option<Option<String>>,
    pub metadata: Option<Map<String, Value>>,
}

pub fn validate_content(content: &Value) -> Result<String> {
    let Value::String(s) = content else {
        return Err(Error::invalid_param("content", "content must be a string"));
    };
    if s.trim().is_empty() {
        return Err(Error::invalid_param("content", "content must not be empty"));
    }
    if s.len() > MAX_CONTENT_BYTES {
        return Err(Error::PayloadTooLarge(format!(
            "content is {} bytes; the limit is {MAX_CONTENT_BYTES} bytes (upload large texts as a document)",
            s.len()
        )));
    }
    Ok(s.clone())
}

pub fn validate_tags(input: Option<&TagsInput>) -> Result<Vec<String>> {
    let raw: Vec<String> = match input {
        None => return Ok(Vec::new()),
        Some(TagsInput::Csv(s)) => s.split(',').map(|t| t.to_string()).collect(),
        Some(TagsInput::List(items)) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Value::String(s) => out.push(s.clone()),
                    _ => return Err(Error::invalid_param("tags", "every tag must be a string")),
                }
            }
            out
        }
    };
    normalise_tags(raw)
}

/// Trims, drops empties, de-duplicates (keeping order) and enforces the limits.
pub fn normalise_tags(raw: Vec<String>) -> Result<Vec<String>> {
    if raw.len() > MAX_TAGS {
        return Err(Error::invalid_param(
            "tags",
            format!("too many tags: {} (at most {MAX_TAGS})", raw.len()),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(raw.len());
    for tag in raw {
        let tag = tag.trim();
        if tag.is_empty() {
            continue;
        }
        if tag.chars().count() > MAX_TAG_CHARS {
            return Err(Error::invalid_param(
                "tags",
                format!("a tag is longer than {MAX_TAG_CHARS} characters"),
            ));
        }
        if tag.chars().any(|c| c.is_control()) {
            return Err(Error::invalid_param(
                "tags",
                "tags must not contain control characters",
            ));
        }
        if !out.iter().any(|t| t == tag) {
            out.push(tag.to_string());
        }
    }
    Ok(out)
}

pub fn validate_memory_type(v: Option<&Value>) -> Result<Option<String>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            let s = s.trim();
            if s.is_empty() {
                Ok(None)
            } else if s.chars().count() > MAX_TYPE_CHARS
                || s.chars().any(|c| c.is_control() || c.is_whitespace())
            {
                Err(Error::invalid_param(
                    "memory_type",
                    format!("memory_type must be one word of at most {MAX_TYPE_CHARS} characters"),
                ))
            } else {
                Ok(Some(s.to_string()))
            }
        }
        Some(_) => Err(Error::invalid_param(
            "memory_type",
            "memory_type must be a string",
        )),
    }
}

pub fn validate_metadata(v: Option<&Value>) -> Result<Map<String, Value>> {
    match v {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(map)) => {
            let size = serde_json::to_vec(map)
                .map(|b| b.len())
                .unwrap_or(usize::MAX);
            if size > MAX_METADATA_BYTES {
                return Err(Error::invalid_param(
                    "metadata",
                    format!("metadata is {size} bytes; the limit is {MAX_METADATA_BYTES}"),
                ));
            }
            Ok(map.clone())
        }
        Some(_) => Err(Error::invalid_param(
            "metadata",
            "metadata must be a JSON object",
        )),
    }
}

impl CreateMemoryRequest {
    pub fn validate(&self) -> Result<NewMemory> {
        let content = validate_content(&self.content)?;
        let tags = validate_tags(self.tags.as_ref())?;
        let memory_type = validate_memory_type(self.memory_type.as_ref())?;
        let mut metadata = validate_metadata(self.metadata.as_ref())?;
        if let Some(host) = &self.client_hostname {
            let host = host.trim();
            if host.len() > 255 {
                return Err(Error::invalid_param(
                    "client_hostname",
                    "client_hostname is too long",
                ));
            }
            if !host.is_empty() {
                metadata.insert("hostname".into(), Value::String(host.to_string()));
            }
        }
        Ok(NewMemory {
            content_hash: content_hash(&content),
            content,
            tags,
            memory_type,
            metadata,
        })
    }
}

impl UpdateMemoryRequest {
    pub fn validate(&self) -> Result<MemoryPatch> {
        let patch = MemoryPatch {
            tags: match &self.tags {
                Some(t) => Some(validate_tags(Some(t))?),
                None => None,
            },
            memory_type: match &self.memory_type {
                Some(v) => Some(validate_memory_type(Some(v))?),
                None => None,
            },
            metadata: match &self.metadata {
                Some(v) => Some(validate_metadata(Some(v))?),
                None => None,
            },
        };
        if patch == MemoryPatch::default() {
            return Err(Error::invalid(
                "nothing to update: give tags, memory_type or metadata",
            ));
        }
        Ok(patch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hash_matches_mcp_memory_service() {
        // sha256("hello world") — the content is trimmed and lower-cased first.
        assert_eq!(
            content_hash("  Hello World \n"),
            "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
        );
        assert!(is_content_hash(&content_hash("x")));
        assert!(!is_content_hash("../etc/passwd"));
    }

    #[test]
    fn validates_create() {
        let req: CreateMemoryRequest = serde_json::from_value(json!({
            "content": "remember the milk", "tags": ["a", " a ", "b", ""], "memory_type": "note"
        }))
        .unwrap();
        let m = req.validate().unwrap();
        assert_eq!(m.tags, vec!["a", "b"]);
        assert_eq!(m.memory_type.as_deref(), Some("note"));

        let csv: CreateMemoryRequest =
            serde_json::from_value(json!({"content": "x", "tags": "a, b"})).unwrap();
        assert_eq!(csv.validate().unwrap().tags, vec!["a", "b"]);
    }

    #[test]
    fn rejects_bad_input() {
        for body in [
            json!({"content": "   "}),
            json!({"content": 5}),
            json!({"content": "x", "tags": [1]}),
            json!({"content": "x", "memory_type": 3}),
            json!({"content": "x", "metadata": []}),
            json!({"content": "x", "tags": vec!["t"; MAX_TAGS + 1]}),
            json!({"content": "x", "tags": ["x".repeat(MAX_TAG_CHARS + 1)]}),
        ] {
            let req: CreateMemoryRequest = serde_json::from_value(body.clone()).unwrap();
            assert!(req.validate().is_err(), "{body} should be refused");
        }
        assert!(
            serde_json::from_value::<CreateMemoryRequest>(json!({"content": "x", "bogus": 1}))
                .is_err()
        );
    }

    #[test]
    fn empty_update_is_refused() {
        let req: UpdateMemoryRequest = serde_json::from_value(json!({})).unwrap();
        assert!(req.validate().is_err());
    }
}
