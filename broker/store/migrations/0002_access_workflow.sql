-- Identities, assets, requests, approvals, grants and the audit chain (issue: access workflow).
-- Times are Unix seconds (UTC). Deleting anything with history is refused by foreign keys:
-- disable it instead, so the audit trail keeps its meaning.

CREATE TABLE vendors (
  id           INTEGER PRIMARY KEY,
  name         TEXT NOT NULL UNIQUE,
  contact      TEXT NOT NULL DEFAULT '',
  contract_end INTEGER,
  disabled     INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
  created_at   INTEGER NOT NULL
);

CREATE TABLE users (
  id               INTEGER PRIMARY KEY,
  username         TEXT NOT NULL UNIQUE,
  display_name     TEXT NOT NULL DEFAULT '',
  vendor_id        INTEGER REFERENCES vendors(id),
  disabled         INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
  expires_at       INTEGER,
  password_hash    TEXT,
  -- TOTP seed: plain until the vault exists (totp_seed_sealed = 0 marks it), sealed after.
  totp_seed        BLOB,
  totp_seed_sealed INTEGER NOT NULL DEFAULT 0 CHECK (totp_seed_sealed IN (0, 1)),
  totp_last_step   INTEGER NOT NULL DEFAULT 0,
  failed_logins    INTEGER NOT NULL DEFAULT 0,
  locked_until     INTEGER,
  created_at       INTEGER NOT NULL
);

CREATE TABLE user_roles (
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  role    TEXT NOT NULL CHECK (role IN ('vendor', 'engineer', 'auditor', 'admin')),
  PRIMARY KEY (user_id, role)
);

CREATE TABLE engineer_groups (
  id          INTEGER PRIMARY KEY,
  name        TEXT NOT NULL UNIQUE,
  description TEXT NOT NULL DEFAULT ''
);

CREATE TABLE group_members (
  group_id INTEGER NOT NULL REFERENCES engineer_groups(id) ON DELETE CASCADE,
  user_id  INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  PRIMARY KEY (group_id, user_id)
);

CREATE TABLE assets (
  id             INTEGER PRIMARY KEY,
  name           TEXT NOT NULL UNIQUE,
  site           TEXT NOT NULL DEFAULT '',
  zone           TEXT NOT NULL DEFAULT '',
  criticality    TEXT NOT NULL CHECK (criticality IN ('low', 'medium', 'high', 'critical')),
  owner_group_id INTEGER NOT NULL REFERENCES engineer_groups(id),
  max_sessions   INTEGER NOT NULL DEFAULT 1 CHECK (max_sessions >= 1),
  disabled       INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
  created_at     INTEGER NOT NULL
);

CREATE TABLE asset_tags (
  asset_id INTEGER NOT NULL REFERENCES assets(id) ON DELETE CASCADE,
  tag      TEXT NOT NULL,
  PRIMARY KEY (asset_id, tag)
);

CREATE TABLE endpoints (
  id         INTEGER PRIMARY KEY,
  asset_id   INTEGER NOT NULL REFERENCES assets(id) ON DELETE CASCADE,
  protocol   TEXT NOT NULL CHECK (protocol IN ('ssh', 'rdp', 'modbus', 's7', 'dnp3', 'opcua', 'tcp')),
  host       TEXT NOT NULL,
  port       INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
  account    TEXT NOT NULL DEFAULT '',
  pinned_key TEXT NOT NULL DEFAULT '',
  UNIQUE (asset_id, protocol)
);

CREATE TABLE access_requests (
  id           INTEGER PRIMARY KEY,
  requester_id INTEGER NOT NULL REFERENCES users(id),
  asset_id     INTEGER NOT NULL REFERENCES assets(id),
  owner_group  TEXT NOT NULL,
  protocols    TEXT NOT NULL,
  window_start INTEGER NOT NULL,
  duration     INTEGER NOT NULL CHECK (duration > 0),
  reason       TEXT NOT NULL,
  ticket       TEXT NOT NULL DEFAULT '',
  state        TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'denied', 'expired', 'cancelled')),
  created_at   INTEGER NOT NULL,
  decided_at   INTEGER,
  policy_rule  TEXT NOT NULL,
  limits       TEXT NOT NULL
);
CREATE INDEX access_requests_state ON access_requests(state);

CREATE TABLE request_votes (
  request_id      INTEGER NOT NULL REFERENCES access_requests(id),
  approver_id     INTEGER NOT NULL REFERENCES users(id),
  approver_name   TEXT NOT NULL,
  approver_groups TEXT NOT NULL,
  approve         INTEGER NOT NULL CHECK (approve IN (0, 1)),
  comment         TEXT NOT NULL,
  at              INTEGER NOT NULL,
  PRIMARY KEY (request_id, approver_id)
);

CREATE TABLE grants (
  id           INTEGER PRIMARY KEY,
  request_id   INTEGER NOT NULL UNIQUE REFERENCES access_requests(id),
  user_id      INTEGER NOT NULL REFERENCES users(id),
  asset_id     INTEGER NOT NULL REFERENCES assets(id),
  protocols    TEXT NOT NULL,
  not_before   INTEGER NOT NULL,
  not_after    INTEGER NOT NULL,
  state        TEXT NOT NULL CHECK (state IN ('active', 'suspended', 'revoked')),
  state_reason TEXT NOT NULL DEFAULT '',
  limits       TEXT NOT NULL
);
CREATE INDEX grants_user_asset ON grants(user_id, asset_id);

-- The audit chain: append-only, enforced here as well as in code.
CREATE TABLE audit_events (
  seq       INTEGER PRIMARY KEY,
  time      INTEGER NOT NULL,
  actor     TEXT NOT NULL,
  source    TEXT NOT NULL,
  category  TEXT NOT NULL,
  type      TEXT NOT NULL,
  target    TEXT NOT NULL,
  outcome   TEXT NOT NULL CHECK (outcome IN ('success', 'failure')),
  details   TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash      TEXT NOT NULL
);
CREATE INDEX audit_events_time ON audit_events(time);
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
