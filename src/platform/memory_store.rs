//! `MemoryStore` over D1 (rows, tags, keyword index) and R2 (content over 1 MB).
//! D1 is the source of truth; every write is one `db.batch`, so it lands whole or not at all.

use serde::Deserialize;
use serde_json::{Map, Value};
use worker::{Bucket, D1Database};

use crate::core::memory::{Memory, MemoryPatch, NewMemory, LARGE_CONTENT_THRESHOLD};
use crate::core::text::truncate_utf8;
use crate::core::{Error, Result};
use crate::platform::d1::{self, Arg};
use crate::platform::error::storage;

pub struct MemoryStore<'a> {
    db: &'a D1Database,
    blobs: &'a Bucket,
}

pub enum Inserted {
    Created(Memory),
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

/// The R2 key of a large memory's content.
fn blob_key(owner: &str, hash: &str) -> String {
    format!("memories/{owner}/{hash}")
}

impl<'a> MemoryStore<'a> {
    pub fn new(db: &'a D1Database, blobs: &'a Bucket) -> Self {
        MemoryStore { db, blobs }
    }

    async fn hydrate(&self, row: Row) -> Result<Memory> {
        let content = match (row.content, row.blob_key) {
            (Some(c), _) => c,
            (None, Some(key)) => {
                let obj = self
                    .blobs
                    .get(&key)
                    .execute()
                    .await
                    .map_err(storage)?
                    .ok_or_else(|| Error::Storage(format!("R2 object {key} is missing")))?;
                let body = obj
                    .body()
                    .ok_or_else(|| Error::Storage(format!("R2 object {key} has no body")))?;
                let bytes = body.bytes().await.map_err(storage)?;
                String::from_utf8(bytes).map_err(|e| Error::Storage(e.to_string()))?
            }
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
    /// to R2 first; the D1 batch (row + tags + keyword index) then commits it.
    pub async fn insert(&self, owner: &str, m: &NewMemory, now: f64) -> Result<Inserted> {
        if let Some(existing) = self.get(owner, &m.content_hash).await? {
            return Ok(Inserted::Duplicate(existing));
        }
        let large = m.content.len() > LARGE_CONTENT_THRESHOLD;
        let key = large.then(|| blob_key(owner, &m.content_hash));
        if let Some(k) = &key {
            self.blobs
                .put(k, m.content.as_bytes().to_vec())
                .execute()
                .await
                .map_err(storage)?;
        }
        let tags = serde_json::to_string(&m.tags).map_err(|e| Error::Internal(e.to_string()))?;
        let metadata =
            serde_json::to_string(&m.metadata).map_err(|e| Error::Internal(e.to_string()))?;
        // The keyword index holds at most the first 256 KiB of a very large text.
        let indexed_text = truncate_utf8(&m.content, 256 * 1024);
        let statements = vec![
            d1::stmt(
                self.db,
                "INSERT INTO memories (owner, content_hash, content, blob_key, content_bytes, memory_type, tags, metadata, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
                &[
                    owner.into(),
                    (&m.content_hash).into(),
                    if large { Arg::Null } else { (&m.content).into() },
                    key.as_deref().into(),
                    (m.content.len() as i64).into(),
                    m.memory_type.as_deref().into(),
                    (&tags).into(),
                    (&metadata).into(),
                    now.into(),
                ],
            )?,
            d1::stmt(
                self.db,
                "INSERT INTO memory_tags (memory_id, owner, tag)
                 SELECT m.id, m.owner, j.value FROM memories m, json_each(?3) j
                 WHERE m.owner = ?1 AND m.content_hash = ?2",
                &[owner.into(), (&m.content_hash).into(), (&tags).into()],
            )?,
            d1::stmt(
                self.db,
                "INSERT INTO memories_fts (rowid, content, tags)
                 SELECT id, ?3, ?4 FROM memories WHERE owner = ?1 AND content_hash = ?2",
                &[
                    owner.into(),
                    (&m.content_hash).into(),
                    indexed_text.into(),
                    m.tags.join(" ").as_str().into(),
                ],
            )?,
        ];
        match d1::batch(self.db, statements).await {
            Ok(()) => {}
            Err(e) if d1::is_unique_violation(&e) => {
                // A concurrent request stored the same content first.
                if let Some(existing) = self.get(owner, &m.content_hash).await? {
                    return Ok(Inserted::Duplicate(existing));
                }
                return Err(e);
            }
            Err(e) => {
                if let Some(k) = &key {
                    let _ = self.blobs.delete(k).await;
                }
                return Err(e);
            }
        }
        let stored = self
            .get(owner, &m.content_hash)
            .await?
            .ok_or_else(|| Error::Storage("memory vanished after commit".into()))?;
        Ok(Inserted::Created(stored))
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

    /// Deletes a memory with its tags, keyword entry and R2 content. Returns whether it existed.
    pub async fn delete(&self, owner: &str, hash: &str) -> Result<bool> {
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
        let statements = vec![
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
        ];
        d1::batch(self.db, statements).await?;
        if let Some(k) = found.blob_key {
            self.blobs.delete(&k).await.map_err(storage)?;
        }
        Ok(true)
    }
}
