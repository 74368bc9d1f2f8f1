-- A word index beside the trigram index, for user search terms that hold a word start: in a
-- term like `-0500001` or `smith@corp`, the letters and digits right after a character that is
-- neither (`0500001`, `corp`) begin a word of every matching text, so the users with a word
-- starting so are a superset of the matches (store::search). A trigram of such a term can be in
-- tens of thousands of users (`500` in 8.8k of 1M synthetic users, with UUID digits), the word
-- in one. `unicode61` splits words at every ASCII character that is not a letter or digit;
-- `detail = none` keeps only which rows hold a word (a prefix query needs nothing more). Kept in
-- step with the trigram index by the same queue (writer::apply_search_queue).
CREATE VIRTUAL TABLE users_words USING fts5(
    search_text,
    content = 'users',
    content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 0',
    detail = none,
    columnsize = 0
);
INSERT INTO users_words (users_words) VALUES ('rebuild');

-- Neither index keeps per-row token counts (`columnsize = 0`): only ranking reads them, and
-- nothing here ranks. Kept, they were a row per user in a table keyed by user id, so every
-- indexed write dirtied a page of its own there. The trigram index is built again without them.
DROP TABLE users_search;
CREATE VIRTUAL TABLE users_search USING fts5(
    search_text,
    content = 'users',
    content_rowid = 'id',
    tokenize = 'trigram case_sensitive 1',
    columnsize = 0
);
INSERT INTO users_search (users_search) VALUES ('rebuild');
