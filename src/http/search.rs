//! `/api/search*`, `/api/tags`, `/api/stats` and the live event stream.

use crate::http::{DEGRADED_HEADER, DEGRADED_SEMANTIC};
use serde_json::json;
use worker::{Request, Response, ResponseBody};

use crate::core::auth::Scope;
use crate::core::memory::validate_tags;
use crate::core::search::{
    validate_n_results, validate_query, SearchRequest, SearchResult, TagSearchRequest,
    TimeSearchRequest,
};
use crate::core::timeparse::parse_time_phrase;
use crate::core::{Error, Result};
use crate::http::auth::{require, require_with};
use crate::http::body::read_json;
use crate::http::respond::{json, HttpResult};
use crate::http::Ctx;
use crate::platform::event_hub;
use crate::platform::memory_store::Filters;

const SEARCH_BODY: usize = 64 * 1024;

fn answer(results: Vec<SearchResult>, query: &str, search_type: &str, started: f64) -> HttpResult {
    let elapsed_ms = (js_sys::Date::now() - started).max(0.0);
    json(
        200,
        &json!({
            "results": results,
            "total_found": results.len(),
            "query": query,
            "search_type": search_type,
            "processing_time_ms": (elapsed_ms * 100.0).round() / 100.0,
        }),
    )
}

pub async fn semantic(ctx: &Ctx, req: &mut Request) -> HttpResult {
    let started = js_sys::Date::now();
    let caller = require(ctx, req, Scope::MemoryRead).await?;
    let body: SearchRequest = read_json(req, SEARCH_BODY).await?;
    let params = body.validate()?;
    let range = match &params.time_filter {
        Some(t) => Some(parse_time_phrase(t, ctx.now)?),
        None => None,
    };
    let app = ctx.app().await?;
    let results = app.search(caller.owner(), &params, range).await?;
    ctx.flush_events(&app);
    let mut resp = answer(results, &params.query, "semantic", started)?;
    if app.semantic_unavailable() {
        let _ = resp.headers_mut().set(DEGRADED_HEADER, DEGRADED_SEMANTIC);
    }
    Ok(resp)
}

pub async fn by_tag(ctx: &Ctx, req: &mut Request) -> HttpResult {
    let started = js_sys::Date::now();
    let caller = require(ctx, req, Scope::MemoryRead).await?;
    let body: TagSearchRequest = read_json(req, SEARCH_BODY).await?;
    let tags = validate_tags(Some(&body.tags))?;
    if tags.is_empty() {
        return Err(Error::invalid_param("tags", "give at least one tag"));
    }
    let match_all = match (body.match_all, body.operation.as_deref()) {
        (Some(m), _) => m,
        (None, Some(op)) if op.eq_ignore_ascii_case("and") => true,
        (None, Some(op)) if op.eq_ignore_ascii_case("or") => false,
        (None, Some(_)) => {
            return Err(Error::invalid_param(
                "operation",
                "operation must be AND or OR",
            ))
        }
        (None, None) => false,
    };
    let n = validate_n_results(body.n_results.as_ref(), 100)?;
    let app = ctx.app().await?;
    let filters = Filters {
        tags: &tags,
        match_all,
        ..Default::default()
    };
    let found = app
        .store
        .filtered(caller.owner(), &filters, n as usize)
        .await?;
    let results = found
        .into_iter()
        .map(|(_, memory)| {
            let matched: Vec<&String> = memory.tags.iter().filter(|t| tags.contains(t)).collect();
            SearchResult {
                relevance_reason: format!(
                    "tags matched: {}",
                    matched
                        .iter()
                        .map(|t| t.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                memory,
                similarity_score: 1.0,
            }
        })
        .collect();
    answer(results, &tags.join(","), "tag", started)
}

pub async fn by_time(ctx: &Ctx, req: &mut Request) -> HttpResult {
    let started = js_sys::Date::now();
    let caller = require(ctx, req, Scope::MemoryRead).await?;
    let body: TimeSearchRequest = read_json(req, SEARCH_BODY).await?;
    let query = validate_query(&body.query)?;
    let n = validate_n_results(body.n_results.as_ref(), 10)?;
    let (since, until) = parse_time_phrase(&query, ctx.now)?;
    let app = ctx.app().await?;
    let filters = Filters {
        since: Some(since),
        until: Some(until),
        ..Default::default()
    };
    let found = app
        .store
        .filtered(caller.owner(), &filters, n as usize)
        .await?;
    let results = found
        .into_iter()
        .map(|(_, memory)| SearchResult {
            relevance_reason: format!("created {} (within '{query}')", memory.created_at_iso),
            memory,
            similarity_score: 1.0,
        })
        .collect();
    answer(results, &query, "time", started)
}

pub async fn tags(ctx: &Ctx, req: &mut Request) -> HttpResult {
    let caller = require(ctx, req, Scope::MemoryRead).await?;
    let app = ctx.app().await?;
    let tags = app.store.tags(caller.owner()).await?;
    json(200, &json!({"tags": tags}))
}

pub async fn stats(ctx: &Ctx, req: &mut Request) -> HttpResult {
    let caller = require(ctx, req, Scope::MemoryRead).await?;
    let app = ctx.app().await?;
    let stats = app
        .store
        .stats(caller.owner(), ctx.now - 7.0 * 86_400.0)
        .await?;
    let mut v = serde_json::to_value(stats).map_err(|e| Error::Internal(e.to_string()))?;
    v["backend"] = json!(match app.index {
        crate::platform::vectorize::AnyVectorIndex::Vectorize(_) => "d1+vectorize",
        crate::platform::vectorize::AnyVectorIndex::D1(_) => "d1",
    });
    v["embedding_model"] = json!(crate::core::ports::Embedder::model_id(&app.embedder));
    json(200, &v)
}

/// SSE of the caller's events; browsers' EventSource may pass `?api_key=`.
pub async fn events(ctx: &Ctx, req: &mut Request) -> HttpResult {
    let caller = require_with(ctx, req, Scope::MemoryRead, true).await?;
    let upstream = event_hub::subscribe(&ctx.b.env, caller.owner())
        .await
        .map_err(|e| Error::Internal(format!("event hub: {e}")))?;
    rewrap_stream(upstream)
}

/// A response from another object has immutable headers; re-wrap its body with ours.
fn rewrap_stream(mut upstream: Response) -> Result<Response> {
    let headers = worker::Headers::new();
    let set = |k: &str, v: &str| {
        headers
            .set(k, v)
            .map_err(|e| Error::Internal(e.to_string()))
    };
    set("content-type", "text/event-stream; charset=utf-8")?;
    set("cache-control", "no-cache, no-transform")?;
    set("access-control-allow-origin", "*")?;
    let stream = upstream
        .stream()
        .map_err(|e| Error::Internal(e.to_string()))?;
    let _ = ResponseBody::Empty;
    Response::from_stream(stream)
        .map(|r| r.with_headers(headers))
        .map_err(|e| Error::Internal(e.to_string()))
}
