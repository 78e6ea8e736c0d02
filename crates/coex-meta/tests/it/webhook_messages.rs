//! Inbound and echoed messages: each type's content is typed as expected.

use coex_meta::webhook::{
    ChangeValue, ContactOrigin, Content, HistoryStatus, InteractiveType, Message, MessageType,
    SystemType,
};

use crate::support::only_value;

/// The single message of a one-message `messages` or echo fixture.
fn message(name: &str) -> Message {
    match only_value(name) {
        ChangeValue::Messages(v) => v.messages.unwrap().remove(0),
        ChangeValue::MessageEchoes(v) => v.message_echoes.unwrap().remove(0),
        other => panic!("{name}: {other:?}"),
    }
}

#[test]
fn inbound_text_from_the_spec() {
    let n = crate::support::load("spec_1_1_inbound_text.json");
    let ChangeValue::Messages(v) = &n.entry[0].changes[0].value else {
        panic!()
    };
    assert_eq!(n.entry[0].id.as_ref().unwrap().as_str(), "102290129340398");
    let meta = v.metadata.as_ref().unwrap();
    assert_eq!(
        meta.phone_number_id.as_ref().unwrap().as_str(),
        "106540352242922"
    );
    assert_eq!(
        meta.display_phone_number.as_ref().unwrap().as_str(),
        "15550783881"
    );
    let contact = &v.contacts.as_ref().unwrap()[0];
    assert_eq!(
        contact.profile.as_ref().unwrap().name.as_deref(),
        Some("Sheena Nelson")
    );
    assert_eq!(contact.wa_id.as_ref().unwrap().as_str(), "16505551234");
    let m = &v.messages.as_ref().unwrap()[0];
    assert_eq!(m.kind, Some(MessageType::Text));
    assert_eq!(m.timestamp_seconds(), Some(1_749_416_383));
    assert_eq!(
        m.from.as_ref().unwrap().parse().unwrap().digits(),
        "16505551234"
    );
    let Content::Text(t) = m.content() else {
        panic!()
    };
    assert_eq!(t.body.as_deref(), Some("Does it come in another color?"));
}

#[test]
fn bsuid_only_message_has_no_phone() {
    let m = message("spec_10_3_inbound_text_bsuid.json");
    assert!(m.from.is_none());
    assert_eq!(
        m.from_user_id.as_ref().unwrap().as_str(),
        "US.13491208655302741918"
    );
    assert!(m.from_parent_user_id.as_ref().unwrap().is_parent());
    let ChangeValue::Messages(v) = only_value("spec_10_3_inbound_text_bsuid.json") else {
        panic!()
    };
    let c = &v.contacts.unwrap()[0];
    assert!(c.wa_id.is_none());
    assert_eq!(
        c.profile.as_ref().unwrap().username.as_deref(),
        Some("@realsheenanelson")
    );
    assert!(c.parent_user_id.is_some());
}

#[test]
fn interactive_replies() {
    let m = message("spec_1_1_interactive_button_reply.json");
    let Content::Interactive(i) = m.content() else {
        panic!()
    };
    assert_eq!(i.kind, Some(InteractiveType::ButtonReply));
    assert_eq!(
        i.button_reply.as_ref().unwrap().id.as_deref(),
        Some("change-button")
    );
    let ctx = m.context.as_ref().unwrap();
    assert_eq!(ctx.from.as_ref().unwrap().as_str(), "15550783881");
    assert!(ctx.id.as_ref().unwrap().as_str().starts_with("wamid."));

    let m = message("inbound_interactive_list_reply.json");
    let i = m.interactive.unwrap();
    assert_eq!(i.kind, Some(InteractiveType::ListReply));
    let row = i.list_reply.unwrap();
    assert_eq!(row.id.as_deref(), Some("priority_express"));
    assert_eq!(row.description.as_deref(), Some("Next day to 2 days"));

    let m = message("inbound_interactive_nfm_reply.json");
    let flow = m.interactive.unwrap().nfm_reply.unwrap();
    assert_eq!(flow.name.as_deref(), Some("flow"));
    let answers: serde_json::Value =
        serde_json::from_str(flow.response_json.as_deref().unwrap()).unwrap();
    assert_eq!(answers["rating"], "5");
}

#[test]
fn media_types() {
    let m = message("inbound_image.json");
    let media = m.media().unwrap();
    assert_eq!(media.id.as_ref().unwrap().as_str(), "24230790383178626");
    assert_eq!(media.caption.as_deref(), Some("Black Prince echeveria"));
    assert!(media.url.is_some());

    let m = message("inbound_audio_voice.json");
    assert!(matches!(m.content(), Content::Audio(a) if a.voice == Some(true)));

    let m = message("inbound_video.json");
    assert!(
        matches!(m.content(), Content::Video(v) if v.mime_type.as_deref() == Some("video/mp4"))
    );

    let m = message("inbound_document.json");
    assert!(
        matches!(m.content(), Content::Document(d) if d.filename.as_deref() == Some("invoice-42.pdf"))
    );

    let m = message("inbound_sticker.json");
    assert!(matches!(m.content(), Content::Sticker(s) if s.animated == Some(false)));

    // An echoed image without a caption has no caption key, and keeps its `+` recipient.
    let m = message("echo_image_no_caption.json");
    assert!(m.media().unwrap().caption.is_none());
    assert_eq!(m.to.as_ref().unwrap().as_str(), "+16505551234");
    assert_eq!(
        m.to.as_ref().unwrap().parse().unwrap().digits(),
        "16505551234"
    );
}

#[test]
fn location_keeps_number_forms() {
    let m = message("inbound_location.json");
    let Content::Location(l) = m.content() else {
        panic!()
    };
    assert_eq!(l.latitude.as_ref().unwrap().as_f64(), Some(37.4848));
    assert_eq!(l.longitude.as_ref().unwrap().as_f64(), Some(-122.1484));
    assert_eq!(l.name.as_deref(), Some("Philz Coffee"));
    let m = message("inbound_location_integer_coords.json");
    let l = m.location.unwrap();
    assert_eq!(l.latitude.unwrap().as_i64(), Some(0));
}

#[test]
fn contact_cards() {
    let m = message("contacts_share_contact_request.json");
    let Content::Contacts(cards) = m.content() else {
        panic!()
    };
    assert_eq!(cards.len(), 1);
    assert_eq!(cards[0].origin, Some(ContactOrigin::ContactRequest));
    assert!(cards[0].vcard.is_none());
    let phone = &cards[0].phones.as_ref().unwrap()[0];
    assert_eq!(phone.phone.as_ref().unwrap().as_str(), "+57 300 1234567");
    assert_eq!(
        phone.phone.as_ref().unwrap().parse().unwrap().digits(),
        "573001234567"
    );
    assert_eq!(phone.wa_id.as_ref().unwrap().as_str(), "573001234567");
    assert_eq!(m.from_user_id.as_ref().unwrap().country(), "CO");

    let m = message("contacts_share_vcard.json");
    let card = &m.contacts.as_ref().unwrap()[0];
    assert_eq!(card.origin, Some(ContactOrigin::Other));
    assert!(card.vcard.as_deref().unwrap().starts_with("BEGIN:VCARD"));
    assert_eq!(
        card.name.as_ref().unwrap().last_name.as_deref(),
        Some("Morales")
    );
    assert_eq!(
        card.org.as_ref().unwrap().company.as_deref(),
        Some("Lucky Shrub")
    );
    assert_eq!(
        card.emails.as_ref().unwrap()[0].email.as_deref(),
        Some("pablo@example.com")
    );
    assert_eq!(
        card.addresses.as_ref().unwrap()[0].country_code.as_deref(),
        Some("US")
    );
    assert_eq!(card.urls.as_ref().unwrap()[0].kind.as_deref(), Some("WORK"));
    assert_eq!(card.birthday.as_deref(), Some("1990-04-01"));
    assert_eq!(card.phones.as_ref().unwrap().len(), 2);
}

#[test]
fn button_reaction_order_referral_context() {
    let m = message("inbound_button.json");
    let b = m.button.unwrap();
    assert_eq!(b.payload.as_deref(), Some("STOP_PROMOTIONS"));
    assert_eq!(b.text.as_deref(), Some("Stop promotions"));

    let m = message("inbound_reaction.json");
    let Content::Reaction(r) = m.content() else {
        panic!()
    };
    assert_eq!(r.emoji.as_deref(), Some("\u{1F600}"));
    assert!(!r.is_removal());
    assert_eq!(m.target_id(), r.message_id.as_ref());

    let m = message("inbound_reaction_removed.json");
    assert!(m.reaction.as_ref().unwrap().is_removal());

    let m = message("inbound_order.json");
    let o = m.order.unwrap();
    let items = o.product_items.unwrap();
    assert_eq!(items[0].quantity.as_ref().unwrap().as_i64(), Some(2));
    assert_eq!(items[1].item_price.as_ref().unwrap().as_f64(), Some(25.5));
    assert_eq!(o.catalog_id.as_deref(), Some("194836987003835"));

    let m = message("inbound_text_referral.json");
    let r = m.referral.unwrap();
    assert_eq!(r.source_type.as_deref(), Some("ad"));
    assert!(r.ctwa_clid.is_some());
    assert!(r.welcome_message.is_some());

    let m = message("inbound_text_forwarded_product.json");
    let c = m.context.unwrap();
    assert_eq!(c.forwarded, Some(true));
    assert_eq!(c.frequently_forwarded, Some(true));
    assert_eq!(
        c.referred_product.unwrap().product_retailer_id.as_deref(),
        Some("di9ozbzfi4")
    );
}

#[test]
fn system_unsupported_welcome() {
    let m = message("inbound_system_changed_number.json");
    let s = m.system.unwrap();
    assert_eq!(s.kind, Some(SystemType::UserChangedNumber));
    assert_eq!(s.wa_id.unwrap().as_str(), "16505559999");

    let m = message("inbound_system_changed_user_id.json");
    let s = m.system.unwrap();
    assert_eq!(s.kind, Some(SystemType::UserChangedUserId));
    assert_eq!(s.user_id.unwrap().as_str(), "US.20571936648120033617");
    assert!(s.parent_user_id.unwrap().is_parent());

    let m = message("inbound_unsupported_131060.json");
    assert_eq!(m.kind, Some(MessageType::Unsupported));
    assert_eq!(m.errors.as_ref().unwrap()[0].code, Some(131_060));
    let Content::Unsupported(Some(u)) = m.content() else {
        panic!()
    };
    assert_eq!(u.kind.as_deref(), Some("edit"));

    let m = message("inbound_request_welcome.json");
    assert_eq!(m.content(), Content::RequestWelcome);
}

#[test]
fn edits_and_revokes_both_ways() {
    let m = message("spec_1_1_user_edit.json");
    let Content::Edit(e) = m.content() else {
        panic!()
    };
    let inner = e.message.as_ref().unwrap();
    assert!(inner.id.is_none());
    assert_eq!(
        inner
            .context
            .as_ref()
            .unwrap()
            .id
            .as_ref()
            .unwrap()
            .as_str(),
        "M0"
    );
    assert_eq!(
        inner.image.as_ref().unwrap().caption.as_deref(),
        Some("Updated image caption")
    );
    assert_eq!(m.target_id(), e.original_message_id.as_ref());

    let m = message("spec_1_1_user_revoke.json");
    assert!(
        m.target_id()
            .unwrap()
            .as_str()
            .starts_with("wamid.HBgLMTQx")
    );

    let m = message("echo_edit.json");
    let Content::Edit(e) = m.content() else {
        panic!()
    };
    let inner = e.message.as_ref().unwrap();
    assert!(
        matches!(inner.content(), Content::Text(t) if t.body.as_deref() == Some("Here's the corrected info!"))
    );

    let m = message("echo_revoke.json");
    assert_eq!(m.kind, Some(MessageType::Revoke));
    assert!(m.to_user_id.is_some());
}

#[test]
fn unknown_type_keeps_its_content() {
    let m = message("unknown_message_type.json");
    assert_eq!(m.kind, Some(MessageType::Unknown("ephemeral_poll".into())));
    let Content::Unknown { kind, raw } = m.content() else {
        panic!()
    };
    assert_eq!(kind, "ephemeral_poll");
    assert_eq!(raw.unwrap()["question"], "Lunch?");

    // Meta's placeholder syntax parses as an unknown type too.
    let m = message("spec_2_2_echo_syntax.json");
    assert!(m.kind.as_ref().unwrap().is_unknown());
    assert_eq!(m.timestamp_seconds(), None);
}

#[test]
fn history_messages_carry_their_phone_state() {
    let ChangeValue::History(v) = only_value("history_placeholders.json") else {
        panic!()
    };
    let chunk = &v.history.unwrap()[0];
    let msgs = chunk.threads.as_ref().unwrap()[0]
        .messages
        .as_ref()
        .unwrap();
    let states: Vec<_> = msgs
        .iter()
        .map(|m| m.history_context.as_ref().unwrap().status.clone().unwrap())
        .collect();
    assert_eq!(
        states,
        [
            HistoryStatus::Delivered,
            HistoryStatus::Sent,
            HistoryStatus::Pending,
            HistoryStatus::Error
        ]
    );
    assert_eq!(msgs[0].content(), Content::MediaPlaceholder);
}
