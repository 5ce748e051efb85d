//! A streamed response body written from Rust into the runtime's native pipe.
//!
//! `Response::from_stream` wraps a Rust stream in a JS-implemented `ReadableStream` that the
//! runtime pulls chunk by chunk through promises; `IdentityTransformStream` is workerd's own
//! pipe, so a written chunk goes straight to the socket. Measured on chat streams: the first
//! token reaches the client sooner and the end of the stream is seen sooner.

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use worker::web_sys::{ReadableStream, WritableStream, WritableStreamDefaultWriter};

#[wasm_bindgen]
extern "C" {
    type IdentityTransformStream;

    #[wasm_bindgen(constructor, catch)]
    fn new() -> Result<IdentityTransformStream, JsValue>;

    #[wasm_bindgen(method, getter)]
    fn readable(this: &IdentityTransformStream) -> ReadableStream;

    #[wasm_bindgen(method, getter)]
    fn writable(this: &IdentityTransformStream) -> WritableStream;
}

/// The writing end of a streamed body. Once the client has gone, writes are dropped: the
/// producer keeps going (e.g. to count a stream's usage) without failing.
pub struct BodyWriter {
    writer: Option<WritableStreamDefaultWriter>,
    /// The first chunk's write, started before the response is handed back.
    first: Option<JsFuture>,
}

impl BodyWriter {
    /// A writer and the body to answer with; `first` is written at once, so it can leave
    /// together with the response headers.
    pub fn new(first: &str) -> Result<(BodyWriter, ReadableStream), String> {
        let pipe = IdentityTransformStream::new().map_err(|e| format!("{e:?}"))?;
        let writer = pipe.writable().get_writer().map_err(|e| format!("{e:?}"))?;
        let first = (!first.is_empty()).then(|| {
            let chunk = js_sys::Uint8Array::from(first.as_bytes());
            JsFuture::from(writer.write_with_chunk(&chunk))
        });
        Ok((
            BodyWriter {
                writer: Some(writer),
                first,
            },
            pipe.readable(),
        ))
    }

    async fn settle_first(&mut self) {
        if let Some(first) = self.first.take() {
            if first.await.is_err() {
                self.writer = None;
            }
        }
    }

    /// Writes one chunk; resolves once the runtime has taken it (back-pressure).
    pub async fn write(&mut self, text: &str) {
        self.settle_first().await;
        let Some(w) = &self.writer else { return };
        let chunk = js_sys::Uint8Array::from(text.as_bytes());
        if JsFuture::from(w.write_with_chunk(&chunk)).await.is_err() {
            self.writer = None;
        }
    }

    /// Ends the body.
    pub async fn close(mut self) {
        self.settle_first().await;
        if let Some(w) = self.writer.take() {
            let _ = JsFuture::from(w.close()).await;
        }
    }
}
