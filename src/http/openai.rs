//! `/v1`: the OpenAI-compatible API — models, chat completions (memory-augmented, with
//! server-side conversations and drawing), embeddings, images.

use crate::http::{DEGRADED_HEADER, DEGRADED_SEMANTIC};
use base64::Engine;
use serde_json::{json, Value};
use worker::{Env, Request, Response, ResponseBody};

use crate::app::App;
use crate::core::auth::Scope;
use crate::core::config::INDEX_DIMENSIONS;
use crate::core::openai::{
    chunk, completion, content_text, drawing_prompt, embedding_base64, estimate_prompt_tokens,
    estimate_tokens, memory_context, sse_data, usage_chunk, validate_conversation_id, Chat,
    ChatMessage, ChatRequest, EmbeddingsRequest, ImageRequest, Usage, MAX_CHAT_BODY, SSE_DONE,
};
use crate::core::ports::ChatProvider;
use crate::core::search::SearchParams;
use crate::core::text::truncate_utf8;
use crate::core::{Error, Result};
use crate::http::auth::{require, Caller};
use crate::http::body::read_json;
use crate::http::chat_stream::ChatStreamRelay;
use crate::http::respond::{json, HttpResult};
use crate::http::Ctx;
use crate::platform::chat::AnyChatProvider;
use crate::platform::crypto::random_hex;
use crate::platform::gateway_store::{GatewayStore, UsageEvent};
use crate::platform::sse_out::BodyWriter;
use crate::platform::workers_ai::AiBinding;
use crate::platform::Bindings;

/// Room for retrieved memories in the system message.
const CONTEXT_CHARS: usize = 12_000;
pub const EMBEDDING_MODEL_NAME: &str = "memgate-embedding";
pub const IMAGE_MODEL_NAME: &str = "memgate-image";

fn internal(e: worker::Error) -> Error {
    Error::Internal(e.to_string())
}

/// The models memgate answers as: the public chat model, embeddings and images.
fn model_list(public_model_name: &str) -> Vec<Value> {
    [public_model_name, EMBEDDING_MODEL_NAME, IMAGE_MODEL_NAME]
        .iter()
        .map(|id| json!({"id": id, "object": "model", "created": 1_700_000_000u64, "owned_by": "memgate"}))
        .collect()
}

pub async fn models(ctx: &Ctx, req: &mut Request) -> HttpResult {
    require(ctx, req, Scope::Chat).await?;
    let app = ctx.app().await?;
    json(
        200,
        &json!({"object": "list", "data": model_list(&app.config.public_model_name)}),
    )
}

/// `GET /v1/models/{model}`, as the SDKs' `models.retrieve`.
pub async fn model(ctx: &Ctx, req: &mut Request, id: &str) -> HttpResult {
    require(ctx, req, Scope::Chat).await?;
    let app = ctx.app().await?;
    let found = model_list(&app.config.public_model_name)
        .into_iter()
        .find(|m| m["id"] == id)
        .ok_or_else(|| {
            Error::not_found(format!(
                "the model '{}' does not exist",
                truncate_utf8(id, 100)
            ))
        })?;
    json(200, &found)
}

/// Refuses a key over its daily token quota.
pub(crate) async fn check_quota(ctx: &Ctx, caller: &Caller) -> Result<()> {
    let Some(quota) = caller.key.daily_token_quota else {
        return Ok(());
    };
    let used = GatewayStore::new(&ctx.b.db)
        .tokens_today(&caller.key.id, ctx.now)
        .await?;
    if used >= quota {
        let until_midnight = 86_400 - (ctx.now as u64 % 86_400);
        return Err(Error::RateLimited {
            message: format!(
                "daily token quota of {quota} reached ({used} used); it resets at 00:00 UTC"
            ),
            retry_after_secs: until_midnight.max(1),
        });
    }
    Ok(())
}

fn header(req: &Request, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .ok()
        .flatten()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

struct Prepared {
    messages: Vec<ChatMessage>,
    sources: Vec<String>,
    conversation: Option<String>,
    /// The new turns of this request, stored with the answer.
    new_turns: Vec<(String, String)>,
}

async fn prepare(
    ctx: &Ctx,
    app: &App<'_>,
    caller: &Caller,
    req: &Request,
    chat: &Chat,
) -> Result<Prepared> {
    let conversation =
        match header(req, "x-conversation-id").or_else(|| chat.conversation_id.clone()) {
            Some(id) => {
                validate_conversation_id(&id)?;
                Some(id)
            }
            None => None,
        };
    let rag_off = header(req, "x-memgate-rag").is_some_and(|v| {
        matches!(
            v.to_ascii_lowercase().as_str(),
            "off" | "0" | "false" | "no"
        )
    });
    let last_user = chat
        .messages
        .iter()
        .rev()
        .find(|m| m.role == "user")
        .map(|m| content_text(&m.content))
        .unwrap_or_default();
    let mut sources = Vec::new();
    let mut context = Vec::new();
    if app.config.rag.enabled
        && !rag_off
        && !last_user.trim().is_empty()
        && caller.key.has(Scope::MemoryRead)
    {
        let params = SearchParams {
            query: truncate_utf8(last_user.trim(), 2000).to_string(),
            n_results: app.config.rag.top_k,
            similarity_threshold: Some(app.config.rag.min_score),
            tags: Vec::new(),
            time_filter: None,
            memory_type: None,
        };
        for r in app.search(caller.owner(), &params, None).await? {
            sources.push(r.memory.content_hash.clone());
            context.push((r.memory.content_hash, r.memory.content));
        }
    }
    let mut messages = Vec::new();
    let system = memory_context(&app.config.system_prompt, &context, CONTEXT_CHARS);
    if !system.trim().is_empty() {
        messages.push(ChatMessage {
            role: "system".into(),
            content: Some(json!(system)),
            name: None,
            tool_calls: None,
            tool_call_id: None,
        });
    }
    if let Some(id) = &conversation {
        for m in GatewayStore::new(&ctx.b.db)
            .history(caller.owner(), id)
            .await?
        {
            messages.push(ChatMessage {
                role: m.role,
                content: Some(json!(m.content)),
                name: None,
                tool_calls: None,
                tool_call_id: None,
            });
        }
    }
    // Only the turns after the last assistant message are new: clients that resend the whole
    // history with a conversation id must not duplicate it.
    let start = chat
        .messages
        .iter()
        .rposition(|m| m.role == "assistant")
        .map_or(0, |i| i + 1);
    let new_turns = chat.messages[start..]
        .iter()
        .filter(|m| m.role == "user" || m.role == "system" || m.role == "developer")
        .map(|m| {
            (
                if m.role == "user" { "user" } else { "system" }.to_string(),
                content_text(&m.content),
            )
        })
        .collect();
    let incoming: Vec<ChatMessage> = if conversation.is_some() {
        chat.messages[start..].to_vec()
    } else {
        chat.messages.clone()
    };
    messages.extend(incoming);
    Ok(Prepared {
        messages,
        sources,
        conversation,
        new_turns,
    })
}

/// A conversation to extend: id, the request's new turns, the answer, how many to keep.
type ConversationWrite = (String, Vec<(String, String)>, String, u32);

/// Records usage and appends the exchange; runs after the answer, also for streams.
async fn finish(
    env: Env,
    now: f64,
    caller_key: (String, String),
    model: String,
    usage: Usage,
    error: bool,
    conv: Option<ConversationWrite>,
) {
    let Ok(b) = Bindings::new(env) else { return };
    let store = GatewayStore::new(&b.db);
    let event = UsageEvent {
        key_id: &caller_key.0,
        owner: &caller_key.1,
        model: &model,
        prompt_tokens: usage.prompt_tokens,
        completion_tokens: usage.completion_tokens,
        error,
    };
    if let Err(e) = store.record_usage(&event, now).await {
        worker::console_error!("usage not recorded: {e}");
    }
    if let Some((id, mut turns, answer, keep)) = conv {
        if error {
            return;
        }
        let title: String = turns
            .iter()
            .find(|(r, _)| r == "user")
            .map(|(_, c)| c.chars().take(80).collect())
            .unwrap_or_default();
        turns.push(("assistant".into(), answer));
        if let Err(e) = store
            .append(&caller_key.1, &id, &title, &turns, now, keep)
            .await
        {
            worker::console_error!("conversation not stored: {e}");
        }
    }
}

/// Records usage (and the conversation) after the response, without delaying it.
pub(crate) fn account(
    ctx: &Ctx,
    key: (String, String),
    model: String,
    usage: Usage,
    error: bool,
    conv: Option<ConversationWrite>,
) {
    ctx.after_response(finish(
        ctx.b.env.clone(),
        ctx.now,
        key,
        model,
        usage,
        error,
        conv,
    ));
}

/// Passes `result` on; a failure is counted as an error of `key` = (key id, owner) on
/// `model`, so that failed requests show in usage too.
pub(crate) fn counted<T>(
    ctx: &Ctx,
    key: &(String, String),
    model: &str,
    result: Result<T>,
) -> Result<T> {
    if result.is_err() {
        account(ctx, key.clone(), model.into(), Usage::default(), true, None);
    }
    result
}

/// `semantic_unavailable`: retrieval ranked by keywords alone (embedder or index down).
fn with_gateway_headers(
    mut resp: Response,
    sources: &[String],
    conversation: Option<&str>,
    semantic_unavailable: bool,
) -> Result<Response> {
    let h = resp.headers_mut();
    h.set("x-memgate-sources", &sources.join(","))
        .map_err(internal)?;
    if semantic_unavailable {
        h.set(DEGRADED_HEADER, DEGRADED_SEMANTIC)
            .map_err(internal)?;
    }
    if let Some(c) = conversation {
        h.set("x-conversation-id", c).map_err(internal)?;
    }
    Ok(resp)
}

pub async fn chat_completions(ctx: &Ctx, req: &mut Request) -> HttpResult {
    let caller = require(ctx, req, Scope::Chat).await?;
    let body: ChatRequest = read_json(req, MAX_CHAT_BODY).await?;
    let chat = body.validate()?;
    if let Some(id) = header(req, "x-conversation-id") {
        validate_conversation_id(&id)?;
    }
    check_quota(ctx, &caller).await?;
    let app = ctx.app().await?;
    let model = app.config.public_model_name.clone();
    let id = format!("chatcmpl-{}", random_hex::<12>()?);
    let created = ctx.now as u64;
    let key = (caller.key.id.clone(), caller.owner().to_string());

    if app.config.drawing.enabled {
        if let Some(prompt) = drawing_prompt(&chat.messages, &app.config.drawing.triggers) {
            return draw_reply(
                ctx, &app, &caller, req, &chat, &prompt, &id, created, &model,
            )
            .await;
        }
    }

    let p = prepare(ctx, &app, &caller, req, &chat).await?;
    let backend =
        AnyChatProvider::from_config(&app.config.chat, AiBinding::from_env(&ctx.b.env), app.retry)?;
    let prompt_estimate = estimate_prompt_tokens(&p.messages);
    let keep = app.config.max_conversations;
    let conv = |answer: String| {
        p.conversation
            .clone()
            .map(|c| (c, p.new_turns.clone(), answer, keep))
    };

    let t0 = js_sys::Date::now();
    if !chat.stream {
        let result = backend.complete(&chat, &p.messages).await;
        ctx.timings
            .record(&[("upstream", js_sys::Date::now() - t0)]);
        let done = counted(ctx, &key, &model, result)?;
        let text = done.content.clone().unwrap_or_default();
        let usage = done
            .usage
            .unwrap_or_else(|| Usage::new(prompt_estimate, estimate_tokens(&text)));
        let mut message = json!({"role": "assistant", "content": done.content, "refusal": null});
        if let Some(tc) = &done.tool_calls {
            message["tool_calls"] = tc.clone();
        }
        account(ctx, key, model.clone(), usage, false, conv(text));
        ctx.flush_events(&app);
        let resp = json(
            200,
            &completion(&id, created, &model, message, &done.finish_reason, usage),
        )?;
        return with_gateway_headers(
            resp,
            &p.sources,
            p.conversation.as_deref(),
            app.semantic_unavailable(),
        );
    }

    let mut relay = ChatStreamRelay::new(
        id,
        created,
        model.clone(),
        chat.include_usage,
        prompt_estimate,
    );
    let started = match backend.stream(&chat, &p.messages).await {
        Ok(mut events) => relay.start(&mut events).await.map(|first| (events, first)),
        Err(e) => Err(e),
    };
    ctx.timings
        .record(&[("upstream", js_sys::Date::now() - t0)]);
    let (events, first) = counted(ctx, &key, &model, started)?;
    ctx.flush_events(&app);
    let (out, body) = BodyWriter::new(&first).map_err(Error::Internal)?;
    let env = ctx.b.env.clone();
    let now = ctx.now;
    let conv_info = p
        .conversation
        .clone()
        .map(|c| (c, p.new_turns.clone(), keep));
    // The upstream is read to the end even if the client goes away, so usage is counted.
    ctx.wctx.wait_until(async move {
        let done = relay.finish(events, out).await;
        // As in `Ctx::after_response`: the stream's last bytes leave before the usage write.
        worker::Delay::from(std::time::Duration::from_millis(1)).await;
        let conv = conv_info.map(|(c, turns, keep)| (c, turns, done.text, keep));
        finish(env, now, key, model, done.usage, done.failed, conv).await;
    });
    let mut resp = Response::from_body(ResponseBody::Stream(body)).map_err(internal)?;
    let h = resp.headers_mut();
    h.set("content-type", "text/event-stream; charset=utf-8")
        .map_err(internal)?;
    h.set("cache-control", "no-cache, no-transform")
        .map_err(internal)?;
    with_gateway_headers(
        resp,
        &p.sources,
        p.conversation.as_deref(),
        app.semantic_unavailable(),
    )
}

fn origin(req: &Request) -> String {
    req.url()
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default()
}

#[allow(clippy::too_many_arguments)]
async fn draw_reply(
    ctx: &Ctx,
    app: &App<'_>,
    caller: &Caller,
    req: &Request,
    chat: &Chat,
    prompt: &str,
    id: &str,
    created: u64,
    model: &str,
) -> HttpResult {
    let key = (caller.key.id.clone(), caller.owner().to_string());
    let image = counted(
        ctx,
        &key,
        IMAGE_MODEL_NAME,
        app.draw(&key.1, prompt, None).await,
    )?;
    let alt: String = prompt
        .chars()
        .filter(|c| !matches!(c, '[' | ']' | '\n'))
        .take(100)
        .collect();
    let text = format!("![{alt}]({}/images/{})", origin(req), image.id);
    let usage = Usage::new(estimate_tokens(prompt), estimate_tokens(&text));
    let conversation = header(req, "x-conversation-id").or_else(|| chat.conversation_id.clone());
    let conv = conversation.clone().map(|c| {
        (
            c,
            vec![(
                "user".to_string(),
                content_text(&chat.messages.last().and_then(|m| m.content.clone())),
            )],
            text.clone(),
            app.config.max_conversations,
        )
    });
    account(ctx, key, IMAGE_MODEL_NAME.into(), usage, false, conv);
    if !chat.stream {
        let message = json!({"role": "assistant", "content": text, "refusal": null});
        let resp = json(200, &completion(id, created, model, message, "stop", usage))?;
        return with_gateway_headers(resp, &[], conversation.as_deref(), false);
    }
    let mut out = String::new();
    out.push_str(&sse_data(&chunk(
        id,
        created,
        model,
        json!({"role": "assistant", "content": ""}),
        None,
    )));
    out.push_str(&sse_data(&chunk(
        id,
        created,
        model,
        json!({"content": text}),
        None,
    )));
    out.push_str(&sse_data(&chunk(
        id,
        created,
        model,
        json!({}),
        Some("stop"),
    )));
    if chat.include_usage {
        out.push_str(&sse_data(&usage_chunk(id, created, model, usage)));
    }
    out.push_str(SSE_DONE);
    let mut resp = Response::ok(out).map_err(internal)?;
    resp.headers_mut()
        .set("content-type", "text/event-stream; charset=utf-8")
        .map_err(internal)?;
    with_gateway_headers(resp, &[], conversation.as_deref(), false)
}

pub async fn embeddings(ctx: &Ctx, req: &mut Request) -> HttpResult {
    let caller = require(ctx, req, Scope::Chat).await?;
    let body: EmbeddingsRequest = read_json(req, 10 * 1024 * 1024).await?;
    let (texts, base64) = body.validate(INDEX_DIMENSIONS)?;
    check_quota(ctx, &caller).await?;
    let app = ctx.app().await?;
    let vectors = app.embedder.embed_cached(&ctx.b.kv, &texts).await?;
    let tokens: u64 = texts.iter().map(|t| estimate_tokens(t)).sum();
    let data: Vec<Value> = vectors
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let embedding = if base64 {
                json!(embedding_base64(v))
            } else {
                json!(v)
            };
            json!({"object": "embedding", "index": i, "embedding": embedding})
        })
        .collect();
    let key = (caller.key.id.clone(), caller.owner().to_string());
    account(
        ctx,
        key,
        EMBEDDING_MODEL_NAME.into(),
        Usage::new(tokens, 0),
        false,
        None,
    );
    json(
        200,
        &json!({"object": "list", "data": data, "model": body.model.unwrap_or_else(|| EMBEDDING_MODEL_NAME.into()), "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}),
    )
}

pub async fn images(ctx: &Ctx, req: &mut Request) -> HttpResult {
    let caller = require(ctx, req, Scope::Chat).await?;
    let body: ImageRequest = read_json(req, 64 * 1024).await?;
    let params = body.validate()?;
    check_quota(ctx, &caller).await?;
    let app = ctx.app().await?;
    let key = (caller.key.id.clone(), caller.owner().to_string());
    let mut data = Vec::new();
    for _ in 0..params.n {
        let drawn = app
            .draw(&key.1, &params.prompt, params.size.as_deref())
            .await;
        let image = counted(ctx, &key, IMAGE_MODEL_NAME, drawn)?;
        data.push(if params.b64_json {
            json!({"b64_json": base64::engine::general_purpose::STANDARD.encode(&image.bytes), "revised_prompt": params.prompt})
        } else {
            json!({"url": format!("{}/images/{}", origin(req), image.id), "revised_prompt": params.prompt})
        });
    }
    account(
        ctx,
        key,
        IMAGE_MODEL_NAME.into(),
        Usage::new(estimate_tokens(&params.prompt), 0),
        false,
        None,
    );
    json(200, &json!({"created": ctx.now as u64, "data": data}))
}

/// `GET /images/{id}`: a generated image. The id is 128 random bits: knowing it is the key.
pub async fn image_file(ctx: &Ctx, id: &str) -> HttpResult {
    if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::not_found("image not found"));
    }
    let bytes = ctx
        .b
        .blobs
        .get(&format!("images/{id}"))
        .await?
        .filter(|b| !b.is_empty())
        .ok_or_else(|| Error::not_found("image not found"))?;
    let mime = crate::app::images::image_mime(&bytes);
    let mut resp = Response::from_bytes(bytes).map_err(internal)?;
    let h = resp.headers_mut();
    h.set("content-type", mime).map_err(internal)?;
    h.set("cache-control", "public, max-age=31536000, immutable")
        .map_err(internal)?;
    Ok(resp)
}
