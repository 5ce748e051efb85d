//! `/mcp`: the Streamable HTTP transport of the Model Context Protocol, stateless. POST
//! carries JSON-RPC (single messages, or batches for clients on 2025-03-26 and earlier);
//! answers are JSON. GET (no server-initiated stream) and DELETE (no sessions) are 405.

use serde_json::{json, Value};
use worker::Request;

use crate::app::App;
use crate::core::auth::Scope;
use crate::core::mcp::{
    self, negotiate, parse_message, parse_tool_call, tool_error, tool_result, CallError, Incoming,
    RpcError, ToolCall,
};
use crate::core::search::SearchParams;
use crate::core::timeparse::{extract_time_phrase, parse_time_phrase};
use crate::core::{Error, Result};
use crate::http::auth::{require, Caller};
use crate::http::body::read_bytes;
use crate::http::respond::{json, HttpResult};
use crate::http::{Ctx, VERSION};
use crate::platform::memory_store::Filters;

const MAX_BODY: usize = 10 * 1024 * 1024;
const MAX_BATCH: usize = 100;

fn check_origin(req: &Request) -> Result<()> {
    // Browsers send Origin; a page on another site must not drive a local memgate.
    if let Ok(Some(origin)) = req.headers().get("origin") {
        let own = req
            .url()
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default();
        if origin != own {
            return Err(Error::Forbidden(format!("origin {origin} is not allowed")));
        }
    }
    Ok(())
}

pub async fn handle(ctx: &Ctx, req: &mut Request) -> HttpResult {
    check_origin(req)?;
    let method = req.inner().method().to_uppercase();
    if method != "POST" {
        let mut resp = json(
            405,
            &json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32000, "message": "this server offers no SSE stream and keeps no sessions: use POST"}}),
        )?;
        let _ = resp.headers_mut().set("allow", "POST");
        return Ok(resp);
    }
    if let Ok(Some(v)) = req.headers().get("mcp-protocol-version") {
        if !mcp::SUPPORTED_VERSIONS.contains(&v.as_str()) {
            return json(
                400,
                &json!({"jsonrpc": "2.0", "id": null, "error": {"code": mcp::INVALID_REQUEST, "message": format!("unsupported MCP-Protocol-Version {v}")}}),
            );
        }
    }
    let accept = req
        .headers()
        .get("accept")
        .ok()
        .flatten()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if !accept.is_empty() && !accept.contains("application/json") && !accept.contains("*/*") {
        return json(
            406,
            &json!({"jsonrpc": "2.0", "id": null, "error": {"code": mcp::INVALID_REQUEST, "message": "Accept must include application/json"}}),
        );
    }
    let caller = require(ctx, req, Scope::MemoryRead).await?;
    let bytes = read_bytes(req, MAX_BODY).await?;
    let body: Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(e) => {
            return json(
                400,
                &mcp::error(
                    &Value::Null,
                    &RpcError::new(mcp::PARSE_ERROR, format!("parse error: {e}")),
                ),
            )
        }
    };
    let app = ctx.app().await?;
    let answer = match body {
        Value::Array(items) if items.is_empty() => Some(mcp::error(
            &Value::Null,
            &RpcError::new(mcp::INVALID_REQUEST, "empty batch"),
        )),
        Value::Array(items) => {
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                if i >= MAX_BATCH {
                    // Every request still gets an answer, but only the first ones run.
                    if let Ok(Incoming::Request { id, .. }) = parse_message(item) {
                        let e = RpcError::new(
                            mcp::INVALID_REQUEST,
                            format!(
                                "batch too large: at most {MAX_BATCH} messages run per request"
                            ),
                        );
                        out.push(mcp::error(&id, &e));
                    }
                    continue;
                }
                if let Some(r) = one(ctx, &app, &caller, item).await {
                    out.push(r);
                }
            }
            (!out.is_empty()).then_some(Value::Array(out))
        }
        single => one(ctx, &app, &caller, &single).await,
    };
    ctx.flush_events(&app);
    match answer {
        Some(v) => json(200, &v),
        None => Ok(worker::Response::empty()
            .map_err(|e| Error::Internal(e.to_string()))?
            .with_status(202)),
    }
}

async fn one(ctx: &Ctx, app: &App<'_>, caller: &Caller, msg: &Value) -> Option<Value> {
    let (id, method, params) = match parse_message(msg) {
        Ok(Incoming::Request { id, method, params }) => (id, method, params),
        Ok(Incoming::Notification { .. } | Incoming::Response) => return None,
        Err((id, e)) => return Some(mcp::error(&id, &e)),
    };
    Some(match dispatch(ctx, app, caller, &method, &params).await {
        Ok(r) => mcp::result(&id, r),
        Err(e) => mcp::error(&id, &e),
    })
}

async fn dispatch(
    ctx: &Ctx,
    app: &App<'_>,
    caller: &Caller,
    method: &str,
    params: &Value,
) -> Result<Value, RpcError> {
    match method {
        "initialize" => {
            let requested = params.get("protocolVersion").and_then(Value::as_str);
            Ok(json!({
                "protocolVersion": negotiate(requested),
                "capabilities": {"tools": {"listChanged": false}, "resources": {"listChanged": false, "subscribe": false}},
                "serverInfo": {"name": "memgate", "title": "memgate memory", "version": VERSION},
                "instructions": "Long-term memory: store facts with memory_store, find them with memory_search (meaning, keywords, tags, time phrases).",
            }))
        }
        "ping" => Ok(json!({})),
        "tools/list" => Ok(json!({"tools": mcp::tools()})),
        "tools/call" => {
            let name = params
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| RpcError::new(mcp::INVALID_PARAMS, "params.name is required"))?;
            let args = params.get("arguments").cloned().unwrap_or(Value::Null);
            match parse_tool_call(name, &args) {
                Err(CallError::UnknownTool(t)) => Err(RpcError::new(
                    mcp::INVALID_PARAMS,
                    format!("unknown tool: {t}"),
                )),
                Err(CallError::BadArguments(m)) => {
                    Ok(tool_error(&format!("invalid arguments: {m}")))
                }
                Ok(call) => {
                    if call.writes() && !caller.key.has(Scope::MemoryWrite) {
                        return Ok(tool_error("this API key lacks the 'memory:write' scope"));
                    }
                    match run(ctx, app, caller.owner(), call).await {
                        Ok(v) => Ok(tool_result(v)),
                        Err(e @ (Error::Storage(_) | Error::Internal(_))) => {
                            Err(RpcError::new(mcp::INTERNAL_ERROR, e.public_message()))
                        }
                        Err(e) => Ok(tool_error(&e.public_message())),
                    }
                }
            }
        }
        "resources/list" => Ok(json!({"resources": [
            {"uri": "memory://stats", "name": "stats", "title": "Memory statistics", "mimeType": "application/json"},
            {"uri": "memory://tags", "name": "tags", "title": "Tags with counts", "mimeType": "application/json"},
        ]})),
        "resources/templates/list" => Ok(json!({"resourceTemplates": [
            {"uriTemplate": "memory://recent/{n}", "name": "recent", "title": "The n most recent memories", "mimeType": "application/json"},
        ]})),
        "resources/read" => {
            let uri = params
                .get("uri")
                .and_then(Value::as_str)
                .ok_or_else(|| RpcError::new(mcp::INVALID_PARAMS, "params.uri is required"))?;
            let owner = caller.owner();
            let value = if uri == "memory://stats" {
                serde_json::to_value(
                    app.store
                        .stats(owner, ctx.now - 7.0 * 86_400.0)
                        .await
                        .map_err(internal)?,
                )
                .unwrap_or_default()
            } else if uri == "memory://tags" {
                json!({"tags": app.store.tags(owner).await.map_err(internal)?})
            } else if let Some(n) = uri.strip_prefix("memory://recent/") {
                let n: u32 = n
                    .parse()
                    .ok()
                    .filter(|n| (1..=100).contains(n))
                    .ok_or_else(|| RpcError::new(mcp::INVALID_PARAMS, "n must be 1-100"))?;
                let (memories, _) = app
                    .store
                    .list(owner, 1, n, None, None)
                    .await
                    .map_err(internal)?;
                json!({"memories": memories})
            } else {
                return Err(RpcError::new(-32002, format!("resource not found: {uri}")));
            };
            Ok(
                json!({"contents": [{"uri": uri, "mimeType": "application/json", "text": value.to_string()}]}),
            )
        }
        "prompts/list" => Ok(json!({"prompts": []})),
        "logging/setLevel" => Ok(json!({})),
        other => Err(RpcError::new(
            mcp::METHOD_NOT_FOUND,
            format!("method not found: {other}"),
        )),
    }
}

fn internal(e: Error) -> RpcError {
    RpcError::new(mcp::INTERNAL_ERROR, e.public_message())
}

async fn run(ctx: &Ctx, app: &App<'_>, owner: &str, call: ToolCall) -> Result<Value> {
    match call {
        ToolCall::Store(new) => {
            let inserted = app.store_memory(owner, &new).await?;
            Ok(match inserted {
                crate::platform::memory_store::Inserted::Created(m, _) => {
                    json!({"success": true, "message": "Memory stored", "content_hash": m.content_hash, "memory": m})
                }
                crate::platform::memory_store::Inserted::Duplicate(m) => {
                    json!({"success": false, "message": "Duplicate content: this memory already exists", "content_hash": m.content_hash, "memory": m})
                }
            })
        }
        ToolCall::Search {
            query,
            tags,
            time_expr,
            limit,
            min_score,
            match_all,
        } => {
            let mut range = match &time_expr {
                Some(t) => Some(parse_time_phrase(t, ctx.now)?),
                None => None,
            };
            let mut query = query;
            if let (Some(q), None) = (&query, range) {
                if let Some((r, rest)) = extract_time_phrase(q, ctx.now) {
                    range = Some(r);
                    query = Some(rest).filter(|s| !s.trim().is_empty());
                }
            }
            let results: Vec<Value> = match query {
                Some(q) => {
                    let params = SearchParams {
                        query: q,
                        n_results: limit,
                        similarity_threshold: min_score,
                        tags,
                        time_filter: None,
                        memory_type: None,
                    };
                    app.search(owner, &params, range)
                        .await?
                        .into_iter()
                        .map(|r| serde_json::to_value(r).unwrap_or_default())
                        .collect()
                }
                None => {
                    let filters = Filters {
                        tags: &tags,
                        match_all,
                        since: range.map(|r| r.0),
                        until: range.map(|r| r.1),
                        memory_type: None,
                    };
                    app.store
                        .filtered(owner, &filters, limit as usize)
                        .await?
                        .into_iter()
                        .map(|(_, m)| json!({"memory": m, "similarity_score": 1.0, "relevance_reason": "matched filters"}))
                        .collect()
                }
            };
            Ok(json!({"results": results, "total_found": results.len()}))
        }
        ToolCall::List {
            page,
            page_size,
            tag,
            memory_type,
        } => {
            let (memories, total) = app
                .store
                .list(
                    owner,
                    page,
                    page_size,
                    tag.as_deref(),
                    memory_type.as_deref(),
                )
                .await?;
            Ok(
                json!({"memories": memories, "total": total, "page": page, "page_size": page_size, "has_more": u64::from(page) * u64::from(page_size) < total}),
            )
        }
        ToolCall::DeleteHash {
            content_hash,
            dry_run,
        } => {
            let exists = app.store.id_of(owner, &content_hash).await?.is_some();
            if !exists {
                return Err(Error::not_found(format!(
                    "no memory with content_hash {content_hash}"
                )));
            }
            if !dry_run {
                app.delete_memory(owner, &content_hash).await?;
            }
            Ok(
                json!({"success": true, "dry_run": dry_run, "deleted": if dry_run { 0 } else { 1 }, "matched": [content_hash]}),
            )
        }
        ToolCall::DeleteTags { tags, dry_run } => {
            let filters = Filters {
                tags: &tags,
                ..Default::default()
            };
            let found = app.store.filtered(owner, &filters, 10_000).await?;
            let hashes: Vec<String> = found.into_iter().map(|(_, m)| m.content_hash).collect();
            if !dry_run {
                for h in &hashes {
                    app.delete_memory(owner, h).await?;
                }
            }
            Ok(
                json!({"success": true, "dry_run": dry_run, "deleted": if dry_run { 0 } else { hashes.len() }, "matched": hashes}),
            )
        }
        ToolCall::Update {
            content_hash,
            patch,
        } => {
            let m = app
                .store
                .update(owner, &content_hash, &patch, ctx.now)
                .await?
                .ok_or_else(|| {
                    Error::not_found(format!("no memory with content_hash {content_hash}"))
                })?;
            Ok(json!({"success": true, "memory": m}))
        }
        ToolCall::Stats => Ok(serde_json::to_value(
            app.store.stats(owner, ctx.now - 7.0 * 86_400.0).await?,
        )
        .unwrap_or_default()),
        ToolCall::Health => {
            let stats = app.store.stats(owner, ctx.now).await?;
            Ok(
                json!({"status": "healthy", "version": VERSION, "total_memories": stats.total_memories, "unindexed": stats.unindexed}),
            )
        }
    }
}
