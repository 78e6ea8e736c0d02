//! Webhook delivery: signing over the exact bytes, batching, retries with backoff over 7 days
//! of virtual time with every attempt recorded, concurrency, and chaos mode.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;

use serde_json::{Value, json};

use crate::harness::Env;

#[tokio::test]
async fn several_changes_and_entries_are_batched_in_one_post() {
    let env = Env::start().await;
    env.act(json!([
        { "action": "customer_sends", "customer": "alice", "text": "one" },
        { "action": "customer_sends", "customer": "bruno", "text": "two" },
        { "action": "app_sends", "customer": "dana", "text": "three" }
    ]))
    .await;
    let got = env.got();
    assert_eq!(got.len(), 1, "one POST");
    let changes = got[0].json["entry"][0]["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 3);
    assert_eq!(changes[2]["field"], "smb_message_echoes");
    // Statuses due at the same instant go together too.
    for to in ["+16505551234", "+5511987654321"] {
        env.send_text(to, "reply").await;
    }
    env.advance("1s").await;
    let (_, deliveries) = env.control("GET", "/deliveries", None).await;
    let last = deliveries
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|d| {
            d["changes"][0]["summary"]
                .as_str()
                .unwrap()
                .starts_with("status sent")
        })
        .unwrap();
    assert_eq!(last["changes"].as_array().unwrap().len(), 2);
    env.check_wire();
}

#[tokio::test]
async fn failing_deliveries_are_retried_with_backoff_for_seven_days_and_every_attempt_is_recorded()
{
    let env = Env::start().await;
    env.hook.status.store(503, Ordering::SeqCst);
    env.act(json!({ "action": "customer_sends", "customer": "alice", "text": "are you there?" }))
        .await;
    env.advance("1m").await;
    let (_, d) = env.control("GET", "/deliveries/1", None).await;
    let attempts = d["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 3, "t+0, +10 s, +30 s: {d}");
    assert!(attempts.iter().all(|a| a["status"] == 503));
    let at = |i: usize| attempts[i]["at"].as_i64().unwrap();
    assert_eq!(at(1) - at(0), 10_000);
    assert_eq!(at(2) - at(1), 20_000);
    // The receiver comes back after two hours: the next retry gets through.
    env.advance("2h").await;
    env.hook.status.store(200, Ordering::SeqCst);
    env.advance("4h").await;
    let (_, d) = env.control("GET", "/deliveries/1", None).await;
    assert_eq!(d["state"], "delivered");
    let last = d["attempts"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["status"], 200);
    assert_eq!(env.inbound().len(), 1);

    // A receiver down for good: Meta gives up after 7 days.
    env.hook.status.store(500, Ordering::SeqCst);
    env.act(json!({ "action": "customer_sends", "customer": "bruno", "text": "olá?" }))
        .await;
    env.advance("8d").await;
    let (_, list) = env.control("GET", "/deliveries?field=messages", None).await;
    let d = list
        .as_array()
        .unwrap()
        .iter()
        .find(|d| {
            d["changes"][0]["summary"]
                .as_str()
                .unwrap()
                .contains("bruno")
        })
        .unwrap()
        .clone();
    assert_eq!(d["state"], "gave_up");
    let attempts = d["attempts"].as_array().unwrap();
    let span =
        attempts.last().unwrap()["at"].as_i64().unwrap() - attempts[0]["at"].as_i64().unwrap();
    assert!(span <= 7 * 86_400_000 && span > 6 * 86_400_000, "{span}");
    assert!(attempts.len() > 30);
    // Each attempt carried the same signed bytes.
    assert!(d["signature"].as_str().unwrap().starts_with("sha256="));
}

#[tokio::test]
async fn chaos_mode_delivers_everything_at_least_once_despite_reordering_delays_and_duplicates() {
    let env = Env::start().await;
    // Every POST twice, so the duplicate checks below do not hang on one seeded draw.
    let (status, _) = env
        .control("PUT", "/chaos", Some(json!({ "enabled": true, "duplicate_probability": 1.0, "reorder": true, "rebatch": true, "max_delay_ms": 20000 })))
        .await;
    assert_eq!(status, 200);
    let mut actions = Vec::new();
    for i in 0..30 {
        let key = ["alice", "bruno", "chen", "dana", "emre"][i % 5];
        actions.push(
            json!({ "action": "customer_sends", "customer": key, "text": format!("message {i}") }),
        );
    }
    env.act(Value::Array(actions)).await;
    env.advance("1m").await;
    let texts: Vec<String> = env
        .inbound()
        .iter()
        .map(|m| m["text"]["body"].as_str().unwrap().to_owned())
        .collect();
    let unique: BTreeSet<&String> = texts.iter().collect();
    assert_eq!(unique.len(), 30, "every message at least once");
    assert!(texts.len() > 30, "some twice");
    let in_order: Vec<String> = (0..30).map(|i| format!("message {i}")).collect();
    assert_ne!(
        texts.iter().take(30).cloned().collect::<Vec<_>>(),
        in_order,
        "not in order"
    );
    let (_, deliveries) = env.control("GET", "/deliveries", None).await;
    let deliveries = deliveries.as_array().unwrap();
    assert!(deliveries.len() > 2, "re-batched into several POSTs");
    assert!(deliveries.iter().any(|d| d["duplicate_of"].is_u64()));
    env.check_wire();
}

#[tokio::test]
async fn concurrent_deliveries_reach_the_receiver() {
    let env = Env::start().await;
    env.control("PUT", "/chaos", Some(json!({ "enabled": true, "duplicate_probability": 0.0, "reorder": false, "rebatch": true, "max_delay_ms": 0 }))).await;
    let actions: Vec<Value> = (0..20)
        .map(
            |i| json!({ "action": "customer_sends", "customer": "alice", "text": format!("m{i}") }),
        )
        .collect();
    env.act(Value::Array(actions)).await;
    assert_eq!(env.inbound().len(), 20);
    assert!(
        env.got().len() > 1,
        "several POSTs due at the same instant, sent together"
    );
}

#[tokio::test]
async fn the_webhook_handshake_can_be_run_on_demand() {
    let env = Env::start().await;
    let (_, r) = env.control("POST", "/webhook/verify", None).await;
    assert_eq!(r["verified"], true, "{r}");
}

/// Every distinct change that reached the receiver (field and value, timestamps included),
/// after a day of customers writing, receipts and replies under chaos on or off.
async fn a_day_of_changes(chaos: bool) -> BTreeSet<String> {
    let env = Env::start().await;
    if chaos {
        let (status, _) = env
            .control("PUT", "/chaos", Some(json!({ "enabled": true, "duplicate_probability": 0.5, "reorder": true, "rebatch": true, "max_delay_ms": 20000 })))
            .await;
        assert_eq!(status, 200);
    }
    for round in 0..3 {
        let actions: Vec<Value> = ["alice", "bruno", "dana", "emre"]
            .iter()
            .map(|c| json!({ "action": "customer_sends", "customer": c, "text": format!("{c} {round}") }))
            .collect();
        env.act(Value::Array(actions)).await;
        for to in ["+16505551234", "+442079460018", "+905321234567"] {
            let (status, body) = env.send_text(to, &format!("reply {round}")).await;
            assert_eq!(status, 200, "{body}");
        }
        env.advance("10m").await;
    }
    env.advance("1h").await;
    env.got()
        .iter()
        .flat_map(|g| g.json["entry"].as_array().cloned().unwrap_or_default())
        .flat_map(|e| e["changes"].as_array().cloned().unwrap_or_default())
        .map(|c| c.to_string())
        .collect()
}

#[tokio::test]
async fn chaos_changes_how_webhooks_arrive_but_not_what_happens_or_when() {
    let calm = a_day_of_changes(false).await;
    let chaotic = a_day_of_changes(true).await;
    assert!(
        calm.iter().any(|c| c.contains("\"read\"")),
        "receipts were jittered"
    );
    let only_calm: Vec<&String> = calm.difference(&chaotic).collect();
    let only_chaotic: Vec<&String> = chaotic.difference(&calm).collect();
    assert!(
        only_calm.is_empty() && only_chaotic.is_empty(),
        "without chaos only: {only_calm:#?}\nwith chaos only: {only_chaotic:#?}"
    );
}
