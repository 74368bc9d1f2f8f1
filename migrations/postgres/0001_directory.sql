-- The directory: users, groups (a DAG), roles, tokens and the install id.
-- Times are microseconds since the Unix epoch (UTC), identical on both backends.
-- Text columns use COLLATE "C" so ordering compares bytes, as SQLite's BINARY does.

CREATE TABLE install (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    install_id  TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL
);

CREATE TABLE users (
    id                   BIGSERIAL PRIMARY KEY,
    uuid                 TEXT    COLLATE "C" NOT NULL,
    username             TEXT    COLLATE "C" NOT NULL,
    name                 TEXT    COLLATE "C" NOT NULL DEFAULT '',
    first_name           TEXT    COLLATE "C" NOT NULL DEFAULT '',
    last_name            TEXT    COLLATE "C" NOT NULL DEFAULT '',
    email                TEXT    COLLATE "C" NOT NULL DEFAULT '',
    password_hash        TEXT,
    is_active            BOOLEAN NOT NULL DEFAULT TRUE,
    type                 TEXT    COLLATE "C" NOT NULL DEFAULT 'internal',
    path                 TEXT    COLLATE "C" NOT NULL DEFAULT 'users',
    attributes           TEXT    COLLATE "C" NOT NULL DEFAULT '{}',
    last_login           BIGINT,
    date_joined          BIGINT  NOT NULL,
    password_change_date BIGINT  NOT NULL,
    last_updated         BIGINT  NOT NULL,
    -- Unicode-lowercased "username␟name␟email␟uuid" for case-insensitive search (SQL LOWER()
    -- folds ASCII only under COLLATE "C").
    search_text          TEXT    COLLATE "C" NOT NULL DEFAULT '',
    CONSTRAINT users__uuid__key UNIQUE (uuid),
    CONSTRAINT users__username__key UNIQUE (username)
);
CREATE INDEX users_email ON users (email);
-- A hash index: names have no length limit, and a btree entry cannot exceed ~2.7 kB. Paths get
-- none: they repeat across most rows (a hash index then degenerates into one overflow chain).
CREATE INDEX users_name ON users USING hash (name);
CREATE INDEX users_date_joined ON users (date_joined);
CREATE INDEX users_last_updated ON users (last_updated);

CREATE TABLE groups (
    id           BIGSERIAL PRIMARY KEY,
    uuid         TEXT    COLLATE "C" NOT NULL,
    name         TEXT    COLLATE "C" NOT NULL,
    is_superuser BOOLEAN NOT NULL DEFAULT FALSE,
    attributes   TEXT    COLLATE "C" NOT NULL DEFAULT '{}',
    CONSTRAINT groups__uuid__key UNIQUE (uuid),
    CONSTRAINT groups__name__key UNIQUE (name)
);

CREATE TABLE group_parents (
    child_id  BIGINT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    parent_id BIGINT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    PRIMARY KEY (child_id, parent_id)
);
CREATE INDEX group_parents_parent ON group_parents (parent_id);

CREATE TABLE group_members (
    user_id  BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    group_id BIGINT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, group_id)
);
CREATE INDEX group_members_group ON group_members (group_id);

CREATE TABLE roles (
    id   BIGSERIAL PRIMARY KEY,
    uuid TEXT COLLATE "C" NOT NULL,
    name TEXT COLLATE "C" NOT NULL,
    CONSTRAINT roles__uuid__key UNIQUE (uuid),
    CONSTRAINT roles__name__key UNIQUE (name)
);

CREATE TABLE user_roles (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role_id BIGINT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, role_id)
);
CREATE INDEX user_roles_role ON user_roles (role_id);

CREATE TABLE group_roles (
    group_id BIGINT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    role_id  BIGINT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, role_id)
);
CREATE INDEX group_roles_role ON group_roles (role_id);

CREATE TABLE tokens (
    id          BIGSERIAL PRIMARY KEY,
    uuid        TEXT    COLLATE "C" NOT NULL,
    identifier  TEXT    COLLATE "C" NOT NULL,
    key_hash    TEXT    NOT NULL,
    key_sealed  TEXT    NOT NULL,
    intent      TEXT    COLLATE "C" NOT NULL,
    user_id     BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    description TEXT    COLLATE "C" NOT NULL DEFAULT '',
    expires     BIGINT,
    expiring    BOOLEAN NOT NULL DEFAULT TRUE,
    managed     TEXT    COLLATE "C",
    created     BIGINT  NOT NULL,
    CONSTRAINT tokens__uuid__key UNIQUE (uuid),
    CONSTRAINT tokens__identifier__key UNIQUE (identifier),
    CONSTRAINT tokens__key_hash__key UNIQUE (key_hash),
    CONSTRAINT tokens__managed__key UNIQUE (managed)
);
CREATE INDEX tokens_user ON tokens (user_id);
