//! The scheduled handler's work: housekeeping that no request should wait for.

use worker::Env;

use crate::core::Result;
use crate::platform::{rate_limit, Bindings};

pub async fn run(env: Env, now: f64) -> Result<()> {
    let b = Bindings::new(env)?;
    let pruned = rate_limit::prune(&b.db, now).await?;
    worker::console_log!("maintenance: pruned {pruned} rate counters");
    Ok(())
}
