//! `X-Hub-Signature-256`: the HMAC-SHA256 Meta puts on every webhook POST (spec/cloud-api.md §1.3).
//!
//! The value is `sha256=` followed by the lowercase hex HMAC of the request body, keyed with the
//! app secret. Meta signs the body *as sent*, with non-ASCII text written as `\uXXXX` escapes, so
//! the only correct input is the raw request bytes: re-serialised JSON carries real UTF-8 and a
//! different signature. Both functions here therefore take `&[u8]`, never a parsed value.
//!
//! The emulator signs with [`sign`]; the hub checks with [`verify`] (or [`verify_header`] when the
//! header may be absent) before it trusts a single byte of the body.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header Meta sends the signature in.
pub const HEADER: &str = "X-Hub-Signature-256";

/// What every header value starts with.
pub const PREFIX: &str = "sha256=";

/// Length in hex digits of a SHA-256 HMAC.
const HEX_LEN: usize = 64;

type HmacSha256 = Hmac<Sha256>;

/// Why a signature was refused. Each case is distinct so logs and metrics can tell a
/// misconfigured sender (prefix, hex, length) from a forged or altered body (mismatch).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the {HEADER} header is missing")]
    Missing,
    #[error("the signature does not start with \"sha256=\"")]
    MissingPrefix,
    #[error("the signature is not hexadecimal")]
    BadHex,
    #[error("the signature has {len} hex digits, expected 64")]
    WrongLength { len: usize },
    #[error("the signature does not match the body")]
    Mismatch,
}

fn mac(app_secret: &[u8]) -> HmacSha256 {
    // HMAC is defined for keys of any length (long keys are hashed, short ones padded), so
    // `new_from_slice` cannot fail for it; the `Result` exists only for fixed-key MACs.
    #[allow(clippy::expect_used)]
    HmacSha256::new_from_slice(app_secret).expect("HMAC accepts keys of any length")
}

/// The header value Meta would send for `body`: `sha256=<64 lowercase hex digits>`.
pub fn sign(app_secret: &[u8], body: &[u8]) -> String {
    let mut m = mac(app_secret);
    m.update(body);
    let digest = m.finalize().into_bytes();
    format!("{PREFIX}{}", hex::encode(digest))
}

/// Checks `header_value` against the HMAC of the raw `body` bytes, in constant time.
///
/// Surrounding whitespace is ignored; hex digits may be upper- or lowercase (Meta sends
/// lowercase, but case carries no information).
pub fn verify(app_secret: &[u8], body: &[u8], header_value: &str) -> Result<(), SignatureError> {
    let hex_part = header_value
        .trim()
        .strip_prefix(PREFIX)
        .ok_or(SignatureError::MissingPrefix)?;
    if !hex_part.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(SignatureError::BadHex);
    }
    if hex_part.len() != HEX_LEN {
        return Err(SignatureError::WrongLength {
            len: hex_part.len(),
        });
    }
    let expected = hex::decode(hex_part).map_err(|_| SignatureError::BadHex)?;
    let mut m = mac(app_secret);
    m.update(body);
    // `verify_slice` compares in constant time, so timing reveals nothing about the digest.
    m.verify_slice(&expected)
        .map_err(|_| SignatureError::Mismatch)
}

/// [`verify`] for a header that may be absent: `None` is [`SignatureError::Missing`].
pub fn verify_header(
    app_secret: &[u8],
    body: &[u8],
    header_value: Option<&str>,
) -> Result<(), SignatureError> {
    verify(
        app_secret,
        body,
        header_value.ok_or(SignatureError::Missing)?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SECRET: &[u8] = b"a1b2c3d4e5f6-app-secret";

    // Bodies exactly as Meta sends them: non-ASCII written as `\uXXXX` escapes (Arabic name
    // and greeting, accented Latin, and an emoji as the surrogate pair \ud83d\ude00).
    const INBOUND_ESCAPED: &str = r#"{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"contacts":[{"profile":{"name":"\u0633\u0627\u0631\u0629"},"wa_id":"16505551234"}],"messages":[{"from":"16505551234","id":"wamid.A","timestamp":"1749416383","type":"text","text":{"body":"\u0645\u0631\u062d\u0628\u0627 Cr\u00e8me br\u00fbl\u00e9e \ud83d\ude00"}}]},"field":"messages"}]}]}"#;
    const ACCENTS_ESCAPED: &str = r#"{"text":{"body":"caf\u00e9 \u00e0 la cr\u00e8me"}}"#;
    const EMOJI_ESCAPED: &str = r#"{"emoji":"\ud83d\ude00"}"#;

    // The same documents written with real UTF-8 characters (what a JSON serialiser emits).
    const INBOUND_UTF8: &str = r#"{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"contacts":[{"profile":{"name":"سارة"},"wa_id":"16505551234"}],"messages":[{"from":"16505551234","id":"wamid.A","timestamp":"1749416383","type":"text","text":{"body":"مرحبا Crème brûlée 😀"}}]},"field":"messages"}]}]}"#;
    const ACCENTS_UTF8: &str = r#"{"text":{"body":"café à la crème"}}"#;
    const EMOJI_UTF8: &str = r#"{"emoji":"😀"}"#;

    // Computed independently with Python's hmac module and checked with
    // `printf '%s' BODY | openssl dgst -sha256 -hmac a1b2c3d4e5f6-app-secret`.
    const VECTORS: &[(&str, &str)] = &[
        (
            INBOUND_ESCAPED,
            "45905802a56c45e4907e6aff8e801426f8bd7ca9e6d4db4e0b7250dbbf7c6334",
        ),
        (
            INBOUND_UTF8,
            "a948a33d9e29da5b446cb71efdebd8d1db139ee0fc41f7173a62b1e084e9a17c",
        ),
        (
            ACCENTS_ESCAPED,
            "f915199466ab47688fc49d30298c59457a3f3ea7b13bd50d29cb8bc95c7f148c",
        ),
        (
            ACCENTS_UTF8,
            "a0b0fce6deae01931761d0466eda9d8df1447ceaa706d4edbbc56849a1859b55",
        ),
        (
            EMOJI_ESCAPED,
            "561c947d223a44b053654f35257c3c5ff167c641b5786d85320d1ff6b36b7493",
        ),
        (
            EMOJI_UTF8,
            "11f056b45c702f7310d9062d9e356f507999c34b40bcae784a7fba6711cdcc73",
        ),
        (
            "",
            "bfbebb73e5bb69c1cb0d5592f0cd70a23a59af1bad66778b9604d88d6327f482",
        ),
    ];

    #[test]
    fn matches_independent_vectors() {
        for (body, hex) in VECTORS {
            let expected = format!("sha256={hex}");
            assert_eq!(sign(SECRET, body.as_bytes()), expected, "body {body}");
            assert_eq!(verify(SECRET, body.as_bytes(), &expected), Ok(()));
        }
    }

    #[test]
    fn reserialised_utf8_does_not_verify() {
        for (escaped, utf8) in [
            (INBOUND_ESCAPED, INBOUND_UTF8),
            (ACCENTS_ESCAPED, ACCENTS_UTF8),
            (EMOJI_ESCAPED, EMOJI_UTF8),
        ] {
            let header = sign(SECRET, escaped.as_bytes());
            // Same JSON document…
            let a: serde_json::Value = serde_json::from_str(escaped).unwrap();
            let b: serde_json::Value = serde_json::from_str(utf8).unwrap();
            assert_eq!(a, b);
            // …but a serialiser writes real UTF-8, so the bytes and the HMAC differ.
            let reserialised = serde_json::to_vec(&a).unwrap();
            assert_eq!(
                verify(SECRET, &reserialised, &header),
                Err(SignatureError::Mismatch)
            );
            assert_eq!(
                verify(SECRET, utf8.as_bytes(), &header),
                Err(SignatureError::Mismatch)
            );
        }
    }

    #[test]
    fn distinct_errors() {
        let body = EMOJI_ESCAPED.as_bytes();
        let good = sign(SECRET, body);
        let hex = good.trim_start_matches(PREFIX);
        assert_eq!(
            verify(SECRET, body, hex),
            Err(SignatureError::MissingPrefix)
        );
        assert_eq!(
            verify(SECRET, body, &format!("sha1={hex}")),
            Err(SignatureError::MissingPrefix)
        );
        assert_eq!(
            verify(SECRET, body, &format!("sha256={}zz", &hex[2..])),
            Err(SignatureError::BadHex)
        );
        assert_eq!(
            verify(SECRET, body, &format!("sha256={}", &hex[..62])),
            Err(SignatureError::WrongLength { len: 62 })
        );
        assert_eq!(
            verify(SECRET, body, &format!("sha256={hex}00")),
            Err(SignatureError::WrongLength { len: 66 })
        );
        assert_eq!(
            verify(b"another-secret", body, &good),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_header(SECRET, body, None),
            Err(SignatureError::Missing)
        );
        // Uppercase hex and surrounding whitespace carry no meaning.
        let upper = format!("  sha256={}\t", hex.to_ascii_uppercase());
        assert_eq!(verify(SECRET, body, &upper), Ok(()));
        assert_eq!(verify_header(SECRET, body, Some(&good)), Ok(()));
    }

    #[test]
    fn one_flipped_byte_fails() {
        let body = INBOUND_ESCAPED.as_bytes();
        let header = sign(SECRET, body);
        let mut altered = body.to_vec();
        altered[10] ^= 1;
        assert_eq!(
            verify(SECRET, &altered, &header),
            Err(SignatureError::Mismatch)
        );
    }

    proptest! {
        #[test]
        fn verify_never_panics(secret in proptest::collection::vec(any::<u8>(), 0..80),
                               body in proptest::collection::vec(any::<u8>(), 0..300),
                               header in ".{0,90}") {
            let _ = verify(&secret, &body, &header);
            let _ = verify(&secret, &body, &format!("sha256={header}"));
        }

        #[test]
        fn sign_then_verify_roundtrips(secret in proptest::collection::vec(any::<u8>(), 0..80),
                                       body in proptest::collection::vec(any::<u8>(), 0..300)) {
            let header = sign(&secret, &body);
            prop_assert_eq!(verify(&secret, &body, &header), Ok(()));
        }
    }
}
