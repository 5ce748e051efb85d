//! The outbox of deletes: R2 objects and vectors that a committed D1 delete still has to
//! remove. Its rows are written in the delete's own batch, so no failure or crash between
//! the D1 commit and the removal elsewhere can leave an orphan behind; the scheduled handler
//! retries whatever is still queued.

use serde::Deserialize;
use worker::{D1Database, D1PreparedStatement};

use crate::core::ports::{vector_id, VectorIndex};
use crate::core::Result;
use crate::platform::blob_store::BlobStore;
use crate::platform::d1::{self, Arg};
use crate::platform::vectorize::AnyVectorIndex;

/// Entries younger than this are left to the request that queued them.
const GRACE_SECS: f64 = 5.0;
/// A held object (see `hold_blob`) is left alone this long: its row may still be coming.
const HOLD_SECS: f64 = 600.0;

/// The vector id a queued `ref` stands for: the id itself, or `hash:<content hash>` for a
/// memory whose id was never recorded (ids derive from owner and content hash).
fn vector_ref(owner: &str, reference: &str) -> String {
    match reference.strip_prefix("hash:") {
        Some(hash) => vector_id(owner, hash),
        None => reference.to_string(),
    }
}

pub struct CleanupQueue<'a> {
    db: &'a D1Database,
}

#[derive(Deserialize)]
struct Queued {
    id: i64,
    owner: String,
    kind: String,
    #[serde(rename = "ref")]
    reference: String,
    memory_id: Option<i64>,
}

impl<'a> CleanupQueue<'a> {
    pub fn new(db: &'a D1Database) -> Self {
        CleanupQueue { db }
    }

    /// Statements queueing the R2 objects and vectors of the memories `scope` selects (an SQL
    /// condition over `memories` with the owner as ?1 and one more argument as ?2). They go
    /// into the delete's batch, before the rows are deleted.
    pub fn enqueue_memories(
        &self,
        scope: &str,
        owner: &str,
        arg: &str,
        now: f64,
    ) -> Result<Vec<D1PreparedStatement>> {
        let args = [Arg::from(owner), Arg::from(arg), Arg::from(now)];
        // A vector may exist before its id is recorded (the upsert landed, the D1 update
        // did not): without a recorded id, the content hash stands in (see `vector_ref`).
        [
            ("blob", "blob_key", "blob_key IS NOT NULL"),
            (
                "vector",
                "COALESCE(vector_id, 'hash:' || content_hash)",
                "1",
            ),
        ]
        .into_iter()
        .map(|(kind, reference, present)| {
            d1::stmt(
                self.db,
                &format!(
                    "INSERT INTO cleanup_queue (owner, kind, ref, memory_id, created_at)
                     SELECT owner, '{kind}', {reference}, id, ?3 FROM memories
                     WHERE {scope} AND {present}"
                ),
                &args,
            )
        })
        .collect()
    }

    /// A statement queueing one R2 object (a document's original file).
    pub fn enqueue_blob(&self, owner: &str, key: &str, now: f64) -> Result<D1PreparedStatement> {
        d1::stmt(
            self.db,
            "INSERT INTO cleanup_queue (owner, kind, ref, created_at) VALUES (?1, 'blob', ?2, ?3)",
            &[owner.into(), key.into(), now.into()],
        )
    }

    /// Queues an R2 object that is about to be written for a row not yet committed: if the
    /// row never commits, the object is an orphan the scheduled handler removes.
    pub async fn hold_blob(&self, owner: &str, key: &str, now: f64) -> Result<()> {
        // Dated ahead, so that the scheduled handler leaves it until an ingest is surely over.
        d1::batch(
            self.db,
            vec![self.enqueue_blob(owner, key, now + HOLD_SECS)?],
        )
        .await
    }

    /// Marks R2 objects as removed (or, after `hold_blob`, as in use).
    pub async fn done_blobs(&self, owner: &str, keys: &[&str]) -> Result<()> {
        let quoted: Vec<String> = keys
            .iter()
            .map(|k| format!("'{}'", k.replace('\'', "''")))
            .collect();
        self.done_where(owner, "blob", "ref", &quoted).await
    }

    /// Marks the vectors of these memories as removed.
    pub async fn done_vectors(&self, owner: &str, memory_ids: &[i64]) -> Result<()> {
        let ids: Vec<String> = memory_ids.iter().map(i64::to_string).collect();
        self.done_where(owner, "vector", "memory_id", &ids).await
    }

    /// Removes a queued R2 object now and clears its entry; if either fails, the entry stays
    /// for the scheduled handler.
    pub async fn remove_blob(&self, blobs: &BlobStore, owner: &str, key: &str) {
        let removed = match blobs.delete(key).await {
            Ok(()) => self.done_blobs(owner, &[key]).await,
            Err(e) => Err(e),
        };
        if let Err(e) = removed {
            worker::console_warn!("R2 object removal left to the scheduled retry: {e}");
        }
    }

    /// Removes queued vectors (memory id, vector id) now and clears their entries; if either
    /// fails, the entries stay for the scheduled handler.
    pub async fn remove_vectors(
        &self,
        index: &AnyVectorIndex<'_>,
        owner: &str,
        entries: &[(i64, String)],
    ) {
        let ids: Vec<i64> = entries.iter().map(|(id, _)| *id).collect();
        let removed = match index.delete(owner, entries).await {
            Ok(()) => self.done_vectors(owner, &ids).await,
            Err(e) => Err(e),
        };
        if let Err(e) = removed {
            worker::console_warn!("vector removal left to the scheduled retry: {e}");
        }
    }

    /// Deletes queue rows whose `column` is in `literals`, in slices that keep each statement
    /// far below D1's statement size limit (a large document has thousands of chunks).
    async fn done_where(
        &self,
        owner: &str,
        kind: &str,
        column: &str,
        literals: &[String],
    ) -> Result<()> {
        for slice in literals.chunks(500) {
            d1::run(
                self.db,
                &format!(
                    "DELETE FROM cleanup_queue WHERE owner = ?1 AND kind = ?2 AND {column} IN ({})",
                    slice.join(",")
                ),
                &[owner.into(), kind.into()],
            )
            .await?;
        }
        Ok(())
    }

    /// Removes what earlier requests could not, up to `limit` entries. An object that a live
    /// row uses again (the same content stored anew) is kept. Returns how many were done.
    pub async fn drain(
        &self,
        blobs: &BlobStore,
        index: &AnyVectorIndex<'_>,
        now: f64,
        limit: usize,
    ) -> Result<usize> {
        let queued: Vec<Queued> = d1::all(
            self.db,
            "SELECT id, owner, kind, ref, memory_id FROM cleanup_queue
             WHERE created_at < ?1 ORDER BY id LIMIT ?2",
            &[(now - GRACE_SECS).into(), (limit as i64).into()],
        )
        .await?;
        let mut done = 0;
        for q in queued {
            let removed = if q.kind == "blob" {
                self.blob_in_use(&q.reference).await? || blobs.delete(&q.reference).await.is_ok()
            } else {
                // Vectorize deletes by vector id, which the same content stored anew reuses;
                // the local index deletes by memory id, which is never reused.
                let by_vector_id = matches!(index, AnyVectorIndex::Vectorize(_));
                let vid = vector_ref(&q.owner, &q.reference);
                (by_vector_id && self.vector_in_use(&q.owner, &vid).await?)
                    || index
                        .delete(&q.owner, &[(q.memory_id.unwrap_or(0), vid)])
                        .await
                        .is_ok()
            };
            if removed {
                d1::run(
                    self.db,
                    "DELETE FROM cleanup_queue WHERE id = ?1",
                    &[q.id.into()],
                )
                .await?;
                done += 1;
            }
        }
        Ok(done)
    }

    async fn blob_in_use(&self, key: &str) -> Result<bool> {
        self.any_row(
            "SELECT 1 AS n FROM memories WHERE blob_key = ?1
             UNION ALL SELECT 1 AS n FROM documents WHERE blob_key = ?1 LIMIT 1",
            &[key.into()],
        )
        .await
    }

    async fn vector_in_use(&self, owner: &str, vector_id: &str) -> Result<bool> {
        self.any_row(
            "SELECT 1 AS n FROM memories WHERE owner = ?1 AND vector_id = ?2 LIMIT 1",
            &[owner.into(), vector_id.into()],
        )
        .await
    }

    async fn any_row(&self, sql: &str, args: &[Arg<'_>]) -> Result<bool> {
        let found: Option<serde_json::Value> = d1::first(self.db, sql, args).await?;
        Ok(found.is_some())
    }
}
