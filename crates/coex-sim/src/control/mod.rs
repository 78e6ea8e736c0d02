//! The control API, under `/_sim`, clearly apart from the Graph paths: inspect and drive the
//! world, the clock, chaos and faults, and list what crossed the wire.
//!
//! | route | what |
//! |---|---|
//! | `GET /_sim/info` | the startup info (URLs, secrets, ids) |
//! | `GET /_sim/world` | numbers, customers, WABAs, templates, clock, queues |
//! | `POST /_sim/act` | perform an action or a list of actions ([`Action`]) |
//! | `GET /_sim/clock`, `POST /_sim/clock/advance`, `POST /_sim/clock/speed` | virtual time |
//! | `POST /_sim/settle` | run what is due now (and wait for its webhooks) |
//! | `GET`/`PUT /_sim/chaos` | chaos mode |
//! | `GET`/`POST`/`DELETE /_sim/faults` | "next N sends fail with code C" |
//! | `GET /_sim/requests`, `GET /_sim/deliveries[/{id}]`, `GET /_sim/messages` | what happened |
//! | `POST /_sim/templates/review` | approve or reject a template |
//! | `POST /_sim/numbers/{id}/reonboard` | offboard and onboard again (resets sync limits; a disconnected number comes back with `ACCOUNT_RECONNECTED`) |
//! | `PUT /_sim/tier` | the portfolio's messaging tier |
//! | `POST /_sim/webhook/verify` | Meta's GET handshake against the callback URL |
//! | `POST /_sim/scenario` | schedule a TOML scenario from now |
//!
//! Actions and jumps run everything they make due before answering (unless `?wait=false`),
//! so when they return, the webhooks they caused have been attempted.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use coex_core::PhoneNumberId;

use crate::SimInfo;
use crate::clock::parse_duration;
use crate::delivery::DeliveryState;
use crate::delivery::chaos::Chaos;
use crate::engine::Engine;
use crate::rules::messaging_limit::Tier;
use crate::rules::sync::SyncRequests;
use crate::scenario::Scenario;
use crate::wire::payloads;
use crate::world::actions::Action;
use crate::world::log::Fault;
use crate::world::templates::TemplateStatus;

/// An error answered as `{"error": "..."}`.
#[derive(Debug)]
pub struct ControlError(StatusCode, String);

impl ControlError {
    fn bad(msg: impl Into<String>) -> Self {
        Self(StatusCode::BAD_REQUEST, msg.into())
    }

    fn not_found(msg: impl Into<String>) -> Self {
        Self(StatusCode::NOT_FOUND, msg.into())
    }
}

impl IntoResponse for ControlError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

type ControlResult = Result<Json<Value>, ControlError>;

#[derive(Clone)]
struct Ctl {
    engine: Arc<Engine>,
    info: Arc<SimInfo>,
}

/// Query flag: `?wait=false` answers without running what became due.
#[derive(Debug, Deserialize)]
struct Wait {
    #[serde(default = "yes")]
    wait: bool,
}

fn yes() -> bool {
    true
}

/// The control routes, mounted at `/_sim`.
pub fn router(engine: Arc<Engine>, info: Arc<SimInfo>) -> Router {
    let ctl = Ctl { engine, info };
    Router::new()
        .route("/_sim", get(get_info))
        .route("/_sim/info", get(get_info))
        .route("/_sim/world", get(get_world))
        .route("/_sim/act", post(act))
        .route("/_sim/clock", get(get_clock))
        .route("/_sim/clock/advance", post(advance))
        .route("/_sim/clock/speed", post(set_speed))
        .route("/_sim/settle", post(settle))
        .route("/_sim/chaos", get(get_chaos).put(put_chaos))
        .route(
            "/_sim/faults",
            get(get_faults).post(add_fault).delete(clear_faults),
        )
        .route("/_sim/requests", get(list_requests))
        .route("/_sim/deliveries", get(list_deliveries))
        .route("/_sim/deliveries/{id}", get(get_delivery))
        .route("/_sim/messages", get(list_messages))
        .route("/_sim/templates/review", post(review_template))
        .route("/_sim/numbers/{id}/reonboard", post(reonboard))
        .route("/_sim/tier", put(set_tier))
        .route("/_sim/webhook/verify", post(verify_webhook))
        .route("/_sim/scenario", post(post_scenario))
        .with_state(ctl)
}

async fn get_info(State(ctl): State<Ctl>) -> Json<Value> {
    Json(serde_json::to_value(&*ctl.info).unwrap_or_default())
}

async fn get_world(State(ctl): State<Ctl>) -> Json<Value> {
    let now = ctl.engine.clock.now();
    let speed = ctl.engine.clock.speed();
    let w = ctl.engine.world().await;
    let numbers: Vec<Value> = w
        .numbers_in_order()
        .map(|n| {
            json!({
                "id": n.id,
                "waba_id": n.waba,
                "display_phone_number": n.display.digits(),
                "mode": n.mode,
                "mps": n.throughput.mps(),
                "connected": n.is_connected(),
                "disconnection": n.disconnected,
                "onboarded_at": n.onboarded_at,
                "history_shared": n.history_shared,
                "sync": n.sync,
                "override_url": n.override_url,
                "app": n.app.as_ref().map(|a| json!({
                    "installed": a.installed,
                    "last_opened": a.last_opened,
                    "online": a.online,
                    "backlog": a.backlog.len(),
                    "contacts": a.contacts,
                    "history_threads": a.history.len(),
                    "history_messages": a.history.iter().map(|t| t.messages.len()).sum::<usize>(),
                })),
            })
        })
        .collect();
    let customers: Vec<Value> = w
        .customers
        .values()
        .map(|c| {
            let windows: Vec<Value> = w
                .pairs
                .iter()
                .filter(|((_, k), _)| *k == c.key)
                .map(|((n, _), p)| {
                    json!({
                        "number": n,
                        "window_open": p.window.is_open(now),
                        "window_closes_at": p.window.closes_at(now),
                        "undelivered": p.undelivered.len(),
                    })
                })
                .collect();
            json!({
                "key": c.key,
                "name": c.name,
                "phone": c.phone.digits(),
                "username": c.username,
                "shares_phone": c.shares_phone,
                "user_id": c.bsuid,
                "parent_user_id": c.parent_bsuid,
                "previous_user_ids": c.previous_bsuids,
                "online": c.online,
                "on_whatsapp": c.on_whatsapp,
                "deliver_after_ms": c.deliver_after.as_millis(),
                "read_after_ms": c.read_after.map(|d| d.as_millis()),
                "auto_reply": c.auto_reply,
                "conversations": windows,
            })
        })
        .collect();
    let wabas: Vec<Value> = w
        .wabas
        .values()
        .map(|x| {
            json!({
                "id": x.id,
                "name": x.name,
                "tier": x.limit.tier(),
                "unique_customers_outside_window_24h": x.limit.used(now),
                "subscribed": x.subscribed,
                "override_url": x.override_url,
                "contact_book": x.contact_book,
            })
        })
        .collect();
    let templates: Vec<Value> = w
        .templates
        .values()
        .flatten()
        .map(|t| {
            json!({ "name": t.name, "language": t.language, "status": t.status,
                          "category": t.category, "body_params": t.body_params })
        })
        .collect();
    Json(json!({
        "clock": { "now": now, "now_unix": now.unix_secs(), "speed": speed },
        "wabas": wabas,
        "numbers": numbers,
        "customers": customers,
        "templates": templates,
        "timers": w.sched.len(),
        "next_timer": w.sched.next_due(),
        "outbox_pending": w.outbox.pending.len(),
        "deliveries": w.deliveries.len(),
        "requests": w.requests.len(),
        "media": w.media.len(),
        "chaos": w.chaos,
    }))
}

async fn act(
    State(ctl): State<Ctl>,
    Query(wait): Query<Wait>,
    Json(body): Json<Value>,
) -> ControlResult {
    let actions: Vec<Action> = match body {
        Value::Array(items) => items
            .into_iter()
            .map(serde_json::from_value)
            .collect::<Result<_, _>>()
            .map_err(|e| ControlError::bad(format!("bad action: {e}")))?,
        one => vec![
            serde_json::from_value(one)
                .map_err(|e| ControlError::bad(format!("bad action: {e}")))?,
        ],
    };
    let results = ctl
        .engine
        .mutate(|w, now| {
            actions
                .into_iter()
                .map(|a| w.perform(now, a))
                .collect::<Result<Vec<Value>, _>>()
        })
        .await
        .map_err(|e| ControlError::bad(e.to_string()))?;
    if wait.wait {
        ctl.engine.drain().await;
    }
    Ok(Json(if results.len() == 1 {
        results.into_iter().next().unwrap_or_default()
    } else {
        Value::Array(results)
    }))
}

async fn get_clock(State(ctl): State<Ctl>) -> Json<Value> {
    let now = ctl.engine.clock.now();
    Json(json!({ "now": now, "now_unix": now.unix_secs(), "speed": ctl.engine.clock.speed() }))
}

#[derive(Debug, Deserialize)]
struct AdvanceBody {
    /// `"14d"`, `"90s"`, `"1h30m"`.
    #[serde(default)]
    by: Option<String>,
    #[serde(default)]
    seconds: Option<f64>,
}

async fn advance(State(ctl): State<Ctl>, Json(body): Json<AdvanceBody>) -> ControlResult {
    let by = match (body.by, body.seconds) {
        (Some(s), _) => parse_duration(&s).map_err(|e| ControlError::bad(e.to_string()))?,
        (None, Some(secs)) if secs.is_finite() && secs >= 0.0 => Duration::from_secs_f64(secs),
        _ => return Err(ControlError::bad("give `by` (e.g. \"14d\") or `seconds`")),
    };
    let now = ctl.engine.advance(by).await;
    Ok(Json(json!({ "now": now, "now_unix": now.unix_secs() })))
}

#[derive(Debug, Deserialize)]
struct SpeedBody {
    speed: f64,
}

async fn set_speed(State(ctl): State<Ctl>, Json(body): Json<SpeedBody>) -> ControlResult {
    ctl.engine
        .clock
        .set_speed(body.speed)
        .map_err(|e| ControlError::bad(e.to_string()))?;
    Ok(Json(json!({ "speed": body.speed })))
}

async fn settle(State(ctl): State<Ctl>) -> Json<Value> {
    let ran = ctl.engine.drain().await;
    Json(json!({ "ran": ran }))
}

async fn get_chaos(State(ctl): State<Ctl>) -> Json<Value> {
    Json(serde_json::to_value(&ctl.engine.world().await.chaos).unwrap_or_default())
}

async fn put_chaos(State(ctl): State<Ctl>, Json(chaos): Json<Chaos>) -> ControlResult {
    if !(0.0..=1.0).contains(&chaos.duplicate_probability) {
        return Err(ControlError::bad(
            "duplicate_probability must be within 0..=1",
        ));
    }
    ctl.engine.world().await.chaos = chaos.clone();
    Ok(Json(serde_json::to_value(chaos).unwrap_or_default()))
}

async fn get_faults(State(ctl): State<Ctl>) -> Json<Value> {
    Json(serde_json::to_value(&ctl.engine.world().await.faults).unwrap_or_default())
}

async fn add_fault(State(ctl): State<Ctl>, Json(fault): Json<Fault>) -> ControlResult {
    let mut w = ctl.engine.world().await;
    if let Some(n) = &fault.number
        && !w.numbers.contains_key(n)
    {
        return Err(ControlError::not_found(format!("no phone number {n}")));
    }
    w.faults.push(fault);
    Ok(Json(serde_json::to_value(&w.faults).unwrap_or_default()))
}

async fn clear_faults(State(ctl): State<Ctl>) -> Json<Value> {
    ctl.engine.world().await.faults.clear();
    Json(json!([]))
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    /// Only items with an id greater than this.
    #[serde(default)]
    since: u64,
    /// Requests: only paths containing this. Deliveries: only those with a change of this
    /// field.
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    field: Option<String>,
    #[serde(default)]
    state: Option<DeliveryState>,
}

async fn list_requests(State(ctl): State<Ctl>, Query(q): Query<ListQuery>) -> Response {
    // Shared under the lock (a reference count each), written out after it: a poller reading
    // thousands of requests a second must not hold up the Graph requests that wait for the
    // world. (Deep copies of 3,500 records held it 20-46 ms on a loaded machine, once a
    // second under `coex bench send`, and every Graph request waited behind them.)
    let list: Vec<Arc<crate::world::log::RequestRecord>> = ctl
        .engine
        .world()
        .await
        .requests
        .after(q.since)
        .filter(|r| q.path.as_ref().is_none_or(|p| r.path.contains(p.as_str())))
        .cloned()
        .collect();
    let records: Vec<&crate::world::log::RequestRecord> = list.iter().map(Arc::as_ref).collect();
    Json(records).into_response()
}

async fn list_deliveries(State(ctl): State<Ctl>, Query(q): Query<ListQuery>) -> Json<Value> {
    let w = ctl.engine.world().await;
    let list: Vec<&crate::delivery::Delivery> = w
        .deliveries
        .iter()
        .filter(|d| d.id > q.since)
        .filter(|d| {
            q.field
                .as_ref()
                .is_none_or(|f| d.changes.iter().any(|c| c.field == *f))
        })
        .filter(|d| q.state.is_none_or(|s| d.state == s))
        .collect();
    Json(serde_json::to_value(list).unwrap_or_default())
}

async fn get_delivery(State(ctl): State<Ctl>, Path(id): Path<u64>) -> ControlResult {
    let w = ctl.engine.world().await;
    let d = w
        .deliveries
        .get(id)
        .ok_or_else(|| ControlError::not_found(format!("no delivery {id}")))?;
    Ok(Json(serde_json::to_value(d).unwrap_or_default()))
}

async fn list_messages(
    State(ctl): State<Ctl>,
    Query(q): Query<HashMap<String, String>>,
) -> Json<Value> {
    let w = ctl.engine.world().await;
    let mut list: Vec<&crate::world::messages::MessageRecord> = w
        .messages
        .values()
        .filter(|m| {
            q.get("customer")
                .is_none_or(|c| m.customer.as_ref().is_some_and(|k| k.as_str() == c))
        })
        .filter(|m| {
            q.get("origin").is_none_or(|o| {
                serde_json::to_value(m.origin)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .as_deref()
                    == Some(o.as_str())
            })
        })
        .collect();
    list.sort_by_key(|m| (m.at, m.seq));
    Json(serde_json::to_value(list).unwrap_or_default())
}

#[derive(Debug, Deserialize)]
struct ReviewBody {
    name: String,
    language: String,
    status: TemplateStatus,
    #[serde(default)]
    reason: Option<String>,
}

async fn review_template(State(ctl): State<Ctl>, Json(body): Json<ReviewBody>) -> ControlResult {
    ctl.engine
        .mutate(|w, now| {
            let found = w.templates.iter_mut().find_map(|(waba, list)| {
                list.iter_mut()
                    .find(|t| t.name == body.name && t.language == body.language)
                    .map(|t| {
                        t.status = body.status;
                        (waba.clone(), t.id.clone())
                    })
            });
            let Some((waba, id)) = found else {
                return Err(ControlError::not_found(format!(
                    "no template {} in {}",
                    body.name, body.language
                )));
            };
            let reason = body.reason.clone().unwrap_or_else(|| "NONE".into());
            let value = payloads::template_status_update(
                &id,
                &body.name,
                &body.language,
                body.status.as_str(),
                &reason,
            );
            w.emit_with_time(
                now,
                waba,
                None,
                "message_template_status_update",
                value,
                Some(now.unix_secs()),
                format!("template {} {}", body.name, body.status.as_str()),
            );
            Ok(())
        })
        .await?;
    ctl.engine.drain().await;
    Ok(Json(json!({ "status": body.status })))
}

async fn reonboard(State(ctl): State<Ctl>, Path(id): Path<String>) -> ControlResult {
    let number = PhoneNumberId::parse(id.clone()).map_err(|e| ControlError::bad(e.to_string()))?;
    let answer = ctl
        .engine
        .mutate(|w, now| {
            let n = w
                .numbers
                .get_mut(&number)
                .ok_or_else(|| ControlError::not_found(format!("no phone number {id}")))?;
            n.onboarded_at = now;
            n.sync = SyncRequests::default();
            // [INF] Meta documents ACCOUNT_RECONNECTED as a coexistence number's return to
            // the Business Platform and no other event for it (PARTNER_APP_INSTALLED and
            // PARTNER_ADDED are about the app and the WABA, which stayed shared). Onboarding a
            // disconnected number again is such a return, so it is reported the same way;
            // onboarding a connected one sends nothing.
            let was_disconnected = !n.is_connected();
            if let Some(app) = n.app.as_mut() {
                app.installed = true;
                app.last_opened = now;
            }
            let is_coex = n.app.is_some();
            if was_disconnected {
                w.reconnect(now, &number);
            } else if is_coex {
                w.schedule(
                    crate::rules::inactivity::deadline(now),
                    crate::world::Task::InactivityCheck {
                        number: number.clone(),
                    },
                );
            }
            Ok::<_, ControlError>(json!({ "onboarded_at": now }))
        })
        .await?;
    // Like an action: the ACCOUNT_RECONNECTED webhook has been attempted when this returns.
    ctl.engine.drain().await;
    Ok(Json(answer))
}

#[derive(Debug, Deserialize)]
struct TierBody {
    tier: Tier,
}

async fn set_tier(State(ctl): State<Ctl>, Json(body): Json<TierBody>) -> Json<Value> {
    let mut w = ctl.engine.world().await;
    for x in w.wabas.values_mut() {
        x.limit.set_tier(body.tier);
    }
    Json(json!({ "tier": body.tier }))
}

async fn verify_webhook(State(ctl): State<Ctl>) -> ControlResult {
    let (url, token) = {
        let w = ctl.engine.world().await;
        (
            w.settings.webhook_url.clone(),
            w.settings.verify_token.clone(),
        )
    };
    let url = url.ok_or_else(|| ControlError::bad("no webhook URL is configured"))?;
    match crate::graph_api::objects::verify_callback(&ctl.engine, &url, &token).await {
        Ok(()) => Ok(Json(json!({ "verified": true, "url": url }))),
        Err(e) => Ok(Json(json!({ "verified": false, "url": url, "error": e }))),
    }
}

async fn post_scenario(State(ctl): State<Ctl>, body: String) -> ControlResult {
    let scenario = Scenario::from_toml(&body).map_err(|e| ControlError::bad(e.to_string()))?;
    if scenario.world.is_some() {
        return Err(ControlError::bad(
            "a scenario posted to a running emulator cannot replace its world; remove [world]",
        ));
    }
    let n = ctl
        .engine
        .mutate(|w, now| w.schedule_scenario(now, &scenario))
        .await
        .map_err(|e| ControlError::bad(e.to_string()))?;
    ctl.engine.drain().await;
    Ok(Json(
        json!({ "steps": n, "length_secs": scenario.length().as_secs() }),
    ))
}
