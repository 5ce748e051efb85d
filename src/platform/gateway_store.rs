//! The gateway's D1 tables: server-side conversations, usage per key/model/day, images.

use serde::{Deserialize, Serialize};
use worker::D1Database;

use crate::core::time::day_string;
use crate::core::Result;
use crate::platform::d1::{self, Arg};

pub struct GatewayStore<'a> {
    db: &'a D1Database,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredMessage {
    pub role: String,
    pub content: String,
    pub created_at: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConversationSummary {
    pub id: String,
    pub owner: String,
    pub title: String,
    pub created_at: f64,
    pub updated_at: f64,
    pub message_count: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UsageRow {
    pub day: String,
    pub key_id: String,
    pub owner: String,
    pub model: String,
    pub requests: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub errors: i64,
}

/// One usage event to record.
pub struct UsageEvent<'u> {
    pub key_id: &'u str,
    pub owner: &'u str,
    pub model: &'u str,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub error: bool,
}

impl<'a> GatewayStore<'a> {
    pub fn new(db: &'a D1Database) -> Self {
        GatewayStore { db }
    }

    pub async fn history(&self, owner: &str, id: &str) -> Result<Vec<StoredMessage>> {
        d1::all(
            self.db,
            "SELECT role, content, created_at FROM conversation_messages WHERE owner = ?1 AND conversation_id = ?2 ORDER BY id",
            &[owner.into(), id.into()],
        )
        .await
    }

    /// Appends an exchange (one transaction) and prunes the owner's oldest conversations
    /// beyond `keep`.
    pub async fn append(
        &self,
        owner: &str,
        id: &str,
        title: &str,
        messages: &[(String, String)],
        now: f64,
        keep: u32,
    ) -> Result<()> {
        let mut statements = vec![d1::stmt(
            self.db,
            "INSERT INTO conversations (owner, id, title, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)
             ON CONFLICT (owner, id) DO UPDATE SET updated_at = excluded.updated_at",
            &[owner.into(), id.into(), title.into(), now.into()],
        )?];
        for (role, content) in messages {
            statements.push(d1::stmt(
                self.db,
                "INSERT INTO conversation_messages (owner, conversation_id, role, content, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                &[owner.into(), id.into(), Arg::Text(role), Arg::Text(content), now.into()],
            )?);
        }
        let prune_where = "owner = ?1 AND id NOT IN (SELECT id FROM conversations WHERE owner = ?1 ORDER BY updated_at DESC, id DESC LIMIT ?2)";
        statements.push(d1::stmt(
            self.db,
            &format!("DELETE FROM conversation_messages WHERE owner = ?1 AND conversation_id IN (SELECT id FROM conversations WHERE {prune_where})"),
            &[owner.into(), i64::from(keep).into()],
        )?);
        statements.push(d1::stmt(
            self.db,
            &format!("DELETE FROM conversations WHERE {prune_where}"),
            &[owner.into(), i64::from(keep).into()],
        )?);
        d1::batch(self.db, statements).await
    }

    pub async fn list(&self, owner: Option<&str>) -> Result<Vec<ConversationSummary>> {
        d1::all(
            self.db,
            "SELECT c.id, c.owner, c.title, c.created_at, c.updated_at,
                    (SELECT COUNT(*) FROM conversation_messages m WHERE m.owner = c.owner AND m.conversation_id = c.id) AS message_count
             FROM conversations c WHERE (?1 IS NULL OR c.owner = ?1) ORDER BY c.updated_at DESC LIMIT 500",
            &[owner.into()],
        )
        .await
    }

    pub async fn owner_of(&self, id: &str) -> Result<Option<String>> {
        #[derive(Deserialize)]
        struct O {
            owner: String,
        }
        let o: Option<O> = d1::first(
            self.db,
            "SELECT owner FROM conversations WHERE id = ?1 ORDER BY updated_at DESC LIMIT 1",
            &[id.into()],
        )
        .await?;
        Ok(o.map(|o| o.owner))
    }

    /// Removes conversations untouched since `before`.
    pub async fn prune_expired(&self, before: f64) -> Result<()> {
        let statements = vec![
            d1::stmt(
                self.db,
                "DELETE FROM conversation_messages WHERE (owner, conversation_id) IN (SELECT owner, id FROM conversations WHERE updated_at < ?1)",
                &[before.into()],
            )?,
            d1::stmt(self.db, "DELETE FROM conversations WHERE updated_at < ?1", &[before.into()])?,
        ];
        d1::batch(self.db, statements).await
    }

    pub async fn record_usage(&self, u: &UsageEvent<'_>, now: f64) -> Result<()> {
        d1::run(
            self.db,
            "INSERT INTO usage (day, key_id, owner, model, requests, prompt_tokens, completion_tokens, errors)
             VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6, ?7)
             ON CONFLICT (day, key_id, model) DO UPDATE SET requests = requests + 1,
               prompt_tokens = prompt_tokens + excluded.prompt_tokens,
               completion_tokens = completion_tokens + excluded.completion_tokens,
               errors = errors + excluded.errors",
            &[
                day_string(now).as_str().into(),
                u.key_id.into(),
                u.owner.into(),
                u.model.into(),
                (u.prompt_tokens as i64).into(),
                (u.completion_tokens as i64).into(),
                i64::from(u.error).into(),
            ],
        )
        .await?;
        Ok(())
    }

    /// Tokens a key used today (UTC).
    pub async fn tokens_today(&self, key_id: &str, now: f64) -> Result<u64> {
        #[derive(Deserialize)]
        struct T {
            t: Option<f64>,
        }
        let t: Option<T> = d1::first(
            self.db,
            "SELECT SUM(prompt_tokens + completion_tokens) AS t FROM usage WHERE key_id = ?1 AND day = ?2",
            &[key_id.into(), day_string(now).as_str().into()],
        )
        .await?;
        Ok(t.and_then(|t| t.t).unwrap_or(0.0).max(0.0) as u64)
    }

    pub async fn usage_since(&self, day: &str) -> Result<Vec<UsageRow>> {
        d1::all(
            self.db,
            "SELECT day, key_id, owner, model, requests, prompt_tokens, completion_tokens, errors FROM usage WHERE day >= ?1 ORDER BY day, key_id, model",
            &[day.into()],
        )
        .await
    }

    pub async fn save_image(
        &self,
        id: &str,
        owner: &str,
        prompt: &str,
        blob_key: &str,
        now: f64,
    ) -> Result<()> {
        d1::run(
            self.db,
            "INSERT INTO images (id, owner, prompt, blob_key, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            &[id.into(), owner.into(), prompt.into(), blob_key.into(), now.into()],
        )
        .await?;
        Ok(())
    }
}
