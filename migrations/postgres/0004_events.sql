-- The audit log: authentik's Event shape, written in the same transaction as the change it
-- describes. Filterable parts of the JSON are kept in columns of their own.

CREATE TABLE events (
    id          BIGSERIAL PRIMARY KEY,
    uuid        TEXT COLLATE "C" NOT NULL,
    action      TEXT COLLATE "C" NOT NULL,
    app         TEXT COLLATE "C" NOT NULL,
    user_json   TEXT    NOT NULL,
    username    TEXT COLLATE "C",
    context     TEXT    NOT NULL,
    client_ip   TEXT COLLATE "C",
    created     BIGINT NOT NULL,
    expires     BIGINT NOT NULL,
    model_app   TEXT COLLATE "C",
    model_name  TEXT COLLATE "C",
    model_pk    TEXT COLLATE "C",
    request_id  TEXT COLLATE "C",
    CONSTRAINT events__uuid__key UNIQUE (uuid)
);
CREATE INDEX events_created ON events (created);
CREATE INDEX events_action ON events (action);
CREATE INDEX events_model ON events (model_name, model_pk);
