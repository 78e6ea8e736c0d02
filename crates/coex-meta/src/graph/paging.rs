//! Graph list responses: `{ "data": [ … ], "paging": { "cursors": { "before", "after" }, "next" } }`.

use serde::{Deserialize, Serialize};

use super::wire::Extra;

/// A page of a Graph edge (`phone_numbers`, `message_templates`, `subscribed_apps`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListResponse<T> {
    #[serde(default = "Vec::new")]
    pub data: Vec<T>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paging: Option<Paging>,
    #[serde(flatten)]
    pub extra: Extra,
}

impl<T> ListResponse<T> {
    pub fn new(data: Vec<T>) -> Self {
        Self {
            data,
            paging: None,
            extra: Extra::new(),
        }
    }

    /// The cursor for the next page, when Meta says there is one (`next` present) or gives
    /// an `after` cursor.
    pub fn after(&self) -> Option<&str> {
        self.paging.as_ref()?.cursors.as_ref()?.after.as_deref()
    }
}

/// `paging`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Paging {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursors: Option<Cursors>,
    /// Full URL of the next page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `paging.cursors`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cursors {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}
