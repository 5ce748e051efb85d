//! The scheduled handler's work: housekeeping that no request should wait for.

use worker::Env;

use crate::app::App;
use crate::core::Result;
use crate::platform::gateway_store::GatewayStore;
use crate::platform::kv_settings::Settings;
use crate::platform::{d1, rate_limit, Bindings};

/// Memories re-indexed per run; the next run picks up the rest.
const REPAIR_BATCH: usize = 500;

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
    worker::console_log!(
        "maintenance: pruned {pruned} rate counters, re-indexed {repaired} memories"
    );
    Ok(())
}
