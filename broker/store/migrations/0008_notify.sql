-- Webhook notifications (issue: portal notifications, docs/notifications.md). The audit log is
-- the outbox: each webhook remembers the last audit seq it has delivered or given up on, so a
-- restart resumes there and redelivers rather than loses.
CREATE TABLE notify_cursor (
  webhook  TEXT PRIMARY KEY,
  last_seq INTEGER NOT NULL
);

-- Grants whose "window ending" warning has been delivered (or given up on) by every webhook.
CREATE TABLE notify_window_warned (
  grant_id INTEGER PRIMARY KEY REFERENCES grants(id),
  at       TEXT NOT NULL
);
