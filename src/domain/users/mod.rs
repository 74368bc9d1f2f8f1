//! Users: the domain value, its validation rules, and the operations both dialects call.
//!
//! `model` holds the value and what a write asks for, `rules` the validation, `writes` the
//! operations that change users, `credentials` those on the stored password hash itself, and
//! `reads` those that look users up (with their caches), `batch` the uncached lookups of single
//! users read together; all
//! of it is re-exported here, so callers name `domain::users::…` as before.

mod batch;
mod credentials;
mod model;
mod reads;
mod rules;
mod writes;

pub use credentials::{
    set_password_hash, stored_password_hash, upgrade_password_hash, MAX_HASH_CHARS,
};
pub use model::{
    num_pk, uid_of, GroupSummary, RoleSummary, User, UserChanges, UserField, UserFilter, UserRel,
    UserSort, UserType,
};
pub(in crate::domain) use reads::{
    count_cached, get, get_cached, list, list_cached, list_cached_shared,
};
pub use reads::{
    get_by_username, parse_attributes, paths, self_view, CountCache, SelfView, UserCache,
    SUPERUSER_SYSTEM_PERMISSIONS,
};
pub(crate) use rules::resolve_uuids;
pub use rules::{check_email, check_path, check_username, FIELD_ORDER, UNIQUE_MESSAGE};
pub use writes::{create, delete, set_password, update, update_checked, CurrentNames};
pub(crate) use writes::{create_in, delete_in, update_in};
