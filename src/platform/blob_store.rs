//! R2 behind one small adapter. Every call has a deadline: a stalled object store becomes a
//! clean storage error (503) instead of a request that never answers.

use std::future::Future;
use std::time::Duration;

use futures_util::future::{select, Either};
use worker::{Bucket, Delay};

use crate::core::memory::LARGE_CONTENT_THRESHOLD;
use crate::core::{Error, Result};
use crate::platform::error::storage;

pub struct BlobStore {
    bucket: Bucket,
    deadline: Duration,
    /// Memory content longer than this many bytes lives here rather than in its D1 row.
    pub large_content_threshold: usize,
}

impl BlobStore {
    /// `large_content_threshold` is kept within 1 KiB..=1 MiB: above 1 MiB a D1 row would
    /// come near D1's 2 MB value limit.
    pub fn new(bucket: Bucket, deadline_ms: u64, large_content_threshold: usize) -> Self {
        BlobStore {
            bucket,
            deadline: Duration::from_millis(deadline_ms.max(1)),
            large_content_threshold: large_content_threshold.clamp(1024, LARGE_CONTENT_THRESHOLD),
        }
    }

    async fn within<T>(&self, what: &str, work: impl Future<Output = Result<T>>) -> Result<T> {
        let work = std::pin::pin!(work);
        match select(work, Delay::from(self.deadline)).await {
            Either::Left((outcome, _)) => outcome,
            Either::Right(((), _)) => Err(Error::Storage(format!(
                "R2 {what} gave no answer within {} ms",
                self.deadline.as_millis()
            ))),
        }
    }

    pub async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<()> {
        self.within("write", async {
            self.bucket
                .put(key, bytes)
                .execute()
                .await
                .map(|_| ())
                .map_err(storage)
        })
        .await
    }

    /// The object's bytes, or `None` when there is no such object.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.within("read", async {
            let Some(obj) = self.bucket.get(key).execute().await.map_err(storage)? else {
                return Ok(None);
            };
            match obj.body() {
                Some(body) => body.bytes().await.map(Some).map_err(storage),
                None => Ok(Some(Vec::new())),
            }
        })
        .await
    }

    /// The text of an object that must exist (it is referenced from D1).
    pub async fn text(&self, key: &str) -> Result<String> {
        let bytes = self
            .get(key)
            .await?
            .ok_or_else(|| Error::Storage(format!("R2 object {key} is missing")))?;
        String::from_utf8(bytes).map_err(|e| Error::Storage(e.to_string()))
    }

    pub async fn delete(&self, key: &str) -> Result<()> {
        self.within("delete", async {
            self.bucket.delete(key).await.map_err(storage)
        })
        .await
    }
}
