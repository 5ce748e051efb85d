//! `GET /api/export` (NDJSON, streamed page by page) and `POST /api/import`.

use futures_util::stream;
use serde_json::json;
use worker::{Request, Response};

use crate::app::memories::ToIndex;
use crate::app::App;
use crate::core::auth::Scope;
use crate::core::transfer::parse_import;
use crate::core::Error;
use crate::http::auth::require;
use crate::http::body::read_bytes;
use crate::http::respond::{json, HttpResult};
use crate::http::Ctx;
use crate::platform::memory_store::{Inserted, MemoryStore};
use crate::platform::Bindings;

const EXPORT_PAGE: u32 = 100;
pub const MAX_IMPORT_BYTES: usize = 32 * 1024 * 1024;
const INDEX_BATCH: usize = 100;
const MAX_REPORTED_ERRORS: usize = 100;

async fn index_batch(app: &App<'_>, owner: &str, items: Vec<ToIndex>) {
    if items.is_empty() {
        return;
    }
    let n = items.len();
    if let Err(e) = app.index_memories(owner, items).await {
        worker::console_warn!("indexing of {n} imported memories deferred to repair: {e}");
    }
}

pub async fn export(ctx: &Ctx, req: &mut Request) -> HttpResult {
    let caller = require(ctx, req, Scope::MemoryRead).await?;
    let owner = caller.owner().to_string();
    let env = ctx.b.env.clone();
    // Pages are read as the client consumes the stream, so memory stays flat.
    let pages = stream::unfold(Some(1u32), move |page| {
        let (env, owner) = (env.clone(), owner.clone());
        async move {
            let page = page?;
            let b = match Bindings::new(env) {
                Ok(b) => b,
                Err(e) => return Some((Err(worker::Error::RustError(e.to_string())), None)),
            };
            let store = MemoryStore::new(&b.db, &b.blobs);
            match store.list(&owner, page, EXPORT_PAGE, None, None).await {
                Ok((memories, total)) => {
                    if memories.is_empty() {
                        return None;
                    }
                    let mut out = String::new();
                    for m in &memories {
                        out.push_str(&serde_json::to_string(m).unwrap_or_default());
                        out.push('\n');
                    }
                    let more = u64::from(page) * u64::from(EXPORT_PAGE) < total;
                    Some((
                        Ok::<Vec<u8>, worker::Error>(out.into_bytes()),
                        more.then_some(page + 1),
                    ))
                }
                Err(e) => Some((Err(worker::Error::RustError(e.to_string())), None)),
            }
        }
    });
    let mut resp = Response::from_stream(pages).map_err(|e| Error::Internal(e.to_string()))?;
    let h = resp.headers_mut();
    let _ = h.set("content-type", "application/x-ndjson");
    let _ = h.set(
        "content-disposition",
        "attachment; filename=\"memgate-export.ndjson\"",
    );
    Ok(resp)
}

pub async fn import(ctx: &Ctx, req: &mut Request) -> HttpResult {
    let caller = require(ctx, req, Scope::MemoryWrite).await?;
    let bytes = read_bytes(req, MAX_IMPORT_BYTES).await?;
    let body =
        String::from_utf8(bytes).map_err(|_| Error::invalid("the import must be UTF-8 text"))?;
    let items = parse_import(&body)?;
    let app = ctx.app().await?;
    let owner = caller.owner();
    let (mut imported, mut skipped, mut failed) = (0u64, 0u64, 0u64);
    let mut errors = Vec::new();
    // Rows first, each durable as it goes; vectors then in batches, so that a large import
    // costs one model call per 100 memories. A failed batch is left to the scheduled repair.
    let mut to_index = Vec::new();
    for (line, item) in items {
        let record = match item.and_then(|i| i.validate()) {
            Ok(r) => r,
            Err(e) => {
                failed += 1;
                if errors.len() < MAX_REPORTED_ERRORS {
                    errors.push(json!({"line": line, "error": e.public_message()}));
                }
                continue;
            }
        };
        let created = record.created_at.unwrap_or(ctx.now);
        let updated = record.updated_at.unwrap_or(created);
        let (inserted, pending) = app
            .insert_memory(owner, &record.memory, Some((created, updated)))
            .await?;
        match inserted {
            Inserted::Created(..) => imported += 1,
            Inserted::Duplicate(_) => skipped += 1,
        }
        to_index.extend(pending);
        if to_index.len() >= INDEX_BATCH {
            index_batch(&app, owner, std::mem::take(&mut to_index)).await;
        }
    }
    index_batch(&app, owner, to_index).await;
    json(
        200,
        &json!({
            "success": failed == 0,
            "imported": imported,
            "skipped_duplicates": skipped,
            "failed": failed,
            "errors": errors,
        }),
    )
}
