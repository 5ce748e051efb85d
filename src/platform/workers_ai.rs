//! The Workers AI binding, reached through its JS `run` method. Declaring our own extern
//! type (instead of `worker::Ai`) lets the same code call the real binding in production and
//! a JS RPC stand-in in tests (`Env::ai` insists on a constructor named `Ai`).

use serde::Serialize;
use wasm_bindgen::prelude::*;
use worker::Env;

use crate::core::{Error, Result};

#[wasm_bindgen]
extern "C" {
    #[derive(Clone)]
    pub type AiBinding;

    #[wasm_bindgen(method, catch, js_name = run)]
    async fn run_js(
        this: &AiBinding,
        model: &str,
        inputs: JsValue,
    ) -> std::result::Result<JsValue, JsValue>;
}

impl AiBinding {
    pub fn from_env(env: &Env) -> Option<AiBinding> {
        let v = js_sys::Reflect::get(env.as_ref(), &"AI".into()).ok()?;
        (!v.is_undefined() && !v.is_null()).then(|| v.unchecked_into())
    }

    /// Runs a model; inputs are passed as a plain JS object (maps become objects).
    pub async fn run<T: Serialize>(&self, model: &str, inputs: &T) -> Result<JsValue> {
        let inputs = to_js(inputs)?;
        self.run_js(model, inputs)
            .await
            .map_err(|e| Error::Upstream {
                message: format!("Workers AI {model} failed: {}", js_message(&e)),
                status: None,
            })
    }
}

/// Serialises to a JSON-compatible JS value (objects, not `Map`s: bindings ignore `Map`s).
pub fn to_js<T: Serialize>(v: &T) -> Result<JsValue> {
    v.serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| Error::Internal(format!("serialise: {e}")))
}

pub fn js_message(e: &JsValue) -> String {
    e.as_string()
        .or_else(|| {
            js_sys::Reflect::get(e, &"message".into())
                .ok()
                .and_then(|m| m.as_string())
        })
        .unwrap_or_else(|| "unknown error".into())
}
