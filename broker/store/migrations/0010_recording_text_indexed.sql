-- Whether every line of a recording's text is in recording_text (issue: recorder, item 5). A long
-- recording's text goes in in several transactions after the recording is sealed; the flag is 0
-- until the last of them commits, so a broker stopped in between leaves a recording that search
-- reports as incomplete (and `conduit recording reindex` completes) instead of silently missing
-- lines. Recordings indexed before this column existed were indexed in one transaction: 1.
-- text_generation counts the times its text indexing started (at sealing, then each reindex): a
-- run checks it before each of its transactions and stops when another run has started since,
-- so two runs never both add their lines.
ALTER TABLE recordings ADD COLUMN text_indexed INTEGER NOT NULL DEFAULT 1
  CHECK (text_indexed IN (0, 1));
ALTER TABLE recordings ADD COLUMN text_generation INTEGER NOT NULL DEFAULT 0
  CHECK (text_generation >= 0);
