//! Application services (wasm only): orchestrate the core's rules over the adapters —
//! store then index, search by fusing rankings, repair what failed. Handlers stay thin.

pub mod documents;
pub mod images;
pub mod memories;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use crate::core::config::Config;
use crate::core::Result;
use crate::platform::cleanup_queue::CleanupQueue;
use crate::platform::embedder::AnyEmbedder;
use crate::platform::http_client::RetryPolicy;
use crate::platform::memory_store::MemoryStore;
use crate::platform::vector_d1::D1VectorIndex;
use crate::platform::vectorize::{AnyVectorIndex, VectorizeBinding, VectorizeIndex};
use crate::platform::workers_ai::AiBinding;
use crate::platform::Bindings;

/// An event to deliver to the owner's live clients once the response is on its way.
pub struct PendingEvent {
    pub owner: String,
    pub event: &'static str,
    pub data: serde_json::Value,
}

pub struct App<'a> {
    pub b: &'a Bindings,
    pub config: Config,
    pub now: f64,
    pub store: MemoryStore<'a>,
    pub index: AnyVectorIndex<'a>,
    pub embedder: AnyEmbedder,
    pub retry: RetryPolicy,
    events: RefCell<Vec<PendingEvent>>,
    /// Set when a search fell back to keywords alone (embedder or vector index down).
    semantic_unavailable: Cell<bool>,
    /// Phases of this request's work, for the `Server-Timing` header.
    timings: Timings,
}

/// Named phases of one request's work in milliseconds, shared by the HTTP layer and the app
/// and answered as `Server-Timing`.
#[derive(Clone, Default)]
pub struct Timings(Rc<RefCell<Vec<(&'static str, f64)>>>);

impl Timings {
    pub fn record(&self, phases: &[(&'static str, f64)]) {
        self.0.borrow_mut().extend_from_slice(phases);
    }

    /// The `Server-Timing` header value, or `None` when nothing was recorded.
    pub fn header(&self, total_ms: f64) -> Option<String> {
        let phases = self.0.borrow();
        if phases.is_empty() {
            return None;
        }
        let mut parts: Vec<String> = phases
            .iter()
            .map(|(name, ms)| format!("{name};dur={ms:.1}"))
            .collect();
        parts.push(format!("total;dur={total_ms:.1}"));
        Some(parts.join(", "))
    }
}

impl<'a> App<'a> {
    pub fn new(b: &'a Bindings, config: Config, now: f64, timings: Timings) -> Result<Self> {
        let retry = RetryPolicy {
            max_retries: b
                .var("MAX_RETRIES")
                .and_then(|v| v.parse().ok())
                .unwrap_or(3),
            base_delay_ms: b
                .var("BASE_DELAY_MS")
                .and_then(|v| v.parse().ok())
                .unwrap_or(250),
            answer_timeout_ms: b
                .var("UPSTREAM_TIMEOUT_MS")
                .and_then(|v| v.parse().ok())
                .unwrap_or(60_000),
        };
        let index = match (
            b.var("VECTOR_BACKEND").as_deref(),
            VectorizeBinding::from_env(&b.env),
        ) {
            (Some("d1"), _) | (_, None) => AnyVectorIndex::D1(D1VectorIndex::new(&b.db)),
            (_, Some(binding)) => AnyVectorIndex::Vectorize(VectorizeIndex::new(binding, &b.db)),
        };
        let embedder = AnyEmbedder::from_config(
            &config.embeddings,
            AiBinding::from_env(&b.env),
            &b.var_or("EMBEDDING_MODEL", "@cf/baai/bge-base-en-v1.5"),
            retry,
        )?;
        Ok(App {
            b,
            config,
            now,
            store: MemoryStore::new(&b.db, &b.blobs),
            index,
            embedder,
            retry,
            events: RefCell::new(Vec::new()),
            semantic_unavailable: Cell::new(false),
            timings,
        })
    }

    pub fn emit(&self, owner: &str, event: &'static str, data: serde_json::Value) {
        self.events.borrow_mut().push(PendingEvent {
            owner: owner.to_string(),
            event,
            data,
        });
    }

    pub fn timing(&self, phases: &[(&'static str, f64)]) {
        self.timings.record(phases);
    }

    pub fn cleanup(&self) -> CleanupQueue<'_> {
        CleanupQueue::new(&self.b.db)
    }

    /// Whether a search of this request ranked by keywords alone.
    pub fn semantic_unavailable(&self) -> bool {
        self.semantic_unavailable.get()
    }

    pub(crate) fn semantic_failed(&self, what: &str, e: &crate::core::Error) {
        worker::console_warn!("search falls back to keywords: {what} failed: {e}");
        self.semantic_unavailable.set(true);
    }

    pub fn take_events(&self) -> Vec<PendingEvent> {
        std::mem::take(&mut *self.events.borrow_mut())
    }
}
