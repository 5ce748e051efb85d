//! Adapters from the core's needs to Cloudflare's bindings (D1, KV, R2, Vectorize,
//! Workers AI, fetch). Each adapter is small and hides one binding.

pub mod bindings;
pub mod blob_store;
pub mod chat;
pub mod cleanup_queue;
pub mod crypto;
pub mod d1;
pub mod document_store;
pub mod embedder;
pub mod error;
pub mod event_hub;
pub mod gateway_store;
pub mod http_client;
pub mod kv_settings;
pub mod maintenance;
pub mod memory_store;
pub mod rate_limit;
pub mod sse_out;
pub mod vector_d1;
pub mod vectorize;
pub mod workers_ai;

pub use bindings::Bindings;
