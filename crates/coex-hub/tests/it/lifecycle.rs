//! The number's lifecycle from the phone app's side: the owner disconnects (`account_update`
//! `PARTNER_REMOVED`), the number is disconnected with its reason and keeps its data; a
//! reconnection brings it back; fourteen days without opening the app disconnect it again
//! with `PRIMARY_INACTIVITY`.

use coex_core::model::{AccountEventKind, NumberState, SyncJob, SyncKind, SyncState};
use coex_store::Store;
use serde_json::json;

use crate::both_backends;
use crate::harness::{Backend, Env};

async fn disconnect_reconnect_and_inactivity(backend: Backend) {
    let env = Env::start(backend).await;
    let coex = env.coex();
    env.advance("1m").await;
    env.act(json!({ "action": "customer_sends", "customer": "alice", "text": "Open today?" }))
        .await;
    env.advance("2m").await;
    let echo = env
        .act(json!({ "action": "app_sends", "customer": "alice", "text": "Until six." }))
        .await;
    env.quiesce().await;
    let echo_at = env
        .store
        .get_message(
            &coex,
            &coex_core::Wamid::parse(echo["id"].as_str().unwrap()).unwrap(),
        )
        .await
        .unwrap()
        .timestamp;
    let number = env.store.get_number(&coex).await.unwrap();
    assert_eq!(number.state, NumberState::Connected);
    // The echo is the phone app's latest sign of life (the 13-day rule).
    assert_eq!(number.last_app_activity_at, Some(echo_at));
    let kept = env.messages(&coex).await;
    assert!(kept.len() > 40, "history and live messages: {}", kept.len());

    // The owner disconnects from the app.
    env.advance("1h").await;
    let disconnected_at = env.now();
    env.act(json!({ "action": "app_disconnects" })).await;
    env.quiesce().await;
    let number = env.store.get_number(&coex).await.unwrap();
    assert_eq!(number.state, NumberState::Disconnected);
    assert_eq!(number.state_reason.as_deref(), Some("ACCOUNT_DISCONNECTED"));
    assert_eq!(number.state_changed_at.as_secs(), disconnected_at.as_secs());
    assert!(!number.state.can_send());
    let events = env.store.number_events(&coex, 10).await.unwrap();
    assert_eq!(events[0].kind, AccountEventKind::PartnerRemoved);
    assert_eq!(
        events[0].state_change,
        Some((NumberState::Connected, NumberState::Disconnected))
    );
    // Only that number: the Cloud API number is untouched.
    let cloud = env.store.get_number(&env.cloud()).await.unwrap();
    assert_eq!(cloud.state, NumberState::Connected);
    // All data kept, and the REST API shows the state.
    assert_eq!(env.messages(&coex).await, kept);
    let rest = env.rest(&format!("/numbers/{coex}")).await;
    assert_eq!(rest["state"], "disconnected", "{rest}");
    assert_eq!(rest["state_reason"], "ACCOUNT_DISCONNECTED");

    // The owner reconnects from the app: Meta sends ACCOUNT_RECONNECTED (spec/cloud-api.md
    // §2.5), which names no phone number, so it applies to the WABA's disconnected numbers.
    env.advance("1h").await;
    let reconnected_at = env.now();
    env.act(json!({ "action": "app_reconnects" })).await;
    env.quiesce().await;
    let number = env.store.get_number(&coex).await.unwrap();
    assert_eq!(number.state, NumberState::Connected);
    assert_eq!(number.state_reason, None);
    assert_eq!(number.state_changed_at.as_secs(), reconnected_at.as_secs());
    let events = env.store.number_events(&coex, 10).await.unwrap();
    assert_eq!(events[0].kind, AccountEventKind::AccountReconnected);
    assert_eq!(
        events[0].state_change,
        Some((NumberState::Disconnected, NumberState::Connected))
    );
    assert_eq!(env.messages(&coex).await, kept);
    // Onboarding again (as `coex serve` does at every start) asks for the syncs once more,
    // since the number left after they were requested; Meta answers that this onboarding
    // asked already (the app reconnected, nobody onboarded anew), and the earlier jobs stand.
    let jobs_before = env.store.sync_progress(&coex).await.unwrap();
    let again = env.onboard().await;
    let mine = again.iter().find(|n| n.id == coex).unwrap();
    for answer in [&mine.contacts_sync, &mine.history_sync] {
        let refused = answer.as_ref().unwrap().as_ref().unwrap_err();
        assert!(refused.contains("2593107"), "{refused}");
    }
    assert_eq!(env.store.sync_progress(&coex).await.unwrap(), jobs_before);
    assert_eq!(
        env.store.get_number(&coex).await.unwrap().state,
        NumberState::Connected
    );

    // Thirteen days without opening the app: still connected. Fourteen: Meta disconnects.
    env.advance("13d").await;
    env.quiesce().await;
    assert_eq!(
        env.store.get_number(&coex).await.unwrap().state,
        NumberState::Connected
    );
    env.advance("1d").await;
    env.quiesce().await;
    let number = env.store.get_number(&coex).await.unwrap();
    assert_eq!(number.state, NumberState::Disconnected);
    assert_eq!(number.state_reason.as_deref(), Some("PRIMARY_INACTIVITY"));
    let events = env.store.number_events(&coex, 10).await.unwrap();
    assert_eq!(events[0].kind, AccountEventKind::PartnerRemoved);
    assert_eq!(events[0].reason.as_deref(), Some("PRIMARY_INACTIVITY"));
    assert_eq!(env.messages(&coex).await, kept);
    env.finish().await;
}
both_backends!(disconnect_reconnect_and_inactivity);

/// The owner disconnects, then onboards the number again: the new onboarding may ask for the
/// contacts and the history once more, and the new import adds nothing twice.
async fn a_new_onboarding_syncs_again(backend: Backend) {
    let env = Env::start(backend).await;
    let coex = env.coex();
    // Contacts, every history chunk and the media follow-ups.
    env.advance("10m").await;
    env.quiesce().await;
    let first = env.store.sync_progress(&coex).await.unwrap();
    let history = |jobs: &[SyncJob]| {
        jobs.iter()
            .find(|j| j.kind == SyncKind::History)
            .cloned()
            .unwrap()
    };
    assert_eq!(history(&first).state, SyncState::Complete);
    let kept = env.messages(&coex).await;

    env.advance("1h").await;
    env.act(json!({ "action": "app_disconnects" })).await;
    env.quiesce().await;
    env.advance("1h").await;
    env.ctl("POST", &format!("/numbers/{coex}/reonboard"), None)
        .await;
    env.quiesce().await;
    assert_eq!(
        env.store.get_number(&coex).await.unwrap().state,
        NumberState::Connected
    );

    let again = env.onboard().await;
    let mine = again.iter().find(|n| n.id == coex).unwrap();
    let new_history = mine.history_sync.clone().unwrap().unwrap();
    assert!(mine.contacts_sync.as_ref().unwrap().is_ok(), "{mine:?}");
    assert_ne!(
        Some(new_history.as_str()),
        history(&first).request_id.as_ref().map(|r| r.as_str())
    );
    env.advance("10m").await;
    env.quiesce().await;
    let jobs = env.store.sync_progress(&coex).await.unwrap();
    let h = history(&jobs);
    assert_eq!(
        h.request_id.as_ref().map(|r| r.as_str()),
        Some(new_history.as_str())
    );
    assert_eq!(h.state, SyncState::Complete);
    assert!(h.chunks_received > 0);
    // The same history came again: nothing is stored twice.
    assert_eq!(env.messages(&coex).await, kept);
    // A later start asks nothing: the jobs are newer than the departure.
    let later = env.onboard().await;
    let mine = later.iter().find(|n| n.id == coex).unwrap();
    assert!(mine.contacts_sync.is_none() && mine.history_sync.is_none());
    env.finish().await;
}
both_backends!(a_new_onboarding_syncs_again);
