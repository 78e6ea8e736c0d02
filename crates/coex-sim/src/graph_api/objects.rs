//! Graph objects and their edges: `GET /{id}` (a phone number with `?fields=`, a WABA, a media
//! item), `POST /{phone_number_id}` (webhook override), `DELETE /{media_id}`,
//! `GET /{waba_id}/phone_numbers`, `GET|POST|DELETE /{waba_id}/subscribed_apps`,
//! `GET|POST /{waba_id}/message_templates` and `POST /{phone_number_id}/smb_app_data`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use serde_json::{Map, Value, json};

use coex_core::{MediaId, PhoneNumberId, WabaId};
use coex_meta::graph::SmbAppDataRequest;

use crate::engine::Engine;
use crate::rules::throughput::DEFAULT_CLOUD_API_MPS;
use crate::wire::errors::MetaError;
use crate::world::World;
use crate::world::model::Number;
use crate::world::templates::{Button, Header, Template, TemplateCategory, TemplateStatus};

use super::messages::{json_body, known_number};
use super::{GraphError, GraphResult, authorize, media};

/// Fields `GET /{phone_number_id}` returns without `?fields=` (Meta's defaults).
const DEFAULT_NUMBER_FIELDS: [&str; 8] = [
    "verified_name",
    "code_verification_status",
    "display_phone_number",
    "quality_rating",
    "platform_type",
    "throughput",
    "webhook_configuration",
    "id",
];

/// `+1 555-078-3881` for NANP numbers, `+<digits>` otherwise.
fn pretty(digits: &str) -> String {
    if digits.len() == 11 && digits.starts_with('1') {
        format!("+1 {}-{}-{}", &digits[1..4], &digits[4..7], &digits[7..])
    } else {
        format!("+{digits}")
    }
}

fn number_field(w: &World, n: &Number, field: &str) -> Option<Value> {
    let tier = w.wabas.get(&n.waba).map(|x| x.limit.tier().as_str());
    Some(match field {
        "id" => json!(n.id),
        "display_phone_number" => json!(pretty(n.display.digits())),
        "verified_name" => json!(n.verified_name),
        "quality_rating" => json!(n.quality),
        "code_verification_status" => json!("VERIFIED"),
        "name_status" => json!("APPROVED"),
        "account_mode" => json!("LIVE"),
        "platform_type" => json!(if n.is_connected() {
            "CLOUD_API"
        } else {
            "NOT_APPLICABLE"
        }),
        "is_on_biz_app" => json!(n.app.as_ref().is_some_and(|a| a.installed)),
        "status" => json!(if n.is_connected() {
            "CONNECTED"
        } else {
            "DISCONNECTED"
        }),
        "throughput" => {
            let level = if n.throughput.mps() > DEFAULT_CLOUD_API_MPS {
                "HIGH"
            } else {
                "STANDARD"
            };
            json!({ "level": level })
        }
        "whatsapp_business_manager_messaging_limit" | "messaging_limit_tier" => json!(tier?),
        "last_onboarded_time" => json!(n.onboarded_at.unix_secs_string()),
        "webhook_configuration" => {
            let mut c = Map::new();
            if let Some(u) = &n.override_url {
                c.insert("phone_number".into(), json!(u));
            }
            if let Some(u) = w.wabas.get(&n.waba).and_then(|x| x.override_url.as_ref()) {
                c.insert("whatsapp_business_account".into(), json!(u));
            }
            if let Some(u) = &w.settings.webhook_url {
                c.insert("application".into(), json!(u));
            }
            Value::Object(c)
        }
        _ => return None,
    })
}

fn number_json(w: &World, n: &Number, fields: Option<&str>) -> Value {
    let mut out = Map::new();
    let requested: Vec<&str> = match fields {
        Some(f) => f
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect(),
        None => DEFAULT_NUMBER_FIELDS.to_vec(),
    };
    for field in requested {
        if let Some(v) = number_field(w, n, field) {
            out.insert(field.to_owned(), v);
        }
    }
    out.insert("id".into(), json!(n.id));
    Value::Object(out)
}

/// `GET /{version}/{id}`: a phone number, a WABA or a media item.
pub async fn get_object(
    State(engine): State<Arc<Engine>>,
    Path((version, id)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> GraphResult {
    authorize(
        &engine,
        &version,
        &headers,
        &query,
        &format!("/{version}/{id}"),
    )
    .await?;
    let w = engine.world().await;
    if let Ok(pn) = PhoneNumberId::parse(id.clone())
        && let Some(n) = w.numbers.get(&pn)
    {
        return Ok(Json(number_json(
            &w,
            n,
            query.get("fields").map(String::as_str),
        )));
    }
    if let Ok(waba_id) = WabaId::parse(id.clone())
        && let Some(waba) = w.wabas.get(&waba_id)
    {
        return Ok(Json(json!({
            "id": waba.id,
            "name": waba.name,
            "currency": waba.currency,
            "timezone_id": waba.timezone_id,
            "message_template_namespace": format!("{}_ns", waba.id),
            "account_review_status": "APPROVED",
            "owner_business_info": { "id": waba.owner_business_id, "name": waba.name },
        })));
    }
    if let Ok(media_id) = MediaId::parse(id.clone())
        && let Some(item) = w.media.get(&media_id)
    {
        return Ok(Json(media::info(&w.settings.public_url, item)));
    }
    Err(MetaError::unknown_object(&id, "GET").into())
}

/// `DELETE /{version}/{media_id}`.
pub async fn delete_object(
    State(engine): State<Arc<Engine>>,
    Path((version, id)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> GraphResult {
    authorize(
        &engine,
        &version,
        &headers,
        &query,
        &format!("/{version}/{id}"),
    )
    .await?;
    let removed = match MediaId::parse(id.clone()) {
        Ok(m) => engine.world().await.media.remove(&m),
        Err(_) => false,
    };
    if removed {
        Ok(Json(json!({ "success": true })))
    } else {
        Err(MetaError::unknown_object(&id, "DELETE").into())
    }
}

/// Performs Meta's GET handshake against a callback URL (§1.2); `Ok` if it echoed the
/// challenge with a 200.
pub async fn verify_callback(engine: &Engine, url: &str, verify_token: &str) -> Result<(), String> {
    let challenge = {
        let mut w = engine.world().await;
        w.ids.digits(10)
    };
    let resp = engine
        .http()
        .get(url)
        .query(&[
            ("hub.mode", "subscribe"),
            ("hub.challenge", challenge.as_str()),
            ("hub.verify_token", verify_token),
        ])
        .timeout(std::time::Duration::from_secs(10))
        .send()
        .await
        .map_err(|e| format!("the callback URL could not be reached: {e}"))?;
    let status = resp.status();
    let body = resp.text().await.unwrap_or_default();
    if status.as_u16() == 200 && body.trim() == challenge {
        Ok(())
    } else {
        Err(format!(
            "the callback URL answered {status} with {:?} instead of the challenge",
            body.chars().take(80).collect::<String>()
        ))
    }
}

fn override_of(body: &Value) -> Option<(String, String)> {
    let uri = body.get("override_callback_uri")?.as_str()?.to_owned();
    let token = body
        .get("verify_token")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    Some((uri, token))
}

async fn checked_override(
    engine: &Engine,
    body: &Value,
) -> Result<Option<Option<String>>, GraphError> {
    let Some((uri, token)) = override_of(body) else {
        return Ok(None);
    };
    if uri.is_empty() {
        return Ok(Some(None));
    }
    if uri.len() > 200 {
        return Err(MetaError::invalid_param(
            "override_callback_uri must be at most 200 characters.",
        )
        .into());
    }
    verify_callback(engine, &uri, &token).await.map_err(|e| {
        GraphError(MetaError::invalid_param(format!(
            "Callback verification failed: {e}"
        )))
    })?;
    Ok(Some(Some(uri)))
}

/// `POST /{version}/{phone_number_id}`: `webhook_configuration` override (§7.4).
pub async fn post_object(
    State(engine): State<Arc<Engine>>,
    Path((version, id)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> GraphResult {
    authorize(
        &engine,
        &version,
        &headers,
        &query,
        &format!("/{version}/{id}"),
    )
    .await?;
    let number = known_number(&engine, &id, "POST").await?;
    let body = json_body(&body)?;
    let config = body
        .get("webhook_configuration")
        .cloned()
        .unwrap_or(Value::Null);
    let Some(url) = checked_override(&engine, &config).await? else {
        return Err(MetaError::invalid_param(
            "Only webhook_configuration can be updated on a phone number here.",
        )
        .into());
    };
    engine
        .mutate(|w, _| {
            if let Some(n) = w.numbers.get_mut(&number) {
                n.override_url = url;
            }
        })
        .await;
    Ok(Json(json!({ "success": true })))
}

/// `POST /{version}/{phone_number_id}/smb_app_data`.
pub async fn post_smb_app_data(
    State(engine): State<Arc<Engine>>,
    Path((version, id)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> GraphResult {
    authorize(
        &engine,
        &version,
        &headers,
        &query,
        &format!("/{version}/{id}/smb_app_data"),
    )
    .await?;
    let number = known_number(&engine, &id, "POST").await?;
    let body = json_body(&body)?;
    let req: SmbAppDataRequest = serde_json::from_value(body)
        .map_err(|e| GraphError(MetaError::missing_param(format!("Invalid parameter: {e}"))))?;
    let result = engine
        .mutate(|w, now| w.smb_app_data(now, &number, &req))
        .await;
    Ok(Json(result?))
}

async fn known_waba(engine: &Engine, id: &str, method: &str) -> Result<WabaId, GraphError> {
    let unknown = || GraphError(MetaError::unknown_object(id, method));
    let waba = WabaId::parse(id).map_err(|_| unknown())?;
    if engine.world().await.wabas.contains_key(&waba) {
        Ok(waba)
    } else {
        Err(unknown())
    }
}

fn paged(data: Vec<Value>) -> Value {
    json!({ "data": data, "paging": { "cursors": { "before": "QVFIUkJF", "after": "QVFIUkFG" } } })
}

/// `GET /{version}/{waba_id}/phone_numbers`.
pub async fn get_phone_numbers(
    State(engine): State<Arc<Engine>>,
    Path((version, id)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> GraphResult {
    authorize(
        &engine,
        &version,
        &headers,
        &query,
        &format!("/{version}/{id}/phone_numbers"),
    )
    .await?;
    let waba = known_waba(&engine, &id, "GET").await?;
    let w = engine.world().await;
    let data = w
        .numbers_in_order()
        .filter(|n| n.waba == waba)
        .map(|n| number_json(&w, n, query.get("fields").map(String::as_str)))
        .collect();
    Ok(Json(paged(data)))
}

/// `GET /{version}/{waba_id}/subscribed_apps`.
pub async fn get_subscribed_apps(
    State(engine): State<Arc<Engine>>,
    Path((version, id)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> GraphResult {
    authorize(
        &engine,
        &version,
        &headers,
        &query,
        &format!("/{version}/{id}/subscribed_apps"),
    )
    .await?;
    let waba = known_waba(&engine, &id, "GET").await?;
    let w = engine.world().await;
    let Some(x) = w.wabas.get(&waba) else {
        return Err(MetaError::unknown_object(&id, "GET").into());
    };
    let data = if x.subscribed {
        let mut app = json!({ "whatsapp_business_api_data": {
            "id": w.settings.app_id,
            "link": format!("https://www.facebook.com/games/?app_id={}", w.settings.app_id),
            "name": "coex" } });
        if let Some(u) = &x.override_url {
            app["override_callback_uri"] = json!(u);
        }
        vec![app]
    } else {
        vec![]
    };
    Ok(Json(json!({ "data": data })))
}

/// `POST /{version}/{waba_id}/subscribed_apps`, optionally with a WABA-level override.
pub async fn post_subscribed_apps(
    State(engine): State<Arc<Engine>>,
    Path((version, id)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> GraphResult {
    authorize(
        &engine,
        &version,
        &headers,
        &query,
        &format!("/{version}/{id}/subscribed_apps"),
    )
    .await?;
    let waba = known_waba(&engine, &id, "POST").await?;
    let body = if body.is_empty() {
        json!({})
    } else {
        json_body(&body)?
    };
    let url = checked_override(&engine, &body).await?;
    engine
        .mutate(|w, _| {
            if let Some(x) = w.wabas.get_mut(&waba) {
                x.subscribed = true;
                if let Some(url) = url {
                    x.override_url = url;
                }
            }
        })
        .await;
    Ok(Json(json!({ "success": true })))
}

/// `DELETE /{version}/{waba_id}/subscribed_apps`: webhooks for the WABA stop.
pub async fn delete_subscribed_apps(
    State(engine): State<Arc<Engine>>,
    Path((version, id)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> GraphResult {
    authorize(
        &engine,
        &version,
        &headers,
        &query,
        &format!("/{version}/{id}/subscribed_apps"),
    )
    .await?;
    let waba = known_waba(&engine, &id, "DELETE").await?;
    engine
        .mutate(|w, _| {
            if let Some(x) = w.wabas.get_mut(&waba) {
                x.subscribed = false;
            }
        })
        .await;
    Ok(Json(json!({ "success": true })))
}

/// `GET /{version}/{waba_id}/message_templates` (filters: `name`, `language`, `status`).
pub async fn get_message_templates(
    State(engine): State<Arc<Engine>>,
    Path((version, id)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> GraphResult {
    authorize(
        &engine,
        &version,
        &headers,
        &query,
        &format!("/{version}/{id}/message_templates"),
    )
    .await?;
    let waba = known_waba(&engine, &id, "GET").await?;
    let w = engine.world().await;
    let data = w
        .templates
        .get(&waba)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter(|t| query.get("name").is_none_or(|n| *n == t.name))
        .filter(|t| query.get("language").is_none_or(|l| *l == t.language))
        .filter(|t| {
            query
                .get("status")
                .is_none_or(|s| s.eq_ignore_ascii_case(t.status.as_str()))
        })
        .map(Template::graph_json)
        .collect();
    Ok(Json(paged(data)))
}

/// Counts `{{n}}` placeholders.
fn placeholders(text: &str) -> usize {
    text.matches("{{").count()
}

/// Reads a template creation request into a pending template.
fn template_from_request(id: String, body: &Value) -> Result<Template, MetaError> {
    let name = body
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| MetaError::missing_param("The parameter name is required."))?;
    let language = body
        .get("language")
        .and_then(Value::as_str)
        .ok_or_else(|| MetaError::missing_param("The parameter language is required."))?;
    let category = match body
        .get("category")
        .and_then(Value::as_str)
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        Some("MARKETING") => TemplateCategory::Marketing,
        Some("UTILITY") => TemplateCategory::Utility,
        Some("AUTHENTICATION") => TemplateCategory::Authentication,
        _ => {
            return Err(MetaError::invalid_param(
                "Param category must be one of {MARKETING, UTILITY, AUTHENTICATION}.",
            ));
        }
    };
    let mut t = Template {
        id,
        name: name.to_owned(),
        language: language.to_owned(),
        status: TemplateStatus::Pending,
        category,
        header: None,
        body: String::new(),
        body_params: 0,
        footer: None,
        buttons: Vec::new(),
    };
    let components = body
        .get("components")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for c in components {
        let kind = c
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_ascii_uppercase();
        let text = c
            .get("text")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        match kind.as_str() {
            "HEADER" => {
                let format = c
                    .get("format")
                    .and_then(Value::as_str)
                    .unwrap_or("TEXT")
                    .to_ascii_uppercase();
                t.header = Some(if format == "TEXT" {
                    Header::Text {
                        params: placeholders(&text),
                        text,
                    }
                } else {
                    Header::Media {
                        kind: format.to_ascii_lowercase(),
                    }
                });
            }
            "BODY" => {
                t.body_params = placeholders(&text);
                t.body = text;
            }
            "FOOTER" => t.footer = Some(text),
            "BUTTONS" => {
                for b in c
                    .get("buttons")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default()
                {
                    let btext = b
                        .get("text")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned();
                    match b
                        .get("type")
                        .and_then(Value::as_str)
                        .map(str::to_ascii_uppercase)
                        .as_deref()
                    {
                        Some("URL") => {
                            let url = b
                                .get("url")
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .to_owned();
                            t.buttons.push(Button::Url {
                                dynamic: url.contains("{{"),
                                text: btext,
                                url,
                            });
                        }
                        Some("OTP") => t.buttons.push(Button::Otp {
                            otp_type: b
                                .get("otp_type")
                                .and_then(Value::as_str)
                                .unwrap_or("COPY_CODE")
                                .to_owned(),
                        }),
                        _ => t.buttons.push(Button::QuickReply { text: btext }),
                    }
                }
            }
            _ => {}
        }
    }
    Ok(t)
}

/// `POST /{version}/{waba_id}/message_templates`: a new template, `PENDING` until reviewed
/// through the control API.
pub async fn post_message_templates(
    State(engine): State<Arc<Engine>>,
    Path((version, id)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> GraphResult {
    authorize(
        &engine,
        &version,
        &headers,
        &query,
        &format!("/{version}/{id}/message_templates"),
    )
    .await?;
    let waba = known_waba(&engine, &id, "POST").await?;
    let body = json_body(&body)?;
    let created = engine
        .mutate(|w, _| {
            let tid = w.ids.digits(16);
            let t = template_from_request(tid, &body)?;
            let list = w.templates.entry(waba).or_default();
            if list
                .iter()
                .any(|x| x.name == t.name && x.language == t.language)
            {
                return Err(MetaError::invalid_param(format!(
                    "Message template \"{}\" already exists in {}.",
                    t.name, t.language
                )));
            }
            let out = json!({ "id": t.id, "status": "PENDING", "category": t.category.as_str() });
            list.push(t);
            Ok(out)
        })
        .await?;
    Ok(Json(created))
}
