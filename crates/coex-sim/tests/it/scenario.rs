//! A scripted business day, run through the control API with the clock jumped over it.

use std::collections::BTreeSet;

use serde_json::json;

use crate::harness::Env;

#[tokio::test]
async fn a_scripted_business_day_runs() {
    let env = Env::start().await;
    let resp = env
        .http
        .post(format!("{}/scenario", env.info.control_url))
        .body(coex_sim::scenario::BUSINESS_DAY.replace("[sim]\n# Virtual seconds per real second when run standalone (`coex sim --scenario`).\nspeed = 60.0\n", ""))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    // Meanwhile the platform answers and runs a campaign through the API.
    env.advance("1m").await;
    let alice_msg = env.inbound()[0].clone();
    assert_eq!(
        alice_msg["text"]["body"],
        "Good morning! Do you still have the black prince echeveria?"
    );
    env.advance("2h").await;
    for to in ["+442079460018", "+905321234567"] {
        let (status, body) = env
            .send(json!({ "messaging_product": "whatsapp", "to": to, "type": "template",
                "template": { "name": "spring_sale", "language": { "code": "en_US" }, "components": [
                    { "type": "header", "parameters": [{ "type": "image", "image": { "link": "https://shop.example/sale.jpg" } }] },
                    { "type": "body", "parameters": [{ "type": "text", "text": "friend" }] }] } }))
            .await;
        assert_eq!(status, 200, "{body}");
    }
    env.advance("10h").await;
    let texts: BTreeSet<String> = env
        .inbound()
        .iter()
        .filter_map(|m| m["text"]["body"].as_str().map(str::to_owned))
        .collect();
    assert!(
        texts.contains("Yes! Save me one please"),
        "campaign reply: {texts:?}"
    );
    assert!(texts.contains("Stop, thanks"));
    assert!(texts.contains("مرحبا، هل لديكم صبار؟"));
    let echoes = env.echoes();
    let echo_texts: Vec<String> = echoes
        .iter()
        .filter_map(|e| e["text"]["body"].as_str().map(str::to_owned))
        .collect();
    assert!(echo_texts.contains(&"We do, on Thursdays.".to_owned()));
    assert!(
        !echo_texts.contains(&"Free over $50.".to_owned()),
        "WhatsApp for Windows: no echo"
    );
    assert_eq!(
        echo_texts
            .iter()
            .filter(|t| *t == "Yes, it's available!")
            .count(),
        2,
        "backlog with a duplicate"
    );
    assert!(echoes.iter().any(|e| e["type"] == "edit"));
    assert!(env.inbound().iter().any(|m| m["type"] == "revoke"));
    let (_, deliveries) = env.control("GET", "/deliveries", None).await;
    assert!(
        deliveries
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["state"] == "delivered")
    );
    env.check_wire();
}

#[tokio::test]
async fn a_scenario_given_at_start_runs_from_the_start() {
    let text = r#"
[[step]]
at = "30s"
action = "customer_sends"
customer = "bruno"
text = "Bom dia"

[[step]]
at = "1m"
action = "app_sends"
customer = "bruno"
text = "Bom dia, Bruno!"
"#;
    let scenario = coex_sim::scenario::Scenario::from_toml(text).unwrap();
    let env = Env::start_with(|b| b.scenario(scenario)).await;
    assert!(env.got().is_empty());
    env.advance("45s").await;
    assert_eq!(env.inbound().len(), 1);
    assert!(env.echoes().is_empty());
    env.advance("15s").await;
    assert_eq!(env.echoes()[0]["text"]["body"], "Bom dia, Bruno!");
}
