//! The number's lifecycle from the phone app's side: the owner disconnects (`account_update`
//! `PARTNER_REMOVED`), the number is disconnected with its reason and keeps its data; a
//! reconnection brings it back; fourteen days without opening the app disconnect it again
//! with `PRIMARY_INACTIVITY`.

use coex_core::model::{AccountEventKind, NumberState};
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
    // Onboarding again (as `coex serve` does at every start) changes nothing: the syncs were
    // requested once already.
    let again = env.onboard().await;
    assert!(
        again
            .iter()
            .all(|n| n.history_sync.is_none() && n.contacts_sync.is_none())
    );
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
