//! `account_update` and `business_username_update`, including Meta's misplaced examples.

use coex_meta::webhook::{
    AccountEvent, BanState, ChangeValue, DisconnectionReason, InitiatedBy, UsernameStatus,
};

use crate::support::{load, only_value};

fn account(name: &str) -> coex_meta::webhook::AccountUpdateValue {
    match only_value(name) {
        ChangeValue::AccountUpdate(v) => *v,
        other => panic!("{name}: {other:?}"),
    }
}

#[test]
fn coexistence_disconnection() {
    let n = load("spec_2_5_partner_removed.json");
    assert_eq!(n.entry[0].time_seconds(), Some(1_739_212_624));
    let v = account("spec_2_5_partner_removed.json");
    assert_eq!(v.event, Some(AccountEvent::PartnerRemoved));
    assert_eq!(v.phone_number.as_ref().unwrap().as_str(), "15550783881");
    let d = v.disconnection_info.unwrap();
    assert_eq!(d.reason, Some(DisconnectionReason::PrimaryInactivity));
    assert_eq!(d.initiated_by, Some(InitiatedBy::System));
}

#[test]
fn offboarded_and_reconnected_keep_time_forms() {
    let off = load("spec_2_5_account_offboarded.json");
    let on = load("spec_2_5_account_reconnected.json");
    // Meta's example: RECONNECTED carries the earlier time.
    assert!(on.entry[0].time_seconds() < off.entry[0].time_seconds());
    assert_eq!(
        account("spec_2_5_account_offboarded.json").event,
        Some(AccountEvent::AccountOffboarded)
    );

    let quoted = load("account_time_quoted.json");
    assert_eq!(quoted.entry[0].time_seconds(), Some(1_768_477_204));
    assert_eq!(
        serde_json::to_value(&quoted).unwrap()["entry"][0]["time"],
        serde_json::json!("1768477204")
    );
}

#[test]
fn partner_events_and_misplaced_fields() {
    let v = account("spec_2_5_partner_app_uninstalled.json");
    assert_eq!(v.event, Some(AccountEvent::PartnerAppUninstalled));
    let w = v.waba_info.unwrap();
    assert_eq!(w.waba_id.unwrap().as_str(), "184943124712545");
    assert_eq!(w.partner_app_id.as_deref(), Some("869361281603019"));

    // `field` and `object` inside `value`, no `object` at the top.
    let n = load("meta_example_partner_app_uninstalled.json");
    assert!(n.object.is_none());
    let c = &n.entry[0].changes[0];
    assert!(c.field.is_none());
    assert_eq!(c.field_name(), Some("account_update"));
    let ChangeValue::AccountUpdate(v) = &c.value else {
        panic!()
    };
    assert_eq!(v.event, Some(AccountEvent::PartnerAppUninstalled));
    assert!(v.extra.contains_key("field") && v.extra.contains_key("object"));

    // `field` and `object` on the entry.
    let n = load("meta_example_partner_app_installed.json");
    let ChangeValue::AccountUpdate(v) = &n.entry[0].changes[0].value else {
        panic!()
    };
    assert_eq!(v.event, Some(AccountEvent::PartnerAppInstalled));
    let w = v.waba_info.as_ref().unwrap();
    assert_eq!(w.solution_partner_business_ids.as_ref().unwrap().len(), 2);
    assert!(n.entry[0].extra.contains_key("field"));

    let v = account("account_partner_added.json");
    assert_eq!(v.event, Some(AccountEvent::PartnerAdded));
    assert_eq!(
        v.waba_info.unwrap().solution_id.as_deref(),
        Some("1715120619246906")
    );
}

#[test]
fn enforcement_events() {
    let v = account("account_restriction.json");
    assert_eq!(v.event, Some(AccountEvent::AccountRestriction));
    let r = v.restriction_info.unwrap();
    assert_eq!(r.len(), 2);
    assert_eq!(
        r[0].expiration.as_ref().unwrap().seconds(),
        Some(1_741_219_200)
    );

    let v = account("account_violation.json");
    assert_eq!(
        v.violation_info.unwrap().violation_type.as_deref(),
        Some("ADULT")
    );

    let v = account("account_disabled_update.json");
    let b = v.ban_info.unwrap();
    assert_eq!(b.waba_ban_state, Some(BanState::Reinstate));
    assert_eq!(b.waba_ban_date.as_deref(), Some("April 17, 2025"));

    assert_eq!(
        account("account_deleted.json").event,
        Some(AccountEvent::AccountDeleted)
    );
}

#[test]
fn other_events() {
    let v = account("account_primary_location.json");
    assert_eq!(v.country.as_deref(), Some("IN"));
    let v = account("account_ad_account_linked.json");
    assert_eq!(
        v.waba_info.unwrap().ad_account_linked.as_deref(),
        Some("980198427534243")
    );
    assert!(
        account("account_auth_intl_eligibility.json")
            .auth_international_rate_eligibility
            .is_some()
    );
    assert!(
        account("account_certification_status.json")
            .partner_client_certification_info
            .is_some()
    );
    assert!(
        account("account_volume_tier.json")
            .volume_tier_info
            .is_some()
    );
    assert_eq!(
        account("account_mm_lite_terms.json").event,
        Some(AccountEvent::MmLiteTermsSigned)
    );
}

#[test]
fn business_username() {
    let ChangeValue::BusinessUsernameUpdate(v) = only_value("business_username_approved.json")
    else {
        panic!()
    };
    assert_eq!(v.status, Some(UsernameStatus::Approved));
    assert_eq!(v.username.as_deref(), Some("luckyshrub"));
    let ChangeValue::BusinessUsernameUpdate(v) = only_value("business_username_deleted.json")
    else {
        panic!()
    };
    assert_eq!(v.status, Some(UsernameStatus::Deleted));
    assert!(v.username.is_none());
}
