//! The webhook endpoint over real HTTP: signatures and body sizes refused before anything is
//! stored, the verification handshake, and idempotency across Meta's retries (the same
//! signed body twice, concurrently, and again seven days later).

use std::time::Duration;

use coex_core::Wamid;
use coex_core::model::EventSeq;
use coex_store::{Store, StoreError};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::both_backends;
use crate::expected::{canonical_dump, json_diff};
use crate::harness::{Backend, Env};

/// A hang guard for raw socket reads (never an assertion on speed).
const HANG: Duration = Duration::from_secs(60);

/// A Meta-shaped inbound text from Alice to the coexistence number.
fn inbound_body(env: &Env, wamid: &str, text: &str) -> Vec<u8> {
    let alice = env.customer("alice");
    let display = &env.info.phone_numbers[0].display_phone_number;
    serde_json::to_vec(&json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": env.info.waba_id, "changes": [{ "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": display, "phone_number_id": env.coex() },
            "contacts": [{ "profile": { "name": alice.name }, "wa_id": alice.phone,
                           "user_id": alice.user_id }],
            "messages": [{ "from": alice.phone, "from_user_id": alice.user_id, "id": wamid,
                           "timestamp": env.now().as_secs().to_string(), "type": "text",
                           "text": { "body": text } }]
        }}]}]
    }))
    .unwrap()
}

async fn metrics(env: &Env) -> Value {
    env.http
        .get(format!("{}/metrics", env.hub.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Reads one HTTP/1.1 response from a raw socket: (status, JSON body).
async fn read_response(stream: &mut tokio::net::TcpStream) -> (u16, Value) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
            let len: usize = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().unwrap())
                })
                .expect("a content-length");
            while buf.len() < end + 4 + len {
                let n = tokio::time::timeout(HANG, stream.read(&mut chunk))
                    .await
                    .expect("the server stopped answering")
                    .unwrap();
                assert!(n > 0, "connection closed mid-body");
                buf.extend_from_slice(&chunk[..n]);
            }
            let body = serde_json::from_slice(&buf[end + 4..end + 4 + len]).unwrap();
            return (status, body);
        }
        let n = tokio::time::timeout(HANG, stream.read(&mut chunk))
            .await
            .expect("the server stopped answering")
            .unwrap();
        assert!(n > 0, "connection closed before a response");
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn assert_error(status: u16, answer: &Value, want_status: u16, want_code: &str) {
    assert_eq!(status, want_status, "{answer}");
    assert_eq!(answer["code"].as_str(), Some(want_code), "{answer}");
    assert!(
        answer["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{answer}"
    );
}

async fn bad_signatures_and_bodies_are_refused(backend: Backend) {
    let env = Env::start(backend).await;
    let hub = env.hub.url.clone();
    let wamid = "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBRTSUdOQVRVUkVURVNUMDAwMDAxAA==";
    let body = inbound_body(&env, wamid, "Is this signed?");

    // Missing, wrong-secret, malformed and stale (other bytes) signatures: 401 JSON.
    let (status, answer) = env.post_webhook(&hub, body.clone(), None).await;
    assert_error(status, &answer, 401, "missing_signature");
    let wrong = coex_meta::signature::sign(b"not-the-app-secret", &body);
    let (status, answer) = env.post_webhook(&hub, body.clone(), Some(&wrong)).await;
    assert_error(status, &answer, 401, "bad_signature");
    let (status, answer) = env
        .post_webhook(&hub, body.clone(), Some("sha1=0123abcd"))
        .await;
    assert_error(status, &answer, 401, "bad_signature");
    let mut tampered = body.clone();
    tampered.push(b' ');
    let (status, answer) = env
        .post_webhook(&hub, tampered, Some(&env.sign(&body)))
        .await;
    assert_error(status, &answer, 401, "bad_signature");

    // Nothing was stored or even archived.
    let number = env.coex();
    let w = Wamid::parse(wamid).unwrap();
    assert!(matches!(
        env.store.get_message(&number, &w).await,
        Err(StoreError::NotFound { .. })
    ));
    let m = metrics(&env).await;
    assert_eq!(m["ingest"]["acked"], 0, "{m}");
    assert_eq!(m["ingest"]["store"]["archived"], 0, "{m}");

    // A body over 3 MB is refused on its Content-Length, before it is sent at all.
    let addr = hub.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /webhook HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         X-Hub-Signature-256: {}\r\nContent-Length: {}\r\n\r\n{{\"object\":",
        env.sign(&body),
        3 * 1024 * 1024 + 1
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let (status, answer) = read_response(&mut stream).await;
    assert_error(status, &answer, 413, "body_too_large");
    drop(stream);

    // A chunked body (no Content-Length) is cut off once it passes the limit.
    let piece = vec![b' '; 64 * 1024];
    let pieces = (0..49).map(move |_| Ok::<_, std::io::Error>(piece.clone()));
    let resp = env
        .http
        .post(format!("{hub}/webhook"))
        .header("x-hub-signature-256", env.sign(b"irrelevant"))
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            pieces,
        )))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let answer: Value = resp.json().await.unwrap();
    assert_error(status, &answer, 413, "body_too_large");
    let m = metrics(&env).await;
    assert_eq!(m["ingest"]["acked"], 0, "{m}");

    // The same body, rightly signed, is stored: the refusals were about the signature.
    let (status, answer) = env
        .post_webhook(&hub, body.clone(), Some(&env.sign(&body)))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["deferred"], false);
    let stored = env.store.get_message(&number, &w).await.unwrap();
    assert_eq!(stored.content.body.as_deref(), Some("Is this signed?"));

    // The GET handshake: the challenge back for the right token, 403 JSON otherwise.
    let handshake = |token: &str| {
        env.http
            .get(format!("{hub}/webhook"))
            .query(&[
                ("hub.mode", "subscribe"),
                ("hub.verify_token", token),
                ("hub.challenge", "1158201444"),
            ])
            .send()
    };
    let ok = handshake(&env.info.verify_token).await.unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    assert_eq!(ok.text().await.unwrap(), "1158201444");
    let wrong = handshake("not-the-token").await.unwrap();
    let status = wrong.status().as_u16();
    assert_error(
        status,
        &wrong.json().await.unwrap(),
        403,
        "bad_verify_token",
    );
    let no_mode = env
        .http
        .get(format!("{hub}/webhook?hub.verify_token=x&hub.challenge=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(no_mode.status().as_u16(), 400);
    // And Meta's own check of the callback URL, made by the emulator.
    let verified = env.ctl("POST", "/webhook/verify", None).await;
    assert_eq!(verified["verified"], true, "{verified}");
    env.finish().await;
}
both_backends!(bad_signatures_and_bodies_are_refused);

/// Every feed event after `seq`.
async fn events_after(env: &Env, seq: EventSeq) -> Vec<coex_core::model::StoredEvent> {
    env.store
        .events_after(env.workspace.id, seq, 10_000)
        .await
        .unwrap()
}

async fn meta_retries_change_nothing(backend: Backend) {
    let env = Env::start(backend).await;
    // Some of everything: history and contacts, an inbound message, an echo, an edit, a
    // revoke, a platform send with its statuses.
    env.advance("1m").await;
    env.act(json!([
        { "action": "customer_sends", "customer": "alice", "text": "Hello again" },
        { "action": "app_sends", "customer": "alice", "text": "Hi Alice!" },
        { "action": "app_edits", "text": "Hi Alice! 🌵" },
        { "action": "customer_sends", "customer": "dana", "text": "Oops" },
        { "action": "customer_revokes", "customer": "dana" },
    ]))
    .await;
    let text = json!({ "type": "text", "text": { "body": "How can we help?" } });
    env.api_send(&env.coex(), "alice", text).await;
    env.advance("1m").await;
    env.quiesce().await;

    let deliveries = env.deliveries().await;
    assert!(deliveries.len() >= 10, "{}", deliveries.len());
    let phones: Vec<String> = ["16505551234", "15550001111", "15550002222"]
        .map(String::from)
        .to_vec();
    let before = canonical_dump(&env, &phones).await;
    let last_event = events_after(&env, EventSeq::new(0))
        .await
        .last()
        .unwrap()
        .seq;
    let hub = env.hub.url.clone();

    // Every body again, as Meta retries it: twice in a row ...
    for d in &deliveries {
        for _ in 0..2 {
            let (status, answer) = env
                .post_webhook(&hub, d.body.clone().into_bytes(), Some(&d.signature))
                .await;
            assert_eq!(status, 200, "delivery {}: {answer}", d.id);
        }
    }
    // ... and eight copies of each at once.
    let concurrent = deliveries.iter().flat_map(|d| {
        (0..8).map(|_| env.post_webhook(&hub, d.body.clone().into_bytes(), Some(&d.signature)))
    });
    for (status, answer) in futures_util::future::join_all(concurrent).await {
        assert_eq!(status, 200, "{answer}");
    }
    env.quiesce().await;
    let after = canonical_dump(&env, &phones).await;
    let diff = json_diff(&before, &after);
    assert!(
        diff.is_empty(),
        "redeliveries changed the store:\n{}",
        diff.join("\n")
    );
    let new_events = events_after(&env, last_event).await;
    assert!(
        new_events.is_empty(),
        "redeliveries made events: {new_events:#?}"
    );

    // Seven days later (Meta retries for up to seven days), the same bodies again.
    env.advance("7d").await;
    for d in &deliveries {
        let (status, answer) = env
            .post_webhook(&hub, d.body.clone().into_bytes(), Some(&d.signature))
            .await;
        assert_eq!(status, 200, "delivery {}: {answer}", d.id);
    }
    env.quiesce().await;
    let later = canonical_dump(&env, &phones).await;
    let diff = json_diff(&before, &later);
    assert!(
        diff.is_empty(),
        "a redelivery seven days later changed the store:\n{}",
        diff.join("\n")
    );
    assert!(events_after(&env, last_event).await.is_empty());
    env.finish().await;
}
both_backends!(meta_retries_change_nothing);

/// A wamid too long for a PostgreSQL index entry (random, so compression cannot save it).
fn huge_wamid(seed: u64) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut x = seed | 1;
    let tail: String = (0..12_000)
        .map(|_| {
            // xorshift64: enough randomness to defeat compression, no dependency.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(ALPHABET[(x % ALPHABET.len() as u64) as usize])
        })
        .collect();
    format!("wamid.{tail}")
}

async fn change_errors(env: &Env) -> Vec<Value> {
    env.rest("/change-errors").await["data"]
        .as_array()
        .unwrap()
        .clone()
}

async fn a_body_the_store_cannot_take_blocks_nothing(backend: Backend) {
    let env = Env::start(backend).await;
    let hub = env.hub.url.clone();
    let number = env.coex();
    let stored_body = |wamid: String| {
        let env = &env;
        let number = number.clone();
        async move {
            env.store
                .get_message(&number, &Wamid::parse(wamid).unwrap())
                .await
                .ok()
                .map(|m| m.content.body)
        }
    };

    // A NUL character is valid JSON (`\u0000`) but PostgreSQL text cannot hold it: the
    // message is stored with U+FFFD instead, and the webhook beside it is not held back.
    let poison_id = "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBRQT0lTT04wMDAwMDAwMDAwMDAxAA==";
    let good_id = "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBRHT09EMDAwMDAwMDAwMDAwMDAxAA==";
    let poison = inbound_body(&env, poison_id, "nul \u{0} inside");
    let good = inbound_body(&env, good_id, "an ordinary message");
    let (poison_sig, good_sig) = (env.sign(&poison), env.sign(&good));
    let (p, g) = tokio::join!(
        env.post_webhook(&hub, poison.clone(), Some(&poison_sig)),
        env.post_webhook(&hub, good.clone(), Some(&good_sig)),
    );
    assert_eq!(g.0, 200, "{}", g.1);
    assert_eq!(p.0, 200, "{}", p.1);
    assert_eq!(
        stored_body(good_id.into()).await,
        Some(Some("an ordinary message".into()))
    );
    assert_eq!(
        stored_body(poison_id.into()).await,
        Some(Some("nul \u{FFFD} inside".into()))
    );

    // A raw NUL byte is not JSON at all: kept as a change error (without the NUL).
    let broken = b"{\"object\":\"whatsapp_business_account\",\"entry\":[\0]}".to_vec();
    let sig = env.sign(&broken);
    let (status, answer) = env.post_webhook(&hub, broken, Some(&sig)).await;
    assert_eq!(status, 200, "{answer}");
    let errors = change_errors(&env).await;
    let last = errors.last().unwrap();
    assert!(
        last["error"].as_str().unwrap().contains("malformed JSON"),
        "{last}"
    );
    assert!(!last["raw"].as_str().unwrap().contains('\0'));

    // A wamid too long for an index (PostgreSQL could not index it; the store refuses it on
    // both backends alike): the body is kept with its error and acknowledged, and the webhook
    // next to it is stored.
    let long_id = huge_wamid(7);
    let good_id = "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBRHT09EMDAwMDAwMDAwMDAwMDAyAA==";
    let long = inbound_body(&env, &long_id, "a very long id");
    let good = inbound_body(&env, good_id, "another ordinary message");
    let (long_sig, good_sig) = (env.sign(&long), env.sign(&good));
    let (l, g) = tokio::join!(
        env.post_webhook(&hub, long.clone(), Some(&long_sig)),
        env.post_webhook(&hub, good.clone(), Some(&good_sig)),
    );
    assert_eq!(g.0, 200, "{}", g.1);
    assert_eq!(l.0, 200, "{}", l.1);
    assert_eq!(
        stored_body(good_id.into()).await,
        Some(Some("another ordinary message".into()))
    );
    let quarantined = |errors: &[Value]| {
        errors
            .iter()
            .filter(|e| e["error"].as_str().unwrap().contains("could not apply"))
            .count()
    };
    assert!(stored_body(long_id.clone()).await.is_none());
    assert_eq!(quarantined(&change_errors(&env).await), 1);
    // Asking the REST API for such an id is the caller's mistake, not a server failure.
    let url = format!("{}/v1/numbers/{number}/messages/{long_id}", env.hub.url);
    let resp = env.http.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("invalid_data"));

    // The same in a large body applied in the background: it does not hold back the next.
    let first = env.history_body(&huge_wamid(11), 1_300, 1);
    let second = env.history_body(
        "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBRTRUNPTkQwMDAwMDAwMDAwMDEA",
        1_300,
        2,
    );
    assert!(first.len() >= 256 * 1024 && second.len() >= 256 * 1024);
    for body in [first, second] {
        let sig = env.sign(&body);
        let (status, answer) = env.post_webhook(&hub, body, Some(&sig)).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["deferred"], true, "{answer}");
    }
    env.quiesce().await;
    let second_last = "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBRISVNUT1JZ000200001299AA==";
    assert!(stored_body(second_last.into()).await.is_some());
    let first_last = "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBRISVNUT1JZ000100001299AA==";
    assert!(stored_body(first_last.into()).await.is_none());
    assert_eq!(quarantined(&change_errors(&env).await), 2);
    let m = metrics(&env).await;
    assert_eq!(m["ingest"]["quarantined"], 2, "{m}");
    env.finish().await;
}
both_backends!(a_body_the_store_cannot_take_blocks_nothing);

async fn webhooks_sent_while_the_hub_is_down_are_retried(backend: Backend) {
    let mut env = Env::start(backend).await;
    env.advance("1m").await;
    env.quiesce().await;
    let before = env.deliveries().await.len();

    env.stop_hub().await;
    let inbound = env
        .act(json!({ "action": "customer_sends", "customer": "alice", "text": "Anyone there?" }))
        .await;
    let echo = env
        .act(json!({ "action": "app_sends", "customer": "alice", "text": "Yes, one moment." }))
        .await;
    let failed: Vec<_> = env.deliveries().await.into_iter().skip(before).collect();
    assert_eq!(failed.len(), 2);
    for d in &failed {
        assert_eq!(d.state, "pending");
        assert_eq!(d.attempts.len(), 1);
        assert_eq!(d.attempts[0].status, None, "no answer: {:?}", d.attempts[0]);
    }

    // A new process comes up; Meta's retries (10 s later, then doubling) find it.
    env.start_hub_again().await;
    env.quiesce().await;
    let retried: Vec<_> = env.deliveries().await.into_iter().skip(before).collect();
    for d in &retried {
        assert_eq!(d.state, "delivered", "{d:?}");
        assert!(d.attempts.len() >= 2);
    }
    let number = env.coex();
    for (result, body) in [(&inbound, "Anyone there?"), (&echo, "Yes, one moment.")] {
        let wamid = Wamid::parse(result["id"].as_str().unwrap()).unwrap();
        let m = env.store.get_message(&number, &wamid).await.unwrap();
        assert_eq!(m.content.body.as_deref(), Some(body));
    }
    let expected = crate::expected::Expected::from_deliveries(&env.deliveries().await);
    crate::expected::assert_store_matches(&env, &expected).await;
    env.finish().await;
}
both_backends!(webhooks_sent_while_the_hub_is_down_are_retried);
