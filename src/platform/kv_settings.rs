//! Configuration, the admin password and API keys, kept in KV.
//! Keys are stored under the SHA-256 of the key, so a lookup never needs the key itself.

use std::cell::RefCell;
use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use worker::kv::KvStore;

use crate::core::auth::{constant_time_eq, key_hash, ApiKeyRecord};
use crate::core::config::Config;
use crate::core::{Error, Result};
use crate::platform::crypto::{pbkdf2_sha256, random_bytes};
use crate::platform::error::storage;

const CONFIG_KEY: &str = "config";
const PASSWORD_KEY: &str = "admin:password";
const API_KEY_PREFIX: &str = "key:";
const SESSION_PREFIX: &str = "session:";
/// Admin sessions last this long; KV expires them, and logout deletes them at once.
pub const SESSION_TTL_SECS: u64 = 12 * 3600;
/// The most iterations Workers' WebCrypto allows for PBKDF2.
const PBKDF2_ITERATIONS: u32 = 100_000;

/// How long an isolate trusts what it read from KV. Every write made through this isolate
/// updates its copy at once; other isolates see a change within this time (KV itself is
/// eventually consistent for up to 60 s, so this adds no new kind of staleness).
const ISOLATE_CACHE_MS: f64 = 10_000.0;
/// A bound on cached key records, so that many distinct keys cannot grow the isolate.
const MAX_CACHED_KEYS: usize = 1024;

/// What this isolate last read from KV: the configuration and API key records by hash.
/// Only found records are kept; an unknown key is looked up every time.
#[derive(Default)]
struct IsolateCache {
    config: Option<(Config, f64)>,
    keys: HashMap<String, (ApiKeyRecord, f64)>,
}

thread_local! {
    static CACHE: RefCell<IsolateCache> = RefCell::new(IsolateCache::default());
}

fn fresh(read_at: f64) -> bool {
    js_sys::Date::now() - read_at < ISOLATE_CACHE_MS
}

fn remember_config(cfg: &Config) {
    CACHE.with(|c| c.borrow_mut().config = Some((cfg.clone(), js_sys::Date::now())));
}

fn remember_key(record: &ApiKeyRecord) {
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.keys.len() >= MAX_CACHED_KEYS {
            c.keys.clear();
        }
        c.keys.insert(
            record.key_hash.clone(),
            (record.clone(), js_sys::Date::now()),
        );
    });
}

pub struct Settings<'a> {
    kv: &'a KvStore,
}

#[derive(Serialize, Deserialize)]
struct PasswordHash {
    alg: String,
    iterations: u32,
    salt: String,
    hash: String,
}

impl<'a> Settings<'a> {
    pub fn new(kv: &'a KvStore) -> Self {
        Settings { kv }
    }

    pub async fn config(&self) -> Result<Option<Config>> {
        let cached = CACHE.with(|c| {
            c.borrow()
                .config
                .as_ref()
                .filter(|(_, at)| fresh(*at))
                .map(|(cfg, _)| cfg.clone())
        });
        if cached.is_some() {
            return Ok(cached);
        }
        let raw = self.kv.get(CONFIG_KEY).text().await.map_err(storage)?;
        let Some(raw) = raw else { return Ok(None) };
        let cfg: Config = serde_json::from_str(&raw)
            .map_err(|e| Error::Storage(format!("stored config is unreadable: {e}")))?;
        remember_config(&cfg);
        Ok(Some(cfg))
    }

    pub async fn require_config(&self) -> Result<Config> {
        self.config().await?.ok_or(Error::NotInitialized)
    }

    pub async fn save_config(&self, cfg: &Config) -> Result<()> {
        let body = serde_json::to_string(cfg).map_err(|e| Error::Internal(e.to_string()))?;
        self.kv
            .put(CONFIG_KEY, body)
            .map_err(storage)?
            .execute()
            .await
            .map_err(storage)?;
        remember_config(cfg);
        Ok(())
    }

    pub async fn set_password(&self, password: &str) -> Result<()> {
        let salt = random_bytes::<16>()?;
        let hash = pbkdf2_sha256(password, &salt, PBKDF2_ITERATIONS).await?;
        let record = PasswordHash {
            alg: "pbkdf2-sha256".into(),
            iterations: PBKDF2_ITERATIONS,
            salt: hex::encode(salt),
            hash: hex::encode(hash),
        };
        let body = serde_json::to_string(&record).map_err(|e| Error::Internal(e.to_string()))?;
        self.kv
            .put(PASSWORD_KEY, body)
            .map_err(storage)?
            .execute()
            .await
            .map_err(storage)
    }

    pub async fn verify_password(&self, password: &str) -> Result<bool> {
        let Some(raw) = self.kv.get(PASSWORD_KEY).text().await.map_err(storage)? else {
            return Ok(false);
        };
        let stored: PasswordHash =
            serde_json::from_str(&raw).map_err(|e| Error::Storage(e.to_string()))?;
        let salt = hex::decode(&stored.salt).map_err(|e| Error::Storage(e.to_string()))?;
        let expected = hex::decode(&stored.hash).map_err(|e| Error::Storage(e.to_string()))?;
        let got = pbkdf2_sha256(password, &salt, stored.iterations).await?;
        Ok(constant_time_eq(&got, &expected))
    }

    pub async fn put_key(&self, record: &ApiKeyRecord) -> Result<()> {
        let body = serde_json::to_string(record).map_err(|e| Error::Internal(e.to_string()))?;
        self.kv
            .put(&format!("{API_KEY_PREFIX}{}", record.key_hash), body)
            .map_err(storage)?
            .execute()
            .await
            .map_err(storage)?;
        remember_key(record);
        Ok(())
    }

    /// The record of a presented key, if it exists.
    pub async fn find_key(&self, key: &str) -> Result<Option<ApiKeyRecord>> {
        let hash = key_hash(key);
        let cached = CACHE.with(|c| {
            c.borrow()
                .keys
                .get(&hash)
                .filter(|(_, at)| fresh(*at))
                .map(|(r, _)| r.clone())
        });
        if let Some(record) = cached {
            return Ok(Some(record));
        }
        let raw = self
            .kv
            .get(&format!("{API_KEY_PREFIX}{hash}"))
            .text()
            .await
            .map_err(storage)?;
        let Some(raw) = raw else { return Ok(None) };
        let record: ApiKeyRecord =
            serde_json::from_str(&raw).map_err(|e| Error::Storage(e.to_string()))?;
        if !constant_time_eq(record.key_hash.as_bytes(), hash.as_bytes()) {
            return Ok(None);
        }
        remember_key(&record);
        Ok(Some(record))
    }

    pub async fn list_keys(&self) -> Result<Vec<ApiKeyRecord>> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut req = self.kv.list().prefix(API_KEY_PREFIX.to_string());
            if let Some(c) = cursor.take() {
                req = req.cursor(c);
            }
            let page = req.execute().await.map_err(storage)?;
            for k in page.keys {
                if let Some(raw) = self.kv.get(&k.name).text().await.map_err(storage)? {
                    if let Ok(rec) = serde_json::from_str::<ApiKeyRecord>(&raw) {
                        out.push(rec);
                    }
                }
            }
            if page.list_complete {
                break;
            }
            cursor = page.cursor;
            if cursor.is_none() {
                break;
            }
        }
        out.sort_by(|a, b| a.created_at.total_cmp(&b.created_at));
        Ok(out)
    }

    pub async fn delete_key(&self, record: &ApiKeyRecord) -> Result<()> {
        CACHE.with(|c| c.borrow_mut().keys.remove(&record.key_hash));
        self.kv
            .delete(&format!("{API_KEY_PREFIX}{}", record.key_hash))
            .await
            .map_err(storage)
    }

    /// Stores a new admin session under the hash of its token; returns nothing secret.
    pub async fn create_session(&self, token: &str, now: f64) -> Result<()> {
        let body =
            serde_json::json!({"created_at": now, "expires_at": now + SESSION_TTL_SECS as f64});
        self.kv
            .put(
                &format!("{SESSION_PREFIX}{}", key_hash(token)),
                body.to_string(),
            )
            .map_err(storage)?
            .expiration_ttl(SESSION_TTL_SECS)
            .execute()
            .await
            .map_err(storage)
    }

    pub async fn session_valid(&self, token: &str, now: f64) -> Result<bool> {
        #[derive(Deserialize)]
        struct Session {
            expires_at: f64,
        }
        let raw = self
            .kv
            .get(&format!("{SESSION_PREFIX}{}", key_hash(token)))
            .text()
            .await
            .map_err(storage)?;
        Ok(raw
            .and_then(|r| serde_json::from_str::<Session>(&r).ok())
            .is_some_and(|s| s.expires_at > now))
    }

    pub async fn delete_session(&self, token: &str) -> Result<()> {
        self.kv
            .delete(&format!("{SESSION_PREFIX}{}", key_hash(token)))
            .await
            .map_err(storage)
    }
}
