-- The local vector index (used when Vectorize is not available), documents, and the
-- id each memory has in Vectorize.

CREATE TABLE counters (
  name  TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);
INSERT INTO counters (name, value) VALUES ('vector_seq', 0);

-- One row per indexed memory. `seq` grows on every write so that each isolate's in-memory
-- sketch cache can catch up incrementally; deletions leave a tombstone for the same reason.
CREATE TABLE vectors (
  memory_id INTEGER PRIMARY KEY,
  owner     TEXT    NOT NULL,
  seq       INTEGER NOT NULL,
  sketch    TEXT    NOT NULL,
  vector    TEXT    NOT NULL
);
CREATE INDEX vectors_owner_seq ON vectors (owner, seq);

CREATE TABLE vector_tombstones (
  memory_id INTEGER NOT NULL,
  owner     TEXT    NOT NULL,
  seq       INTEGER NOT NULL
);
CREATE INDEX vector_tombstones_owner_seq ON vector_tombstones (owner, seq);

ALTER TABLE memories ADD COLUMN vector_id TEXT;
CREATE INDEX memories_vector_id ON memories (vector_id);
CREATE INDEX memories_document ON memories (owner, document_id);

CREATE TABLE documents (
  id          TEXT PRIMARY KEY,
  owner       TEXT    NOT NULL,
  title       TEXT    NOT NULL,
  filename    TEXT,
  format      TEXT    NOT NULL,
  size        INTEGER NOT NULL,
  blob_key    TEXT,
  chunk_count INTEGER NOT NULL,
  tags        TEXT    NOT NULL DEFAULT '[]',
  created_at  REAL    NOT NULL
);
CREATE INDEX documents_owner_created ON documents (owner, created_at DESC);
