//! Real-time events (`/api/events`): one Durable Object per owner holds the open SSE
//! streams of that owner's clients, so an event published by any request, in any isolate,
//! reaches every client of the same owner. Heartbeats come from the object's alarm.

use std::cell::RefCell;
use std::time::Duration;

use futures_channel::mpsc::{unbounded, UnboundedSender};
use futures_util::StreamExt;
use serde_json::json;
use wasm_bindgen::JsValue;
use worker::{
    durable_object, DurableObject, Env, Headers, Method, Request, RequestInit, Response, State,
};

use crate::core::time::iso8601;

const HEARTBEAT: Duration = Duration::from_secs(15);

#[durable_object]
pub struct EventHub {
    state: State,
    clients: RefCell<Vec<UnboundedSender<String>>>,
}

/// One SSE frame.
pub fn frame(event: &str, data: &serde_json::Value) -> String {
    format!("event: {event}\ndata: {data}\n\n")
}

impl EventHub {
    fn broadcast(&self, text: &str) -> usize {
        let mut clients = self.clients.borrow_mut();
        clients.retain(|c| c.unbounded_send(text.to_string()).is_ok());
        clients.len()
    }
}

impl DurableObject for EventHub {
    fn new(state: State, _env: Env) -> Self {
        EventHub {
            state,
            clients: RefCell::new(Vec::new()),
        }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        match req.path().as_str() {
            "/subscribe" => {
                let (tx, rx) = unbounded::<String>();
                let hello = frame(
                    "connected",
                    &json!({"type": "connected", "timestamp": iso8601(js_sys::Date::now() / 1000.0)}),
                );
                let _ = tx.unbounded_send(hello);
                self.clients.borrow_mut().push(tx);
                if self.state.storage().get_alarm().await?.is_none() {
                    self.state.storage().set_alarm(HEARTBEAT).await?;
                }
                let headers = Headers::new();
                headers.set("content-type", "text/event-stream; charset=utf-8")?;
                headers.set("cache-control", "no-cache, no-transform")?;
                headers.set("x-accel-buffering", "no")?;
                let body = rx.map(|s| Ok::<Vec<u8>, worker::Error>(s.into_bytes()));
                Ok(Response::from_stream(body)?.with_headers(headers))
            }
            "/publish" => {
                let text = req.text().await?;
                let n = self.broadcast(&text);
                Response::ok(n.to_string())
            }
            _ => Response::error("not found", 404),
        }
    }

    async fn alarm(&self) -> worker::Result<Response> {
        let beat = frame(
            "heartbeat",
            &json!({"type": "heartbeat", "timestamp": iso8601(js_sys::Date::now() / 1000.0)}),
        );
        if self.broadcast(&beat) > 0 {
            self.state.storage().set_alarm(HEARTBEAT).await?;
        }
        Response::ok("ok")
    }
}

fn hub(env: &Env, owner: &str) -> worker::Result<worker::Stub> {
    env.durable_object("EVENTS")?.get_by_name(owner)
}

/// Opens an SSE stream of `owner`'s events.
pub async fn subscribe(env: &Env, owner: &str) -> worker::Result<Response> {
    hub(env, owner)?
        .fetch_with_str("https://events/subscribe")
        .await
}

/// Sends one event to every connected client of `owner`. Best effort: events are a
/// notification channel, never the record.
pub async fn publish(env: &Env, owner: &str, event: &str, data: serde_json::Value) {
    let result = async {
        let mut init = RequestInit::new();
        init.with_method(Method::Post)
            .with_body(Some(JsValue::from_str(&frame(event, &data))));
        let req = Request::new_with_init("https://events/publish", &init)?;
        hub(env, owner)?.fetch_with_request(req).await
    }
    .await;
    if let Err(e) = result {
        worker::console_warn!("event {event} not published: {e}");
    }
}
