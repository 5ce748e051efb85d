//! Unauthenticated system endpoints: health, status, the OpenAPI description.

use serde_json::json;

use crate::core::time::iso8601;
use crate::http::respond::{json, HttpResult};
use crate::http::{Ctx, VERSION};
use crate::platform::kv_settings::Settings;

const OPENAPI: &str = include_str!("openapi.json");

pub fn openapi() -> HttpResult {
    let mut resp =
        worker::Response::ok(OPENAPI).map_err(|e| crate::core::Error::Internal(e.to_string()))?;
    let _ = resp.headers_mut().set("content-type", "application/json");
    Ok(resp)
}

pub async fn status(ctx: &Ctx) -> HttpResult {
    let initialized = Settings::new(&ctx.b.kv).config().await?.is_some();
    json(
        200,
        &json!({"initialized": initialized, "version": VERSION}),
    )
}

/// mcp-memory-service's health shape, plus whether the instance is initialised.
pub async fn health(ctx: &Ctx) -> HttpResult {
    let initialized = Settings::new(&ctx.b.kv).config().await?.is_some();
    json(
        200,
        &json!({
            "status": "healthy",
            "version": VERSION,
            "timestamp": iso8601(ctx.now),
            "initialized": initialized,
        }),
    )
}

/// Health with storage checks, as mcp-memory-service's `/api/health/detailed`.
pub async fn health_detailed(ctx: &Ctx) -> HttpResult {
    let started = js_sys::Date::now();
    let d1_ok = crate::platform::d1::first::<serde_json::Value>(&ctx.b.db, "SELECT 1 AS ok", &[])
        .await
        .is_ok();
    let d1_ms = js_sys::Date::now() - started;
    let kv_started = js_sys::Date::now();
    let initialized = Settings::new(&ctx.b.kv).config().await;
    let kv_ms = js_sys::Date::now() - kv_started;
    let backend = match ctx.b.var("VECTOR_BACKEND").as_deref() {
        Some("d1") => "d1",
        _ => "vectorize",
    };
    let healthy = d1_ok && initialized.is_ok();
    json(
        if healthy { 200 } else { 503 },
        &json!({
            "status": if healthy { "healthy" } else { "unhealthy" },
            "version": VERSION,
            "timestamp": iso8601(ctx.now),
            "initialized": matches!(initialized, Ok(Some(_))),
            "storage": {
                "backend": "cloudflare-d1",
                "vector_index": backend,
                "d1": {"ok": d1_ok, "latency_ms": d1_ms},
                "kv": {"ok": initialized.is_ok(), "latency_ms": kv_ms},
            },
        }),
    )
}
