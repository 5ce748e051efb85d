-- The gateway: server-side conversations, usage accounting, generated images.

CREATE TABLE conversations (
  owner      TEXT NOT NULL,
  id         TEXT NOT NULL,
  title      TEXT NOT NULL DEFAULT '',
  created_at REAL NOT NULL,
  updated_at REAL NOT NULL,
  PRIMARY KEY (owner, id)
);
CREATE INDEX conversations_owner_updated ON conversations (owner, updated_at);
CREATE INDEX conversations_updated ON conversations (updated_at);

CREATE TABLE conversation_messages (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  owner           TEXT NOT NULL,
  conversation_id TEXT NOT NULL,
  role            TEXT NOT NULL,
  content         TEXT NOT NULL,
  created_at      REAL NOT NULL
);
CREATE INDEX conversation_messages_conv ON conversation_messages (owner, conversation_id, id);

-- Per key, model and UTC day.
CREATE TABLE usage (
  day               TEXT    NOT NULL,
  key_id            TEXT    NOT NULL,
  owner             TEXT    NOT NULL,
  model             TEXT    NOT NULL,
  requests          INTEGER NOT NULL DEFAULT 0,
  prompt_tokens     INTEGER NOT NULL DEFAULT 0,
  completion_tokens INTEGER NOT NULL DEFAULT 0,
  errors            INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (day, key_id, model)
);
CREATE INDEX usage_key_day ON usage (key_id, day);

CREATE TABLE images (
  id         TEXT PRIMARY KEY,
  owner      TEXT NOT NULL,
  prompt     TEXT NOT NULL,
  blob_key   TEXT NOT NULL,
  created_at REAL NOT NULL
);
