//! Chat providers: Workers AI (binding) and any OpenAI-compatible upstream. Both yield the
//! same events, streaming or not; the gateway turns them into OpenAI's exact shapes.

use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use wasm_bindgen::JsCast;
use worker::web_sys::ReadableStream;
use worker::ByteStream;

use crate::core::config::{ChatConfig, ChatProviderKind};
use crate::core::openai::{content_text, openai_tool_calls, Chat, ChatMessage, SseParser, Usage};
use crate::core::ports::{ChatEvent, ChatEventStream, ChatProvider, Completion};
use crate::core::{Error, Result};
use crate::platform::http_client::{endpoint, post_json, RetryPolicy};
use crate::platform::workers_ai::AiBinding;

/// Workers AI chat models default to 256 output tokens; memgate always passes a value.
const DEFAULT_MAX_TOKENS: u32 = 1024;

/// Any OpenAI-compatible `/v1/chat/completions` upstream; its stream is re-framed, not
/// buffered.
pub struct OpenAiChat {
    base_url: String,
    api_key: Option<String>,
    model: String,
    retry: RetryPolicy,
}

/// Workers AI through its binding: its `{response}` answers and SSE stream translated.
pub struct WorkersAiChat {
    ai: AiBinding,
    model: String,
    retry: RetryPolicy,
}

/// The configured chat provider.
pub enum AnyChatProvider {
    WorkersAi(WorkersAiChat),
    OpenAi(OpenAiChat),
}

fn upstream_error(status: u16, body: &str) -> Error {
    // The upstream's own message helps the caller (bad parameters); never its credentials.
    let msg = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| {
            v.pointer("/error/message")
                .or_else(|| v.get("error"))
                .or_else(|| v.get("detail"))
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_else(|| format!("the upstream answered {status}"));
    match status {
        400 | 404 | 413 | 422 => Error::Invalid {
            message: format!("upstream: {msg}"),
            param: None,
        },
        429 => Error::RateLimited {
            message: format!("the upstream is rate limiting: {msg}"),
            retry_after_secs: 5,
        },
        _ => Error::Upstream {
            message: format!("the upstream failed ({status}): {msg}"),
            status: Some(status),
        },
    }
}

/// POSTs to an OpenAI-compatible `/chat/completions`; a non-2xx answer becomes an error.
async fn post_chat(
    base_url: &str,
    api_key: Option<&str>,
    body: &Value,
    retry: RetryPolicy,
) -> Result<worker::Response> {
    let mut resp = post_json(
        &endpoint(base_url, "/chat/completions"),
        api_key,
        body,
        retry,
    )
    .await?;
    let status = resp.status_code();
    if !(200..300).contains(&status) {
        let text = resp.text().await.unwrap_or_default();
        return Err(upstream_error(status, &text));
    }
    Ok(resp)
}

impl AnyChatProvider {
    pub fn from_config(
        cfg: &ChatConfig,
        ai: Option<AiBinding>,
        retry: RetryPolicy,
    ) -> Result<Self> {
        Ok(match cfg.provider {
            ChatProviderKind::WorkersAi => AnyChatProvider::WorkersAi(WorkersAiChat {
                ai: ai.ok_or_else(|| Error::Upstream {
                    message: "the Workers AI binding (AI) is not configured; choose an openai chat provider".into(),
                    status: None,
                })?,
                model: cfg.model.clone(),
                retry,
            }),
            ChatProviderKind::Openai => AnyChatProvider::OpenAi(OpenAiChat {
                base_url: cfg.base_url.clone().unwrap_or_default(),
                api_key: cfg.api_key.clone(),
                model: cfg.model.clone(),
                retry,
            }),
        })
    }
}

/// The upstream's own words never name its model: the public model name stands in front.
impl ChatProvider for AnyChatProvider {
    fn upstream_model(&self) -> &str {
        match self {
            AnyChatProvider::OpenAi(p) => p.upstream_model(),
            AnyChatProvider::WorkersAi(p) => p.upstream_model(),
        }
    }

    async fn complete(&self, chat: &Chat, messages: &[ChatMessage]) -> Result<Completion> {
        let done = match self {
            AnyChatProvider::OpenAi(p) => p.complete(chat, messages).await,
            AnyChatProvider::WorkersAi(p) => p.complete(chat, messages).await,
        };
        done.map_err(|e| e.hiding(self.upstream_model(), "the model"))
    }

    async fn stream(&self, chat: &Chat, messages: &[ChatMessage]) -> Result<ChatEventStream> {
        let started = match self {
            AnyChatProvider::OpenAi(p) => p.stream(chat, messages).await,
            AnyChatProvider::WorkersAi(p) => p.stream(chat, messages).await,
        };
        started.map_err(|e| e.hiding(self.upstream_model(), "the model"))
    }
}

fn openai_body(model: &str, chat: &Chat, messages: &[ChatMessage], stream: bool) -> Value {
    let mut body: Map<String, Value> = chat.passthrough.clone();
    body.insert("model".into(), json!(model));
    body.insert("messages".into(), json!(messages));
    body.insert("stream".into(), json!(stream));
    if stream {
        body.insert("stream_options".into(), json!({"include_usage": true}));
    }
    if let Some(m) = chat.max_tokens {
        body.insert(chat.max_tokens_param.into(), json!(m));
    }
    if let Some(t) = chat.temperature {
        body.insert("temperature".into(), json!(t));
    }
    if let Some(p) = chat.top_p {
        body.insert("top_p".into(), json!(p));
    }
    Value::Object(body)
}

fn workers_ai_inputs(chat: &Chat, messages: &[ChatMessage], stream: bool) -> Value {
    // Workers AI takes text content and system/user/assistant/tool roles.
    let msgs: Vec<Value> = messages
        .iter()
        .map(|m| {
            let role = if m.role == "developer" {
                "system"
            } else {
                m.role.as_str()
            };
            json!({"role": role, "content": content_text(&m.content)})
        })
        .collect();
    let mut inputs = json!({
        "messages": msgs,
        "max_tokens": chat.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
        "stream": stream,
    });
    for (k, v) in [
        ("temperature", chat.temperature.map(|t| json!(t))),
        ("top_p", chat.top_p.map(|t| json!(t))),
    ] {
        if let Some(v) = v {
            inputs[k] = v;
        }
    }
    for k in ["seed", "tools", "frequency_penalty", "presence_penalty"] {
        if let Some(v) = chat.passthrough.get(k) {
            inputs[k] = v.clone();
        }
    }
    inputs
}

impl ChatProvider for OpenAiChat {
    fn upstream_model(&self) -> &str {
        &self.model
    }

    async fn complete(&self, chat: &Chat, messages: &[ChatMessage]) -> Result<Completion> {
        let mut resp = post_chat(
            &self.base_url,
            self.api_key.as_deref(),
            &openai_body(&self.model, chat, messages, false),
            self.retry,
        )
        .await?;
        let text = resp.text().await.map_err(|e| Error::Upstream {
            message: e.to_string(),
            status: None,
        })?;
        #[derive(Deserialize)]
        struct Resp {
            choices: Vec<Choice>,
            #[serde(default)]
            usage: Option<Usage>,
        }
        #[derive(Deserialize)]
        struct Choice {
            message: Msg,
            #[serde(default)]
            finish_reason: Option<String>,
        }
        #[derive(Deserialize)]
        struct Msg {
            #[serde(default)]
            content: Option<String>,
            #[serde(default)]
            tool_calls: Option<Value>,
        }
        let parsed: Resp = serde_json::from_str(&text).map_err(|e| Error::Upstream {
            message: format!("unexpected upstream answer: {e}"),
            status: None,
        })?;
        let choice = parsed
            .choices
            .into_iter()
            .next()
            .ok_or_else(|| Error::Upstream {
                message: "the upstream answered without choices".into(),
                status: None,
            })?;
        Ok(Completion {
            content: choice.message.content,
            tool_calls: choice.message.tool_calls,
            finish_reason: choice.finish_reason.unwrap_or_else(|| "stop".into()),
            usage: parsed.usage,
        })
    }

    async fn stream(&self, chat: &Chat, messages: &[ChatMessage]) -> Result<ChatEventStream> {
        let mut resp = post_chat(
            &self.base_url,
            self.api_key.as_deref(),
            &openai_body(&self.model, chat, messages, true),
            self.retry,
        )
        .await?;
        let bytes = resp.stream().map_err(|e| Error::Upstream {
            message: e.to_string(),
            status: None,
        })?;
        Ok(sse_events(bytes, parse_openai_chunk))
    }
}

impl ChatProvider for WorkersAiChat {
    fn upstream_model(&self) -> &str {
        &self.model
    }

    async fn complete(&self, chat: &Chat, messages: &[ChatMessage]) -> Result<Completion> {
        let inputs = workers_ai_inputs(chat, messages, false);
        let value = run_with_retry(&self.ai, &self.model, &inputs, self.retry).await?;
        let v: Value = serde_wasm_bindgen::from_value(value).map_err(|e| Error::Upstream {
            message: format!("unexpected Workers AI answer: {e}"),
            status: None,
        })?;
        let tool_calls = v.get("tool_calls").and_then(openai_tool_calls);
        Ok(Completion {
            content: v
                .get("response")
                .and_then(Value::as_str)
                .map(str::to_string),
            finish_reason: if tool_calls.is_some() {
                "tool_calls".into()
            } else {
                "stop".into()
            },
            tool_calls,
            usage: v
                .get("usage")
                .and_then(|u| serde_json::from_value(u.clone()).ok()),
        })
    }

    async fn stream(&self, chat: &Chat, messages: &[ChatMessage]) -> Result<ChatEventStream> {
        let inputs = workers_ai_inputs(chat, messages, true);
        let value = run_with_retry(&self.ai, &self.model, &inputs, self.retry).await?;
        let rs: ReadableStream = value.dyn_into().map_err(|_| Error::Upstream {
            message: "Workers AI did not return a stream".into(),
            status: None,
        })?;
        let bytes = ByteStream::from(rs);
        Ok(sse_events(bytes, parse_workers_ai_chunk))
    }
}

async fn run_with_retry(
    ai: &AiBinding,
    model: &str,
    inputs: &Value,
    retry: RetryPolicy,
) -> Result<wasm_bindgen::JsValue> {
    let mut attempt = 0;
    loop {
        match ai.run(model, inputs).await {
            Ok(v) => return Ok(v),
            Err(e) if attempt < retry.max_retries => {
                worker::console_warn!("Workers AI retry {attempt}: {e}");
                worker::Delay::from(retry.delay(attempt, None)).await;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Turns an SSE byte stream into chat events with `parse` for each `data:` payload.
/// A stream that ends without `[DONE]` or a finish reason was cut off: it ends in an error.
fn sse_events(bytes: ByteStream, parse: fn(&str) -> Vec<ChatEvent>) -> ChatEventStream {
    struct State {
        bytes: ByteStream,
        parser: SseParser,
        done: bool,
        finished: bool,
    }
    fn translate(
        payloads: impl IntoIterator<Item = String>,
        parse: fn(&str) -> Vec<ChatEvent>,
        finished: &mut bool,
        done: &mut bool,
    ) -> Vec<Result<ChatEvent>> {
        let mut out = Vec::new();
        for d in payloads {
            // The answer is complete at `[DONE]`: waiting for the upstream to close the
            // connection as well would hold the client's last frames back (~3 ms measured).
            if d == "[DONE]" {
                *finished = true;
                *done = true;
                break;
            }
            for ev in parse(&d) {
                *finished |= matches!(ev, ChatEvent::Finish(_));
                out.push(Ok(ev));
            }
        }
        out
    }
    let state = State {
        bytes,
        parser: SseParser::default(),
        done: false,
        finished: false,
    };
    Box::pin(
        futures_util::stream::unfold(state, move |mut st| async move {
            if st.done {
                return None;
            }
            let events = match st.bytes.next().await {
                Some(Ok(chunk)) => {
                    let payloads = st.parser.push(&chunk);
                    translate(payloads, parse, &mut st.finished, &mut st.done)
                }
                Some(Err(e)) => {
                    st.done = true;
                    vec![Err(Error::Upstream {
                        message: format!("the upstream stream broke: {e}"),
                        status: None,
                    })]
                }
                None => {
                    st.done = true;
                    let mut events =
                        translate(st.parser.finish(), parse, &mut st.finished, &mut st.done);
                    if !st.finished {
                        events.push(Err(Error::Upstream {
                            message: "the upstream stream ended before the answer was complete"
                                .into(),
                            status: None,
                        }));
                    }
                    events
                }
            };
            Some((futures_util::stream::iter(events), st))
        })
        .flatten(),
    )
}

fn parse_openai_chunk(data: &str) -> Vec<ChatEvent> {
    let Ok(v) = serde_json::from_str::<Value>(data) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Some(choice) = v.get("choices").and_then(|c| c.get(0)) {
        if let Some(delta) = choice.get("delta") {
            if let Some(text) = delta.get("content").and_then(Value::as_str) {
                if !text.is_empty() {
                    out.push(ChatEvent::Content(text.to_string()));
                }
            }
            if let Some(tc) = delta.get("tool_calls").filter(|t| !t.is_null()) {
                out.push(ChatEvent::ToolCalls(tc.clone()));
            }
        }
        if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
            out.push(ChatEvent::Finish(reason.to_string()));
        }
    }
    if let Some(u) = v.get("usage").filter(|u| !u.is_null()) {
        if let Ok(usage) = serde_json::from_value::<Usage>(u.clone()) {
            out.push(ChatEvent::Usage(usage));
        }
    }
    out
}

fn parse_workers_ai_chunk(data: &str) -> Vec<ChatEvent> {
    let Ok(v) = serde_json::from_str::<Value>(data) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Some(text) = v.get("response").and_then(Value::as_str) {
        if !text.is_empty() {
            out.push(ChatEvent::Content(text.to_string()));
        }
    }
    // Workers AI sends whole calls; as stream deltas each needs its index.
    if let Some(Value::Array(mut calls)) = v.get("tool_calls").and_then(openai_tool_calls) {
        for (i, call) in calls.iter_mut().enumerate() {
            call["index"] = json!(i);
        }
        out.push(ChatEvent::ToolCalls(Value::Array(calls)));
    }
    if let Some(u) = v.get("usage").filter(|u| !u.is_null()) {
        if let Ok(usage) = serde_json::from_value::<Usage>(u.clone()) {
            out.push(ChatEvent::Usage(usage));
        }
    }
    out
}
