//! Building responses, and the one place errors become HTTP status and body.

use serde::Serialize;
use serde_json::json;
use worker::{Headers, Response};

use crate::core::routes::Surface;
use crate::core::Error;

pub type HttpResult = Result<Response, Error>;

fn internal(e: worker::Error) -> Error {
    Error::Internal(e.to_string())
}

pub fn json<T: Serialize>(status: u16, body: &T) -> HttpResult {
    Ok(Response::from_json(body)
        .map_err(internal)?
        .with_status(status))
}

pub fn no_content() -> HttpResult {
    Ok(Response::empty().map_err(internal)?.with_status(204))
}

/// The error body of each API surface: OpenAI's object under `/v1`, JSON-RPC under `/mcp`,
/// FastAPI's `{"detail": ...}` elsewhere (as mcp-memory-service answers).
pub fn error_response(err: &Error, surface: Surface) -> Response {
    let status = err.status();
    if status >= 500 {
        worker::console_error!("{status}: {err}");
    }
    let message = err.public_message();
    let body = match surface {
        Surface::OpenAi => json!({"error": {
            "message": message,
            "type": err.openai_type(),
            "param": err.param(),
            "code": err.openai_code(),
        }}),
        Surface::Mcp => json!({"jsonrpc": "2.0", "id": null, "error": {
            "code": -32000 - i64::from(status),
            "message": message,
        }}),
        Surface::Rest => json!({"detail": message}),
    };
    let headers = Headers::new();
    let _ = headers.set("content-type", "application/json");
    if let Some(secs) = err.retry_after() {
        let _ = headers.set("retry-after", &secs.to_string());
    }
    if status == 401 {
        let _ = headers.set("www-authenticate", "Bearer realm=\"memgate\"");
    }
    let text = body.to_string();
    match Response::ok(text) {
        Ok(r) => r.with_status(status).with_headers(headers),
        Err(_) => Response::empty()
            .map(|r| r.with_status(status))
            .unwrap_or_else(|_| panic!("cannot build a response")),
    }
}
