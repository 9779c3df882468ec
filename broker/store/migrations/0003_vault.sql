-- The vault (issue: vault and just-in-time credentials). Only sealed bytes are stored here:
-- values are XChaCha20-Poly1305 under per-secret data keys wrapped by the master key, which is
-- never in the database.

CREATE TABLE vault_master_keys (
  id         INTEGER PRIMARY KEY,
  key_check  BLOB NOT NULL,            -- opens only under this master key (docs/vault.md)
  kdf        TEXT NOT NULL CHECK (kdf IN ('key-file', 'argon2id')),
  kdf_salt   BLOB,
  kdf_ops    INTEGER,
  kdf_mem    INTEGER,
  created_at INTEGER NOT NULL,
  retired_at INTEGER
);

CREATE TABLE secrets (
  id            INTEGER PRIMARY KEY,
  name          TEXT NOT NULL UNIQUE,
  kind          TEXT NOT NULL CHECK (kind IN ('password', 'ssh_private_key', 'totp_seed', 'api_token', 'signing_key')),
  version       INTEGER NOT NULL CHECK (version >= 1),
  master_key_id INTEGER NOT NULL REFERENCES vault_master_keys(id),
  wrapped_key   BLOB NOT NULL,
  ciphertext    BLOB NOT NULL,
  exclusive     INTEGER NOT NULL DEFAULT 0 CHECK (exclusive IN (0, 1)),
  description   TEXT NOT NULL DEFAULT '',
  created_at    INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL
);

-- Endpoint credentials: which secret the broker uses to log in to an endpoint (none: the
-- SSH CA mints a certificate per session).
ALTER TABLE endpoints ADD COLUMN credential_secret TEXT REFERENCES secrets(name);
