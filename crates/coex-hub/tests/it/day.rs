//! A scripted business day from the emulator (the shipped scenario plus our own steps: a
//! customer's edit, an app revoke, contacts edited and removed, a location, traffic on the
//! Cloud API number, and platform sends whose statuses come back, one of them overtaking the
//! send's own record) ends with the store holding exactly what the emulator delivered; the
//! same day in chaos mode ends with the same store content.

use std::collections::BTreeSet;

use coex_core::model::SyncState;
use coex_store::Store;
use serde_json::{Value, json};

use crate::both_backends;
use crate::expected::{Expected, assert_store_matches, canonical_dump, json_diff};
use crate::harness::{Backend, Delivery, Env, Options};

/// Our steps beside the shipped scenario, at offsets from the start.
fn extra_steps(env: &Env) -> String {
    let cloud = env.cloud();
    format!(
        r#"
[[step]]
at = "20m"
action = "customer_edits"
customer = "alice"
text = "Yes please, I'll come by at 1pm 🌵"

[[step]]
at = "50m"
action = "app_revokes"

[[step]]
at = "3h5m"
action = "customer_sends"
customer = "bruno"
message = {{ type = "location", location = {{ latitude = 37.48, longitude = -122.15, name = "Lucky Shrub" }} }}

[[step]]
at = "6h"
action = "app_contact_removed"
phone = "+15550002222"

[[step]]
at = "6h10m"
action = "app_contact_saved"
name = "Green Supplier"
phone = "+15550001111"

[[step]]
at = "7h"
action = "customer_sends"
customer = "bruno"
number = "{cloud}"
text = "A question for support"
"#
    )
}

/// A platform send the test made: (wamid, customer, request body, recorded at).
pub type Sent = (String, String, Value, i64);

/// Plays the day on `env` (the scenario, our steps and the platform's sends, then ten
/// hours of virtual time); returns the platform's sends.
pub async fn play_script(env: &Env) -> Vec<Sent> {
    env.scenario(coex_sim::scenario::BUSINESS_DAY).await;
    env.scenario(&extra_steps(env)).await;
    let coex = env.coex();
    let mut sent: Vec<Sent> = Vec::new();

    // Alice has written (1m, 6m): an agent answers through the API.
    env.advance("8m").await;
    let text = json!({ "type": "text", "text": { "body": "We open at 9." } });
    let w = env.api_send(&coex, "alice", text.clone()).await;
    sent.push((w.to_string(), "alice".into(), text, env.now().as_secs()));

    // Afternoon: a campaign (Dana and Emre answer it automatically), and a send whose
    // statuses arrive before the sending side has recorded it.
    env.advance("2h22m").await;
    let template = json!({ "type": "template",
        "template": { "name": "hello_world", "language": { "code": "en_US" } } });
    for who in ["dana", "emre"] {
        let w = env.api_send(&coex, who, template.clone()).await;
        sent.push((
            w.to_string(),
            who.into(),
            template.clone(),
            env.now().as_secs(),
        ));
    }
    let late = json!({ "type": "text", "text": { "body": "Your order is ready." } });
    let late_wamid = env.graph_send(&coex, "alice", late.clone()).await;
    env.advance("1m").await;
    env.record_sent(&coex, "alice", &late_wamid, &late).await;
    sent.push((
        late_wamid.to_string(),
        "alice".into(),
        late,
        env.now().as_secs(),
    ));

    env.advance("8h").await;
    sent
}

/// The oracle: what the emulator delivered plus what the platform sent.
pub fn expected_with_sends(env: &Env, deliveries: &[Delivery], sent: &[Sent]) -> Expected {
    let mut expected = Expected::from_deliveries(deliveries);
    for (wamid, who, body, at) in sent {
        let user_id = env.customer(who).user_id;
        expected.add_sent(&env.coex(), wamid, &user_id, body, *at);
    }
    expected
}

/// Plays the day with the emulator delivering to the hub; returns the oracle.
async fn play_day(env: &Env) -> Expected {
    let sent = play_script(env).await;
    env.quiesce().await;
    let deliveries = env.deliveries().await;
    for d in &deliveries {
        assert_eq!(d.state, "delivered", "delivery {}: {:?}", d.id, d.attempts);
        let last = d.attempts.last().unwrap();
        assert_eq!(
            last.status,
            Some(200),
            "delivery {}: {:?}",
            d.id,
            d.attempts
        );
    }
    expected_with_sends(env, &deliveries, &sent)
}

/// What the day must have exercised, so a quiet emulator cannot pass the comparison.
async fn assert_day_was_eventful(env: &Env, expected: &Expected) {
    let coex = env.coex();
    let msgs = &expected.messages[coex.as_str()];
    let count =
        |f: &dyn Fn(&crate::expected::ExpMessage) -> bool| msgs.values().filter(|m| f(m)).count();
    assert!(count(&|m| m.origin == "customer") >= 6, "{msgs:#?}");
    assert!(count(&|m| m.origin == "business_app") >= 4);
    assert!(count(&|m| m.origin == "history_import") >= 40);
    assert!(
        count(&|m| m.edited_at.is_some()) >= 2,
        "an app edit and a customer edit"
    );
    assert!(
        count(&|m| m.revoked_at.is_some()) >= 2,
        "an app revoke and a customer revoke"
    );
    assert!(count(&|m| m.status.as_deref() == Some("read")) >= 1);
    assert!(count(&|m| m.kind == "media_placeholder") >= 1);
    assert!(
        count(&|m| m.origin == "history_import" && m.kind == "image") >= 1,
        "a placeholder filled by a media follow-up"
    );
    assert!(expected.messages.contains_key(env.cloud().as_str()));
    assert!(
        expected
            .app_contacts
            .values()
            .any(|c| c.full_name.is_none())
    );

    // Cross-check with the emulator's record of the app's messages: every one of them is
    // stored as a business-app echo, except the one sent from WhatsApp for Windows (Meta
    // sends no echo for an unsupported companion).
    let app_sent: Vec<Value> =
        serde_json::from_value(env.ctl("GET", "/messages?origin=app", None).await).unwrap();
    let stored = env.messages(&coex).await;
    let missing: Vec<&Value> = app_sent
        .iter()
        .filter(|m| !stored.contains_key(m["wamid"].as_str().unwrap()))
        .collect();
    assert_eq!(missing.len(), 1, "{missing:#?}");
    assert_eq!(
        missing[0]["content"]["text"]["body"].as_str(),
        Some("Free over $50.")
    );
    for m in app_sent.iter().filter(|m| !missing.contains(m)) {
        let s = &stored[m["wamid"].as_str().unwrap()];
        assert_eq!(s.origin.as_str(), "business_app");
        assert_eq!(s.revoked_at.is_some(), m["revoked"].as_bool().unwrap());
    }

    // Sync state: contacts synced, history complete at 100 %.
    let jobs = env.store.sync_progress(&coex).await.unwrap();
    let history = jobs.iter().find(|j| j.kind.as_str() == "history").unwrap();
    assert_eq!(history.state, SyncState::Complete, "{history:?}");
    assert_eq!(history.progress, 100);
    assert_eq!(
        history.items_received as usize,
        expected.history_count[coex.as_str()]
    );
    let contacts = jobs.iter().find(|j| j.kind.as_str() == "contacts").unwrap();
    assert_ne!(contacts.state, SyncState::Requested, "{contacts:?}");
    assert!(contacts.request_id.is_some());

    // Echoes are the phone app's sign of life.
    let n = env.store.get_number(&coex).await.unwrap();
    assert!(n.last_app_activity_at.is_some());
    assert_eq!(n.state.as_str(), "connected");
}

/// The REST API shows what the store holds.
async fn assert_rest_agrees(env: &Env) {
    let coex = env.coex();
    let numbers = env.rest("/numbers").await;
    let ids: BTreeSet<&str> = numbers["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, BTreeSet::from([coex.as_str(), env.cloud().as_str()]));
    let mut convs = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let q = cursor.map_or(String::new(), |c| format!("&cursor={c}"));
        let page = env
            .rest(&format!("/numbers/{coex}/conversations?limit=2{q}"))
            .await;
        convs.extend(page["data"].as_array().unwrap().clone());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let stored = env.conversations(&coex).await;
    assert_eq!(convs.len(), stored.len());
    let first = stored[0].conversation.id;
    let page = env
        .rest(&format!("/conversations/{first}/messages?limit=5"))
        .await;
    let rest_wamids: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["wamid"].as_str().unwrap())
        .collect();
    let store_wamids: Vec<String> = env
        .messages_of(first)
        .await
        .iter()
        .take(5)
        .map(|m| m.wamid.to_string())
        .collect();
    assert_eq!(rest_wamids, store_wamids, "newest first, same order");
    let wamid = store_wamids[0].clone();
    let one = env.rest(&format!("/numbers/{coex}/messages/{wamid}")).await;
    assert_eq!(one["wamid"].as_str(), Some(wamid.as_str()));
    assert!(one["statuses"].is_array());
}

fn app_phones(expected: &Expected) -> Vec<String> {
    expected.app_contacts.keys().cloned().collect()
}

async fn scripted_day_is_stored_exactly(backend: Backend) {
    let env = Env::start(backend).await;
    let expected = play_day(&env).await;
    assert_store_matches(&env, &expected).await;
    assert_day_was_eventful(&env, &expected).await;
    assert_rest_agrees(&env).await;
    env.finish().await;
}
both_backends!(scripted_day_is_stored_exactly);

/// The emulator draws its chaos from a source of its own, so a chaos run is the same day
/// (receipt delays included): only the delivery differs.
async fn chaos_day_ends_with_the_same_store(backend: Backend) {
    let calm = Env::start_with(backend, Options::default()).await;
    let calm_expected = play_day(&calm).await;
    assert_store_matches(&calm, &calm_expected).await;
    let calm_dump = canonical_dump(&calm, &app_phones(&calm_expected)).await;
    calm.finish().await;

    let wild = Env::start_with(backend, Options::default()).await;
    wild.chaos().await;
    let wild_expected = play_day(&wild).await;
    let deliveries = wild.deliveries().await;
    assert!(
        deliveries.iter().any(|d| d.duplicate_of.is_some()),
        "chaos delivered nothing twice"
    );
    assert_store_matches(&wild, &wild_expected).await;
    let wild_dump = canonical_dump(&wild, &app_phones(&wild_expected)).await;
    wild.finish().await;

    let diff = json_diff(&calm_dump, &wild_dump);
    assert!(
        diff.is_empty(),
        "chaos changed the store:\n{}",
        diff.join("\n")
    );
}
both_backends!(chaos_day_ends_with_the_same_store);
