//! Runtime configuration kept in KV: providers, prompts, retrieval and drawing settings.
//! Validation lives here so that init and every later update obey the same rules.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::core::error::{Error, Result};

/// Vectors in the index have this many dimensions; an embedder must match it.
pub const INDEX_DIMENSIONS: usize = 768;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChatProviderKind {
    WorkersAi,
    Openai,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EmbeddingsProviderKind {
    WorkersAi,
    Openai,
    Hashing,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ChatConfig {
    pub provider: ChatProviderKind,
    #[serde(default)]
    pub base_url: Option<String>,
    #[serde(default)]
    pub api_key: Option<String>,
    pub model: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EmbeddingsConfig {
    pub provider: EmbeddingsProviderKind,
    #[serde(default)]
    pub base_url: Option<String>,
    #[serde(default)]
    pub api_key: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    /// Dimensions the model produces; must equal the index's.
    #[serde(default)]
    pub dimensions: Option<usize>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DrawingConfig {
    pub enabled: bool,
    pub triggers: Vec<String>,
    /// Image model: a Workers AI model id, or the upstream's images model.
    pub model: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RagConfig {
    pub enabled: bool,
    pub top_k: u32,
    pub min_score: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub chat: ChatConfig,
    pub embeddings: EmbeddingsConfig,
    pub public_model_name: String,
    pub system_prompt: String,
    pub max_conversations: u32,
    /// Conversations untouched for this many days are pruned by the scheduled handler.
    pub conversation_ttl_days: u32,
    pub drawing: DrawingConfig,
    pub rag: RagConfig,
}

/// Defaults that differ between production (Workers AI) and a local run.
#[derive(Debug, Clone)]
pub struct Defaults {
    pub chat_provider: ChatProviderKind,
    pub chat_model: String,
    /// Where an OpenAI-compatible chat upstream listens, if that is the default provider.
    pub chat_base_url: Option<String>,
    pub embeddings_provider: EmbeddingsProviderKind,
    pub image_model: String,
}

pub const DEFAULT_SYSTEM_PROMPT: &str = "You are a helpful assistant. Use the user's memories below when they are relevant, and say so when you do.";

impl Config {
    pub fn with_defaults(d: &Defaults) -> Self {
        Config {
            chat: ChatConfig {
                provider: d.chat_provider,
                base_url: d.chat_base_url.clone(),
                api_key: None,
                model: d.chat_model.clone(),
            },
            embeddings: EmbeddingsConfig {
                provider: d.embeddings_provider,
                base_url: None,
                api_key: None,
                model: None,
                dimensions: None,
            },
            public_model_name: "memgate".into(),
            system_prompt: DEFAULT_SYSTEM_PROMPT.into(),
            max_conversations: 100,
            conversation_ttl_days: 30,
            drawing: DrawingConfig {
                enabled: true,
                triggers: vec!["画".into(), "/draw".into()],
                model: d.image_model.clone(),
            },
            rag: RagConfig {
                enabled: true,
                top_k: 5,
                min_score: 0.0,
            },
        }
    }

    pub fn validate(&self) -> Result<()> {
        validate_provider_url(
            "chat.base_url",
            self.chat.base_url.as_deref(),
            self.chat.provider == ChatProviderKind::Openai,
        )?;
        if self.chat.model.trim().is_empty() || self.chat.model.len() > 200 {
            return Err(Error::invalid_param(
                "chat.model",
                "chat.model must be 1-200 characters",
            ));
        }
        validate_provider_url(
            "embeddings.base_url",
            self.embeddings.base_url.as_deref(),
            self.embeddings.provider == EmbeddingsProviderKind::Openai,
        )?;
        if self.embeddings.provider == EmbeddingsProviderKind::Openai
            && self.embeddings.model.as_deref().unwrap_or("").is_empty()
        {
            return Err(Error::invalid_param(
                "embeddings.model",
                "an openai embeddings provider needs a model",
            ));
        }
        if let Some(dims) = self.embeddings.dimensions {
            if dims != INDEX_DIMENSIONS {
                return Err(Error::invalid_param(
                    "embeddings.dimensions",
                    format!(
                        "the embeddings model produces {dims} dimensions but the vector index holds {INDEX_DIMENSIONS}; choose a {INDEX_DIMENSIONS}-dimension model"
                    ),
                ));
            }
        }
        if self.embeddings.provider == EmbeddingsProviderKind::WorkersAi {
            if let Some(model) = &self.embeddings.model {
                if !WORKERS_AI_768_MODELS.contains(&model.as_str()) {
                    return Err(Error::invalid_param(
                        "embeddings.model",
                        format!(
                            "{model} does not produce {INDEX_DIMENSIONS}-dimension vectors; use one of {}",
                            WORKERS_AI_768_MODELS.join(", ")
                        ),
                    ));
                }
            }
        }
        let name = self.public_model_name.trim();
        if name.is_empty() || name.len() > 100 || name.contains(char::is_whitespace) {
            return Err(Error::invalid_param(
                "public_model_name",
                "public_model_name must be 1-100 characters without spaces",
            ));
        }
        if self.system_prompt.len() > 32 * 1024 {
            return Err(Error::invalid_param(
                "system_prompt",
                "system_prompt is longer than 32 KiB",
            ));
        }
        if !(1..=10_000).contains(&self.max_conversations) {
            return Err(Error::invalid_param(
                "max_conversations",
                "max_conversations must be between 1 and 10000",
            ));
        }
        if !(1..=3650).contains(&self.conversation_ttl_days) {
            return Err(Error::invalid_param(
                "conversation_ttl_days",
                "conversation_ttl_days must be between 1 and 3650",
            ));
        }
        if self.drawing.triggers.is_empty()
            || self.drawing.triggers.len() > 20
            || self
                .drawing
                .triggers
                .iter()
                .any(|t| t.trim().is_empty() || t.len() > 32)
        {
            return Err(Error::invalid_param(
                "drawing.triggers",
                "drawing.triggers must hold 1-20 non-empty words of at most 32 bytes",
            ));
        }
        if !(1..=50).contains(&self.rag.top_k) {
            return Err(Error::invalid_param(
                "rag.top_k",
                "rag.top_k must be between 1 and 50",
            ));
        }
        if !(0.0..=1.0).contains(&self.rag.min_score) {
            return Err(Error::invalid_param(
                "rag.min_score",
                "rag.min_score must be between 0 and 1",
            ));
        }
        Ok(())
    }

    /// The configuration as `GET /admin/config` shows it: secrets replaced by a marker.
    pub fn redacted(&self) -> Value {
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        for section in ["chat", "embeddings"] {
            if let Some(key) = v.get_mut(section).and_then(|s| s.get_mut("api_key")) {
                if !key.is_null() {
                    *key = Value::String(REDACTED.into());
                }
            }
        }
        v
    }

    /// Applies a partial update (JSON merge patch, RFC 7396) and validates the result.
    /// A redacted secret sent back unchanged keeps the stored secret.
    pub fn patched(&self, patch: &Value) -> Result<Config> {
        if !patch.is_object() {
            return Err(Error::invalid("the config update must be a JSON object"));
        }
        let mut current = serde_json::to_value(self).map_err(|e| Error::Internal(e.to_string()))?;
        merge_patch(&mut current, patch);
        for section in ["chat", "embeddings"] {
            let sent = current
                .get(section)
                .and_then(|s| s.get("api_key"))
                .and_then(Value::as_str)
                == Some(REDACTED);
            if sent {
                let old = serde_json::to_value(self)
                    .ok()
                    .and_then(|v| v.get(section).and_then(|s| s.get("api_key")).cloned())
                    .unwrap_or(Value::Null);
                if let Some(s) = current.get_mut(section) {
                    s["api_key"] = old;
                }
            }
        }
        let next: Config = serde_json::from_value(current)
            .map_err(|e| Error::invalid(format!("invalid config: {e}")))?;
        next.validate()?;
        Ok(next)
    }
}

pub const REDACTED: &str = "********";

/// Workers AI embedding models that produce 768-dimension vectors.
pub const WORKERS_AI_768_MODELS: [&str; 2] = ["@cf/baai/bge-base-en-v1.5", "@cf/baai/bge-m3-768"];

fn validate_provider_url(param: &str, url: Option<&str>, required: bool) -> Result<()> {
    match url {
        None if required => Err(Error::invalid_param(
            param,
            format!("{param} is required for an openai provider"),
        )),
        None => Ok(()),
        Some(u) if u.starts_with("http://") || u.starts_with("https://") => {
            if u.len() > 2048 {
                Err(Error::invalid_param(param, format!("{param} is too long")))
            } else {
                Ok(())
            }
        }
        Some(_) => Err(Error::invalid_param(
            param,
            format!("{param} must be an http(s) URL"),
        )),
    }
}

fn merge_patch(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

/// `POST /admin/init` body.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InitRequest {
    pub admin_password: String,
    #[serde(default)]
    pub chat: Option<ChatConfig>,
    #[serde(default)]
    pub embeddings: Option<EmbeddingsConfig>,
    #[serde(default)]
    pub public_model_name: Option<String>,
    #[serde(default)]
    pub system_prompt: Option<String>,
}

pub const MIN_PASSWORD_CHARS: usize = 8;

pub fn validate_password(p: &str) -> Result<()> {
    let n = p.chars().count();
    if n < MIN_PASSWORD_CHARS || p.len() > 256 {
        return Err(Error::invalid_param(
            "admin_password",
            format!("the admin password must be {MIN_PASSWORD_CHARS} to 256 characters"),
        ));
    }
    Ok(())
}

impl InitRequest {
    pub fn into_config(self, defaults: &Defaults) -> Result<(String, Config)> {
        validate_password(&self.admin_password)?;
        let mut cfg = Config::with_defaults(defaults);
        if let Some(chat) = self.chat {
            cfg.chat = chat;
        }
        if let Some(emb) = self.embeddings {
            cfg.embeddings = emb;
        }
        if let Some(n) = self.public_model_name {
            cfg.public_model_name = n;
        }
        if let Some(p) = self.system_prompt {
            cfg.system_prompt = p;
        }
        cfg.validate()?;
        Ok((self.admin_password, cfg))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn defaults() -> Defaults {
        Defaults {
            chat_provider: ChatProviderKind::WorkersAi,
            chat_model: "@cf/meta/llama-3.1-8b-instruct".into(),
            chat_base_url: None,
            embeddings_provider: EmbeddingsProviderKind::Hashing,
            image_model: "@cf/black-forest-labs/flux-1-schnell".into(),
        }
    }

    #[test]
    fn defaults_are_valid() {
        Config::with_defaults(&defaults()).validate().unwrap();
    }

    #[test]
    fn redacts_and_keeps_secrets() {
        let mut cfg = Config::with_defaults(&defaults());
        cfg.chat = ChatConfig {
            provider: ChatProviderKind::Openai,
            base_url: Some("http://127.0.0.1:9/v1".into()),
            api_key: Some("secret-upstream".into()),
            model: "gpt-x".into(),
        };
        let shown = cfg.redacted();
        assert!(!shown.to_string().contains("secret-upstream"));
        let next = cfg.patched(&shown).unwrap();
        assert_eq!(next.chat.api_key.as_deref(), Some("secret-upstream"));
        let changed = cfg.patched(&json!({"rag": {"top_k": 9}})).unwrap();
        assert_eq!(changed.rag.top_k, 9);
        assert_eq!(changed.chat, cfg.chat);
    }

    #[test]
    fn refuses_mismatched_dimensions() {
        let cfg = Config::with_defaults(&defaults());
        let err = cfg
            .patched(&json!({"embeddings": {"provider": "openai", "base_url": "http://x/v1", "model": "m", "dimensions": 1536}}))
            .unwrap_err();
        assert!(err.to_string().contains("1536"));
        assert!(cfg.patched(&json!({"rag": {"top_k": 0}})).is_err());
        assert!(cfg.patched(&json!({"bogus": 1})).is_err());
    }
}
