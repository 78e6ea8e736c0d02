//! Phone numbers as Meta writes them: digits with the country code and no `+`
//! (`wa_id`, `display_phone_number`, echo `to`).
//!
//! Input may carry `+`, spaces, dashes and parentheses (Meta accepts them in `to`, and the echo
//! reference shows `+16505551234` beside `16505551234`); [`PhoneNumber::parse`] normalises all
//! of them to the bare digit form so one person has one key.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// Why a phone number was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("phone number is empty")]
    Empty,
    #[error("phone number {0:?} has a character other than digits, '+', spaces, '-', '(' or ')'")]
    BadCharacter(String),
    #[error("phone number {0:?} must have 7 to 15 digits (E.164)")]
    BadLength(String),
}

/// An E.164 phone number held as its digits (country code first, no `+`).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    pub fn parse(input: &str) -> Result<Self, PhoneError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(PhoneError::Empty);
        }
        let mut digits = String::with_capacity(trimmed.len());
        for (i, c) in trimmed.chars().enumerate() {
            match c {
                '0'..='9' => digits.push(c),
                '+' if i == 0 => {}
                ' ' | '-' | '(' | ')' | '.' => {}
                _ => return Err(PhoneError::BadCharacter(input.to_owned())),
            }
        }
        if !(7..=15).contains(&digits.len()) {
            return Err(PhoneError::BadLength(input.to_owned()));
        }
        Ok(Self(digits))
    }

    /// The digits, as Meta's `wa_id` carries them.
    pub fn digits(&self) -> &str {
        &self.0
    }

    /// `+` and the digits.
    pub fn e164(&self) -> String {
        format!("+{}", self.0)
    }

    /// Whether the number starts with the given country calling code (digits only).
    pub fn has_country_code(&self, code: &str) -> bool {
        self.0.starts_with(code)
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "+{}", self.0)
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber(+{})", self.0)
    }
}

impl std::str::FromStr for PhoneNumber {
    type Err = PhoneError;
    fn from_str(s: &str) -> Result<Self, PhoneError> {
        Self::parse(s)
    }
}

impl<'de> Deserialize<'de> for PhoneNumber {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_meta_forms() {
        let a = PhoneNumber::parse("+1 (650) 555-1234").unwrap();
        let b = PhoneNumber::parse("16505551234").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.digits(), "16505551234");
        assert_eq!(a.e164(), "+16505551234");
        assert!(a.has_country_code("1"));
    }

    #[test]
    fn refuses_garbage() {
        assert_eq!(PhoneNumber::parse(""), Err(PhoneError::Empty));
        assert!(matches!(
            PhoneNumber::parse("12a45678"),
            Err(PhoneError::BadCharacter(_))
        ));
        assert!(matches!(
            PhoneNumber::parse("1+2345678"),
            Err(PhoneError::BadCharacter(_))
        ));
        assert!(matches!(
            PhoneNumber::parse("123"),
            Err(PhoneError::BadLength(_))
        ));
        assert!(matches!(
            PhoneNumber::parse("1234567890123456"),
            Err(PhoneError::BadLength(_))
        ));
    }
}
