-- What AWX's dialect needs: server-side login sessions (shared by every instance) and the
-- OAuth2 scope of tokens created through /api/v2/ (read or write).

ALTER TABLE tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'write';

CREATE TABLE sessions (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    key_hash  TEXT    NOT NULL,
    user_id   INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires   INTEGER NOT NULL,
    created   INTEGER NOT NULL,
    CONSTRAINT sessions__key_hash__key UNIQUE (key_hash)
);
CREATE INDEX sessions_user ON sessions (user_id);
