-- Schema bookkeeping beyond PRAGMA user_version: when each migration ran.
CREATE TABLE schema_migrations (
  version    INTEGER PRIMARY KEY,
  name       TEXT NOT NULL,
  applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- Facts about this installation (e.g. when it was initialised). Never secrets.
CREATE TABLE installation (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
