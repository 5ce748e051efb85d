//! The small traits the adapters implement: what the application needs from a vector index,
//! an embedder and a chat model, independent of Vectorize, D1, Workers AI or an HTTP
//! upstream. Local
//! stand-ins and production adapters implement the same traits.

use std::pin::Pin;

use futures_util::Stream;
use serde_json::Value;

use crate::core::openai::{Chat, ChatMessage, Usage};
use crate::core::Result;

/// A vector to index for one memory.
#[derive(Debug, Clone)]
pub struct VectorEntry {
    pub memory_id: i64,
    /// Globally unique id (at most 64 bytes) derived from owner and content hash.
    pub vector_id: String,
    pub values: Vec<f32>,
    pub memory_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VectorHit {
    pub memory_id: i64,
    /// Cosine similarity, higher is closer.
    pub score: f64,
}

/// An index of one vector per memory, partitioned by owner.
#[allow(async_fn_in_trait)]
pub trait VectorIndex {
    async fn upsert(&self, owner: &str, entries: &[VectorEntry]) -> Result<()>;
    /// The `top_k` nearest memories of `owner`, best first.
    async fn query(&self, owner: &str, vector: &[f32], top_k: usize) -> Result<Vec<VectorHit>>;
    /// Exact similarity of the given memories to `vector` (those without a vector are omitted).
    async fn similarity(
        &self,
        owner: &str,
        vector: &[f32],
        memory_ids: &[i64],
    ) -> Result<Vec<VectorHit>>;
    async fn delete(&self, owner: &str, entries: &[(i64, String)]) -> Result<()>;
}

/// Text to vectors.
#[allow(async_fn_in_trait)]
pub trait Embedder {
    /// A stable name of the model, part of the embedding cache key.
    fn model_id(&self) -> String;
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>>;
}

/// What a chat provider produces, streaming or not.
#[derive(Debug, Clone)]
pub enum ChatEvent {
    Content(String),
    /// Tool-call deltas, passed through as the upstream sent them.
    ToolCalls(Value),
    Finish(String),
    Usage(Usage),
}

pub type ChatEventStream = Pin<Box<dyn Stream<Item = Result<ChatEvent>>>>;

/// A non-streaming answer.
pub struct Completion {
    pub content: Option<String>,
    pub tool_calls: Option<Value>,
    pub finish_reason: String,
    pub usage: Option<Usage>,
}

/// A chat model: Workers AI or an OpenAI-compatible upstream, one shape for both.
#[allow(async_fn_in_trait)]
pub trait ChatProvider {
    /// The provider's own name for its model, which no answer of memgate's shows.
    fn upstream_model(&self) -> &str;
    async fn complete(&self, chat: &Chat, messages: &[ChatMessage]) -> Result<Completion>;
    /// Starts a streaming answer; retries happen here, before the first byte.
    async fn stream(&self, chat: &Chat, messages: &[ChatMessage]) -> Result<ChatEventStream>;
}

/// The id a memory's vector has in the index: unique across owners, at most 64 bytes
/// (Vectorize's limit), stable so that re-indexing overwrites.
pub fn vector_id(owner: &str, content_hash: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(owner.as_bytes());
    h.update([0u8]);
    h.update(content_hash.as_bytes());
    hex::encode(h.finalize())
}

/// The Vectorize namespace of an owner (namespaces are at most 64 bytes).
pub fn owner_namespace(owner: &str) -> String {
    use sha2::{Digest, Sha256};
    format!("o-{}", &hex::encode(Sha256::digest(owner.as_bytes()))[..32])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_fit_vectorize_limits_and_differ_by_owner() {
        let a = vector_id("alice", "abc");
        let b = vector_id("bob", "abc");
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert!(owner_namespace("x".repeat(500).as_str()).len() <= 64);
    }
}
