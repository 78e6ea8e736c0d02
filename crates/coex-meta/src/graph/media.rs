//! Media: upload (`POST /{phone_number_id}/media`, multipart), retrieve (`GET /{media_id}`),
//! delete, download, and the sizes and MIME types Meta accepts per kind.
//!
//! Checking size and type before uploading turns a late Meta error (131053, or a video that
//! never syncs to the phone app, coexistence.md §4) into an immediate, explainable refusal.
//! Limits are Meta's published figures; "MB" is read as MiB (2^20 bytes).

use serde::{Deserialize, Serialize};

use coex_core::MediaId;

use super::wire::{Extra, messaging_product, u64_lenient};

const MIB: u64 = 1024 * 1024;
const KIB: u64 = 1024;

/// Image: JPEG or PNG, 8-bit RGB/RGBA.
pub const IMAGE_MAX_BYTES: u64 = 5 * MIB;
/// Video: MP4 or 3GPP (H.264 video, AAC audio).
pub const VIDEO_MAX_BYTES: u64 = 16 * MIB;
/// Audio.
pub const AUDIO_MAX_BYTES: u64 = 16 * MIB;
/// Document.
pub const DOCUMENT_MAX_BYTES: u64 = 100 * MIB;
/// Static WebP sticker.
pub const STICKER_STATIC_MAX_BYTES: u64 = 100 * KIB;
/// Animated WebP sticker.
pub const STICKER_ANIMATED_MAX_BYTES: u64 = 500 * KIB;

pub const IMAGE_MIME_TYPES: &[&str] = &["image/jpeg", "image/png"];
pub const VIDEO_MIME_TYPES: &[&str] = &["video/mp4", "video/3gpp"];
/// `audio/ogg` only with the Opus codec.
pub const AUDIO_MIME_TYPES: &[&str] = &[
    "audio/aac",
    "audio/amr",
    "audio/mpeg",
    "audio/mp4",
    "audio/ogg",
];
pub const DOCUMENT_MIME_TYPES: &[&str] = &[
    "text/plain",
    "application/pdf",
    "application/msword",
    "application/vnd.ms-excel",
    "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
];
pub const STICKER_MIME_TYPES: &[&str] = &["image/webp"];

/// The five media kinds a message can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaKind {
    Image,
    Video,
    Audio,
    Document,
    Sticker,
}

impl MediaKind {
    pub const ALL: [MediaKind; 5] = [
        MediaKind::Image,
        MediaKind::Video,
        MediaKind::Audio,
        MediaKind::Document,
        MediaKind::Sticker,
    ];

    /// The message `type` for this kind.
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Image => "image",
            MediaKind::Video => "video",
            MediaKind::Audio => "audio",
            MediaKind::Document => "document",
            MediaKind::Sticker => "sticker",
        }
    }

    /// The largest file Meta accepts (animated stickers for [`MediaKind::Sticker`]).
    pub fn max_bytes(self) -> u64 {
        match self {
            MediaKind::Image => IMAGE_MAX_BYTES,
            MediaKind::Video => VIDEO_MAX_BYTES,
            MediaKind::Audio => AUDIO_MAX_BYTES,
            MediaKind::Document => DOCUMENT_MAX_BYTES,
            MediaKind::Sticker => STICKER_ANIMATED_MAX_BYTES,
        }
    }

    pub fn mime_types(self) -> &'static [&'static str] {
        match self {
            MediaKind::Image => IMAGE_MIME_TYPES,
            MediaKind::Video => VIDEO_MIME_TYPES,
            MediaKind::Audio => AUDIO_MIME_TYPES,
            MediaKind::Document => DOCUMENT_MIME_TYPES,
            MediaKind::Sticker => STICKER_MIME_TYPES,
        }
    }

    /// The kind a MIME type belongs to (`image/webp` is a sticker). Parameters such as
    /// `; codecs=opus` and case are ignored.
    pub fn for_mime(mime: &str) -> Option<MediaKind> {
        let m = essence(mime);
        MediaKind::ALL
            .into_iter()
            .find(|k| k.mime_types().iter().any(|t| *t == m))
    }

    /// Checks a file before upload. `animated` matters only for stickers.
    pub fn check(self, mime: &str, size: u64, animated: bool) -> Result<(), MediaCheckError> {
        let m = essence(mime);
        if !self.mime_types().contains(&m.as_str()) {
            return Err(MediaCheckError::UnsupportedType {
                kind: self,
                mime: m,
            });
        }
        let max = match self {
            MediaKind::Sticker if !animated => STICKER_STATIC_MAX_BYTES,
            k => k.max_bytes(),
        };
        if size > max {
            return Err(MediaCheckError::TooLarge {
                kind: self,
                size,
                max,
            });
        }
        if size == 0 {
            return Err(MediaCheckError::Empty);
        }
        Ok(())
    }
}

fn essence(mime: &str) -> String {
    mime.split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Why a file would be refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaCheckError {
    #[error("{} does not accept {mime}", kind.as_str())]
    UnsupportedType { kind: MediaKind, mime: String },
    #[error("{} is {size} bytes; at most {max} are allowed", kind.as_str())]
    TooLarge {
        kind: MediaKind,
        size: u64,
        max: u64,
    },
    #[error("the file is empty")]
    Empty,
}

/// A file to upload.
#[derive(Clone, PartialEq, Eq)]
pub struct MediaUpload {
    pub file_name: String,
    pub mime_type: String,
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for MediaUpload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The bytes can be megabytes; their length is what a log needs.
        f.debug_struct("MediaUpload")
            .field("file_name", &self.file_name)
            .field("mime_type", &self.mime_type)
            .field("len", &self.bytes.len())
            .finish()
    }
}

/// The answer to an upload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UploadMediaResponse {
    pub id: MediaId,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `GET /{media_id}`: where to download the file (the URL expires after a few minutes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MediaInfo {
    #[serde(default = "messaging_product")]
    pub messaging_product: String,
    pub url: String,
    pub mime_type: String,
    pub sha256: String,
    /// A number in real responses, a string in Meta's docs; both are read.
    #[serde(deserialize_with = "u64_lenient")]
    pub file_size: u64,
    pub id: MediaId,
    #[serde(flatten)]
    pub extra: Extra,
}

/// A downloaded file.
#[derive(Clone, PartialEq, Eq)]
pub struct DownloadedMedia {
    pub bytes: Vec<u8>,
    pub content_type: Option<String>,
}

impl std::fmt::Debug for DownloadedMedia {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DownloadedMedia")
            .field("len", &self.bytes.len())
            .field("content_type", &self.content_type)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn retrieve_and_upload_responses() {
        let raw = r#"{ "messaging_product": "whatsapp", "url": "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1",
          "mime_type": "image/jpeg", "sha256": "3f9d94d399fa61c191bc1d4ca71375a035cd9b9f5b1128e1f0963a415c16b0cc",
          "file_size": 303833, "id": "24230790383178626" }"#;
        let m: MediaInfo = serde_json::from_str(raw).unwrap();
        assert_eq!(m.file_size, 303833);
        assert_eq!(
            serde_json::to_value(&m).unwrap(),
            serde_json::from_str::<Value>(raw).unwrap()
        );
        let m: MediaInfo = serde_json::from_str(&raw.replace("303833", "\"303833\"")).unwrap();
        assert_eq!(m.file_size, 303833);
        let u: UploadMediaResponse = serde_json::from_str(r#"{"id":"1479537139650973"}"#).unwrap();
        assert_eq!(u.id.as_str(), "1479537139650973");
    }

    #[test]
    fn limits_and_types() {
        assert_eq!(MediaKind::Image.check("image/jpeg", 5 * MIB, false), Ok(()));
        assert!(matches!(
            MediaKind::Image.check("image/jpeg", 5 * MIB + 1, false),
            Err(MediaCheckError::TooLarge { max, .. }) if max == IMAGE_MAX_BYTES
        ));
        assert!(matches!(
            MediaKind::Image.check("image/gif", 10, false),
            Err(MediaCheckError::UnsupportedType { .. })
        ));
        assert_eq!(
            MediaKind::Audio.check("audio/ogg; codecs=opus", 1000, false),
            Ok(())
        );
        assert_eq!(MediaKind::Video.check("VIDEO/MP4", 16 * MIB, false), Ok(()));
        assert!(
            MediaKind::Video
                .check("video/mp4", 16 * MIB + 1, false)
                .is_err()
        );
        assert!(
            MediaKind::Sticker
                .check("image/webp", 200 * KIB, false)
                .is_err()
        );
        assert_eq!(
            MediaKind::Sticker.check("image/webp", 200 * KIB, true),
            Ok(())
        );
        assert!(
            MediaKind::Sticker
                .check("image/webp", 501 * KIB, true)
                .is_err()
        );
        assert_eq!(
            MediaKind::Document.check("application/pdf", 100 * MIB, false),
            Ok(())
        );
        assert_eq!(
            MediaKind::Document.check("application/pdf", 0, false),
            Err(MediaCheckError::Empty)
        );
        assert_eq!(MediaKind::for_mime("image/webp"), Some(MediaKind::Sticker));
        assert_eq!(MediaKind::for_mime("audio/mpeg"), Some(MediaKind::Audio));
        assert_eq!(MediaKind::for_mime("application/zip"), None);
        assert_eq!(MediaKind::Audio.max_bytes(), 16 * MIB);
    }

    #[test]
    fn debug_hides_bytes() {
        let u = MediaUpload {
            file_name: "a.jpg".into(),
            mime_type: "image/jpeg".into(),
            bytes: vec![0; 10],
        };
        assert!(format!("{u:?}").contains("len: 10"));
    }
}
