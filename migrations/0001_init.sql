-- memgate: memories, their tags and keyword index, and instance metadata.

CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);

CREATE TABLE memories (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  owner         TEXT    NOT NULL,
  content_hash  TEXT    NOT NULL,
  -- NULL when the content is larger than LARGE_CONTENT_THRESHOLD and lives in R2.
  content       TEXT,
  blob_key      TEXT,
  content_bytes INTEGER NOT NULL,
  memory_type   TEXT,
  tags          TEXT    NOT NULL DEFAULT '[]',
  metadata      TEXT    NOT NULL DEFAULT '{}',
  document_id   TEXT,
  created_at    REAL    NOT NULL,
  updated_at    REAL    NOT NULL,
  -- 0: vector not yet written (or its write failed, to be repaired); 1: indexed.
  vector_state  INTEGER NOT NULL DEFAULT 0,
  UNIQUE (owner, content_hash)
);
CREATE INDEX memories_owner_created ON memories (owner, created_at DESC);
CREATE INDEX memories_owner_type ON memories (owner, memory_type, created_at DESC);
CREATE INDEX memories_unindexed ON memories (vector_state) WHERE vector_state = 0;

CREATE TABLE memory_tags (
  memory_id INTEGER NOT NULL,
  owner     TEXT    NOT NULL,
  tag       TEXT    NOT NULL,
  PRIMARY KEY (memory_id, tag)
);
CREATE INDEX memory_tags_owner_tag ON memory_tags (owner, tag);

-- Keyword index; rowid = memories.id.
CREATE VIRTUAL TABLE memories_fts USING fts5(content, tags, tokenize = 'unicode61 remove_diacritics 2');

-- Fixed-window counters for rate limits (per key per minute, sign-in attempts, machines).
-- D1 serialises writes, so an upsert-and-read is exact under concurrency.
CREATE TABLE rate_counters (
  bucket     TEXT PRIMARY KEY,
  count      INTEGER NOT NULL,
  expires_at REAL    NOT NULL
);
CREATE INDEX rate_counters_expiry ON rate_counters (expires_at);
