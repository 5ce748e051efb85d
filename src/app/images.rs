//! Drawing: an image from Workers AI or the upstream's images API, kept in R2 under an
//! unguessable id and served by memgate.

use base64::Engine;
use serde_json::{json, Value};
use wasm_bindgen::JsCast;
use worker::web_sys::ReadableStream;
use worker::ByteStream;

use crate::app::App;
use crate::core::config::ChatProviderKind;
use crate::core::{Error, Result};
use crate::platform::crypto::random_hex;
use crate::platform::gateway_store::GatewayStore;
use crate::platform::http_client::{endpoint, post_json};
use crate::platform::workers_ai::AiBinding;

pub struct Image {
    pub id: String,
    pub bytes: Vec<u8>,
}

fn upstream(msg: impl Into<String>) -> Error {
    Error::Upstream {
        message: msg.into(),
        status: None,
    }
}

fn decode_b64(s: &str) -> Result<Vec<u8>> {
    base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .map_err(|e| upstream(format!("the image model returned invalid base64: {e}")))
}

impl App<'_> {
    async fn render(&self, prompt: &str, size: Option<&str>) -> Result<Vec<u8>> {
        let model = &self.config.drawing.model;
        match self.config.chat.provider {
            ChatProviderKind::WorkersAi => {
                let ai = AiBinding::from_env(&self.b.env)
                    .ok_or_else(|| upstream("the Workers AI binding (AI) is not configured"))?;
                let out = ai.run(model, &json!({"prompt": prompt})).await?;
                if let Some(rs) = out.dyn_ref::<ReadableStream>() {
                    let mut bytes = Vec::new();
                    let mut stream = ByteStream::from(rs.clone());
                    use futures_util::StreamExt;
                    while let Some(chunk) = stream.next().await {
                        bytes.extend(chunk.map_err(|e| upstream(e.to_string()))?);
                    }
                    return Ok(bytes);
                }
                let v: Value =
                    serde_wasm_bindgen::from_value(out).map_err(|e| upstream(e.to_string()))?;
                let b64 = v
                    .get("image")
                    .and_then(Value::as_str)
                    .ok_or_else(|| upstream("the image model returned no image"))?;
                decode_b64(b64)
            }
            ChatProviderKind::Openai => {
                let chat = &self.config.chat;
                let mut body = json!({"model": model, "prompt": prompt, "n": 1, "response_format": "b64_json"});
                if let Some(s) = size {
                    body["size"] = json!(s);
                }
                let mut resp = post_json(
                    &endpoint(
                        chat.base_url.as_deref().unwrap_or_default(),
                        "/images/generations",
                    ),
                    chat.api_key.as_deref(),
                    &body,
                    self.retry,
                )
                .await?;
                let status = resp.status_code();
                let text = resp.text().await.map_err(|e| upstream(e.to_string()))?;
                if !(200..300).contains(&status) {
                    return Err(Error::Upstream {
                        message: format!("the images upstream answered {status}"),
                        status: Some(status),
                    });
                }
                let v: Value = serde_json::from_str(&text).map_err(|e| upstream(e.to_string()))?;
                let item = v
                    .pointer("/data/0")
                    .ok_or_else(|| upstream("the images upstream returned no data"))?;
                if let Some(b64) = item.get("b64_json").and_then(Value::as_str) {
                    return decode_b64(b64);
                }
                let url = item
                    .get("url")
                    .and_then(Value::as_str)
                    .ok_or_else(|| upstream("no image in the answer"))?;
                let mut r =
                    worker::Fetch::Url(url.parse().map_err(|_| upstream("invalid image URL"))?)
                        .send()
                        .await
                        .map_err(|e| upstream(e.to_string()))?;
                r.bytes().await.map_err(|e| upstream(e.to_string()))
            }
        }
    }

    /// Draws, stores in R2 and records the image; returns its id.
    pub async fn draw(&self, owner: &str, prompt: &str, size: Option<&str>) -> Result<Image> {
        let bytes = self.render(prompt, size).await?;
        if bytes.is_empty() {
            return Err(upstream("the image model returned an empty image"));
        }
        let id = random_hex::<16>()?;
        let key = format!("images/{id}");
        self.b.blobs.put(&key, bytes.clone()).await?;
        GatewayStore::new(&self.b.db)
            .save_image(&id, owner, prompt, &key, self.now)
            .await?;
        Ok(Image { id, bytes })
    }
}

/// The MIME type of image bytes by their signature.
pub fn image_mime(bytes: &[u8]) -> &'static str {
    match bytes {
        [0x89, b'P', b'N', b'G', ..] => "image/png",
        [0xFF, 0xD8, ..] => "image/jpeg",
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => "image/webp",
        [b'G', b'I', b'F', ..] => "image/gif",
        _ => "application/octet-stream",
    }
}
