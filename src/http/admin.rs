//! First-run setup and API key administration.

use serde::Deserialize;
use serde_json::json;
use worker::Request;

use crate::core::auth::{
    key_display_prefix, key_hash, new_key, validate_owner, ApiKeyRecord, Scope,
};
use crate::core::config::InitRequest;
use crate::core::{Error, Result};
use crate::http::auth::{require_admin, session_token, SESSION_COOKIE};
use crate::http::body::read_json;
use crate::http::respond::{json, no_content, HttpResult};
use crate::http::Ctx;
use crate::platform::crypto::{random_bytes, random_hex};
use crate::platform::d1;
use crate::platform::kv_settings::{Settings, SESSION_TTL_SECS};
use crate::platform::rate_limit;

const SMALL_BODY: usize = 64 * 1024;

pub async fn init(ctx: &Ctx, req: &mut Request) -> HttpResult {
    let settings = Settings::new(&ctx.b.kv);
    if settings.config().await?.is_some() {
        return Err(Error::Conflict("memgate is already initialised".into()));
    }
    let body: InitRequest = read_json(req, SMALL_BODY).await?;
    let (password, config) = body.into_config(&ctx.b.config_defaults())?;
    // D1 is the one place an insert is atomic: exactly one init can claim the instance.
    let claimed = d1::run(
        &ctx.b.db,
        "INSERT INTO meta (key, value) VALUES ('initialized', ?1) ON CONFLICT (key) DO NOTHING",
        &[ctx.now.into()],
    )
    .await?;
    if claimed == 0 {
        return Err(Error::Conflict("memgate is already initialised".into()));
    }
    let result: Result<String> = async {
        settings.set_password(&password).await?;
        let (key, record) = mint_key(ctx, "admin", "admin", Scope::ALL.to_vec(), None, None, None)?;
        settings.put_key(&record).await?;
        settings.save_config(&config).await?;
        Ok(key)
    }
    .await;
    match result {
        Ok(key) => json(
            201,
            &json!({"api_key": key, "owner": "admin", "scopes": Scope::ALL}),
        ),
        Err(e) => {
            // Release the claim so that init can be tried again.
            let _ = d1::run(&ctx.b.db, "DELETE FROM meta WHERE key = 'initialized'", &[]).await;
            Err(e)
        }
    }
}

fn mint_key(
    ctx: &Ctx,
    name: &str,
    owner: &str,
    scopes: Vec<Scope>,
    rpm_limit: Option<u32>,
    daily_token_quota: Option<u64>,
    expires_at: Option<f64>,
) -> Result<(String, ApiKeyRecord)> {
    let key = new_key(&random_bytes::<24>()?);
    let record = ApiKeyRecord {
        id: format!("key_{}", random_hex::<8>()?),
        name: name.to_string(),
        owner: owner.to_string(),
        scopes,
        prefix: key_display_prefix(&key),
        key_hash: key_hash(&key),
        created_at: ctx.now,
        rpm_limit,
        daily_token_quota,
        expires_at,
    };
    Ok((key, record))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateKeyRequest {
    name: String,
    #[serde(default)]
    owner: Option<String>,
    #[serde(default)]
    scopes: Option<Vec<Scope>>,
    #[serde(default)]
    rpm_limit: Option<u32>,
    #[serde(default)]
    daily_token_quota: Option<u64>,
    #[serde(default)]
    expires_at: Option<f64>,
}

pub async fn create_key(ctx: &Ctx, req: &mut Request) -> HttpResult {
    require_admin(ctx, req).await?;
    let body: CreateKeyRequest = read_json(req, SMALL_BODY).await?;
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Error::invalid_param(
            "name",
            "name must be 1-100 characters",
        ));
    }
    let owner = body.owner.as_deref().unwrap_or("admin").trim().to_string();
    validate_owner(&owner)?;
    let mut scopes = body
        .scopes
        .unwrap_or_else(|| vec![Scope::Chat, Scope::MemoryRead, Scope::MemoryWrite]);
    scopes.dedup();
    if scopes.is_empty() {
        return Err(Error::invalid_param(
            "scopes",
            "a key needs at least one scope",
        ));
    }
    if body.rpm_limit == Some(0) {
        return Err(Error::invalid_param(
            "rpm_limit",
            "rpm_limit must be at least 1",
        ));
    }
    if let Some(t) = body.expires_at {
        if !t.is_finite() || t <= ctx.now {
            return Err(Error::invalid_param(
                "expires_at",
                "expires_at must be a future Unix time in seconds",
            ));
        }
    }
    let (key, record) = mint_key(
        ctx,
        name,
        &owner,
        scopes,
        body.rpm_limit,
        body.daily_token_quota,
        body.expires_at,
    )?;
    Settings::new(&ctx.b.kv).put_key(&record).await?;
    let mut view =
        serde_json::to_value(record.view()).map_err(|e| Error::Internal(e.to_string()))?;
    view["key"] = json!(key);
    json(201, &view)
}

pub async fn list_keys(ctx: &Ctx, req: &mut Request) -> HttpResult {
    require_admin(ctx, req).await?;
    let keys = Settings::new(&ctx.b.kv).list_keys().await?;
    #[derive(Deserialize)]
    struct Seen {
        key_id: String,
        last_used_at: f64,
    }
    let seen: Vec<Seen> = d1::all(
        &ctx.b.db,
        "SELECT key_id, last_used_at FROM key_activity",
        &[],
    )
    .await?;
    let views: Vec<serde_json::Value> = keys
        .iter()
        .map(|k| {
            let mut v = serde_json::to_value(k.view()).unwrap_or_default();
            v["last_used_at"] = json!(seen
                .iter()
                .find(|s| s.key_id == k.id)
                .map(|s| s.last_used_at));
            v
        })
        .collect();
    json(200, &json!({"keys": views}))
}

pub async fn delete_key(ctx: &Ctx, req: &mut Request, id: &str) -> HttpResult {
    require_admin(ctx, req).await?;
    let settings = Settings::new(&ctx.b.kv);
    let keys = settings.list_keys().await?;
    let record = keys
        .iter()
        .find(|k| k.id == id)
        .ok_or_else(|| Error::not_found("no such key"))?;
    settings.delete_key(record).await?;
    no_content()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginRequest {
    password: String,
}

/// Sign-in attempts allowed per client address per window.
const LOGIN_ATTEMPTS: u32 = 10;
const LOGIN_WINDOW_SECS: u64 = 300;

pub async fn login(ctx: &Ctx, req: &mut Request) -> HttpResult {
    let settings = Settings::new(&ctx.b.kv);
    settings.require_config().await?;
    let client = req
        .headers()
        .get("cf-connecting-ip")
        .ok()
        .flatten()
        .unwrap_or_else(|| "local".into());
    rate_limit::hit(
        &ctx.b.db,
        &format!("login:{client}"),
        LOGIN_ATTEMPTS,
        LOGIN_WINDOW_SECS,
        ctx.now,
        "too many sign-in attempts",
    )
    .await?;
    let body: LoginRequest = read_json(req, SMALL_BODY).await?;
    if body.password.len() > 256 || !settings.verify_password(&body.password).await? {
        return Err(Error::Unauthorized("wrong password".into()));
    }
    let token = random_hex::<32>()?;
    settings.create_session(&token, ctx.now).await?;
    let secure = req.url().map(|u| u.scheme() == "https").unwrap_or(false);
    let cookie = format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={SESSION_TTL_SECS}{}",
        if secure { "; Secure" } else { "" }
    );
    let mut resp = no_content()?;
    resp.headers_mut()
        .set("set-cookie", &cookie)
        .map_err(|e| Error::Internal(e.to_string()))?;
    Ok(resp)
}

pub async fn logout(ctx: &Ctx, req: &mut Request) -> HttpResult {
    if let Some(token) = session_token(req) {
        Settings::new(&ctx.b.kv).delete_session(&token).await?;
    }
    let mut resp = no_content()?;
    resp.headers_mut()
        .set(
            "set-cookie",
            &format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
        )
        .map_err(|e| Error::Internal(e.to_string()))?;
    Ok(resp)
}

pub async fn get_config(ctx: &Ctx, req: &mut Request) -> HttpResult {
    require_admin(ctx, req).await?;
    let cfg = Settings::new(&ctx.b.kv).require_config().await?;
    json(200, &cfg.redacted())
}

pub async fn put_config(ctx: &Ctx, req: &mut Request) -> HttpResult {
    require_admin(ctx, req).await?;
    let settings = Settings::new(&ctx.b.kv);
    let cfg = settings.require_config().await?;
    let patch: serde_json::Value = read_json(req, SMALL_BODY).await?;
    let next = cfg.patched(&patch)?;
    settings.save_config(&next).await?;
    json(200, &next.redacted())
}

pub async fn usage(ctx: &Ctx, req: &mut Request) -> HttpResult {
    require_admin(ctx, req).await?;
    let url = req.url().map_err(|e| Error::invalid(e.to_string()))?;
    let days: u32 = match url.query_pairs().find(|(k, _)| k == "days") {
        Some((_, v)) => v
            .parse()
            .ok()
            .filter(|d| (1..=366).contains(d))
            .ok_or_else(|| Error::invalid_param("days", "days must be an integer from 1 to 366"))?,
        None => 30,
    };
    let since = crate::core::time::day_string(ctx.now - f64::from(days - 1) * 86_400.0);
    let rows = crate::platform::gateway_store::GatewayStore::new(&ctx.b.db)
        .usage_since(&since)
        .await?;
    let names: std::collections::HashMap<String, String> = Settings::new(&ctx.b.kv)
        .list_keys()
        .await?
        .into_iter()
        .map(|k| (k.id, k.name))
        .collect();
    let usage: Vec<serde_json::Value> = rows
        .into_iter()
        .map(|r| {
            let mut v = serde_json::to_value(&r).unwrap_or_default();
            v["key_name"] = json!(names
                .get(&r.key_id)
                .cloned()
                .unwrap_or_else(|| r.key_id.clone()));
            v
        })
        .collect();
    json(200, &json!({"since": since, "usage": usage}))
}

pub async fn conversations(ctx: &Ctx, req: &mut Request) -> HttpResult {
    require_admin(ctx, req).await?;
    let url = req.url().map_err(|e| Error::invalid(e.to_string()))?;
    let owner = url
        .query_pairs()
        .find(|(k, _)| k == "owner")
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty());
    if let Some(o) = &owner {
        validate_owner(o)?;
    }
    let list = crate::platform::gateway_store::GatewayStore::new(&ctx.b.db)
        .list(owner.as_deref())
        .await?;
    json(200, &json!({"conversations": list}))
}

pub async fn conversation(ctx: &Ctx, req: &mut Request, id: &str) -> HttpResult {
    require_admin(ctx, req).await?;
    crate::core::openai::validate_conversation_id(id)
        .map_err(|_| Error::not_found("conversation not found"))?;
    let store = crate::platform::gateway_store::GatewayStore::new(&ctx.b.db);
    let owner = store
        .owner_of(id)
        .await?
        .ok_or_else(|| Error::not_found("conversation not found"))?;
    let messages = store.history(&owner, id).await?;
    json(
        200,
        &json!({"id": id, "owner": owner, "messages": messages}),
    )
}
