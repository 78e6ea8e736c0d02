//! The Graph API surface: versions, tokens, objects, media, templates, subscriptions, and the
//! send/status lifecycle with pricing.

use serde_json::json;

use crate::harness::{Env, code};

#[tokio::test]
async fn bad_or_missing_token_is_190_or_104_with_metas_envelope() {
    let env = Env::start().await;
    let path = format!("/v25.0/{}/messages", env.coex());
    let body = json!({ "messaging_product": "whatsapp", "to": "+16505551234", "type": "text", "text": { "body": "x" } });
    let (status, resp) = env
        .graph_as("wrong", "POST", &path, Some(body.clone()))
        .await;
    assert_eq!(status, 401);
    assert_eq!(code(&resp), 190);
    assert_eq!(resp["error"]["type"], "OAuthException");
    assert!(resp["error"]["fbtrace_id"].is_string());
    let resp = env
        .http
        .post(format!("{}{path}", env.info.graph_url))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(code(&resp.json().await.unwrap()), 104);
    // Every request is listed, token redacted.
    let (_, reqs) = env.control("GET", "/requests", None).await;
    let reqs = reqs.as_array().unwrap();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0]["status"], 401);
    assert_eq!(reqs[0]["headers"]["authorization"], "<invalid token>");
    assert!(!reqs[0].to_string().contains("wrong"));
}

#[tokio::test]
async fn any_version_is_accepted_and_unknown_objects_and_paths_are_refused() {
    let env = Env::start().await;
    for v in ["v19.0", "v23.0", "v25.0", "v99.9"] {
        let (status, body) = env
            .graph("GET", &format!("/{v}/{}", env.coex()), None)
            .await;
        assert_eq!(status, 200, "{v}: {body}");
    }
    let (status, body) = env.graph("GET", "/v25.0/999", None).await;
    assert_eq!(status, 400);
    assert_eq!(code(&body), 100);
    assert_eq!(body["error"]["error_subcode"], 33);
    let (_, body) = env
        .graph("GET", &format!("/v25.0/{}/nonsense", env.coex()), None)
        .await;
    assert_eq!(code(&body), 2500);
}

#[tokio::test]
async fn phone_number_fields_waba_numbers_and_subscriptions() {
    let env = Env::start().await;
    let (_, n) = env
        .graph(
            "GET",
            &format!("/v25.0/{}?fields=is_on_biz_app,platform_type", env.coex()),
            None,
        )
        .await;
    assert_eq!(
        n,
        json!({ "is_on_biz_app": true, "platform_type": "CLOUD_API", "id": env.coex() })
    );
    let (_, n) = env
        .graph("GET", &format!("/v25.0/{}?fields=is_on_biz_app,throughput,whatsapp_business_manager_messaging_limit", env.cloud()), None)
        .await;
    assert_eq!(n["is_on_biz_app"], false);
    assert_eq!(n["throughput"]["level"], "STANDARD");
    assert_eq!(n["whatsapp_business_manager_messaging_limit"], "TIER_250");
    let (_, list) = env
        .graph(
            "GET",
            &format!("/v25.0/{}/phone_numbers", env.info.waba_id),
            None,
        )
        .await;
    let data = list["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert_eq!(data[0]["display_phone_number"], "+1 555-078-3881");
    assert_eq!(
        data[0]["webhook_configuration"]["application"],
        env.hook_url
    );
    let (_, waba) = env
        .graph("GET", &format!("/v25.0/{}", env.info.waba_id), None)
        .await;
    assert_eq!(waba["name"], "Lucky Shrub");
    let path = format!("/v25.0/{}/subscribed_apps", env.info.waba_id);
    let (_, subs) = env.graph("GET", &path, None).await;
    assert_eq!(subs["data"].as_array().unwrap().len(), 1);
    assert_eq!(
        env.graph("DELETE", &path, None).await.1,
        json!({ "success": true })
    );
    // Unsubscribed: no webhooks reach the app.
    env.act(json!({ "action": "customer_sends", "customer": "alice", "text": "hi" }))
        .await;
    assert!(env.got().is_empty());
    assert_eq!(
        env.graph("POST", &path, None).await.1,
        json!({ "success": true })
    );
    env.act(json!({ "action": "customer_sends", "customer": "alice", "text": "hi again" }))
        .await;
    assert_eq!(env.inbound().len(), 1);
}

#[tokio::test]
async fn webhook_overrides_are_verified_and_route_phone_fields_but_not_account_fields() {
    let env = Env::start().await;
    // A second receiver for the WABA override.
    let other = std::sync::Arc::new(crate::harness::HookState::default());
    let other_url = crate::harness::receiver(other.clone()).await;
    let path = format!("/v25.0/{}/subscribed_apps", env.info.waba_id);
    let (status, body) = env
        .graph(
            "POST",
            &path,
            Some(json!({ "override_callback_uri": other_url, "verify_token": "wrong" })),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = env
        .graph(
            "POST",
            &path,
            Some(json!({ "override_callback_uri": other_url, "verify_token": "vt" })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    env.act(json!({ "action": "customer_sends", "customer": "alice", "text": "to the override" }))
        .await;
    env.act(json!({ "action": "app_disconnects" })).await;
    assert_eq!(other.got.lock().unwrap().len(), 1);
    // account_update always goes to the app's URL.
    assert_eq!(env.values("account_update").len(), 1);
    assert!(env.inbound().is_empty());
}

#[tokio::test]
async fn media_upload_retrieve_download_and_delete() {
    let env = Env::start().await;
    let form = reqwest::multipart::Form::new()
        .text("messaging_product", "whatsapp")
        .text("type", "image/png")
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"\x89PNG fake".to_vec())
                .file_name("a.png")
                .mime_str("image/png")
                .unwrap(),
        );
    let resp = env
        .http
        .post(format!("{}/v25.0/{}/media", env.info.graph_url, env.coex()))
        .bearer_auth(crate::harness::TOKEN)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let id = resp.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, info) = env.graph("GET", &format!("/v25.0/{id}"), None).await;
    assert_eq!(info["mime_type"], "image/png");
    assert_eq!(info["file_size"], 9);
    let url = info["url"].as_str().unwrap();
    assert!(url.starts_with(&env.info.graph_url), "{url}");
    // The URL needs the token, like Meta's.
    assert_eq!(env.http.get(url).send().await.unwrap().status(), 401);
    let bytes = env
        .http
        .get(url)
        .bearer_auth(crate::harness::TOKEN)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&bytes[..], b"\x89PNG fake");
    assert_eq!(
        env.graph("DELETE", &format!("/v25.0/{id}"), None).await.1,
        json!({ "success": true })
    );
    assert_eq!(env.graph("GET", &format!("/v25.0/{id}"), None).await.0, 400);
    // Inbound media carry an id whose URL serves synthetic bytes.
    env.act(json!({ "action": "customer_sends", "customer": "alice", "kind": "image", "caption": "look" })).await;
    let msg = &env.inbound()[0];
    assert_eq!(msg["type"], "image");
    assert_eq!(msg["image"]["caption"], "look");
    assert_eq!(msg["image"]["mime_type"], "image/jpeg");
    let (_, info) = env
        .graph(
            "GET",
            &format!("/v25.0/{}", msg["image"]["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(info["sha256"], msg["image"]["sha256"]);
}

#[tokio::test]
async fn templates_are_listed_created_pending_and_reviewed() {
    let env = Env::start().await;
    let path = format!("/v25.0/{}/message_templates", env.info.waba_id);
    let (_, list) = env
        .graph("GET", &format!("{path}?name=spring_sale"), None)
        .await;
    let data = list["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert!(
        data.iter()
            .any(|t| t["status"] == "PENDING" && t["language"] == "pt_BR")
    );
    let (status, created) = env
        .graph(
            "POST",
            &path,
            Some(
                json!({ "name": "welcome", "language": "en_US", "category": "UTILITY",
            "components": [{ "type": "BODY", "text": "Welcome {{1}}!" }] }),
            ),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["status"], "PENDING");
    let send = json!({ "messaging_product": "whatsapp", "to": "+16505551234", "type": "template",
        "template": { "name": "welcome", "language": { "code": "en_US" },
                      "components": [{ "type": "body", "parameters": [{ "type": "text", "text": "Ana" }] }] } });
    assert_eq!(code(&env.send(send.clone()).await.1), 132001);
    env.control(
        "POST",
        "/templates/review",
        Some(json!({ "name": "welcome", "language": "en_US", "status": "APPROVED" })),
    )
    .await;
    let update = &env.values("message_template_status_update")[0];
    assert_eq!(update["event"], "APPROVED");
    assert_eq!(update["message_template_name"], "welcome");
    let (status, resp) = env.send(send).await;
    assert_eq!(status, 200, "{resp}");
    assert_eq!(resp["messages"][0]["message_status"], "accepted");
}

#[tokio::test]
async fn a_service_reply_goes_sent_delivered_read_with_free_pricing_inside_the_window() {
    let env = Env::start().await;
    env.act(json!({ "action": "customer_sends", "customer": "alice", "text": "Hi!" }))
        .await;
    let inbound = env.inbound()[0].clone();
    assert_eq!(inbound["from"], "16505551234");
    assert_eq!(inbound["text"]["body"], "Hi!");
    // Mark as read.
    let (_, ok) = env
        .send(
            json!({ "messaging_product": "whatsapp", "status": "read", "message_id": inbound["id"],
                      "typing_indicator": { "type": "text" } }),
        )
        .await;
    assert_eq!(ok, json!({ "success": true }));
    let (status, resp) = env.send_text("+1 (650) 555-1234", "Hello Sheena").await;
    assert_eq!(status, 200, "{resp}");
    assert_eq!(
        resp["contacts"][0],
        json!({ "input": "+1 (650) 555-1234", "wa_id": "16505551234" })
    );
    let wamid = resp["messages"][0]["id"].as_str().unwrap().to_owned();
    assert!(wamid.starts_with("wamid."));
    assert!(
        env.statuses_of(&wamid).is_empty(),
        "nothing before virtual time passes"
    );
    env.advance("1m").await;
    let statuses = env.statuses_of(&wamid);
    let kinds: Vec<_> = statuses
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["sent", "delivered", "read"]);
    let free = json!({ "billable": false, "pricing_model": "PMP", "type": "free_customer_service", "category": "service" });
    assert_eq!(statuses[0]["pricing"], free);
    assert_eq!(statuses[1]["pricing"], free);
    assert!(
        statuses[2].get("pricing").is_none(),
        "pricing rides on sent and one of delivered/read"
    );
    assert!(
        statuses[0].get("conversation").is_none(),
        "v24+ omit conversation"
    );
    assert_eq!(statuses[0]["recipient_id"], "16505551234");
    assert_eq!(
        statuses[0]["recipient_user_id"],
        env.customer("alice").user_id
    );
    env.check_wire();
}

#[tokio::test]
async fn v23_statuses_carry_the_conversation_object() {
    let env = Env::start().await;
    env.act(json!({ "action": "customer_sends", "customer": "alice", "text": "Hi!" }))
        .await;
    let (_, resp) = env
        .graph("POST", &format!("/v23.0/{}/messages", env.coex()),
            Some(json!({ "messaging_product": "whatsapp", "to": "16505551234", "type": "text", "text": { "body": "yo" } })))
        .await;
    env.advance("5s").await;
    let sent = &env.statuses_of(resp["messages"][0]["id"].as_str().unwrap())[0];
    assert_eq!(sent["conversation"]["origin"]["type"], "service");
    assert!(sent["conversation"]["expiration_timestamp"].is_string());
}

#[tokio::test]
async fn at_a_running_speed_timers_fire_on_their_own() {
    let env = Env::start().await;
    env.act(json!({ "action": "customer_sends", "customer": "alice", "text": "Hi!" }))
        .await;
    let (_, resp) = env.send_text("+16505551234", "Hello").await;
    let wamid = resp["messages"][0]["id"].as_str().unwrap().to_owned();
    // 10,000 virtual seconds per real second: `read` (about 22 virtual seconds) comes within a
    // few real milliseconds, with no jump.
    let (status, _) = env
        .control("POST", "/clock/speed", Some(json!({ "speed": 10000.0 })))
        .await;
    assert_eq!(status, 200);
    let mut kinds = Vec::new();
    for _ in 0..500 {
        kinds = env
            .statuses_of(&wamid)
            .iter()
            .map(|s| s["status"].as_str().unwrap().to_owned())
            .collect();
        if kinds.len() == 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(kinds, ["sent", "delivered", "read"]);
}
