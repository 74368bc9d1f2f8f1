-- Usernames are unique under ASCII case folding, in every door (docs/compatibility.md): SCIM's
-- userName is case-insensitive, and two concurrent creates of `Bjensen` and `bjensen` must give
-- one user, which only the database can promise. The index replaces 0007's plain one and also
-- serves `userName eq` and `sw`. LOWER() under the column's "C" collation folds ASCII only (as
-- `str::to_ascii_lowercase`, and as SQLite's LOWER()).
-- A database holding usernames that differ only in ASCII case fails here: rename one first.
DROP INDEX users_username_lower;
CREATE UNIQUE INDEX users__username_folded__key ON users (LOWER(username));
