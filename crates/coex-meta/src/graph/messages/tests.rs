use super::*;
use serde_json::json;

fn roundtrip(raw: &str) -> SendMessageRequest {
    let original: Value = serde_json::from_str(raw).unwrap();
    let req: SendMessageRequest = serde_json::from_str(raw).unwrap();
    assert_eq!(
        serde_json::to_value(&req).unwrap(),
        original,
        "round-trip of {raw}"
    );
    req
}

fn phone(s: &str) -> PhoneNumber {
    PhoneNumber::parse(s).unwrap()
}

// ----- spec §3.1 request examples -----

#[test]
fn spec_text() {
    let r = roundtrip(
        r#"{ "messaging_product": "whatsapp", "recipient_type": "individual", "to": "+16505551234", "type": "text",
  "text": { "preview_url": true, "body": "As requested, here's the link to our latest product: https://www.meta.com/quest/quest-3/" } }"#,
    );
    let MessageContent::Text(t) = &r.content else {
        panic!()
    };
    assert_eq!(t.preview_url, Some(true));
    assert_eq!(r.target().unwrap(), Recipient::Phone(phone("16505551234")));
    assert_eq!(r.input(), Some("+16505551234"));
    r.validate().unwrap();
}

#[test]
fn spec_image() {
    let r = roundtrip(
        r#"{ "messaging_product": "whatsapp", "recipient_type": "individual", "to": "+16505551234", "type": "image",
  "image": { "id": "1479537139650973", "caption": "The best succulent ever?" } }"#,
    );
    let m = r.content.media().unwrap();
    assert_eq!(m.id.as_ref().unwrap().as_str(), "1479537139650973");
    r.validate().unwrap();
}

#[test]
fn spec_interactive_reply_buttons() {
    let r = roundtrip(
        r#"{ "messaging_product": "whatsapp", "recipient_type": "individual", "to": "+16505551234", "type": "interactive",
  "interactive": {
    "type": "button",
    "header": { "type": "image", "image": { "id": "2762702990552401" } },
    "body": { "text": "Hi Pablo! Your gardening workshop is scheduled for 9am tomorrow. Use the buttons if you need to reschedule. Thank you!" },
    "footer": { "text": "Lucky Shrub: Your gateway to succulents!™" },
    "action": { "buttons": [
      { "type": "reply", "reply": { "id": "change-button", "title": "Change" } },
      { "type": "reply", "reply": { "id": "cancel-button", "title": "Cancel" } }
    ] } } }"#,
    );
    let MessageContent::Interactive(i) = &r.content else {
        panic!()
    };
    assert_eq!(i.kind, InteractiveType::Button);
    assert_eq!(
        i.action.as_ref().unwrap().buttons[1].reply.id,
        "cancel-button"
    );
    r.validate().unwrap();
}

#[test]
fn spec_reaction() {
    let r = roundtrip(
        r#"{ "messaging_product": "whatsapp", "recipient_type": "individual", "to": "+16505551234", "type": "reaction",
  "reaction": { "message_id": "wamid.HBgLMTY0NjcwNDM1OTUVAgASGBQzQUZCMTY0MDc2MUYwNzBDNTY5MAA=", "emoji": "\uD83D\uDE00" } }"#,
    );
    let MessageContent::Reaction(re) = &r.content else {
        panic!()
    };
    assert_eq!(re.emoji, "😀");
    r.validate().unwrap();
}

#[test]
fn spec_template_named_parameter() {
    let r = roundtrip(
        r#"{
  "messaging_product": "whatsapp",
  "to": "971509364178",
  "type": "template",
  "template": {
    "name": "wedding_pre_invite_1",
    "language": { "code": "en_US" },
    "components": [
      { "type": "body", "parameters": [ { "type": "text", "text": "Madhav Sharma", "parameter_name": "name" } ] }
    ]
  }
}"#,
    );
    let MessageContent::Template(t) = &r.content else {
        panic!()
    };
    assert_eq!(t.name, "wedding_pre_invite_1");
    let body = t.parameters_for(&SendComponentType::Body, None);
    assert_eq!(body[0].parameter_name.as_deref(), Some("name"));
    assert!(r.recipient_type.is_none());
    r.validate().unwrap();
}

#[test]
fn template_header_media_and_buttons() {
    let r = roundtrip(
        r#"{ "messaging_product": "whatsapp", "to": "+16505551234", "type": "template",
  "template": { "name": "order_update", "language": { "code": "pt_BR", "policy": "deterministic" },
    "components": [
      { "type": "header", "parameters": [ { "type": "image", "image": { "link": "https://example.com/a.jpg" } } ] },
      { "type": "body", "parameters": [
          { "type": "text", "text": "Ana" },
          { "type": "currency", "currency": { "fallback_value": "R$10,00", "code": "BRL", "amount_1000": 10000 } },
          { "type": "date_time", "date_time": { "fallback_value": "1 de maio" } } ] },
      { "type": "button", "sub_type": "quick_reply", "index": "0", "parameters": [ { "type": "payload", "payload": "STOP" } ] },
      { "type": "button", "sub_type": "url", "index": "1", "parameters": [ { "type": "text", "text": "abc123" } ] }
    ] } }"#,
    );
    let MessageContent::Template(t) = &r.content else {
        panic!()
    };
    assert_eq!(
        t.parameters_for(&SendComponentType::Button, Some(1))[0]
            .text
            .as_deref(),
        Some("abc123")
    );
    assert_eq!(t.components[2].sub_type, Some(ButtonSubType::QuickReply));
    r.validate().unwrap();
    // A numeric index is read too.
    let v = json!({"type": "button", "sub_type": "url", "index": 2, "parameters": []});
    let c: SendComponent = serde_json::from_value(v).unwrap();
    assert_eq!(c.index, Some(2));
}

// ----- spec §10.4 -----

#[test]
fn spec_bsuid_send() {
    let r = roundtrip(
        r#"{ "messaging_product": "whatsapp", "recipient_type": "individual", "recipient": "US.13491208655302741918",
  "type": "text", "text": { "body": "Hello" } }"#,
    );
    assert_eq!(
        r.target().unwrap(),
        Recipient::User(Bsuid::parse("US.13491208655302741918").unwrap())
    );
    assert_eq!(r.input(), Some("US.13491208655302741918"));
    r.validate().unwrap();
}

#[test]
fn to_wins_over_recipient() {
    let v = json!({"messaging_product": "whatsapp", "to": "+1 (650) 555-1234", "recipient": "US.1",
                   "type": "text", "text": {"body": "x"}});
    let r: SendMessageRequest = serde_json::from_value(v).unwrap();
    assert_eq!(r.target().unwrap(), Recipient::Phone(phone("16505551234")));
    assert_eq!(r.input(), Some("+1 (650) 555-1234"));
}

#[test]
fn group_send() {
    let r = SendMessageRequest::text(Recipient::Group("120363025246125486".into()), "hi");
    let v = serde_json::to_value(&r).unwrap();
    assert_eq!(v["recipient_type"], json!("group"));
    assert_eq!(v["to"], json!("120363025246125486"));
    let back: SendMessageRequest = serde_json::from_value(v).unwrap();
    assert_eq!(
        back.target().unwrap(),
        Recipient::Group("120363025246125486".into())
    );
}

// ----- mark as read -----

#[test]
fn spec_mark_read_and_typing() {
    let raw = r#"{ "messaging_product": "whatsapp", "status": "read", "message_id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJDQjZCMzlEQUE4OTJBMTE4RTUA" }"#;
    let MessagesRequest::MarkRead(m) = MessagesRequest::from_slice(raw.as_bytes()).unwrap() else {
        panic!()
    };
    assert!(m.typing_indicator.is_none());
    assert_eq!(
        serde_json::to_value(&m).unwrap(),
        serde_json::from_str::<Value>(raw).unwrap()
    );
    let raw = r#"{ "messaging_product": "whatsapp", "status": "read", "message_id": "wamid.X", "typing_indicator": { "type": "text" } }"#;
    let m: MessagesRequest = serde_json::from_str(raw).unwrap();
    assert_eq!(
        m,
        MessagesRequest::MarkRead(
            MarkReadRequest::new(Wamid::parse("wamid.X").unwrap()).with_typing()
        )
    );
    assert_eq!(
        serde_json::to_value(&m).unwrap(),
        serde_json::from_str::<Value>(raw).unwrap()
    );
    let s: SuccessResponse = serde_json::from_str(r#"{ "success": true }"#).unwrap();
    assert_eq!(s, SuccessResponse::ok());
}

#[test]
fn messages_request_dispatches_sends() {
    let raw = br#"{"messaging_product":"whatsapp","to":"+16505551234","type":"text","text":{"body":"hi"}}"#;
    let MessagesRequest::Send(s) = MessagesRequest::from_slice(raw).unwrap() else {
        panic!()
    };
    assert_eq!(s.content.kind(), "text");
}

// ----- responses -----

#[test]
fn spec_send_responses() {
    for raw in [
        r#"{
  "messaging_product": "whatsapp",
  "contacts": [{ "input": "+16505551234", "wa_id": "16505551234" }],
  "messages": [{ "id": "wamid.HBgLMTY0NjcwNDM1OTUVAgARGBI4MjZGRDA0OUE2OTQ3RkEyMzcA" }]
}"#,
        r#"{ "messaging_product": "whatsapp", "contacts": [{ "input": "971509364178", "wa_id": "971509364178" }],
  "messages": [{ "id": "wamid.HBgJOTcxNTA5MzY0MTc4FQIAEhggOTlCRjc0N0IyRjVBNzBCRTUyODRBQjM1RTczQkQxNUIA", "message_status": "accepted" }] }"#,
        r#"{ "messaging_product": "whatsapp",
  "contacts": [{ "input": "US.13491208655302741918", "user_id": "US.13491208655302741918" }],
  "messages": [{ "id": "wamid.HBgLMTY0NjcwNDM1OTUVAgARGBI1RjQyNUE3NEYxMzAzMzQ5MkEA" }] }"#,
    ] {
        let r: SendMessageResponse = serde_json::from_str(raw).unwrap();
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            serde_json::from_str::<Value>(raw).unwrap()
        );
        assert!(r.message_id().unwrap().as_str().starts_with("wamid."));
    }
    let r: SendMessageResponse = serde_json::from_str(
        r#"{"messaging_product":"whatsapp","contacts":[{"input":"US.13491208655302741918","user_id":"US.13491208655302741918"}],"messages":[{"id":"wamid.A","message_status":"held_for_quality_assessment"}],"group_id":"G1"}"#,
    )
    .unwrap();
    assert_eq!(
        r.contacts[0].bsuid().unwrap().as_str(),
        "US.13491208655302741918"
    );
    assert!(r.contacts[0].phone().is_none());
    assert_eq!(
        r.messages[0].message_status,
        Some(AcceptedStatus::HeldForQualityAssessment)
    );
    assert_eq!(r.group_id.as_deref(), Some("G1"));
}

// ----- leniency -----

#[test]
fn unknown_type_is_kept_raw() {
    let v = json!({"messaging_product": "whatsapp", "to": "+16505551234", "type": "order_details",
                   "order_details": {"reference_id": "r1"}, "some_new_flag": true});
    let r: SendMessageRequest = serde_json::from_value(v.clone()).unwrap();
    assert_eq!(
        r.content,
        MessageContent::Unknown {
            kind: "order_details".into(),
            body: Some(json!({"reference_id": "r1"}))
        }
    );
    assert_eq!(r.extra["some_new_flag"], json!(true));
    assert_eq!(serde_json::to_value(&r).unwrap(), v);
    assert_eq!(
        r.validate().unwrap_err().error_code(),
        ErrorCode::UnsupportedMessageType
    );
}

#[test]
fn unknown_keys_inside_content_survive() {
    let v = json!({"messaging_product": "whatsapp", "to": "+16505551234", "type": "text",
                   "text": {"body": "x", "future": [1, 2]}});
    let r: SendMessageRequest = serde_json::from_value(v.clone()).unwrap();
    assert_eq!(serde_json::to_value(&r).unwrap(), v);
}

#[test]
fn missing_type_means_text() {
    let r: SendMessageRequest = serde_json::from_value(
        json!({"messaging_product": "whatsapp", "to": "+16505551234", "text": {"body": "x"}}),
    )
    .unwrap();
    assert_eq!(r.content.kind(), "text");
}

#[test]
fn malformed_known_type_is_an_error() {
    for v in [
        json!({"to": "+16505551234", "type": "text"}),
        json!({"to": "+16505551234", "type": "text", "text": {"preview_url": true}}),
        json!({"to": "+16505551234", "type": "reaction", "reaction": {"message_id": ""}}),
        json!({"to": "+16505551234", "type": "interactive", "interactive": {"body": {"text": "x"}}}),
    ] {
        let e = serde_json::from_value::<SendMessageRequest>(v.clone()).unwrap_err();
        assert!(!e.to_string().is_empty(), "{v}");
    }
}

#[test]
fn location_and_contacts() {
    let r = roundtrip(
        r#"{"messaging_product":"whatsapp","to":"+16505551234","type":"location",
            "location":{"latitude":37.44216251868683,"longitude":-122.16153582049394,"name":"Philz Coffee","address":"101 Forest Ave, Palo Alto, CA 94301"}}"#,
    );
    r.validate().unwrap();
    let r: SendMessageRequest =
        serde_json::from_value(json!({"to": "+16505551234", "type": "location",
        "location": {"latitude": "37.5", "longitude": "-122.1"}}))
        .unwrap();
    let MessageContent::Location(l) = &r.content else {
        panic!()
    };
    assert_eq!(l.latitude, 37.5);
    let r = roundtrip(
        r#"{"messaging_product":"whatsapp","to":"+16505551234","type":"contacts",
            "contacts":[{"name":{"formatted_name":"Pablo Morales","first_name":"Pablo"},
                         "phones":[{"phone":"+1 (650) 555-1234","type":"WORK","wa_id":"16505551234"}],
                         "emails":[{"email":"pablo@example.com","type":"WORK"}]}]}"#,
    );
    let MessageContent::Contacts(c) = &r.content else {
        panic!()
    };
    assert_eq!(c[0].phones[0].wa_id.as_deref(), Some("16505551234"));
    assert!(c[0].extra.contains_key("emails"));
    r.validate().unwrap();
}

// ----- constructors and validation -----

#[test]
fn constructors_build_meta_shapes() {
    let r = SendMessageRequest::text(phone("+16505551234"), "hello")
        .reply_to(Wamid::parse("wamid.CTX").unwrap())
        .with_callback_data("campaign-7");
    assert_eq!(
        serde_json::to_value(&r).unwrap(),
        json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": "+16505551234",
               "type": "text", "text": {"body": "hello"}, "context": {"message_id": "wamid.CTX"},
               "biz_opaque_callback_data": "campaign-7"})
    );
    let r = SendMessageRequest::text(Bsuid::parse("US.13491208655302741918").unwrap(), "hi");
    let v = serde_json::to_value(&r).unwrap();
    assert_eq!(v["recipient"], json!("US.13491208655302741918"));
    assert!(v.get("to").is_none());

    let r = SendMessageRequest::document(
        phone("16505551234"),
        MediaContent::by_link("https://example.com/a.pdf")
            .with_filename("a.pdf")
            .with_caption("Invoice"),
    );
    assert_eq!(
        serde_json::to_value(&r).unwrap()["document"],
        json!({"link": "https://example.com/a.pdf", "filename": "a.pdf", "caption": "Invoice"})
    );
    r.validate().unwrap();

    let t = TemplateContent::new("hello_world", "en_US")
        .with_component(SendComponent::body(vec![TemplateParameter::text("Ana")]))
        .with_component(SendComponent::button(
            ButtonSubType::QuickReply,
            0,
            vec![TemplateParameter::payload("P")],
        ));
    let r = SendMessageRequest::template(phone("16505551234"), t);
    assert_eq!(
        serde_json::to_value(&r).unwrap()["template"],
        json!({"name": "hello_world", "language": {"code": "en_US"}, "components": [
            {"type": "body", "parameters": [{"type": "text", "text": "Ana"}]},
            {"type": "button", "sub_type": "quick_reply", "index": "0", "parameters": [{"type": "payload", "payload": "P"}]}]})
    );
    r.validate().unwrap();

    let r =
        SendMessageRequest::reaction(phone("16505551234"), Wamid::parse("wamid.R").unwrap(), "👍");
    r.validate().unwrap();

    let r = SendMessageRequest::interactive(
        phone("16505551234"),
        InteractiveContent::contact_request("Share your number?"),
    );
    assert_eq!(
        serde_json::to_value(&r).unwrap()["interactive"],
        json!({"type": "contact_request", "body": {"text": "Share your number?"}, "action": {"name": "request_contact_info"}})
    );
    r.validate().unwrap();
}

fn err(r: &SendMessageRequest) -> ValidationError {
    r.validate().unwrap_err()
}

#[test]
fn validation_limits() {
    let to = phone("16505551234");
    let four: Vec<(&str, &str)> = vec![("a", "A"), ("b", "B"), ("c", "C"), ("d", "D")];
    assert_eq!(
        err(&SendMessageRequest::buttons(to.clone(), "pick", &four)),
        ValidationError::TooMany {
            field: "interactive.action.buttons",
            count: 4,
            max: 3
        }
    );
    let long_title = "x".repeat(21);
    let e = err(&SendMessageRequest::buttons(
        to.clone(),
        "pick",
        &[("a", long_title.as_str())],
    ));
    assert!(
        matches!(
            e,
            ValidationError::TooLong {
                max: 20,
                len: 21,
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(e.error_code(), ErrorCode::InvalidParameter);
    // Characters, not bytes: 20 Arabic letters are fine.
    let arabic = "ب".repeat(20);
    SendMessageRequest::buttons(to.clone(), "pick", &[("a", arabic.as_str())])
        .validate()
        .unwrap();
    let e = err(&SendMessageRequest::buttons(
        to.clone(),
        "pick",
        &[("a", "A"), ("a", "B")],
    ));
    assert!(matches!(e, ValidationError::Invalid { .. }));

    let body = "y".repeat(1025);
    let e = err(&SendMessageRequest::buttons(
        to.clone(),
        body.as_str(),
        &[("a", "A")],
    ));
    assert!(matches!(e, ValidationError::TooLong { max: 1024, .. }));

    let footer = "f".repeat(61);
    let e = err(&SendMessageRequest::interactive(
        to.clone(),
        InteractiveContent::buttons("b", &[("a", "A")]).with_footer(footer),
    ));
    assert!(matches!(e, ValidationError::TooLong { max: 60, .. }));

    let caption = "c".repeat(1025);
    let e = err(&SendMessageRequest::image(
        to.clone(),
        MediaContent::by_id(MediaId::parse("1").unwrap()).with_caption(caption),
    ));
    assert!(matches!(
        e,
        ValidationError::TooLong {
            max: 1024,
            field: "caption",
            ..
        }
    ));
    let e = err(&SendMessageRequest::audio(
        to.clone(),
        MediaContent::by_id(MediaId::parse("1").unwrap()).with_caption("no"),
    ));
    assert!(matches!(
        e,
        ValidationError::Invalid {
            field: "caption",
            ..
        }
    ));
    let e = err(&SendMessageRequest::image(
        to.clone(),
        MediaContent::by_link(""),
    ));
    assert_eq!(e.error_code(), ErrorCode::RequiredParameterMissing);

    let rows: Vec<ListRow> = (0..11)
        .map(|i| ListRow::new(format!("r{i}"), "Row"))
        .collect();
    let sections = vec![
        ListSection {
            title: Some("A".into()),
            rows: rows[..6].to_vec(),
            extra: Extra::new(),
        },
        ListSection {
            title: Some("B".into()),
            rows: rows[6..].to_vec(),
            extra: Extra::new(),
        },
    ];
    let e = err(&SendMessageRequest::interactive(
        to.clone(),
        InteractiveContent::list("Menu", "Open", sections),
    ));
    assert_eq!(
        e,
        ValidationError::TooMany {
            field: "interactive.action.sections[].rows",
            count: 11,
            max: 10
        }
    );
    let ok = vec![ListSection {
        title: None,
        rows: rows[..10].to_vec(),
        extra: Extra::new(),
    }];
    SendMessageRequest::interactive(to.clone(), InteractiveContent::list("Menu", "Open", ok))
        .validate()
        .unwrap();

    let e = err(&SendMessageRequest::text(to.clone(), "t".repeat(4097)));
    assert!(matches!(e, ValidationError::TooLong { max: 4096, .. }));
    let e = err(&SendMessageRequest::text(to.clone(), "  "));
    assert_eq!(e, ValidationError::Missing { field: "text.body" });

    let mut r = SendMessageRequest::text(to.clone(), "x");
    r.to = None;
    assert_eq!(err(&r), ValidationError::Missing { field: "to" });
    r.to = Some("not-a-phone".into());
    assert!(matches!(
        err(&r),
        ValidationError::Invalid { field: "to", .. }
    ));
    r.to = None;
    r.recipient = Some("bogus".into());
    assert!(matches!(
        err(&r),
        ValidationError::Invalid {
            field: "recipient",
            ..
        }
    ));

    let e = err(&SendMessageRequest::location(
        to,
        LocationContent::new(91.0, 0.0),
    ));
    assert!(matches!(
        e,
        ValidationError::Invalid {
            field: "location.latitude",
            ..
        }
    ));
}

#[test]
fn validation_error_builds_graph_error() {
    let e = ValidationError::TooLong {
        field: "text.body",
        len: 5000,
        max: 4096,
    };
    let b = e.to_graph_error();
    assert_eq!(b.code, ErrorCode::InvalidParameter);
    assert_eq!(b.message, "(#100) Invalid parameter");
    assert_eq!(
        b.details(),
        Some("text.body has 5000 characters; at most 4096 are allowed")
    );
}
