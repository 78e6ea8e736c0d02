//! The customer's country, the second key of Meta's per-message rate card
//! (spec/coexistence.md §5).
//!
//! A phone number gives it through its calling code (longest-prefix match on a table of the
//! common codes); a BSUID carries it as its ISO 3166 prefix (spec/cloud-api.md §10.1). A
//! country the table does not know is `None`, and the price table then uses its default row.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use crate::model::CustomerKey;
use crate::{Bsuid, PhoneNumber};

/// An ISO 3166-1 alpha-2 country code, upper case (`BR`, `US`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Country([u8; 2]);

/// A country code that is not two ASCII letters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an ISO 3166 alpha-2 country code (two letters)")]
pub struct CountryError(pub String);

impl Country {
    /// Two ASCII letters, either case (`br` becomes `BR`).
    pub fn parse(code: &str) -> Result<Self, CountryError> {
        match code.as_bytes() {
            [a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => {
                Ok(Self([a.to_ascii_uppercase(), b.to_ascii_uppercase()]))
            }
            _ => Err(CountryError(code.to_owned())),
        }
    }

    pub fn as_str(&self) -> &str {
        // Both bytes are ASCII letters (checked by `parse`), so this never fails.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }

    /// The country of a phone number, by the longest calling-code prefix in [`CALLING_CODES`].
    ///
    /// The North American Numbering Plan (`+1`) is shared by the US, Canada and the Caribbean;
    /// a few Caribbean area codes are listed, every other `+1` number reads as `US` (Meta's
    /// rate card prices the US and Canada alike). `+7` reads as `RU` except Kazakhstan's
    /// `+76`/`+77`.
    pub fn from_phone(phone: &PhoneNumber) -> Option<Self> {
        let digits = phone.digits();
        CALLING_CODES
            .iter()
            .filter(|(code, _)| digits.starts_with(code))
            .max_by_key(|(code, _)| code.len())
            .and_then(|(_, iso)| Self::parse(iso).ok())
    }

    /// The country prefix of a BSUID (`US.1349…` is `US`), whether or not the table knows it.
    pub fn from_bsuid(bsuid: &Bsuid) -> Option<Self> {
        Self::parse(bsuid.country()).ok()
    }

    /// A customer's country: from the phone number when known, else from the BSUID.
    pub fn of_customer(key: &CustomerKey) -> Option<Self> {
        key.phone()
            .and_then(Self::from_phone)
            .or_else(|| key.bsuid().and_then(Self::from_bsuid))
    }

    /// The country's calling code, when [`CALLING_CODES`] has it (the shortest listed prefix,
    /// so `US` is `1`, not a Caribbean area code).
    pub fn calling_code(&self) -> Option<&'static str> {
        CALLING_CODES
            .iter()
            .filter(|(_, iso)| *iso == self.as_str())
            .min_by_key(|(code, _)| code.len())
            .map(|(code, _)| *code)
    }
}

impl fmt::Display for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Country({})", self.as_str())
    }
}

impl std::str::FromStr for Country {
    type Err = CountryError;
    fn from_str(s: &str) -> Result<Self, CountryError> {
        Self::parse(s)
    }
}

impl Serialize for Country {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Country {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Calling-code prefixes (digits, no `+`) of the common countries, with their ISO code.
/// E.164 country codes are prefix-free, so only NANP area codes and Kazakhstan need the
/// longest-match rule.
pub const CALLING_CODES: &[(&str, &str)] = &[
    // North America and the Caribbean (NANP).
    ("1", "US"),
    ("1242", "BS"),
    ("1246", "BB"),
    ("1787", "PR"),
    ("1809", "DO"),
    ("1829", "DO"),
    ("1849", "DO"),
    ("1868", "TT"),
    ("1876", "JM"),
    // Russia and Kazakhstan.
    ("7", "RU"),
    ("76", "KZ"),
    ("77", "KZ"),
    // Africa.
    ("20", "EG"),
    ("27", "ZA"),
    ("212", "MA"),
    ("213", "DZ"),
    ("216", "TN"),
    ("218", "LY"),
    ("221", "SN"),
    ("225", "CI"),
    ("233", "GH"),
    ("234", "NG"),
    ("237", "CM"),
    ("243", "CD"),
    ("244", "AO"),
    ("249", "SD"),
    ("251", "ET"),
    ("254", "KE"),
    ("255", "TZ"),
    ("256", "UG"),
    ("258", "MZ"),
    ("260", "ZM"),
    ("263", "ZW"),
    // Europe.
    ("30", "GR"),
    ("31", "NL"),
    ("32", "BE"),
    ("33", "FR"),
    ("34", "ES"),
    ("36", "HU"),
    ("39", "IT"),
    ("40", "RO"),
    ("41", "CH"),
    ("43", "AT"),
    ("44", "GB"),
    ("45", "DK"),
    ("46", "SE"),
    ("47", "NO"),
    ("48", "PL"),
    ("49", "DE"),
    ("351", "PT"),
    ("352", "LU"),
    ("353", "IE"),
    ("354", "IS"),
    ("355", "AL"),
    ("356", "MT"),
    ("357", "CY"),
    ("358", "FI"),
    ("359", "BG"),
    ("370", "LT"),
    ("371", "LV"),
    ("372", "EE"),
    ("373", "MD"),
    ("374", "AM"),
    ("375", "BY"),
    ("380", "UA"),
    ("381", "RS"),
    ("385", "HR"),
    ("386", "SI"),
    ("387", "BA"),
    ("389", "MK"),
    ("420", "CZ"),
    ("421", "SK"),
    // Latin America.
    ("51", "PE"),
    ("52", "MX"),
    ("53", "CU"),
    ("54", "AR"),
    ("55", "BR"),
    ("56", "CL"),
    ("57", "CO"),
    ("58", "VE"),
    ("502", "GT"),
    ("503", "SV"),
    ("504", "HN"),
    ("505", "NI"),
    ("506", "CR"),
    ("507", "PA"),
    ("591", "BO"),
    ("593", "EC"),
    ("595", "PY"),
    ("598", "UY"),
    // Asia and Oceania.
    ("60", "MY"),
    ("61", "AU"),
    ("62", "ID"),
    ("63", "PH"),
    ("64", "NZ"),
    ("65", "SG"),
    ("66", "TH"),
    ("81", "JP"),
    ("82", "KR"),
    ("84", "VN"),
    ("86", "CN"),
    ("852", "HK"),
    ("853", "MO"),
    ("855", "KH"),
    ("856", "LA"),
    ("880", "BD"),
    ("886", "TW"),
    ("90", "TR"),
    ("91", "IN"),
    ("92", "PK"),
    ("93", "AF"),
    ("94", "LK"),
    ("95", "MM"),
    ("98", "IR"),
    ("961", "LB"),
    ("962", "JO"),
    ("963", "SY"),
    ("964", "IQ"),
    ("965", "KW"),
    ("966", "SA"),
    ("967", "YE"),
    ("968", "OM"),
    ("971", "AE"),
    ("972", "IL"),
    ("973", "BH"),
    ("974", "QA"),
    ("977", "NP"),
    ("994", "AZ"),
    ("995", "GE"),
    ("998", "UZ"),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn phone(p: &str) -> PhoneNumber {
        PhoneNumber::parse(p).unwrap()
    }

    #[test]
    fn calling_codes_longest_prefix() {
        let c = |p| Country::from_phone(&phone(p)).map(|c| c.to_string());
        assert_eq!(c("+1 650 555 1234").as_deref(), Some("US"));
        assert_eq!(c("+1 876 555 1234").as_deref(), Some("JM"));
        assert_eq!(c("+55 11 91234 5678").as_deref(), Some("BR"));
        assert_eq!(c("+971 50 936 4178").as_deref(), Some("AE"));
        assert_eq!(c("+44 20 7946 0958").as_deref(), Some("GB"));
        assert_eq!(c("+7 495 123 4567").as_deref(), Some("RU"));
        assert_eq!(c("+7 701 123 4567").as_deref(), Some("KZ"));
        assert_eq!(c("+91 98765 43210").as_deref(), Some("IN"));
        // +299 (Greenland) is not in the table.
        assert_eq!(c("+299 123456"), None);
    }

    #[test]
    fn every_table_row_is_valid_and_unique() {
        let mut seen = std::collections::HashSet::new();
        for (code, iso) in CALLING_CODES {
            assert!(code.bytes().all(|b| b.is_ascii_digit()), "{code}");
            assert!(Country::parse(iso).is_ok(), "{iso}");
            assert!(seen.insert(*code), "duplicate {code}");
        }
    }

    #[test]
    fn bsuid_and_customer() {
        let b = Bsuid::parse("BR.1502576394655843").unwrap();
        assert_eq!(Country::from_bsuid(&b), Country::parse("BR").ok());
        // A phone number wins over the BSUID prefix (they agree in practice).
        let key = CustomerKey::new(Some(b.clone()), Some(phone("16505551234"))).unwrap();
        assert_eq!(Country::of_customer(&key), Country::parse("US").ok());
        let key = CustomerKey::new(Some(b), None).unwrap();
        assert_eq!(Country::of_customer(&key), Country::parse("BR").ok());
        // An unlisted calling code falls back to the BSUID.
        let key = CustomerKey::new(
            Some(Bsuid::parse("GL.1").unwrap()),
            Some(phone("+299 123456")),
        )
        .unwrap();
        assert_eq!(Country::of_customer(&key), Country::parse("GL").ok());
    }

    #[test]
    fn parse_and_reverse() {
        assert_eq!(Country::parse("br").unwrap().as_str(), "BR");
        assert!(Country::parse("BRA").is_err());
        assert!(Country::parse("B1").is_err());
        assert_eq!(Country::parse("US").unwrap().calling_code(), Some("1"));
        assert_eq!(Country::parse("KZ").unwrap().calling_code(), Some("76"));
        assert_eq!(Country::parse("GL").unwrap().calling_code(), None);
        let c: Country = serde_json::from_str("\"de\"").unwrap();
        assert_eq!(serde_json::to_string(&c).unwrap(), "\"DE\"");
    }
}
