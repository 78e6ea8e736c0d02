//! History import: six months of 1:1 chats with groups and old media in the phone app end as
//! exactly the messages and placeholders Meta's rules allow, with their original timestamps
//! and without ever opening the 24 h window; a declined history is a state; and a chunk close
//! to 3 MB is acknowledged first and fanned out into rows in the background while live
//! traffic keeps being stored.

use std::collections::BTreeSet;

use coex_core::Wamid;
use coex_core::model::SyncState;
use coex_sim::world::seed::WorldSpec;
use coex_store::Store;
use serde_json::{Value, json};

use crate::both_backends;
use crate::expected::{Expected, assert_store_matches};
use crate::harness::{Backend, Env, Options};

const DAY_SECS: i64 = 86_400;

/// The coexistence number's onboarding instant in the emulator, in seconds.
async fn onboarded_at(env: &Env) -> i64 {
    let world = env.world().await;
    world["numbers"][0]["onboarded_at"].as_i64().unwrap() / 1000
}

async fn six_months_of_history(backend: Backend) {
    let env = Env::start(backend).await;
    let coex = env.coex();
    let onboarded = onboarded_at(&env).await;
    // Contacts, every history chunk and the media follow-ups.
    env.advance("10m").await;
    env.quiesce().await;
    let deliveries = env.deliveries().await;
    assert!(deliveries.iter().all(|d| d.state == "delivered"));
    let expected = Expected::from_deliveries(&deliveries);
    assert_store_matches(&env, &expected).await;

    // Meta's rules, checked on the store itself.
    let stored = env.messages(&coex).await;
    let history: Vec<_> = stored
        .values()
        .filter(|m| m.origin.as_str() == "history_import")
        .collect();
    assert_eq!(history.len(), stored.len(), "only history so far");
    for m in &history {
        let at = m.timestamp.as_secs();
        // Original timestamps, within the 180 days before onboarding.
        assert!(at <= onboarded, "{m:?}");
        assert!(
            at >= onboarded - 180 * DAY_SECS,
            "older than six months: {m:?}"
        );
        // Media of the last 14 days arrive with their content; older ones stay placeholders.
        let recent = at > onboarded - 14 * DAY_SECS;
        if recent {
            assert_ne!(m.content.kind.as_str(), "media_placeholder", "{m:?}");
        }
        if m.content.kind.as_str() == "image" {
            assert!(recent, "media older than 14 days: {m:?}");
            assert!(m.content.media.as_ref().is_some_and(|x| x.id.is_some()));
        }
    }
    let placeholders = history
        .iter()
        .filter(|m| m.content.kind.as_str() == "media_placeholder")
        .count();
    let filled = history
        .iter()
        .filter(|m| m.content.kind.as_str() == "image")
        .count();
    assert!(
        placeholders > 0 && filled > 0,
        "{placeholders} placeholders, {filled} media"
    );
    assert!(history.iter().any(|m| m.direction.as_str() == "outbound"));
    assert!(history.iter().any(|m| m.direction.as_str() == "inbound"));

    // The phone app had more: a group chat and chats older than six months, none imported.
    let world = env.world().await;
    let app = &world["numbers"][0]["app"];
    assert!(app["history_threads"].as_u64().unwrap() > 5, "{app}");
    assert!(app["history_messages"].as_u64().unwrap() as usize > history.len() + 5);
    let conversations = env.conversations(&coex).await;
    let with: BTreeSet<String> = conversations
        .iter()
        .map(|c| c.contact.bsuid.as_ref().unwrap().to_string())
        .collect();
    let want: BTreeSet<String> = ["alice", "bruno", "chen", "dana", "emre"]
        .iter()
        .map(|k| env.customer(k).user_id)
        .collect();
    assert_eq!(with, want, "one conversation per 1:1 chat, no group");

    // History never opens the customer-service window, and neither do echoes.
    for c in &conversations {
        assert_eq!(c.conversation.last_inbound_at, None, "{c:?}");
        assert_eq!(c.conversation.last_echo_at, None, "{c:?}");
    }
    let job = env
        .store
        .sync_progress(&coex)
        .await
        .unwrap()
        .into_iter()
        .find(|j| j.kind.as_str() == "history")
        .unwrap();
    assert_eq!(job.state, SyncState::Complete);
    assert_eq!(job.progress, 100);
    assert_eq!(job.items_received as usize, history.len());

    let alice = env.customer("alice").user_id;
    let conv_of_alice = || async {
        env.conversations(&coex)
            .await
            .into_iter()
            .find(|c| c.contact.bsuid.as_ref().unwrap().as_str() == alice)
            .unwrap()
            .conversation
    };
    env.act(json!({ "action": "app_sends", "customer": "alice", "text": "We're back!" }))
        .await;
    let c = conv_of_alice().await;
    assert_eq!(c.last_inbound_at, None, "an echo opened the window");
    assert_eq!(
        c.last_echo_at.map(|t| t.as_secs()),
        Some(env.now().as_secs())
    );
    env.advance("5m").await;
    env.act(json!({ "action": "customer_sends", "customer": "alice", "text": "Great!" }))
        .await;
    let c = conv_of_alice().await;
    assert_eq!(
        c.last_inbound_at.map(|t| t.as_secs()),
        Some(env.now().as_secs())
    );
    env.finish().await;
}
both_backends!(six_months_of_history);

async fn declined_history_is_a_state(backend: Backend) {
    let mut world = WorldSpec::default();
    world.numbers[0].history_shared = false;
    let env = Env::start_with(
        backend,
        Options {
            world,
            ..Options::default()
        },
    )
    .await;
    let coex = env.coex();
    env.advance("1m").await;
    env.quiesce().await;
    let job = env
        .store
        .sync_progress(&coex)
        .await
        .unwrap()
        .into_iter()
        .find(|j| j.kind.as_str() == "history")
        .unwrap();
    assert_eq!(job.state, SyncState::Declined, "{job:?}");
    assert_eq!(job.error.as_ref().map(|e| e.code), Some(2_593_109));
    assert!(env.messages(&coex).await.is_empty());
    // Shown through the REST API too.
    let sync = env.rest(&format!("/numbers/{coex}/sync")).await;
    let history = sync["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["kind"] == "history")
        .unwrap();
    assert_eq!(history["state"], "declined", "{sync}");
    env.finish().await;
}
both_backends!(declined_history_is_a_state);

/// One customer with a long history, so one history chunk is close to Meta's 3 MB limit.
fn big_history_world(messages: usize) -> WorldSpec {
    let mut world = WorldSpec::default();
    for c in &mut world.customers {
        c.history_messages = if c.key == "alice" { messages } else { 0 };
    }
    world
}

/// Messages in Alice's history: the phase-1 chunk (1 to 90 days) then holds about 60 % of
/// them, a little under 3 MB.
const BIG_HISTORY: usize = 19_000;

async fn a_3mb_chunk_is_acknowledged_then_fanned_out(backend: Backend) {
    let env = Env::start_with(
        backend,
        Options {
            world: big_history_world(BIG_HISTORY),
            history_chunk_messages: BIG_HISTORY,
            ..Options::default()
        },
    )
    .await;
    let coex = env.coex();
    // The contact sync (at 1 s) and the three history chunks (one per phase, 2 s apart), but
    // not yet the media follow-ups that come after them.
    env.advance("7s").await;
    let deliveries = env.deliveries().await;
    let chunks: Vec<_> = deliveries
        .iter()
        .filter(|d| d.changes.iter().any(|c| c.field == "history"))
        .collect();
    assert_eq!(
        chunks.len(),
        3,
        "{:?}",
        deliveries.iter().map(|d| &d.changes).collect::<Vec<_>>()
    );
    let biggest = chunks.iter().map(|d| d.body.len()).max().unwrap();
    assert!(
        (2_500_000..=3 * 1024 * 1024).contains(&biggest),
        "the biggest chunk is {biggest} bytes"
    );
    // A chunk that is large, or carries more messages than one background piece (100 by
    // default), was acknowledged after being archived only; a small one was applied inline.
    for d in &chunks {
        let attempt = d.attempts.last().unwrap();
        assert_eq!(attempt.status, Some(200), "{attempt:?}");
        let receipt: Value = serde_json::from_str(attempt.response_body.as_ref().unwrap()).unwrap();
        let body: Value = serde_json::from_str(&d.body).unwrap();
        let messages: usize = body["entry"][0]["changes"][0]["value"]["history"][0]["threads"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["messages"].as_array().map_or(0, Vec::len))
            .sum();
        let deferred = d.body.len() >= 256 * 1024 || messages > 100;
        assert_eq!(
            receipt["deferred"], deferred,
            "{messages} messages: {receipt}"
        );
    }

    // Live traffic meanwhile: stored and acknowledged as usual.
    let live = env
        .act(json!({ "action": "customer_sends", "customer": "alice", "text": "Still there?" }))
        .await;
    let live_delivery = env.deliveries().await.into_iter().last().unwrap();
    let receipt: Value = serde_json::from_str(
        live_delivery
            .attempts
            .last()
            .unwrap()
            .response_body
            .as_ref()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(receipt["deferred"], false, "{receipt}");
    assert_eq!(receipt["events"], 1, "{receipt}");
    let live_wamid = Wamid::parse(live["id"].as_str().unwrap()).unwrap();
    let stored = env.store.get_message(&coex, &live_wamid).await.unwrap();
    assert_eq!(stored.content.body.as_deref(), Some("Still there?"));

    // The background fan-out ends with every history message stored.
    env.quiesce().await;
    let expected = Expected::from_deliveries(&env.deliveries().await);
    let history = expected.history_count[coex.as_str()];
    assert!(history > 15_000, "{history}");
    assert_store_matches(&env, &expected).await;
    let job = env
        .store
        .sync_progress(&coex)
        .await
        .unwrap()
        .into_iter()
        .find(|j| j.kind.as_str() == "history")
        .unwrap();
    assert_eq!(job.items_received as usize, history);
    assert_eq!(job.state, SyncState::Complete);
    env.finish().await;
}
both_backends!(a_3mb_chunk_is_acknowledged_then_fanned_out);
