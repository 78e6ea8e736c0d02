//! Bearer-token checks on every Graph request: a missing token is Graph error 104, a wrong one
//! 190 (spec/cloud-api.md §4). Meta also accepts the token as the `access_token` query
//! parameter, so the emulator does too.

use crate::wire::errors::MetaError;

/// Checks the `Authorization` header value or the `access_token` query value.
pub fn check(
    authorization: Option<&str>,
    query_token: Option<&str>,
    expected: &str,
) -> Result<(), MetaError> {
    let presented = match (authorization, query_token) {
        (Some(h), _) => {
            let h = h.trim();
            let scheme_len = h.find(' ').unwrap_or(h.len());
            let (scheme, rest) = h.split_at(scheme_len);
            if scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("oauth") {
                rest.trim()
            } else {
                h
            }
        }
        (None, Some(q)) => q,
        (None, None) => return Err(MetaError::no_token()),
    };
    if presented.is_empty() {
        return Err(MetaError::no_token());
    }
    if constant_time_eq(presented.as_bytes(), expected.as_bytes()) {
        Ok(())
    } else {
        Err(MetaError::invalid_token())
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens() {
        assert!(check(Some("Bearer EAAG1"), None, "EAAG1").is_ok());
        assert!(check(None, Some("EAAG1"), "EAAG1").is_ok());
        assert_eq!(
            check(Some("Bearer nope"), None, "EAAG1").unwrap_err().code,
            190
        );
        assert_eq!(check(None, None, "EAAG1").unwrap_err().code, 104);
        assert_eq!(check(Some("Bearer "), None, "EAAG1").unwrap_err().code, 104);
    }
}
