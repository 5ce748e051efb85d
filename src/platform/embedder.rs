//! Embedders: the built-in `hashing` model, Workers AI (bge-base-en-v1.5) and any
//! OpenAI-compatible `/v1/embeddings`. Model embeddings are cached in KV by model and text.

use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use worker::kv::KvStore;

use crate::core::config::{EmbeddingsConfig, EmbeddingsProviderKind, INDEX_DIMENSIONS};
use crate::core::embed::hashing_embed;
use crate::core::ports::Embedder;
use crate::core::text::truncate_utf8;
use crate::core::vector::{decode_f32s, encode_f32s};
use crate::core::{Error, Result};
use crate::platform::http_client::{endpoint, post_json, RetryPolicy};
use crate::platform::workers_ai::AiBinding;

/// Workers AI takes at most 100 texts a call.
const WORKERS_AI_BATCH: usize = 100;
/// ~512 tokens of English; longer input is cut rather than refused.
const MAX_EMBED_BYTES: usize = 2000;
const CACHE_TTL_SECS: u64 = 30 * 24 * 3600;

pub enum AnyEmbedder {
    Hashing,
    WorkersAi {
        ai: AiBinding,
        model: String,
        policy: RetryPolicy,
    },
    OpenAi {
        base_url: String,
        api_key: Option<String>,
        model: String,
        policy: RetryPolicy,
    },
}

impl AnyEmbedder {
    pub fn from_config(
        cfg: &EmbeddingsConfig,
        ai: Option<AiBinding>,
        default_model: &str,
        policy: RetryPolicy,
    ) -> Result<Self> {
        Ok(match cfg.provider {
            EmbeddingsProviderKind::Hashing => AnyEmbedder::Hashing,
            EmbeddingsProviderKind::WorkersAi => AnyEmbedder::WorkersAi {
                ai: ai.ok_or_else(|| Error::Upstream {
                    message: "the Workers AI binding (AI) is not configured; choose another embeddings provider".into(),
                    status: None,
                })?,
                model: cfg.model.clone().unwrap_or_else(|| default_model.to_string()),
                policy,
            },
            EmbeddingsProviderKind::Openai => AnyEmbedder::OpenAi {
                base_url: cfg.base_url.clone().unwrap_or_default(),
                api_key: cfg.api_key.clone(),
                model: cfg.model.clone().unwrap_or_default(),
                policy,
            },
        })
    }

    /// Embeds with the KV cache in front of model calls (the hashing model is cheaper than KV).
    pub async fn embed_cached(&self, kv: &KvStore, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        if matches!(self, AnyEmbedder::Hashing) {
            return self.embed(texts).await;
        }
        let model = self.model_id();
        let keys: Vec<String> = texts
            .iter()
            .map(|t| {
                format!(
                    "emb:{}:{}",
                    &hex::encode(Sha256::digest(model.as_bytes()))[..16],
                    hex::encode(Sha256::digest(t.as_bytes()))
                )
            })
            .collect();
        // One KV round trip for the lot, not one per text (a document has hundreds).
        let mut out: Vec<Option<Vec<f32>>> =
            futures_util::future::join_all(keys.iter().map(|k| async move {
                kv.get(k)
                    .text()
                    .await
                    .ok()
                    .flatten()
                    .and_then(|s| decode_f32s(&s))
                    .filter(|v| v.len() == INDEX_DIMENSIONS)
            }))
            .await;
        let missing: Vec<usize> = (0..texts.len()).filter(|i| out[*i].is_none()).collect();
        if !missing.is_empty() {
            let todo: Vec<String> = missing.iter().map(|i| texts[*i].clone()).collect();
            let fresh = self.embed(&todo).await?;
            let mut puts = Vec::with_capacity(missing.len());
            for (i, v) in missing.into_iter().zip(fresh) {
                if let Ok(put) = kv.put(&keys[i], encode_f32s(&v)) {
                    puts.push(put.expiration_ttl(CACHE_TTL_SECS).execute());
                }
                out[i] = Some(v);
            }
            let _ = futures_util::future::join_all(puts).await;
        }
        Ok(out.into_iter().map(|v| v.unwrap_or_default()).collect())
    }
}

#[derive(Deserialize)]
struct WorkersAiEmbeddings {
    data: Vec<Vec<f32>>,
}

#[derive(Deserialize)]
struct OpenAiEmbeddings {
    data: Vec<OpenAiEmbedding>,
}

#[derive(Deserialize)]
struct OpenAiEmbedding {
    index: usize,
    embedding: Vec<f32>,
}

fn check_dims(vectors: Vec<Vec<f32>>, expected: usize) -> Result<Vec<Vec<f32>>> {
    if vectors.len() != expected {
        return Err(Error::Upstream {
            message: format!(
                "the embeddings model returned {} vectors for {expected} texts",
                vectors.len()
            ),
            status: None,
        });
    }
    if let Some(v) = vectors.iter().find(|v| v.len() != INDEX_DIMENSIONS) {
        return Err(Error::Upstream {
            message: format!(
                "the embeddings model returned {} dimensions; the index needs {INDEX_DIMENSIONS}",
                v.len()
            ),
            status: None,
        });
    }
    Ok(vectors)
}

impl Embedder for AnyEmbedder {
    fn model_id(&self) -> String {
        match self {
            AnyEmbedder::Hashing => "hashing-768".into(),
            AnyEmbedder::WorkersAi { model, .. } => model.clone(),
            AnyEmbedder::OpenAi {
                base_url, model, ..
            } => format!("{base_url}#{model}"),
        }
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        match self {
            AnyEmbedder::Hashing => Ok(texts.iter().map(|t| hashing_embed(t)).collect()),
            AnyEmbedder::WorkersAi { ai, model, policy } => {
                let mut out = Vec::with_capacity(texts.len());
                for batch in texts.chunks(WORKERS_AI_BATCH) {
                    let input: Vec<&str> = batch
                        .iter()
                        .map(|t| truncate_utf8(t, MAX_EMBED_BYTES))
                        .collect();
                    let mut attempt = 0;
                    let value = loop {
                        match ai.run(model, &json!({"text": input})).await {
                            Ok(v) => break v,
                            Err(e) if attempt < policy.max_retries => {
                                worker::console_warn!("embedding retry {attempt}: {e}");
                                worker::Delay::from(policy.delay(attempt, None)).await;
                                attempt += 1;
                            }
                            Err(e) => return Err(e),
                        }
                    };
                    let parsed: WorkersAiEmbeddings = serde_wasm_bindgen::from_value(value)
                        .map_err(|e| Error::Upstream {
                            message: format!("unexpected Workers AI embeddings output: {e}"),
                            status: None,
                        })?;
                    out.extend(check_dims(parsed.data, batch.len())?);
                }
                Ok(out)
            }
            AnyEmbedder::OpenAi {
                base_url,
                api_key,
                model,
                policy,
            } => {
                let mut out = Vec::with_capacity(texts.len());
                for batch in texts.chunks(WORKERS_AI_BATCH) {
                    let input: Vec<&str> = batch
                        .iter()
                        .map(|t| truncate_utf8(t, MAX_EMBED_BYTES * 4))
                        .collect();
                    let mut resp = post_json(
                        &endpoint(base_url, "/embeddings"),
                        api_key.as_deref(),
                        &json!({"model": model, "input": input, "encoding_format": "float"}),
                        *policy,
                    )
                    .await?;
                    let status = resp.status_code();
                    if !(200..300).contains(&status) {
                        return Err(Error::Upstream {
                            message: format!("the embeddings upstream answered {status}"),
                            status: Some(status),
                        });
                    }
                    let mut parsed: OpenAiEmbeddings =
                        resp.json().await.map_err(|e| Error::Upstream {
                            message: format!("unexpected embeddings response: {e}"),
                            status: None,
                        })?;
                    parsed.data.sort_by_key(|d| d.index);
                    out.extend(check_dims(
                        parsed.data.into_iter().map(|d| d.embedding).collect(),
                        batch.len(),
                    )?);
                }
                Ok(out)
            }
        }
    }
}
