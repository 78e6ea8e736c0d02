//! The exact bytes of a webhook body, written the way Meta writes them: compact JSON with every
//! non-ASCII character as a lowercase `\uXXXX` escape (UTF-16 surrogate pairs beyond the BMP)
//! and `/` escaped as `\/` (spec/cloud-api.md §1.3: Meta signs "an escaped unicode version of
//! the payload, with lowercase hex digits").
//!
//! A receiver that verifies the signature over re-serialised JSON instead of the raw bytes
//! fails on Arabic, accented or emoji text, exactly as it would against Meta.

use std::io;

use serde::Serialize;
use serde_json::ser::{Formatter, Serializer};

/// Compact JSON (the trait's defaults) with Meta's string escaping.
#[derive(Debug, Default)]
struct MetaFormatter;

impl Formatter for MetaFormatter {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if c.is_ascii() && c != '/' {
                continue;
            }
            writer.write_all(&fragment.as_bytes()[start..i])?;
            if c == '/' {
                writer.write_all(b"\\/")?;
            } else {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    write!(writer, "\\u{unit:04x}")?;
                }
            }
            start = i + c.len_utf8();
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }
}

/// Serialises `value` into the bytes Meta would send.
pub fn to_meta_bytes<T: Serialize>(value: &T) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = Vec::with_capacity(256);
    let mut ser = Serializer::with_formatter(&mut out, MetaFormatter);
    value.serialize(&mut ser)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn escapes_non_ascii_and_slashes_like_meta() {
        let v = json!({ "text": { "body": "Olá 👋 مرحبا https://x.y/z \"q\"" } });
        let bytes = to_meta_bytes(&v).unwrap();
        let s = String::from_utf8(bytes.clone()).unwrap();
        assert!(s.is_ascii());
        assert_eq!(
            s,
            r#"{"text":{"body":"Ol\u00e1 \ud83d\udc4b \u0645\u0631\u062d\u0628\u0627 https:\/\/x.y\/z \"q\""}}"#
        );
        // Still the same JSON.
        let back: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(back, v);
    }
}
