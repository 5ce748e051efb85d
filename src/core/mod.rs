//! The platform-free core: domain types, validation and algorithms. Nothing here may import
//! `worker`; everything here is tested natively with `cargo test`.

pub mod auth;
pub mod config;
pub mod error;
pub mod mcp;
pub mod memory;
pub mod openai;
pub mod ports;
pub mod time;
pub mod transfer;

pub use error::{Error, Result};
pub mod chunking;
pub mod embed;
pub mod extract;
pub mod routes;
pub mod search;
pub mod text;
pub mod timeparse;
pub mod vector;
