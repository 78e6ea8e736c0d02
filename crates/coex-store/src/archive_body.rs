//! How raw webhook bodies are kept in `webhook_archive`: LZ4-compressed when that pays.
//!
//! Webhook JSON repeats its keys and envelopes, so a history chunk of 1-3 MB shrinks several
//! times over. The single SQLite writer then has that much less to write, fsync and
//! checkpoint per commit, and PostgreSQL skips its own (slower) TOAST compression. Bodies are
//! packed by the request task that received them, not by the writer, and unpacked by whoever
//! reads the archive: callers of the store only ever see the bytes that arrived.

use coex_core::model::{BodyEncoding, RawWebhook, Timestamp};

use crate::{Result, StoreError};

/// Bodies shorter than this are kept as they are: a status webhook of a few hundred bytes
/// saves little and the row's own overhead dominates.
const MIN_PACKED_LEN: usize = 1024;

/// The largest body a packed row may claim to hold. The webhook endpoint refuses bodies over
/// 3 MiB, so a bigger claim can only be a damaged row; it is refused before allocating.
const MAX_UNPACKED_LEN: usize = 64 * 1024 * 1024;

/// A webhook body ready for the archive: compressed when that saves at least an eighth.
pub fn pack(body: &[u8], signature_ok: bool, received_at: Timestamp) -> RawWebhook {
    let packed = (body.len() >= MIN_PACKED_LEN)
        .then(|| lz4_flex::block::compress_prepend_size(body))
        .filter(|packed| packed.len() <= body.len() - body.len() / 8);
    let (body, encoding) = match packed {
        Some(packed) => (packed, BodyEncoding::Lz4),
        None => (body.to_vec(), BodyEncoding::Identity),
    };
    RawWebhook {
        body,
        encoding,
        signature_ok,
        received_at,
    }
}

/// The body as it arrived, from an archive row's bytes and encoding.
pub(crate) fn unpack(stored: Vec<u8>, encoding: BodyEncoding) -> Result<Vec<u8>> {
    match encoding {
        BodyEncoding::Identity => Ok(stored),
        BodyEncoding::Lz4 => {
            let damaged = |why: String| StoreError::Corrupt(format!("archived body: {why}"));
            let (len, data) = stored
                .split_first_chunk::<4>()
                .ok_or_else(|| damaged("shorter than its length prefix".into()))?;
            let len = u32::from_le_bytes(*len) as usize;
            if len > MAX_UNPACKED_LEN {
                return Err(damaged(format!("claims {len} bytes")));
            }
            lz4_flex::block::decompress(data, len).map_err(|e| damaged(e.to_string()))
        }
    }
}
