-- The audit log: authentik's Event shape, written in the same transaction as the change it
-- describes. Filterable parts of the JSON are kept in columns of their own.

CREATE TABLE events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid        TEXT NOT NULL,
    action      TEXT NOT NULL,
    app         TEXT NOT NULL,
    user_json   TEXT    NOT NULL,
    username    TEXT,
    context     TEXT    NOT NULL,
    client_ip   TEXT,
    created     INTEGER NOT NULL,
    expires     INTEGER NOT NULL,
    model_app   TEXT,
    model_name  TEXT,
    model_pk    TEXT,
    request_id  TEXT,
    CONSTRAINT events__uuid__key UNIQUE (uuid)
);
CREATE INDEX events_created ON events (created);
CREATE INDEX events_action ON events (action);
CREATE INDEX events_model ON events (model_name, model_pk);
