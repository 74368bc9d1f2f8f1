//! The query vocabulary: the filter algebra, sort directions, and per resource the fields,
//! relations and sort keys a query may name. Front ends build queries from these words, the
//! domain passes them on, the store compiles them to SQL. This module sits below both domain
//! and store: it names none of `domain`, `store`, `api` or `auth` (tests/layering.rs checks).

pub mod events;
pub mod filter;
pub mod groups;
pub mod roles;
pub mod time;
pub mod tokens;
pub mod users;
