//! `POST /analyze_error`: the configured model diagnoses a Python packaging error; every
//! call is logged in KV under `log:<machine_id>:<timestamp>` with a retention TTL.

use serde::Deserialize;
use serde_json::{json, Value};
use worker::Request;

use crate::core::auth::Scope;
use crate::core::openai::{
    estimate_prompt_tokens, estimate_tokens, ChatMessage, ChatRequest, Usage,
};
use crate::core::ports::ChatProvider;
use crate::core::text::truncate_utf8;
use crate::core::{Error, Result};
use crate::http::auth::require;
use crate::http::body::read_json;
use crate::http::openai::{account, check_quota, counted};
use crate::http::respond::{json, HttpResult};
use crate::http::Ctx;
use crate::platform::chat::AnyChatProvider;
use crate::platform::error::storage;
use crate::platform::rate_limit;
use crate::platform::workers_ai::AiBinding;

const MAX_CONTEXT_BYTES: usize = 32 * 1024;
const LOG_TTL_SECS: u64 = 30 * 24 * 3600;
const PER_MACHINE_PER_MINUTE: u32 = 10;

const SYSTEM: &str =
    "You diagnose Python packaging errors (pip, setuptools, wheels, build backends, \
compilers, resolvers). Answer with one JSON object only, no prose: {\"diagnosis\": string, \
\"cause\": string, \"fix_commands\": [string], \"confidence\": \"low\"|\"medium\"|\"high\"}.";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AnalyzeRequest {
    machine_id: String,
    error_context: Value,
}

fn validate_machine(id: &str) -> Result<()> {
    if id.is_empty()
        || id.len() > 128
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err(Error::invalid_param(
            "machine_id",
            "machine_id must be 1-128 characters of letters, digits, '-', '_', '.'",
        ));
    }
    Ok(())
}

/// The first JSON object in a model's answer (models wrap JSON in prose or code fences).
fn extract_json(text: &str) -> Option<Value> {
    let start = text.find('{')?;
    let end = text.rfind('}')?;
    (end > start)
        .then(|| serde_json::from_str(&text[start..=end]).ok())
        .flatten()
}

pub async fn analyze_error(ctx: &Ctx, req: &mut Request) -> HttpResult {
    let caller = require(ctx, req, Scope::Chat).await?;
    let body: AnalyzeRequest = read_json(req, MAX_CONTEXT_BYTES + 4096).await?;
    validate_machine(&body.machine_id)?;
    let context = match &body.error_context {
        Value::String(s) if !s.trim().is_empty() => s.clone(),
        Value::Object(_) | Value::Array(_) => body.error_context.to_string(),
        _ => {
            return Err(Error::invalid_param(
                "error_context",
                "error_context must be a non-empty string or object",
            ))
        }
    };
    if context.len() > MAX_CONTEXT_BYTES {
        return Err(Error::PayloadTooLarge(format!(
            "error_context is limited to {MAX_CONTEXT_BYTES} bytes"
        )));
    }
    rate_limit::hit(
        &ctx.b.db,
        &format!("machine:{}", body.machine_id),
        PER_MACHINE_PER_MINUTE,
        60,
        ctx.now,
        "too many analyses for this machine",
    )
    .await?;
    check_quota(ctx, &caller).await?;
    let app = ctx.app().await?;
    let chat = serde_json::from_value::<ChatRequest>(json!({
        "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": context}],
        "max_tokens": 800,
        "temperature": 0.1,
    }))?
    .validate()?;
    let messages: Vec<ChatMessage> = chat.messages.clone();
    let backend =
        AnyChatProvider::from_config(&app.config.chat, AiBinding::from_env(&ctx.b.env), app.retry)?;
    // Counted like any chat request of this key: tokens, and failures as errors.
    let key = (caller.key.id.clone(), caller.owner().to_string());
    let model = app.config.public_model_name.clone();
    let answer = counted(ctx, &key, &model, backend.complete(&chat, &messages).await)?;
    let text = answer.content.unwrap_or_default();
    let usage = answer
        .usage
        .unwrap_or_else(|| Usage::new(estimate_prompt_tokens(&messages), estimate_tokens(&text)));
    account(ctx, key, model, usage, false, None);
    let analysis = extract_json(&text).unwrap_or_else(|| json!({"diagnosis": text.trim(), "cause": null, "fix_commands": [], "confidence": "low"}));
    let stamp = format!("{:.3}", ctx.now);
    let log_key = format!("log:{}:{stamp}", body.machine_id);
    let log = json!({
        "machine_id": body.machine_id,
        "timestamp": ctx.now,
        "key_id": caller.key.id,
        "error_context": truncate_utf8(&context, 8 * 1024),
        "analysis": analysis,
    });
    ctx.b
        .kv
        .put(&log_key, log.to_string())
        .map_err(storage)?
        .expiration_ttl(LOG_TTL_SECS)
        .execute()
        .await
        .map_err(storage)?;
    json(
        200,
        &json!({"machine_id": body.machine_id, "analysis": analysis, "model": app.config.public_model_name, "log_key": log_key}),
    )
}
