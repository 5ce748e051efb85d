-- When each API key was last used (written after the response, off the request path).
CREATE TABLE key_activity (
  key_id       TEXT PRIMARY KEY,
  last_used_at REAL NOT NULL
);
