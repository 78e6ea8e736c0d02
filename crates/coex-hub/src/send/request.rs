//! From a Graph API send body to what the policy decides on and what the inbox stores.
//!
//! Disabled features are looked for in the raw JSON, before typing: a `live_location` or
//! `revoke` body does not even parse into a known message type, and flags such as
//! `view_once` live in keys the typed model keeps only as extras. The keys are the ones the
//! emulator recognises (`coex-sim`'s `rules::features`), plus broadcast lists and the
//! Marketing Messages Lite API, which reach us through the request wrapper.

use coex_core::model::{MediaRef, MessageContent as StoredContent, MessageKind, RawJson};
use coex_core::policy::{
    Feature, FreeFormKind, GivenParams, MediaFacts, MediaKind, SendContent, TemplateUse,
};
use coex_meta::graph::messages::ParameterType;
use coex_meta::graph::{MessageContent, SendComponentType, SendMessageRequest, TemplateContent};
use serde::Deserialize;
use serde_json::Value;

/// Top-level keys that ask for disappearing messages.
const DISAPPEARING_KEYS: [&str; 4] = [
    "disappearing",
    "disappearing_messages",
    "ephemeral",
    "ephemeral_expiration",
];

/// What the client may tell us about a media asset we cannot see (a `link`, an id uploaded
/// elsewhere), so size and type are checked before Meta sees the request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct MediaHint {
    #[serde(default)]
    pub mime_type: Option<String>,
    #[serde(default)]
    pub size_bytes: Option<u64>,
    #[serde(default)]
    pub animated: bool,
}

/// The features a body asks for that a number may not support.
pub fn features(body: &Value, marketing_messages_lite: bool) -> Vec<Feature> {
    let mut out = Vec::new();
    let kind = body.get("type").and_then(Value::as_str).unwrap_or("text");
    match kind {
        "live_location" => out.push(Feature::LiveLocation),
        "edit" => out.push(Feature::EditFromApi),
        "revoke" => out.push(Feature::RevokeFromApi),
        _ => {}
    }
    if DISAPPEARING_KEYS.iter().any(|k| body.get(k).is_some()) {
        out.push(Feature::Disappearing);
    }
    if body
        .get(kind)
        .and_then(|c| c.get("view_once"))
        .is_some_and(|v| v != &Value::Bool(false))
    {
        out.push(Feature::ViewOnce);
    }
    let broadcast_type = body
        .get("recipient_type")
        .and_then(Value::as_str)
        .is_some_and(|t| t.eq_ignore_ascii_case("broadcast"));
    let broadcast_to = body
        .get("to")
        .and_then(Value::as_str)
        .is_some_and(|t| t.ends_with("@broadcast"));
    if broadcast_type || broadcast_to || body.get("broadcast_list").is_some() {
        out.push(Feature::BroadcastList);
    }
    if marketing_messages_lite {
        out.push(Feature::MarketingMessagesLite);
    }
    out
}

fn media_kind(content: &MessageContent) -> Option<MediaKind> {
    Some(match content {
        MessageContent::Image(_) => MediaKind::Image,
        MessageContent::Video(_) => MediaKind::Video,
        MessageContent::Audio(_) => MediaKind::Audio,
        MessageContent::Document(_) => MediaKind::Document,
        MessageContent::Sticker(_) => MediaKind::Sticker,
        _ => return None,
    })
}

fn media_facts(kind: MediaKind, hint: Option<&MediaHint>) -> MediaFacts {
    MediaFacts {
        kind,
        mime_type: hint.and_then(|h| h.mime_type.clone()),
        size_bytes: hint.and_then(|h| h.size_bytes),
        animated: hint.is_some_and(|h| h.animated),
    }
}

/// The policy's view of the content.
pub fn send_content(req: &SendMessageRequest, hint: Option<&MediaHint>) -> SendContent {
    if let Some(kind) = media_kind(&req.content) {
        return SendContent::Media(media_facts(kind, hint));
    }
    let kind = match &req.content {
        MessageContent::Template(t) => return SendContent::Template(template_use(t, hint)),
        MessageContent::Text(_) => FreeFormKind::Text,
        MessageContent::Interactive(_) => FreeFormKind::Interactive,
        MessageContent::Reaction(_) => FreeFormKind::Reaction,
        MessageContent::Location(_) => FreeFormKind::Location,
        MessageContent::Contacts(_) => FreeFormKind::Contacts,
        _ => FreeFormKind::Other,
    };
    SendContent::FreeForm { kind }
}

/// A template send as the policy checks it: the values per component, and the header's
/// media (with the client's hint about it).
pub fn template_use(t: &TemplateContent, hint: Option<&MediaHint>) -> TemplateUse {
    let mut params = GivenParams::default();
    let mut header_media = None;
    for c in &t.components {
        let names = || {
            c.parameters
                .iter()
                .map(|p| p.parameter_name.clone())
                .collect::<Vec<_>>()
        };
        match c.kind {
            SendComponentType::Header => {
                params.header = names();
                header_media = c.parameters.iter().find_map(|p| {
                    let kind = match p.kind {
                        ParameterType::Image => MediaKind::Image,
                        ParameterType::Video => MediaKind::Video,
                        ParameterType::Document => MediaKind::Document,
                        _ => return None,
                    };
                    Some(media_facts(kind, hint))
                });
            }
            SendComponentType::Body => params.body = names(),
            SendComponentType::Button => {
                params
                    .buttons
                    .insert(c.index.unwrap_or(0), c.parameters.len());
            }
            _ => {}
        }
    }
    TemplateUse {
        name: t.name.clone(),
        language: t.language.code.clone(),
        params,
        header_media,
    }
}

/// The message as the inbox will store it once Meta accepts it: the text (or caption, or
/// the template's name), the media id, the reply target, and the type's object as sent.
pub fn stored_content(req: &SendMessageRequest) -> StoredContent {
    let (kind, object) = match serde_json::to_value(req) {
        Ok(v) => {
            let kind = v
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("text")
                .to_owned();
            let object = v.get(&kind).cloned();
            (kind, object)
        }
        Err(_) => (req.content.kind().to_owned(), None),
    };
    let body = match &req.content {
        MessageContent::Text(t) => Some(t.body.clone()),
        MessageContent::Template(t) => Some(t.name.clone()),
        MessageContent::Reaction(r) => Some(r.emoji.clone()),
        other => other.media().and_then(|m| m.caption.clone()),
    };
    let media = req.content.media().and_then(|m| {
        let r = MediaRef {
            id: m.id.clone(),
            mime_type: None,
            sha256: None,
            filename: m.filename.clone(),
        };
        (r != MediaRef::default()).then_some(r)
    });
    StoredContent {
        kind: MessageKind::from_meta(&kind),
        body,
        media,
        reply_to: req.context.as_ref().map(|c| c.message_id.clone()),
        payload: object.map(|o| RawJson::new(o.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn finds_what_coexistence_disables() {
        let cases = [
            (
                json!({"type": "live_location", "live_location": {}}),
                Feature::LiveLocation,
            ),
            (json!({"type": "edit", "edit": {}}), Feature::EditFromApi),
            (
                json!({"type": "revoke", "revoke": {}}),
                Feature::RevokeFromApi,
            ),
            (
                json!({"type": "image", "image": {"id": "1", "view_once": true}}),
                Feature::ViewOnce,
            ),
            (
                json!({"type": "text", "text": {"body": "x"}, "ephemeral": {"ttl": 60}}),
                Feature::Disappearing,
            ),
            (
                json!({"type": "text", "recipient_type": "broadcast", "text": {"body": "x"}}),
                Feature::BroadcastList,
            ),
        ];
        for (body, feature) in cases {
            assert_eq!(features(&body, false), vec![feature], "{body}");
        }
        let plain = json!({"type": "image", "image": {"id": "1", "view_once": false}});
        assert!(features(&plain, false).is_empty());
        assert_eq!(features(&plain, true), vec![Feature::MarketingMessagesLite]);
    }

    #[test]
    fn template_parameters_per_component() {
        let body = json!({
            "messaging_product": "whatsapp", "to": "+16505551234", "type": "template",
            "template": {"name": "spring_sale", "language": {"code": "en_US"}, "components": [
                {"type": "header", "parameters": [{"type": "image", "image": {"link": "https://x/y.jpg"}}]},
                {"type": "body", "parameters": [{"type": "text", "text": "Ana", "parameter_name": "name"}]},
                {"type": "button", "sub_type": "url", "index": "1", "parameters": [{"type": "text", "text": "A1"}]}
            ]}
        });
        let req: SendMessageRequest = serde_json::from_value(body).unwrap();
        let hint = MediaHint {
            size_bytes: Some(10),
            ..MediaHint::default()
        };
        let SendContent::Template(t) = send_content(&req, Some(&hint)) else {
            panic!("a template");
        };
        assert_eq!(t.name, "spring_sale");
        assert_eq!(t.language, "en_US");
        assert_eq!(t.params.header, vec![None]);
        assert_eq!(t.params.body, vec![Some("name".to_owned())]);
        assert_eq!(t.params.buttons.get(&1), Some(&1));
        assert_eq!(t.header_media.unwrap().size_bytes, Some(10));
        let stored = stored_content(&req);
        assert_eq!(stored.kind, MessageKind::Template);
        assert_eq!(stored.body.as_deref(), Some("spring_sale"));
        assert!(stored.payload.unwrap().as_str().contains("spring_sale"));
    }

    #[test]
    fn media_and_text() {
        let req: SendMessageRequest = serde_json::from_value(json!({
            "to": "+16505551234", "type": "video", "video": {"id": "123", "caption": "look"},
            "context": {"message_id": "wamid.X"}
        }))
        .unwrap();
        let hint = MediaHint {
            mime_type: Some("video/mp4".into()),
            size_bytes: Some(20 * 1024 * 1024),
            animated: false,
        };
        assert_eq!(
            send_content(&req, Some(&hint)),
            SendContent::Media(MediaFacts {
                kind: MediaKind::Video,
                mime_type: Some("video/mp4".into()),
                size_bytes: Some(20 * 1024 * 1024),
                animated: false,
            })
        );
        let stored = stored_content(&req);
        assert_eq!(stored.body.as_deref(), Some("look"));
        assert_eq!(stored.media.unwrap().id.unwrap().as_str(), "123");
        assert_eq!(stored.reply_to.unwrap().as_str(), "wamid.X");
        let text: SendMessageRequest =
            serde_json::from_value(json!({"to": "+16505551234", "text": {"body": "hi"}})).unwrap();
        assert_eq!(
            send_content(&text, None),
            SendContent::FreeForm {
                kind: FreeFormKind::Text
            }
        );
    }
}
