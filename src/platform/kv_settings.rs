//! Configuration, the admin password and API keys, kept in KV.
//! Keys are stored under the SHA-256 of the key, so a lookup never needs the key itself.

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
        let raw = self.kv.get(CONFIG_KEY).text().await.map_err(storage)?;
        match raw {
            None => Ok(None),
            Some(s) => serde_json::from_str(&s)
                .map(Some)
                .map_err(|e| Error::Storage(format!("stored config is unreadable: {e}"))),
        }
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
            .map_err(storage)
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
            .map_err(storage)
    }

    /// The record of a presented key, if it exists.
    pub async fn find_key(&self, key: &str) -> Result<Option<ApiKeyRecord>> {
        let hash = key_hash(key);
        let raw = self
            .kv
            .get(&format!("{API_KEY_PREFIX}{hash}"))
            .text()
            .await
            .map_err(storage)?;
        let Some(raw) = raw else { return Ok(None) };
        let record: ApiKeyRecord =
            serde_json::from_str(&raw).map_err(|e| Error::Storage(e.to_string()))?;
        Ok(constant_time_eq(record.key_hash.as_bytes(), hash.as_bytes()).then_some(record))
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
