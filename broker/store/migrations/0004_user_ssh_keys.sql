-- Public keys vendors registered for the SSH gateway (issue: SSH gateway).
CREATE TABLE user_ssh_keys (
  id         INTEGER PRIMARY KEY,
  user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  key_line   TEXT NOT NULL,        -- "ssh-ed25519 AAAA..." without comment
  comment    TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  UNIQUE (user_id, key_line)
);
