//! Import/export formats: memgate's NDJSON (one memory per line) and mcp-memory-service's
//! JSON export (`{"memories": [...]}`, or a bare array).

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::core::error::{Error, Result};
use crate::core::memory::{
    content_hash, is_content_hash, validate_content, validate_memory_type, validate_metadata,
    validate_tags, NewMemory, TagsInput,
};

pub const MAX_IMPORT_ITEMS: usize = 10_000;

/// One memory as exported; unknown fields (e.g. `created_at_iso`, `embedding`) are ignored.
#[derive(Debug, Deserialize)]
pub struct ImportItem {
    pub content: Value,
    #[serde(default)]
    pub content_hash: Option<String>,
    #[serde(default)]
    pub tags: Option<TagsInput>,
    #[serde(default)]
    pub memory_type: Option<Value>,
    #[serde(default)]
    pub metadata: Option<Value>,
    #[serde(default)]
    pub created_at: Option<f64>,
    #[serde(default)]
    pub updated_at: Option<f64>,
}

pub struct ImportRecord {
    pub memory: NewMemory,
    pub created_at: Option<f64>,
    pub updated_at: Option<f64>,
}

impl ImportItem {
    pub fn validate(self) -> Result<ImportRecord> {
        let content = validate_content(&self.content)?;
        // A given hash is kept: mcp-memory-service hashes the metadata with the content when
        // there is any, and its clients refer to memories by those hashes.
        let hash = match self.content_hash {
            None => content_hash(&content),
            Some(given) => {
                let given = given.to_ascii_lowercase();
                if !is_content_hash(&given) {
                    return Err(Error::invalid_param(
                        "content_hash",
                        "content_hash must be 64 hex digits (a SHA-256)",
                    ));
                }
                given
            }
        };
        let metadata: Map<String, Value> = validate_metadata(self.metadata.as_ref())?;
        let valid_time =
            |t: Option<f64>| t.filter(|t| t.is_finite() && *t >= 0.0 && *t < 32_503_680_000.0);
        Ok(ImportRecord {
            memory: NewMemory {
                content_hash: hash,
                content,
                tags: validate_tags(self.tags.as_ref())?,
                memory_type: validate_memory_type(self.memory_type.as_ref())?,
                metadata,
            },
            created_at: valid_time(self.created_at),
            updated_at: valid_time(self.updated_at),
        })
    }
}

/// Splits an import body into items, each with its line (1-based) or array position.
pub fn parse_import(body: &str) -> Result<Vec<(usize, Result<ImportItem>)>> {
    let trimmed = body.trim_start();
    let items: Vec<(usize, Result<ImportItem>)> =
        if trimmed.starts_with('[') || (trimmed.starts_with('{') && looks_like_export(trimmed)) {
            let doc: Value = serde_json::from_str(trimmed)
                .map_err(|e| Error::invalid(format!("invalid JSON export: {e}")))?;
            let list = match doc {
                Value::Array(a) => a,
                Value::Object(mut o) => match o.remove("memories") {
                    Some(Value::Array(a)) => a,
                    _ => return Err(Error::invalid("a JSON export must hold a 'memories' array")),
                },
                _ => return Err(Error::invalid("unrecognised import format")),
            };
            list.into_iter()
                .enumerate()
                .map(|(i, v)| {
                    (
                        i + 1,
                        serde_json::from_value(v)
                            .map_err(|e| Error::invalid(format!("item {}: {e}", i + 1))),
                    )
                })
                .collect()
        } else {
            body.lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
                .map(|(i, l)| {
                    (
                        i + 1,
                        serde_json::from_str(l)
                            .map_err(|e| Error::invalid(format!("line {}: {e}", i + 1))),
                    )
                })
                .collect()
        };
    if items.is_empty() {
        return Err(Error::invalid("nothing to import"));
    }
    if items.len() > MAX_IMPORT_ITEMS {
        return Err(Error::PayloadTooLarge(format!(
            "at most {MAX_IMPORT_ITEMS} memories per import; split the file"
        )));
    }
    Ok(items)
}

/// A single-line JSON object is one NDJSON record unless it is an export wrapper.
fn looks_like_export(s: &str) -> bool {
    let first_line = s.lines().next().unwrap_or("");
    let is_single_record = serde_json::from_str::<Value>(first_line)
        .map(|v| v.get("content").is_some())
        .unwrap_or(false);
    !is_single_record
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ndjson_and_exports() {
        let nd = "{\"content\": \"a\"}\n\n{\"content\": \"b\", \"tags\": [\"x\"]}\n";
        assert_eq!(parse_import(nd).unwrap().len(), 2);
        let export = r#"{"export_metadata": {"count": 1}, "memories": [{"content": "a", "content_hash": "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb", "created_at": 1700000000.0}]}"#;
        let items = parse_import(export).unwrap();
        let rec = items
            .into_iter()
            .next()
            .unwrap()
            .1
            .unwrap()
            .validate()
            .unwrap();
        assert_eq!(rec.created_at, Some(1_700_000_000.0));
        assert_eq!(parse_import("[{\"content\": \"z\"}]").unwrap().len(), 1);
    }

    #[test]
    fn keeps_a_given_hash_and_computes_a_missing_one() {
        let first = |body: &str| {
            parse_import(body)
                .unwrap()
                .into_iter()
                .next()
                .unwrap()
                .1
                .unwrap()
                .validate()
                .unwrap()
                .memory
                .content_hash
        };
        let theirs = "AB".repeat(32);
        let body = format!(
            "{{\"content\": \"a\", \"metadata\": {{\"k\": 1}}, \"content_hash\": \"{theirs}\"}}"
        );
        assert_eq!(first(&body), "ab".repeat(32));
        assert_eq!(first("{\"content\": \" A \"}"), content_hash("a"));
    }

    #[test]
    fn rejects_bad_imports() {
        assert!(parse_import("").is_err());
        assert!(parse_import("{\"memories\": 3}").is_err());
        let bad_hash = parse_import("{\"content\": \"a\", \"content_hash\": \"00\"}").unwrap();
        assert!(bad_hash
            .into_iter()
            .next()
            .unwrap()
            .1
            .unwrap()
            .validate()
            .is_err());
        let broken = parse_import("{\"content\": \"a\"}\nnot json").unwrap();
        assert!(broken[1].1.is_err());
    }
}
