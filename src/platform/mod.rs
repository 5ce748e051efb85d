//! Adapters from the core's needs to Cloudflare's bindings (D1, KV, R2, Vectorize,
//! Workers AI, fetch). Each adapter is small and hides one binding.

pub mod bindings;
pub mod crypto;
pub mod d1;
pub mod error;
pub mod kv_settings;
pub mod maintenance;
pub mod memory_store;
pub mod rate_limit;

pub use bindings::Bindings;
