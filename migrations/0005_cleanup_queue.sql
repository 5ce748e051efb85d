-- What a committed delete still has to remove outside D1 (an R2 object, a vector). Rows are
-- written in the same batch as the delete, removed once the object is gone, and retried by
-- the scheduled handler, so a failure or a crash in between leaves nothing behind.
CREATE TABLE cleanup_queue (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  owner      TEXT    NOT NULL,
  kind       TEXT    NOT NULL CHECK (kind IN ('blob', 'vector')),
  -- The R2 key, or the vector id.
  ref        TEXT    NOT NULL,
  -- For vectors: the memory the vector belonged to (ids are never reused).
  memory_id  INTEGER,
  created_at REAL    NOT NULL
);

CREATE INDEX cleanup_queue_created ON cleanup_queue (created_at);

CREATE INDEX cleanup_queue_owner ON cleanup_queue (owner);
