//! [`Amount`]: money as whole millionths of the price table's currency.
//!
//! Meta's rates have four or more decimals (`0.0625`, `0.0008`) and a ledger sums millions of
//! them, so floats would drift; integers in micro-units add exactly. Config may write a rate
//! as a TOML/JSON number or as a decimal string; both are read.

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Micro-units per currency unit.
const MICROS: i64 = 1_000_000;

/// A non-negative sum of money in millionths of a currency unit.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Amount(i64);

/// A rate that is not a non-negative decimal with at most six fraction digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a price (a non-negative decimal with at most 6 fraction digits)")]
pub struct AmountError(pub String);

impl Amount {
    pub const ZERO: Self = Self(0);

    /// From millionths of a unit.
    pub const fn from_micros(micros: i64) -> Self {
        Self(if micros < 0 { 0 } else { micros })
    }

    pub const fn micros(self) -> i64 {
        self.0
    }

    /// Parses `"0.0625"`, `"1"`, `".5"`.
    pub fn parse_decimal(text: &str) -> Result<Self, AmountError> {
        let bad = || AmountError(text.to_owned());
        let t = text.trim();
        let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
        if (whole.is_empty() && frac.is_empty())
            || frac.len() > 6
            || !whole
                .bytes()
                .chain(frac.bytes())
                .all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        let whole: i64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| bad())?
        };
        let mut frac_micros: i64 = if frac.is_empty() {
            0
        } else {
            frac.parse().map_err(|_| bad())?
        };
        for _ in frac.len()..6 {
            frac_micros *= 10;
        }
        whole
            .checked_mul(MICROS)
            .and_then(|w| w.checked_add(frac_micros))
            .map(Self)
            .ok_or_else(bad)
    }

    /// From a config float, rounded to the nearest micro-unit.
    pub fn from_f64(value: f64) -> Result<Self, AmountError> {
        let micros = (value * MICROS as f64).round();
        // i64::MAX as f64 rounds up to 2^63, so `<` keeps the cast in range.
        if value.is_finite() && micros >= 0.0 && micros < i64::MAX as f64 {
            Ok(Self(micros as i64))
        } else {
            Err(AmountError(value.to_string()))
        }
    }

    /// `self + other`, saturating (a ledger total never wraps).
    pub fn saturating_add(self, other: Self) -> Self {
        Self(self.0.saturating_add(other.0))
    }

    /// `self · n`, saturating.
    pub fn times(self, n: u64) -> Self {
        Self(self.0.saturating_mul(i64::try_from(n).unwrap_or(i64::MAX)))
    }
}

impl std::iter::Sum for Amount {
    fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
        iter.fold(Self::ZERO, Self::saturating_add)
    }
}

impl fmt::Display for Amount {
    /// The shortest exact decimal: `0.0625`, `1`, `0`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.0 / MICROS;
        let frac = self.0 % MICROS;
        if frac == 0 {
            return write!(f, "{whole}");
        }
        let digits = format!("{frac:06}");
        write!(f, "{whole}.{}", digits.trim_end_matches('0'))
    }
}

impl fmt::Debug for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Amount({self})")
    }
}

impl std::str::FromStr for Amount {
    type Err = AmountError;
    fn from_str(s: &str) -> Result<Self, AmountError> {
        Self::parse_decimal(s)
    }
}

/// Written as a decimal string, so no float ever touches a stored amount.
impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Amount;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a non-negative price, as a number or a decimal string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Amount, E> {
                Amount::parse_decimal(v).map_err(E::custom)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Amount, E> {
                Amount::from_f64(v).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Amount, E> {
                i64::try_from(v)
                    .ok()
                    .and_then(|v| v.checked_mul(MICROS))
                    .map(Amount)
                    .ok_or_else(|| E::custom(AmountError(v.to_string())))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Amount, E> {
                u64::try_from(v)
                    .map_err(|_| E::custom(AmountError(v.to_string())))
                    .and_then(|v| self.visit_u64(v))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_exact() {
        assert_eq!(Amount::parse_decimal("0.0625").unwrap().micros(), 62_500);
        assert_eq!(Amount::parse_decimal("1").unwrap().micros(), 1_000_000);
        assert_eq!(Amount::parse_decimal(".5").unwrap().micros(), 500_000);
        assert_eq!(Amount::parse_decimal("0.000001").unwrap().micros(), 1);
        for bad in ["", ".", "-1", "0.0000001", "1e3", "a", "1.2.3"] {
            assert!(Amount::parse_decimal(bad).is_err(), "{bad}");
        }
        assert_eq!(Amount::from_f64(0.0008).unwrap().micros(), 800);
        assert!(Amount::from_f64(-0.1).is_err());
        assert!(Amount::from_f64(f64::NAN).is_err());
    }

    #[test]
    fn display_and_serde() {
        assert_eq!(Amount::from_micros(62_500).to_string(), "0.0625");
        assert_eq!(Amount::from_micros(2_000_000).to_string(), "2");
        assert_eq!(Amount::ZERO.to_string(), "0");
        assert_eq!(Amount::from_micros(1_000_001).to_string(), "1.000001");
        let a: Amount = serde_json::from_str("0.025").unwrap();
        assert_eq!(a.micros(), 25_000);
        let a: Amount = serde_json::from_str("\"0.025\"").unwrap();
        assert_eq!(serde_json::to_string(&a).unwrap(), "\"0.025\"");
        let a: Amount = serde_json::from_str("3").unwrap();
        assert_eq!(a.micros(), 3_000_000);
        assert!(serde_json::from_str::<Amount>("-3").is_err());
    }

    #[test]
    fn sums_saturate() {
        let a = Amount::from_micros(i64::MAX);
        assert_eq!(a.saturating_add(Amount::from_micros(1)), a);
        assert_eq!(Amount::from_micros(25_000).times(4).micros(), 100_000);
        let total: Amount = [1, 2, 3].into_iter().map(Amount::from_micros).sum();
        assert_eq!(total.micros(), 6);
    }
}
