-- Roles and permissions. The permission catalogue lives in the binary (stable integer ids);
-- grants reference those ids. Grant rows have ids of their own, as the API shows them.

ALTER TABLE roles ADD COLUMN managed TEXT;
CREATE UNIQUE INDEX roles_managed ON roles (managed);

CREATE TABLE role_model_permissions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    role_id       INTEGER NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    permission_id INTEGER NOT NULL,
    CONSTRAINT role_model_permissions__grant__key UNIQUE (role_id, permission_id)
);

CREATE TABLE role_object_permissions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    role_id       INTEGER NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    permission_id INTEGER NOT NULL,
    object_pk     TEXT    NOT NULL,
    CONSTRAINT role_object_permissions__grant__key UNIQUE (role_id, permission_id, object_pk)
);
CREATE INDEX role_object_permissions_object ON role_object_permissions (object_pk);
