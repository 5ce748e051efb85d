//! The local vector index over D1, for runs without Vectorize. Each vector is stored exactly
//! (f32) with a 1024-bit SimHash sketch. Each isolate keeps the owner's sketches in memory and
//! catches up incrementally (rows and tombstones carry a growing `seq`), so a query scans
//! sketches in memory and re-ranks only the best candidates with their exact vectors.

use std::cell::RefCell;
use std::collections::HashMap;

use serde::Deserialize;
use worker::D1Database;

use crate::core::embed::cosine;
use crate::core::ports::{VectorEntry, VectorHit, VectorIndex};
use crate::core::vector::{
    decode_f32s, decode_sketch, encode_f32s, encode_sketch, hamming, sketch, top_candidates, Sketch,
};
use crate::core::{Error, Result};
use crate::platform::d1::{self, Arg};
use crate::platform::error::storage;
use crate::platform::memory_store::mark_indexed;

/// How many candidates the sketches pick for exact re-ranking of a top `top_k`.
fn candidate_count(top_k: usize) -> usize {
    (top_k * 3).clamp(64, 400)
}

/// D1 statements per batch stay well under the platform's limits.
const UPSERT_CHUNK: usize = 50;

#[derive(Default)]
struct OwnerSketches {
    seq: i64,
    ids: Vec<i64>,
    sketches: Vec<Sketch>,
    pos: HashMap<i64, usize>,
}

impl OwnerSketches {
    fn put(&mut self, id: i64, s: Sketch) {
        match self.pos.get(&id) {
            Some(&i) => self.sketches[i] = s,
            None => {
                self.pos.insert(id, self.ids.len());
                self.ids.push(id);
                self.sketches.push(s);
            }
        }
    }

    fn remove(&mut self, id: i64) {
        if let Some(i) = self.pos.remove(&id) {
            self.ids.swap_remove(i);
            self.sketches.swap_remove(i);
            if i < self.ids.len() {
                self.pos.insert(self.ids[i], i);
            }
        }
    }
}

thread_local! {
    static CACHE: RefCell<HashMap<String, OwnerSketches>> = RefCell::new(HashMap::new());
}

pub struct D1VectorIndex<'a> {
    db: &'a D1Database,
}

#[derive(Deserialize)]
struct SketchRow {
    memory_id: i64,
    seq: i64,
    sketch: Option<String>,
}

#[derive(Deserialize)]
struct VectorRow {
    memory_id: i64,
    vector: String,
}

impl<'a> D1VectorIndex<'a> {
    pub fn new(db: &'a D1Database) -> Self {
        D1VectorIndex { db }
    }

    /// Advances the write sequence that isolates' sketch caches catch up by.
    fn bump_seq(&self) -> Result<worker::D1PreparedStatement> {
        d1::stmt(
            self.db,
            "UPDATE counters SET value = value + 1 WHERE name = 'vector_seq'",
            &[],
        )
    }

    /// Brings this isolate's sketches of `owner` up to date with D1.
    async fn sync(&self, owner: &str) -> Result<()> {
        let results = self
            .db
            .batch(self.sync_statements(owner)?)
            .await
            .map_err(storage)?;
        self.apply_sync(owner, &results)?;
        Ok(())
    }

    /// The two queries that fetch `owner`'s sketch changes since this isolate last looked;
    /// they may ride in a larger batch, whose results go to `apply_sync`.
    pub fn sync_statements(&self, owner: &str) -> Result<Vec<worker::D1PreparedStatement>> {
        let since = CACHE.with(|c| c.borrow().get(owner).map_or(-1, |o| o.seq));
        Ok(vec![
            d1::stmt(
                self.db,
                "SELECT memory_id, seq, sketch FROM vectors WHERE owner = ?1 AND seq > ?2",
                &[owner.into(), since.into()],
            )?,
            d1::stmt(
                self.db,
                "SELECT memory_id, seq, NULL AS sketch FROM vector_tombstones WHERE owner = ?1 AND seq > ?2",
                &[owner.into(), since.into()],
            )?,
        ])
    }

    /// Applies the results of `sync_statements`: `None` if nothing changed, else the ids
    /// whose sketches were added or replaced.
    pub fn apply_sync(
        &self,
        owner: &str,
        results: &[worker::D1Result],
    ) -> Result<Option<Vec<i64>>> {
        let mut changes: Vec<SketchRow> = Vec::new();
        for r in results {
            changes.extend(r.results::<SketchRow>().map_err(storage)?);
        }
        let known = CACHE.with(|c| c.borrow().contains_key(owner));
        if changes.is_empty() && known {
            return Ok(None);
        }
        let mut added = Vec::new();
        // Apply in write order: a tombstone and a later re-insert of the same id must end inserted.
        changes.sort_by_key(|c| (c.seq, c.sketch.is_some()));
        CACHE.with(|c| {
            let mut cache = c.borrow_mut();
            let entry = cache.entry(owner.to_string()).or_default();
            for ch in changes {
                match ch.sketch.as_deref().and_then(decode_sketch) {
                    Some(s) => {
                        entry.put(ch.memory_id, s);
                        added.push(ch.memory_id);
                    }
                    None => entry.remove(ch.memory_id),
                }
                entry.seq = entry.seq.max(ch.seq);
            }
            entry.seq = entry.seq.max(0);
        });
        Ok(Some(added))
    }

    async fn exact(&self, owner: &str, vector: &[f32], ids: &[i64]) -> Result<Vec<VectorHit>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids_json = serde_json::to_string(ids).map_err(|e| Error::Internal(e.to_string()))?;
        let rows: Vec<VectorRow> = d1::all(
            self.db,
            "SELECT memory_id, vector FROM vectors WHERE +owner = ?1 AND memory_id IN (SELECT value FROM json_each(?2))",
            &[owner.into(), (&ids_json).into()],
        )
        .await?;
        let mut hits: Vec<VectorHit> = rows
            .into_iter()
            .filter_map(|r| {
                decode_f32s(&r.vector).map(|v| VectorHit {
                    memory_id: r.memory_id,
                    score: f64::from(cosine(vector, &v)),
                })
            })
            .collect();
        hits.sort_by(|a, b| b.score.total_cmp(&a.score));
        Ok(hits)
    }
}

impl D1VectorIndex<'_> {
    /// Memory ids whose sketches are nearest to `vector`: enough candidates for the exact
    /// re-ranking to find the true `top_k` (after bringing this isolate's sketches up to date).
    pub async fn candidates(&self, owner: &str, vector: &[f32], top_k: usize) -> Result<Vec<i64>> {
        self.sync(owner).await?;
        Ok(self
            .cached_candidates(owner, vector, top_k)
            .unwrap_or_default())
    }

    /// Like `candidates`, from this isolate's sketches as they are (`None` if it has none
    /// of `owner` yet): a search can ask D1 for them and for changes in the same round trip.
    /// The best of `ids` (those still cached) by sketch distance, as many as
    /// `cached_candidates` picks: after a few writes, the earlier candidates plus the new
    /// sketches stand in for a scan of every sketch.
    pub fn candidates_among(
        &self,
        owner: &str,
        vector: &[f32],
        top_k: usize,
        ids: impl Iterator<Item = i64>,
    ) -> Vec<i64> {
        let q = sketch(vector);
        CACHE.with(|c| {
            let cache = c.borrow();
            let Some(entry) = cache.get(owner) else {
                return Vec::new();
            };
            let mut scored: Vec<(u32, i64)> = ids
                .filter_map(|id| {
                    entry
                        .pos
                        .get(&id)
                        .map(|&i| (hamming(&q, &entry.sketches[i]), id))
                })
                .collect();
            scored.sort_unstable();
            scored.dedup_by_key(|(_, id)| *id);
            scored.truncate(candidate_count(top_k));
            scored.into_iter().map(|(_, id)| id).collect()
        })
    }

    pub fn cached_candidates(&self, owner: &str, vector: &[f32], top_k: usize) -> Option<Vec<i64>> {
        let q = sketch(vector);
        let wanted = candidate_count(top_k);
        CACHE.with(|c| {
            let cache = c.borrow();
            let entry = cache.get(owner)?;
            if entry.ids.len() <= wanted {
                return Some(entry.ids.clone());
            }
            Some(
                top_candidates(&q, &entry.sketches, wanted)
                    .into_iter()
                    .map(|(i, _)| entry.ids[i])
                    .collect(),
            )
        })
    }

    /// Statements that index a memory in the same D1 batch that inserts it (found by owner
    /// and content hash), so that a local store is one transaction and one round trip. The
    /// insert itself marks the row indexed (`MemoryStore::insert`'s `indexed_as`).
    pub fn statements_for_new(
        &self,
        owner: &str,
        content_hash: &str,
        values: &[f32],
    ) -> Result<Vec<worker::D1PreparedStatement>> {
        let sk = encode_sketch(&sketch(values));
        let vec = encode_f32s(values);
        Ok(vec![
            self.bump_seq()?,
            d1::stmt(
                self.db,
                "INSERT INTO vectors (memory_id, owner, seq, sketch, vector)
                 SELECT id, owner, (SELECT value FROM counters WHERE name = 'vector_seq'), ?3, ?4
                 FROM memories WHERE owner = ?1 AND content_hash = ?2",
                &[
                    owner.into(),
                    content_hash.into(),
                    Arg::Text(&sk),
                    Arg::Text(&vec),
                ],
            )?,
        ])
    }
}

impl VectorIndex for D1VectorIndex<'_> {
    async fn upsert(&self, owner: &str, entries: &[VectorEntry]) -> Result<()> {
        for chunk in entries.chunks(UPSERT_CHUNK) {
            let mut statements = vec![self.bump_seq()?];
            for e in chunk {
                let sk = encode_sketch(&sketch(&e.values));
                let vec = encode_f32s(&e.values);
                statements.push(d1::stmt(
                    self.db,
                    "INSERT INTO vectors (memory_id, owner, seq, sketch, vector)
                     VALUES (?1, ?2, (SELECT value FROM counters WHERE name = 'vector_seq'), ?3, ?4)
                     ON CONFLICT (memory_id) DO UPDATE SET seq = excluded.seq, sketch = excluded.sketch, vector = excluded.vector",
                    &[e.memory_id.into(), owner.into(), Arg::Text(&sk), Arg::Text(&vec)],
                )?);
                statements.push(mark_indexed(self.db, e.memory_id, owner, &e.vector_id)?);
            }
            d1::batch(self.db, statements).await?;
        }
        Ok(())
    }

    async fn query(&self, owner: &str, vector: &[f32], top_k: usize) -> Result<Vec<VectorHit>> {
        let candidates = self.candidates(owner, vector, top_k).await?;
        let mut hits = self.exact(owner, vector, &candidates).await?;
        hits.truncate(top_k);
        Ok(hits)
    }

    async fn similarity(
        &self,
        owner: &str,
        vector: &[f32],
        memory_ids: &[i64],
    ) -> Result<Vec<VectorHit>> {
        self.exact(owner, vector, memory_ids).await
    }

    async fn delete(&self, owner: &str, entries: &[(i64, String)]) -> Result<()> {
        for chunk in entries.chunks(UPSERT_CHUNK) {
            let mut statements = vec![self.bump_seq()?];
            for (memory_id, _) in chunk {
                statements.push(d1::stmt(
                    self.db,
                    "DELETE FROM vectors WHERE memory_id = ?1 AND owner = ?2",
                    &[(*memory_id).into(), owner.into()],
                )?);
                statements.push(d1::stmt(
                    self.db,
                    "INSERT INTO vector_tombstones (memory_id, owner, seq)
                     VALUES (?1, ?2, (SELECT value FROM counters WHERE name = 'vector_seq'))",
                    &[(*memory_id).into(), owner.into()],
                )?);
            }
            d1::batch(self.db, statements).await?;
        }
        Ok(())
    }
}
