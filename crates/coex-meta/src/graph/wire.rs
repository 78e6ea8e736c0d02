//! Small serde helpers shared by the Graph types: open string enums and lenient numbers.
//!
//! Meta adds enum values without notice (new tiers, statuses, button kinds), and writes some
//! numbers as strings in one place and as numbers in another. A new value must not make a
//! whole response unreadable, so every enum here keeps unknown values as `Other(String)` and
//! numeric fields accept both spellings.

use serde::{Deserialize, Deserializer};

/// An enum whose wire form is a string, with an `Other(String)` catch-all.
///
/// Parsing tries the exact spelling first and then ignores ASCII case (Meta writes template
/// component types as `HEADER` in the management API and `header` in sends). Serialising
/// always writes the canonical spelling, or an `Other` value exactly as it was received.
macro_rules! wire_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $wire:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
            /// A value this version does not know, kept as received.
            Other(String),
        }

        impl $name {
            /// Every value this version knows, in declaration order.
            pub const KNOWN: &'static [$name] = &[$($name::$variant),+];

            /// The wire spelling.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $wire,)+
                    Self::Other(s) => s,
                }
            }

            /// Never fails: an unknown spelling becomes `Other`.
            pub fn parse(s: &str) -> Self {
                match s {
                    $($wire => return Self::$variant,)+
                    _ => {}
                }
                $(if s.eq_ignore_ascii_case($wire) {
                    return Self::$variant;
                })+
                Self::Other(s.to_owned())
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self::parse(s)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                Ok(Self::parse(&s))
            }
        }
    };
}
pub(crate) use wire_enum;

/// A number Meta may send as `42`, `42.0` or `"42"`.
#[derive(Deserialize)]
#[serde(untagged)]
enum NumberOrString {
    U64(u64),
    F64(f64),
    Str(String),
}

/// `u64` from a JSON number or a string of digits (Meta's media `file_size` is both).
pub(crate) fn u64_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    match NumberOrString::deserialize(d)? {
        NumberOrString::U64(n) => Ok(n),
        NumberOrString::F64(f) if f >= 0.0 && f.fract() == 0.0 && f < 1.8e19 => Ok(f as u64),
        NumberOrString::F64(f) => Err(serde::de::Error::custom(format!(
            "expected a whole non-negative number, got {f}"
        ))),
        NumberOrString::Str(s) => s
            .trim()
            .parse()
            .map_err(|_| serde::de::Error::custom(format!("expected a number, got {s:?}"))),
    }
}

/// `f64` from a JSON number or a numeric string (coordinates appear both ways in Meta's docs).
pub(crate) fn f64_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    match NumberOrString::deserialize(d)? {
        NumberOrString::U64(n) => Ok(n as f64),
        NumberOrString::F64(f) => Ok(f),
        NumberOrString::Str(s) => s
            .trim()
            .parse()
            .map_err(|_| serde::de::Error::custom(format!("expected a number, got {s:?}"))),
    }
}

/// `u32` from a number or a string; template button `index` is `"0"` in Meta's docs and `0`
/// in much real client code.
pub(crate) fn opt_u32_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    let n = u64_lenient(d)?;
    u32::try_from(n)
        .map(Some)
        .map_err(|_| serde::de::Error::custom(format!("{n} is out of range")))
}

/// Serialises an index as the string Meta's docs show (`"0"`).
pub(crate) fn opt_u32_as_string<S: serde::Serializer>(
    v: &Option<u32>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match v {
        Some(n) => s.serialize_str(&n.to_string()),
        None => s.serialize_none(),
    }
}

/// The `messaging_product` every WhatsApp request and response carries.
pub const MESSAGING_PRODUCT: &str = "whatsapp";

pub(crate) fn messaging_product() -> String {
    MESSAGING_PRODUCT.to_owned()
}

/// Extra JSON keys a type does not model, kept so nothing a client sends is lost.
pub type Extra = serde_json::Map<String, serde_json::Value>;

/// Cuts `s` to at most `max` bytes on a character boundary (for log and error snippets).
pub(crate) fn snippet(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;

    wire_enum!(
        /// Test enum.
        Colour { Red = "RED", Green = "green" }
    );

    #[test]
    fn open_enum_keeps_unknown_and_ignores_case() {
        let c: Colour = serde_json::from_str("\"red\"").unwrap();
        assert_eq!(c, Colour::Red);
        assert_eq!(serde_json::to_string(&c).unwrap(), "\"RED\"");
        let o: Colour = serde_json::from_str("\"Mauve\"").unwrap();
        assert_eq!(o, Colour::Other("Mauve".into()));
        assert_eq!(serde_json::to_string(&o).unwrap(), "\"Mauve\"");
        assert_eq!(Colour::KNOWN.len(), 2);
    }

    #[derive(Deserialize, Serialize)]
    struct Nums {
        #[serde(deserialize_with = "u64_lenient")]
        size: u64,
        #[serde(deserialize_with = "f64_lenient")]
        lat: f64,
        #[serde(
            default,
            deserialize_with = "opt_u32_lenient",
            serialize_with = "opt_u32_as_string"
        )]
        index: Option<u32>,
    }

    #[test]
    fn lenient_numbers() {
        let n: Nums =
            serde_json::from_str(r#"{"size":"303833","lat":"37.5","index":"2"}"#).unwrap();
        assert_eq!((n.size, n.lat, n.index), (303833, 37.5, Some(2)));
        let n: Nums = serde_json::from_str(r#"{"size":303833,"lat":-122,"index":0}"#).unwrap();
        assert_eq!((n.size, n.lat, n.index), (303833, -122.0, Some(0)));
        assert_eq!(
            serde_json::to_value(&n).unwrap()["index"],
            serde_json::json!("0")
        );
        assert!(serde_json::from_str::<Nums>(r#"{"size":"x","lat":1}"#).is_err());
        assert!(serde_json::from_str::<Nums>(r#"{"size":1.5,"lat":1}"#).is_err());
    }

    #[test]
    fn snippet_respects_char_boundaries() {
        assert_eq!(snippet("héllo", 2), "h");
        assert_eq!(snippet("abc", 10), "abc");
    }
}
