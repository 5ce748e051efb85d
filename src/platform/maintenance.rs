//! The scheduled handler's work: housekeeping that no request should wait for.

use worker::Env;

use crate::app::App;
use crate::core::Result;
use crate::platform::document_store::DocumentStore;
use crate::platform::gateway_store::GatewayStore;
use crate::platform::kv_settings::Settings;
use crate::platform::{d1, rate_limit, Bindings};

/// Memories re-indexed per run; the next run picks up the rest.
const REPAIR_BATCH: usize = 500;
/// An ingest still running is younger than this.
const ORPHAN_AGE_SECS: f64 = 600.0;
/// Leftovers of deletes (R2 objects, vectors) removed per run.
const CLEANUP_BATCH: usize = 200;

pub async fn run(env: Env, now: f64) -> Result<()> {
    let b = Bindings::new(env)?;
    let pruned = rate_limit::prune(&b.db, now).await?;
    // Tombstones only speed up cache catch-up; a day is far longer than any isolate lives.
    d1::run(&b.db, "DELETE FROM vector_tombstones WHERE seq < (SELECT value FROM counters WHERE name = 'vector_seq') - 100000", &[]).await?;
    let Some(config) = Settings::new(&b.kv).config().await? else {
        return Ok(());
    };
    let ttl = f64::from(config.conversation_ttl_days) * 86_400.0;
    GatewayStore::new(&b.db).prune_expired(now - ttl).await?;
    let app = App::new(&b, config, now, Default::default())?;
    let repaired = app.repair_index(REPAIR_BATCH).await?;
    // A document ingest that stopped half way (a crash between its batches) is undone.
    let documents = DocumentStore::new(&b.db, &b.blobs);
    for (owner, id) in documents.orphans(now - ORPHAN_AGE_SECS, 20).await? {
        documents.delete(&owner, &id, None, now).await?;
    }
    let cleaned = app
        .cleanup()
        .drain(&b.blobs, &app.index, now, CLEANUP_BATCH)
        .await?;
    worker::console_log!(
        "maintenance: pruned {pruned} rate counters, re-indexed {repaired} memories, removed {cleaned} leftovers of deletes"
    );
    Ok(())
}
