//! The events view: kinds, origins, ids, timestamps, contacts and flags.

use coex_meta::webhook::{EventItem, EventKind, FlagKind, Origin, events};
use serde_json::Value;

use crate::support::load;

#[test]
fn customer_and_business_edits_are_told_apart() {
    let customer = load("spec_1_1_user_edit.json");
    let business = load("echo_edit.json");
    let c = &events(&customer)[0];
    let b = &events(&business)[0];
    assert_eq!(
        (c.kind, c.origin),
        (EventKind::Edit, Some(Origin::Customer))
    );
    assert_eq!(
        (b.kind, b.origin),
        (EventKind::Edit, Some(Origin::BusinessApp))
    );
    assert_eq!(
        c.target_id,
        Some("wamid.HBgLMTQxMjU1NTA4MjkVAgASGBQzQUNCNjk5RDUwNUZGMUZEM0VBRAA=")
    );
    assert_eq!(
        b.target_id,
        Some("wamid.HBgLMTY0NjcwNDM1OTUVAgARGBIyNDlBOEI5QUQ4NDc0N0FCNjMA")
    );

    let customer = load("spec_1_1_user_revoke.json");
    let business = load("echo_revoke.json");
    let c = &events(&customer)[0];
    let b = &events(&business)[0];
    assert_eq!(
        (c.kind, c.origin),
        (EventKind::Revoke, Some(Origin::Customer))
    );
    assert_eq!(
        (b.kind, b.origin),
        (EventKind::Revoke, Some(Origin::BusinessApp))
    );

    let line: Value = serde_json::from_str(&b.to_json_line().unwrap()).unwrap();
    assert_eq!(line["kind"], "revoke");
    assert_eq!(line["origin"], "business_app");
}

#[test]
fn inbound_event_fields() {
    let n = load("spec_1_1_inbound_text.json");
    let e = &events(&n)[0];
    assert_eq!(e.kind, EventKind::InboundMessage);
    assert_eq!(e.field, Some("messages"));
    assert_eq!(e.waba_id.unwrap().as_str(), "102290129340398");
    assert_eq!(e.phone_number_id.unwrap().as_str(), "106540352242922");
    assert_eq!(
        e.id,
        Some("wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=")
    );
    assert_eq!(e.timestamp, Some(1_749_416_383));
    assert_eq!(e.path, "entry[0].changes[0].value.messages[0]");
    assert_eq!(
        e.contact.unwrap().wa_id.as_ref().unwrap().as_str(),
        "16505551234"
    );
    assert!(matches!(e.item, EventItem::Message(m) if m.text.is_some()));

    let v: Value = serde_json::from_str(&e.to_json_line().unwrap()).unwrap();
    assert_eq!(v["item"]["text"]["body"], "Does it come in another color?");
    assert_eq!(v["contact"]["profile"]["name"], "Sheena Nelson");
}

#[test]
fn reactions_are_inbound_messages_with_a_target() {
    let n = load("inbound_reaction.json");
    let e = &events(&n)[0];
    assert_eq!(e.kind, EventKind::InboundMessage);
    assert_eq!(e.subtype.as_deref(), Some("reaction"));
    assert_eq!(
        e.target_id,
        Some("wamid.HBgLMTY0NjcwNDM1OTUVAgASGBQzQUZCMTY0MDc2MUYwNzBDNTY5MAA=")
    );
}

#[test]
fn contacts_match_by_bsuid_then_phone() {
    let n = load("spec_10_3_echo_username.json");
    let e = &events(&n)[0];
    assert_eq!(e.kind, EventKind::Echo);
    assert_eq!(
        e.contact.unwrap().user_id.as_ref().unwrap().as_str(),
        "US.13491208655302741918"
    );

    let n = load("spec_10_3_status_delivered_bsuid.json");
    let e = &events(&n)[0];
    assert_eq!(e.kind, EventKind::Status);
    assert_eq!(
        e.contact
            .unwrap()
            .profile
            .as_ref()
            .unwrap()
            .username
            .as_deref(),
        Some("@pablomorales")
    );

    // A status with no contacts has no contact.
    let n = load("spec_3_3_status_failed.json");
    assert!(events(&n)[0].contact.is_none());
}

#[test]
fn history_events() {
    let n = load("spec_2_3_history_approved.json");
    let evs = events(&n);
    assert_eq!(evs.len(), 1);
    assert_eq!(evs[0].kind, EventKind::HistoryChunk);
    assert!(matches!(evs[0].item, EventItem::HistoryChunk(c) if c.message_count() == 4));

    let n = load("spec_2_3_history_declined.json");
    let e = &events(&n)[0];
    assert_eq!(e.kind, EventKind::HistoryDeclined);
    assert_eq!(
        e.error,
        Some("History sync is turned off by the business from the WhatsApp Business App")
    );

    let n = load("history_media_followup_bsuid.json");
    let evs = events(&n);
    assert_eq!(evs[0].kind, EventKind::HistoryMedia);
    assert_eq!(evs[0].origin, Some(Origin::Customer));
    assert_eq!(evs[0].id, Some("wamid.H1"));
    assert!(evs[0].contact.is_some());
    assert_eq!(evs[1].origin, Some(Origin::BusinessApp));
    assert!(evs[1].contact.is_some());
}

#[test]
fn contact_change_account_and_user_id_events() {
    let n = load("state_sync_remove_multi.json");
    let evs = events(&n);
    assert_eq!(evs[0].id, Some("16505551234"));
    assert_eq!(evs[0].timestamp, Some(1_739_321_100));
    assert_eq!(evs[1].id, Some("BR.1502576394655843"));

    // For partner events the WABA comes from `waba_info`, not the partner's entry id.
    let n = load("spec_2_5_partner_app_uninstalled.json");
    let e = &events(&n)[0];
    assert_eq!(e.kind, EventKind::AccountEvent);
    assert_eq!(e.waba_id.unwrap().as_str(), "184943124712545");
    assert_eq!(e.timestamp, Some(1_748_477_359));
    assert!(e.phone_number_id.is_none());

    let n = load("meta_example_partner_app_uninstalled.json");
    let e = &events(&n)[0];
    assert_eq!(e.field, Some("account_update"));

    let n = load("spec_10_3_user_id_update.json");
    let e = &events(&n)[0];
    assert_eq!(e.kind, EventKind::UserIdUpdate);
    assert_eq!(e.id, Some("US.20571936648120033617"));
    assert!(e.contact.is_some());
}

#[test]
fn batches_keep_order_and_entries() {
    let n = load("batch_multi_entry.json");
    let evs = events(&n);
    assert_eq!(evs.len(), 6);
    assert_eq!(evs[4].waba_id.unwrap().as_str(), "209876543210987");
    assert_eq!(evs[4].phone_number_id.unwrap().as_str(), "207654321098765");
    assert_eq!(evs[4].path, "entry[1].changes[0].value.message_echoes[0]");
    // The account event has no timestamp of its own and takes the entry's time.
    assert_eq!(evs[5].timestamp, Some(1_749_416_401));

    let n = load("batch_one_malformed.json");
    let evs = events(&n);
    assert_eq!(evs[1].kind, EventKind::Malformed);
    assert!(evs[1].error.unwrap().contains("boolean"));
    let line: Value = serde_json::from_str(&evs[1].to_json_line().unwrap()).unwrap();
    assert_eq!(line["item"]["statuses"][0]["id"], "wamid.M2");
}

#[test]
fn flags_point_at_unknown_parts() {
    let n = load("unknown_message_type.json");
    let e = &events(&n)[0];
    let kinds: Vec<_> = e.flags.iter().map(|f| (f.kind, f.path.as_str())).collect();
    assert!(kinds.contains(&(
        FlagKind::UnknownMessageType,
        "entry[0].changes[0].value.messages[0].type"
    )));
    assert!(kinds.contains(&(
        FlagKind::UnknownKey,
        "entry[0].changes[0].value.messages[0].ephemeral_poll"
    )));

    let n = load("unknown_field_template_status.json");
    let e = &events(&n)[0];
    assert_eq!(e.kind, EventKind::Unknown);
    assert_eq!(e.flags[0].kind, FlagKind::UnknownField);
    assert_eq!(
        e.flags[0].value.as_deref(),
        Some("message_template_status_update")
    );
    assert_eq!(e.flags[0].path, "entry[0].changes[0].field");

    let n = load("unknown_keys_everywhere.json");
    let e = &events(&n)[0];
    let paths: Vec<_> = e.flags.iter().map(|f| f.path.as_str()).collect();
    for p in [
        "sandbox",
        "entry[0].region",
        "entry[0].changes[0].version",
        "entry[0].changes[0].value.calls",
        "entry[0].changes[0].value.metadata.platform",
        "entry[0].changes[0].value.contacts[0].profile.avatar",
        "entry[0].changes[0].value.messages[0].group_id",
        "entry[0].changes[0].value.messages[0].text.language",
    ] {
        assert!(paths.contains(&p), "{p} not in {paths:?}");
    }
    assert_eq!(n.unknowns().len(), paths.len());

    let n = load("unknown_enum_values.json");
    let e = &events(&n)[0];
    let values: Vec<_> = e.flags.iter().filter_map(|f| f.value.as_deref()).collect();
    assert_eq!(values, ["deleted", "TIERED", "free_promo", "utility_plus"]);
}

#[test]
fn empty_known_change_still_shows_up() {
    let n = coex_meta::webhook::parse_notification(
        br#"{"entry":[{"id":"1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","calls":[]}}]}]}"#,
    )
    .unwrap();
    let evs = events(&n);
    assert_eq!(evs.len(), 1);
    assert_eq!(evs[0].kind, EventKind::Empty);
    assert_eq!(evs[0].flags.len(), 1);
}
