//! The media store behind `POST /{phone_number_id}/media`, `GET /{media_id}` and the download
//! URLs, which point back at the emulator (Meta's point at `lookaside.fbsbx.com` and need the
//! same bearer token).

use std::collections::HashMap;

use bytes::Bytes;
use serde::Serialize;
use sha2::{Digest, Sha256};

use coex_core::{MediaId, PhoneNumberId};

use crate::clock::SimTime;

/// One stored media asset.
#[derive(Debug, Clone, Serialize)]
pub struct MediaItem {
    pub id: MediaId,
    pub mime_type: String,
    pub sha256: String,
    pub file_size: usize,
    #[serde(skip)]
    pub bytes: Bytes,
    /// The number that uploaded or received it.
    pub owner: PhoneNumberId,
    pub created_at: SimTime,
    pub filename: Option<String>,
}

/// Every media asset, by id.
#[derive(Debug, Default)]
pub struct MediaStore {
    items: HashMap<MediaId, MediaItem>,
}

impl MediaStore {
    pub fn insert(
        &mut self,
        id: MediaId,
        owner: PhoneNumberId,
        mime_type: &str,
        bytes: Bytes,
        filename: Option<String>,
        now: SimTime,
    ) -> &MediaItem {
        let sha256 = hex::encode(Sha256::digest(&bytes));
        let item = MediaItem {
            id: id.clone(),
            mime_type: mime_type.to_owned(),
            sha256,
            file_size: bytes.len(),
            bytes,
            owner,
            created_at: now,
            filename,
        };
        self.items.entry(id).insert_entry(item).into_mut()
    }

    pub fn get(&self, id: &MediaId) -> Option<&MediaItem> {
        self.items.get(id)
    }

    pub fn remove(&mut self, id: &MediaId) -> bool {
        self.items.remove(id).is_some()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// Synthetic content for a media kind a customer or the app "sends" (a few bytes with the
/// right magic number, so clients that sniff types are satisfied).
pub fn synthetic(kind: &str, seed: &str) -> (&'static str, Bytes) {
    let (mime, magic): (&str, &[u8]) = match kind {
        "image" => ("image/jpeg", &[0xFF, 0xD8, 0xFF, 0xE0]),
        "sticker" => ("image/webp", b"RIFF\0\0\0\0WEBP"),
        "audio" => ("audio/ogg", b"OggS"),
        "video" => ("video/mp4", b"\0\0\0\x18ftypmp42"),
        _ => ("application/pdf", b"%PDF-1.4\n"),
    };
    let mut v = magic.to_vec();
    v.extend_from_slice(format!("coex-sim {kind} {seed}").as_bytes());
    (mime, Bytes::from(v))
}
