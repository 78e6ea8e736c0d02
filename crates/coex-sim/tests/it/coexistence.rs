//! The phone app and the customers: echoes, edits and revokes, unsupported companions, an
//! offline phone's backlog, identity (BSUIDs, usernames, number changes), every inbound type,
//! and the contact and history sync.

use serde_json::{Value, json};

use crate::harness::Env;

#[tokio::test]
async fn app_sends_become_echoes_and_edits_and_revokes_are_echoed_too() {
    let env = Env::start().await;
    let sent = env.act(json!({ "action": "app_sends", "customer": "alice", "text": "Here's the info! https://shop.example/x" })).await;
    let id = sent["id"].as_str().unwrap().to_owned();
    env.act(json!({ "action": "app_edits", "text": "Here's the info (updated)" }))
        .await;
    env.act(json!({ "action": "app_revokes" })).await;
    let echoes = env.echoes();
    assert_eq!(echoes.len(), 3);
    assert_eq!(echoes[0]["from"], "15550783881");
    assert_eq!(echoes[0]["to"], "16505551234");
    assert_eq!(echoes[0]["to_user_id"], env.customer("alice").user_id);
    assert_eq!(echoes[0]["id"], id.as_str());
    assert_eq!(echoes[0]["type"], "text");
    assert_eq!(
        echoes[0]["text"]["body"],
        "Here's the info! https://shop.example/x"
    );
    assert_eq!(echoes[1]["type"], "edit");
    assert_eq!(echoes[1]["edit"]["original_message_id"], id.as_str());
    assert_eq!(
        echoes[1]["edit"]["message"]["text"]["body"],
        "Here's the info (updated)"
    );
    assert_eq!(echoes[2]["type"], "revoke");
    assert_eq!(echoes[2]["revoke"]["original_message_id"], id.as_str());
    let value = &env.values("smb_message_echoes")[0];
    assert_eq!(value["metadata"]["phone_number_id"], env.coex());
    // The raw bytes escape '/' and non-ASCII as Meta does.
    assert!(String::from_utf8_lossy(&env.got()[0].raw).contains(r"https:\/\/shop.example\/x"));
    // No statuses for app-sent messages, and no window opened by them.
    assert!(env.statuses().is_empty());
    // Edits only within 15 minutes.
    env.act(json!({ "action": "app_sends", "customer": "alice", "text": "typo" }))
        .await;
    env.advance("16m").await;
    let (status, body) = env
        .control(
            "POST",
            "/act",
            Some(json!({ "action": "app_edits", "text": "fixed" })),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    env.check_wire();
}

#[tokio::test]
async fn an_unsupported_companion_sends_without_an_echo() {
    let env = Env::start().await;
    env.act(json!({ "action": "app_sends", "customer": "alice", "text": "from Windows", "companion": "windows" })).await;
    env.act(json!({ "action": "app_sends", "customer": "alice", "text": "from the web", "companion": "web" })).await;
    let echoes = env.echoes();
    assert_eq!(echoes.len(), 1);
    assert_eq!(echoes[0]["text"]["body"], "from the web");
}

#[tokio::test]
async fn an_offline_phone_returns_with_a_backlog_of_echoes_some_duplicated() {
    let env = Env::start().await;
    env.act(json!({ "action": "phone_offline" })).await;
    let a = env
        .act(json!({ "action": "app_sends", "customer": "alice", "text": "one" }))
        .await;
    env.advance("5m").await;
    env.act(
        json!({ "action": "app_sends", "customer": "bruno", "kind": "image", "caption": "two" }),
    )
    .await;
    assert!(env.echoes().is_empty());
    env.advance("1h").await;
    let r = env
        .act(json!({ "action": "phone_online", "duplicates": 1 }))
        .await;
    assert_eq!(r["backlog_sent"], 2);
    let echoes = env.echoes();
    assert_eq!(echoes.len(), 3);
    assert_eq!(echoes[0]["id"], a["id"]);
    assert_eq!(echoes[1]["id"], a["id"], "the first one twice");
    // The echo carries the time it was sent from the phone, not when it arrived.
    let sent_at: i64 = echoes[0]["timestamp"].as_str().unwrap().parse().unwrap();
    assert_eq!(sent_at, crate::harness::START);
    assert_eq!(echoes[2]["image"]["caption"], "two");
    assert!(echoes[2]["image"]["id"].is_string());
    env.check_wire();
}

#[tokio::test]
async fn customers_are_identified_by_bsuid_and_phones_only_when_meta_shares_them() {
    let env = Env::start().await;
    for key in ["alice", "chen", "dana", "emre"] {
        env.act(json!({ "action": "customer_sends", "customer": key, "text": format!("hi from {key}") })).await;
    }
    let values = env.values("messages");
    let by = |i: usize| (&values[i]["contacts"][0], &values[i]["messages"][0]);
    // No username: phone and BSUID.
    let (c, m) = by(0);
    assert_eq!(c["wa_id"], "16505551234");
    assert_eq!(c["user_id"], env.customer("alice").user_id);
    assert_eq!(m["from"], "16505551234");
    assert_eq!(m["from_user_id"], env.customer("alice").user_id);
    assert!(c["profile"].get("username").is_none());
    // Username, number not shared: BSUID only, phone fields omitted (never empty).
    let (c, m) = by(1);
    assert!(c.get("wa_id").is_none());
    assert!(m.get("from").is_none());
    assert_eq!(c["profile"]["username"], "@chen.w");
    assert!(m["from_user_id"].as_str().unwrap().starts_with("US."));
    // Username and shared number.
    let (c, _) = by(2);
    assert_eq!(c["wa_id"], "442079460018");
    assert_eq!(c["profile"]["username"], "@dana_k");
    // Parent BSUID.
    let (c, m) = by(3);
    assert!(c["parent_user_id"].as_str().unwrap().starts_with("TR.ENT."));
    assert_eq!(m["from_parent_user_id"], c["parent_user_id"]);
    // Replying to chen by BSUID: statuses carry the user id and no recipient_id.
    let chen = env.customer("chen");
    let (status, resp) = env
        .send(json!({ "messaging_product": "whatsapp", "recipient_type": "individual", "recipient": chen.user_id,
                      "type": "text", "text": { "body": "Hello Chen" } }))
        .await;
    assert_eq!(status, 200, "{resp}");
    env.advance("1m").await;
    let st = env.statuses_of(resp["messages"][0]["id"].as_str().unwrap());
    assert_eq!(st.len(), 3);
    assert!(st.iter().all(|s| s.get("recipient_id").is_none()));
    assert!(
        st.iter()
            .all(|s| s["recipient_user_id"] == chen.user_id.as_str())
    );
    let status_values: Vec<Value> = env
        .values("messages")
        .into_iter()
        .filter(|v| v.get("statuses").is_some())
        .collect();
    assert!(
        status_values[0]["contacts"][0]["profile"]
            .get("username")
            .is_none(),
        "never on sent"
    );
    assert_eq!(
        status_values[1]["contacts"][0]["profile"]["username"],
        "@chen.w"
    );
    env.check_wire();
}

#[tokio::test]
async fn a_customer_who_changes_number_gets_a_new_bsuid() {
    let env = Env::start().await;
    env.act(json!({ "action": "customer_sends", "customer": "alice", "text": "hi" }))
        .await;
    let old = env.customer("alice").user_id;
    let r = env.act(json!({ "action": "customer_changes_number", "customer": "alice", "new_phone": "+16505550000" })).await;
    let new = r["user_id"].as_str().unwrap();
    assert_ne!(new, old);
    let update = &env.values("user_id_update")[0];
    assert_eq!(
        update["user_id_update"][0]["user_id"],
        json!({ "previous": old, "current": new })
    );
    assert_eq!(update["user_id_update"][0]["wa_id"], "16505550000");
    let system = env
        .inbound()
        .into_iter()
        .find(|m| m["type"] == "system")
        .unwrap();
    assert_eq!(system["system"]["type"], "user_changed_user_id");
    assert_eq!(system["system"]["user_id"], new);
    assert!(system["system"]["body"].as_str().unwrap().contains(&old));
    env.check_wire();
}

#[tokio::test]
async fn every_inbound_type_arrives_as_meta_shows_it() {
    let env = Env::start().await;
    // Something of ours to reply to and react to.
    env.act(json!({ "action": "customer_sends", "customer": "alice", "text": "hi" }))
        .await;
    let (_, resp) = env
        .send(json!({ "messaging_product": "whatsapp", "to": "16505551234", "type": "interactive",
            "interactive": { "type": "button", "body": { "text": "Pick one" },
              "action": { "buttons": [{ "type": "reply", "reply": { "id": "change-button", "title": "Change" } }] } } }))
        .await;
    let ours = resp["messages"][0]["id"].as_str().unwrap().to_owned();
    for kind in ["image", "audio", "video", "document", "sticker"] {
        env.act(json!({ "action": "customer_sends", "customer": "alice", "kind": kind, "caption": "c" })).await;
    }
    env.act(json!({ "action": "customer_sends", "customer": "alice",
        "message": { "type": "location", "location": { "latitude": 37.48, "longitude": -122.14, "name": "Shop" } } })).await;
    env.act(json!({ "action": "customer_sends", "customer": "alice",
        "message": { "type": "contacts", "contacts": [{ "name": { "formatted_name": "Pablo", "first_name": "Pablo" },
            "phones": [{ "phone": "+1 650 555 9999", "wa_id": "16505559999", "type": "CELL" }] }] } })).await;
    env.act(json!({ "action": "customer_taps_button", "customer": "alice", "message_id": ours, "title": "Change", "button_id": "change-button" })).await;
    env.act(json!({ "action": "customer_reacts", "customer": "alice", "message_id": ours, "emoji": "👍" })).await;
    env.act(json!({ "action": "customer_sends", "customer": "alice", "text": "wrong" }))
        .await;
    env.act(json!({ "action": "customer_edits", "customer": "alice", "text": "right" }))
        .await;
    env.act(json!({ "action": "customer_revokes", "customer": "alice" }))
        .await;
    env.act(json!({ "action": "customer_sends_unsupported", "customer": "bruno" }))
        .await;
    let msgs = env.inbound();
    let types: Vec<&str> = msgs.iter().map(|m| m["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "text",
            "image",
            "audio",
            "video",
            "document",
            "sticker",
            "location",
            "contacts",
            "interactive",
            "reaction",
            "text",
            "edit",
            "revoke",
            "unsupported"
        ]
    );
    let image = &msgs[1]["image"];
    assert!(
        image["id"].is_string()
            && image["sha256"].is_string()
            && image["mime_type"] == "image/jpeg"
    );
    assert_eq!(msgs[2]["audio"]["voice"], true);
    assert_eq!(
        msgs[8]["interactive"]["button_reply"],
        json!({ "id": "change-button", "title": "Change" })
    );
    assert_eq!(msgs[8]["context"]["id"], ours.as_str());
    assert_eq!(msgs[8]["context"]["from"], "15550783881");
    assert_eq!(
        msgs[9]["reaction"],
        json!({ "message_id": ours, "emoji": "👍" })
    );
    assert_eq!(msgs[11]["edit"]["original_message_id"], msgs[10]["id"]);
    assert_eq!(msgs[11]["edit"]["message"]["text"]["body"], "right");
    assert_eq!(msgs[12]["revoke"]["original_message_id"], msgs[10]["id"]);
    assert_eq!(msgs[13]["errors"][0]["code"], 131060);
    // The reaction's raw bytes carry the emoji as a surrogate pair.
    assert!(
        env.got()
            .iter()
            .any(|g| String::from_utf8_lossy(&g.raw).contains(r"\ud83d\udc4d"))
    );
    env.check_wire();
}

#[tokio::test]
async fn an_offline_customer_gets_messages_when_back_and_never_reads_without_receipts() {
    let env = Env::start().await;
    env.act(json!({ "action": "customer_sends", "customer": "farah", "text": "مرحبا" }))
        .await;
    env.act(json!({ "action": "customer_offline", "customer": "farah" }))
        .await;
    let (_, resp) = env.send_text("+971501234567", "أهلا").await;
    let id = resp["messages"][0]["id"].as_str().unwrap().to_owned();
    env.advance("1h").await;
    let kinds = |env: &Env| -> Vec<String> {
        env.statuses_of(&id)
            .iter()
            .map(|s| s["status"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(kinds(&env), ["sent"]);
    env.act(json!({ "action": "customer_online", "customer": "farah" }))
        .await;
    env.advance("1m").await;
    assert_eq!(kinds(&env), ["sent", "delivered", "read"]);
    // bruno never reads.
    env.act(json!({ "action": "customer_sends", "customer": "bruno", "text": "oi" }))
        .await;
    let (_, resp) = env.send_text("+5511987654321", "olá").await;
    env.advance("1h").await;
    let st = env.statuses_of(resp["messages"][0]["id"].as_str().unwrap());
    assert_eq!(
        st.iter()
            .map(|s| s["status"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["sent", "delivered"]
    );
    // Arabic text went out as \u escapes and the signature still matches.
    assert!(
        env.got()
            .iter()
            .any(|g| String::from_utf8_lossy(&g.raw).contains(r"\u0645\u0631\u062d\u0628\u0627"))
    );
    env.check_wire();
}

#[tokio::test]
async fn contact_sync_comes_first_then_history_in_phases_and_chunks_then_media() {
    let env = Env::start_with(|b| b.options(|o| o.history_chunk_messages = 10)).await;
    let path = format!("/v25.0/{}/smb_app_data", env.coex());
    env.graph(
        "POST",
        &path,
        Some(json!({ "messaging_product": "whatsapp", "sync_type": "smb_app_state_sync" })),
    )
    .await;
    env.graph(
        "POST",
        &path,
        Some(json!({ "messaging_product": "whatsapp", "sync_type": "history" })),
    )
    .await;
    env.advance("10m").await;
    // Contacts first.
    let fields: Vec<String> = env
        .got()
        .iter()
        .flat_map(|g| {
            g.json["entry"][0]["changes"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .map(|c| c["field"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(fields[0], "smb_app_state_sync");
    let sync = &env.values("smb_app_state_sync")[0]["state_sync"];
    let names: Vec<&str> = sync
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["contact"]["full_name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"Sheena Nelson") && names.contains(&"Green Supplier Ltd"));
    assert!(
        sync.as_array()
            .unwrap()
            .iter()
            .all(|s| s["action"] == "add" && s["type"] == "contact")
    );
    // History: chunks with phases 0, 1, 2 in order, chunk_order from 1, progress to 100.
    let chunks: Vec<Value> = env
        .values("history")
        .iter()
        .filter_map(|v| v["history"].as_array().map(|h| h[0].clone()))
        .collect();
    assert!(chunks.len() > 3);
    let meta: Vec<(i64, i64, i64)> = chunks
        .iter()
        .map(|c| {
            (
                c["metadata"]["phase"].as_i64().unwrap(),
                c["metadata"]["chunk_order"].as_i64().unwrap(),
                c["metadata"]["progress"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(meta.first().unwrap().0, 0);
    assert_eq!(meta.first().unwrap().1, 1);
    assert_eq!(meta.last().unwrap().2, 100);
    assert!(
        meta.windows(2)
            .all(|w| w[0].0 <= w[1].0 && w[0].2 <= w[1].2)
    );
    assert!(meta.iter().any(|m| m.0 == 2));
    let onboarded = crate::harness::START - 600;
    let mut placeholders = 0;
    for c in &chunks {
        for t in c["threads"].as_array().unwrap() {
            assert!(t["context"]["user_id"].is_string(), "1:1 threads only");
            for m in t["messages"].as_array().unwrap() {
                let ts: i64 = m["timestamp"].as_str().unwrap().parse().unwrap();
                assert!(ts >= onboarded - 180 * 86_400, "no older than 180 days");
                assert!(ts <= onboarded);
                assert!(m["history_context"]["status"].is_string());
                if m["type"] == "media_placeholder" {
                    placeholders += 1;
                    assert!(m.get("image").is_none());
                }
            }
        }
    }
    assert!(placeholders > 0);
    // Media follow-ups: only for media of the last 14 days, with the placeholder's wamid.
    let followups: Vec<Value> = env
        .values("history")
        .into_iter()
        .filter(|v| v.get("history").is_none())
        .collect();
    assert!(!followups.is_empty());
    assert!(followups.len() < placeholders);
    for f in &followups {
        let m = f["messages"]
            .get(0)
            .or_else(|| f["message_echoes"].get(0))
            .unwrap();
        let ts: i64 = m["timestamp"].as_str().unwrap().parse().unwrap();
        assert!(ts >= onboarded - 14 * 86_400);
        assert!(m["image"]["id"].is_string());
        assert!(f["contacts"][0]["user_id"].is_string());
    }
    // Later contact edits come one by one.
    env.act(json!({ "action": "app_contact_saved", "name": "Farah Al-Hashimi", "phone": "+971501234567" })).await;
    env.act(json!({ "action": "app_contact_removed", "phone": "+15550002222" }))
        .await;
    let later = env.values("smb_app_state_sync");
    let n = later.len();
    assert_eq!(
        later[n - 2]["state_sync"][0]["contact"]["user_id"],
        env.customer("farah").user_id
    );
    assert_eq!(later[n - 1]["state_sync"][0]["action"], "remove");
    assert_eq!(
        later[n - 1]["state_sync"][0]["contact"],
        json!({ "phone_number": "15550002222" })
    );
    env.check_wire();
}
