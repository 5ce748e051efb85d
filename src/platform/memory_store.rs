//! `MemoryStore` over D1 (rows, tags, keyword index) and R2 (content over 1 MB).
//! D1 is the source of truth; every write is one `db.batch`, so it lands whole or not at all.

use serde::Deserialize;
use serde_json::{Map, Value};
use worker::{D1Database, D1PreparedStatement};

use crate::core::memory::{Memory, MemoryPatch, NewMemory};
use crate::core::text::truncate_utf8;
use crate::core::{Error, Result};
use crate::platform::blob_store::BlobStore;
use crate::platform::cleanup_queue::CleanupQueue;
use crate::platform::crypto::random_hex;
use crate::platform::d1::{self, Arg};

pub struct MemoryStore<'a> {
    db: &'a D1Database,
    blobs: &'a BlobStore,
}

pub enum Inserted {
    /// A new memory and its row id.
    Created(Memory, i64),
    Duplicate(Memory),
}

#[derive(Deserialize)]
struct Row {
    content: Option<String>,
    blob_key: Option<String>,
    content_hash: String,
    memory_type: Option<String>,
    tags: String,
    metadata: String,
    created_at: f64,
    updated_at: f64,
}

#[derive(Deserialize)]
struct Count {
    n: i64,
}

const COLUMNS: &str =
    "content, blob_key, content_hash, memory_type, tags, metadata, created_at, updated_at";

/// Marks a memory's vector as written (both vector index adapters use it).
pub fn mark_indexed(
    db: &D1Database,
    memory_id: i64,
    owner: &str,
    vector_id: &str,
) -> Result<D1PreparedStatement> {
    d1::stmt(
        db,
        "UPDATE memories SET vector_state = 1, vector_id = ?3 WHERE id = ?1 AND owner = ?2",
        &[memory_id.into(), owner.into(), Arg::Text(vector_id)],
    )
}

/// The R2 key of a large memory's content.
/// A fresh R2 key for one stored copy of a memory's content.
fn blob_key(owner: &str, hash: &str) -> Result<String> {
    Ok(format!("memories/{owner}/{hash}/{}", random_hex::<8>()?))
}

impl<'a> MemoryStore<'a> {
    pub fn new(db: &'a D1Database, blobs: &'a BlobStore) -> Self {
        MemoryStore { db, blobs }
    }

    async fn hydrate(&self, row: Row) -> Result<Memory> {
        let content = match (row.content, row.blob_key) {
            (Some(c), _) => c,
            (None, Some(key)) => self.blob_text(&key).await?,
            (None, None) => return Err(Error::Storage("memory row without content".into())),
        };
        let tags: Vec<String> = serde_json::from_str(&row.tags).unwrap_or_default();
        let metadata: Map<String, Value> = serde_json::from_str(&row.metadata).unwrap_or_default();
        let mut m = Memory::new(
            content,
            tags,
            row.memory_type,
            metadata,
            row.created_at,
            row.updated_at,
        );
        m.content_hash = row.content_hash;
        Ok(m)
    }

    pub async fn get(&self, owner: &str, hash: &str) -> Result<Option<Memory>> {
        let row: Option<Row> = d1::first(
            self.db,
            &format!("SELECT {COLUMNS} FROM memories WHERE owner = ?1 AND content_hash = ?2"),
            &[owner.into(), hash.into()],
        )
        .await?;
        match row {
            Some(r) => Ok(Some(self.hydrate(r).await?)),
            None => Ok(None),
        }
    }

    /// Stores a memory unless the owner already has the same content. Large content goes
    /// to R2 first; one D1 batch (row, tags, keyword index, and `extra` statements such as
    /// its vector) then commits it. `indexed_as` is the vector id when `extra` writes the
    /// vector in the same batch, so the row is born indexed.
    pub async fn insert(
        &self,
        owner: &str,
        m: &NewMemory,
        (created_at, updated_at): (f64, f64),
        extra: Vec<D1PreparedStatement>,
        indexed_as: Option<&str>,
    ) -> Result<Inserted> {
        let large = m.content.len() > self.blobs.large_content_threshold;
        // Small content needs no pre-check: the unique index settles duplicates. Large content
        // is checked first so that a duplicate never overwrites the stored R2 object.
        if large {
            if let Some(existing) = self.get(owner, &m.content_hash).await? {
                return Ok(Inserted::Duplicate(existing));
            }
        }
        // Each stored copy gets its own key, held in the cleanup queue until its row commits:
        // a delete of an earlier copy, a concurrent store or a crash can orphan an object but
        // never remove one that a row uses.
        let key = match large {
            true => Some(blob_key(owner, &m.content_hash)?),
            false => None,
        };
        let queue = CleanupQueue::new(self.db);
        if let Some(k) = &key {
            queue
                .hold_blob(owner, k, js_sys::Date::now() / 1000.0)
                .await?;
            self.blobs.put(k, m.content.as_bytes().to_vec()).await?;
        }
        let tags = serde_json::to_string(&m.tags).map_err(|e| Error::Internal(e.to_string()))?;
        let metadata =
            serde_json::to_string(&m.metadata).map_err(|e| Error::Internal(e.to_string()))?;
        // The keyword index holds at most the first 256 KiB of a very large text.
        let indexed_text = truncate_utf8(&m.content, 256 * 1024);
        let mut statements = vec![d1::stmt(
            self.db,
            "INSERT INTO memories (owner, content_hash, content, blob_key, content_bytes, memory_type, tags, metadata, created_at, updated_at, vector_state, vector_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            &[
                owner.into(),
                (&m.content_hash).into(),
                if large { Arg::Null } else { (&m.content).into() },
                key.as_deref().into(),
                (m.content.len() as i64).into(),
                m.memory_type.as_deref().into(),
                (&tags).into(),
                (&metadata).into(),
                created_at.into(),
                updated_at.into(),
                Arg::Int(i64::from(indexed_as.is_some())),
                indexed_as.into(),
            ],
        )?];
        if !m.tags.is_empty() {
            statements.push(d1::stmt(
                self.db,
                "INSERT INTO memory_tags (memory_id, owner, tag)
                 SELECT m.id, m.owner, j.value FROM memories m, json_each(?3) j
                 WHERE m.owner = ?1 AND m.content_hash = ?2",
                &[owner.into(), (&m.content_hash).into(), (&tags).into()],
            )?);
        }
        statements.push(d1::stmt(
            self.db,
            "INSERT INTO memories_fts (rowid, content, tags)
             SELECT id, ?3, ?4 FROM memories WHERE owner = ?1 AND content_hash = ?2",
            &[
                owner.into(),
                (&m.content_hash).into(),
                indexed_text.into(),
                m.tags.join(" ").as_str().into(),
            ],
        )?);
        statements.extend(extra);
        let id = match d1::batch_row_id(self.db, statements).await {
            Ok(Some(id)) => id,
            Ok(None) => return Err(Error::Storage("the insert reported no row id".into())),
            Err(e) => {
                // This copy's object is not used: removed now, or by the scheduled handler.
                if let Some(k) = &key {
                    queue.remove_blob(self.blobs, owner, k).await;
                }
                if d1::is_unique_violation(&e) {
                    // The owner already has this content (or a concurrent request stored it).
                    if let Some(existing) = self.get(owner, &m.content_hash).await? {
                        return Ok(Inserted::Duplicate(existing));
                    }
                }
                return Err(e);
            }
        };
        if let Some(k) = &key {
            if let Err(e) = queue.done_blobs(owner, &[k]).await {
                // Harmless: the scheduled handler keeps an object that a row uses.
                worker::console_warn!("stored content left queued: {e}");
            }
        }
        let mut memory = Memory::new(
            m.content.clone(),
            m.tags.clone(),
            m.memory_type.clone(),
            m.metadata.clone(),
            created_at,
            updated_at,
        );
        memory.content_hash = m.content_hash.clone();
        Ok(Inserted::Created(memory, id))
    }

    pub async fn list(
        &self,
        owner: &str,
        page: u32,
        page_size: u32,
        tag: Option<&str>,
        memory_type: Option<&str>,
    ) -> Result<(Vec<Memory>, u64)> {
        let filter = "m.owner = ?1
            AND (?2 IS NULL OR m.memory_type = ?2)
            AND (?3 IS NULL OR EXISTS (SELECT 1 FROM memory_tags t WHERE t.memory_id = m.id AND t.tag = ?3))";
        let offset = (page.saturating_sub(1) as i64) * page_size as i64;
        let rows: Vec<Row> = d1::all(
            self.db,
            &format!(
                "SELECT {COLUMNS} FROM memories m WHERE {filter}
                 ORDER BY m.created_at DESC, m.id DESC LIMIT ?4 OFFSET ?5"
            ),
            &[
                owner.into(),
                memory_type.into(),
                tag.into(),
                (page_size as i64).into(),
                offset.into(),
            ],
        )
        .await?;
        let total: Option<Count> = d1::first(
            self.db,
            &format!("SELECT COUNT(*) AS n FROM memories m WHERE {filter}"),
            &[owner.into(), memory_type.into(), tag.into()],
        )
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push(self.hydrate(r).await?);
        }
        Ok((out, total.map_or(0, |c| c.n.max(0) as u64)))
    }

    pub async fn update(
        &self,
        owner: &str,
        hash: &str,
        patch: &MemoryPatch,
        now: f64,
    ) -> Result<Option<Memory>> {
        let Some(current) = self.get(owner, hash).await? else {
            return Ok(None);
        };
        let tags = patch.tags.clone().unwrap_or(current.tags.clone());
        let memory_type = patch
            .memory_type
            .clone()
            .unwrap_or(current.memory_type.clone());
        let metadata = patch.metadata.clone().unwrap_or(current.metadata.clone());
        let tags_json = serde_json::to_string(&tags).map_err(|e| Error::Internal(e.to_string()))?;
        let metadata_json =
            serde_json::to_string(&metadata).map_err(|e| Error::Internal(e.to_string()))?;
        let statements = vec![
            d1::stmt(
                self.db,
                "UPDATE memories SET tags = ?3, memory_type = ?4, metadata = ?5, updated_at = ?6
                 WHERE owner = ?1 AND content_hash = ?2",
                &[
                    owner.into(),
                    hash.into(),
                    (&tags_json).into(),
                    memory_type.as_deref().into(),
                    (&metadata_json).into(),
                    now.into(),
                ],
            )?,
            d1::stmt(
                self.db,
                "DELETE FROM memory_tags WHERE memory_id = (SELECT id FROM memories WHERE owner = ?1 AND content_hash = ?2)",
                &[owner.into(), hash.into()],
            )?,
            d1::stmt(
                self.db,
                "INSERT INTO memory_tags (memory_id, owner, tag)
                 SELECT m.id, m.owner, j.value FROM memories m, json_each(?3) j
                 WHERE m.owner = ?1 AND m.content_hash = ?2",
                &[owner.into(), hash.into(), (&tags_json).into()],
            )?,
            d1::stmt(
                self.db,
                "UPDATE memories_fts SET tags = ?3 WHERE rowid = (SELECT id FROM memories WHERE owner = ?1 AND content_hash = ?2)",
                &[owner.into(), hash.into(), tags.join(" ").as_str().into()],
            )?,
        ];
        d1::batch(self.db, statements).await?;
        self.get(owner, hash).await
    }

    /// Deletes a memory with its tags and keyword entry; its R2 content and vector are queued
    /// for removal in the same batch. The content is removed here; the vector by the caller.
    /// Returns whether the memory existed.
    pub async fn delete(&self, owner: &str, hash: &str, now: f64) -> Result<bool> {
        #[derive(Deserialize)]
        struct Found {
            blob_key: Option<String>,
        }
        let found: Option<Found> = d1::first(
            self.db,
            "SELECT blob_key FROM memories WHERE owner = ?1 AND content_hash = ?2",
            &[owner.into(), hash.into()],
        )
        .await?;
        let Some(found) = found else { return Ok(false) };
        let args = [Arg::from(owner), Arg::from(hash)];
        let queue = CleanupQueue::new(self.db);
        let mut statements =
            queue.enqueue_memories("owner = ?1 AND content_hash = ?2", owner, hash, now)?;
        statements.extend([
            d1::stmt(
                self.db,
                "DELETE FROM memories_fts WHERE rowid = (SELECT id FROM memories WHERE owner = ?1 AND content_hash = ?2)",
                &args,
            )?,
            d1::stmt(
                self.db,
                "DELETE FROM memory_tags WHERE memory_id = (SELECT id FROM memories WHERE owner = ?1 AND content_hash = ?2)",
                &args,
            )?,
            d1::stmt(
                self.db,
                "DELETE FROM memories WHERE owner = ?1 AND content_hash = ?2",
                &args,
            )?,
        ]);
        d1::batch(self.db, statements).await?;
        if let Some(k) = found.blob_key {
            // The delete has committed: a failure here is the scheduled handler's to retry.
            queue.remove_blob(self.blobs, owner, &k).await;
        }
        Ok(true)
    }
}

/// A memory row with its internal id, for search and indexing.
#[derive(Deserialize)]
pub struct IdRef {
    pub id: i64,
    pub vector_id: Option<String>,
}

#[derive(Deserialize)]
pub struct Unindexed {
    pub id: i64,
    pub owner: String,
    pub content_hash: String,
    pub memory_type: Option<String>,
    pub content: Option<String>,
    pub blob_key: Option<String>,
}

#[derive(Deserialize)]
struct IdRow {
    id: i64,
    #[serde(flatten)]
    row: Row,
}

/// How many of an owner's newest keyword matches BM25 ranks (see `keyword_cte`).
const KEYWORD_WINDOW: i64 = 5_000;
/// Content up to this size comes back with a search's scoring query.
const INLINE_CONTENT_BYTES: i64 = 16 * 1024;

/// Columns of a search candidate: the row (content only up to ?8 bytes) and its vector.
const CANDIDATE_COLUMNS: &str = "m.id, v.vector,
    CASE WHEN m.content_bytes <= ?8 THEN m.content END AS content,
    m.blob_key, m.content_hash, m.memory_type, m.tags, m.metadata, m.created_at, m.updated_at";

/// A search candidate with its local-index vector (base64 f32) and BM25 score (lower is
/// better; `None` if it is not a keyword match), see `MemoryStore::vector_candidates_statement`.
pub struct Candidate {
    pub id: i64,
    pub vector: Option<String>,
    pub keyword_score: Option<f64>,
    /// `None` when the content is too large to come inline.
    pub memory: Option<Memory>,
}

#[derive(Deserialize)]
struct KeywordHit {
    id: i64,
}

/// Optional restrictions on which memories a query may return.
#[derive(Default, Clone)]
pub struct Filters<'f> {
    pub tags: &'f [String],
    pub match_all: bool,
    pub since: Option<f64>,
    pub until: Option<f64>,
    pub memory_type: Option<&'f str>,
}

/// SQL conditions on `m` for `Filters`, using parameters ?3..?7.
const FILTER_SQL: &str = "(?3 IS NULL OR m.created_at >= ?3) AND (?4 IS NULL OR m.created_at < ?4)
    AND (?5 IS NULL OR m.memory_type = ?5)
    AND (?6 = '[]' OR (
        SELECT COUNT(DISTINCT t.tag) FROM memory_tags t
        WHERE t.memory_id = m.id AND t.tag IN (SELECT value FROM json_each(?6))
    ) >= CASE WHEN ?7 = 1 THEN json_array_length(?6) ELSE 1 END)";

/// The owner's best keyword (BM25) matches as `kw(id, score)` (lower score is better), with
/// parameters ?1 owner, ?3..?7 filters, ?9 the FTS5 query, ?10 how many, ?11 the window.
/// BM25 is scored over the owner's newest `KEYWORD_WINDOW` matches when a query matches more:
/// counting matches is cheap, scoring each is not, and a query whose terms match that many
/// memories is made of common words whose keyword rank says little (the vector ranking
/// still covers every memory).
fn keyword_cte() -> String {
    format!(
        "kw AS (
           SELECT m.id AS id, bm25(memories_fts) AS score
           FROM memories_fts JOIN memories m ON m.id = memories_fts.rowid
           WHERE memories_fts MATCH ?9 AND m.owner = ?1 AND {FILTER_SQL}
             AND memories_fts.rowid >= CASE
               WHEN (SELECT count(*) FROM memories_fts AS c WHERE c.memories_fts MATCH ?9) <= ?11 THEN 0
               ELSE coalesce((
                 SELECT w.rowid FROM memories_fts AS w JOIN memories o ON o.id = w.rowid
                 WHERE w.memories_fts MATCH ?9 AND o.owner = ?1
                 ORDER BY w.rowid DESC LIMIT 1 OFFSET ?11), 0) END
           ORDER BY score LIMIT ?10)"
    )
}

impl MemoryStore<'_> {
    fn filter_args<'f>(f: &'f Filters<'f>, tags_json: &'f str) -> [Arg<'f>; 5] {
        [
            f.since.map_or(Arg::Null, Arg::Real),
            f.until.map_or(Arg::Null, Arg::Real),
            f.memory_type.into(),
            Arg::Text(tags_json),
            Arg::Int(i64::from(f.match_all)),
        ]
    }

    pub async fn id_of(&self, owner: &str, hash: &str) -> Result<Option<IdRef>> {
        d1::first(
            self.db,
            "SELECT id, vector_id FROM memories WHERE owner = ?1 AND content_hash = ?2",
            &[owner.into(), hash.into()],
        )
        .await
    }

    /// The owner's memories with these ids that pass the filters, keyed by id.
    pub async fn by_ids(
        &self,
        owner: &str,
        ids: &[i64],
        f: &Filters<'_>,
    ) -> Result<Vec<(i64, Memory)>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids_json = serde_json::to_string(ids).map_err(|e| Error::Internal(e.to_string()))?;
        let tags_json =
            serde_json::to_string(f.tags).map_err(|e| Error::Internal(e.to_string()))?;
        let mut args = vec![Arg::from(owner), Arg::Text(&ids_json)];
        args.extend(Self::filter_args(f, &tags_json));
        let rows: Vec<IdRow> = d1::all(
            self.db,
            &format!(
                "SELECT m.id, {COLUMNS} FROM memories m WHERE +m.owner = ?1
                 AND m.id IN (SELECT value FROM json_each(?2)) AND {FILTER_SQL}"
            ),
            &args,
        )
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push((r.id, self.hydrate(r.row).await?));
        }
        Ok(out)
    }

    /// Best keyword (BM25) matches of an FTS5 query, best first (see `keyword_cte`).
    pub async fn keyword_search(
        &self,
        owner: &str,
        fts: &str,
        limit: usize,
        f: &Filters<'_>,
    ) -> Result<Vec<i64>> {
        let tags_json =
            serde_json::to_string(f.tags).map_err(|e| Error::Internal(e.to_string()))?;
        let mut args = vec![Arg::from(owner), Arg::Null];
        args.extend(Self::filter_args(f, &tags_json));
        args.extend([
            Arg::Null,
            Arg::Text(fts),
            Arg::Int(limit as i64),
            Arg::Int(KEYWORD_WINDOW - 1),
        ]);
        let sql = format!(
            "WITH {} SELECT id FROM kw WHERE ?2 IS NULL AND ?8 IS NULL ORDER BY score, id",
            keyword_cte()
        );
        let hits: Vec<KeywordHit> = d1::all(self.db, &sql, &args).await?;
        Ok(hits.into_iter().map(|h| h.id).collect())
    }

    /// For the local vector index: the owner's memories among `ids` that pass the filters,
    /// each with its stored vector, so that a search scores and fetches in one query.
    /// Content over `INLINE_CONTENT_BYTES` is left out; fetch those few with `by_ids`.
    pub fn vector_candidates_statement(
        &self,
        owner: &str,
        ids: &[i64],
        f: &Filters<'_>,
    ) -> Result<D1PreparedStatement> {
        let ids_json = serde_json::to_string(ids).map_err(|e| Error::Internal(e.to_string()))?;
        let tags_json =
            serde_json::to_string(f.tags).map_err(|e| Error::Internal(e.to_string()))?;
        let mut args = vec![Arg::from(owner), Arg::Text(&ids_json)];
        args.extend(Self::filter_args(f, &tags_json));
        args.push(Arg::Int(INLINE_CONTENT_BYTES));
        // `+m.owner` keeps SQLite on the id lookups: with the owner index it would scan
        // every memory of the owner (11 ms at 100k instead of 0.3).
        d1::stmt(
            self.db,
            &format!(
                "SELECT {CANDIDATE_COLUMNS}, NULL AS keyword_score
                 FROM memories m LEFT JOIN vectors v ON v.memory_id = m.id
                 WHERE +m.owner = ?1 AND m.id IN (SELECT value FROM json_each(?2)) AND {FILTER_SQL}"
            ),
            &args,
        )
    }

    /// The best keyword (BM25) matches, as `vector_candidates_statement` rows with their
    /// score; the same window as `keyword_search`.
    pub fn keyword_candidates_statement(
        &self,
        owner: &str,
        fts: &str,
        limit: usize,
        f: &Filters<'_>,
    ) -> Result<D1PreparedStatement> {
        let tags_json =
            serde_json::to_string(f.tags).map_err(|e| Error::Internal(e.to_string()))?;
        let mut args = vec![Arg::from(owner), Arg::Null];
        args.extend(Self::filter_args(f, &tags_json));
        args.push(Arg::Int(INLINE_CONTENT_BYTES));
        args.push(Arg::Text(fts));
        args.push(Arg::Int(limit as i64));
        args.push(Arg::Int(KEYWORD_WINDOW - 1));
        d1::stmt(
            self.db,
            &format!(
                "WITH {} SELECT {CANDIDATE_COLUMNS}, kw.score AS keyword_score
                 FROM kw JOIN memories m ON m.id = kw.id LEFT JOIN vectors v ON v.memory_id = m.id
                 WHERE ?2 IS NULL",
                keyword_cte()
            ),
            &args,
        )
    }

    /// The rows of a `vector_candidates_statement` or `keyword_candidates_statement` result.
    pub async fn candidate_rows(&self, result: &worker::D1Result) -> Result<Vec<Candidate>> {
        #[derive(Deserialize)]
        struct Scored {
            id: i64,
            vector: Option<String>,
            keyword_score: Option<f64>,
            #[serde(flatten)]
            row: Row,
        }
        if let Some(e) = result.error() {
            return Err(Error::Storage(e));
        }
        let rows: Vec<Scored> = result.results().map_err(crate::platform::error::storage)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let memory = match r.row.content {
                Some(_) => Some(self.hydrate(r.row).await?),
                None => None,
            };
            out.push(Candidate {
                id: r.id,
                vector: r.vector,
                keyword_score: r.keyword_score,
                memory,
            });
        }
        Ok(out)
    }

    /// Memories matching only filters (tags, time range), newest first.
    pub async fn filtered(
        &self,
        owner: &str,
        f: &Filters<'_>,
        limit: usize,
    ) -> Result<Vec<(i64, Memory)>> {
        let tags_json =
            serde_json::to_string(f.tags).map_err(|e| Error::Internal(e.to_string()))?;
        let mut args = vec![Arg::from(owner), Arg::Null];
        args.extend(Self::filter_args(f, &tags_json));
        args.push(Arg::Int(limit as i64));
        let rows: Vec<IdRow> = d1::all(
            self.db,
            &format!(
                "SELECT m.id, {COLUMNS} FROM memories m WHERE m.owner = ?1 AND (?2 IS NULL) AND {FILTER_SQL}
                 ORDER BY m.created_at DESC, m.id DESC LIMIT ?8"
            ),
            &args,
        )
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push((r.id, self.hydrate(r.row).await?));
        }
        Ok(out)
    }

    /// Memories whose vector is missing (a failed or interrupted index write), oldest first.
    /// Memories whose vector write failed, leaving out those written in the last 5 seconds
    /// (`older_than` = now - 5), whose writes may still be under way. An imported memory
    /// dated in the future is not "recent".
    pub async fn unindexed(&self, older_than: f64, limit: usize) -> Result<Vec<Unindexed>> {
        d1::all(
            self.db,
            "SELECT id, owner, content_hash, memory_type, content, blob_key FROM memories
             WHERE vector_state = 0 AND (created_at < ?1 OR created_at > ?1 + 5.0)
             ORDER BY id LIMIT ?2",
            &[older_than.into(), (limit as i64).into()],
        )
        .await
    }

    pub async fn blob_text(&self, key: &str) -> Result<String> {
        self.blobs.text(key).await
    }
}

#[derive(serde::Serialize, Deserialize)]
pub struct TagCount {
    pub tag: String,
    pub count: i64,
}

#[derive(serde::Serialize, Deserialize, Default)]
pub struct Stats {
    pub total_memories: i64,
    pub unique_tags: i64,
    pub memories_this_week: i64,
    pub documents: i64,
    pub unindexed: i64,
    /// R2 objects and vectors of deleted memories still to be removed (retried by cron).
    pub pending_cleanup: i64,
    pub total_bytes: i64,
}

impl MemoryStore<'_> {
    pub async fn tags(&self, owner: &str) -> Result<Vec<TagCount>> {
        d1::all(
            self.db,
            "SELECT tag, COUNT(*) AS count FROM memory_tags WHERE owner = ?1 GROUP BY tag ORDER BY count DESC, tag",
            &[owner.into()],
        )
        .await
    }

    pub async fn stats(&self, owner: &str, week_start: f64) -> Result<Stats> {
        let s: Option<Stats> = d1::first(
            self.db,
            "SELECT
               (SELECT COUNT(*) FROM memories WHERE owner = ?1) AS total_memories,
               (SELECT COUNT(DISTINCT tag) FROM memory_tags WHERE owner = ?1) AS unique_tags,
               (SELECT COUNT(*) FROM memories WHERE owner = ?1 AND created_at >= ?2) AS memories_this_week,
               (SELECT COUNT(*) FROM documents WHERE owner = ?1) AS documents,
               (SELECT COUNT(*) FROM memories WHERE owner = ?1 AND vector_state = 0) AS unindexed,
               (SELECT COUNT(*) FROM cleanup_queue WHERE owner = ?1) AS pending_cleanup,
               (SELECT COALESCE(SUM(content_bytes), 0) FROM memories WHERE owner = ?1) AS total_bytes",
            &[owner.into(), week_start.into()],
        )
        .await?;
        Ok(s.unwrap_or_default())
    }
}
