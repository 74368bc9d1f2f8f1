-- The trigram index is maintained once per group commit instead of once per write. Each FTS5
-- change flushed at a savepoint's release writes a new index segment, which FTS5 then merges:
-- with one savepoint per write (see store::gate) that was the largest cost of a user update.
-- The triggers now queue the index changes here, in the same transaction as the row change;
-- the committer applies the queue in order (`writer::APPLY_SEARCH_QUEUE`) right before it
-- commits the group, so readers, who only ever see committed data, always find the index in
-- step with the rows.
CREATE TABLE users_search_queue (
    seq INTEGER PRIMARY KEY,
    -- 'delete' (remove the old text from the index) or NULL (index the new text).
    command TEXT,
    user_id INTEGER NOT NULL,
    search_text TEXT NOT NULL
);
CREATE INDEX users_search_queue_user ON users_search_queue (user_id, seq);

DROP TRIGGER users_search_insert;
DROP TRIGGER users_search_delete;
DROP TRIGGER users_search_update;

CREATE TRIGGER users_search_insert AFTER INSERT ON users BEGIN
    INSERT INTO users_search_queue (command, user_id, search_text)
    VALUES (NULL, new.id, new.search_text);
END;

CREATE TRIGGER users_search_delete AFTER DELETE ON users BEGIN
    INSERT INTO users_search_queue (command, user_id, search_text)
    VALUES ('delete', old.id, old.search_text);
END;

CREATE TRIGGER users_search_update AFTER UPDATE OF search_text ON users BEGIN
    INSERT INTO users_search_queue (command, user_id, search_text)
    VALUES ('delete', old.id, old.search_text);
    INSERT INTO users_search_queue (command, user_id, search_text)
    VALUES (NULL, new.id, new.search_text);
END;
