-- The writer's merges after each group (migration 0014) take 16 segments of a level at a time
-- instead of FTS5's default 4, so that the large segment a bulk load leaves (one segment of
-- every user's text, `after_bulk_load`) is merged again only after ~15 × 16^level flushes
-- instead of ~3 × 4^level: at 1M users, after ~1M group commits instead of after 768, 3,072 and
-- 12,288 of them.
--
-- Why it matters: FTS5 merges a term's whole list in one step, however few pages the `merge`
-- asks for. In a segment of 1M users ~110 trigrams (`use`, `er-`, `com`, …) have lists of
-- 500-2,500 pages, 89% of the index; while that segment was being merged, one group commit in
-- five rewrote such a list (10-120 ms under the writer), and the merge took a third of the
-- writer's time (issue 22: c1 PATCH p99 77-118 ms at 1M users against 4.7 ms at 10k).
--
-- A level now holds up to ~16 segments, which a search reads each (lists there are short), and
-- `crisismerge` (all segments of level 0 merged at once, cascading up through every level that
-- then has as many) is raised above it so that it stays a backstop for a writer that falls behind
-- rather than the way merges happen: at 16 it would fire on the same flush as the `merge` and
-- rewrite whole levels in one step.
INSERT INTO users_search (users_search, rank) VALUES ('usermerge', 16);
INSERT INTO users_search (users_search, rank) VALUES ('crisismerge', 64);
INSERT INTO users_words (users_words, rank) VALUES ('usermerge', 16);
INSERT INTO users_words (users_words, rank) VALUES ('crisismerge', 64);
