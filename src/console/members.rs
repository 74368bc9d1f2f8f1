//! Pages of users named by id — a group's direct or effective members, a role's holders — read
//! through the Directory's user list (one query for the page, its users cached like every other
//! user read) and shown as one table shape.

use std::future::Future;

use maud::{html, Markup};

use super::error::ConsoleError;
use super::layout::{pages_of, VIEW_USER};
use super::session::{csrf_field, Signed};
use crate::api::authentik::users::visible_users;
use crate::app::AppState;
use crate::domain::authz::visibility;
use crate::domain::filter::{Direction, Filter, Literal};
use crate::domain::groups::MemberPage;
use crate::domain::users::{User, UserField, UserSort};
use crate::domain::DomainError;

/// Members and holders are counted no further than this: a count reads one index entry per
/// member, so a group of a million would cost as much as its count. Beyond it the pager says
/// "10000 or more" and offers the next page while pages are full.
pub const COUNT_CAP: i64 = 10_000;

/// One page of a list of users as shown: its ids, its number, the pages offered, the total in
/// words ("120", "10000 or more").
pub struct Shown {
    /// The page's user ids.
    pub ids: Vec<i64>,
    /// The page shown.
    pub page: i64,
    /// Pages offered.
    pub pages: i64,
    /// The total, as the pager says it.
    pub total: String,
}

/// Page `asked` of a list read by `fetch(offset)` (`size` a page); past the end of a list
/// counted in full, its last page.
pub async fn page_of<F, Fut>(asked: i64, size: i64, fetch: F) -> Result<Shown, ConsoleError>
where
    F: Fn(i64) -> Fut,
    Fut: Future<Output = Result<MemberPage, DomainError>>,
{
    let first = fetch((asked - 1).saturating_mul(size)).await?;
    let pages = pages_of(first.total, size);
    if first.capped {
        let full = i64::try_from(first.ids.len()).unwrap_or(0) == size;
        return Ok(Shown {
            ids: first.ids,
            page: asked,
            pages: pages.max(if full { asked + 1 } else { asked }),
            total: format!("{} or more", first.total),
        });
    }
    let total = first.total.to_string();
    if asked > pages {
        let last = fetch((pages - 1) * size).await?;
        return Ok(Shown {
            ids: last.ids,
            page: pages,
            pages,
            total,
        });
    }
    Ok(Shown {
        ids: first.ids,
        page: asked,
        pages,
        total,
    })
}

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

#[cfg(test)]
mod tests {
    use super::{page_of, MemberPage};

    /// A list of `n` ids counted up to `cap`, read as `page_of` reads it.
    fn list(
        n: i64,
        cap: i64,
    ) -> impl Fn(i64) -> std::future::Ready<Result<MemberPage, crate::domain::DomainError>> {
        move |offset| {
            let ids: Vec<i64> = (offset..n.min(offset + 10)).collect();
            std::future::ready(Ok(MemberPage {
                ids,
                total: n.min(cap),
                capped: n >= cap,
            }))
        }
    }

    #[tokio::test]
    async fn a_capped_count_pages_on_while_pages_are_full() {
        let shown = page_of(7, 10, list(1_000, 50)).await.expect("page");
        assert_eq!((shown.page, shown.pages), (7, 8));
        assert_eq!(shown.total, "50 or more");
        assert_eq!(shown.ids.first(), Some(&60));
        let last = page_of(100, 10, list(1_000, 50)).await.expect("page");
        // A full page may be the last: the next one is offered, and is empty.
        assert_eq!((last.page, last.pages), (100, 101));
        let past = page_of(101, 10, list(1_000, 50)).await.expect("page");
        assert!(past.ids.is_empty() && past.pages == 101);
    }

    #[tokio::test]
    async fn a_page_past_a_counted_end_is_the_last_page() {
        let shown = page_of(9, 10, list(25, 50)).await.expect("page");
        assert_eq!(
            (shown.page, shown.pages, shown.total.as_str()),
            (3, 3, "25")
        );
        assert_eq!(shown.ids, vec![20, 21, 22, 23, 24]);
    }
}
