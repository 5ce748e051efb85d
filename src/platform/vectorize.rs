//! Vectorize, through its JS methods (workers-rs has no wrapper). Each owner is a namespace;
//! vector ids are derived from owner and content hash (64 bytes, unique across owners).
//! Options are passed as plain JS objects: Vectorize ignores `Map`s.

use serde::Deserialize;
use serde_json::json;
use wasm_bindgen::prelude::*;
use worker::{D1Database, Env};

use crate::core::embed::cosine;
use crate::core::ports::{owner_namespace, VectorEntry, VectorHit, VectorIndex};
use crate::core::{Error, Result};
use crate::platform::d1;
use crate::platform::memory_store::mark_indexed;
use crate::platform::workers_ai::{js_message, to_js};

/// Vectorize accepts at most 1,000 vectors per upsert from a Worker.
const UPSERT_BATCH: usize = 1000;
const MAX_TOP_K: usize = 100;

#[wasm_bindgen]
extern "C" {
    #[derive(Clone)]
    pub type VectorizeBinding;

    #[wasm_bindgen(method, catch, js_name = query)]
    async fn query_js(
        this: &VectorizeBinding,
        vector: JsValue,
        options: JsValue,
    ) -> std::result::Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch, js_name = upsert)]
    async fn upsert_js(
        this: &VectorizeBinding,
        vectors: JsValue,
    ) -> std::result::Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch, js_name = deleteByIds)]
    async fn delete_by_ids_js(
        this: &VectorizeBinding,
        ids: JsValue,
    ) -> std::result::Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch, js_name = getByIds)]
    async fn get_by_ids_js(
        this: &VectorizeBinding,
        ids: JsValue,
    ) -> std::result::Result<JsValue, JsValue>;
}

impl VectorizeBinding {
    pub fn from_env(env: &Env) -> Option<VectorizeBinding> {
        let v = js_sys::Reflect::get(env.as_ref(), &"VECTORIZE".into()).ok()?;
        (!v.is_undefined() && !v.is_null()).then(|| v.unchecked_into())
    }
}

fn upstream(what: &str, e: JsValue) -> Error {
    Error::Upstream {
        message: format!("Vectorize {what} failed: {}", js_message(&e)),
        status: None,
    }
}

pub struct VectorizeIndex<'a> {
    binding: VectorizeBinding,
    db: &'a D1Database,
}

#[derive(Deserialize)]
struct Matches {
    #[serde(default)]
    matches: Vec<Match>,
}

#[derive(Deserialize)]
struct Match {
    id: String,
    score: f64,
}

#[derive(Deserialize)]
struct StoredVector {
    id: String,
    #[serde(default)]
    values: Vec<f32>,
}

#[derive(Deserialize)]
struct IdRow {
    id: i64,
    vector_id: String,
}

impl<'a> VectorizeIndex<'a> {
    pub fn new(binding: VectorizeBinding, db: &'a D1Database) -> Self {
        VectorizeIndex { binding, db }
    }

    /// Maps between memory ids and vector ids, always within the owner.
    async fn rows_by_vector_ids(&self, owner: &str, vector_ids: &[String]) -> Result<Vec<IdRow>> {
        let ids = serde_json::to_string(vector_ids).map_err(|e| Error::Internal(e.to_string()))?;
        d1::all(
            self.db,
            "SELECT id, vector_id FROM memories WHERE +owner = ?1 AND vector_id IN (SELECT value FROM json_each(?2))",
            &[owner.into(), (&ids).into()],
        )
        .await
    }

    async fn rows_by_memory_ids(&self, owner: &str, memory_ids: &[i64]) -> Result<Vec<IdRow>> {
        let ids = serde_json::to_string(memory_ids).map_err(|e| Error::Internal(e.to_string()))?;
        d1::all(
            self.db,
            "SELECT id, vector_id FROM memories WHERE +owner = ?1 AND vector_id IS NOT NULL AND id IN (SELECT value FROM json_each(?2))",
            &[owner.into(), (&ids).into()],
        )
        .await
    }
}

impl VectorIndex for VectorizeIndex<'_> {
    async fn upsert(&self, owner: &str, entries: &[VectorEntry]) -> Result<()> {
        let namespace = owner_namespace(owner);
        for chunk in entries.chunks(UPSERT_BATCH) {
            let vectors: Vec<_> = chunk
                .iter()
                .map(|e| {
                    json!({
                        "id": e.vector_id,
                        "values": e.values,
                        "namespace": namespace,
                        "metadata": {"owner": owner, "memory_type": e.memory_type.clone().unwrap_or_default()},
                    })
                })
                .collect();
            self.binding
                .upsert_js(to_js(&vectors)?)
                .await
                .map_err(|e| upstream("upsert", e))?;
            let mut statements = Vec::with_capacity(chunk.len());
            for e in chunk {
                statements.push(mark_indexed(self.db, e.memory_id, owner, &e.vector_id)?);
            }
            d1::batch(self.db, statements).await?;
        }
        Ok(())
    }

    async fn query(&self, owner: &str, vector: &[f32], top_k: usize) -> Result<Vec<VectorHit>> {
        let options = json!({
            "topK": top_k.clamp(1, MAX_TOP_K),
            "namespace": owner_namespace(owner),
            "returnValues": false,
            "returnMetadata": "none",
        });
        let raw = self
            .binding
            .query_js(to_js(&vector)?, to_js(&options)?)
            .await
            .map_err(|e| upstream("query", e))?;
        let found: Matches = serde_wasm_bindgen::from_value(raw).map_err(|e| Error::Upstream {
            message: format!("unexpected Vectorize query result: {e}"),
            status: None,
        })?;
        let ids: Vec<String> = found.matches.iter().map(|m| m.id.clone()).collect();
        let rows = self.rows_by_vector_ids(owner, &ids).await?;
        Ok(found
            .matches
            .into_iter()
            .filter_map(|m| {
                rows.iter()
                    .find(|r| r.vector_id == m.id)
                    .map(|r| VectorHit {
                        memory_id: r.id,
                        score: m.score,
                    })
            })
            .collect())
    }

    async fn similarity(
        &self,
        owner: &str,
        vector: &[f32],
        memory_ids: &[i64],
    ) -> Result<Vec<VectorHit>> {
        let rows = self.rows_by_memory_ids(owner, memory_ids).await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<&str> = rows.iter().map(|r| r.vector_id.as_str()).collect();
        let raw = self
            .binding
            .get_by_ids_js(to_js(&ids)?)
            .await
            .map_err(|e| upstream("getByIds", e))?;
        let stored: Vec<StoredVector> =
            serde_wasm_bindgen::from_value(raw).map_err(|e| Error::Upstream {
                message: format!("unexpected Vectorize getByIds result: {e}"),
                status: None,
            })?;
        Ok(stored
            .into_iter()
            .filter_map(|s| {
                rows.iter()
                    .find(|r| r.vector_id == s.id)
                    .map(|r| VectorHit {
                        memory_id: r.id,
                        score: f64::from(cosine(vector, &s.values)),
                    })
            })
            .collect())
    }

    async fn delete(&self, _owner: &str, entries: &[(i64, String)]) -> Result<()> {
        for chunk in entries.chunks(UPSERT_BATCH) {
            let ids: Vec<&str> = chunk.iter().map(|(_, v)| v.as_str()).collect();
            self.binding
                .delete_by_ids_js(to_js(&ids)?)
                .await
                .map_err(|e| upstream("deleteByIds", e))?;
        }
        Ok(())
    }
}

/// The index this deployment uses: Vectorize in production, D1 locally (`VECTOR_BACKEND`).
pub enum AnyVectorIndex<'a> {
    Vectorize(VectorizeIndex<'a>),
    D1(crate::platform::vector_d1::D1VectorIndex<'a>),
}

impl VectorIndex for AnyVectorIndex<'_> {
    async fn upsert(&self, owner: &str, entries: &[VectorEntry]) -> Result<()> {
        match self {
            AnyVectorIndex::Vectorize(i) => i.upsert(owner, entries).await,
            AnyVectorIndex::D1(i) => i.upsert(owner, entries).await,
        }
    }

    async fn query(&self, owner: &str, vector: &[f32], top_k: usize) -> Result<Vec<VectorHit>> {
        match self {
            AnyVectorIndex::Vectorize(i) => i.query(owner, vector, top_k).await,
            AnyVectorIndex::D1(i) => i.query(owner, vector, top_k).await,
        }
    }

    async fn similarity(
        &self,
        owner: &str,
        vector: &[f32],
        memory_ids: &[i64],
    ) -> Result<Vec<VectorHit>> {
        match self {
            AnyVectorIndex::Vectorize(i) => i.similarity(owner, vector, memory_ids).await,
            AnyVectorIndex::D1(i) => i.similarity(owner, vector, memory_ids).await,
        }
    }

    async fn delete(&self, owner: &str, entries: &[(i64, String)]) -> Result<()> {
        match self {
            AnyVectorIndex::Vectorize(i) => i.delete(owner, entries).await,
            AnyVectorIndex::D1(i) => i.delete(owner, entries).await,
        }
    }
}
