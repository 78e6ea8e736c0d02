//! A running emulator on 127.0.0.1:0 with a real webhook receiver beside it: a small axum
//! server that checks `X-Hub-Signature-256` over the raw bytes with `coex-meta`, parses each
//! body with `coex_meta::webhook::parse_notification`, and records everything.
//!
//! The emulator runs at speed 0: virtual time moves only when a test jumps it, and control
//! actions and jumps return once the webhooks they caused were attempted, so tests need no
//! sleeps.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use coex_sim::clock::SimTime;
use coex_sim::{Sim, SimBuilder, SimInfo};

pub const TOKEN: &str = "EAAG-test-token";
pub const SECRET: &str = "test-app-secret";
pub const START: i64 = 1_780_000_000;

/// One POST the receiver got.
#[derive(Debug, Clone)]
pub struct Got {
    pub raw: Bytes,
    pub signature_ok: bool,
    pub json: Value,
}

#[derive(Debug, Default)]
pub struct HookState {
    pub got: Mutex<Vec<Got>>,
    /// The status the receiver answers with (200 by default).
    pub status: AtomicU16,
    pub attempts: Mutex<u32>,
}

async fn receive(
    State(state): State<Arc<HookState>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    *state.attempts.lock().unwrap() += 1;
    let status = StatusCode::from_u16(state.status.load(Ordering::SeqCst)).unwrap();
    if !status.is_success() {
        return status;
    }
    let sig = headers
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let signature_ok = coex_meta::signature::verify(SECRET.as_bytes(), &body, sig).is_ok();
    let json: Value = serde_json::from_slice(&body).unwrap();
    state.got.lock().unwrap().push(Got {
        raw: body,
        signature_ok,
        json,
    });
    StatusCode::OK
}

async fn handshake(
    State(_): State<Arc<HookState>>,
    Query(q): Query<HashMap<String, String>>,
) -> (StatusCode, String) {
    if q.get("hub.mode").map(String::as_str) == Some("subscribe")
        && q.get("hub.verify_token").map(String::as_str) == Some("vt")
    {
        (
            StatusCode::OK,
            q.get("hub.challenge").cloned().unwrap_or_default(),
        )
    } else {
        (StatusCode::FORBIDDEN, "bad token".into())
    }
}

/// Starts a webhook receiver; returns its URL.
pub async fn receiver(state: Arc<HookState>) -> String {
    state.status.store(200, Ordering::SeqCst);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new()
        .route("/webhook", post(receive).get(handshake))
        .with_state(state);
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/webhook")
}

/// A running emulator and its receiver.
pub struct Env {
    pub info: SimInfo,
    /// The emulator's engine, for tests that hold its world or move its clock directly.
    pub engine: Arc<coex_sim::engine::Engine>,
    pub http: reqwest::Client,
    pub hook: Arc<HookState>,
    pub hook_url: String,
    _stop: oneshot::Sender<()>,
}

impl Env {
    pub async fn start() -> Env {
        Self::start_with(|b| b).await
    }

    pub async fn start_with(f: impl FnOnce(SimBuilder) -> SimBuilder) -> Env {
        let hook = Arc::new(HookState::default());
        let hook_url = receiver(hook.clone()).await;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let builder = Sim::builder()
            .webhook_url(hook_url.clone())
            .speed(0.0)
            .start(SimTime::from_unix_secs(START))
            .access_token(TOKEN)
            .app_secret(SECRET)
            .options(|o| o.verify_token = Some("vt".into()));
        let sim = f(builder).build(listener).await.unwrap();
        let info = sim.info().clone();
        let engine = sim.engine();
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(sim.serve(async move {
            let _ = stopped.await;
        }));
        Env {
            info,
            engine,
            http: reqwest::Client::new(),
            hook,
            hook_url,
            _stop: stop,
        }
    }

    /// The coexistence number's id.
    pub fn coex(&self) -> String {
        self.info.phone_number_ids[0].clone()
    }

    /// The pure Cloud API number's id.
    pub fn cloud(&self) -> String {
        self.info.phone_number_ids[1].clone()
    }

    pub fn customer(&self, key: &str) -> coex_sim::CustomerInfo {
        self.info
            .customers
            .iter()
            .find(|c| c.key == key)
            .unwrap()
            .clone()
    }

    /// A Graph call with the right token; returns (status, body).
    pub async fn graph(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.graph_as(TOKEN, method, path, body).await
    }

    pub async fn graph_as(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let url = format!("{}{path}", self.info.graph_url);
        let mut req = self
            .http
            .request(method.parse().unwrap(), url)
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// `POST /v25.0/{number}/messages`.
    pub async fn send_from(&self, number: &str, body: Value) -> (u16, Value) {
        self.graph("POST", &format!("/v25.0/{number}/messages"), Some(body))
            .await
    }

    /// A send from the coexistence number.
    pub async fn send(&self, body: Value) -> (u16, Value) {
        self.send_from(&self.coex(), body).await
    }

    /// A text to a customer's phone from the coexistence number; returns the wamid.
    pub async fn send_text(&self, to: &str, text: &str) -> (u16, Value) {
        self.send(
            json!({ "messaging_product": "whatsapp", "recipient_type": "individual",
                          "to": to, "type": "text", "text": { "body": text } }),
        )
        .await
    }

    pub async fn control(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}{path}", self.info.control_url);
        let mut req = self.http.request(method.parse().unwrap(), url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// `POST /_sim/act`; panics unless it succeeds.
    pub async fn act(&self, action: Value) -> Value {
        let (status, body) = self.control("POST", "/act", Some(action.clone())).await;
        assert_eq!(status, 200, "{action} -> {body}");
        body
    }

    /// Jumps virtual time (`"1m"`, `"14d"`).
    pub async fn advance(&self, by: &str) {
        let (status, body) = self
            .control("POST", "/clock/advance", Some(json!({ "by": by })))
            .await;
        assert_eq!(status, 200, "{body}");
    }

    /// Every POST received so far.
    pub fn got(&self) -> Vec<Got> {
        self.hook.got.lock().unwrap().clone()
    }

    /// Every change value received for `field`, in arrival order.
    pub fn values(&self, field: &str) -> Vec<Value> {
        self.got()
            .iter()
            .flat_map(|g| g.json["entry"].as_array().cloned().unwrap_or_default())
            .flat_map(|e| e["changes"].as_array().cloned().unwrap_or_default())
            .filter(|c| c["field"] == field)
            .map(|c| c["value"].clone())
            .collect()
    }

    /// Every status item received, in arrival order.
    pub fn statuses(&self) -> Vec<Value> {
        self.values("messages")
            .iter()
            .flat_map(|v| v["statuses"].as_array().cloned().unwrap_or_default())
            .collect()
    }

    /// Statuses of one message, in arrival order.
    pub fn statuses_of(&self, wamid: &str) -> Vec<Value> {
        self.statuses()
            .into_iter()
            .filter(|s| s["id"] == wamid)
            .collect()
    }

    /// Inbound messages received, in arrival order.
    pub fn inbound(&self) -> Vec<Value> {
        self.values("messages")
            .iter()
            .flat_map(|v| v["messages"].as_array().cloned().unwrap_or_default())
            .collect()
    }

    /// Echo items received, in arrival order.
    pub fn echoes(&self) -> Vec<Value> {
        self.values("smb_message_echoes")
            .iter()
            .flat_map(|v| v["message_echoes"].as_array().cloned().unwrap_or_default())
            .collect()
    }

    /// Every body: signed correctly, and typed by coex-meta's parser without a malformed
    /// change or an unknown key (the emulator and the hub agree on the wire).
    pub fn check_wire(&self) {
        for g in self.got() {
            assert!(
                g.signature_ok,
                "bad signature on {}",
                String::from_utf8_lossy(&g.raw)
            );
            assert!(g.raw.is_ascii(), "Meta escapes non-ASCII");
            let n = coex_meta::webhook::parse_notification(&g.raw).unwrap();
            for (_, change) in n.changes() {
                if let coex_meta::webhook::ChangeValue::Malformed { field, error, raw } =
                    &change.value
                {
                    panic!("coex-meta could not type {field}: {error}\n{raw}");
                }
            }
            let flags: Vec<_> = n
                .unknowns()
                .into_iter()
                .filter(|f| !matches!(f.kind, coex_meta::webhook::FlagKind::UnknownField))
                .collect();
            assert!(flags.is_empty(), "coex-meta does not know {flags:?}");
        }
    }
}

/// The Graph error code of a response body.
pub fn code(body: &Value) -> i64 {
    body["error"]["code"]
        .as_i64()
        .unwrap_or_else(|| panic!("not an error: {body}"))
}
