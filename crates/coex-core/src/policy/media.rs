//! Per-type media limits checked before a send (spec/cloud-api.md §3.1, spec/coexistence.md §4).
//!
//! These are Meta's published figures, "MB" read as MiB, the same table as
//! `coex_meta::graph::media` (core cannot depend on meta; keep the two in step). Video over
//! 16 MB is the known coexistence failure: it does not sync to the phone app.

use serde::{Deserialize, Serialize};

use super::Refusal;
use crate::model::{NumberKind, named_enum};

const MIB: u64 = 1024 * 1024;
const KIB: u64 = 1024;

named_enum! {
    /// The five kinds of media a message can carry.
    pub enum MediaKind as "media kind" {
        Image = "image",
        Video = "video",
        Audio = "audio",
        Document = "document",
        Sticker = "sticker",
    }
}

impl MediaKind {
    /// The largest file Meta accepts; for stickers, `animated` picks 500 KB over 100 KB.
    pub fn max_bytes(self, animated: bool) -> u64 {
        match self {
            Self::Image => 5 * MIB,
            Self::Video | Self::Audio => 16 * MIB,
            Self::Document => 100 * MIB,
            Self::Sticker if animated => 500 * KIB,
            Self::Sticker => 100 * KIB,
        }
    }

    /// The MIME types Meta accepts (`audio/ogg` only with the Opus codec).
    pub fn mime_types(self) -> &'static [&'static str] {
        match self {
            Self::Image => &["image/jpeg", "image/png"],
            Self::Video => &["video/mp4", "video/3gpp"],
            Self::Audio => &[
                "audio/aac",
                "audio/amr",
                "audio/mpeg",
                "audio/mp4",
                "audio/ogg",
            ],
            Self::Document => &[
                "text/plain",
                "application/pdf",
                "application/msword",
                "application/vnd.ms-excel",
                "application/vnd.ms-powerpoint",
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            ],
            Self::Sticker => &["image/webp"],
        }
    }
}

/// What the sender knows about one media asset of a send.
///
/// A media id uploaded through us has a known type and size; a `link` may have neither until
/// probed. What is unknown is not checked (Meta then has the last word).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaFacts {
    pub kind: MediaKind,
    #[serde(default)]
    pub mime_type: Option<String>,
    #[serde(default)]
    pub size_bytes: Option<u64>,
    /// Animated WebP (stickers only).
    #[serde(default)]
    pub animated: bool,
}

impl MediaFacts {
    /// A file of known type and size.
    pub fn known(kind: MediaKind, mime_type: impl Into<String>, size_bytes: u64) -> Self {
        Self {
            kind,
            mime_type: Some(mime_type.into()),
            size_bytes: Some(size_bytes),
            animated: false,
        }
    }

    /// Checks type, then size, against Meta's limits for the kind.
    pub fn check(&self, number: NumberKind) -> Result<(), Refusal> {
        if let Some(mime) = &self.mime_type {
            let essence = mime
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            if !self.kind.mime_types().contains(&essence.as_str()) {
                return Err(Refusal::MediaTypeUnsupported {
                    kind: self.kind,
                    mime: essence,
                });
            }
        }
        match self.size_bytes {
            Some(0) => Err(Refusal::MediaEmpty { kind: self.kind }),
            Some(size) if size > self.kind.max_bytes(self.animated) => {
                Err(Refusal::MediaTooLarge {
                    kind: self.kind,
                    size,
                    max: self.kind.max_bytes(self.animated),
                    coexistence: number == NumberKind::Coexistence,
                })
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(kind: MediaKind, mime: &str, size: u64) -> Result<(), Refusal> {
        MediaFacts::known(kind, mime, size).check(NumberKind::Coexistence)
    }

    #[test]
    fn size_limits_per_kind() {
        use MediaKind::*;
        for (kind, mime, max) in [
            (Image, "image/jpeg", 5 * MIB),
            (Video, "video/mp4", 16 * MIB),
            (Audio, "audio/mpeg", 16 * MIB),
            (Document, "application/pdf", 100 * MIB),
            (Sticker, "image/webp", 100 * KIB),
        ] {
            assert_eq!(check(kind, mime, max), Ok(()), "{kind} at the limit");
            let err = check(kind, mime, max + 1).unwrap_err();
            assert_eq!(err.code(), "media_too_large", "{kind}");
        }
        let animated = MediaFacts {
            animated: true,
            ..MediaFacts::known(Sticker, "image/webp", 500 * KIB)
        };
        assert_eq!(animated.check(NumberKind::CloudApi), Ok(()));
        let too_big = MediaFacts {
            size_bytes: Some(500 * KIB + 1),
            ..animated
        };
        assert!(too_big.check(NumberKind::CloudApi).is_err());
    }

    #[test]
    fn video_over_16mb_names_the_sync_failure() {
        let err = check(MediaKind::Video, "video/mp4", 16 * MIB + 1).unwrap_err();
        assert!(err.to_string().contains("does not sync"), "{err}");
        let err = MediaFacts::known(MediaKind::Video, "video/mp4", 16 * MIB + 1)
            .check(NumberKind::CloudApi)
            .unwrap_err();
        assert!(!err.to_string().contains("sync"), "{err}");
    }

    #[test]
    fn mime_types_and_unknowns() {
        assert_eq!(
            check(MediaKind::Audio, "audio/ogg; codecs=opus", 10),
            Ok(())
        );
        assert_eq!(check(MediaKind::Image, "IMAGE/PNG", 10), Ok(()));
        let err = check(MediaKind::Image, "image/gif", 10).unwrap_err();
        assert_eq!(err.code(), "media_type_unsupported");
        assert_eq!(
            check(MediaKind::Image, "image/png", 0).unwrap_err().code(),
            "media_empty"
        );
        // A link not yet probed: nothing to check.
        let unknown = MediaFacts {
            kind: MediaKind::Video,
            mime_type: None,
            size_bytes: None,
            animated: false,
        };
        assert_eq!(unknown.check(NumberKind::Coexistence), Ok(()));
    }
}
