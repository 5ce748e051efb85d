//! Outbound HTTP to services outside the project (OpenAI-compatible upstreams), with
//! retries and exponential backoff on 429, 5xx and network errors before the first byte.

use std::time::Duration;

use wasm_bindgen::JsValue;
use worker::{AbortController, Delay, Fetch, Headers, Method, Request, RequestInit, Response};

use crate::core::{Error, Result};

#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_retries: u32,
    pub base_delay_ms: u64,
    /// How long an attempt may wait for the upstream to start answering (headers).
    pub answer_timeout_ms: u64,
}

impl RetryPolicy {
    pub fn delay(&self, attempt: u32, retry_after: Option<u64>) -> Duration {
        let backoff = self.base_delay_ms.saturating_mul(1u64 << attempt.min(10));
        let wait = retry_after.map_or(backoff, |s| (s * 1000).min(10_000).max(backoff));
        Duration::from_millis(wait.min(10_000))
    }
}

/// POSTs JSON, retrying transient failures. Returns the first non-retryable response (the
/// caller maps non-2xx to errors) or the last failure.
pub async fn post_json(
    url: &str,
    api_key: Option<&str>,
    body: &serde_json::Value,
    policy: RetryPolicy,
) -> Result<Response> {
    let text = body.to_string();
    let mut attempt = 0;
    loop {
        let headers = Headers::new();
        let set = |k: &str, v: &str| {
            headers
                .set(k, v)
                .map_err(|e| Error::Internal(e.to_string()))
        };
        set("content-type", "application/json")?;
        if let Some(k) = api_key.filter(|k| !k.is_empty()) {
            set("authorization", &format!("Bearer {k}"))?;
        }
        let mut init = RequestInit::new();
        init.with_method(Method::Post)
            .with_headers(headers)
            .with_body(Some(JsValue::from_str(&text)));
        let req = Request::new_with_init(url, &init).map_err(|e| Error::Upstream {
            message: format!("invalid upstream URL: {e}"),
            status: None,
        })?;
        let limit = Duration::from_millis(policy.answer_timeout_ms.max(1));
        let outcome = send_with_timeout(req, limit).await;
        let retryable = match &outcome {
            Ok(resp) => resp.status_code() == 429 || resp.status_code() >= 500,
            Err(_) => true,
        };
        if !retryable || attempt >= policy.max_retries {
            return outcome.map_err(|e| Error::Upstream {
                message: format!("upstream unreachable: {e}"),
                status: None,
            });
        }
        let retry_after = outcome
            .as_ref()
            .ok()
            .and_then(|r| r.headers().get("retry-after").ok().flatten())
            .and_then(|v| v.trim().parse::<u64>().ok());
        Delay::from(policy.delay(attempt, retry_after)).await;
        attempt += 1;
    }
}

/// Sends a request, aborting it if no response (headers) arrives within `limit`.
async fn send_with_timeout(req: Request, limit: Duration) -> worker::Result<Response> {
    use futures_util::future::{select, Either};
    let controller = AbortController::default();
    let signal = controller.signal();
    let fetch = Fetch::Request(req);
    let send = std::pin::pin!(fetch.send_with_signal(&signal));
    match select(send, Delay::from(limit)).await {
        Either::Left((outcome, _)) => outcome,
        Either::Right(((), _)) => {
            controller.abort();
            Err(worker::Error::RustError(format!(
                "no answer within {} ms",
                limit.as_millis()
            )))
        }
    }
}

/// Joins a base URL like `http://host/v1` with a path like `/embeddings`.
pub fn endpoint(base_url: &str, path: &str) -> String {
    format!("{}{}", base_url.trim_end_matches('/'), path)
}
