//! Number lifecycle from `account_update`.

use coex_core::model::*;
use coex_store::Store;

use crate::harness::*;

fn account(kind: &str, secs: i64, phone_digits: Option<&str>, reason: Option<&str>) -> Ingest {
    Ingest::AccountEvent(AccountEvent {
        waba: waba(),
        phone: phone_digits.map(phone),
        kind: AccountEventKind::from_meta(kind),
        reason: reason.map(str::to_owned),
        timestamp: t(secs),
        detail: Some(RawJson::new(format!(r#"{{"event":"{kind}"}}"#))),
    })
}

both!(disconnect_and_reconnect, |db| async {
    let f = db.fixture().await;
    db.apply(vec![inbound(
        "wamid.keep",
        by_phone("16505551234"),
        50,
        "keep me",
    )])
    .await;

    let s = db
        .apply(vec![account(
            "PARTNER_REMOVED",
            100,
            Some(DISPLAY),
            Some("PRIMARY_INACTIVITY"),
        )])
        .await;
    assert_eq!(s.account_state_changes, 1);
    let n = db.store.get_number(&f.number.id).await.unwrap();
    assert_eq!(n.state, NumberState::Disconnected);
    assert_eq!(n.state_reason.as_deref(), Some("PRIMARY_INACTIVITY"));
    assert!(!n.state.can_send());
    // The data stays.
    assert_eq!(
        db.message("wamid.keep").await.content.body.as_deref(),
        Some("keep me")
    );

    // Redelivery: recorded once.
    let s = db
        .apply(vec![account(
            "PARTNER_REMOVED",
            100,
            Some(DISPLAY),
            Some("PRIMARY_INACTIVITY"),
        )])
        .await;
    assert_eq!(s.account_events_duplicate, 1);

    db.apply(vec![account("ACCOUNT_RECONNECTED", 200, None, None)])
        .await;
    let n = db.store.get_number(&f.number.id).await.unwrap();
    assert_eq!(n.state, NumberState::Connected);
    assert_eq!(n.state_reason, None);
    assert_eq!(n.state_changed_at, t(200));

    // An older event arriving late is recorded but does not undo the newer state.
    let s = db
        .apply(vec![account("ACCOUNT_OFFBOARDED", 150, None, None)])
        .await;
    assert_eq!((s.account_events, s.account_state_changes), (1, 0));
    assert_eq!(
        db.store.get_number(&f.number.id).await.unwrap().state,
        NumberState::Connected
    );

    let events = db.store.number_events(&f.number.id, 10).await.unwrap();
    assert_eq!(events.len(), 3);
    assert_eq!(events[0].kind, AccountEventKind::AccountReconnected);
    assert_eq!(
        events[0].state_change,
        Some((NumberState::Disconnected, NumberState::Connected))
    );
    assert_eq!(events[1].kind, AccountEventKind::AccountOffboarded);
    assert_eq!(events[1].state_change, None);

    let feed = db
        .store
        .events_after(f.ws.id, EventSeq::new(0), 100)
        .await
        .unwrap();
    assert_eq!(
        feed.iter()
            .filter(|e| e.kind == EventKind::NumberState)
            .count(),
        2
    );
});

both!(waba_wide_events_reach_every_number, |db| async {
    db.fixture().await;
    db.store
        .upsert_number(&new_number("222", "15550000002"))
        .await
        .unwrap();
    let s = db
        .apply(vec![account("PARTNER_APP_UNINSTALLED", 100, None, None)])
        .await;
    assert_eq!(s.account_state_changes, 2);
    for n in db.store.list_numbers(None).await.unwrap() {
        assert_eq!(n.state, NumberState::AppUninstalled, "{}", n.id);
    }
    db.apply(vec![account(
        "DISABLED_UPDATE",
        200,
        Some("15550000002"),
        Some("DISABLE"),
    )])
    .await;
    let n = db
        .store
        .get_number(&coex_core::PhoneNumberId::parse("222").unwrap())
        .await
        .unwrap();
    assert_eq!(n.state, NumberState::Banned);
    assert_eq!(n.state_reason.as_deref(), Some("DISABLE"));
    assert_eq!(
        db.store.get_number(&number()).await.unwrap().state,
        NumberState::AppUninstalled
    );
});

both!(
    device_events_without_a_phone_leave_cloud_api_numbers_alone,
    |db| async {
        db.fixture().await;
        let mut api_only = new_number("333", "15550000003");
        api_only.kind = NumberKind::CloudApi;
        let api_only = db.store.upsert_number(&api_only).await.unwrap().id;
        // Both numbers lose the platform: the WABA-wide uninstall reaches each of them.
        db.apply(vec![account("PARTNER_APP_UNINSTALLED", 100, None, None)])
            .await;
        // The phone app's device comes back: Meta names no number, and only a coexistence
        // number has such a device.
        let s = db
            .apply(vec![account("ACCOUNT_RECONNECTED", 200, None, None)])
            .await;
        assert_eq!(s.account_state_changes, 1);
        assert_eq!(
            db.store.get_number(&number()).await.unwrap().state,
            NumberState::Connected
        );
        assert_eq!(
            db.store.get_number(&api_only).await.unwrap().state,
            NumberState::AppUninstalled
        );
        assert!(
            db.store
                .number_events(&api_only, 10)
                .await
                .unwrap()
                .iter()
                .all(|e| e.kind != AccountEventKind::AccountReconnected)
        );
        // Named explicitly, an event reaches a Cloud API number as any other.
        db.apply(vec![account(
            "PARTNER_APP_INSTALLED",
            300,
            Some("15550000003"),
            None,
        )])
        .await;
        assert_eq!(
            db.store.get_number(&api_only).await.unwrap().state,
            NumberState::Connected
        );
    }
);

both!(events_for_unknown_numbers_are_kept, |db| async {
    db.fixture().await;
    let mut stranger = inbound("wamid.s", by_phone("16505551234"), 10, "to whom?");
    if let Ingest::InboundMessage(m) = &mut stranger {
        m.number = coex_core::PhoneNumberId::parse("000").unwrap();
    }
    let unknown_waba = Ingest::AccountEvent(AccountEvent {
        waba: coex_core::WabaId::parse("777").unwrap(),
        phone: None,
        kind: AccountEventKind::AccountOffboarded,
        reason: None,
        timestamp: t(1),
        detail: None,
    });
    let s = db.apply(vec![stranger, unknown_waba]).await;
    assert_eq!((s.unknown_number, s.change_errors), (2, 2));
    let errors = db.store.change_errors(0, 10).await.unwrap();
    assert_eq!(errors.len(), 2);
    assert_eq!(errors[0].number.as_deref(), Some("000"));
    assert!(errors[0].raw.contains("wamid.s"), "{}", errors[0].raw);
    assert_eq!(errors[1].waba.as_deref(), Some("777"));
});
