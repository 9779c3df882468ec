-- Portal browser sessions (issue: portal). Only a BLAKE2b hash of the cookie value is stored,
-- so a copy of the database does not let anyone ride a session.
CREATE TABLE web_sessions (
  id_hash      BLOB PRIMARY KEY,
  user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  stage        TEXT NOT NULL CHECK (stage IN ('totp', 'enrol', 'active')),
  csrf_token   TEXT NOT NULL,
  source       TEXT NOT NULL,
  created_at   INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL
);
CREATE INDEX web_sessions_user ON web_sessions(user_id);

-- API tokens for automation: scoped to a subset of the owner's roles, stored hashed, revocable.
CREATE TABLE api_tokens (
  id           INTEGER PRIMARY KEY,
  user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name         TEXT NOT NULL,
  token_hash   BLOB NOT NULL UNIQUE,
  roles        TEXT NOT NULL,        -- "engineer,auditor"
  created_at   INTEGER NOT NULL,
  last_used_at INTEGER,
  revoked_at   INTEGER
);

-- Live and past vendor sessions: the registry the portal shows (NERC CIP-005 R2.4). A kill
-- suspends the session's grant; every gateway re-checks its grant each second and ends.
CREATE TABLE sessions (
  id              TEXT PRIMARY KEY,
  user_name       TEXT NOT NULL,
  asset_name      TEXT NOT NULL,
  protocol        TEXT NOT NULL,
  source          TEXT NOT NULL,
  grant_id        INTEGER REFERENCES grants(id) ON DELETE SET NULL,
  started_at      INTEGER NOT NULL,
  until_at        INTEGER NOT NULL,
  ended_at        INTEGER,
  end_reason      TEXT NOT NULL DEFAULT '',
  bytes_to_target INTEGER NOT NULL DEFAULT 0,
  bytes_to_vendor INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX sessions_open ON sessions(ended_at);
