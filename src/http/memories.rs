//! `/api/memories`: store, list, read, update and delete one owner's memories.

use serde_json::json;
use worker::Request;

use crate::core::auth::Scope;
use crate::core::memory::{is_content_hash, CreateMemoryRequest, UpdateMemoryRequest};
use crate::core::{Error, Result};
use crate::http::auth::require;
use crate::http::body::{read_json, MAX_JSON_BODY};
use crate::http::respond::{json, HttpResult};
use crate::http::Ctx;
use crate::platform::memory_store::{Inserted, MemoryStore};

const MAX_PAGE_SIZE: u32 = 100;

fn store(ctx: &Ctx) -> MemoryStore<'_> {
    MemoryStore::new(&ctx.b.db, &ctx.b.blobs)
}

pub fn checked_hash(hash: &str) -> Result<&str> {
    if is_content_hash(hash) {
        Ok(hash)
    } else {
        Err(Error::invalid_param(
            "content_hash",
            "content_hash must be 64 lower-case hex digits",
        ))
    }
}

pub async fn create(ctx: &Ctx, req: &mut Request) -> HttpResult {
    let caller = require(ctx, req, Scope::MemoryWrite).await?;
    let body: CreateMemoryRequest = read_json(req, MAX_JSON_BODY).await?;
    let new = body.validate()?;
    let app = ctx.app().await?;
    let inserted = app.store_memory(caller.owner(), &new).await?;
    ctx.flush_events(&app);
    match inserted {
        Inserted::Created(memory, _) => json(
            200,
            &json!({
                "success": true,
                "message": "Memory stored successfully",
                "content_hash": memory.content_hash,
                "memory": memory,
            }),
        ),
        Inserted::Duplicate(memory) => json(
            200,
            &json!({
                "success": false,
                "message": "Duplicate content: a memory with this content already exists",
                "content_hash": memory.content_hash,
                "memory": memory,
            }),
        ),
    }
}

struct ListQuery {
    page: u32,
    page_size: u32,
    tag: Option<String>,
    memory_type: Option<String>,
}

fn parse_list_query(req: &Request) -> Result<ListQuery> {
    let url = req.url().map_err(|e| Error::invalid(e.to_string()))?;
    let mut q = ListQuery {
        page: 1,
        page_size: 10,
        tag: None,
        memory_type: None,
    };
    for (k, v) in url.query_pairs() {
        match k.as_ref() {
            "page" => {
                q.page = v
                    .parse()
                    .ok()
                    .filter(|p| *p >= 1 && *p <= 1_000_000)
                    .ok_or_else(|| Error::invalid_param("page", "page must be an integer >= 1"))?
            }
            "page_size" => {
                q.page_size = v
                    .parse()
                    .ok()
                    .filter(|p| (1..=MAX_PAGE_SIZE).contains(p))
                    .ok_or_else(|| {
                        Error::invalid_param(
                            "page_size",
                            format!("page_size must be an integer from 1 to {MAX_PAGE_SIZE}"),
                        )
                    })?
            }
            "tag" if !v.trim().is_empty() => q.tag = Some(v.trim().to_string()),
            "memory_type" if !v.trim().is_empty() => q.memory_type = Some(v.trim().to_string()),
            _ => {}
        }
    }
    Ok(q)
}

pub async fn list(ctx: &Ctx, req: &mut Request) -> HttpResult {
    let caller = require(ctx, req, Scope::MemoryRead).await?;
    let q = parse_list_query(req)?;
    let (memories, total) = store(ctx)
        .list(
            caller.owner(),
            q.page,
            q.page_size,
            q.tag.as_deref(),
            q.memory_type.as_deref(),
        )
        .await?;
    let has_more = (q.page as u64) * (q.page_size as u64) < total;
    json(
        200,
        &json!({
            "memories": memories,
            "total": total,
            "page": q.page,
            "page_size": q.page_size,
            "has_more": has_more,
        }),
    )
}

pub async fn get(ctx: &Ctx, req: &mut Request, hash: &str) -> HttpResult {
    let caller = require(ctx, req, Scope::MemoryRead).await?;
    let hash = checked_hash(hash)?;
    let memory = store(ctx)
        .get(caller.owner(), hash)
        .await?
        .ok_or_else(|| Error::not_found("memory not found"))?;
    json(200, &memory)
}

pub async fn update(ctx: &Ctx, req: &mut Request, hash: &str) -> HttpResult {
    let caller = require(ctx, req, Scope::MemoryWrite).await?;
    let hash = checked_hash(hash)?;
    let body: UpdateMemoryRequest = read_json(req, 256 * 1024).await?;
    let patch = body.validate()?;
    let memory = store(ctx)
        .update(caller.owner(), hash, &patch, ctx.now)
        .await?
        .ok_or_else(|| Error::not_found("memory not found"))?;
    json(
        200,
        &json!({"success": true, "message": "Memory updated successfully", "content_hash": hash, "memory": memory}),
    )
}

pub async fn delete(ctx: &Ctx, req: &mut Request, hash: &str) -> HttpResult {
    let caller = require(ctx, req, Scope::MemoryWrite).await?;
    let hash = checked_hash(hash)?;
    let app = ctx.app().await?;
    let deleted = app.delete_memory(caller.owner(), hash).await?;
    ctx.flush_events(&app);
    if !deleted {
        return Err(Error::not_found("memory not found"));
    }
    json(
        200,
        &json!({"success": true, "message": "Memory deleted successfully", "content_hash": hash}),
    )
}
