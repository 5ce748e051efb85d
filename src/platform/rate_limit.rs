//! Exact fixed-window rate limits over D1: one atomic upsert per check.

use serde::Deserialize;
use worker::D1Database;

use crate::core::{Error, Result};
use crate::platform::d1;

#[derive(Deserialize)]
struct Counted {
    count: i64,
    expires_at: f64,
}

/// Counts one event in `name`'s current window of `window_secs`; refuses past `limit`.
pub async fn hit(
    db: &D1Database,
    name: &str,
    limit: u32,
    window_secs: u64,
    now: f64,
    what: &str,
) -> Result<()> {
    let window_start = (now as u64 / window_secs) * window_secs;
    let bucket = format!("{name}:{window_start}");
    let expires_at = (window_start + window_secs) as f64;
    let row: Option<Counted> = d1::first(
        db,
        "INSERT INTO rate_counters (bucket, count, expires_at) VALUES (?1, 1, ?2)
         ON CONFLICT (bucket) DO UPDATE SET count = count + 1
         RETURNING count, expires_at",
        &[bucket.as_str().into(), expires_at.into()],
    )
    .await?;
    let row = row.ok_or_else(|| Error::Storage("rate counter returned nothing".into()))?;
    if row.count > i64::from(limit) {
        let retry = (row.expires_at - now).ceil().max(1.0) as u64;
        return Err(Error::RateLimited {
            message: format!(
                "{what}: limit of {limit} per {window_secs} s reached; retry in {retry} s"
            ),
            retry_after_secs: retry,
        });
    }
    Ok(())
}

/// Drops counters whose window has passed.
pub async fn prune(db: &D1Database, now: f64) -> Result<usize> {
    d1::run(
        db,
        "DELETE FROM rate_counters WHERE expires_at < ?1",
        &[now.into()],
    )
    .await
}
