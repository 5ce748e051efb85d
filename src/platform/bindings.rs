//! The Worker's environment, resolved once per request.

use worker::kv::KvStore;
use worker::{D1Database, Env};

use crate::core::config::{ChatProviderKind, Defaults, EmbeddingsProviderKind};
use crate::core::memory::LARGE_CONTENT_THRESHOLD;
use crate::core::Result;
use crate::platform::blob_store::BlobStore;
use crate::platform::error::storage;

pub struct Bindings {
    pub env: Env,
    pub db: D1Database,
    pub kv: KvStore,
    pub blobs: BlobStore,
}

impl Bindings {
    pub fn new(env: Env) -> Result<Self> {
        Ok(Bindings {
            db: env.d1("DB").map_err(storage)?,
            kv: env.kv("KV").map_err(storage)?,
            blobs: BlobStore::new(
                env.bucket("BLOBS").map_err(storage)?,
                env.var("R2_TIMEOUT_MS")
                    .ok()
                    .and_then(|v| v.to_string().parse().ok())
                    .unwrap_or(30_000),
                env.var("LARGE_CONTENT_THRESHOLD")
                    .ok()
                    .and_then(|v| v.to_string().parse().ok())
                    .unwrap_or(LARGE_CONTENT_THRESHOLD),
            ),
            env,
        })
    }

    /// A plain-text variable from `wrangler.toml`, if set.
    pub fn var(&self, name: &str) -> Option<String> {
        self.env.var(name).ok().map(|v| v.to_string())
    }

    pub fn var_or(&self, name: &str, default: &str) -> String {
        self.var(name)
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| default.to_string())
    }

    /// Defaults for a fresh configuration, from vars: production uses Workers AI, the local
    /// environment the built-in embedder and an OpenAI-compatible upstream.
    pub fn config_defaults(&self) -> Defaults {
        let chat_provider = match self.var("DEFAULT_CHAT_PROVIDER").as_deref() {
            Some("openai") => ChatProviderKind::Openai,
            _ => ChatProviderKind::WorkersAi,
        };
        let embeddings_provider = match self.var("DEFAULT_EMBEDDINGS_PROVIDER").as_deref() {
            Some("hashing") => EmbeddingsProviderKind::Hashing,
            Some("openai") => EmbeddingsProviderKind::Openai,
            _ => EmbeddingsProviderKind::WorkersAi,
        };
        Defaults {
            chat_provider,
            chat_model: self.var_or("CHAT_MODEL", "@cf/meta/llama-3.1-8b-instruct"),
            chat_base_url: self.var("CHAT_BASE_URL").filter(|u| !u.is_empty()),
            embeddings_provider,
            image_model: self.var_or("IMAGE_MODEL", "@cf/black-forest-labs/flux-1-schnell"),
        }
    }
}
