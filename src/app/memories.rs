//! Storing, deleting, searching and repairing memories across D1, R2 and the vector index.

use std::collections::HashMap;

use serde_json::json;

use crate::app::App;
use crate::core::embed::hashing_embed;
use crate::core::memory::{Memory, NewMemory};
use crate::core::ports::{vector_id, VectorEntry, VectorIndex};
use crate::core::search::{fts_query, relevance_reason, rrf_fuse, SearchParams, SearchResult};
use crate::core::text::truncate_utf8;
use crate::core::time::iso8601;
use crate::core::{Error, Result};
use crate::platform::embedder::AnyEmbedder;
use crate::platform::memory_store::{Filters, Inserted};
use crate::platform::vectorize::AnyVectorIndex;

/// A memory to (re)index.
pub struct ToIndex {
    pub id: i64,
    pub content_hash: String,
    pub memory_type: Option<String>,
    pub content: String,
}

fn preview(content: &str) -> String {
    let cut = truncate_utf8(content, 200);
    cut.chars().take(100).collect()
}

impl App<'_> {
    /// Stores a memory: durable in D1 first, then indexed. An index failure leaves the memory
    /// flagged (`vector_state = 0`) for the scheduled repair; the store still succeeds.
    pub async fn store_memory(
        &self,
        owner: &str,
        new: &NewMemory,
        times: Option<(f64, f64)>,
    ) -> Result<Inserted> {
        let (created, updated) = times.unwrap_or((self.now, self.now));
        // Locally (D1 index, built-in embedder) the vector commits with the row.
        let inline = match (&self.index, &self.embedder) {
            (AnyVectorIndex::D1(index), AnyEmbedder::Hashing) => Some(index.statements_for_new(
                owner,
                &new.content_hash,
                &vector_id(owner, &new.content_hash),
                &hashing_embed(&new.content),
            )?),
            _ => None,
        };
        let indexed = inline.is_some();
        let t0 = js_sys::Date::now();
        let inserted = self
            .store
            .insert(owner, new, created, updated, inline.unwrap_or_default())
            .await?;
        self.timing(&[("insert", js_sys::Date::now() - t0)]);
        if let Inserted::Created(m, id) = &inserted {
            if !indexed {
                let item = ToIndex {
                    id: *id,
                    content_hash: m.content_hash.clone(),
                    memory_type: m.memory_type.clone(),
                    content: new.content.clone(),
                };
                if let Err(e) = self.index_memories(owner, vec![item]).await {
                    worker::console_warn!("indexing deferred to repair: {e}");
                }
            }
            if times.is_some() {
                // Imports are bulk restores, not news: no event per memory.
                return Ok(inserted);
            }
            self.emit(
                owner,
                "memory_stored",
                json!({
                    "type": "memory_stored",
                    "content_hash": m.content_hash,
                    "content_preview": preview(&m.content),
                    "tags": m.tags,
                    "memory_type": m.memory_type,
                    "timestamp": iso8601(self.now),
                }),
            );
        }
        Ok(inserted)
    }

    /// Embeds and writes vectors for memories of one owner.
    pub async fn index_memories(&self, owner: &str, items: Vec<ToIndex>) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        let texts: Vec<String> = items.iter().map(|i| i.content.clone()).collect();
        let vectors = self.embedder.embed_cached(&self.b.kv, &texts).await?;
        let entries: Vec<VectorEntry> = items
            .into_iter()
            .zip(vectors)
            .map(|(i, values)| VectorEntry {
                memory_id: i.id,
                vector_id: vector_id(owner, &i.content_hash),
                values,
                memory_type: i.memory_type,
            })
            .collect();
        self.index.upsert(owner, &entries).await
    }

    /// Deletes a memory everywhere: D1 row (with tags and keyword entry), R2 content, vector.
    pub async fn delete_memory(&self, owner: &str, hash: &str) -> Result<bool> {
        let Some(found) = self.store.id_of(owner, hash).await? else {
            return Ok(false);
        };
        if !self.store.delete(owner, hash).await? {
            return Ok(false);
        }
        let vid = found.vector_id.unwrap_or_else(|| vector_id(owner, hash));
        if let Err(e) = self.index.delete(owner, &[(found.id, vid)]).await {
            // The row is gone, so a stale vector can no longer surface in results.
            worker::console_warn!("vector delete failed: {e}");
        }
        self.emit(
            owner,
            "memory_deleted",
            json!({"type": "memory_deleted", "content_hash": hash, "timestamp": iso8601(self.now)}),
        );
        Ok(true)
    }

    /// Hybrid search: vector similarity and BM25 keyword ranks fused by reciprocal rank.
    /// `similarity_score` is always the cosine similarity of query and memory.
    pub async fn search(
        &self,
        owner: &str,
        p: &SearchParams,
        since_until: Option<(f64, f64)>,
    ) -> Result<Vec<SearchResult>> {
        let filters = Filters {
            tags: &p.tags,
            match_all: false,
            since: since_until.map(|r| r.0),
            until: since_until.map(|r| r.1),
            memory_type: p.memory_type.as_deref(),
        };
        let filtered = !p.tags.is_empty() || since_until.is_some() || p.memory_type.is_some();
        let n = p.n_results as usize;
        let pool = if filtered {
            (n * 12).max(100)
        } else {
            (n * 4).max(20)
        };
        let te = js_sys::Date::now();
        let query_vec = self
            .embedder
            .embed_cached(&self.b.kv, std::slice::from_ref(&p.query))
            .await?
            .pop()
            .ok_or_else(|| Error::Internal("no query embedding".into()))?;
        let t0 = js_sys::Date::now();
        // The two rankings are independent: ask D1 for both at once.
        let keyword = async {
            match fts_query(&p.query) {
                Some(q) => self.store.keyword_search(owner, &q, pool, &filters).await,
                None => Ok(Vec::new()),
            }
        };
        let (vector_hits, keyword_ids) =
            futures_util::future::join(self.index.query(owner, &query_vec, pool.min(100)), keyword)
                .await;
        let (vector_hits, keyword_ids) = (vector_hits?, keyword_ids?);
        let vector_ids: Vec<i64> = vector_hits.iter().map(|h| h.memory_id).collect();
        let t2 = js_sys::Date::now();
        let fused = rrf_fuse(&[&vector_ids, &keyword_ids]);
        let candidate_ids: Vec<i64> = fused.iter().map(|(id, _)| *id).take(pool).collect();
        let mut scores: HashMap<i64, f64> =
            vector_hits.iter().map(|h| (h.memory_id, h.score)).collect();
        let unscored: Vec<i64> = candidate_ids
            .iter()
            .copied()
            .filter(|id| !scores.contains_key(id))
            .collect();
        if !unscored.is_empty() {
            for h in self.index.similarity(owner, &query_vec, &unscored).await? {
                scores.insert(h.memory_id, h.score);
            }
        }
        let t3 = js_sys::Date::now();
        let memories: HashMap<i64, Memory> = self
            .store
            .by_ids(owner, &candidate_ids, &filters)
            .await?
            .into_iter()
            .collect();
        let t4 = js_sys::Date::now();
        self.timing(&[
            ("embed", t0 - te),
            ("rank", t2 - t0),
            ("rescore", t3 - t2),
            ("fetch", t4 - t3),
        ]);
        let mut results = Vec::new();
        for id in candidate_ids {
            let Some(memory) = memories.get(&id) else {
                continue;
            };
            let cosine = scores.get(&id).copied().unwrap_or(0.0).clamp(0.0, 1.0);
            if p.similarity_threshold.is_some_and(|t| cosine < t) {
                continue;
            }
            results.push(SearchResult {
                memory: memory.clone(),
                similarity_score: (cosine * 10_000.0).round() / 10_000.0,
                relevance_reason: relevance_reason(
                    vector_ids.iter().position(|v| *v == id),
                    keyword_ids.iter().position(|k| *k == id),
                    cosine,
                ),
            });
            if results.len() >= n {
                break;
            }
        }
        self.emit(
            owner,
            "search_completed",
            json!({"type": "search_completed", "query": truncate_utf8(&p.query, 200), "results": results.len(), "timestamp": iso8601(self.now)}),
        );
        Ok(results)
    }

    /// Re-indexes memories whose vector write failed. Returns how many were repaired.
    pub async fn repair_index(&self, limit: usize) -> Result<usize> {
        // Give in-flight writes time to finish before calling them failed.
        let rows = self.store.unindexed(self.now - 5.0, limit).await?;
        let mut by_owner: HashMap<String, Vec<ToIndex>> = HashMap::new();
        for r in rows {
            let content = match (r.content, r.blob_key) {
                (Some(c), _) => c,
                (None, Some(k)) => self.store.blob_text(&k).await?,
                (None, None) => continue,
            };
            by_owner.entry(r.owner).or_default().push(ToIndex {
                id: r.id,
                content_hash: r.content_hash,
                memory_type: r.memory_type,
                content,
            });
        }
        let mut repaired = 0;
        for (owner, items) in by_owner {
            let n = items.len();
            match self.index_memories(&owner, items).await {
                Ok(()) => repaired += n,
                Err(e) => worker::console_warn!("repair failed for {n} memories: {e}"),
            }
        }
        Ok(repaired)
    }
}
