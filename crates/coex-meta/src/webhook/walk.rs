//! Finding the parts of a parsed payload that this version does not understand: keys kept in
//! `extra` maps, enum values kept as `Unknown(..)`, message types and `field` names it does
//! not know.
//!
//! Parsing never fails on these (the payload stays usable and lossless), so they would go
//! unnoticed without a report. [`Walk`] produces that report as [`Flag`]s, each with the JSON
//! path of the part, for `coex inspect` and for the hub's "Meta changed something" metrics.

use serde::Serialize;

use super::wire::Extra;

/// What kind of unknown part a [`Flag`] points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FlagKind {
    /// A `changes[].field` name with no typed value here.
    UnknownField,
    /// A `type` of message this version does not know; its content sits in `extra`.
    UnknownMessageType,
    /// An enumerated value (status, event, reason, …) this version does not know.
    UnknownValue,
    /// A JSON key that no struct field models.
    UnknownKey,
}

/// One unknown part of a payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Flag {
    /// What is unknown.
    pub kind: FlagKind,
    /// Where, as a JSON path from the notification root (`entry[0].changes[1].value.messages[0].foo`).
    pub path: String,
    /// The unknown value or name, when it is a string.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// Reports the unknown parts of a parsed value.
pub trait Walk {
    /// Appends a [`Flag`] for every unknown part of `self`, found at JSON path `path`.
    fn walk(&self, path: &str, out: &mut Vec<Flag>);

    /// Whether there is anything to walk; lets callers skip building a child path for
    /// absent values.
    fn present(&self) -> bool {
        true
    }
}

impl<T: Walk> Walk for Option<T> {
    fn walk(&self, path: &str, out: &mut Vec<Flag>) {
        if let Some(v) = self {
            v.walk(path, out);
        }
    }
    fn present(&self) -> bool {
        self.as_ref().is_some_and(Walk::present)
    }
}

impl<T: Walk> Walk for Vec<T> {
    fn walk(&self, path: &str, out: &mut Vec<Flag>) {
        for (i, v) in self.iter().enumerate() {
            if v.present() {
                v.walk(&format!("{path}[{i}]"), out);
            }
        }
    }
    fn present(&self) -> bool {
        !self.is_empty()
    }
}

impl<T: Walk> Walk for Box<T> {
    fn walk(&self, path: &str, out: &mut Vec<Flag>) {
        (**self).walk(path, out);
    }
    fn present(&self) -> bool {
        (**self).present()
    }
}

/// Flags every key of an `extra` map.
pub(crate) fn walk_extra(extra: &Extra, path: &str, out: &mut Vec<Flag>) {
    for key in extra.keys() {
        out.push(Flag {
            kind: FlagKind::UnknownKey,
            path: join(path, key),
            value: None,
        });
    }
}

/// `path.key`, or `key` at the root.
pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// Implements [`Walk`] for a struct with an `extra` map: flags its extra keys, then walks the
/// listed fields (those whose type can hold unknown parts) under their wire names.
macro_rules! walk_struct {
    ($ty:ty { $( $field:ident => $wire:literal ),* $(,)? }) => {
        impl $crate::webhook::walk::Walk for $ty {
            fn walk(&self, path: &str, out: &mut Vec<$crate::webhook::walk::Flag>) {
                $crate::webhook::walk::walk_extra(&self.extra, path, out);
                $(
                    if $crate::webhook::walk::Walk::present(&self.$field) {
                        $crate::webhook::walk::Walk::walk(
                            &self.$field,
                            &$crate::webhook::walk::join(path, $wire),
                            out,
                        );
                    }
                )*
            }
        }
    };
}
pub(crate) use walk_struct;
