//! The adapters' error type; converted once into the core's `Error`.

use thiserror::Error;

use crate::core::Error;

#[derive(Debug, Error)]
pub enum PlatformError {
    #[error("worker: {0}")]
    Worker(#[from] worker::Error),
    #[error("kv: {0}")]
    Kv(#[from] worker::kv::KvError),
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    #[error("js: {0}")]
    Js(String),
}

impl From<wasm_bindgen::JsValue> for PlatformError {
    fn from(v: wasm_bindgen::JsValue) -> Self {
        PlatformError::Js(
            v.as_string()
                .or_else(|| {
                    js_sys::Reflect::get(&v, &"message".into())
                        .ok()
                        .and_then(|m| m.as_string())
                })
                .unwrap_or_else(|| format!("{v:?}")),
        )
    }
}

impl From<PlatformError> for Error {
    fn from(e: PlatformError) -> Self {
        Error::Storage(e.to_string())
    }
}

pub fn storage<E: Into<PlatformError>>(e: E) -> Error {
    Error::from(e.into())
}
