//! Relays a provider's chat events to the client as OpenAI `chat.completion.chunk` frames.
//!
//! Frames that are ready together leave in one write: every write is a separate trip
//! through the runtime's pipes and sockets, and small writes behind one another wait on
//! each other (measured: `[DONE]` written apart from the frame before it reached the client
//! ~3 ms later). The role frame goes out with the first token, as OpenAI sends it, and the
//! first token goes out with the response headers.

use futures_util::{FutureExt, StreamExt};
use serde_json::{json, Value};

use crate::core::openai::{chunk, estimate_tokens, sse_data, usage_chunk, Usage, SSE_DONE};
use crate::core::ports::{ChatEvent, ChatEventStream as EventStream};
use crate::core::Error;
use crate::platform::sse_out::BodyWriter;

/// What the stream produced, for accounting and the conversation.
pub struct Relayed {
    pub text: String,
    pub usage: Usage,
    pub failed: bool,
}

pub struct ChatStreamRelay {
    pub id: String,
    pub created: u64,
    pub model: String,
    pub include_usage: bool,
    /// Prompt tokens to report when the provider reports no usage.
    pub prompt_estimate: u64,
    pending: String,
    text: String,
    finish_reason: Option<String>,
    usage: Option<Usage>,
    finish_sent: bool,
    failed: bool,
    ended: bool,
}

/// The next event and whatever else is ready now (events of the same upstream read).
async fn next_batch(events: &mut EventStream) -> Vec<Option<crate::core::Result<ChatEvent>>> {
    let mut batch = vec![events.next().await];
    while batch.last().is_some_and(Option::is_some) {
        match events.next().now_or_never() {
            Some(next) => batch.push(next),
            None => break,
        }
    }
    batch
}

impl ChatStreamRelay {
    pub fn new(
        id: String,
        created: u64,
        model: String,
        include_usage: bool,
        prompt_estimate: u64,
    ) -> Self {
        let mut relay = ChatStreamRelay {
            id,
            created,
            model,
            include_usage,
            prompt_estimate,
            pending: String::new(),
            text: String::new(),
            finish_reason: None,
            usage: None,
            finish_sent: false,
            failed: false,
            ended: false,
        };
        relay.pending = relay.frame(json!({"role": "assistant", "content": ""}), None);
        relay
    }

    fn frame(&self, delta: Value, finish: Option<&str>) -> String {
        sse_data(&chunk(&self.id, self.created, &self.model, delta, finish))
    }

    /// Waits for the upstream's first events. A stream that fails before any of them is
    /// answered as an ordinary error (status and OpenAI error body), not as a 200 stream.
    pub async fn start(&mut self, events: &mut EventStream) -> Result<String, Error> {
        let mut batch = next_batch(events).await;
        if matches!(batch.first(), Some(Some(Err(_)))) {
            if let Some(Err(e)) = batch.swap_remove(0) {
                return Err(e);
            }
        }
        self.absorb(batch);
        Ok(self.take_output())
    }

    fn absorb(&mut self, batch: Vec<Option<crate::core::Result<ChatEvent>>>) {
        for ev in batch {
            match ev {
                None => self.ended = true,
                Some(Ok(ChatEvent::Content(t))) => {
                    let f = self.frame(json!({"content": t}), None);
                    self.pending.push_str(&f);
                    self.text.push_str(&t);
                }
                Some(Ok(ChatEvent::ToolCalls(tc))) => {
                    let f = self.frame(json!({"tool_calls": tc}), None);
                    self.pending.push_str(&f);
                    self.finish_reason
                        .get_or_insert_with(|| "tool_calls".into());
                }
                // Sent as soon as it comes, as OpenAI does; usage and `[DONE]` follow.
                Some(Ok(ChatEvent::Finish(r))) => {
                    if !self.finish_sent {
                        let f = self.frame(json!({}), Some(&r));
                        self.pending.push_str(&f);
                        self.finish_sent = true;
                    }
                }
                Some(Ok(ChatEvent::Usage(u))) => self.usage = Some(u),
                Some(Err(e)) => {
                    let err = json!({"error": {"message": e.public_message(), "type": e.openai_type(), "param": null, "code": "upstream_stream_error"}});
                    self.pending.push_str(&sse_data(&err));
                    self.failed = true;
                    self.ended = true;
                }
            }
            if self.ended {
                break;
            }
        }
    }

    /// What is ready to send: pending frames, and the closing frames once the stream ended.
    fn take_output(&mut self) -> String {
        if self.ended {
            if !self.failed {
                if !self.finish_sent {
                    let reason = self.finish_reason.take().unwrap_or_else(|| "stop".into());
                    let f = self.frame(json!({}), Some(&reason));
                    self.pending.push_str(&f);
                    self.finish_sent = true;
                }
                if self.include_usage {
                    let u = usage_chunk(&self.id, self.created, &self.model, self.final_usage());
                    self.pending.push_str(&sse_data(&u));
                }
            }
            self.pending.push_str(SSE_DONE);
        }
        std::mem::take(&mut self.pending)
    }

    fn final_usage(&self) -> Usage {
        self.usage
            .unwrap_or_else(|| Usage::new(self.prompt_estimate, estimate_tokens(&self.text)))
    }

    /// Relays the rest of `events`, also when the client has gone, so usage is counted.
    pub async fn finish(mut self, mut events: EventStream, mut out: BodyWriter) -> Relayed {
        while !self.ended {
            let batch = next_batch(&mut events).await;
            self.absorb(batch);
            let output = self.take_output();
            if !output.is_empty() {
                out.write(&output).await;
            }
        }
        out.close().await;
        Relayed {
            usage: self.final_usage(),
            text: self.text,
            failed: self.failed,
        }
    }
}
