//! Two hub processes on one PostgreSQL database (two `Hub`s on two ports, each with its own
//! store pools and commit queue) ingesting the same webhooks at the same time: every message
//! stored once, no status, edit, revoke or contact change lost. SQLite is one file with one
//! writer per process, so this runs on PostgreSQL only.

use std::collections::BTreeSet;

use coex_hub::ingest::{IngestConfig, commit_queue::CommitQueueConfig};
use futures_util::StreamExt;
use serde_json::Value;

use crate::day::{expected_with_sends, play_script};
use crate::expected::assert_store_settles;
use crate::harness::{Backend, Env, Options};

fn two_writers() -> IngestConfig {
    IngestConfig {
        queue: CommitQueueConfig {
            writers: 2,
            ..CommitQueueConfig::default()
        },
        ..IngestConfig::default()
    }
}

async fn metrics(env: &Env, hub: &str) -> Value {
    env.http
        .get(format!("{hub}/metrics"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hubs_share_one_postgres() {
    // The emulator records the day's webhooks (signed, in order, with chaos's duplicates and
    // reordering) instead of sending them; the test then delivers each one to both hubs at
    // once.
    let mut env = Env::start_with(
        Backend::Postgres,
        Options {
            deliver: false,
            ingest: two_writers(),
            ..Options::default()
        },
    )
    .await;
    env.chaos().await;
    let sent = play_script(&env).await;
    let deliveries = env.deliveries().await;
    assert!(deliveries.iter().all(|d| d.state == "no_callback_url"));
    assert!(deliveries.len() > 30, "{}", deliveries.len());
    let a = env.hub.url.clone();
    let b = env.start_second_hub(two_writers()).await;

    let posts = deliveries.iter().map(|d| {
        let env = &env;
        let (a, b) = (a.clone(), b.clone());
        async move {
            let body = d.body.clone().into_bytes();
            let (x, y) = tokio::join!(
                env.post_webhook(&a, body.clone(), Some(&d.signature)),
                env.post_webhook(&b, body, Some(&d.signature)),
            );
            assert_eq!(x.0, 200, "hub A, delivery {}: {}", d.id, x.1);
            assert_eq!(y.0, 200, "hub B, delivery {}: {}", d.id, y.1);
        }
    });
    futures_util::stream::iter(posts)
        .buffer_unordered(8)
        .collect::<Vec<()>>()
        .await;
    // Two history chunks large enough to be applied in the background, each to both hubs at
    // once: both processes archive them and both fan-out workers apply them.
    let big: Vec<Vec<u8>> = (1..=2)
        .map(|order| {
            let first = format!("wamid.HBgLMTY1MDU1NTEyMzQVAgASGBRCSUcw{order:04}00000000AA==");
            env.history_body(&first, 1_300, 100 + order)
        })
        .collect();
    let big_posts = big.iter().map(|body| {
        let env = &env;
        let (a, b) = (a.clone(), b.clone());
        async move {
            let sig = env.sign(body);
            let (x, y) = tokio::join!(
                env.post_webhook(&a, body.clone(), Some(&sig)),
                env.post_webhook(&b, body.clone(), Some(&sig)),
            );
            assert_eq!(
                (x.0, &x.1["deferred"]),
                (200, &Value::Bool(true)),
                "{}",
                x.1
            );
            assert_eq!(
                (y.0, &y.1["deferred"]),
                (200, &Value::Bool(true)),
                "{}",
                y.1
            );
        }
    });
    futures_util::future::join_all(big_posts).await;
    env.quiesce().await;

    let mut expected = expected_with_sends(&env, &deliveries, &sent);
    for body in &big {
        expected.add_body(body);
    }
    assert_store_settles(&env, &expected).await;

    // Each live message was stored by exactly one of the two processes.
    let live = expected
        .messages
        .values()
        .flat_map(|m| m.values())
        .filter(|m| m.origin == "customer" || m.origin == "business_app")
        .count() as u64;
    let (ma, mb) = (metrics(&env, &a).await, metrics(&env, &b).await);
    let sum = |k: &str| {
        ma["ingest"]["store"][k].as_u64().unwrap() + mb["ingest"]["store"][k].as_u64().unwrap()
    };
    assert_eq!(sum("messages_inserted"), live, "{ma}\n{mb}");
    // Each distinct status of a known message was applied (or found stale) exactly once.
    let known: BTreeSet<&str> = sent.iter().map(|(w, ..)| w.as_str()).collect();
    let mut statuses = BTreeSet::new();
    for d in &deliveries {
        let body: Value = serde_json::from_str(&d.body).unwrap();
        for entry in body["entry"].as_array().unwrap() {
            for change in entry["changes"].as_array().unwrap() {
                for s in change["value"]["statuses"].as_array().into_iter().flatten() {
                    let id = s["id"].as_str().unwrap();
                    if known.contains(id) {
                        statuses.insert((id.to_owned(), s["status"].as_str().unwrap().to_owned()));
                    }
                }
            }
        }
    }
    assert_eq!(
        sum("statuses_applied") + sum("statuses_stale") + sum("statuses_orphaned"),
        statuses.len() as u64,
        "{ma}\n{mb}"
    );
    assert_eq!(
        ma["ingest"]["acked"].as_u64().unwrap() + mb["ingest"]["acked"].as_u64().unwrap(),
        2 * (deliveries.len() + big.len()) as u64
    );
    // Both processes archived each large body and applied it, yet each history row was
    // inserted by one of them only.
    let history: usize = expected.history_count.values().sum();
    assert_eq!(sum("history_inserted"), history as u64, "{ma}\n{mb}");
    env.finish().await;
}
