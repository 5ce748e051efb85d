//! API keys and scopes: how keys look, how they are stored (hashed) and what they may do.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::core::error::{Error, Result};

pub const KEY_PREFIX: &str = "sk-";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Scope {
    #[serde(rename = "chat")]
    Chat,
    #[serde(rename = "memory:read")]
    MemoryRead,
    #[serde(rename = "memory:write")]
    MemoryWrite,
    #[serde(rename = "admin")]
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 4] = [
        Scope::Chat,
        Scope::MemoryRead,
        Scope::MemoryWrite,
        Scope::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Chat => "chat",
            Scope::MemoryRead => "memory:read",
            Scope::MemoryWrite => "memory:write",
            Scope::Admin => "admin",
        }
    }
}

/// What is stored for a key: never the key itself, only its SHA-256 (keys carry 192 random
/// bits, so a fast hash is enough; passwords get a slow one).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ApiKeyRecord {
    pub id: String,
    pub name: String,
    pub owner: String,
    pub scopes: Vec<Scope>,
    /// The first characters of the key, to recognise it in lists.
    pub prefix: String,
    pub key_hash: String,
    pub created_at: f64,
    #[serde(default)]
    pub rpm_limit: Option<u32>,
    #[serde(default)]
    pub daily_token_quota: Option<u64>,
    #[serde(default)]
    pub expires_at: Option<f64>,
}

/// A key record as `GET /admin/keys` shows it: no hash.
#[derive(Debug, Clone, Serialize)]
pub struct ApiKeyView<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub owner: &'a str,
    pub scopes: &'a [Scope],
    pub prefix: &'a str,
    pub created_at: f64,
    pub rpm_limit: Option<u32>,
    pub daily_token_quota: Option<u64>,
    pub expires_at: Option<f64>,
}

impl ApiKeyRecord {
    pub fn view(&self) -> ApiKeyView<'_> {
        ApiKeyView {
            id: &self.id,
            name: &self.name,
            owner: &self.owner,
            scopes: &self.scopes,
            prefix: &self.prefix,
            created_at: self.created_at,
            rpm_limit: self.rpm_limit,
            daily_token_quota: self.daily_token_quota,
            expires_at: self.expires_at,
        }
    }

    pub fn has(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope) || self.scopes.contains(&Scope::Admin)
    }

    pub fn is_expired(&self, now: f64) -> bool {
        self.expires_at.is_some_and(|t| now >= t)
    }
}

/// A fresh key from 24 random bytes: `sk-` + 48 hex digits.
pub fn new_key(random: &[u8; 24]) -> String {
    format!("{KEY_PREFIX}{}", hex::encode(random))
}

pub fn key_hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

pub fn key_display_prefix(key: &str) -> String {
    key.chars().take(10).collect()
}

/// Whether a presented key has a plausible shape, before any lookup.
pub fn looks_like_key(key: &str) -> bool {
    key.len() == KEY_PREFIX.len() + 48
        && key.starts_with(KEY_PREFIX)
        && key[KEY_PREFIX.len()..]
            .bytes()
            .all(|b| b.is_ascii_hexdigit())
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// Owners name the partition a key's data lives in.
pub fn validate_owner(owner: &str) -> Result<()> {
    if owner.is_empty()
        || owner.len() > 64
        || !owner
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'@'))
    {
        return Err(Error::invalid_param(
            "owner",
            "owner must be 1-64 characters of letters, digits, '-', '_', '.', '@'",
        ));
    }
    Ok(())
}

/// Parses the key out of `Authorization: Bearer ...` (or a bare `X-API-Key` value).
pub fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, rest) = header.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| rest.trim())
        .filter(|k| !k.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_have_a_checkable_shape() {
        let k = new_key(&[7u8; 24]);
        assert!(looks_like_key(&k));
        assert!(!looks_like_key("sk-short"));
        assert_eq!(key_display_prefix(&k).len(), 10);
        assert_ne!(key_hash(&k), k);
    }

    #[test]
    fn parses_bearer() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer   abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer "), None);
    }

    #[test]
    fn admin_implies_every_scope() {
        let rec = ApiKeyRecord {
            id: "k".into(),
            name: "n".into(),
            owner: "o".into(),
            scopes: vec![Scope::Admin],
            prefix: "sk-".into(),
            key_hash: "h".into(),
            created_at: 0.0,
            rpm_limit: None,
            daily_token_quota: None,
            expires_at: Some(10.0),
        };
        assert!(rec.has(Scope::MemoryWrite));
        assert!(rec.is_expired(10.0));
        assert!(!rec.is_expired(9.0));
    }

    #[test]
    fn owners_are_restricted() {
        assert!(validate_owner("alice@example.com").is_ok());
        assert!(validate_owner("").is_err());
        assert!(validate_owner("a/b").is_err());
    }
}
