//! authentik's page-number pagination (docs/compatibility.md#pagination-envelope): `page` /
//! `page_size`, the 7-number envelope, `Invalid page.` for pages out of range.

use serde::Serialize;

use crate::api::error::ApiError;
use crate::api::query::{parse_python_int, Params};

/// Default page size.
pub const DEFAULT_PAGE_SIZE: i64 = 20;
/// Largest page size.
pub const MAX_PAGE_SIZE: i64 = 100;

/// What the request asked for.
#[derive(Debug, Clone, Copy)]
pub struct PageRequest {
    page: PageNumber,
    /// Rows per page.
    pub size: i64,
}

#[derive(Debug, Clone, Copy)]
enum PageNumber {
    Number(i64),
    Last,
    Invalid,
}

impl PageRequest {
    /// Reads `page` and `page_size`: a size that is absent, non-numeric or not positive falls back
    /// to 20; a larger one is cut to 100.
    pub fn from_params(params: &Params) -> PageRequest {
        let size = params
            .last("page_size")
            .and_then(parse_python_int)
            .filter(|n| *n > 0)
            .map(|n| n.min(MAX_PAGE_SIZE))
            .unwrap_or(DEFAULT_PAGE_SIZE);
        let page = match params.last("page").filter(|s| !s.is_empty()) {
            None => PageNumber::Number(1),
            Some("last") => PageNumber::Last,
            Some(s) => parse_python_int(s)
                .map(PageNumber::Number)
                .unwrap_or(PageNumber::Invalid),
        };
        PageRequest { page, size }
    }

    /// Resolves the page against the total count.
    pub fn resolve(&self, count: i64) -> Result<Pagination, ApiError> {
        let total_pages = if count == 0 {
            1
        } else {
            (count + self.size - 1) / self.size
        };
        let current = match self.page {
            PageNumber::Number(n) => n,
            PageNumber::Last => total_pages,
            PageNumber::Invalid => return Err(ApiError::InvalidPage),
        };
        if current < 1 || current > total_pages {
            return Err(ApiError::InvalidPage);
        }
        let offset = (current - 1) * self.size;
        let on_page = (count - offset).clamp(0, self.size);
        Ok(Pagination {
            next: if current < total_pages {
                current + 1
            } else {
                0
            },
            previous: if current > 1 { current - 1 } else { 0 },
            count,
            current,
            total_pages,
            start_index: if on_page == 0 { 0 } else { offset + 1 },
            end_index: offset + on_page,
            limit: self.size,
            offset,
        })
    }
}

/// The `pagination` object of the envelope.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Pagination {
    /// Next page number, 0 if none.
    pub next: i64,
    /// Previous page number, 0 if none.
    pub previous: i64,
    /// Total matching rows.
    pub count: i64,
    /// This page's number.
    pub current: i64,
    /// Number of pages (at least 1).
    pub total_pages: i64,
    /// 1-based index of the first row on this page (0 when empty).
    pub start_index: i64,
    /// 1-based index of the last row on this page (0 when empty).
    pub end_index: i64,
    /// Rows to fetch.
    #[serde(skip)]
    pub limit: i64,
    /// Rows to skip.
    #[serde(skip)]
    pub offset: i64,
}

/// The list envelope.
#[derive(Debug, Serialize)]
pub struct Envelope<T: Serialize, A: Serialize> {
    /// Page numbers.
    pub pagination: Pagination,
    /// Rows.
    pub results: Vec<T>,
    /// DjangoQL autocomplete schema.
    pub autocomplete: A,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(query: &str) -> PageRequest {
        PageRequest::from_params(&Params::parse(Some(query)))
    }

    #[test]
    fn sizes_clamp_and_fall_back() {
        assert_eq!(req("page_size=1000").size, 100);
        assert_eq!(req("page_size=0").size, 20);
        assert_eq!(req("page_size=-3").size, 20);
        assert_eq!(req("page_size=abc").size, 20);
        assert_eq!(req("page_size=7").size, 7);
    }

    #[test]
    fn envelope_numbers_match_samples() {
        let p = req("page_size=100&page=100").resolve(10251).expect("valid");
        assert_eq!(
            (
                p.next,
                p.previous,
                p.current,
                p.total_pages,
                p.start_index,
                p.end_index
            ),
            (101, 99, 100, 103, 9901, 10000)
        );
        let p = req("page_size=2&page=2").resolve(4).expect("valid");
        assert_eq!(
            (p.next, p.previous, p.start_index, p.end_index),
            (0, 1, 3, 4)
        );
        let p = req("").resolve(0).expect("valid");
        assert_eq!(
            (p.current, p.total_pages, p.start_index, p.end_index),
            (1, 1, 0, 0)
        );
        assert!(req("page=2").resolve(0).is_err());
        assert!(req("page=0").resolve(5).is_err());
        assert!(req("page=x").resolve(5).is_err());
        assert_eq!(
            req("page=last&page_size=2")
                .resolve(5)
                .expect("valid")
                .current,
            3
        );
    }
}
