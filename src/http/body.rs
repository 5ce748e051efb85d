//! Reading request bodies: size limits first, then JSON with a clear message.

use serde::de::DeserializeOwned;
use worker::Request;

use crate::core::{Error, Result};

/// Default largest JSON body (memories up to 8 MiB plus JSON overhead).
pub const MAX_JSON_BODY: usize = 10 * 1024 * 1024;

pub async fn read_bytes(req: &mut Request, max: usize) -> Result<Vec<u8>> {
    if let Ok(Some(len)) = req.headers().get("content-length") {
        if len.parse::<usize>().is_ok_and(|n| n > max) {
            return Err(Error::PayloadTooLarge(format!(
                "the request body is larger than {max} bytes"
            )));
        }
    }
    let bytes = req
        .bytes()
        .await
        .map_err(|e| Error::invalid(format!("unreadable request body: {e}")))?;
    if bytes.len() > max {
        return Err(Error::PayloadTooLarge(format!(
            "the request body is larger than {max} bytes"
        )));
    }
    Ok(bytes)
}

pub async fn read_json<T: DeserializeOwned>(req: &mut Request, max: usize) -> Result<T> {
    if let Ok(Some(ct)) = req.headers().get("content-type") {
        let ct = ct.to_ascii_lowercase();
        if !ct.is_empty() && !ct.contains("json") && !ct.starts_with("text/plain") {
            return Err(Error::invalid(format!(
                "expected a JSON body (content-type application/json), got {ct}"
            )));
        }
    }
    let bytes = read_bytes(req, max).await?;
    if bytes.is_empty() {
        return Err(Error::invalid("the request body is empty; expected JSON"));
    }
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| Error::invalid(format!("invalid JSON body: {e}")))?;
    if !value.is_object() {
        return Err(Error::invalid("the JSON body must be an object"));
    }
    serde_json::from_value(value).map_err(|e| Error::invalid(format!("invalid request: {e}")))
}
