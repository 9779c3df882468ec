-- How the broker rotates an endpoint's stored password after an exclusive session
-- (e.g. "sudo -n chpasswd"); empty: no rotation.
ALTER TABLE endpoints ADD COLUMN rotation_command TEXT NOT NULL DEFAULT '';
