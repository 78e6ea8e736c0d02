//! The cases. Each is an `async fn(Backend)` run on both backends by `both!`.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use coex_core::model::Origin;
use coex_core::policy::Recipient;
use coex_meta::graph::SendMessageRequest;
use coex_store::send::{IdempotencyKey, LaneOwner, LeaseOutcome, NewSend, SendStore};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::harness::*;

/// The attempts' outcomes and error codes, in order.
fn attempts(v: &Value) -> Vec<(String, Option<i64>)> {
    v["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["outcome"].as_str().unwrap().to_owned(),
                a["error_code"].as_i64(),
            )
        })
        .collect()
}

/// Virtual milliseconds between the end of attempt `i` and the start of attempt `i + 1`.
fn gaps(v: &Value) -> Vec<i64> {
    let a = v["attempts"].as_array().unwrap();
    a.windows(2)
        .map(|w| w[1]["started_at"].as_i64().unwrap() - w[0]["finished_at"].as_i64().unwrap())
        .collect()
}

/// The most requests in any one-second window (half open, as the emulator counts).
fn busiest_second(times: &[i64]) -> usize {
    let mut t = times.to_vec();
    t.sort_unstable();
    (0..t.len())
        .map(|i| t[i..].iter().take_while(|x| **x < t[i] + 1000).count())
        .max()
        .unwrap_or(0)
}

fn error_code(resp: &Value) -> Option<i64> {
    resp["error"]["code"].as_i64()
}

both!(window_templates_costs);
async fn window_templates_costs(b: Backend) {
    let env = Env::start(b).await;
    let n = env.coex();
    let alice = env.phone_of("alice");
    // The customer never wrote since onboarding: only a template can reach her.
    assert_eq!(
        env.send_refused(&n, text(&alice, "hi")).await,
        "needs_template"
    );
    // The owner answers from the phone app: an echo never opens the window.
    env.act(json!({"action": "app_sends", "customer": "alice", "text": "hello from the app"}))
        .await;
    assert_eq!(
        env.send_refused(&n, text(&alice, "hi")).await,
        "needs_template"
    );
    // A template goes out, business-initiated, billed at the utility rate.
    let t = env
        .send_ok(&n, template(&alice, "hello_world", "en_US", &[]))
        .await;
    let v = env
        .wait_send(t, "priced by Meta", |v| v["cost"]["source"] == "meta")
        .await;
    assert_eq!(v["state"], "accepted");
    assert_eq!(v["business_initiated"], true);
    assert_eq!(v["cost"]["estimated"], "0.004");
    assert_eq!(v["cost"]["actual"], "0.004");
    assert!(v["wamid"].is_string());
    // The customer writes: free-form messages go out, free of charge.
    env.customer_writes("alice", "hi there").await;
    let id = env.send_ok(&n, text(&alice, "how can I help?")).await;
    let v = env.wait_state(id, "accepted").await;
    assert_eq!(v["cost"]["estimated"], "0");
    assert_eq!(v["business_initiated"], false);
    // The message is in the inbox as an API message, with its wamid.
    let wamid = v["wamid"].as_str().unwrap();
    let m = env
        .get_json(&format!("/v1/numbers/{n}/messages/{wamid}"))
        .await;
    assert_eq!(m["origin"], "api_agent");
    assert_eq!(m["direction"], "outbound");
    assert_eq!(m["content"]["body"], "how can I help?");
    // The cost ledger: one utility template, priced by Meta; the service reply is free.
    let costs = env.get_json(&format!("/v1/numbers/{n}/costs")).await;
    assert_eq!(costs["total"], "0.004", "{costs}");
    assert_eq!(costs["messages"], 2);
    let utility = costs["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["category"] == "utility")
        .unwrap();
    assert_eq!(utility["priced_by_meta"], 1);
    // A day later the window is closed again; the app's echoes did not extend it.
    tokio::time::advance(Duration::from_secs(12 * 3600)).await;
    env.act(json!({"action": "app_sends", "customer": "alice", "text": "still there?"}))
        .await;
    tokio::time::advance(Duration::from_secs(13 * 3600)).await;
    assert_eq!(
        env.send_refused(&n, text(&alice, "later")).await,
        "needs_template"
    );
    env.finish().await;
}

both!(template_checks_and_recipients);
async fn template_checks_and_recipients(b: Backend) {
    let env = Env::start(b).await;
    let n = env.coex();
    let alice = env.phone_of("alice");
    let cases = [
        (
            template(&alice, "no_such", "en_US", &[]),
            "template_not_found",
        ),
        (
            template(&alice, "hello_world", "fr_FR", &[]),
            "template_language_not_found",
        ),
        (
            template(&alice, "spring_sale", "pt_BR", &["Ana"]),
            "template_not_approved",
        ),
        (
            template(&alice, "winter_promo", "en_US", &[]),
            "template_not_approved",
        ),
        (
            template(&alice, "order_update", "en_US", &["Ana"]),
            "template_param_mismatch",
        ),
    ];
    for (body, code) in cases {
        assert_eq!(env.send_refused(&n, body.clone()).await, code, "{body}");
    }
    // Authentication templates need a phone number; this customer is known by BSUID only.
    let chen = env.bsuid_of("chen");
    let otp = json!({"messaging_product": "whatsapp", "recipient": chen, "type": "template",
    "template": {"name": "login_code", "language": {"code": "en_US"}, "components": [
        {"type": "body", "parameters": [{"type": "text", "text": "123456"}]},
        {"type": "button", "sub_type": "url", "index": "0", "parameters": [{"type": "text", "text": "123456"}]}
    ]}});
    assert_eq!(
        env.send_refused(&n, otp).await,
        "bsuid_recipient_not_supported"
    );
    // Nothing refused reached Meta.
    assert!(env.graph_sends(&n).await.is_empty());
    // A template with every parameter goes out.
    let mut ok = template(&alice, "order_update", "en_US", &["Ana", "A-1"]);
    ok["template"]["components"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "button", "sub_type": "url", "index": "0",
                     "parameters": [{"type": "text", "text": "A-1"}]}));
    let id = env.send_ok(&n, ok).await;
    env.wait_state(id, "accepted").await;
    // Chen writes (BSUID only): a reply goes to the `recipient` field.
    env.customer_writes("chen", "hello?").await;
    let id = env
        .send_ok(
            &n,
            json!({"messaging_product": "whatsapp", "recipient": chen, "type": "text",
                   "text": {"body": "hi Chen"}}),
        )
        .await;
    let v = env.wait_state(id, "accepted").await;
    assert_eq!(v["request"]["recipient"], chen);
    assert!(v["request"].get("to").is_none());
    // Alice writes (phone and BSUID known): a send to her BSUID goes to her phone.
    env.customer_writes("alice", "hi").await;
    let id = env
        .send_ok(
            &n,
            json!({"messaging_product": "whatsapp", "recipient": env.bsuid_of("alice"),
                   "type": "text", "text": {"body": "hi Alice"}}),
        )
        .await;
    let v = env.wait_state(id, "accepted").await;
    assert_eq!(v["request"]["to"], alice);
    env.finish().await;
}

both!(a_number_moved_to_another_waba_sends_that_wabas_templates);
async fn a_number_moved_to_another_waba_sends_that_wabas_templates(b: Backend) {
    let env = Env::start(b).await;
    let n = env.coex();
    let alice = env.phone_of("alice");
    let hello = template(&alice, "hello_world", "en_US", &[]);
    // The hub now knows the number's WABA and has its catalog.
    env.send_ok(&n, hello.clone()).await;
    // The number is moved to a WABA the emulator does not know (the store's API never does
    // this; an operator's SQL or a future migration could).
    let moved = move_number(&env.db.url, b, n.as_str(), "999000999").await;
    let (status, v) = env.send_raw(0, &n, &hello, None).await;
    assert_eq!(status, 503, "{v}");
    assert_eq!(
        v["code"], "templates_unavailable",
        "the new WABA's catalog was asked for"
    );
    // Moved back: its catalog again, and the send goes out.
    move_number(&env.db.url, b, n.as_str(), &moved).await;
    env.send_ok(&n, hello).await;
    env.finish().await;
}

/// Moves the number to WABA `to` (created in the same workspace when new) with SQL; returns
/// the WABA it had.
async fn move_number(url: &str, b: Backend, number: &str, to: &str) -> String {
    use sqlx::{Connection, Row};
    let find = "SELECT waba_id, workspace_id FROM numbers WHERE id = $1";
    let add = "INSERT INTO wabas (id, workspace_id, created_at) VALUES ($1, $2, 0) \
               ON CONFLICT (id) DO NOTHING";
    let set = "UPDATE numbers SET waba_id = $1 WHERE id = $2";
    macro_rules! run {
        ($conn:expr) => {{
            let mut c = $conn;
            let row = sqlx::query(find)
                .bind(number)
                .fetch_one(&mut c)
                .await
                .unwrap();
            let (from, ws): (String, i64) = (row.get(0), row.get(1));
            sqlx::query(add)
                .bind(to)
                .bind(ws)
                .execute(&mut c)
                .await
                .unwrap();
            sqlx::query(set)
                .bind(to)
                .bind(number)
                .execute(&mut c)
                .await
                .unwrap();
            from
        }};
    }
    match b {
        Backend::Sqlite => run!(sqlx::SqliteConnection::connect(url).await.unwrap()),
        Backend::Postgres => run!(sqlx::PgConnection::connect(url).await.unwrap()),
    }
}

both!(disabled_features);
async fn disabled_features(b: Backend) {
    let env = Env::start(b).await;
    let n = env.coex();
    let alice = env.phone_of("alice");
    env.customer_writes("alice", "hi").await;
    let cases = [
        (
            json!({"to": alice, "type": "image", "image": {"id": "123", "view_once": true}}),
            "view_once",
        ),
        (
            json!({"to": alice, "type": "live_location", "live_location": {}}),
            "live_location",
        ),
        (
            json!({"to": alice, "type": "revoke", "revoke": {"message_id": "wamid.X"}}),
            "revoke_from_api",
        ),
        (
            json!({"to": alice, "type": "edit", "edit": {"message_id": "wamid.X"}}),
            "edit_from_api",
        ),
        (
            json!({"to": alice, "type": "text", "text": {"body": "x"}, "ephemeral": {"ttl": 60}}),
            "disappearing",
        ),
        (
            json!({"to": "family@broadcast", "recipient_type": "broadcast", "type": "text", "text": {"body": "x"}}),
            "broadcast_list",
        ),
        (
            json!({"message": {"to": alice, "type": "text", "text": {"body": "x"}}, "api": "marketing_messages"}),
            "marketing_messages_lite",
        ),
        (
            json!({"message": {"to": alice, "type": "video", "video": {"link": "https://x.example/v.mp4"}},
                   "media": {"mime_type": "video/mp4", "size_bytes": 20_000_000}}),
            "media_too_large",
        ),
    ];
    for (body, code) in cases {
        assert_eq!(env.send_refused(&n, body.clone()).await, code, "{body}");
    }
    assert!(env.graph_sends(&n).await.is_empty());
    // Marketing Messages Lite is only refused for coexistence numbers.
    let c = env.cloud();
    let (status, v) = env
        .send_raw(
            0,
            &c,
            &json!({"message": template(&alice, "hello_world", "en_US", &[]), "api": "marketing_messages"}),
            None,
        )
        .await;
    assert_eq!(status, 202, "{v}");
    // A number the business disconnected refuses every send (its data is kept).
    env.act(json!({"action": "app_disconnects"})).await;
    assert_eq!(
        env.send_refused(&n, text(&alice, "still there?")).await,
        "number_disconnected"
    );
    env.finish().await;
}

both!(inbound_traffic_lowers_the_share);
async fn inbound_traffic_lowers_the_share(b: Backend) {
    let env = Env::start(b).await;
    let n = env.coex();
    let mut ids = Vec::new();
    for i in 0..30 {
        let to = format!("+1555060{i:04}");
        ids.push(
            env.send_ok(&n, template(&to, "hello_world", "en_US", &[]))
                .await,
        );
    }
    // Twelve customer messages in one second: the lane leaves them their share of the 20.
    let burst: Vec<Value> = (0..12)
        .map(|i| {
            let who = ["alice", "bruno", "dana", "emre"][i % 4];
            json!({"action": "customer_sends", "customer": who, "text": format!("msg {i}")})
        })
        .collect();
    env.act(Value::Array(burst)).await;
    let mut lowest = u64::MAX;
    for _ in 0..100 {
        let stats = env.get_json("/v1/lanes").await;
        if let Some(mps) = stats["stats"][n.as_str()]["mps"].as_u64() {
            lowest = lowest.min(mps);
        }
        if lowest <= 8 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        lowest <= 8,
        "the lane kept {lowest} MPS with 12 inbound per second"
    );
    // Every send still goes out, and the rate comes back once the customers are quiet.
    for id in &ids {
        env.wait_state(*id, "accepted").await;
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    let stats = env.get_json("/v1/lanes").await;
    assert_eq!(stats["stats"][n.as_str()]["mps"], 18, "{stats}");
    env.finish().await;
}

both!(throughput_and_maintenance);
async fn throughput_and_maintenance(b: Backend) {
    let env = Env::start(b).await;
    let n = env.coex();
    let alice = env.phone_of("alice");
    env.customer_writes("alice", "hi").await;
    // 130429: the lane pauses and the send is queued again.
    env.fault(&n, 130429, 1, "sync").await;
    let id = env.send_ok(&n, text(&alice, "one")).await;
    let v = env.wait_state(id, "accepted").await;
    assert_eq!(
        attempts(&v),
        vec![("retry".into(), Some(130429)), ("accepted".into(), None)]
    );
    assert!(gaps(&v)[0] >= 500, "{:?}", gaps(&v));
    let lane = env.get_json(&format!("/v1/numbers/{n}/lane")).await;
    assert_eq!(lane["pause_reason"], "throughput");
    let stats = env.get_json("/v1/lanes").await;
    assert_eq!(stats["stats"][n.as_str()]["throughput_errors"], 1);
    // 131057: maintenance pauses the lane (a first backoff of 2.5 to 5 s, up to a minute).
    env.fault(&n, 131057, 1, "sync").await;
    let id = env.send_ok(&n, text(&alice, "two")).await;
    let v = env.wait_state(id, "accepted").await;
    assert_eq!(attempts(&v)[0], ("retry".into(), Some(131057)));
    let g = gaps(&v)[0];
    assert!((2_500..=60_000).contains(&g), "{g}");
    env.finish().await;
}

both!(pair_rate_backoff);
async fn pair_rate_backoff(b: Backend) {
    let env = Env::start(b).await;
    let n = env.coex();
    let alice = env.phone_of("alice");
    env.customer_writes("alice", "hi").await;
    env.fault(&n, 131056, 2, "sync").await;
    let id = env.send_ok(&n, text(&alice, "x")).await;
    let v = env.wait_state(id, "accepted").await;
    assert_eq!(
        attempts(&v),
        vec![
            ("retry".into(), Some(131056)),
            ("retry".into(), Some(131056)),
            ("accepted".into(), None)
        ]
    );
    // 4^0 = 1 s, then 4^1 = 4 s.
    let g = gaps(&v);
    assert!(g[0] >= 1_000 && g[1] >= 4_000, "{g:?}");
    // Our own pacing: three messages to one customer go 6 s apart, with no 131056.
    let ids = [
        env.send_ok(&n, text(&alice, "a")).await,
        env.send_ok(&n, text(&alice, "b")).await,
        env.send_ok(&n, text(&alice, "c")).await,
    ];
    let mut times = Vec::new();
    for id in ids {
        let v = env.wait_state(id, "accepted").await;
        let last = v["attempts"].as_array().unwrap().last().unwrap().clone();
        times.push(last["started_at"].as_i64().unwrap());
    }
    assert!(times.windows(2).all(|w| w[1] - w[0] >= 6_000), "{times:?}");
    let refused: Vec<_> = env
        .graph_sends(&n)
        .await
        .into_iter()
        .filter(|(_, status, _)| *status != 200)
        .collect();
    assert_eq!(
        refused.len(),
        2,
        "only the two injected 131056: {refused:?}"
    );
    env.finish().await;
}

both!(window_closed_answers);
async fn window_closed_answers(b: Backend) {
    let env = Env::start(b).await;
    let n = env.coex();
    let alice = env.phone_of("alice");
    env.customer_writes("alice", "hi").await;
    // Synchronous 131047: no retry; the send needs a template.
    env.fault(&n, 131047, 1, "sync").await;
    let id = env.send_ok(&n, text(&alice, "x")).await;
    let v = env.wait_state(id, "needs_template").await;
    assert_eq!(v["error"]["code"], 131047);
    assert_eq!(attempts(&v).len(), 1);
    // Asynchronous 131047 (a failed status webhook): matched to the send by wamid.
    env.fault(&n, 131047, 1, "async").await;
    let id = env.send_ok(&n, text(&alice, "y")).await;
    let v = env.wait_state(id, "needs_template").await;
    assert_eq!(v["error"]["code"], 131047);
    assert_eq!(v["status"], "failed");
    assert!(v["wamid"].is_string());
    env.finish().await;
}

both!(permanent_and_transient_errors);
async fn permanent_and_transient_errors(b: Backend) {
    let env = Env::start(b).await;
    let n = env.coex();
    let alice = env.phone_of("alice");
    env.customer_writes("alice", "hi").await;
    // A permanent error fails the send with Meta's code and text.
    env.fault(&n, 131026, 1, "sync").await;
    let id = env.send_ok(&n, text(&alice, "x")).await;
    let v = env.wait_state(id, "failed").await;
    assert_eq!(v["error"]["code"], 131026);
    assert!(
        v["error"]["title"]
            .as_str()
            .unwrap()
            .contains("Message Undeliverable"),
        "{v}"
    );
    assert_eq!(attempts(&v).len(), 1);
    // Transient errors retry with jittered exponential backoff.
    env.fault(&n, 131000, 2, "sync").await;
    let id = env.send_ok(&n, text(&alice, "y")).await;
    let v = env.wait_state(id, "accepted").await;
    assert_eq!(
        attempts(&v),
        vec![
            ("retry".into(), Some(131000)),
            ("retry".into(), Some(131000)),
            ("accepted".into(), None)
        ]
    );
    // At least the backoff (0.5–1 s, then 1–2 s); the pair rate to the same customer (one
    // request per 6 s, failed ones included) may hold the retry longer.
    let g = gaps(&v);
    assert!(g[0] >= 500 && g[1] >= 1_000, "{g:?}");
    env.finish().await;
}

both!(auth_errors_stop_the_lane);
async fn auth_errors_stop_the_lane(b: Backend) {
    let mut env = Env::start(b).await;
    let n = env.coex();
    let alice = env.phone_of("alice");
    env.customer_writes("alice", "hi").await;
    env.fault(&n, 190, 1, "sync").await;
    let first = env.send_ok(&n, text(&alice, "one")).await;
    // The alert: the lane is stopped with Meta's code, the send waits in the queue.
    let mut lane = Value::Null;
    for _ in 0..100 {
        lane = env.get_json(&format!("/v1/numbers/{n}/lane")).await;
        if lane["stop_code"] == 190 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(lane["stop_code"], 190, "{lane}");
    let v = env
        .wait_send(first, "queued", |v| v["state"] == "queued")
        .await;
    assert_eq!(v["waiting"], "lane_stopped");
    assert_eq!(attempts(&v), vec![("stopped".into(), Some(190))]);
    let second = env.send_ok(&n, text(&alice, "two")).await;
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(env.get_send(second).await["state"], "queued");
    assert_eq!(
        env.graph_sends(&n).await.len(),
        1,
        "nothing sent while stopped"
    );
    // The alert survives a restart: a new process takes the lane over and still waits.
    env.hubs[0].stop().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let i = env.start_hub(listener, test_settings()).await;
    env.hubs.swap(0, i);
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(env.get_send(second).await["state"], "queued");
    assert_eq!(
        env.graph_sends(&n).await.len(),
        1,
        "nothing sent while stopped"
    );
    // Fixed: resume, and both go out.
    let resp = env
        .http
        .post(format!("{}/v1/numbers/{n}/lane/resume", env.hub().url))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    env.wait_state(first, "accepted").await;
    env.wait_state(second, "accepted").await;
    let lane = env.get_json(&format!("/v1/numbers/{n}/lane")).await;
    assert!(lane["stopped_at"].is_null());
    env.finish().await;
}

both!(pacing_holds_the_cap);
async fn pacing_holds_the_cap(b: Backend) {
    let env = Env::start(b).await;
    let n = env.coex();
    // 120 business-initiated templates to 120 customers, queued one after the other (the
    // lane starts sending while they are queued: the backlog lasts beyond the last enqueue
    // only if it is long enough).
    let mut ids = Vec::new();
    for i in 0..120 {
        let to = format!("+1555010{i:04}");
        ids.push(
            env.send_ok(&n, template(&to, "hello_world", "en_US", &[]))
                .await,
        );
    }
    // Fairness: another number's first message does not wait for this backlog.
    let c = env.cloud();
    let other = env
        .send_ok(&c, template("+15550109999", "hello_world", "en_US", &[]))
        .await;
    env.wait_state(other, "accepted").await;
    let lane = env.get_json(&format!("/v1/numbers/{n}/lane")).await;
    assert!(
        lane["queued"].as_u64().unwrap() + lane["sending"].as_u64().unwrap() > 0,
        "the backlog was still there: {lane}"
    );
    for id in &ids {
        env.wait_state(*id, "accepted").await;
    }
    let sends = env.graph_sends(&n).await;
    assert_eq!(sends.len(), 120, "one request each, none refused");
    assert!(sends.iter().all(|(_, status, _)| *status == 200));
    let times: Vec<i64> = sends.iter().map(|(at, _, _)| *at).collect();
    assert!(busiest_second(&times) <= 18, "{}", busiest_second(&times));
    env.finish().await;
}

both!(an_idle_lanes_send_is_claimed_at_enqueue);
async fn an_idle_lanes_send_is_claimed_at_enqueue(b: Backend) {
    let env = Env::start(b).await;
    let n = env.coex();
    let first = env
        .send_ok(&n, template("+15550100001", "hello_world", "en_US", &[]))
        .await;
    env.wait_state(first, "accepted").await;
    // The lane runs and has nothing to do: the next send is claimed in its enqueue's
    // transaction and handed to the lane, which sends it without a claim of its own.
    let second = env
        .send_ok(&n, template("+15550100002", "hello_world", "en_US", &[]))
        .await;
    let sent = env.wait_state(second, "accepted").await;
    assert_eq!(attempts(&sent), vec![("accepted".to_owned(), None)]);
    let lanes = env.get_json("/v1/lanes").await;
    assert_eq!(lanes["stats"][n.as_str()]["handed"], 1, "{lanes}");
    assert_eq!(env.graph_sends(&n).await.len(), 2, "one request each");
    env.finish().await;
}

both!(crash_between_send_and_commit);
async fn crash_between_send_and_commit(b: Backend) {
    let mut env = Env::start(b).await;
    let n = env.coex();
    // A process that crashed: it held the lane, claimed two sends, made the request for one
    // of them, and died before recording Meta's answer.
    let dead = LaneOwner::new("dead-process");
    let other = env.db.open(sim_clock(&env.engine)).await;
    assert!(matches!(
        other
            .acquire_lane(&n, &dead, env.now(), 20_000)
            .await
            .unwrap(),
        LeaseOutcome::Acquired { .. }
    ));
    let mut ids = Vec::new();
    for i in 0..5 {
        let to = format!("+1555020{i:04}");
        ids.push(
            env.send_ok(&n, template(&to, "hello_world", "en_US", &[]))
                .await,
        );
    }
    let claim = other.claim_sends(&n, &dead, env.now(), 2).await.unwrap();
    assert_eq!(claim.sends.len(), 2);
    let in_flight = &claim.sends[0];
    let req: SendMessageRequest = serde_json::from_str(&in_flight.request).unwrap();
    env.graph.send_message(&n, &req).await.unwrap();
    other.close().await;
    // The live hub takes the lane over once the dead lease expires, and sends everything.
    for id in &ids {
        env.wait_state(*id, "accepted").await;
    }
    let v = env.get_send(in_flight.id.get()).await;
    assert_eq!(
        attempts(&v).first().map(|a| a.0.as_str()),
        Some("abandoned")
    );
    // At most one duplicate, for the request that was in flight; none otherwise.
    let mut per_recipient: BTreeMap<String, usize> = BTreeMap::new();
    for m in env.sim_api_messages().await {
        *per_recipient
            .entry(m["recipient_input"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    let in_flight_to = format!("+{}", in_flight.recipient_key());
    for (to, count) in &per_recipient {
        let expected = if *to == in_flight_to { 2 } else { 1 };
        assert_eq!(*count, expected, "{to}: {per_recipient:?}");
    }
    assert_eq!(per_recipient.len(), 5);
    // A hub stopped with sends still queued, and a new one on the same database: the rest go
    // out once each.
    let mut more = Vec::new();
    for i in 0..20 {
        let to = format!("+1555030{i:04}");
        more.push(
            env.send_ok(&n, template(&to, "hello_world", "en_US", &[]))
                .await,
        );
    }
    env.hubs[0].stop().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let i = env.start_hub(listener, test_settings()).await;
    env.hubs.swap(0, i);
    for id in &more {
        env.wait_state(*id, "accepted").await;
    }
    let mut seen = HashSet::new();
    for m in env.sim_api_messages().await {
        let to = m["recipient_input"].as_str().unwrap().to_owned();
        if to.starts_with("+1555030") {
            assert!(seen.insert(to.clone()), "{to} received twice");
        }
    }
    assert_eq!(seen.len(), 20);
    env.finish().await;
}

both!(two_hubs_share_a_lane);
async fn two_hubs_share_a_lane(b: Backend) {
    let mut env = Env::start(b).await;
    let n = env.coex();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    env.start_hub(listener, test_settings()).await;
    let mut ids = Vec::new();
    for i in 0..30 {
        let to = format!("+1555040{i:04}");
        let (status, v) = env
            .send_raw(i % 2, &n, &template(&to, "hello_world", "en_US", &[]), None)
            .await;
        assert_eq!(status, 202, "{v}");
        ids.push(v["id"].as_i64().unwrap());
    }
    let mut owners = HashSet::new();
    for id in &ids {
        let v = env.wait_state(*id, "accepted").await;
        for a in v["attempts"].as_array().unwrap() {
            owners.insert(a["owner"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(
        owners.len(),
        1,
        "one process sent from the number: {owners:?}"
    );
    let sends = env.graph_sends(&n).await;
    assert!(
        sends
            .iter()
            .all(|(_, s, r)| *s == 200 && error_code(r).is_none())
    );
    let times: Vec<i64> = sends.iter().map(|(at, _, _)| *at).collect();
    assert!(busiest_second(&times) <= 18, "{}", busiest_second(&times));
    // The owner stops (releasing the lease); the other hub takes over the lane.
    let owner = owners.into_iter().next().unwrap();
    let idx = env
        .hubs
        .iter()
        .position(|h| h.service.engine().owner().as_str() == owner)
        .unwrap();
    env.hubs[idx].stop().await;
    let survivor = 1 - idx;
    let mut later = Vec::new();
    for i in 0..5 {
        let to = format!("+1555050{i:04}");
        let (status, v) = env
            .send_raw(
                survivor,
                &n,
                &template(&to, "hello_world", "en_US", &[]),
                None,
            )
            .await;
        assert_eq!(status, 202, "{v}");
        later.push(v["id"].as_i64().unwrap());
    }
    let new_owner = env.hubs[survivor].service.engine().owner().to_string();
    for id in later {
        let v = env
            .wait_send_at(survivor, id, "accepted", |v| v["state"] == "accepted")
            .await;
        assert_eq!(v["attempts"][0]["owner"], new_owner);
    }
    env.hubs.remove(idx);
    env.finish().await;
}

both!(unreported_sends_are_visible);
async fn unreported_sends_are_visible(b: Backend) {
    let mut env = Env::start(b).await;
    let n = env.coex();
    let hook_addr = env.hubs[0].url.trim_start_matches("http://").to_owned();
    let settings = coex_hub::send::SendSettings {
        unconfirmed_after: Duration::from_secs(20),
        ..test_settings()
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let other = env.start_hub(listener, settings.clone()).await;
    // The hub that receives the webhooks goes away: no status can arrive.
    env.hubs[0].stop().await;
    let (status, v) = env
        .send_raw(
            other,
            &n,
            &template("+15550700001", "hello_world", "en_US", &[]),
            None,
        )
        .await;
    assert_eq!(status, 202, "{v}");
    let id = v["id"].as_i64().unwrap();
    let v = env
        .wait_send_at(other, id, "sent_unconfirmed", |v| {
            v["state"] == "sent_unconfirmed"
        })
        .await;
    assert!(v["wamid"].is_string());
    assert_eq!(v["status"], "pending");
    // The webhook endpoint is back: Meta's retries bring the statuses, and the send is
    // confirmed.
    let listener = TcpListener::bind(&hook_addr).await.unwrap();
    env.start_hub(listener, settings).await;
    let v = env
        .wait_send_at(other, id, "confirmed", |v| v["state"] == "accepted")
        .await;
    assert_ne!(v["status"], "pending");
    env.finish().await;
}

both!(idempotency_keys);
async fn idempotency_keys(b: Backend) {
    let env = Env::start(b).await;
    let n = env.coex();
    let alice = env.phone_of("alice");
    env.customer_writes("alice", "hi").await;
    let body = text(&alice, "once");
    let (s1, v1) = env.send_raw(0, &n, &body, Some("order-77")).await;
    assert_eq!(s1, 202, "{v1}");
    let (s2, v2) = env.send_raw(0, &n, &body, Some("order-77")).await;
    assert_eq!(s2, 200, "{v2}");
    assert_eq!(v1["id"], v2["id"]);
    let (s3, v3) = env
        .send_raw(0, &n, &text(&alice, "twice?"), Some("order-77"))
        .await;
    assert_eq!(
        (s3, v3["code"].as_str()),
        (409, Some("idempotency_key_reused"))
    );
    let id = v1["id"].as_i64().unwrap();
    env.wait_state(id, "accepted").await;
    let (s4, v4) = env.send_raw(0, &n, &body, Some("order-77")).await;
    assert_eq!((s4, v4["state"].as_str()), (200, Some("accepted")));
    let sent: Vec<_> = env
        .graph_sends(&n)
        .await
        .into_iter()
        .filter(|(_, s, _)| *s == 200)
        .collect();
    assert_eq!(sent.len(), 1, "sent once");
    // The store side of the same key (a campaign enqueueing directly) returns the same send.
    let again = NewSend {
        workspace: env.workspace.id,
        number: n.clone(),
        customer: coex_core::model::CustomerKey::Phone(
            coex_core::PhoneNumber::parse(&alice).unwrap(),
        ),
        recipient: Recipient::Phone(coex_core::PhoneNumber::parse(&alice).unwrap()),
        origin: Origin::Campaign,
        sender: None,
        kind: "text".into(),
        request: "{}".into(),
        content: coex_core::model::MessageContent::text("other"),
        category: coex_core::pricing::Category::Service,
        country: None,
        business_initiated: false,
        window_closes_at: None,
        estimated: coex_core::pricing::Amount::ZERO,
        currency: "USD".into(),
        idempotency_key: Some(IdempotencyKey::parse("order-77").unwrap()),
        not_before: env.now(),
    };
    assert!(env.store().enqueue(&again).await.is_err(), "another body");
    env.finish().await;
}

/// Holds the number's lane row as a stalled store would: on SQLite the database's write
/// lock (`BEGIN IMMEDIATE`), on PostgreSQL the row's lock. Either way the hub's lease
/// renewals wait behind it while its lane could still send from the sends it claimed.
enum Stall {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

impl Stall {
    /// Takes the lock; returns it with the lease's expiry as stored.
    async fn begin(url: &str, b: Backend, n: &str) -> (Stall, i64) {
        use sqlx::{Connection, Row};
        match b {
            Backend::Sqlite => {
                let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
                sqlx::query("BEGIN IMMEDIATE")
                    .execute(&mut c)
                    .await
                    .unwrap();
                let row =
                    sqlx::query("SELECT lease_expires_at FROM send_lanes WHERE number_id = ?")
                        .bind(n)
                        .fetch_one(&mut c)
                        .await
                        .unwrap();
                (Stall::Sqlite(c), row.get::<i64, _>(0))
            }
            Backend::Postgres => {
                let mut c = sqlx::PgConnection::connect(url).await.unwrap();
                sqlx::query("BEGIN").execute(&mut c).await.unwrap();
                let row = sqlx::query(
                    "SELECT lease_expires_at FROM send_lanes WHERE number_id = $1 FOR UPDATE",
                )
                .bind(n)
                .fetch_one(&mut c)
                .await
                .unwrap();
                (Stall::Postgres(c), row.get::<i64, _>(0))
            }
        }
    }

    /// Another process takes the expired lane over, as `acquire_lane` would: the lease is
    /// its own and the sends left `sending` are queued again. Returns how many.
    async fn take_over(self, n: &str, until: i64) -> u64 {
        let lease = "UPDATE send_lanes SET owner = 'intruder', lease_expires_at = $1 \
                     WHERE number_id = $2";
        let recover = "UPDATE sends SET state = 'queued', claimed_by = NULL, waiting = 'recovered' \
                       WHERE number_id = $1 AND state = 'sending'";
        match self {
            Stall::Sqlite(mut c) => {
                let q = |s: &str| s.replace("$1", "?1").replace("$2", "?2");
                sqlx::query(&q(lease))
                    .bind(until)
                    .bind(n)
                    .execute(&mut c)
                    .await
                    .unwrap();
                let r = sqlx::query(&q(recover))
                    .bind(n)
                    .execute(&mut c)
                    .await
                    .unwrap();
                sqlx::query("COMMIT").execute(&mut c).await.unwrap();
                r.rows_affected()
            }
            Stall::Postgres(mut c) => {
                sqlx::query(lease)
                    .bind(until)
                    .bind(n)
                    .execute(&mut c)
                    .await
                    .unwrap();
                let r = sqlx::query(recover).bind(n).execute(&mut c).await.unwrap();
                sqlx::query("COMMIT").execute(&mut c).await.unwrap();
                r.rows_affected()
            }
        }
    }
}

both!(lease_fence_after_a_stall);
/// A lane keeps sends it claimed in memory. If its process (here: its store) stalls past the
/// lease, another process takes the lane over and queues those sends again; the lane must not
/// send them too. The lease fence stops requests before the lease can lapse.
async fn lease_fence_after_a_stall(b: Backend) {
    let mut env = Env::start(b).await;
    let n = env.coex();
    // A slow lane holding a large buffer: one send per second, up to 100 claimed at once.
    env.hubs[0].stop().await;
    let settings = coex_hub::send::SendSettings {
        coexistence_outbound_mps: 1,
        claim_batch: Some(100),
        lease_ttl: Duration::from_secs(20),
        lease_renew: Duration::from_secs(5),
        ..test_settings()
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let i = env.start_hub(listener, settings).await;
    env.hubs.swap(0, i);
    // The backlog is queued while the lane is stopped, so that it claims it at once.
    env.store()
        .stop_lane(&n, None, "queueing the backlog", env.now())
        .await
        .unwrap();
    let mut ids = Vec::new();
    for i in 0..100 {
        let to = format!("+1555060{i:04}");
        ids.push(
            env.send_ok(&n, template(&to, "hello_world", "en_US", &[]))
                .await,
        );
    }
    let resumed = env
        .http
        .post(format!("{}/v1/numbers/{n}/lane/resume", env.hub().url))
        .send()
        .await
        .unwrap();
    assert!(resumed.status().is_success());
    env.wait_state(ids[0], "accepted").await;
    // Wait until the lane holds most of the backlog in memory.
    let mut held = false;
    for _ in 0..600 {
        let lane = env.get_json(&format!("/v1/numbers/{n}/lane")).await;
        if lane["sending"].as_u64().unwrap() >= 50 {
            held = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(held, "the lane never claimed the backlog");

    // The store stalls: renewals wait. The lease lapses, and 5 s later another process
    // takes the lane over.
    let (stall, expires) = Stall::begin(&env.db.url, b, n.as_str()).await;
    while env.now().as_millis() < expires + 5_000 {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let recovered = stall.take_over(n.as_str(), expires + 3_600_000).await;
    assert!(recovered > 0, "the lane held claimed sends at the takeover");
    // The lane learns of the takeover at its next renewal and gives its buffer up.
    tokio::time::sleep(Duration::from_secs(30)).await;
    let sends = env.graph_sends(&n).await;
    assert!(!sends.is_empty());
    let late: Vec<i64> = sends
        .iter()
        .map(|(at, _, _)| *at)
        .filter(|at| *at >= expires)
        .collect();
    assert!(
        late.is_empty(),
        "requests after the lease lapsed at {expires}: {late:?}"
    );
    let lane = env.get_json(&format!("/v1/numbers/{n}/lane")).await;
    assert_eq!(lane["owner"], "intruder", "{lane}");
    assert!(env.hubs[0].service.engine().running_lanes().is_empty());
    env.finish().await;
}
