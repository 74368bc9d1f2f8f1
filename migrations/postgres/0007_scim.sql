-- SCIM 2.0 (src/scim): what SCIM clients send that gatehouse's columns do not hold, and the
-- externalId each SCIM client gave an object. One table per kind so a user's or group's rows
-- go with it (ON DELETE CASCADE) whichever door deletes it. Times are microseconds (UTC).

CREATE TABLE scim_users (
    user_id       BIGINT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    doc           TEXT   COLLATE "C" NOT NULL DEFAULT '{}',
    last_modified BIGINT NOT NULL
);

CREATE TABLE scim_groups (
    group_id      BIGINT PRIMARY KEY REFERENCES groups (id) ON DELETE CASCADE,
    doc           TEXT   COLLATE "C" NOT NULL DEFAULT '{}',
    created       BIGINT NOT NULL,
    last_modified BIGINT NOT NULL
);

INSERT INTO scim_groups (group_id, created, last_modified)
SELECT id, (EXTRACT(EPOCH FROM clock_timestamp()) * 1000000)::BIGINT,
       (EXTRACT(EPOCH FROM clock_timestamp()) * 1000000)::BIGINT
FROM groups;

CREATE FUNCTION groups_scim_touch() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO scim_groups (group_id, created, last_modified)
        VALUES (NEW.id, (EXTRACT(EPOCH FROM clock_timestamp()) * 1000000)::BIGINT,
                (EXTRACT(EPOCH FROM clock_timestamp()) * 1000000)::BIGINT)
        ON CONFLICT (group_id) DO NOTHING;
    ELSE
        UPDATE scim_groups SET last_modified = (EXTRACT(EPOCH FROM clock_timestamp()) * 1000000)::BIGINT
        WHERE group_id = NEW.id;
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER groups_scim_touch AFTER INSERT OR UPDATE ON groups
    FOR EACH ROW EXECUTE FUNCTION groups_scim_touch();

CREATE TABLE scim_user_external_ids (
    client_id   BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    user_id     BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    external_id TEXT   COLLATE "C" NOT NULL,
    PRIMARY KEY (client_id, user_id),
    CONSTRAINT scim_user_external_ids__external_id__key UNIQUE (client_id, external_id)
);
CREATE INDEX scim_user_external_ids_user ON scim_user_external_ids (user_id);

CREATE TABLE scim_group_external_ids (
    client_id   BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    group_id    BIGINT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    external_id TEXT   COLLATE "C" NOT NULL,
    PRIMARY KEY (client_id, group_id),
    CONSTRAINT scim_group_external_ids__external_id__key UNIQUE (client_id, external_id)
);
CREATE INDEX scim_group_external_ids_group ON scim_group_external_ids (group_id);

CREATE INDEX users_username_lower ON users (LOWER(username));
