//! Status webhooks: kinds, pricing, conversation, errors, BSUID fields and their old names.

use coex_meta::webhook::{
    ChangeValue, PricingCategory, PricingModel, PricingType, Status, StatusKind,
};

use crate::support::only_value;

fn statuses(name: &str) -> Vec<Status> {
    match only_value(name) {
        ChangeValue::Messages(v) => v.statuses.unwrap(),
        other => panic!("{name}: {other:?}"),
    }
}

#[test]
fn sent_with_conversation_and_pricing() {
    let s = &statuses("spec_3_3_status_sent.json")[0];
    assert_eq!(s.status, StatusKind::Sent);
    assert_eq!(s.timestamp_seconds(), Some(1_750_030_073));
    assert_eq!(s.recipient_id.as_ref().unwrap().as_str(), "16505551234");
    let c = s.conversation.as_ref().unwrap();
    assert_eq!(
        c.expiration_timestamp.as_ref().unwrap().seconds(),
        Some(1_750_116_480)
    );
    assert_eq!(
        c.origin.as_ref().unwrap().kind,
        Some(PricingCategory::Marketing)
    );
    let p = s.pricing.as_ref().unwrap();
    assert_eq!(p.billable, Some(true));
    assert_eq!(p.pricing_model, Some(PricingModel::Pmp));
    assert_eq!(p.kind, Some(PricingType::Regular));
}

#[test]
fn older_cbp_and_free_service() {
    let s = &statuses("spec_3_3_status_delivered_cbp.json")[0];
    assert_eq!(s.status, StatusKind::Delivered);
    let p = s.pricing.as_ref().unwrap();
    assert_eq!(p.pricing_model, Some(PricingModel::Cbp));
    assert!(p.kind.is_none());
    assert_eq!(p.category, Some(PricingCategory::Service));

    let s = &statuses("spec_3_3_status_read_free_service.json")[0];
    assert_eq!(s.status, StatusKind::Read);
    let p = s.pricing.as_ref().unwrap();
    assert_eq!(p.billable, Some(false));
    assert_eq!(p.kind, Some(PricingType::FreeCustomerService));
}

#[test]
fn failed_carries_errors_and_no_bsuid() {
    let s = &statuses("spec_3_3_status_failed.json")[0];
    assert_eq!(s.status, StatusKind::Failed);
    assert!(s.recipient_user_id.is_none());
    let e = &s.errors.as_ref().unwrap()[0];
    assert_eq!(e.code, Some(131_049));
    assert!(
        e.error_data
            .as_ref()
            .unwrap()
            .details
            .as_deref()
            .unwrap()
            .contains("healthy")
    );
    assert!(e.href.is_some());
}

#[test]
fn bsuid_status_and_parent_names() {
    let s = &statuses("spec_10_3_status_delivered_bsuid.json")[0];
    assert!(s.recipient_id.is_none());
    assert_eq!(
        s.recipient_user_id.as_ref().unwrap().as_str(),
        "US.13491208655302741918"
    );
    assert_eq!(
        s.recipient_parent().unwrap().as_str(),
        "US.ENT.11815799212886844830"
    );

    // All three names Meta used for the parent BSUID are read (spec §10.6).
    let all = statuses("status_legacy_parent_names.json");
    assert!(all[0].parent_user_id.is_some());
    assert!(all[1].parent_recipient_user_id.is_some());
    for s in &all {
        assert_eq!(
            s.recipient_parent().unwrap().as_str(),
            "US.ENT.11815799212886844830"
        );
    }
}

#[test]
fn group_and_played() {
    let s = &statuses("status_played_group.json")[0];
    assert_eq!(s.status, StatusKind::Played);
    assert_eq!(s.recipient_type.as_deref(), Some("group"));
    assert_eq!(
        s.recipient_participant_id.as_ref().unwrap().as_str(),
        "16505551234"
    );
    assert!(s.recipient_participant_user_id.is_some());
    assert!(s.recipient_participant_parent_user_id.is_some());
    assert_eq!(
        s.recipient_identity_key_hash.as_deref(),
        Some("DF2lS5v2W6x=")
    );
    assert_eq!(s.biz_opaque_callback_data.as_deref(), Some("order-42"));
}

#[test]
fn unknown_values_are_kept() {
    let s = &statuses("unknown_enum_values.json")[0];
    assert_eq!(s.status, StatusKind::Unknown("deleted".into()));
    let p = s.pricing.as_ref().unwrap();
    assert_eq!(
        p.pricing_model,
        Some(PricingModel::Unknown("TIERED".into()))
    );
    assert_eq!(p.kind.as_ref().unwrap().as_str(), "free_promo");
    assert!(p.category.as_ref().unwrap().is_unknown());
}

#[test]
fn value_level_error() {
    let ChangeValue::Messages(v) = only_value("spec_1_1_value_error.json") else {
        panic!()
    };
    assert!(v.messages.is_none() && v.statuses.is_none());
    let e = &v.errors.unwrap()[0];
    assert_eq!(e.code, Some(130_429));
    assert_eq!(e.title.as_deref(), Some("Rate limit hit"));
}
