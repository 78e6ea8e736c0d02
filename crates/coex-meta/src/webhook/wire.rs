//! Building blocks shared by every webhook value: open enumerations, timestamps and numbers
//! that may come as strings or integers, phone numbers kept verbatim, `metadata`,
//! `contacts[]` and the error object.
//!
//! Everything here is lossless: a value read from the wire serialises back to the same JSON,
//! because Meta adds values and keys without notice (spec/cloud-api.md §8) and the raw
//! payload is what support and replays need.

use std::fmt;

use coex_core::{Bsuid, PhoneError, PhoneNumber, PhoneNumberId};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Number, Value};

use super::walk::walk_struct;

/// Keys a struct does not model, kept so that nothing Meta sends is lost on a round trip.
pub type Extra = Map<String, Value>;

/// Declares an open enumeration: the documented wire strings as variants, plus
/// `Unknown(String)` that keeps any other value verbatim, so a value Meta adds tomorrow never
/// fails parsing and serialises back unchanged.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        $name:ident / $flag:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $wire:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )*
            /// A value this version does not know, kept as received.
            Unknown(String),
        }

        impl $name {
            /// The string Meta writes for this value.
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $wire, )*
                    Self::Unknown(s) => s,
                }
            }

            /// Whether the value is not one this version knows.
            pub fn is_unknown(&self) -> bool {
                matches!(self, Self::Unknown(_))
            }

            /// Maps a wire string to its variant; an exact match is required, so the original
            /// spelling survives a round trip.
            pub fn from_wire(s: &str) -> Self {
                match s {
                    $( $wire => Self::$variant, )*
                    other => Self::Unknown(other.to_owned()),
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self::from_wire(s)
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <::std::string::String>::deserialize(d)?;
                Ok(Self::from_wire(&s))
            }
        }

        impl $crate::webhook::walk::Walk for $name {
            fn walk(&self, path: &str, out: &mut Vec<$crate::webhook::walk::Flag>) {
                if let Self::Unknown(value) = self {
                    out.push($crate::webhook::walk::Flag {
                        kind: $crate::webhook::walk::FlagKind::$flag,
                        path: path.to_owned(),
                        value: Some(value.clone()),
                    });
                }
            }
        }
    };
}
pub(crate) use wire_enum;

/// A Unix time in seconds as Meta wrote it: a string (`"1749416383"`, the usual form) or a
/// JSON number (`entry[].time`, `restriction_info[].expiration`). The form is kept so the
/// payload round-trips; [`Timestamp::seconds`] reads either.
#[derive(Debug, Clone, PartialEq)]
pub enum Timestamp {
    /// The quoted form.
    Text(String),
    /// The bare-number form.
    Number(Number),
}

impl Timestamp {
    /// Seconds since the Unix epoch, if the value is an integer (quoted or not).
    pub fn seconds(&self) -> Option<i64> {
        match self {
            Self::Text(s) => s.trim().parse().ok(),
            Self::Number(n) => n.as_i64(),
        }
    }

    /// A quoted timestamp, the form Meta uses inside `value`.
    pub fn text(seconds: i64) -> Self {
        Self::Text(seconds.to_string())
    }

    /// A bare-number timestamp, the form of `entry[].time`.
    pub fn number(seconds: i64) -> Self {
        Self::Number(seconds.into())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Text(t) => s.serialize_str(t),
            Self::Number(n) => n.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        NumOrText::deserialize(d).map(|v| match v {
            NumOrText::Text(t) => Self::Text(t),
            NumOrText::Number(n) => Self::Number(n),
        })
    }
}

/// A number Meta may write as a JSON number or a string (history `metadata.phase`,
/// order quantities and prices). Kept in its wire form; [`Numeric::as_i64`] reads either.
#[derive(Debug, Clone, PartialEq)]
pub enum Numeric {
    /// The bare-number form.
    Number(Number),
    /// The quoted form.
    Text(String),
}

impl Numeric {
    /// The value as an integer, if it is one.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Self::Number(n) => n.as_i64(),
            Self::Text(s) => s.trim().parse().ok(),
        }
    }

    /// The value as a float, if it is numeric.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Self::Number(n) => n.as_f64(),
            Self::Text(s) => s.trim().parse().ok(),
        }
    }
}

impl From<i64> for Numeric {
    fn from(v: i64) -> Self {
        Self::Number(v.into())
    }
}

impl Serialize for Numeric {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Text(t) => s.serialize_str(t),
            Self::Number(n) => n.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Numeric {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        NumOrText::deserialize(d).map(|v| match v {
            NumOrText::Text(t) => Self::Text(t),
            NumOrText::Number(n) => Self::Number(n),
        })
    }
}

/// The shared reader behind [`Timestamp`] and [`Numeric`]: a string or a JSON number, with
/// an error message that names both.
enum NumOrText {
    Number(Number),
    Text(String),
}

impl<'de> Deserialize<'de> for NumOrText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = NumOrText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number or a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<NumOrText, E> {
                Ok(NumOrText::Text(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<NumOrText, E> {
                Ok(NumOrText::Text(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<NumOrText, E> {
                Ok(NumOrText::Number(v.into()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<NumOrText, E> {
                Ok(NumOrText::Number(v.into()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<NumOrText, E> {
                Number::from_f64(v)
                    .map(NumOrText::Number)
                    .ok_or_else(|| E::custom("a non-finite number"))
            }
        }
        d.deserialize_any(V)
    }
}

/// A phone number (or, for `recipient_id`, a group id) exactly as Meta wrote it.
///
/// Meta mixes `16505551234` and `+16505551234` for the same person (spec/cloud-api.md §2.2),
/// and shared contact cards carry `+57 300 1234567`. The text is kept verbatim so the payload
/// round-trips; [`WirePhone::parse`] gives the normalised [`PhoneNumber`] used as a key.
#[derive(Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WirePhone(String);

impl WirePhone {
    /// Wraps a string without checking it (it came from, or goes to, the wire).
    pub fn new(raw: impl Into<String>) -> Self {
        Self(raw.into())
    }

    /// The text as received.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The normalised E.164 digits; fails for anything that is not a phone number.
    pub fn parse(&self) -> Result<PhoneNumber, PhoneError> {
        PhoneNumber::parse(&self.0)
    }

    /// Whether both denote the same number once normalised (`+1650…` equals `1650…`).
    pub fn same_number(&self, other: &WirePhone) -> bool {
        match (self.parse(), other.parse()) {
            (Ok(a), Ok(b)) => a == b,
            _ => self.0 == other.0,
        }
    }
}

impl fmt::Debug for WirePhone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WirePhone({:?})", self.0)
    }
}

impl fmt::Display for WirePhone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for WirePhone {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

impl From<String> for WirePhone {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl From<&PhoneNumber> for WirePhone {
    /// The digit form Meta uses in `wa_id`, `from` and `display_phone_number`.
    fn from(p: &PhoneNumber) -> Self {
        Self(p.digits().to_owned())
    }
}

/// `value.metadata`: which business number a phone-number-scoped webhook is about.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Metadata {
    /// The business number's digits, no `+` (`"15550783881"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_phone_number: Option<WirePhone>,
    /// The Graph id of the business number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number_id: Option<PhoneNumberId>,
    /// Keys not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `value.contacts[]`: who a `messages`, echo, status or `user_id_update` webhook is about.
/// Any identifier may be missing (spec/cloud-api.md §10.3): phone numbers are omitted for
/// username users, BSUIDs on failed phone sends.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Contact {
    /// Display name and username.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<Profile>,
    /// The user's phone number (digits), when Meta shares it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wa_id: Option<WirePhone>,
    /// The business-scoped user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Bsuid>,
    /// The parent BSUID, for enrolled portfolios.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_user_id: Option<Bsuid>,
    /// Keys not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `contacts[].profile`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Profile {
    /// The name the user set in WhatsApp.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The user's username, as received (Meta's examples include a leading `@`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Keys not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// An error object as webhooks carry it, in `value.errors[]`, `messages[].errors[]`,
/// `statuses[].errors[]` and `history[].errors[]` (spec/cloud-api.md §1.1, §3.3).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct WebhookError {
    /// Meta's error code (`131060`, `2593109`, …); the stable part to act on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<i64>,
    /// Short title; Meta says titles will be deprecated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Human-readable message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// `error_data.details`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_data: Option<ErrorData>,
    /// Link to Meta's error-code page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub href: Option<String>,
    /// Keys not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `errors[].error_data`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ErrorData {
    /// The detailed explanation, the field Meta advises reading.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    /// Keys not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

walk_struct!(Metadata {});
walk_struct!(Contact { profile => "profile" });
walk_struct!(Profile {});
walk_struct!(WebhookError { error_data => "error_data" });
walk_struct!(ErrorData {});

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhook::walk::{FlagKind, Walk};

    wire_enum!(
        /// Test enum.
        Colour / UnknownValue {
            Red => "red",
            Blue => "BLUE",
        }
    );

    #[test]
    fn open_enum_keeps_unknown_values() {
        let c: Colour = serde_json::from_str("\"green\"").unwrap();
        assert_eq!(c, Colour::Unknown("green".into()));
        assert_eq!(serde_json::to_string(&c).unwrap(), "\"green\"");
        let b: Colour = serde_json::from_str("\"BLUE\"").unwrap();
        assert_eq!(b, Colour::Blue);
        // Case differences are kept verbatim rather than folded.
        let b: Colour = serde_json::from_str("\"blue\"").unwrap();
        assert!(b.is_unknown());
        let mut flags = Vec::new();
        b.walk("x", &mut flags);
        assert_eq!(flags.len(), 1);
        assert_eq!(flags[0].kind, FlagKind::UnknownValue);
    }

    #[test]
    fn timestamps_keep_their_form() {
        let t: Timestamp = serde_json::from_str("\"1749416383\"").unwrap();
        assert_eq!(t.seconds(), Some(1_749_416_383));
        assert_eq!(serde_json::to_string(&t).unwrap(), "\"1749416383\"");
        let t: Timestamp = serde_json::from_str("1739212624").unwrap();
        assert_eq!(t.seconds(), Some(1_739_212_624));
        assert_eq!(serde_json::to_string(&t).unwrap(), "1739212624");
        let t: Timestamp = serde_json::from_str("\"soon\"").unwrap();
        assert_eq!(t.seconds(), None);
        assert!(serde_json::from_str::<Timestamp>("null").is_err());
    }

    #[test]
    fn wire_phone_normalises_on_demand() {
        let a = WirePhone::from("+16505551234");
        let b = WirePhone::from("16505551234");
        assert!(a.same_number(&b));
        assert_eq!(a.parse().unwrap().digits(), "16505551234");
        assert_eq!(serde_json::to_string(&a).unwrap(), "\"+16505551234\"");
    }
}
