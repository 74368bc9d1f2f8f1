-- The search indexes are merged by the writer after each group commit, a few pages at a time in
-- step with what the group wrote (src/store/writer.rs, `apply_search_queue`), instead of by
-- FTS5's automatic merging, which worked in bursts: every 64 pages written it merged 64 pages
-- per level in one commit (20-75 ms at 1M users, once every few dozen writes, the p99 of a
-- stream of single writes). `crisismerge` (16 segments on a level are merged at once) stays as
-- FTS5's own backstop.
INSERT INTO users_search (users_search, rank) VALUES ('automerge', 0);
INSERT INTO users_words (users_words, rank) VALUES ('automerge', 0);
