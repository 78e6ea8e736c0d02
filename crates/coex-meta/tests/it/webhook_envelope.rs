//! The envelope level: JSON and shape errors, leniency, malformed and missing values, and
//! building notifications the way the emulator does.

use coex_core::{PhoneNumberId, WabaId, Wamid};
use coex_meta::webhook::{
    ChangeValue, Contact, Entry, Message, MessageType, MessagesValue, Metadata, Notification,
    ParseError, Profile, Status, StatusKind, Text, Timestamp, WirePhone, parse_notification,
};
use serde_json::{Value, json};

use crate::support::{bytes, load};

/// Meta's own inbound-text example, with the comma it is missing after `"type": "text"`.
const META_TYPO: &str = r#"{
  "object": "whatsapp_business_account",
  "entry": [
    {
      "id": "102290129340398",
      "changes": [
        {
          "value": {
            "messaging_product": "whatsapp",
            "metadata": {
              "display_phone_number": "15550783881",
              "phone_number_id": "106540352242922"
            },
            "messages": [
              {
                "from": "16505551234",
                "id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=",
                "timestamp": "1749416383",
                "type": "text"
                "text": {
                  "body": "Does it come in another color?"
                }
              }
            ]
          },
          "field": "messages"
        }
      ]
    }
  ]
}"#;

#[test]
fn json_errors_carry_line_and_column() {
    let err = parse_notification(META_TYPO.as_bytes()).unwrap_err();
    assert_eq!(err.line(), Some(20), "{err}");
    assert!(err.column().unwrap() > 0);
    assert!(matches!(err, ParseError::Json { .. }));
    assert!(err.to_string().contains("line 20"));

    let err = parse_notification(b"").unwrap_err();
    assert_eq!(err.line(), Some(1));
    let err = parse_notification(b"{\"entry\": [\xff]}").unwrap_err();
    assert!(matches!(err, ParseError::Json { .. }));
    let err = parse_notification(b"{\"entry\": []} trailing").unwrap_err();
    assert!(matches!(err, ParseError::Json { .. }));
}

#[test]
fn shape_errors() {
    for body in [
        "[]",
        "42",
        "{}",
        r#"{"entry": 5}"#,
        r#"{"entry": [1]}"#,
        r#"{"entry": [{"id": "1"}]}"#,
        r#"{"entry": [{"id": "1", "changes": {}}]}"#,
        r#"{"entry": [{"id": "1", "changes": ["x"]}]}"#,
    ] {
        let err = parse_notification(body.as_bytes()).unwrap_err();
        assert!(matches!(err, ParseError::Shape(_)), "{body}: {err}");
        assert_eq!(err.line(), None);
    }
}

#[test]
fn envelope_keeps_what_it_cannot_type() {
    let body = json!({
        "object": 7,
        "entry": [{ "id": 5, "time": {"t": 1}, "changes": [] },
                  { "id": "", "changes": [] }],
        "x": true
    });
    let n = parse_notification(body.to_string().as_bytes()).unwrap();
    assert!(n.object.is_none());
    assert!(n.entry[0].id.is_none() && n.entry[0].time.is_none());
    assert!(n.entry[1].id.is_none());
    assert_eq!(serde_json::to_value(&n).unwrap(), body);
    assert_eq!(n.unknowns().len(), 5);
}

#[test]
fn one_bad_change_does_not_lose_the_batch() {
    let n = load("batch_one_malformed.json");
    let values: Vec<_> = n.entry[0].changes.iter().map(|c| &c.value).collect();
    assert!(matches!(values[0], ChangeValue::Messages(_)));
    let ChangeValue::Malformed { field, error, raw } = values[1] else {
        panic!("{:?}", values[1])
    };
    assert_eq!(field, "messages");
    assert!(error.contains("boolean"), "{error}");
    assert_eq!(raw["statuses"][0]["id"], "wamid.M2");
    let ChangeValue::Malformed { field, error, .. } = values[2] else {
        panic!()
    };
    assert_eq!(field, "smb_app_state_sync");
    assert!(error.contains("sequence"), "{error}");
    assert!(matches!(values[3], ChangeValue::Messages(_)));
}

#[test]
fn an_invalid_bsuid_makes_the_change_malformed_not_the_batch() {
    let body = json!({"entry": [{"id": "1", "changes": [
        {"field": "messages", "value": {"messages": [{"id": "wamid.1", "type": "text", "from_user_id": "not-a-bsuid"}]}},
        {"field": "messages", "value": {"messages": [{"id": "wamid.2", "type": "text"}]}}
    ]}]});
    let n = parse_notification(body.to_string().as_bytes()).unwrap();
    let ChangeValue::Malformed { error, .. } = &n.entry[0].changes[0].value else {
        panic!()
    };
    assert!(error.contains("business-scoped user id"), "{error}");
    assert!(matches!(
        n.entry[0].changes[1].value,
        ChangeValue::Messages(_)
    ));
    assert_eq!(serde_json::to_value(&n).unwrap(), body);
}

#[test]
fn missing_value_and_missing_field() {
    let body = json!({"entry": [{"id": "1", "changes": [
        {"field": "messages"},
        {"value": {"a": 1}}
    ]}]});
    let n = parse_notification(body.to_string().as_bytes()).unwrap();
    assert!(n.entry[0].changes[0].value.is_missing());
    assert_eq!(
        n.entry[0].changes[1].value,
        ChangeValue::Unknown {
            field: None,
            raw: json!({"a": 1})
        }
    );
    assert_eq!(serde_json::to_value(&n).unwrap(), body);
}

#[test]
fn unknown_field_is_kept_raw() {
    let n = load("unknown_field_template_status.json");
    let c = &n.entry[0].changes[0];
    let ChangeValue::Unknown { field, raw } = &c.value else {
        panic!()
    };
    assert_eq!(field.as_deref(), Some("message_template_status_update"));
    assert_eq!(raw["message_template_name"], "order_confirmation");
    assert_eq!(c.field_name(), Some("message_template_status_update"));
}

#[test]
fn plural_business_username_field_is_typed() {
    let body = json!({"entry": [{"id": "1", "changes": [
        {"field": "business_username_updates", "value": {"status": "reserved", "username": "acme"}}
    ]}]});
    let n = parse_notification(body.to_string().as_bytes()).unwrap();
    assert!(matches!(
        n.entry[0].changes[0].value,
        ChangeValue::BusinessUsernameUpdate(_)
    ));
    assert_eq!(serde_json::to_value(&n).unwrap(), body);
}

#[test]
fn serde_deserialize_goes_through_the_same_path() {
    let v: Value = serde_json::from_slice(&bytes("batch_multi_entry.json")).unwrap();
    let n: Notification = serde_json::from_value(v.clone()).unwrap();
    assert_eq!(n, load("batch_multi_entry.json"));
    assert!(serde_json::from_value::<Notification>(json!([])).is_err());
}

#[test]
fn emulator_can_build_the_spec_example() {
    let message = Message {
        from: Some(WirePhone::from("16505551234")),
        id: Some(
            Wamid::parse("wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=").unwrap(),
        ),
        timestamp: Some(Timestamp::text(1_749_416_383)),
        kind: Some(MessageType::Text),
        text: Some(Text {
            body: Some("Does it come in another color?".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let value = MessagesValue {
        messaging_product: Some("whatsapp".into()),
        metadata: Some(Metadata {
            display_phone_number: Some("15550783881".into()),
            phone_number_id: Some(PhoneNumberId::parse("106540352242922").unwrap()),
            ..Default::default()
        }),
        contacts: Some(vec![Contact {
            profile: Some(Profile {
                name: Some("Sheena Nelson".into()),
                ..Default::default()
            }),
            wa_id: Some("16505551234".into()),
            ..Default::default()
        }]),
        messages: Some(vec![message]),
        ..Default::default()
    };
    let n = Notification::single(
        WabaId::parse("102290129340398").unwrap(),
        ChangeValue::Messages(value),
    );
    let expected: Value = serde_json::from_slice(&bytes("spec_1_1_inbound_text.json")).unwrap();
    assert_eq!(serde_json::to_value(&n).unwrap(), expected);
    assert_eq!(n, load("spec_1_1_inbound_text.json"));

    // A status, built with its constructor.
    let mut status = Status::new(Wamid::parse("wamid.X").unwrap(), StatusKind::Read);
    status.timestamp = Some(Timestamp::text(1_750_000_000));
    let mut entry = Entry::new(
        WabaId::parse("1").unwrap(),
        vec![coex_meta::webhook::Change::new(ChangeValue::Messages(
            MessagesValue {
                statuses: Some(vec![status]),
                ..Default::default()
            },
        ))],
    );
    entry.time = Some(Timestamp::number(1_750_000_001));
    let n = Notification::new(vec![entry]);
    assert_eq!(
        serde_json::to_value(&n).unwrap(),
        json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "time": 1750000001,
            "changes": [{"field": "messages", "value": {"statuses": [
                {"id": "wamid.X", "status": "read", "timestamp": "1750000000"}]}}]}]})
    );
}
