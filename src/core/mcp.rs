//! The Model Context Protocol over JSON-RPC 2.0: message parsing, the tool catalogue with
//! JSON Schemas and annotations, and validation of tool arguments into typed calls.

use serde_json::{json, Map, Value};

use crate::core::memory::{
    is_content_hash, validate_memory_type, validate_metadata, validate_tags, CreateMemoryRequest,
    MemoryPatch, NewMemory, TagsInput,
};
use crate::core::Error;

/// Newest first; `initialize` answers with the client's version when it is one of these.
pub const SUPPORTED_VERSIONS: &[&str] = &["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];

pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub const METHOD_NOT_FOUND: i64 = -32601;
pub const INVALID_PARAMS: i64 = -32602;
pub const INTERNAL_ERROR: i64 = -32603;

#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
}

impl RpcError {
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        RpcError {
            code,
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    Request {
        id: Value,
        method: String,
        params: Value,
    },
    Notification {
        method: String,
    },
    /// A response from the client (to a server request); nothing to answer.
    Response,
}

/// Classifies one JSON-RPC message; `Err` carries the id to answer with, if any.
pub fn parse_message(v: &Value) -> Result<Incoming, (Value, RpcError)> {
    let Some(obj) = v.as_object() else {
        return Err((
            Value::Null,
            RpcError::new(INVALID_REQUEST, "a JSON-RPC message must be an object"),
        ));
    };
    let id = obj.get("id").cloned();
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err((
            id.unwrap_or(Value::Null),
            RpcError::new(INVALID_REQUEST, "jsonrpc must be \"2.0\""),
        ));
    }
    if let Some(id) = &id {
        if !(id.is_string() || id.is_i64() || id.is_u64()) {
            return Err((
                Value::Null,
                RpcError::new(INVALID_REQUEST, "id must be a string or an integer"),
            ));
        }
    }
    match (obj.get("method"), id) {
        (Some(Value::String(m)), Some(id)) => Ok(Incoming::Request {
            id,
            method: m.clone(),
            params: obj.get("params").cloned().unwrap_or(Value::Null),
        }),
        (Some(Value::String(m)), None) => Ok(Incoming::Notification { method: m.clone() }),
        (None, Some(_)) if obj.contains_key("result") || obj.contains_key("error") => {
            Ok(Incoming::Response)
        }
        (_, id) => Err((
            id.unwrap_or(Value::Null),
            RpcError::new(INVALID_REQUEST, "method must be a string"),
        )),
    }
}

pub fn result(id: &Value, result: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "result": result})
}

pub fn error(id: &Value, e: &RpcError) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": e.code, "message": e.message}})
}

pub fn negotiate(requested: Option<&str>) -> &'static str {
    requested
        .and_then(|r| SUPPORTED_VERSIONS.iter().find(|v| **v == r).copied())
        .unwrap_or(SUPPORTED_VERSIONS[0])
}

fn tool(
    name: &str,
    title: &str,
    description: &str,
    schema: Value,
    read_only: bool,
    destructive: bool,
) -> Value {
    json!({
        "name": name,
        "title": title,
        "description": description,
        "inputSchema": schema,
        "annotations": {"title": title, "readOnlyHint": read_only, "destructiveHint": destructive, "idempotentHint": read_only || destructive, "openWorldHint": false},
    })
}

fn tags_schema() -> Value {
    json!({"oneOf": [{"type": "array", "items": {"type": "string", "maxLength": 100}, "maxItems": 64}, {"type": "string", "description": "comma-separated"}]})
}

/// The tool catalogue for `tools/list`.
pub fn tools() -> Vec<Value> {
    let hash = json!({"type": "string", "pattern": "^[0-9a-f]{64}$", "description": "the memory's content_hash"});
    let store_schema = json!({
        "type": "object", "additionalProperties": false, "required": ["content"],
        "properties": {
            "content": {"type": "string", "minLength": 1, "description": "the text to remember"},
            "tags": tags_schema(),
            "memory_type": {"type": "string", "maxLength": 64, "description": "e.g. note, decision, fact, task"},
            "metadata": {"type": "object"},
        },
    });
    let search_schema = json!({
        "type": "object", "additionalProperties": false,
        "properties": {
            "query": {"type": "string", "maxLength": 2000, "description": "what to look for (hybrid: meaning + keywords); may contain a time phrase like 'last week'"},
            "tags": tags_schema(),
            "time_expr": {"type": "string", "description": "a time phrase: yesterday, last week, 3 days ago, 2025-01-31, ..."},
            "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10},
            "min_score": {"type": "number", "minimum": 0, "maximum": 1},
            "match_all": {"type": "boolean", "description": "with tags: require every tag"},
        },
    });
    vec![
        tool("memory_store", "Store memory", "Store a memory (text with optional tags, type and metadata). Storing the same content again is reported, not duplicated.", store_schema.clone(), false, false),
        tool("memory_search", "Search memories", "Find memories by meaning and keywords, optionally restricted to tags and a time range. Give at least one of query, tags, time_expr.", search_schema, true, false),
        tool("memory_list", "List memories", "List memories newest first, with pagination and optional tag/type filters.", json!({
            "type": "object", "additionalProperties": false,
            "properties": {
                "page": {"type": "integer", "minimum": 1, "default": 1},
                "page_size": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10},
                "tag": {"type": "string"},
                "memory_type": {"type": "string"},
            },
        }), true, false),
        tool("memory_delete", "Delete memories", "Delete one memory by content_hash, or every memory carrying any of the given tags. dry_run lists what would be deleted.", json!({
            "type": "object", "additionalProperties": false,
            "properties": {"content_hash": hash, "tags": tags_schema(), "dry_run": {"type": "boolean", "default": false}},
        }), false, true),
        tool("memory_update", "Update memory", "Change a memory's tags, type or metadata (its content is its identity and does not change).", json!({
            "type": "object", "additionalProperties": false, "required": ["content_hash"],
            "properties": {"content_hash": hash, "tags": tags_schema(), "memory_type": {"type": "string"}, "metadata": {"type": "object"}},
        }), false, false),
        tool("memory_stats", "Memory statistics", "Counts of memories, tags and documents.", json!({"type": "object", "additionalProperties": false, "properties": {}}), true, false),
        tool("memory_health", "Service health", "Whether the memory service and its storage are healthy.", json!({"type": "object", "additionalProperties": false, "properties": {}}), true, false),
        tool("store_memory", "Store memory (legacy)", "Legacy name of memory_store (mcp-memory-service); tags and type may also be given inside metadata.", json!({
            "type": "object", "required": ["content"],
            "properties": {"content": {"type": "string", "minLength": 1}, "tags": tags_schema(), "memory_type": {"type": "string"}, "metadata": {"type": "object", "properties": {"tags": tags_schema(), "type": {"type": "string"}}}},
        }), false, false),
        tool("retrieve_memory", "Retrieve memories (legacy)", "Legacy semantic search (mcp-memory-service).", json!({
            "type": "object", "required": ["query"],
            "properties": {"query": {"type": "string", "minLength": 1}, "n_results": {"type": "integer", "minimum": 1, "maximum": 100, "default": 5}},
        }), true, false),
        tool("search_by_tag", "Search by tag (legacy)", "Legacy tag search (mcp-memory-service): memories with any of the tags.", json!({
            "type": "object", "required": ["tags"], "properties": {"tags": tags_schema()},
        }), true, false),
        tool("delete_memory", "Delete memory (legacy)", "Legacy delete by content_hash (mcp-memory-service).", json!({
            "type": "object", "required": ["content_hash"], "properties": {"content_hash": {"type": "string"}},
        }), false, true),
    ]
}

/// A validated tool call.
#[derive(Debug, Clone, PartialEq)]
pub enum ToolCall {
    Store(NewMemory),
    Search {
        query: Option<String>,
        tags: Vec<String>,
        time_expr: Option<String>,
        limit: u32,
        min_score: Option<f64>,
        match_all: bool,
    },
    List {
        page: u32,
        page_size: u32,
        tag: Option<String>,
        memory_type: Option<String>,
    },
    DeleteHash {
        content_hash: String,
        dry_run: bool,
    },
    DeleteTags {
        tags: Vec<String>,
        dry_run: bool,
    },
    Update {
        content_hash: String,
        patch: MemoryPatch,
    },
    Stats,
    Health,
}

impl ToolCall {
    pub fn writes(&self) -> bool {
        matches!(self, ToolCall::Store(_) | ToolCall::Update { .. })
            || matches!(
                self,
                ToolCall::DeleteHash { dry_run: false, .. }
                    | ToolCall::DeleteTags { dry_run: false, .. }
            )
    }
}

/// Why a call could not run: an unknown tool is a protocol error, bad arguments a tool error.
#[derive(Debug, Clone, PartialEq)]
pub enum CallError {
    UnknownTool(String),
    BadArguments(String),
}

fn bad(e: Error) -> CallError {
    CallError::BadArguments(e.public_message())
}

fn uint(args: &Map<String, Value>, key: &str, default: u32, max: u32) -> Result<u32, CallError> {
    match args.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v
            .as_u64()
            .filter(|n| (1..=u64::from(max)).contains(n))
            .map(|n| n as u32)
            .ok_or_else(|| {
                CallError::BadArguments(format!("{key} must be an integer from 1 to {max}"))
            }),
    }
}

fn opt_str(args: &Map<String, Value>, key: &str) -> Result<Option<String>, CallError> {
    match args.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
        Some(_) => Err(CallError::BadArguments(format!("{key} must be a string"))),
    }
}

fn tags_arg(args: &Map<String, Value>, key: &str) -> Result<Vec<String>, CallError> {
    match args.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(v) => {
            let input: TagsInput = serde_json::from_value(v.clone())
                .map_err(|_| CallError::BadArguments(format!("{key} must be a list of strings")))?;
            validate_tags(Some(&input)).map_err(bad)
        }
    }
}

fn hash_arg(args: &Map<String, Value>) -> Result<String, CallError> {
    match args.get("content_hash").and_then(Value::as_str) {
        Some(h) if is_content_hash(h) => Ok(h.to_string()),
        Some(_) => Err(CallError::BadArguments(
            "content_hash must be 64 lower-case hex digits".into(),
        )),
        None => Err(CallError::BadArguments("content_hash is required".into())),
    }
}

fn known(args: &Map<String, Value>, allowed: &[&str]) -> Result<(), CallError> {
    match args.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(CallError::BadArguments(format!("unknown argument '{k}'"))),
        None => Ok(()),
    }
}

pub fn parse_tool_call(name: &str, args: &Value) -> Result<ToolCall, CallError> {
    let empty = Map::new();
    let args = match args {
        Value::Object(m) => m,
        Value::Null => &empty,
        _ => {
            return Err(CallError::BadArguments(
                "arguments must be an object".into(),
            ))
        }
    };
    match name {
        "memory_store" => {
            known(args, &["content", "tags", "memory_type", "metadata"])?;
            let req: CreateMemoryRequest = serde_json::from_value(Value::Object(args.clone()))
                .map_err(|e| CallError::BadArguments(e.to_string()))?;
            Ok(ToolCall::Store(req.validate().map_err(bad)?))
        }
        "store_memory" => {
            let mut args = args.clone();
            let mut meta = match args.remove("metadata") {
                Some(Value::Object(m)) => m,
                None | Some(Value::Null) => Map::new(),
                Some(_) => {
                    return Err(CallError::BadArguments("metadata must be an object".into()))
                }
            };
            if !args.contains_key("tags") {
                if let Some(t) = meta.remove("tags") {
                    args.insert("tags".into(), t);
                }
            }
            if !args.contains_key("memory_type") {
                if let Some(t) = meta.remove("type") {
                    args.insert("memory_type".into(), t);
                }
            }
            args.insert("metadata".into(), Value::Object(meta));
            known(&args, &["content", "tags", "memory_type", "metadata"])?;
            parse_tool_call("memory_store", &Value::Object(args))
        }
        "memory_search" => {
            known(
                args,
                &[
                    "query",
                    "tags",
                    "time_expr",
                    "limit",
                    "min_score",
                    "match_all",
                ],
            )?;
            let query = opt_str(args, "query")?;
            let tags = tags_arg(args, "tags")?;
            let time_expr = opt_str(args, "time_expr")?;
            if query.is_none() && tags.is_empty() && time_expr.is_none() {
                return Err(CallError::BadArguments(
                    "give at least one of query, tags, time_expr".into(),
                ));
            }
            if query.as_ref().is_some_and(|q| q.chars().count() > 2000) {
                return Err(CallError::BadArguments(
                    "query is longer than 2000 characters".into(),
                ));
            }
            let min_score = match args.get("min_score") {
                None | Some(Value::Null) => None,
                Some(v) => Some(v.as_f64().filter(|s| (0.0..=1.0).contains(s)).ok_or_else(
                    || CallError::BadArguments("min_score must be between 0 and 1".into()),
                )?),
            };
            let match_all = args
                .get("match_all")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            Ok(ToolCall::Search {
                query,
                tags,
                time_expr,
                limit: uint(args, "limit", 10, 100)?,
                min_score,
                match_all,
            })
        }
        "retrieve_memory" => {
            let query = opt_str(args, "query")?
                .ok_or_else(|| CallError::BadArguments("query is required".into()))?;
            Ok(ToolCall::Search {
                query: Some(query),
                tags: Vec::new(),
                time_expr: None,
                limit: uint(args, "n_results", 5, 100)?,
                min_score: None,
                match_all: false,
            })
        }
        "search_by_tag" => {
            let tags = tags_arg(args, "tags")?;
            if tags.is_empty() {
                return Err(CallError::BadArguments("tags is required".into()));
            }
            Ok(ToolCall::Search {
                query: None,
                tags,
                time_expr: None,
                limit: 100,
                min_score: None,
                match_all: false,
            })
        }
        "memory_list" => {
            known(args, &["page", "page_size", "tag", "memory_type"])?;
            Ok(ToolCall::List {
                page: uint(args, "page", 1, 1_000_000)?,
                page_size: uint(args, "page_size", 10, 100)?,
                tag: opt_str(args, "tag")?,
                memory_type: opt_str(args, "memory_type")?,
            })
        }
        "memory_delete" => {
            known(args, &["content_hash", "tags", "dry_run"])?;
            let dry_run = args
                .get("dry_run")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            if args.get("content_hash").is_some_and(|v| !v.is_null()) {
                return Ok(ToolCall::DeleteHash {
                    content_hash: hash_arg(args)?,
                    dry_run,
                });
            }
            let tags = tags_arg(args, "tags")?;
            if tags.is_empty() {
                return Err(CallError::BadArguments("give content_hash or tags".into()));
            }
            Ok(ToolCall::DeleteTags { tags, dry_run })
        }
        "delete_memory" => Ok(ToolCall::DeleteHash {
            content_hash: hash_arg(args)?,
            dry_run: false,
        }),
        "memory_update" => {
            known(args, &["content_hash", "tags", "memory_type", "metadata"])?;
            let content_hash = hash_arg(args)?;
            let patch = MemoryPatch {
                tags: if args.contains_key("tags") {
                    Some(tags_arg(args, "tags")?)
                } else {
                    None
                },
                memory_type: match args.get("memory_type") {
                    Some(v) => Some(validate_memory_type(Some(v)).map_err(bad)?),
                    None => None,
                },
                metadata: match args.get("metadata") {
                    Some(v) => Some(validate_metadata(Some(v)).map_err(bad)?),
                    None => None,
                },
            };
            if patch == MemoryPatch::default() {
                return Err(CallError::BadArguments(
                    "nothing to update: give tags, memory_type or metadata".into(),
                ));
            }
            Ok(ToolCall::Update {
                content_hash,
                patch,
            })
        }
        "memory_stats" => Ok(ToolCall::Stats),
        "memory_health" => Ok(ToolCall::Health),
        other => Err(CallError::UnknownTool(other.to_string())),
    }
}

/// A tool result: the JSON as text (every client can show it) and as structured content.
pub fn tool_result(value: Value) -> Value {
    let text = serde_json::to_string_pretty(&value).unwrap_or_default();
    let structured = if value.is_object() {
        value
    } else {
        json!({"result": value})
    };
    json!({"content": [{"type": "text", "text": text}], "structuredContent": structured, "isError": false})
}

pub fn tool_error(message: &str) -> Value {
    json!({"content": [{"type": "text", "text": message}], "isError": true})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_messages() {
        assert!(matches!(
            parse_message(&json!({"jsonrpc": "2.0", "id": 1, "method": "ping"})),
            Ok(Incoming::Request { .. })
        ));
        assert_eq!(
            parse_message(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"})),
            Ok(Incoming::Notification {
                method: "notifications/initialized".into()
            })
        );
        assert_eq!(
            parse_message(&json!({"jsonrpc": "2.0", "id": 1, "result": {}})),
            Ok(Incoming::Response)
        );
        assert_eq!(
            parse_message(&json!({"jsonrpc": "1.0", "id": 1, "method": "x"}))
                .unwrap_err()
                .1
                .code,
            INVALID_REQUEST
        );
        assert_eq!(
            parse_message(&json!([1])).unwrap_err().1.code,
            INVALID_REQUEST
        );
        assert_eq!(
            parse_message(&json!({"jsonrpc": "2.0", "id": {"a": 1}, "method": "x"}))
                .unwrap_err()
                .1
                .code,
            INVALID_REQUEST
        );
    }

    #[test]
    fn negotiates_versions() {
        assert_eq!(negotiate(Some("2025-03-26")), "2025-03-26");
        assert_eq!(negotiate(Some("1999-01-01")), SUPPORTED_VERSIONS[0]);
    }

    #[test]
    fn every_tool_has_a_schema_and_parses() {
        let names: Vec<String> = tools()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_string())
            .collect();
        for t in tools() {
            assert_eq!(t["inputSchema"]["type"], "object");
            assert!(t["annotations"]["readOnlyHint"].is_boolean());
        }
        assert!(
            names.contains(&"memory_store".to_string())
                && names.contains(&"delete_memory".to_string())
        );
        assert!(
            matches!(parse_tool_call("store_memory", &json!({"content": "x", "metadata": {"tags": "a,b", "type": "note"}})), Ok(ToolCall::Store(m)) if m.tags == vec!["a", "b"] && m.memory_type.as_deref() == Some("note"))
        );
        assert_eq!(
            parse_tool_call("nope", &json!({})),
            Err(CallError::UnknownTool("nope".into()))
        );
        assert!(matches!(
            parse_tool_call("memory_search", &json!({})),
            Err(CallError::BadArguments(_))
        ));
        assert!(matches!(
            parse_tool_call("memory_delete", &json!({"content_hash": "../x"})),
            Err(CallError::BadArguments(_))
        ));
        assert!(matches!(
            parse_tool_call("memory_store", &json!({"content": "x", "bogus": 1})),
            Err(CallError::BadArguments(_))
        ));
        assert!(
            parse_tool_call("memory_delete", &json!({"tags": ["a"], "dry_run": true}))
                .is_ok_and(|c| !c.writes())
        );
    }
}
