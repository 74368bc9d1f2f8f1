-- The trigram index takes each change directly instead of through GIN's pending list. With the
-- list (PostgreSQL's default), changes are appended cheaply until it holds 4 MB, and then the
-- write that overflows it merges the whole list into the index: at 1M users one PATCH in about
-- 2,000 took 150-200 ms, alone setting the p99 of a stream of single writes. Without it each
-- write updates the index itself (a little slower on average, no outliers). Bulk loads rebuild
-- the index from its definition, which keeps this setting. Where pg_trgm is unavailable there
-- is no index and nothing to do.
DO $$
BEGIN
    IF to_regclass('users_search_trgm') IS NOT NULL THEN
        ALTER INDEX users_search_trgm SET (fastupdate = off);
        PERFORM gin_clean_pending_list('users_search_trgm');
    END IF;
END
$$;
