-- How many users there are per (path, is_active, type), kept by triggers in the same
-- transaction as the row change. A user count whose filter names only these columns (no
-- filter, `?is_active=…`, `?path=…`, `?type=…`, any combination) is summed from here instead
-- of counted row by row: ≈ 0.1–0.4 s at 1M users through the (path, is_active) index, paid
-- again after every write because the count cache is exact (see store::users::count).
CREATE TABLE user_tallies (
    path      TEXT    NOT NULL,
    is_active BOOLEAN NOT NULL,
    type      TEXT    NOT NULL,
    n         INTEGER NOT NULL,
    PRIMARY KEY (path, is_active, type)
) WITHOUT ROWID;

INSERT INTO user_tallies (path, is_active, type, n)
SELECT path, is_active, type, COUNT(*) FROM users GROUP BY path, is_active, type;

CREATE TRIGGER users_tally_insert AFTER INSERT ON users BEGIN
    INSERT INTO user_tallies (path, is_active, type, n)
    VALUES (new.path, new.is_active, new.type, 1)
    ON CONFLICT (path, is_active, type) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER users_tally_delete AFTER DELETE ON users BEGIN
    UPDATE user_tallies SET n = n - 1
    WHERE path = old.path AND is_active = old.is_active AND type = old.type;
    DELETE FROM user_tallies
    WHERE path = old.path AND is_active = old.is_active AND type = old.type AND n = 0;
END;

CREATE TRIGGER users_tally_update AFTER UPDATE OF path, is_active, type ON users
WHEN old.path IS NOT new.path OR old.is_active IS NOT new.is_active OR old.type IS NOT new.type
BEGIN
    UPDATE user_tallies SET n = n - 1
    WHERE path = old.path AND is_active = old.is_active AND type = old.type;
    DELETE FROM user_tallies
    WHERE path = old.path AND is_active = old.is_active AND type = old.type AND n = 0;
    INSERT INTO user_tallies (path, is_active, type, n)
    VALUES (new.path, new.is_active, new.type, 1)
    ON CONFLICT (path, is_active, type) DO UPDATE SET n = n + 1;
END;
