//! Storing, deleting, searching and repairing memories across D1, R2 and the vector index.

use std::collections::{HashMap, HashSet};

use serde_json::json;

use crate::app::App;
use crate::core::embed::{cosine, hashing_embed};
use crate::core::memory::{Memory, NewMemory};
use crate::core::ports::{vector_id, VectorEntry, VectorIndex};
use crate::core::search::{fts_query, relevance_reason, rrf_fuse, SearchParams, SearchResult};
use crate::core::text::truncate_utf8;
use crate::core::time::iso8601;
use crate::core::vector::decode_f32s;
use crate::core::{Error, Result};
use crate::platform::embedder::AnyEmbedder;
use crate::platform::error::storage;
use crate::platform::memory_store::{Filters, Inserted};
use crate::platform::vector_d1::D1VectorIndex;
use crate::platform::vectorize::AnyVectorIndex;

/// One search as the rankers see it: whose memories, the query as a vector and as text,
/// how many candidates to rank, and the filters every result must pass.
#[derive(Clone, Copy)]
struct RankQuery<'q, 'f> {
    owner: &'q str,
    vector: &'q [f32],
    text: &'q str,
    pool: usize,
    filters: &'q Filters<'f>,
}

/// Both rankings of a search, the cosine of every scored candidate, and the candidates that
/// pass the filters (with their memory when already fetched).
struct Ranked {
    vector_ids: Vec<i64>,
    keyword_ids: Vec<i64>,
    scores: HashMap<i64, f64>,
    passing: HashMap<i64, Option<Memory>>,
}

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
    pub async fn store_memory(&self, owner: &str, new: &NewMemory) -> Result<Inserted> {
        let (inserted, to_index) = self.insert_memory(owner, new, None).await?;
        if let Some(item) = to_index {
            if let Err(e) = self.index_memories(owner, vec![item]).await {
                worker::console_warn!("indexing deferred to repair: {e}");
            }
        }
        if let Inserted::Created(m, _) = &inserted {
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

    /// Writes a memory's row (durable when this returns). Locally (D1 index, built-in
    /// embedder) the vector commits with the row; otherwise the memory is returned for the
    /// caller to index, alone or in a batch (imports embed 100 texts per model call).
    pub async fn insert_memory(
        &self,
        owner: &str,
        new: &NewMemory,
        times: Option<(f64, f64)>,
    ) -> Result<(Inserted, Option<ToIndex>)> {
        let (created, updated) = times.unwrap_or((self.now, self.now));
        let vid = vector_id(owner, &new.content_hash);
        let inline = match (&self.index, &self.embedder) {
            (AnyVectorIndex::D1(index), AnyEmbedder::Hashing) => Some(index.statements_for_new(
                owner,
                &new.content_hash,
                &hashing_embed(&new.content),
            )?),
            _ => None,
        };
        let indexed = inline.is_some();
        let t0 = js_sys::Date::now();
        let inserted = self
            .store
            .insert(
                owner,
                new,
                (created, updated),
                inline.unwrap_or_default(),
                indexed.then_some(vid.as_str()),
            )
            .await?;
        self.timing(&[("insert", js_sys::Date::now() - t0)]);
        let to_index = match &inserted {
            Inserted::Created(m, id) if !indexed => Some(ToIndex {
                id: *id,
                content_hash: m.content_hash.clone(),
                memory_type: m.memory_type.clone(),
                content: new.content.clone(),
            }),
            _ => None,
        };
        Ok((inserted, to_index))
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
        if !self.store.delete(owner, hash, self.now).await? {
            return Ok(false);
        }
        // The row is gone, so a stale vector can no longer surface in results; one that
        // cannot be removed now stays queued for the scheduled handler. (A vector may exist
        // before its id was recorded: the id derives from owner and hash.)
        let vid = found.vector_id.unwrap_or_else(|| vector_id(owner, hash));
        self.cleanup()
            .remove_vectors(&self.index, owner, &[(found.id, vid)])
            .await;
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
        // Without a query vector (the embedder is down) the keyword ranking still answers.
        let query_vec = match self
            .embedder
            .embed_cached(&self.b.kv, std::slice::from_ref(&p.query))
            .await
        {
            Ok(mut v) => {
                let vector = v.pop();
                if vector.is_none() {
                    self.semantic_failed(
                        "the query embedding",
                        &Error::Internal("no vector".into()),
                    );
                }
                vector
            }
            Err(e) => {
                self.semantic_failed("the query embedding", &e);
                None
            }
        };
        let t0 = js_sys::Date::now();
        let ranked = match &query_vec {
            Some(vector) => {
                let q = RankQuery {
                    owner,
                    vector,
                    text: &p.query,
                    pool,
                    filters: &filters,
                };
                match &self.index {
                    AnyVectorIndex::D1(index) => self.rank_local(index, q).await?,
                    AnyVectorIndex::Vectorize(_) => self.rank_remote(q).await?,
                }
            }
            None => self.rank_keywords(owner, &p.query, pool, &filters).await?,
        };
        let t1 = js_sys::Date::now();
        let fused = rrf_fuse(&[&ranked.vector_ids, &ranked.keyword_ids]);
        let mut chosen: Vec<(i64, f64)> = Vec::new();
        for (id, _) in fused.into_iter().take(pool) {
            if !ranked.passing.contains_key(&id) {
                continue;
            }
            let cosine = ranked
                .scores
                .get(&id)
                .copied()
                .unwrap_or(0.0)
                .clamp(0.0, 1.0);
            // Without a vector score (semantic search down) a keyword hit cannot be measured
            // against the threshold; it is kept rather than silently dropped.
            let unmeasured = self.semantic_unavailable() && !ranked.scores.contains_key(&id);
            if !unmeasured && p.similarity_threshold.is_some_and(|t| cosine < t) {
                continue;
            }
            chosen.push((id, cosine));
            if chosen.len() >= n {
                break;
            }
        }
        let mut passing = ranked.passing;
        let missing: Vec<i64> = chosen
            .iter()
            .map(|(id, _)| *id)
            .filter(|id| passing.get(id).is_some_and(Option::is_none))
            .collect();
        if !missing.is_empty() {
            for (id, m) in self.store.by_ids(owner, &missing, &filters).await? {
                passing.insert(id, Some(m));
            }
        }
        self.timing(&[
            ("embed", t0 - te),
            ("rank", t1 - t0),
            ("fetch", js_sys::Date::now() - t1),
        ]);
        let mut results = Vec::with_capacity(chosen.len());
        for (id, cosine) in chosen {
            let Some(Some(memory)) = passing.remove(&id) else {
                continue;
            };
            results.push(SearchResult {
                memory,
                similarity_score: (cosine * 10_000.0).round() / 10_000.0,
                relevance_reason: {
                    let vector_rank = ranked.vector_ids.iter().position(|v| *v == id);
                    let reason = relevance_reason(
                        vector_rank,
                        ranked.keyword_ids.iter().position(|k| *k == id),
                        cosine,
                    );
                    if self.semantic_unavailable() && vector_rank.is_none() {
                        format!("{reason}; semantic search unavailable")
                    } else {
                        reason
                    }
                },
            });
        }
        self.emit(
            owner,
            "search_completed",
            json!({"type": "search_completed", "query": truncate_utf8(&p.query, 200), "results": results.len(), "timestamp": iso8601(self.now)}),
        );
        Ok(results)
    }

    /// Ranking with the local index, usually in one D1 round trip: this isolate's sketches
    /// pick the vector candidates while one batch fetches sketch changes, the keyword matches
    /// and every candidate that passes the filters with its exact vector and content. Only
    /// if the sketches changed meanwhile does a second query fetch the new candidates.
    async fn rank_local(&self, index: &D1VectorIndex<'_>, q: RankQuery<'_, '_>) -> Result<Ranked> {
        let RankQuery {
            owner,
            vector: query_vec,
            text: query,
            pool,
            filters,
        } = q;
        let top_k = pool.min(100);
        let guessed = index.cached_candidates(owner, query_vec, top_k);
        let fts = fts_query(query);
        let mut statements = index.sync_statements(owner)?;
        let sync_count = statements.len();
        statements.push(self.store.vector_candidates_statement(
            owner,
            guessed.as_deref().unwrap_or_default(),
            filters,
        )?);
        if let Some(q) = &fts {
            statements.push(
                self.store
                    .keyword_candidates_statement(owner, q, pool, filters)?,
            );
        }
        let results = self.b.db.batch(statements).await.map_err(storage)?;
        let (sync, found) = results.split_at(sync_count.min(results.len()));
        let changed = index.apply_sync(owner, sync)?;
        let mut rows = Vec::new();
        for r in found {
            rows.extend(self.store.candidate_rows(r).await?);
        }
        let mut sketched = guessed.clone().unwrap_or_default();
        if let Some(added) = changed {
            let fresh = match &guessed {
                // New sketches can only displace earlier candidates: no rescan of them all.
                Some(earlier) => index.candidates_among(
                    owner,
                    query_vec,
                    top_k,
                    earlier.iter().copied().chain(added),
                ),
                None => index
                    .cached_candidates(owner, query_vec, top_k)
                    .unwrap_or_default(),
            };
            let asked: HashSet<i64> = sketched.iter().copied().collect();
            let extra: Vec<i64> = fresh
                .iter()
                .copied()
                .filter(|id| !asked.contains(id))
                .collect();
            if !extra.is_empty() {
                let stmt = self
                    .store
                    .vector_candidates_statement(owner, &extra, filters)?;
                let more = self.b.db.batch(vec![stmt]).await.map_err(storage)?;
                for r in &more {
                    rows.extend(self.store.candidate_rows(r).await?);
                }
            }
            sketched = fresh;
        }
        let mut scores = HashMap::with_capacity(rows.len());
        let mut passing = HashMap::with_capacity(rows.len());
        let mut keyword: Vec<(i64, f64)> = Vec::new();
        for r in rows {
            if let Some(v) = r.vector.as_deref().and_then(decode_f32s) {
                scores.insert(r.id, f64::from(cosine(query_vec, &v)));
            }
            if let Some(k) = r.keyword_score {
                keyword.push((r.id, k));
            }
            // A memory can come twice (a vector and a keyword candidate); either row will do.
            passing.insert(r.id, r.memory);
        }
        keyword.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        let mut vector_ids: Vec<i64> = sketched
            .into_iter()
            .filter(|id| scores.contains_key(id) && passing.contains_key(id))
            .collect();
        vector_ids.sort_by(|a, b| scores[b].total_cmp(&scores[a]));
        vector_ids.truncate(top_k);
        Ok(Ranked {
            vector_ids,
            keyword_ids: keyword.into_iter().map(|(id, _)| id).collect(),
            scores,
            passing,
        })
    }

    /// Ranking with a remote index (Vectorize): its top hits and the keyword query at once,
    /// exact scores for keyword-only hits, then the rows of every candidate.
    async fn rank_remote(&self, q: RankQuery<'_, '_>) -> Result<Ranked> {
        let RankQuery {
            owner,
            vector: query_vec,
            text: query,
            pool,
            filters,
        } = q;
        let keyword = self.keyword_ranking(owner, query, pool, filters);
        let (vector_hits, keyword_ids) =
            futures_util::future::join(self.index.query(owner, query_vec, pool.min(100)), keyword)
                .await;
        let keyword_ids = keyword_ids?;
        let vector_hits = vector_hits.unwrap_or_else(|e| {
            self.semantic_failed("the vector index query", &e);
            Vec::new()
        });
        let vector_ids: Vec<i64> = vector_hits.iter().map(|h| h.memory_id).collect();
        let mut scores: HashMap<i64, f64> =
            vector_hits.iter().map(|h| (h.memory_id, h.score)).collect();
        let candidates: Vec<i64> = rrf_fuse(&[&vector_ids, &keyword_ids])
            .into_iter()
            .map(|(id, _)| id)
            .take(pool)
            .collect();
        let unscored: Vec<i64> = candidates
            .iter()
            .copied()
            .filter(|id| !scores.contains_key(id))
            .collect();
        if !unscored.is_empty() {
            match self.index.similarity(owner, query_vec, &unscored).await {
                Ok(hits) => scores.extend(hits.into_iter().map(|h| (h.memory_id, h.score))),
                Err(e) => self.semantic_failed("the vector lookup", &e),
            }
        }
        let passing = self.passing(owner, &candidates, filters).await?;
        Ok(Ranked {
            vector_ids,
            keyword_ids,
            scores,
            passing,
        })
    }

    /// Ranking by keywords alone, when the query could not be embedded.
    async fn rank_keywords(
        &self,
        owner: &str,
        query: &str,
        pool: usize,
        filters: &Filters<'_>,
    ) -> Result<Ranked> {
        let keyword_ids = self.keyword_ranking(owner, query, pool, filters).await?;
        let passing = self.passing(owner, &keyword_ids, filters).await?;
        Ok(Ranked {
            vector_ids: Vec::new(),
            keyword_ids,
            scores: HashMap::new(),
            passing,
        })
    }

    /// The candidates that pass the filters, with their memories.
    async fn passing(
        &self,
        owner: &str,
        ids: &[i64],
        filters: &Filters<'_>,
    ) -> Result<HashMap<i64, Option<Memory>>> {
        Ok(self
            .store
            .by_ids(owner, ids, filters)
            .await?
            .into_iter()
            .map(|(id, m)| (id, Some(m)))
            .collect())
    }

    async fn keyword_ranking(
        &self,
        owner: &str,
        query: &str,
        pool: usize,
        filters: &Filters<'_>,
    ) -> Result<Vec<i64>> {
        match fts_query(query) {
            Some(q) => self.store.keyword_search(owner, &q, pool, filters).await,
            None => Ok(Vec::new()),
        }
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
