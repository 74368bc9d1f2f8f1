-- SCIM 2.0 (src/scim): what SCIM clients send that gatehouse's columns do not hold, and the
-- externalId each SCIM client gave an object. One table per kind so a user's or group's rows
-- go with it (ON DELETE CASCADE) whichever door deletes it. Times are microseconds (UTC).

-- The last accepted SCIM document of a user minus what gatehouse's columns hold (mapped
-- attributes, id, meta, password, read-only values). No row = nothing beyond the columns.
CREATE TABLE scim_users (
    user_id       INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    doc           TEXT    NOT NULL DEFAULT '{}',
    last_modified INTEGER NOT NULL
);

-- Groups have no timestamps of their own: SCIM's meta.created / meta.lastModified live here,
-- kept by triggers for groups written through any door (membership writes through SCIM bump
-- last_modified explicitly).
CREATE TABLE scim_groups (
    group_id      INTEGER PRIMARY KEY REFERENCES groups (id) ON DELETE CASCADE,
    doc           TEXT    NOT NULL DEFAULT '{}',
    created       INTEGER NOT NULL,
    last_modified INTEGER NOT NULL
);

INSERT INTO scim_groups (group_id, created, last_modified)
SELECT id, CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER),
       CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER)
FROM groups;

CREATE TRIGGER groups_scim_insert AFTER INSERT ON groups BEGIN
    INSERT INTO scim_groups (group_id, created, last_modified)
    VALUES (new.id, CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER),
            CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER))
    ON CONFLICT (group_id) DO NOTHING;
END;

CREATE TRIGGER groups_scim_update AFTER UPDATE ON groups BEGIN
    UPDATE scim_groups SET last_modified = CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER)
    WHERE group_id = new.id;
END;

-- externalId per SCIM client (the client is the token owner's user id: tokens rotate).
CREATE TABLE scim_user_external_ids (
    client_id   INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    external_id TEXT    NOT NULL,
    PRIMARY KEY (client_id, user_id),
    CONSTRAINT scim_user_external_ids__external_id__key UNIQUE (client_id, external_id)
);
CREATE INDEX scim_user_external_ids_user ON scim_user_external_ids (user_id);

CREATE TABLE scim_group_external_ids (
    client_id   INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    group_id    INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    external_id TEXT    NOT NULL,
    PRIMARY KEY (client_id, group_id),
    CONSTRAINT scim_group_external_ids__external_id__key UNIQUE (client_id, external_id)
);
CREATE INDEX scim_group_external_ids_group ON scim_group_external_ids (group_id);

-- SCIM's userName is case-insensitive: `userName eq` looks users up through this index.
-- LOWER() folds ASCII only, on both backends alike.
CREATE INDEX users_username_lower ON users (LOWER(username));
