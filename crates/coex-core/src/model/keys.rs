//! Our own row identifiers (workspaces, contacts, conversations, messages, archived webhooks,
//! sends, event sequence numbers), the workspace slug, and keyset pagination.
//!
//! Meta's ids live in `crate::ids`; these are the store's surrogate keys. They are newtypes so a
//! contact id can't be passed where a conversation id is meant.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! row_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(i64);

        impl $name {
            pub const fn new(raw: i64) -> Self {
                Self(raw)
            }

            pub const fn get(self) -> i64 {
                self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }
    };
}

row_id!(
    /// A workspace (tenant; one business portfolio).
    WorkspaceId
);
row_id!(
    /// A contact (one customer within a workspace).
    ContactId
);
row_id!(
    /// A conversation: one per (business number, contact).
    ConversationId
);
row_id!(
    /// A stored message row. Outside the store a message is named by (number, wamid).
    MessageId
);
row_id!(
    /// A raw webhook body kept for replay.
    ArchiveId
);
row_id!(
    /// A send request in the durable send queue (its attempts hang off it).
    SendId
);
row_id!(
    /// A position in a workspace's event feed; strictly increasing, gap-free, in commit order.
    EventSeq
);

/// Why a workspace slug was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("workspace slug {0:?} must be 1 to 64 characters of a-z, 0-9 and '-'")]
pub struct SlugError(pub String);

/// A workspace's stable, human-chosen name in URLs and config (`acme`, `shop-eu`).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct WorkspaceSlug(String);

impl WorkspaceSlug {
    pub fn parse(value: impl Into<String>) -> Result<Self, SlugError> {
        let value = value.into();
        let ok = !value.is_empty()
            && value.len() <= 64
            && value
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(Self(value))
        } else {
            Err(SlugError(value))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for WorkspaceSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WorkspaceSlug({:?})", self.0)
    }
}

impl fmt::Display for WorkspaceSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for WorkspaceSlug {
    type Err = SlugError;
    fn from_str(s: &str) -> Result<Self, SlugError> {
        Self::parse(s)
    }
}

impl<'de> Deserialize<'de> for WorkspaceSlug {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(s).map_err(serde::de::Error::custom)
    }
}

/// An opaque keyset-pagination position: "continue after this item".
///
/// Its text form (`<sort key>_<row id>`) is what REST clients pass back; they must not build it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cursor {
    sort_key: i64,
    id: i64,
}

/// Why a cursor string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed page cursor {0:?}")]
pub struct CursorError(pub String);

impl Cursor {
    /// A position after the item with this sort key (a timestamp) and row id.
    pub const fn new(sort_key: i64, id: i64) -> Self {
        Self { sort_key, id }
    }

    pub const fn sort_key(self) -> i64 {
        self.sort_key
    }

    pub const fn id(self) -> i64 {
        self.id
    }

    pub fn parse(text: &str) -> Result<Self, CursorError> {
        let bad = || CursorError(text.to_owned());
        let (key, id) = text.split_once('_').ok_or_else(bad)?;
        Ok(Self {
            sort_key: key.parse().map_err(|_| bad())?,
            id: id.parse().map_err(|_| bad())?,
        })
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}_{}", self.sort_key, self.id)
    }
}

impl fmt::Debug for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cursor({self})")
    }
}

impl Serialize for Cursor {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Cursor {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Which page to read: at most `limit` items after `after` (newest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageRequest {
    pub limit: u32,
    #[serde(default)]
    pub after: Option<Cursor>,
}

impl PageRequest {
    /// The largest page the store returns, whatever is asked.
    pub const MAX_LIMIT: u32 = 500;

    /// The first page of `limit` items.
    pub const fn first(limit: u32) -> Self {
        Self { limit, after: None }
    }

    /// The page after `cursor`.
    pub const fn after(limit: u32, cursor: Cursor) -> Self {
        Self {
            limit,
            after: Some(cursor),
        }
    }

    /// The limit clamped to 1..=[`Self::MAX_LIMIT`].
    pub fn clamped_limit(self) -> u32 {
        self.limit.clamp(1, Self::MAX_LIMIT)
    }
}

/// One page of results, newest first, and the cursor of the next page if there may be one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<Cursor>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips() {
        let c = Cursor::new(1_749_416_383_000, 42);
        assert_eq!(Cursor::parse(&c.to_string()).unwrap(), c);
        assert_eq!(Cursor::parse("-5_7").unwrap(), Cursor::new(-5, 7));
        assert!(Cursor::parse("12").is_err());
        assert!(Cursor::parse("a_1").is_err());
    }

    #[test]
    fn slugs() {
        assert!(WorkspaceSlug::parse("shop-eu").is_ok());
        assert!(WorkspaceSlug::parse("").is_err());
        assert!(WorkspaceSlug::parse("Shop").is_err());
        assert_eq!(PageRequest::first(0).clamped_limit(), 1);
        assert_eq!(PageRequest::first(10_000).clamped_limit(), 500);
    }
}
