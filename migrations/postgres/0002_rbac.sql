-- Roles and permissions. The permission catalogue lives in the binary (stable integer ids);
-- grants reference those ids. Grant rows have ids of their own, as the API shows them.

ALTER TABLE roles ADD COLUMN managed TEXT COLLATE "C";
CREATE UNIQUE INDEX roles_managed ON roles (managed);

CREATE TABLE role_model_permissions (
    id            BIGSERIAL PRIMARY KEY,
    role_id       BIGINT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    permission_id BIGINT NOT NULL,
    CONSTRAINT role_model_permissions__grant__key UNIQUE (role_id, permission_id)
);

CREATE TABLE role_object_permissions (
    id            BIGSERIAL PRIMARY KEY,
    role_id       BIGINT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    permission_id BIGINT NOT NULL,
    object_pk     TEXT COLLATE "C" NOT NULL,
    CONSTRAINT role_object_permissions__grant__key UNIQUE (role_id, permission_id, object_pk)
);
CREATE INDEX role_object_permissions_object ON role_object_permissions (object_pk);
