//! The thin HTTP layer: resolve the route, authenticate, call the core and adapters,
//! answer. Errors are turned into responses in exactly one place (`respond`).

mod admin;
mod analyze;
mod auth;
mod body;
mod chat_stream;
mod documents;
mod mcp;
mod memories;
mod openai;
mod respond;
mod search;
mod system;
mod transfer;

use worker::{Context, Env, Request, Response};

use crate::app::{App, Timings};
use crate::core::config::Config;
use crate::core::routes::{resolve, surface, Resolution, Route};
use crate::core::Error;
use crate::platform::kv_settings::Settings;
use crate::platform::Bindings;
pub use respond::HttpResult;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// Set on answers whose retrieval ranked by keywords alone because the embedder or the
/// vector index failed: the answer is still useful, and the caller can tell.
pub const DEGRADED_HEADER: &str = "x-memgate-degraded";
pub const DEGRADED_SEMANTIC: &str = "semantic-search-unavailable";

/// What every handler gets: bindings, the request's clock, and the execution context.
pub struct Ctx {
    pub b: Bindings,
    pub now: f64,
    pub wctx: Context,
    /// The configuration, read from KV at most once per request.
    config: std::cell::RefCell<Option<Config>>,
    /// Phases of this request's work, answered as `Server-Timing`.
    pub timings: Timings,
}

impl Ctx {
    /// The configuration (or "not initialised") and the application services over it.
    pub async fn app(&self) -> Result<App<'_>, Error> {
        App::new(
            &self.b,
            self.config().await?,
            self.now,
            self.timings.clone(),
        )
    }

    /// The configuration, or "not initialised".
    pub async fn config(&self) -> Result<Config, Error> {
        if let Some(c) = self.config.borrow().as_ref() {
            return Ok(c.clone());
        }
        let c = Settings::new(&self.b.kv).require_config().await?;
        *self.config.borrow_mut() = Some(c.clone());
        Ok(c)
    }

    /// Runs `work` once the response is on its way. It first yields to a timer: started at
    /// once, its first binding call would run ahead of handing the response back (measured:
    /// a usage write that way added ~3 ms to every chat answer).
    pub fn after_response(&self, work: impl std::future::Future<Output = ()> + 'static) {
        self.wctx.wait_until(async move {
            worker::Delay::from(std::time::Duration::from_millis(1)).await;
            work.await;
        });
    }

    /// Delivers the app's pending events after the response, without delaying it.
    pub fn flush_events(&self, app: &App<'_>) {
        let events = app.take_events();
        if events.is_empty() {
            return;
        }
        let env = self.b.env.clone();
        self.after_response(async move {
            for e in events {
                crate::platform::event_hub::publish(&env, &e.owner, e.event, e.data).await;
            }
        });
    }
}

pub async fn handle(mut req: Request, env: Env, wctx: Context) -> worker::Result<Response> {
    let path = req.path();
    let method = req.inner().method().to_uppercase();
    let surface = surface(&path);
    if method == "OPTIONS" {
        return cors(Response::empty()?.with_status(204), &path);
    }
    let started = js_sys::Date::now();
    let timings = Timings::default();
    let result = match Bindings::new(env) {
        Ok(b) => {
            let ctx = Ctx {
                b,
                now: started / 1000.0,
                wctx,
                config: Default::default(),
                timings: timings.clone(),
            };
            dispatch(&ctx, &mut req, &method, &path).await
        }
        Err(e) => Err(e),
    };
    let mut resp = match result {
        Ok(r) => r,
        Err(e) => {
            let mut r = respond::error_response(&e, surface);
            if let (Error::MethodNotAllowed, Resolution::MethodNotAllowed(allowed)) =
                (&e, resolve(&method, &path))
            {
                let _ = r.headers_mut().set("allow", &allowed.join(", "));
            }
            r
        }
    };
    if let Some(value) = timings.header(js_sys::Date::now() - started) {
        let _ = resp.headers_mut().set("server-timing", &value);
    }
    cors(resp, &path)
}

async fn dispatch(ctx: &Ctx, req: &mut Request, method: &str, path: &str) -> HttpResult {
    let (route, params) = match resolve(method, path) {
        Resolution::Found(route, params) => (route, params),
        Resolution::MethodNotAllowed(_) => return Err(Error::MethodNotAllowed),
        Resolution::NotFound => {
            return Err(Error::not_found(format!("no route for {method} {path}")))
        }
    };
    let param = |i: usize| params.get(i).map(String::as_str).unwrap_or_default();
    match route {
        Route::OpenApi => system::openapi(),
        Route::Health => system::health(ctx).await,
        Route::AdminStatus => system::status(ctx).await,
        Route::AdminInit => admin::init(ctx, req).await,
        Route::AdminLogin => admin::login(ctx, req).await,
        Route::AdminLogout => admin::logout(ctx, req).await,
        Route::AdminKeysList => admin::list_keys(ctx, req).await,
        Route::AdminKeysCreate => admin::create_key(ctx, req).await,
        Route::AdminKeysDelete => admin::delete_key(ctx, req, param(0)).await,
        Route::MemoriesCreate => memories::create(ctx, req).await,
        Route::MemoriesList => memories::list(ctx, req).await,
        Route::MemoryGet => memories::get(ctx, req, param(0)).await,
        Route::MemoryUpdate => memories::update(ctx, req, param(0)).await,
        Route::MemoryDelete => memories::delete(ctx, req, param(0)).await,
        Route::Search => search::semantic(ctx, req).await,
        Route::SearchByTag => search::by_tag(ctx, req).await,
        Route::SearchByTime => search::by_time(ctx, req).await,
        Route::Tags => search::tags(ctx, req).await,
        Route::Stats => search::stats(ctx, req).await,
        Route::HealthDetailed => system::health_detailed(ctx).await,
        Route::Events => search::events(ctx, req).await,
        Route::DocumentsUpload => documents::upload(ctx, req).await,
        Route::DocumentsList => documents::list(ctx, req).await,
        Route::DocumentDelete => documents::delete(ctx, req, param(0)).await,
        Route::Export => transfer::export(ctx, req).await,
        Route::Import => transfer::import(ctx, req).await,
        Route::Models => openai::models(ctx, req).await,
        Route::Model => openai::model(ctx, req, param(0)).await,
        Route::ChatCompletions => openai::chat_completions(ctx, req).await,
        Route::Embeddings => openai::embeddings(ctx, req).await,
        Route::Images => openai::images(ctx, req).await,
        Route::ImageFile => openai::image_file(ctx, param(0)).await,
        Route::AnalyzeError => analyze::analyze_error(ctx, req).await,
        Route::AdminConfigGet => admin::get_config(ctx, req).await,
        Route::AdminConfigPut => admin::put_config(ctx, req).await,
        Route::AdminUsage => admin::usage(ctx, req).await,
        Route::AdminConversations => admin::conversations(ctx, req).await,
        Route::AdminConversation => admin::conversation(ctx, req, param(0)).await,
        Route::Mcp => mcp::handle(ctx, req).await,
    }
}

/// CORS for the key-authenticated APIs (browser apps call them with a bearer key). The admin
/// API uses a cookie and stays same-origin only.
fn cors(mut resp: Response, path: &str) -> worker::Result<Response> {
    if path.starts_with("/admin") || path.starts_with("/api/events") || path == "/events" {
        return Ok(resp);
    }
    let h = resp.headers_mut();
    h.set("access-control-allow-origin", "*")?;
    h.set(
        "access-control-allow-methods",
        "GET, POST, PUT, DELETE, OPTIONS",
    )?;
    h.set(
        "access-control-allow-headers",
        "authorization, content-type, x-api-key, x-conversation-id, x-memgate-rag, mcp-session-id, mcp-protocol-version, last-event-id",
    )?;
    h.set(
        "access-control-expose-headers",
        "x-memgate-sources, x-conversation-id, x-memgate-degraded, mcp-session-id, retry-after",
    )?;
    h.set("access-control-max-age", "86400")?;
    Ok(resp)
}
