-- Sealed recordings and a full-text index over their terminal text and commands (issue:
-- recorder), so an auditor can find "every session where someone ran rm".
CREATE TABLE recordings (
  session_id       TEXT PRIMARY KEY,
  file             TEXT NOT NULL,
  user_name        TEXT NOT NULL DEFAULT '',
  asset_name       TEXT NOT NULL DEFAULT '',
  sealed_at        INTEGER NOT NULL,
  manifest_blake2b TEXT NOT NULL,
  legal_hold       INTEGER NOT NULL DEFAULT 0 CHECK (legal_hold IN (0, 1))
);
CREATE VIRTUAL TABLE recording_text USING fts5(session_id UNINDEXED, at_us UNINDEXED, line);
