//! Every fixture: parses, round-trips to the same JSON, yields the expected events, and has
//! no unknown parts unless its name says it should.

use coex_meta::webhook::{ChangeValue, events, parse_notification};
use serde_json::Value;

use crate::support::all_fixtures;

/// Expected events per fixture, as `kind` or `kind:subtype`. Every fixture must be listed,
/// so a new fixture cannot be added without saying what it means.
const EXPECTED: &[(&str, &[&str])] = &[
    (
        "account_ad_account_linked.json",
        &["account_event:AD_ACCOUNT_LINKED"],
    ),
    (
        "account_auth_intl_eligibility.json",
        &["account_event:AUTH_INTL_PRICE_ELIGIBILITY_UPDATE"],
    ),
    (
        "account_certification_status.json",
        &["account_event:PARTNER_CLIENT_CERTIFICATION_STATUS_UPDATE"],
    ),
    ("account_deleted.json", &["account_event:ACCOUNT_DELETED"]),
    (
        "account_disabled_update.json",
        &["account_event:DISABLED_UPDATE"],
    ),
    (
        "account_mm_lite_terms.json",
        &["account_event:MM_LITE_TERMS_SIGNED"],
    ),
    (
        "account_partner_added.json",
        &["account_event:PARTNER_ADDED"],
    ),
    (
        "account_primary_location.json",
        &["account_event:BUSINESS_PRIMARY_LOCATION_COUNTRY_UPDATE"],
    ),
    (
        "account_restriction.json",
        &["account_event:ACCOUNT_RESTRICTION"],
    ),
    (
        "account_time_quoted.json",
        &["account_event:ACCOUNT_OFFBOARDED"],
    ),
    (
        "account_violation.json",
        &["account_event:ACCOUNT_VIOLATION"],
    ),
    (
        "account_volume_tier.json",
        &["account_event:VOLUME_BASED_PRICING_TIER_UPDATE"],
    ),
    (
        "batch_multi_entry.json",
        &[
            "inbound_message:text",
            "inbound_message:text",
            "status:sent",
            "status:read",
            "echo:text",
            "account_event:ACCOUNT_RECONNECTED",
        ],
    ),
    (
        "batch_one_malformed.json",
        &[
            "inbound_message:text",
            "malformed",
            "malformed",
            "status:read",
        ],
    ),
    (
        "business_username_approved.json",
        &["business_username_update:approved"],
    ),
    (
        "business_username_deleted.json",
        &["business_username_update:deleted"],
    ),
    (
        "contacts_share_contact_request.json",
        &["inbound_message:contacts"],
    ),
    ("contacts_share_vcard.json", &["inbound_message:contacts"]),
    ("echo_edit.json", &["edit:edit"]),
    ("echo_image_no_caption.json", &["echo:image"]),
    ("echo_interactive_send_shape.json", &["echo:interactive"]),
    ("echo_revoke.json", &["revoke:revoke"]),
    (
        "history_media_followup_bsuid.json",
        &["history_media:audio", "history_media:document"],
    ),
    ("history_placeholders.json", &["history_chunk"]),
    ("inbound_audio_voice.json", &["inbound_message:audio"]),
    ("inbound_button.json", &["inbound_message:button"]),
    ("inbound_document.json", &["inbound_message:document"]),
    ("inbound_image.json", &["inbound_message:image"]),
    (
        "inbound_interactive_list_reply.json",
        &["inbound_message:interactive"],
    ),
    (
        "inbound_interactive_nfm_reply.json",
        &["inbound_message:interactive"],
    ),
    ("inbound_location.json", &["inbound_message:location"]),
    (
        "inbound_location_integer_coords.json",
        &["inbound_message:location"],
    ),
    ("inbound_order.json", &["inbound_message:order"]),
    ("inbound_reaction.json", &["inbound_message:reaction"]),
    (
        "inbound_reaction_removed.json",
        &["inbound_message:reaction"],
    ),
    (
        "inbound_request_welcome.json",
        &["inbound_message:request_welcome"],
    ),
    ("inbound_sticker.json", &["inbound_message:sticker"]),
    (
        "inbound_system_changed_number.json",
        &["inbound_message:system"],
    ),
    (
        "inbound_system_changed_user_id.json",
        &["inbound_message:system"],
    ),
    (
        "inbound_text_forwarded_product.json",
        &["inbound_message:text"],
    ),
    ("inbound_text_referral.json", &["inbound_message:text"]),
    (
        "inbound_unsupported_131060.json",
        &["inbound_message:unsupported"],
    ),
    ("inbound_video.json", &["inbound_message:video"]),
    (
        "meta_example_partner_app_installed.json",
        &["account_event:PARTNER_APP_INSTALLED"],
    ),
    (
        "meta_example_partner_app_uninstalled.json",
        &["account_event:PARTNER_APP_UNINSTALLED"],
    ),
    ("spec_10_3_echo_username.json", &["echo:text"]),
    ("spec_10_3_history_thread_bsuid.json", &["history_chunk"]),
    (
        "spec_10_3_inbound_text_bsuid.json",
        &["inbound_message:text"],
    ),
    ("spec_10_3_state_sync_bsuid.json", &["contact_change:add"]),
    (
        "spec_10_3_status_delivered_bsuid.json",
        &["status:delivered"],
    ),
    ("spec_10_3_user_id_update.json", &["user_id_update"]),
    ("spec_1_1_envelope_syntax.json", &["unknown"]),
    ("spec_1_1_inbound_text.json", &["inbound_message:text"]),
    (
        "spec_1_1_interactive_button_reply.json",
        &["inbound_message:interactive"],
    ),
    ("spec_1_1_user_edit.json", &["edit:edit"]),
    ("spec_1_1_user_revoke.json", &["revoke:revoke"]),
    ("spec_1_1_value_error.json", &["value_error:130429"]),
    ("spec_2_2_echo_syntax.json", &["echo:<MESSAGE_TYPE>"]),
    ("spec_2_2_echo_text.json", &["echo:text"]),
    ("spec_2_3_history_approved.json", &["history_chunk"]),
    (
        "spec_2_3_history_declined.json",
        &["history_declined:2593109"],
    ),
    (
        "spec_2_3_history_media_followup.json",
        &["history_media:image"],
    ),
    ("spec_2_3_history_syntax.json", &["history_chunk"]),
    ("spec_2_4_state_sync_add.json", &["contact_change:add"]),
    (
        "spec_2_5_account_offboarded.json",
        &["account_event:ACCOUNT_OFFBOARDED"],
    ),
    (
        "spec_2_5_account_reconnected.json",
        &["account_event:ACCOUNT_RECONNECTED"],
    ),
    (
        "spec_2_5_partner_app_uninstalled.json",
        &["account_event:PARTNER_APP_UNINSTALLED"],
    ),
    (
        "spec_2_5_partner_removed.json",
        &["account_event:PARTNER_REMOVED"],
    ),
    ("spec_3_3_status_delivered_cbp.json", &["status:delivered"]),
    ("spec_3_3_status_failed.json", &["status:failed"]),
    ("spec_3_3_status_read_free_service.json", &["status:read"]),
    ("spec_3_3_status_sent.json", &["status:sent"]),
    (
        "state_sync_remove_multi.json",
        &["contact_change:remove", "contact_change:add"],
    ),
    (
        "status_legacy_parent_names.json",
        &["status:sent", "status:delivered"],
    ),
    ("status_played_group.json", &["status:played"]),
    ("unknown_enum_values.json", &["status:deleted"]),
    ("unknown_field_template_status.json", &["unknown"]),
    ("unknown_keys_everywhere.json", &["inbound_message:text"]),
    (
        "unknown_message_type.json",
        &["inbound_message:ephemeral_poll"],
    ),
    ("user_id_update_parent.json", &["user_id_update"]),
];

/// Fixtures allowed to contain parts this version does not understand: Meta's placeholder
/// syntax blocks, Meta's misplaced examples, and the deliberately unknown ones.
fn may_have_flags(name: &str) -> bool {
    name.starts_with("unknown_") || name.contains("_syntax") || name.starts_with("meta_example_")
}

#[test]
fn every_fixture_parses_round_trips_and_yields_its_events() {
    let fixtures = all_fixtures();
    assert!(fixtures.len() >= 70, "fixtures missing: {}", fixtures.len());
    for (name, body) in &fixtures {
        let original: Value = serde_json::from_slice(body).unwrap();
        let parsed = parse_notification(body).unwrap_or_else(|e| panic!("{name}: {e}"));

        // Lossless: the typed form serialises back to exactly what was received.
        let again = serde_json::to_value(&parsed).unwrap();
        assert_eq!(again, original, "{name}: round trip changed the JSON");

        // Parsing the re-serialised form gives the same typed value.
        let reparsed = parse_notification(&serde_json::to_vec(&parsed).unwrap()).unwrap();
        assert_eq!(reparsed, parsed, "{name}: reparse differs");

        let evs = events(&parsed);
        let got: Vec<String> = evs
            .iter()
            .map(|e| {
                let kind = serde_json::to_value(e.kind).unwrap();
                let kind = kind.as_str().unwrap().to_owned();
                match &e.subtype {
                    Some(s) => format!("{kind}:{s}"),
                    None => kind,
                }
            })
            .collect();
        let expected = EXPECTED
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("{name}: add it to EXPECTED"))
            .1;
        assert_eq!(got, expected, "{name}: events");

        for e in &evs {
            let line = e.to_json_line().unwrap();
            assert!(!line.contains('\n'), "{name}: event is not one line");
            let v: Value = serde_json::from_str(&line).unwrap();
            assert!(
                v.get("kind").is_some() && v.get("item").is_some(),
                "{name}: {line}"
            );
            // Every item sits where its path says.
            assert!(e.path.starts_with("entry["), "{name}: path {}", e.path);
        }

        let flags = parsed.unknowns();
        if !may_have_flags(name) {
            assert!(
                flags.is_empty(),
                "{name}: unexpected unknown parts {flags:?}"
            );
            assert!(
                evs.iter().all(|e| e.flags.is_empty()),
                "{name}: event flags"
            );
        }
        let malformed = parsed
            .changes()
            .filter(|(_, c)| matches!(c.value, ChangeValue::Malformed { .. }))
            .count();
        if !name.contains("malformed") {
            assert_eq!(malformed, 0, "{name}: malformed change");
        }
    }
    // Every listed fixture exists.
    for (name, _) in EXPECTED {
        assert!(
            fixtures.iter().any(|(n, _)| n == name),
            "{name} listed but missing"
        );
    }
}

#[test]
fn flagged_fixtures_do_report_unknown_parts() {
    for (name, body) in all_fixtures() {
        if name.starts_with("unknown_") || name.contains("_syntax") {
            let parsed = parse_notification(&body).unwrap();
            let from_events: usize = events(&parsed).iter().map(|e| e.flags.len()).sum();
            assert!(!parsed.unknowns().is_empty(), "{name}: nothing flagged");
            assert!(from_events > 0, "{name}: events carry no flags");
        }
    }
}
