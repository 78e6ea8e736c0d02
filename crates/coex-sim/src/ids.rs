//! Identifiers the emulator hands out, shaped like Meta's: numeric Graph ids (WABAs, phone
//! numbers, media, templates), `wamid.` message ids (base64 of a small binary record, as
//! Meta's are), BSUIDs (`CC.<digits>`, spec/cloud-api.md §10.1), `fbtrace_id`s and sync
//! `request_id`s. All come from one seeded RNG so a run with a given seed is reproducible.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use coex_core::{Bsuid, MediaId, Wamid};

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding (Meta's wamids use this alphabet).
pub fn base64(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let sextet = |shift: u32| char::from(B64[((n >> shift) & 63) as usize]);
        out.push(sextet(18));
        out.push(sextet(12));
        out.push(if chunk.len() > 1 { sextet(6) } else { '=' });
        out.push(if chunk.len() > 2 { sextet(0) } else { '=' });
    }
    out
}

/// The emulator's id factory.
#[derive(Debug)]
pub struct IdGen {
    rng: StdRng,
}

impl IdGen {
    pub fn new(seed: u64) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// `len` decimal digits, not starting with 0 (Graph object ids).
    pub fn digits(&mut self, len: usize) -> String {
        let mut s = String::with_capacity(len);
        s.push(char::from(b'1' + self.rng.gen_range(0..9u8)));
        for _ in 1..len {
            s.push(char::from(b'0' + self.rng.gen_range(0..10u8)));
        }
        s
    }

    /// A message id for a message between the business and `peer` (digits or a BSUID).
    pub fn wamid(&mut self, peer: &str) -> Wamid {
        // Meta's wamids are base64 of a small record holding the peer and a random message
        // key; mimic that so ids look (and vary) like real ones.
        let mut raw = Vec::with_capacity(48);
        raw.extend_from_slice(&[0x1c, 0x18, u8::try_from(peer.len().min(255)).unwrap_or(255)]);
        raw.extend_from_slice(peer.as_bytes());
        raw.extend_from_slice(&[0x15, 0x02, 0x00, 0x12, 0x18, 0x14]);
        for _ in 0..20 {
            let hex = b"0123456789ABCDEF";
            raw.push(hex[self.rng.gen_range(0..16)]);
        }
        raw.push(0x00);
        // The alphabet is non-empty ASCII, so parsing cannot fail; fall back to a plain id
        // rather than panic all the same.
        let id = format!("wamid.{}", base64(&raw));
        Wamid::parse(id).unwrap_or_else(|_| self.fallback_wamid())
    }

    fn fallback_wamid(&mut self) -> Wamid {
        let digits = self.digits(24);
        Wamid::parse(format!("wamid.{digits}")).unwrap_or_else(|_| self.fallback_wamid())
    }

    /// A media id.
    pub fn media_id(&mut self) -> MediaId {
        let digits = self.digits(16);
        MediaId::parse(digits).unwrap_or_else(|_| self.media_id())
    }

    /// A business-scoped user id for `country` (two uppercase letters).
    pub fn bsuid(&mut self, country: &str) -> Bsuid {
        let digits = self.digits(20);
        Bsuid::parse(format!("{country}.{digits}"))
            .or_else(|_| Bsuid::parse(format!("US.{digits}")))
            .unwrap_or_else(|_| self.bsuid("US"))
    }

    /// A parent BSUID (`CC.ENT.<digits>`).
    pub fn parent_bsuid(&mut self, country: &str) -> Bsuid {
        let digits = self.digits(20);
        Bsuid::parse(format!("{country}.ENT.{digits}"))
            .or_else(|_| Bsuid::parse(format!("US.ENT.{digits}")))
            .unwrap_or_else(|_| self.parent_bsuid("US"))
    }

    /// An `fbtrace_id` for an error response.
    pub fn fbtrace_id(&mut self) -> String {
        let bytes: Vec<u8> = (0..12).map(|_| self.rng.r#gen()).collect();
        base64(&bytes)
            .trim_end_matches('=')
            .replace('+', "-")
            .replace('/', "_")
    }

    /// A sync `request_id`.
    pub fn request_id(&mut self) -> String {
        let bytes: Vec<u8> = (0..16).map(|_| self.rng.r#gen()).collect();
        hex::encode(bytes)
    }

    /// Hex of a SHA-256-sized random value (a conversation id, a fake hash).
    pub fn hex32(&mut self) -> String {
        let bytes: Vec<u8> = (0..16).map(|_| self.rng.r#gen()).collect();
        hex::encode(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_standard() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn ids_have_meta_shapes_and_are_reproducible() {
        let mut a = IdGen::new(7);
        let mut b = IdGen::new(7);
        let w = a.wamid("16505551234");
        assert!(w.as_str().starts_with("wamid.HBgL"));
        assert_eq!(w, b.wamid("16505551234"));
        let bsuid = a.bsuid("US");
        assert!(bsuid.as_str().starts_with("US."));
        assert!(!bsuid.is_parent());
        assert!(a.parent_bsuid("BR").is_parent());
        assert_eq!(a.digits(15).len(), 15);
    }
}
