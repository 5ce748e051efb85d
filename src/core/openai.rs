//! OpenAI wire types for `/v1`: lenient requests (what real clients send), exact responses
//! (`chat.completion`, `chat.completion.chunk`, embeddings, images), and validation.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::core::error::{Error, Result};

pub const MAX_MESSAGES: usize = 2048;
pub const MAX_CHAT_BODY: usize = 4 * 1024 * 1024;

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ChatMessage {
    pub role: String,
    #[serde(default)]
    pub content: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
pub struct StreamOptions {
    #[serde(default)]
    pub include_usage: Option<bool>,
}

/// `POST /v1/chat/completions`. Unknown fields are accepted and ignored, as OpenAI's own
/// clients add fields over time; OpenAI's known parameters are passed on (`FORWARDED`).
#[derive(Debug, Clone, Deserialize)]
pub struct ChatRequest {
    #[serde(default)]
    pub model: Option<String>,
    pub messages: Vec<ChatMessage>,
    #[serde(default)]
    pub stream: Option<bool>,
    #[serde(default)]
    pub stream_options: Option<StreamOptions>,
    #[serde(default)]
    pub max_tokens: Option<Value>,
    #[serde(default)]
    pub max_completion_tokens: Option<Value>,
    #[serde(default)]
    pub temperature: Option<Value>,
    #[serde(default)]
    pub top_p: Option<Value>,
    #[serde(default)]
    pub n: Option<Value>,
    #[serde(default)]
    pub conversation_id: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A validated chat request.
#[derive(Debug, Clone)]
pub struct Chat {
    pub messages: Vec<ChatMessage>,
    pub stream: bool,
    pub include_usage: bool,
    pub max_tokens: Option<u32>,
    /// How the caller named the limit: OpenAI's reasoning models take only
    /// `max_completion_tokens`, older OpenAI-compatible servers only `max_tokens`.
    pub max_tokens_param: &'static str,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub conversation_id: Option<String>,
    /// Fields passed through to an OpenAI-compatible upstream (tools, stop, seed, user, ...).
    pub passthrough: Map<String, Value>,
}

const ROLES: [&str; 6] = [
    "system",
    "developer",
    "user",
    "assistant",
    "tool",
    "function",
];
/// Fields memgate handles itself and never forwards.
/// OpenAI's chat parameters that reach an OpenAI-compatible upstream as sent (model,
/// messages, stream and the token limit are set by memgate). Anything else is ignored, as a
/// strict upstream (OpenAI itself) refuses arguments it does not know; `top_k`, `min_p` and
/// `repetition_penalty` are the common extensions of vLLM, Ollama and llama.cpp servers.
const FORWARDED: [&str; 28] = [
    "audio",
    "frequency_penalty",
    "function_call",
    "functions",
    "logit_bias",
    "logprobs",
    "metadata",
    "min_p",
    "modalities",
    "parallel_tool_calls",
    "prediction",
    "presence_penalty",
    "prompt_cache_key",
    "reasoning_effort",
    "repetition_penalty",
    "response_format",
    "safety_identifier",
    "seed",
    "service_tier",
    "stop",
    "store",
    "tool_choice",
    "tools",
    "top_k",
    "top_logprobs",
    "user",
    "verbosity",
    "web_search_options",
];

fn number(v: &Option<Value>, param: &str, min: f64, max: f64) -> Result<Option<f64>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => {
            let x = n.as_f64().unwrap_or(f64::NAN);
            if (min..=max).contains(&x) {
                Ok(Some(x))
            } else {
                Err(Error::invalid_param(
                    param,
                    format!("{param} must be between {min} and {max}"),
                ))
            }
        }
        Some(_) => Err(Error::invalid_param(
            param,
            format!("{param} must be a number"),
        )),
    }
}

fn positive_int(v: &Option<Value>, param: &str) -> Result<Option<u32>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .filter(|x| (1..=1_000_000).contains(x))
            .map(|x| Some(x as u32))
            .ok_or_else(|| {
                Error::invalid_param(param, format!("{param} must be a positive integer"))
            }),
        Some(_) => Err(Error::invalid_param(
            param,
            format!("{param} must be an integer"),
        )),
    }
}

/// Tool calls in OpenAI's shape (`{id, type: "function", function: {name, arguments}}` with
/// `arguments` a JSON string), from either that shape or Workers AI's `{name, arguments}`
/// with `arguments` an object. Calls without a name are dropped; `None` if none is left.
pub fn openai_tool_calls(calls: &Value) -> Option<Value> {
    let out: Vec<Value> = calls
        .as_array()?
        .iter()
        .enumerate()
        .filter_map(|(i, call)| {
            let f = call.get("function").unwrap_or(call);
            let name = f.get("name")?.as_str()?;
            let arguments = match f.get("arguments") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => "{}".to_string(),
                Some(other) => other.to_string(),
            };
            let id = call
                .get("id")
                .and_then(Value::as_str)
                .map_or_else(|| format!("call_{i}"), str::to_string);
            Some(json!({"id": id, "type": "function", "function": {"name": name, "arguments": arguments}}))
        })
        .collect();
    (!out.is_empty()).then_some(Value::Array(out))
}

/// The text of a message's content: a string, or the text parts of an array of parts.
pub fn content_text(content: &Option<Value>) -> String {
    match content {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| match p {
                Value::String(s) => Some(s.as_str()),
                Value::Object(o) => o.get("text").and_then(Value::as_str),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

impl ChatRequest {
    pub fn validate(self) -> Result<Chat> {
        if self.messages.is_empty() {
            return Err(Error::invalid_param(
                "messages",
                "messages must not be empty",
            ));
        }
        if self.messages.len() > MAX_MESSAGES {
            return Err(Error::invalid_param(
                "messages",
                format!("at most {MAX_MESSAGES} messages"),
            ));
        }
        for (i, m) in self.messages.iter().enumerate() {
            if !ROLES.contains(&m.role.as_str()) {
                return Err(Error::invalid_param(
                    &format!("messages[{i}].role"),
                    format!(
                        "unknown role '{}': use system, developer, user, assistant or tool",
                        m.role
                    ),
                ));
            }
            match &m.content {
                None | Some(Value::Null) if m.role == "assistant" || m.role == "tool" => {}
                None | Some(Value::Null) => {
                    return Err(Error::invalid_param(
                        &format!("messages[{i}].content"),
                        "content is required",
                    ))
                }
                Some(Value::String(_)) => {}
                Some(Value::Array(parts)) => {
                    for p in parts {
                        let ok = match p {
                            Value::Object(o) => o.get("type").and_then(Value::as_str).is_some(),
                            Value::String(_) => true,
                            _ => false,
                        };
                        if !ok {
                            return Err(Error::invalid_param(
                                &format!("messages[{i}].content"),
                                "content parts must be objects with a 'type'",
                            ));
                        }
                    }
                }
                Some(_) => {
                    return Err(Error::invalid_param(
                        &format!("messages[{i}].content"),
                        "content must be a string or an array of parts",
                    ))
                }
            }
        }
        if let Some(n) = positive_int(&self.n, "n")? {
            if n != 1 {
                return Err(Error::invalid_param("n", "only n = 1 is supported"));
            }
        }
        let (max_tokens, max_tokens_param) =
            match positive_int(&self.max_completion_tokens, "max_completion_tokens")? {
                Some(x) => (Some(x), "max_completion_tokens"),
                None => (positive_int(&self.max_tokens, "max_tokens")?, "max_tokens"),
            };
        let temperature = number(&self.temperature, "temperature", 0.0, 2.0)?;
        let top_p = number(&self.top_p, "top_p", 0.0, 1.0)?;
        if let Some(id) = &self.conversation_id {
            validate_conversation_id(id)?;
        }
        let mut passthrough = self.extra;
        passthrough.retain(|k, _| FORWARDED.contains(&k.as_str()));
        Ok(Chat {
            messages: self.messages,
            stream: self.stream.unwrap_or(false),
            include_usage: self
                .stream_options
                .and_then(|o| o.include_usage)
                .unwrap_or(false),
            max_tokens,
            max_tokens_param,
            temperature,
            top_p,
            conversation_id: self.conversation_id,
            passthrough,
        })
    }
}

pub fn validate_conversation_id(id: &str) -> Result<()> {
    if id.is_empty()
        || id.len() > 128
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
    {
        return Err(Error::invalid_param(
            "conversation_id",
            "conversation_id must be 1-128 characters of letters, digits, '-', '_', '.', ':'",
        ));
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
}

impl Usage {
    pub fn new(prompt: u64, completion: u64) -> Self {
        Usage {
            prompt_tokens: prompt,
            completion_tokens: completion,
            total_tokens: prompt + completion,
        }
    }
}

/// A rough token count (about four characters a token) for upstreams that report none.
pub fn estimate_tokens(text: &str) -> u64 {
    (text.chars().count() as u64)
        .div_ceil(4)
        .max(u64::from(!text.is_empty()))
}

pub fn estimate_prompt_tokens(messages: &[ChatMessage]) -> u64 {
    messages
        .iter()
        .map(|m| 4 + estimate_tokens(&content_text(&m.content)))
        .sum::<u64>()
        + 2
}

/// A `chat.completion` object.
pub fn completion(
    id: &str,
    created: u64,
    model: &str,
    message: Value,
    finish_reason: &str,
    usage: Usage,
) -> Value {
    json!({
        "id": id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish_reason}],
        "usage": usage,
        "system_fingerprint": null,
    })
}

/// A `chat.completion.chunk` with one choice.
pub fn chunk(
    id: &str,
    created: u64,
    model: &str,
    delta: Value,
    finish_reason: Option<&str>,
) -> Value {
    json!({
        "id": id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "system_fingerprint": null,
        "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish_reason}],
    })
}

/// The final usage chunk (`stream_options.include_usage`): no choices.
pub fn usage_chunk(id: &str, created: u64, model: &str, usage: Usage) -> Value {
    json!({
        "id": id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "system_fingerprint": null,
        "choices": [],
        "usage": usage,
    })
}

pub fn sse_data(v: &Value) -> String {
    format!("data: {v}\n\n")
}

pub const SSE_DONE: &str = "data: [DONE]\n\n";

/// An incremental parser of `text/event-stream`: feed bytes, get the `data:` payloads.
#[derive(Default)]
pub struct SseParser {
    buf: Vec<u8>,
    data: Vec<String>,
}

impl SseParser {
    pub fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        self.buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        while let Some(pos) = self.buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.buf.drain(..=pos).collect();
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\n', '\r']);
            if line.is_empty() {
                if !self.data.is_empty() {
                    out.push(self.data.join("\n"));
                    self.data.clear();
                }
            } else if let Some(rest) = line.strip_prefix("data:") {
                self.data
                    .push(rest.strip_prefix(' ').unwrap_or(rest).to_string());
            }
        }
        out
    }

    /// Whatever complete event remains when the stream ends without a blank line.
    pub fn finish(&mut self) -> Option<String> {
        let rest = String::from_utf8_lossy(&std::mem::take(&mut self.buf)).to_string();
        if let Some(d) = rest.trim_end().strip_prefix("data:") {
            self.data.push(d.trim_start().to_string());
        }
        (!self.data.is_empty()).then(|| std::mem::take(&mut self.data).join("\n"))
    }
}

/// `POST /v1/embeddings`.
#[derive(Debug, Clone, Deserialize)]
pub struct EmbeddingsRequest {
    pub input: Value,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub encoding_format: Option<String>,
    #[serde(default)]
    pub dimensions: Option<Value>,
    #[serde(default)]
    pub user: Option<String>,
}

pub const MAX_EMBEDDING_INPUTS: usize = 2048;

impl EmbeddingsRequest {
    /// The texts to embed and whether the answer is base64.
    pub fn validate(&self, index_dims: usize) -> Result<(Vec<String>, bool)> {
        let texts = match &self.input {
            Value::String(s) => vec![s.clone()],
            Value::Array(items) if items.is_empty() => {
                return Err(Error::invalid_param("input", "input must not be empty"))
            }
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for it in items {
                    match it {
                        Value::String(s) => out.push(s.clone()),
                        Value::Number(_) | Value::Array(_) => {
                            return Err(Error::invalid_param(
                                "input",
                                "token arrays are not supported: send the input as text",
                            ))
                        }
                        _ => {
                            return Err(Error::invalid_param(
                                "input",
                                "input must be a string or an array of strings",
                            ))
                        }
                    }
                }
                out
            }
            _ => {
                return Err(Error::invalid_param(
                    "input",
                    "input must be a string or an array of strings",
                ))
            }
        };
        if texts.len() > MAX_EMBEDDING_INPUTS {
            return Err(Error::invalid_param(
                "input",
                format!("at most {MAX_EMBEDDING_INPUTS} inputs"),
            ));
        }
        if texts.iter().any(|t| t.is_empty()) {
            return Err(Error::invalid_param(
                "input",
                "inputs must not be empty strings",
            ));
        }
        if texts.iter().map(String::len).sum::<usize>() > 8 * 1024 * 1024 {
            return Err(Error::PayloadTooLarge(
                "the inputs add up to more than 8 MiB".into(),
            ));
        }
        let base64 = match self.encoding_format.as_deref() {
            None | Some("float") => false,
            Some("base64") => true,
            Some(other) => {
                return Err(Error::invalid_param(
                    "encoding_format",
                    format!("encoding_format must be 'float' or 'base64', not '{other}'"),
                ))
            }
        };
        match &self.dimensions {
            None | Some(Value::Null) => {}
            Some(Value::Number(n)) if n.as_u64() == Some(index_dims as u64) => {}
            Some(_) => {
                return Err(Error::invalid_param(
                    "dimensions",
                    format!("this model produces {index_dims} dimensions"),
                ))
            }
        }
        Ok((texts, base64))
    }
}

/// Little-endian f32 bytes in base64, as OpenAI's `encoding_format: base64`.
pub fn embedding_base64(v: &[f32]) -> String {
    use base64::Engine;
    let mut bytes = Vec::with_capacity(v.len() * 4);
    for x in v {
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// `POST /v1/images/generations`.
#[derive(Debug, Clone, Deserialize)]
pub struct ImageRequest {
    pub prompt: Value,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub n: Option<Value>,
    #[serde(default)]
    pub size: Option<String>,
    #[serde(default)]
    pub response_format: Option<String>,
    #[serde(default)]
    pub quality: Option<String>,
    #[serde(default)]
    pub style: Option<String>,
    #[serde(default)]
    pub user: Option<String>,
}

pub struct ImageParams {
    pub prompt: String,
    pub n: u32,
    pub b64_json: bool,
    pub size: Option<String>,
}

impl ImageRequest {
    pub fn validate(&self) -> Result<ImageParams> {
        let prompt = match &self.prompt {
            Value::String(s) if !s.trim().is_empty() => s.trim().to_string(),
            _ => {
                return Err(Error::invalid_param(
                    "prompt",
                    "prompt must be a non-empty string",
                ))
            }
        };
        if prompt.chars().count() > 4000 {
            return Err(Error::invalid_param(
                "prompt",
                "prompt is longer than 4000 characters",
            ));
        }
        let n = positive_int(&self.n, "n")?.unwrap_or(1);
        if n > 4 {
            return Err(Error::invalid_param("n", "n must be between 1 and 4"));
        }
        let b64_json = match self.response_format.as_deref() {
            None | Some("url") => false,
            Some("b64_json") => true,
            Some(other) => {
                return Err(Error::invalid_param(
                    "response_format",
                    format!("response_format must be 'url' or 'b64_json', not '{other}'"),
                ))
            }
        };
        if let Some(s) = &self.size {
            let ok = s.split_once('x').is_some_and(|(w, h)| {
                w.parse::<u32>().is_ok_and(|w| (64..=2048).contains(&w))
                    && h.parse::<u32>().is_ok_and(|h| (64..=2048).contains(&h))
            });
            if !ok && s != "auto" {
                return Err(Error::invalid_param(
                    "size",
                    "size must look like 1024x1024",
                ));
            }
        }
        Ok(ImageParams {
            prompt,
            n,
            b64_json,
            size: self.size.clone(),
        })
    }
}

/// If the last user message starts with a drawing trigger, the prompt after it.
pub fn drawing_prompt(messages: &[ChatMessage], triggers: &[String]) -> Option<String> {
    let last = messages.iter().rev().find(|m| m.role == "user")?;
    if !std::ptr::eq(last, messages.last()?) {
        return None;
    }
    let text = content_text(&last.content);
    let text = text.trim_start();
    for t in triggers {
        if let Some(rest) = text.strip_prefix(t.as_str()) {
            let prompt = rest.trim_start_matches([':', '：', ' ', '\u{3000}']).trim();
            if !prompt.is_empty() {
                return Some(prompt.to_string());
            }
        }
    }
    None
}

/// The system context memgate adds: the configured prompt and the retrieved memories.
pub fn memory_context(
    system_prompt: &str,
    memories: &[(String, String)],
    max_chars: usize,
) -> String {
    let mut out = String::from(system_prompt.trim());
    if memories.is_empty() {
        return out;
    }
    out.push_str("\n\nRelevant memories of this user (most relevant first):");
    let mut used = out.len();
    for (i, (_, text)) in memories.iter().enumerate() {
        let room = max_chars.saturating_sub(used);
        if room < 40 {
            break;
        }
        let clipped = crate::core::text::truncate_utf8(text.trim(), room.min(4000));
        let line = format!("\n[{}] {}", i + 1, clipped);
        used += line.len();
        out.push_str(&line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(v: Value) -> Result<Chat> {
        serde_json::from_value::<ChatRequest>(v)
            .map_err(Error::from)?
            .validate()
    }

    #[test]
    fn accepts_what_clients_send() {
        let c = req(json!({
            "model": "x", "messages": [
                {"role": "developer", "content": "be brief"},
                {"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "image_url", "image_url": {"url": "data:x"}}]},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "1", "content": "42"}
            ],
            "max_completion_tokens": 50, "temperature": 0.2, "tools": [], "seed": 1, "user": "u", "unknown_field": true,
            "stream": true, "stream_options": {"include_usage": true}
        }))
        .unwrap();
        assert_eq!(c.max_tokens, Some(50));
        assert_eq!(c.max_tokens_param, "max_completion_tokens");
        assert!(c.stream && c.include_usage);
        assert!(c.passthrough.contains_key("tools") && c.passthrough.contains_key("seed"));
        assert!(!c.passthrough.contains_key("unknown_field"));
        assert!(!c.passthrough.contains_key("model"));
        assert_eq!(content_text(&c.messages[1].content), "hi");
    }

    #[test]
    fn tool_calls_take_openais_shape() {
        let workers_ai =
            json!([{"name": "get_weather", "arguments": {"city": "Oslo"}}, {"arguments": {}}]);
        assert_eq!(
            openai_tool_calls(&workers_ai),
            Some(
                json!([{"id": "call_0", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Oslo\"}"}}])
            )
        );
        let openai =
            json!([{"id": "c9", "type": "function", "function": {"name": "f", "arguments": "{}"}}]);
        assert_eq!(openai_tool_calls(&openai), Some(openai.clone()));
        assert_eq!(openai_tool_calls(&json!([])), None);
        assert_eq!(openai_tool_calls(&json!("x")), None);
    }

    #[test]
    fn refuses_bad_chat() {
        for bad in [
            json!({"messages": []}),
            json!({"messages": [{"role": "wizard", "content": "x"}]}),
            json!({"messages": [{"role": "user"}]}),
            json!({"messages": [{"role": "user", "content": 5}]}),
            json!({"messages": [{"role": "user", "content": "x"}], "temperature": 3}),
            json!({"messages": [{"role": "user", "content": "x"}], "max_tokens": 0}),
            json!({"messages": [{"role": "user", "content": "x"}], "n": 2}),
            json!({"messages": [{"role": "user", "content": "x"}], "conversation_id": "a b"}),
        ] {
            assert!(req(bad.clone()).is_err(), "{bad}");
        }
        assert!(serde_json::from_value::<ChatRequest>(json!({"model": "x"})).is_err());
    }

    #[test]
    fn parses_sse_across_chunks() {
        let mut p = SseParser::default();
        assert!(p.push(b"data: {\"a\"").is_empty());
        assert_eq!(
            p.push(b":1}\n\ndata: [DONE]\r\n\r\n"),
            vec!["{\"a\":1}", "[DONE]"]
        );
        assert!(p.push(b": comment\n\n").is_empty());
        p.push(b"data: tail");
        assert_eq!(p.finish().as_deref(), Some("tail"));
    }

    #[test]
    fn embeddings_input_rules() {
        let ok: EmbeddingsRequest =
            serde_json::from_value(json!({"input": ["a", "b"], "encoding_format": "base64"}))
                .unwrap();
        assert_eq!(
            ok.validate(768).unwrap(),
            (vec!["a".to_string(), "b".to_string()], true)
        );
        for bad in [
            json!({"input": [1, 2]}),
            json!({"input": [[1]]}),
            json!({"input": []}),
            json!({"input": "x", "encoding_format": "hex"}),
            json!({"input": 3}),
        ] {
            let r: EmbeddingsRequest = serde_json::from_value(bad.clone()).unwrap();
            assert!(r.validate(768).is_err(), "{bad}");
        }
        assert_eq!(embedding_base64(&[1.0]), "AACAPw==");
    }

    #[test]
    fn detects_drawing() {
        let msgs = |t: &str| {
            vec![ChatMessage {
                role: "user".into(),
                content: Some(json!(t)),
                name: None,
                tool_calls: None,
                tool_call_id: None,
            }]
        };
        let triggers = vec!["画".to_string(), "/draw".to_string()];
        assert_eq!(
            drawing_prompt(&msgs("/draw a red fox"), &triggers).as_deref(),
            Some("a red fox")
        );
        assert_eq!(
            drawing_prompt(&msgs("画一只猫"), &triggers).as_deref(),
            Some("一只猫")
        );
        assert_eq!(drawing_prompt(&msgs("please /draw x"), &triggers), None);
        assert_eq!(drawing_prompt(&msgs("/draw"), &triggers), None);
    }

    #[test]
    fn builds_context() {
        let ctx = memory_context(
            "sys",
            &[("h".into(), "alpha".into()), ("i".into(), "beta".into())],
            1000,
        );
        assert!(ctx.starts_with("sys") && ctx.contains("[1] alpha") && ctx.contains("[2] beta"));
        assert_eq!(memory_context("sys", &[], 1000), "sys");
    }
}
