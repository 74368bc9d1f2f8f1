//! What a token query can name: the fields and relations a token filter tests and the keys
//! a list of tokens sorts by.

use super::filter::Filter;

/// Filterable token fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenField {
    /// Integer id.
    Id,
    /// UUID.
    Uuid,
    /// Identifier.
    Identifier,
    /// Intent.
    Intent,
    /// Owner id.
    UserId,
    /// Owner username.
    Username,
    /// Description.
    Description,
    /// Expiry.
    Expires,
    /// Expiring flag.
    Expiring,
    /// Managed marker.
    Managed,
}

/// Tokens have no relation filters.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenRel {}

/// A filter over tokens.
pub type TokenFilter = Filter<TokenField, TokenRel>;

/// Sort keys for tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSort {
    /// A column.
    Field(TokenField),
}
