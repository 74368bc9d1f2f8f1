-- The directory: users, groups (a DAG), roles, tokens and the install id.
-- Times are microseconds since the Unix epoch (UTC), identical on both backends.

CREATE TABLE install (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    install_id  TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE users (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid                 TEXT    NOT NULL,
    username             TEXT    NOT NULL,
    name                 TEXT    NOT NULL DEFAULT '',
    first_name           TEXT    NOT NULL DEFAULT '',
    last_name            TEXT    NOT NULL DEFAULT '',
    email                TEXT    NOT NULL DEFAULT '',
    password_hash        TEXT,
    is_active            BOOLEAN NOT NULL DEFAULT TRUE,
    type                 TEXT    NOT NULL DEFAULT 'internal',
    path                 TEXT    NOT NULL DEFAULT 'users',
    attributes           TEXT    NOT NULL DEFAULT '{}',
    last_login           INTEGER,
    date_joined          INTEGER NOT NULL,
    password_change_date INTEGER NOT NULL,
    last_updated         INTEGER NOT NULL,
    -- Unicode-lowercased "username␟name␟email␟uuid" for case-insensitive search (SQL LOWER()
    -- folds ASCII only on both backends).
    search_text          TEXT    NOT NULL DEFAULT '',
    CONSTRAINT users__uuid__key UNIQUE (uuid),
    CONSTRAINT users__username__key UNIQUE (username)
);
CREATE INDEX users_email ON users (email);
CREATE INDEX users_name ON users (name);
CREATE INDEX users_path ON users (path);
CREATE INDEX users_date_joined ON users (date_joined);
CREATE INDEX users_last_updated ON users (last_updated);

CREATE TABLE groups (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid         TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    is_superuser BOOLEAN NOT NULL DEFAULT FALSE,
    attributes   TEXT    NOT NULL DEFAULT '{}',
    CONSTRAINT groups__uuid__key UNIQUE (uuid),
    CONSTRAINT groups__name__key UNIQUE (name)
);

CREATE TABLE group_parents (
    child_id  INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    parent_id INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    PRIMARY KEY (child_id, parent_id)
);
CREATE INDEX group_parents_parent ON group_parents (parent_id);

CREATE TABLE group_members (
    user_id  INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    group_id INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, group_id)
);
CREATE INDEX group_members_group ON group_members (group_id);

CREATE TABLE roles (
    id   INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid TEXT NOT NULL,
    name TEXT NOT NULL,
    CONSTRAINT roles__uuid__key UNIQUE (uuid),
    CONSTRAINT roles__name__key UNIQUE (name)
);

CREATE TABLE user_roles (
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role_id INTEGER NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, role_id)
);
CREATE INDEX user_roles_role ON user_roles (role_id);

CREATE TABLE group_roles (
    group_id INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    role_id  INTEGER NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, role_id)
);
CREATE INDEX group_roles_role ON group_roles (role_id);

CREATE TABLE tokens (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid        TEXT    NOT NULL,
    identifier  TEXT    NOT NULL,
    key_hash    TEXT    NOT NULL,
    key_sealed  TEXT    NOT NULL,
    intent      TEXT    NOT NULL,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    description TEXT    NOT NULL DEFAULT '',
    expires     INTEGER,
    expiring    BOOLEAN NOT NULL DEFAULT TRUE,
    managed     TEXT,
    created     INTEGER NOT NULL,
    CONSTRAINT tokens__uuid__key UNIQUE (uuid),
    CONSTRAINT tokens__identifier__key UNIQUE (identifier),
    CONSTRAINT tokens__key_hash__key UNIQUE (key_hash),
    CONSTRAINT tokens__managed__key UNIQUE (managed)
);
CREATE INDEX tokens_user ON tokens (user_id);
