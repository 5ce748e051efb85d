//! Document ingestion: extract text, split into overlapping chunks, store the chunks as
//! memories of type `document` (embedded in batches), keep the original file in R2.

use serde_json::{json, Map, Value};

use crate::app::memories::ToIndex;
use crate::app::App;
use crate::core::chunking::{chunk_text, ChunkOptions};
use crate::core::extract::{extract_text, DocFormat};
use crate::core::memory::{content_hash, NewMemory};
use crate::core::time::iso8601;
use crate::core::Result;
use crate::platform::crypto::random_hex;
use crate::platform::document_store::{Document, DocumentStore};

/// Chunks embedded per call (Workers AI takes at most 100 texts).
const EMBED_BATCH: usize = 100;

pub struct Upload {
    pub title: String,
    pub filename: Option<String>,
    pub format: DocFormat,
    pub bytes: Vec<u8>,
    pub tags: Vec<String>,
}

impl App<'_> {
    fn documents(&self) -> DocumentStore<'_> {
        DocumentStore::new(&self.b.db, &self.b.blobs)
    }

    pub async fn ingest_document(&self, owner: &str, up: Upload) -> Result<Document> {
        let text = extract_text(up.format, &up.bytes)?;
        let pieces = chunk_text(&text, &ChunkOptions::default());
        let id = format!("doc_{}", random_hex::<12>()?);
        let count = pieces.len();
        let mut tags = up.tags.clone();
        if !tags.iter().any(|t| t == "document") {
            tags.push("document".into());
        }
        let chunks: Vec<NewMemory> = pieces
            .into_iter()
            .enumerate()
            .map(|(i, content)| {
                let mut metadata = Map::new();
                metadata.insert("document_id".into(), json!(id));
                metadata.insert("title".into(), json!(up.title));
                metadata.insert("chunk_index".into(), json!(i));
                metadata.insert("chunk_count".into(), json!(count));
                if let Some(f) = &up.filename {
                    metadata.insert("filename".into(), json!(f));
                }
                NewMemory {
                    content_hash: content_hash(&content),
                    content,
                    tags: tags.clone(),
                    memory_type: Some("document".into()),
                    metadata,
                }
            })
            .collect();
        let store = self.documents();
        let blob_key = format!("documents/{owner}/{id}");
        let size = up.bytes.len() as i64;
        self.cleanup().hold_blob(owner, &blob_key, self.now).await?;
        // A put that timed out may still land: its hold stays, and the scheduled handler
        // removes the file once the hold has passed.
        store.put_file(&blob_key, up.bytes).await?;
        let doc = Document {
            id: id.clone(),
            title: up.title,
            filename: up.filename,
            format: up.format.as_str().into(),
            size,
            chunk_count: count as i64,
            blob_key: Some(blob_key.clone()),
            tags: json!(up.tags),
            created_at: self.now,
        };
        let written = async {
            store.insert_chunks(owner, &id, &chunks, self.now).await?;
            store.insert(owner, &doc).await
        }
        .await;
        if let Err(e) = written {
            // Leave nothing half-written: remove whatever part of the document landed. (After
            // a crash here, the scheduled handler's sweep and cleanup queue do the same.)
            let _ = store.delete(owner, &id, Some(&blob_key), self.now).await;
            return Err(e);
        }
        if let Err(e) = self.cleanup().done_blobs(owner, &[&blob_key]).await {
            // Harmless: the scheduled handler keeps a file that a document uses.
            worker::console_warn!("document file left queued: {e}");
        }
        let stored = store.chunks(owner, &id).await?;
        let mut items: Vec<ToIndex> = stored
            .into_iter()
            .map(|c| ToIndex {
                id: c.id,
                content_hash: c.content_hash,
                memory_type: c.memory_type,
                content: c.content.unwrap_or_default(),
            })
            .collect();
        while !items.is_empty() {
            let rest = items.split_off(items.len().min(EMBED_BATCH));
            if let Err(e) = self
                .index_memories(owner, std::mem::replace(&mut items, rest))
                .await
            {
                worker::console_warn!("document indexing deferred to repair: {e}");
            }
        }
        self.emit(
            owner,
            "memory_stored",
            json!({
                "type": "memory_stored",
                "content_hash": Value::Null,
                "content_preview": format!("document: {}", doc.title),
                "document_id": doc.id,
                "chunks": doc.chunk_count,
                "tags": doc.tags,
                "memory_type": "document",
                "timestamp": iso8601(self.now),
            }),
        );
        Ok(doc)
    }

    pub async fn list_documents(&self, owner: &str) -> Result<Vec<Document>> {
        self.documents().list(owner).await
    }

    /// Deletes a document with its chunks, their vectors and the file. False if unknown.
    pub async fn delete_document(&self, owner: &str, id: &str) -> Result<bool> {
        let store = self.documents();
        let Some(doc) = store.get(owner, id).await? else {
            return Ok(false);
        };
        let chunks = store.chunks(owner, id).await?;
        store
            .delete(owner, id, doc.blob_key.as_deref(), self.now)
            .await?;
        // A vector may exist before its id was recorded: the id derives from owner and hash.
        let entries: Vec<(i64, String)> = chunks
            .into_iter()
            .map(|c| {
                let vid = c
                    .vector_id
                    .unwrap_or_else(|| crate::core::ports::vector_id(owner, &c.content_hash));
                (c.id, vid)
            })
            .collect();
        self.cleanup()
            .remove_vectors(&self.index, owner, &entries)
            .await;
        Ok(true)
    }
}
