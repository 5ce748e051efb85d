//! Who is calling: API keys from `Authorization: Bearer`, `X-API-Key` or (for EventSource)
//! `?api_key=`, checked against hashed records, scopes and expiry.

use worker::Request;

use crate::core::auth::{bearer_token, looks_like_key, ApiKeyRecord, Scope};
use crate::core::{Error, Result};
use crate::http::Ctx;
use crate::platform::kv_settings::Settings;

/// The authenticated caller.
pub struct Caller {
    pub key: ApiKeyRecord,
}

impl Caller {
    pub fn owner(&self) -> &str {
        &self.key.owner
    }
}

fn presented_key(req: &Request, allow_query: bool) -> Option<String> {
    let headers = req.headers();
    if let Ok(Some(h)) = headers.get("authorization") {
        if let Some(k) = bearer_token(&h) {
            return Some(k.to_string());
        }
    }
    if let Ok(Some(k)) = headers.get("x-api-key") {
        let k = k.trim();
        if !k.is_empty() {
            return Some(k.to_string());
        }
    }
    if allow_query {
        if let Ok(url) = req.url() {
            if let Some((_, v)) = url.query_pairs().find(|(k, _)| k == "api_key") {
                return Some(v.into_owned());
            }
        }
    }
    None
}

/// Authenticates the request and checks that its key holds `scope`.
pub async fn require(ctx: &Ctx, req: &Request, scope: Scope) -> Result<Caller> {
    require_with(ctx, req, scope, false).await
}

/// Like `require`, also taking `?api_key=` (EventSource cannot send headers).
pub async fn require_with(
    ctx: &Ctx,
    req: &Request,
    scope: Scope,
    allow_query: bool,
) -> Result<Caller> {
    let t0 = js_sys::Date::now();
    let caller = authenticate(ctx, req, scope, allow_query).await;
    ctx.timings.record(&[("auth", js_sys::Date::now() - t0)]);
    caller
}

async fn authenticate(ctx: &Ctx, req: &Request, scope: Scope, allow_query: bool) -> Result<Caller> {
    let settings = Settings::new(&ctx.b.kv);
    // Until init there are no keys, and the answer says what to do.
    ctx.config().await?;
    let Some(key) = presented_key(req, allow_query) else {
        // The admin panel calls the memory API with its session cookie, as owner "admin".
        if let Some(token) = session_token(req) {
            if settings.session_valid(&token, ctx.now).await? {
                check_same_origin(req)?;
                return Ok(Caller {
                    key: admin_session_record(ctx.now),
                });
            }
        }
        return Err(Error::Unauthorized(
            "missing API key: send Authorization: Bearer <key> (or X-API-Key)".into(),
        ));
    };
    if !looks_like_key(&key) {
        return Err(Error::Unauthorized("invalid API key".into()));
    }
    let record = settings
        .find_key(&key)
        .await?
        .ok_or_else(|| Error::Unauthorized("invalid API key".into()))?;
    if record.is_expired(ctx.now) {
        return Err(Error::Unauthorized("this API key has expired".into()));
    }
    if !record.has(scope) {
        return Err(Error::Forbidden(format!(
            "this API key lacks the '{}' scope",
            scope.as_str()
        )));
    }
    if let Some(rpm) = record.rpm_limit {
        crate::platform::rate_limit::hit(
            &ctx.b.db,
            &format!("rpm:{}", record.id),
            rpm,
            60,
            ctx.now,
            "requests per minute for this key",
        )
        .await?;
    }
    note_last_used(ctx, &record.id);
    Ok(Caller { key: record })
}

/// How often an isolate writes a key's last use: often enough for "last used" in the panel,
/// rarely enough that a busy key does not cost a D1 write per request.
const LAST_USED_EVERY_MS: f64 = 60_000.0;

thread_local! {
    static LAST_USED_WRITTEN: std::cell::RefCell<std::collections::HashMap<String, f64>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

/// Records when a key was last used, after the response, off the request path.
fn note_last_used(ctx: &Ctx, key_id: &str) {
    let now_ms = ctx.now * 1000.0;
    let due = LAST_USED_WRITTEN.with(|w| {
        let mut w = w.borrow_mut();
        if w.get(key_id)
            .is_some_and(|at| now_ms - at < LAST_USED_EVERY_MS)
        {
            return false;
        }
        if w.len() >= 4096 {
            w.clear();
        }
        w.insert(key_id.to_string(), now_ms);
        true
    });
    if !due {
        return;
    }
    let env = ctx.b.env.clone();
    let (id, now) = (key_id.to_string(), ctx.now);
    ctx.after_response(async move {
        if let Ok(b) = crate::platform::Bindings::new(env) {
            let _ = crate::platform::d1::run(
                &b.db,
                "INSERT INTO key_activity (key_id, last_used_at) VALUES (?1, ?2)
                 ON CONFLICT (key_id) DO UPDATE SET last_used_at = excluded.last_used_at",
                &[id.as_str().into(), now.into()],
            )
            .await;
        }
    });
}

pub const SESSION_COOKIE: &str = "memgate_session";

/// The identity of a signed-in admin session: owner `admin`, every scope, no limits.
fn admin_session_record(now: f64) -> ApiKeyRecord {
    ApiKeyRecord {
        id: "session".into(),
        name: "admin session".into(),
        owner: "admin".into(),
        scopes: Scope::ALL.to_vec(),
        prefix: String::new(),
        key_hash: String::new(),
        created_at: now,
        rpm_limit: None,
        daily_token_quota: None,
        expires_at: None,
    }
}

/// The session token from the `Cookie` header, if any.
pub fn session_token(req: &Request) -> Option<String> {
    let header = req.headers().get("cookie").ok().flatten()?;
    header.split(';').find_map(|part| {
        let (name, value) = part.trim().split_once('=')?;
        (name == SESSION_COOKIE && !value.is_empty()).then(|| value.to_string())
    })
}

/// Refuses a cookie-authenticated state change that a browser sent from another site.
/// SameSite=Strict already withholds the cookie cross-site; this is the second lock.
fn check_same_origin(req: &Request) -> Result<()> {
    let method = req.inner().method().to_uppercase();
    if matches!(method.as_str(), "GET" | "HEAD" | "OPTIONS") {
        return Ok(());
    }
    let headers = req.headers();
    if let Ok(Some(site)) = headers.get("sec-fetch-site") {
        if site != "same-origin" && site != "none" {
            return Err(Error::Forbidden("cross-site request refused".into()));
        }
    }
    if let Ok(Some(origin)) = headers.get("origin") {
        let own = req
            .url()
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default();
        if origin != own {
            return Err(Error::Forbidden("cross-site request refused".into()));
        }
    }
    Ok(())
}

/// Admin endpoints: a signed-in admin session, or a key with the `admin` scope.
pub async fn require_admin(ctx: &Ctx, req: &Request) -> Result<()> {
    if presented_key(req, false).is_some() {
        return require(ctx, req, Scope::Admin).await.map(|_| ());
    }
    let settings = Settings::new(&ctx.b.kv);
    ctx.config().await?;
    let token = session_token(req).ok_or_else(|| {
        Error::Unauthorized("sign in as admin, or send an admin-scope API key".into())
    })?;
    if !settings.session_valid(&token, ctx.now).await? {
        return Err(Error::Unauthorized(
            "the admin session has expired; sign in again".into(),
        ));
    }
    check_same_origin(req)
}
