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
