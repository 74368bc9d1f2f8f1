-- Trigram index for user search (`?search=`, a LIKE '%term%' on users.search_text). pg_trgm
-- ships with PostgreSQL's contrib modules; where it cannot be installed (no contrib, or a role
-- that may not create extensions), search keeps working by scanning the table.
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'pg_trgm unavailable (%): user search scans the table', SQLERRM;
END
$$;

DO $$
BEGIN
    CREATE INDEX IF NOT EXISTS users_search_trgm ON users USING gin (search_text gin_trgm_ops);
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'no trigram index (%): user search scans the table', SQLERRM;
END
$$;
