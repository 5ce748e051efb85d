//! Documents: a row per upload, its original file in R2, and its chunks as memories of type
//! `document` linked by `document_id`.

use serde::{Deserialize, Serialize};
use worker::D1Database;

use crate::core::memory::NewMemory;
use crate::core::text::truncate_utf8;
use crate::core::{Error, Result};
use crate::platform::blob_store::BlobStore;
use crate::platform::cleanup_queue::CleanupQueue;
use crate::platform::d1::{self, Arg};

/// Chunks written per D1 batch (three statements each).
const CHUNKS_PER_BATCH: usize = 30;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Document {
    pub id: String,
    pub title: String,
    pub filename: Option<String>,
    pub format: String,
    pub size: i64,
    #[serde(rename = "chunks")]
    pub chunk_count: i64,
    #[serde(skip_serializing)]
    pub blob_key: Option<String>,
    pub tags: serde_json::Value,
    pub created_at: f64,
}

#[derive(Deserialize)]
pub struct ChunkRef {
    pub id: i64,
    pub content_hash: String,
    pub memory_type: Option<String>,
    pub content: Option<String>,
    pub vector_id: Option<String>,
}

#[derive(Deserialize)]
struct DocRow {
    id: String,
    title: String,
    filename: Option<String>,
    format: String,
    size: i64,
    chunk_count: i64,
    blob_key: Option<String>,
    tags: String,
    created_at: f64,
}

impl From<DocRow> for Document {
    fn from(r: DocRow) -> Self {
        Document {
            id: r.id,
            title: r.title,
            filename: r.filename,
            format: r.format,
            size: r.size,
            chunk_count: r.chunk_count,
            blob_key: r.blob_key,
            tags: serde_json::from_str(&r.tags).unwrap_or(serde_json::Value::Array(vec![])),
            created_at: r.created_at,
        }
    }
}

pub struct DocumentStore<'a> {
    db: &'a D1Database,
    blobs: &'a BlobStore,
}

impl<'a> DocumentStore<'a> {
    pub fn new(db: &'a D1Database, blobs: &'a BlobStore) -> Self {
        DocumentStore { db, blobs }
    }

    pub async fn put_file(&self, key: &str, bytes: Vec<u8>) -> Result<()> {
        self.blobs.put(key, bytes).await
    }

    /// Writes chunk memories in batches; a chunk whose content the owner already has is
    /// skipped (content identity), and only rows this document inserted get tags and keywords.
    pub async fn insert_chunks(
        &self,
        owner: &str,
        doc_id: &str,
        chunks: &[NewMemory],
        now: f64,
    ) -> Result<()> {
        for batch in chunks.chunks(CHUNKS_PER_BATCH) {
            let mut statements = Vec::with_capacity(batch.len() * 3);
            for m in batch {
                let tags =
                    serde_json::to_string(&m.tags).map_err(|e| Error::Internal(e.to_string()))?;
                let metadata = serde_json::to_string(&m.metadata)
                    .map_err(|e| Error::Internal(e.to_string()))?;
                statements.push(d1::stmt(
                    self.db,
                    "INSERT INTO memories (owner, content_hash, content, content_bytes, memory_type, tags, metadata, document_id, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9) ON CONFLICT (owner, content_hash) DO NOTHING",
                    &[
                        owner.into(),
                        (&m.content_hash).into(),
                        (&m.content).into(),
                        (m.content.len() as i64).into(),
                        m.memory_type.as_deref().into(),
                        Arg::Text(&tags),
                        Arg::Text(&metadata),
                        doc_id.into(),
                        now.into(),
                    ],
                )?);
                statements.push(d1::stmt(
                    self.db,
                    "INSERT OR IGNORE INTO memory_tags (memory_id, owner, tag)
                     SELECT m.id, m.owner, j.value FROM memories m, json_each(?3) j
                     WHERE m.owner = ?1 AND m.content_hash = ?2 AND m.document_id = ?4",
                    &[
                        owner.into(),
                        (&m.content_hash).into(),
                        Arg::Text(&tags),
                        doc_id.into(),
                    ],
                )?);
                statements.push(d1::stmt(
                    self.db,
                    "INSERT INTO memories_fts (rowid, content, tags)
                     SELECT id, ?3, ?4 FROM memories m WHERE owner = ?1 AND content_hash = ?2 AND document_id = ?5
                     AND NOT EXISTS (SELECT 1 FROM memories_fts f WHERE f.rowid = m.id)",
                    &[
                        owner.into(),
                        (&m.content_hash).into(),
                        truncate_utf8(&m.content, 256 * 1024).into(),
                        m.tags.join(" ").as_str().into(),
                        doc_id.into(),
                    ],
                )?);
            }
            d1::batch(self.db, statements).await?;
        }
        Ok(())
    }

    pub async fn insert(&self, owner: &str, doc: &Document) -> Result<()> {
        let tags = doc.tags.to_string();
        d1::run(
            self.db,
            "INSERT INTO documents (id, owner, title, filename, format, size, blob_key, chunk_count, tags, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            &[
                (&doc.id).into(),
                owner.into(),
                (&doc.title).into(),
                doc.filename.as_deref().into(),
                (&doc.format).into(),
                doc.size.into(),
                doc.blob_key.as_deref().into(),
                doc.chunk_count.into(),
                Arg::Text(&tags),
                doc.created_at.into(),
            ],
        )
        .await?;
        Ok(())
    }

    /// Documents whose chunks landed but whose own row never did (the ingest stopped half
    /// way), older than `before`: `(owner, document id)`.
    pub async fn orphans(&self, before: f64, limit: usize) -> Result<Vec<(String, String)>> {
        #[derive(Deserialize)]
        struct Orphan {
            owner: String,
            document_id: String,
        }
        let rows: Vec<Orphan> = d1::all(
            self.db,
            "SELECT DISTINCT m.owner, m.document_id FROM memories m
             WHERE m.document_id IS NOT NULL AND m.created_at < ?1
               AND NOT EXISTS (SELECT 1 FROM documents d WHERE d.owner = m.owner AND d.id = m.document_id)
             LIMIT ?2",
            &[before.into(), (limit as i64).into()],
        )
        .await?;
        Ok(rows.into_iter().map(|o| (o.owner, o.document_id)).collect())
    }

    pub async fn chunks(&self, owner: &str, doc_id: &str) -> Result<Vec<ChunkRef>> {
        d1::all(
            self.db,
            "SELECT id, content_hash, memory_type, content, vector_id FROM memories WHERE owner = ?1 AND document_id = ?2 ORDER BY id",
            &[owner.into(), doc_id.into()],
        )
        .await
    }

    pub async fn get(&self, owner: &str, id: &str) -> Result<Option<Document>> {
        let row: Option<DocRow> = d1::first(
            self.db,
            "SELECT id, title, filename, format, size, chunk_count, blob_key, tags, created_at FROM documents WHERE owner = ?1 AND id = ?2",
            &[owner.into(), id.into()],
        )
        .await?;
        Ok(row.map(Document::from))
    }

    pub async fn list(&self, owner: &str) -> Result<Vec<Document>> {
        let rows: Vec<DocRow> = d1::all(
            self.db,
            "SELECT id, title, filename, format, size, chunk_count, blob_key, tags, created_at FROM documents WHERE owner = ?1 ORDER BY created_at DESC",
            &[owner.into()],
        )
        .await?;
        Ok(rows.into_iter().map(Document::from).collect())
    }

    /// Deletes a document and its chunks; the file and the chunks' vectors are queued for
    /// removal in the same batch. The file is removed here, the vectors by the caller.
    pub async fn delete(
        &self,
        owner: &str,
        doc_id: &str,
        blob_key: Option<&str>,
        now: f64,
    ) -> Result<()> {
        let args = [Arg::from(owner), Arg::from(doc_id)];
        let queue = CleanupQueue::new(self.db);
        let mut statements =
            queue.enqueue_memories("owner = ?1 AND document_id = ?2", owner, doc_id, now)?;
        if let Some(k) = blob_key {
            statements.push(queue.enqueue_blob(owner, k, now)?);
        }
        statements.extend([
            d1::stmt(
                self.db,
                "DELETE FROM memories_fts WHERE rowid IN (SELECT id FROM memories WHERE owner = ?1 AND document_id = ?2)",
                &args,
            )?,
            d1::stmt(
                self.db,
                "DELETE FROM memory_tags WHERE memory_id IN (SELECT id FROM memories WHERE owner = ?1 AND document_id = ?2)",
                &args,
            )?,
            d1::stmt(self.db, "DELETE FROM memories WHERE owner = ?1 AND document_id = ?2", &args)?,
            d1::stmt(self.db, "DELETE FROM documents WHERE owner = ?1 AND id = ?2", &args)?,
        ]);
        d1::batch(self.db, statements).await?;
        if let Some(k) = blob_key {
            queue.remove_blob(self.blobs, owner, k).await;
        }
        Ok(())
    }
}
