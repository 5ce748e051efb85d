//! memgate: an edge AI gateway with long-term memory, as one Cloudflare Worker.
//!
//! `core` is platform-free and compiles (and is tested) natively; `platform` (bindings) and
//! `http` (routing and handlers) exist only in the wasm build.

pub mod core;

#[cfg(target_arch = "wasm32")]
mod app;
#[cfg(target_arch = "wasm32")]
mod http;
#[cfg(target_arch = "wasm32")]
mod platform;

#[cfg(target_arch = "wasm32")]
mod entry {
    use worker::{event, Context, Env, Request, Response, Result, ScheduleContext, ScheduledEvent};

    #[event(start)]
    fn start() {
        console_error_panic_hook::set_once();
    }

    #[event(fetch)]
    async fn fetch(req: Request, env: Env, ctx: Context) -> Result<Response> {
        crate::http::handle(req, env, ctx).await
    }

    #[event(scheduled)]
    async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
        if let Err(e) = crate::platform::maintenance::run(env, js_sys::Date::now() / 1000.0).await {
            worker::console_error!("maintenance failed: {e}");
        }
    }
}
