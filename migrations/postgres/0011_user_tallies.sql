-- How many users there are per (path, is_active, type), kept by triggers in the same
-- transaction as the row change (as SQLite's migration 0009). A user count whose filter names
-- only these columns (no filter, `?is_active=…`, `?path=…`, `?type=…`, any combination) is
-- summed from here instead of counted row by row: at 1M users `?is_active=true&path=users`
-- took ~130 ms, paid again after every write because the count cache is exact.
-- Inserts and deletes are counted per statement (a bulk load's 10,000-row INSERT adds to each
-- tally once); updates per row, only when one of the three columns changes, so renaming or
-- PATCHing a user never touches a tally. Tallies that reach 0 stay (a handful of rows).
-- The price: transactions adding or removing users of the same (path, is_active, type), on any
-- instance, wait for each other's commit on that tally's row. Creating a user hashes a password
-- (argon2id, tens a second per instance) and bulk loads are one transaction a batch, so the
-- wait is a commit's length where it happens at all.
CREATE TABLE user_tallies (
    path      TEXT    NOT NULL,
    is_active BOOLEAN NOT NULL,
    type      TEXT    NOT NULL,
    n         BIGINT  NOT NULL,
    PRIMARY KEY (path, is_active, type)
);

INSERT INTO user_tallies (path, is_active, type, n)
SELECT path, is_active, type, COUNT(*) FROM users GROUP BY path, is_active, type;

-- Rows are added in key order, so two transactions adding to the same tallies lock them in the
-- same order.
CREATE FUNCTION user_tallies_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO user_tallies AS t (path, is_active, type, n)
    SELECT path, is_active, type, COUNT(*) FROM inserted_users
    GROUP BY path, is_active, type ORDER BY path, is_active, type
    ON CONFLICT (path, is_active, type) DO UPDATE SET n = t.n + EXCLUDED.n;
    RETURN NULL;
END
$$;

CREATE FUNCTION user_tallies_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO user_tallies AS t (path, is_active, type, n)
    SELECT path, is_active, type, -COUNT(*) FROM deleted_users
    GROUP BY path, is_active, type ORDER BY path, is_active, type
    ON CONFLICT (path, is_active, type) DO UPDATE SET n = t.n + EXCLUDED.n;
    RETURN NULL;
END
$$;

CREATE FUNCTION user_tallies_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO user_tallies AS t (path, is_active, type, n)
    SELECT path, is_active, type, d FROM (
        SELECT OLD.path AS path, OLD.is_active AS is_active, OLD.type AS type, -1 AS d
        UNION ALL
        SELECT NEW.path, NEW.is_active, NEW.type, 1
    ) change ORDER BY path, is_active, type
    ON CONFLICT (path, is_active, type) DO UPDATE SET n = t.n + EXCLUDED.n;
    RETURN NULL;
END
$$;

CREATE TRIGGER users_tally_insert AFTER INSERT ON users
REFERENCING NEW TABLE AS inserted_users
FOR EACH STATEMENT EXECUTE FUNCTION user_tallies_inserted();

CREATE TRIGGER users_tally_delete AFTER DELETE ON users
REFERENCING OLD TABLE AS deleted_users
FOR EACH STATEMENT EXECUTE FUNCTION user_tallies_deleted();

CREATE TRIGGER users_tally_update AFTER UPDATE OF path, is_active, type ON users
FOR EACH ROW
WHEN (OLD.path IS DISTINCT FROM NEW.path OR OLD.is_active IS DISTINCT FROM NEW.is_active
      OR OLD.type IS DISTINCT FROM NEW.type)
EXECUTE FUNCTION user_tallies_updated();
