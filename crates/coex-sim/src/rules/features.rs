//! Features that Coexistence disables (spec/coexistence.md §3, spec/cloud-api.md §6.1), refused
//! when an API send asks for them: view-once media, disappearing messages, live location, and
//! message edit and revoke through the API (the business edits and revokes from the phone
//! app; those arrive as echoes). Marketing Messages Lite is refused in the Graph layer.
//!
//! [INF] Meta documents no dedicated code for these; the emulator answers 131051 (unsupported
//! message type) for a type and 100 (invalid parameter) for a flag, with `details` that name
//! the feature and the reason.

use serde_json::Value;

use crate::wire::errors::MetaError;

/// Keys that ask for disappearing messages, wherever they appear at the top level.
const DISAPPEARING_KEYS: [&str; 4] = [
    "disappearing",
    "disappearing_messages",
    "ephemeral",
    "ephemeral_expiration",
];

/// Checks a `POST /{phone_number_id}/messages` body against the features Coexistence disables.
pub fn check_send(body: &Value, coexistence: bool) -> Result<(), MetaError> {
    let why = if coexistence {
        " It is disabled for phone numbers in use with the WhatsApp Business app (Coexistence)."
    } else {
        ""
    };
    let kind = body.get("type").and_then(Value::as_str).unwrap_or("text");
    match kind {
        "live_location" => {
            return Err(MetaError::unsupported_type(format!(
                "Live location sharing is not supported.{why}"
            )));
        }
        "edit" | "revoke" => {
            return Err(MetaError::unsupported_type(format!(
                "Message {kind} through the Cloud API is not supported; the business can {kind} messages from the WhatsApp Business app, which reports them as smb_message_echoes.{why}"
            )));
        }
        _ => {}
    }
    for key in DISAPPEARING_KEYS {
        if body.get(key).is_some() {
            return Err(MetaError::invalid_param(format!(
                "Disappearing messages ({key}) are not supported.{why}"
            )));
        }
    }
    if let Some(content) = body.get(kind)
        && content
            .get("view_once")
            .is_some_and(|v| v != &Value::Bool(false))
    {
        return Err(MetaError::invalid_param(format!(
            "View once media (view_once) is not supported.{why}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn refuses_what_coexistence_disables() {
        let cases = [
            (
                json!({ "type": "image", "image": { "id": "1", "view_once": true } }),
                100,
            ),
            (
                json!({ "type": "text", "text": { "body": "x" }, "disappearing": { "ttl": 86400 } }),
                100,
            ),
            (
                json!({ "type": "live_location", "live_location": {} }),
                131051,
            ),
            (json!({ "type": "edit", "edit": {} }), 131051),
            (json!({ "type": "revoke", "revoke": {} }), 131051),
        ];
        for (body, code) in cases {
            let err = check_send(&body, true).unwrap_err();
            assert_eq!(err.code, code, "{body}");
            assert!(err.details.contains("Coexistence"));
        }
        assert!(check_send(&json!({ "type": "text", "text": { "body": "hi" } }), true).is_ok());
        assert!(
            check_send(
                &json!({ "type": "image", "image": { "id": "1", "view_once": false } }),
                true
            )
            .is_ok()
        );
    }
}
