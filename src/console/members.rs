//! Pages of users named by id — a group's direct or effective members, a role's holders — read
//! through the Directory's user list (one query for the page, its users cached like every other
//! user read) and shown as one table shape.

use maud::{html, Markup};

use super::error::ConsoleError;
use super::session::{csrf_field, Signed};
use crate::api::authentik::users::visible_users;
use crate::app::AppState;
use crate::domain::authz::visibility;
use crate::domain::filter::{Direction, Filter, Literal};
use crate::domain::users::{User, UserField, UserSort};

use super::layout::VIEW_USER;

/// The users with these ids that the caller may see, in id order.
pub async fn users_by_id(
    state: &AppState,
    signed: &Signed,
    ids: &[i64],
) -> Result<Vec<User>, ConsoleError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let filter = Filter::and(vec![
        visible_users(visibility(&signed.principal, VIEW_USER)),
        Filter::In(
            UserField::Id,
            ids.iter().copied().map(Literal::Int).collect(),
        ),
    ]);
    let sort = [(UserSort::Field(UserField::Id), Direction::Asc)];
    let limit = i64::try_from(ids.len()).unwrap_or(i64::MAX);
    Ok(state.directory.list_users(&filter, &sort, limit, 0).await?)
}

/// A button removing one user from a list (a group's members, a role's holders).
pub struct RemoveButton<'a> {
    /// Where the form posts.
    pub action: &'a str,
    /// The button's words before the username ("Remove", "Take the role from").
    pub words: &'a str,
}

/// The users as a table: username (linked), name, active, direct groups, and a remove button
/// per row when `remove` is given.
pub fn users_table(
    signed: &Signed,
    rows: &[User],
    remove: Option<RemoveButton>,
    empty: &str,
) -> Markup {
    let columns = if remove.is_some() { 5 } else { 4 };
    html! {
        table {
            thead { tr {
                th scope="col" { "Username" } th scope="col" { "Name" } th scope="col" { "Active" }
                th scope="col" { "Direct groups" }
                @if remove.is_some() { th scope="col" { span.skip { "Actions" } } }
            } }
            tbody {
                @for u in rows {
                    tr {
                        td { a href={ "/if/admin/users/" (u.id) "/" } { (u.username) } }
                        td { (u.name) }
                        td { @if u.is_active { "Yes" } @else { "No" } }
                        td { (u.groups.iter().map(|g| g.name.as_str()).collect::<Vec<_>>().join(", ")) }
                        @if let Some(r) = &remove {
                            td {
                                form.inline method="post" action=(r.action) {
                                    (csrf_field(signed))
                                    input type="hidden" name="op" value="remove";
                                    input type="hidden" name="username" value=(u.username);
                                    button.link type="submit" { (r.words) " " (u.username) }
                                }
                            }
                        }
                    }
                }
                @if rows.is_empty() { tr { td colspan=(columns) { (empty) } } }
            }
        }
    }
}
