//! `coex send`: queue one message through a running hub's REST API and print the send.
//!
//! ```text
//! coex send --number 106540352242922 --to +16505551234 --text "hi"
//! coex send --number … --to … --template order_update --lang en_US --param Ana --param A-1
//! coex send --number … --json message.json          # any Graph API message body
//! ```
//!
//! The exit status is 0 when the hub queued the send (and, with `--wait`, when it ended
//! accepted), 2 when the hub refused it (its `{code, detail}` is printed), 1 on other errors.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use serde_json::{Value, json};

use crate::config::Config;

#[derive(Debug, clap::Args)]
pub struct SendArgs {
    /// The hub's base URL; by default `http://` + `server.listen`.
    #[arg(long)]
    pub hub: Option<String>,
    /// The business phone-number id to send from.
    #[arg(long)]
    pub number: String,
    /// The customer's phone number (`+16505551234`).
    #[arg(long, conflicts_with = "recipient")]
    pub to: Option<String>,
    /// The customer's business-scoped user id, when the phone number is not known.
    #[arg(long)]
    pub recipient: Option<String>,
    /// A text message.
    #[arg(long, conflicts_with_all = ["template", "json"])]
    pub text: Option<String>,
    /// An approved template's name.
    #[arg(long, conflicts_with = "json")]
    pub template: Option<String>,
    /// The template's language.
    #[arg(long, default_value = "en_US")]
    pub lang: String,
    /// A body parameter of the template, in order (repeat for each).
    #[arg(long = "param")]
    pub params: Vec<String>,
    /// A file with a whole Graph API message body (`to` and `recipient` may be left out).
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// `api_agent`, `automation` or `campaign`.
    #[arg(long, default_value = "api_agent")]
    pub origin: String,
    /// Who sends, within the origin (an agent's name, say).
    #[arg(long)]
    pub sender: Option<String>,
    /// Retrying with the same key within 24 hours returns the first send.
    #[arg(long)]
    pub idempotency_key: Option<String>,
    /// Wait until Meta accepted the message (or the send ended), up to this many seconds.
    #[arg(long, value_name = "SECS")]
    pub wait: Option<u64>,
}

/// The Graph API body the arguments describe.
pub fn message(args: &SendArgs) -> anyhow::Result<Value> {
    let mut body = if let Some(path) = &args.json {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?
    } else if let Some(name) = &args.template {
        let params: Vec<Value> = args
            .params
            .iter()
            .map(|p| json!({"type": "text", "text": p}))
            .collect();
        let components = if params.is_empty() {
            json!([])
        } else {
            json!([{"type": "body", "parameters": params}])
        };
        json!({"type": "template", "template": {
            "name": name, "language": {"code": args.lang}, "components": components}})
    } else if let Some(text) = &args.text {
        json!({"type": "text", "text": {"body": text}})
    } else {
        anyhow::bail!("say what to send: --text, --template or --json");
    };
    let Some(obj) = body.as_object_mut() else {
        anyhow::bail!("the message body must be a JSON object");
    };
    obj.entry("messaging_product").or_insert(json!("whatsapp"));
    if let Some(to) = &args.to {
        obj.insert("to".into(), json!(to));
    }
    if let Some(r) = &args.recipient {
        obj.insert("recipient".into(), json!(r));
    }
    if !obj.contains_key("to") && !obj.contains_key("recipient") {
        anyhow::bail!("say who to send to: --to or --recipient");
    }
    Ok(json!({"message": body, "origin": args.origin, "sender": args.sender}))
}

pub async fn run(config: &Config, args: &SendArgs) -> anyhow::Result<ExitCode> {
    let hub = args
        .hub
        .clone()
        .unwrap_or_else(|| format!("http://{}", config.server.listen));
    let hub = hub.trim_end_matches('/');
    let body = message(args)?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let mut rb = http
        .post(format!("{hub}/v1/numbers/{}/messages", args.number))
        .json(&body);
    if let Some(k) = &args.idempotency_key {
        rb = rb.header("Idempotency-Key", k);
    }
    let resp = rb
        .send()
        .await
        .with_context(|| format!("reaching the hub at {hub}"))?;
    let status = resp.status();
    let mut answer: Value = resp.json().await.context("reading the hub's answer")?;
    if !status.is_success() {
        println!("{answer}");
        return Ok(if status.is_client_error() {
            ExitCode::from(2)
        } else {
            ExitCode::FAILURE
        });
    }
    if let (Some(secs), Some(id)) = (args.wait, answer["id"].as_i64()) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        while answer["state"] == "queued" || answer["state"] == "sending" {
            if tokio::time::Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
            answer = http
                .get(format!("{hub}/v1/sends/{id}"))
                .send()
                .await?
                .json()
                .await?;
        }
    }
    println!("{answer}");
    let ended_badly = matches!(answer["state"].as_str(), Some("failed" | "needs_template"));
    Ok(if ended_badly {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> SendArgs {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Wrap {
            #[command(flatten)]
            send: SendArgs,
        }
        let mut argv = vec!["coex-send", "--number", "106540352242922"];
        argv.extend_from_slice(extra);
        Wrap::parse_from(argv).send
    }

    #[test]
    fn text_and_template_bodies() {
        let m = message(&args(&["--to", "+16505551234", "--text", "hi"])).unwrap();
        assert_eq!(m["message"]["to"], "+16505551234");
        assert_eq!(m["message"]["text"]["body"], "hi");
        assert_eq!(m["origin"], "api_agent");
        let m = message(&args(&[
            "--recipient",
            "US.13491208655302741918",
            "--template",
            "order_update",
            "--param",
            "Ana",
            "--param",
            "A-1",
        ]))
        .unwrap();
        assert_eq!(m["message"]["recipient"], "US.13491208655302741918");
        assert_eq!(m["message"]["template"]["name"], "order_update");
        assert_eq!(
            m["message"]["template"]["components"][0]["parameters"][1]["text"],
            "A-1"
        );
        assert!(message(&args(&["--text", "hi"])).is_err(), "no recipient");
        assert!(message(&args(&["--to", "+1650"])).is_err(), "no content");
    }
}
