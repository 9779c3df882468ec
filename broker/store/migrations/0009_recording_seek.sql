-- Seek index of sealed recordings (issue: recorder, item 5): one row per secretstream segment
-- of the .crec file (docs/recording-format.md, "Segments and seeking"), written when the
-- recording is sealed. A reader jumps to file_offset and decrypts from there; screen is the
-- terminal screen just before the segment's first record (TerminalScreen::serialize(), empty
-- when the session had no terminal output yet), so an export can start at any time with the
-- right screen. The text is no more sensitive than recording_text, which holds every line.
CREATE TABLE recording_seek (
  session_id    TEXT NOT NULL REFERENCES recordings(session_id),
  message_index INTEGER NOT NULL CHECK (message_index >= 0),
  at_us         INTEGER NOT NULL CHECK (at_us >= 0),
  file_offset   INTEGER NOT NULL CHECK (file_offset > 0),
  screen        TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (session_id, message_index)
) WITHOUT ROWID;
CREATE INDEX recording_seek_time ON recording_seek(session_id, at_us);
