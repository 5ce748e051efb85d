//! Randomness and WebCrypto (PBKDF2) for passwords; the runtime's native crypto is both
//! faster and smaller than a Rust implementation compiled to wasm.

use js_sys::{Array, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::core::{Error, Result};

pub fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut buf = [0u8; N];
    getrandom::getrandom(&mut buf).map_err(|e| Error::Internal(format!("random: {e}")))?;
    Ok(buf)
}

pub fn random_hex<const N: usize>() -> Result<String> {
    Ok(hex::encode(random_bytes::<N>()?))
}

fn js_err(e: JsValue) -> Error {
    Error::Internal(format!("webcrypto: {e:?}"))
}

fn subtle() -> Result<JsValue> {
    let crypto = Reflect::get(&js_sys::global(), &"crypto".into()).map_err(js_err)?;
    Reflect::get(&crypto, &"subtle".into()).map_err(js_err)
}

async fn call(target: &JsValue, method: &str, args: &Array) -> Result<JsValue> {
    let f: js_sys::Function = Reflect::get(target, &method.into())
        .map_err(js_err)?
        .dyn_into()
        .map_err(js_err)?;
    let promise: Promise = f
        .apply(target, args)
        .map_err(js_err)?
        .dyn_into()
        .map_err(js_err)?;
    JsFuture::from(promise).await.map_err(js_err)
}

/// PBKDF2-HMAC-SHA256, 32 bytes out.
pub async fn pbkdf2_sha256(password: &str, salt: &[u8], iterations: u32) -> Result<Vec<u8>> {
    let subtle = subtle()?;
    let usages = Array::of1(&"deriveBits".into());
    let key = call(
        &subtle,
        "importKey",
        &Array::of5(
            &"raw".into(),
            &Uint8Array::from(password.as_bytes()).into(),
            &"PBKDF2".into(),
            &JsValue::FALSE,
            &usages,
        ),
    )
    .await?;
    let params = Object::new();
    let set = |k: &str, v: JsValue| Reflect::set(&params, &k.into(), &v).map_err(js_err);
    set("name", "PBKDF2".into())?;
    set("hash", "SHA-256".into())?;
    set("salt", Uint8Array::from(salt).into())?;
    set("iterations", JsValue::from(iterations))?;
    let bits = call(
        &subtle,
        "deriveBits",
        &Array::of3(&params, &key, &JsValue::from(256)),
    )
    .await?;
    Ok(Uint8Array::new(&bits).to_vec())
}
