//! Identifiers Meta hands out: message ids (`wamid`), phone-number and WABA ids, media ids,
//! business-scoped user ids (BSUIDs, spec/cloud-api.md §10).
//!
//! Meta's opaque ids are kept as received (their format is not a contract), but never empty
//! and never with surrounding whitespace. BSUIDs have a documented shape and are checked.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// Why an identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("{kind} is empty")]
    Empty { kind: &'static str },
    #[error("{kind} {value:?} is not valid: {reason}")]
    Invalid {
        kind: &'static str,
        value: String,
        reason: &'static str,
    },
}

macro_rules! opaque_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Accepts any non-empty value without surrounding whitespace.
            pub fn parse(value: impl Into<String>) -> Result<Self, IdError> {
                let value = value.into();
                if value.is_empty() {
                    return Err(IdError::Empty { kind: $kind });
                }
                if value.trim() != value {
                    return Err(IdError::Invalid {
                        kind: $kind,
                        value,
                        reason: "surrounding whitespace",
                    });
                }
                Ok(Self(value))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(s).map_err(serde::de::Error::custom)
            }
        }
    };
}

opaque_id!(
    /// A WhatsApp message id (`wamid.…`), the same in send responses, statuses and echoes.
    Wamid,
    "message id"
);
opaque_id!(
    /// The Graph id of a business phone number (`metadata.phone_number_id`); not the number itself.
    PhoneNumberId,
    "phone number id"
);
opaque_id!(
    /// A WhatsApp Business Account id (`entry[].id`).
    WabaId,
    "WABA id"
);
opaque_id!(
    /// An uploaded media asset's id.
    MediaId,
    "media id"
);
opaque_id!(
    /// The `request_id` Meta returns for an `smb_app_data` sync request.
    RequestId,
    "request id"
);

/// A business-scoped user id (`US.13491208655302741918`) or a parent one (`US.ENT.…`).
///
/// Accepted shape (spec/cloud-api.md §10.1): an ISO 3166 alpha-2 country code, a period, an
/// optional `ENT.` marker, then 1 to 128 ASCII alphanumerics.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Bsuid(String);

impl Bsuid {
    pub fn parse(value: impl Into<String>) -> Result<Self, IdError> {
        let value = value.into();
        let invalid = |reason| IdError::Invalid {
            kind: "business-scoped user id",
            value: value.clone(),
            reason,
        };
        if value.is_empty() {
            return Err(IdError::Empty {
                kind: "business-scoped user id",
            });
        }
        let Some((country, rest)) = value.split_once('.') else {
            return Err(invalid("expected CC.<digits>"));
        };
        if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(invalid("country prefix must be two uppercase letters"));
        }
        let body = rest.strip_prefix("ENT.").unwrap_or(rest);
        if body.is_empty() || body.len() > 128 || !body.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(invalid("body must be 1 to 128 ASCII letters or digits"));
        }
        Ok(Self(value))
    }

    /// Whether this is a parent BSUID (`CC.ENT.…`), valid across enrolled portfolios.
    pub fn is_parent(&self) -> bool {
        self.0.get(2..7) == Some(".ENT.")
    }

    /// The ISO country code the id starts with.
    pub fn country(&self) -> &str {
        &self.0[..2]
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Bsuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Bsuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Bsuid({:?})", self.0)
    }
}

impl std::str::FromStr for Bsuid {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        Self::parse(s)
    }
}

impl<'de> Deserialize<'de> for Bsuid {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bsuid_shapes() {
        assert!(Bsuid::parse("US.13491208655302741918").is_ok());
        let parent = Bsuid::parse("US.ENT.11815799212886844830").unwrap();
        assert!(parent.is_parent());
        assert_eq!(parent.country(), "US");
        assert!(Bsuid::parse("us.123").is_err());
        assert!(Bsuid::parse("US.").is_err());
        assert!(Bsuid::parse("US123").is_err());
        assert!(Bsuid::parse(format!("US.{}", "1".repeat(129))).is_err());
        assert!(Bsuid::parse("").is_err());
    }

    #[test]
    fn opaque_ids_refuse_empty_and_padding() {
        assert!(Wamid::parse("wamid.X").is_ok());
        assert!(Wamid::parse("").is_err());
        assert!(Wamid::parse(" wamid.X").is_err());
        let w: Wamid = serde_json::from_str("\"wamid.ABC\"").unwrap();
        assert_eq!(w.as_str(), "wamid.ABC");
    }
}
