//! The client against a real axum server on 127.0.0.1, port 0. The server checks the path and
//! the bearer header, records each JSON body for the test to inspect, and answers with the
//! spec's JSON — including error envelopes and a handler that never answers in time.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use coex_core::{Bsuid, MediaId, PhoneNumber, PhoneNumberId, Secret, WabaId, Wamid};

use super::*;
use crate::graph::messages::MessagesRequest;
use crate::graph::onboarding::SyncType;
use crate::graph::templates::{
    TemplateCategory, TemplateComponent, TemplateComponentType, TemplateStatus,
};
use crate::graph::{ErrorClass, Extra, MediaKind, PlatformType, RetryScope};

const TOKEN: &str = "EAAG-test-token";

/// Bodies the server received, labelled by route. A std mutex is enough: handlers hold it
/// only to push, never across an await.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<(String, Value)>>>);

impl Seen {
    fn push(&self, label: &str, v: Value) {
        self.0.lock().unwrap().push((label.to_owned(), v));
    }

    fn take(&self) -> Vec<(String, Value)> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

#[derive(Clone)]
struct AppState {
    seen: Seen,
    base: String,
}

fn unauthorized() -> Response {
    let body = GraphErrorBody::new(ErrorCode::AccessTokenExpired).with_fbtrace_id("T1");
    (StatusCode::UNAUTHORIZED, Json(body.into_envelope())).into_response()
}

fn authorized(headers: &HeaderMap) -> bool {
    headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {TOKEN}"))
}

fn meta_error(body: GraphErrorBody) -> Response {
    let status = StatusCode::from_u16(body.http_status()).unwrap();
    (status, Json(body.into_envelope())).into_response()
}

async fn messages(
    State(st): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    match id.as_str() {
        // Never answers within the client's timeout.
        "slow" => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            return Json(json!({})).into_response();
        }
        // A proxy's error page: no envelope.
        "html" => {
            return (
                StatusCode::BAD_GATEWAY,
                "<html><body>502 Bad Gateway</body></html>",
            )
                .into_response();
        }
        // A 200 whose body is not a send response.
        "weird" => return Json(json!({"unexpected": true})).into_response(),
        "106540352242922" => {}
        _ => return meta_error(GraphErrorBody::new(ErrorCode::InvalidParameter)),
    }
    let raw: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(_) => return meta_error(GraphErrorBody::new(ErrorCode::InvalidParameter)),
    };
    st.seen.push("messages", raw.clone());
    match MessagesRequest::from_value(raw) {
        Ok(MessagesRequest::MarkRead(_)) => Json(json!({ "success": true })).into_response(),
        Ok(MessagesRequest::Send(send)) => {
            if let Err(e) = send.validate() {
                return meta_error(e.to_graph_error());
            }
            match send.input() {
                // The spec's §4 example, verbatim.
                Some("+15550000429") => (
                    StatusCode::BAD_REQUEST,
                    r#"{ "error": { "message": "(#130429) Rate limit hit", "type": "OAuthException", "code": 130429,
                      "error_data": { "messaging_product": "whatsapp", "details": "Cloud API message throughput has been reached." },
                      "error_subcode": 2494055, "fbtrace_id": "Az8or2yhqkZfEZ-_4Qn_Bam" } }"#,
                )
                    .into_response(),
                Some("US.13491208655302741918") => Json(json!({ "messaging_product": "whatsapp",
                    "contacts": [{ "input": "US.13491208655302741918", "user_id": "US.13491208655302741918" }],
                    "messages": [{ "id": "wamid.HBgLMTY0NjcwNDM1OTUVAgARGBI1RjQyNUE3NEYxMzAzMzQ5MkEA" }] }))
                .into_response(),
                Some(input) => Json(json!({
                    "messaging_product": "whatsapp",
                    "contacts": [{ "input": input, "wa_id": "16505551234" }],
                    "messages": [{ "id": "wamid.HBgLMTY0NjcwNDM1OTUVAgARGBI4MjZGRDA0OUE2OTQ3RkEyMzcA" }]
                }))
                .into_response(),
                None => meta_error(GraphErrorBody::new(ErrorCode::RequiredParameterMissing)),
            }
        }
        Err(e) => {
            meta_error(GraphErrorBody::new(ErrorCode::InvalidParameter).with_details(e.to_string()))
        }
    }
}

async fn smb_app_data(
    State(st): State<AppState>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    st.seen.push("smb_app_data", body.clone());
    if body["sync_type"] == json!("history") {
        return meta_error(GraphErrorBody::new(ErrorCode::SyncCallLimit));
    }
    Json(json!({ "messaging_product": "whatsapp", "request_id": "REQ-1" })).into_response()
}

async fn subscribed_apps_post(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    let v: Value = if body.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(&body).unwrap()
    };
    st.seen.push("subscribe", v);
    Json(json!({ "success": true })).into_response()
}

async fn subscribed_apps_get(headers: HeaderMap) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    Json(json!({ "data": [ { "whatsapp_business_api_data": { "link": "https://www.facebook.com/games/?app_id=67", "name": "Coex", "id": "67" } } ] }))
        .into_response()
}

async fn subscribed_apps_delete(headers: HeaderMap) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    Json(json!({ "success": true })).into_response()
}

async fn node_get(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    if id == "media-1" {
        return Json(
            json!({ "messaging_product": "whatsapp", "url": format!("{}/files/media-1", st.base),
            "mime_type": "image/jpeg", "sha256": "abc", "file_size": "5", "id": "media-1" }),
        )
        .into_response();
    }
    st.seen
        .push("node_get", json!({ "id": id, "fields": q.get("fields") }));
    Json(json!({ "is_on_biz_app": true, "platform_type": "CLOUD_API", "id": id })).into_response()
}

async fn node_post(
    State(st): State<AppState>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    st.seen.push("node_post", body);
    Json(json!({ "success": true })).into_response()
}

async fn node_delete(headers: HeaderMap) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    Json(json!({ "success": true })).into_response()
}

async fn phone_numbers(
    Query(q): Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    assert_eq!(
        q.get("fields").map(String::as_str),
        Some("display_phone_number,whatsapp_business_manager_messaging_limit")
    );
    Json(json!({ "data": [ { "display_phone_number": "15550783881", "whatsapp_business_manager_messaging_limit": "TIER_250", "id": "106540352242922" } ],
                 "paging": { "cursors": { "before": "A", "after": "B" } } }))
    .into_response()
}

async fn upload(State(st): State<AppState>, headers: HeaderMap, mut form: Multipart) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    let mut seen = serde_json::Map::new();
    while let Some(field) = form.next_field().await.unwrap() {
        let name = field.name().unwrap_or("").to_owned();
        let file_name = field.file_name().map(str::to_owned);
        let ctype = field.content_type().map(str::to_owned);
        let data = field.bytes().await.unwrap();
        seen.insert(
            name,
            json!({ "file_name": file_name, "content_type": ctype, "text": String::from_utf8_lossy(&data) }),
        );
    }
    st.seen.push("upload", Value::Object(seen));
    Json(json!({ "id": "1479537139650973" })).into_response()
}

async fn file(Path(_name): Path<String>, headers: HeaderMap) -> Response {
    if !authorized(&headers) {
        return (StatusCode::FORBIDDEN, "no").into_response();
    }
    ([("content-type", "image/jpeg")], "JFIF!").into_response()
}

async fn templates_get(
    Query(q): Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    assert_eq!(q.get("status").map(String::as_str), Some("APPROVED"));
    Json(json!({ "data": [ { "name": "hello_world", "components": [ { "type": "BODY", "text": "Hello {{1}}" } ],
        "language": "en_US", "status": "APPROVED", "category": "UTILITY", "id": "1" } ],
        "paging": { "cursors": { "before": "X", "after": "Y" } } }))
    .into_response()
}

async fn templates_post(
    State(st): State<AppState>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    st.seen.push("create_template", body);
    Json(json!({ "id": "572279198452421", "status": "PENDING", "category": "MARKETING" }))
        .into_response()
}

/// Starts the fake Graph server; returns its base URL and what it records.
async fn start() -> (String, Seen) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen = Seen::default();
    let state = AppState {
        seen: seen.clone(),
        base: base.clone(),
    };
    let app = Router::new()
        .route("/v25.0/{id}/messages", post(messages))
        .route("/v25.0/{id}/smb_app_data", post(smb_app_data))
        .route(
            "/v25.0/{id}/subscribed_apps",
            post(subscribed_apps_post)
                .get(subscribed_apps_get)
                .delete(subscribed_apps_delete),
        )
        .route("/v25.0/{id}/phone_numbers", get(phone_numbers))
        .route("/v25.0/{id}/media", post(upload))
        .route(
            "/v25.0/{id}/message_templates",
            get(templates_get).post(templates_post),
        )
        .route(
            "/v25.0/{id}",
            get(node_get).post(node_post).delete(node_delete),
        )
        .route("/files/{name}", get(file))
        .with_state(state);
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (base, seen)
}

fn client(base: &str) -> GraphClient {
    GraphClient::new(&GraphConfig::new(base, Secret::new(TOKEN))).unwrap()
}

fn pnid() -> PhoneNumberId {
    PhoneNumberId::parse("106540352242922").unwrap()
}

fn waba() -> WabaId {
    WabaId::parse("102290129340398").unwrap()
}

#[tokio::test]
async fn send_text_to_phone_and_bsuid() {
    let (base, seen) = start().await;
    let c = client(&base);
    let req = SendMessageRequest::text(PhoneNumber::parse("+16505551234").unwrap(), "Hello");
    let resp = c.send_message(&pnid(), &req).await.unwrap();
    assert_eq!(resp.contacts[0].input, "+16505551234");
    assert_eq!(resp.contacts[0].phone().unwrap().digits(), "16505551234");
    assert_eq!(
        resp.message_id().unwrap().as_str(),
        "wamid.HBgLMTY0NjcwNDM1OTUVAgARGBI4MjZGRDA0OUE2OTQ3RkEyMzcA"
    );
    let req = SendMessageRequest::text(Bsuid::parse("US.13491208655302741918").unwrap(), "Hello");
    let resp = c.send_message(&pnid(), &req).await.unwrap();
    assert_eq!(
        resp.contacts[0].bsuid().unwrap().as_str(),
        "US.13491208655302741918"
    );
    let bodies = seen.take();
    assert_eq!(
        bodies[0],
        (
            "messages".to_owned(),
            json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": "+16505551234",
                   "type": "text", "text": {"body": "Hello"}})
        )
    );
    assert_eq!(
        bodies[1].1,
        json!({"messaging_product": "whatsapp", "recipient_type": "individual", "recipient": "US.13491208655302741918",
               "type": "text", "text": {"body": "Hello"}})
    );
}

#[tokio::test]
async fn mark_read_with_typing() {
    let (base, seen) = start().await;
    let c = client(&base);
    let req = MarkReadRequest::new(Wamid::parse("wamid.IN").unwrap()).with_typing();
    assert!(c.mark_read(&pnid(), &req).await.unwrap().success);
    assert_eq!(
        seen.take()[0].1,
        json!({"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.IN", "typing_indicator": {"type": "text"}})
    );
}

#[tokio::test]
async fn api_errors_are_typed() {
    let (base, _seen) = start().await;
    let c = client(&base);
    let req = SendMessageRequest::text(PhoneNumber::parse("+15550000429").unwrap(), "x");
    let err = c.send_message(&pnid(), &req).await.unwrap_err();
    let GraphError::Api { status, body } = &err else {
        panic!("{err}")
    };
    assert_eq!(*status, 400);
    assert_eq!(body.code, ErrorCode::RateLimitHit);
    assert_eq!(body.error_subcode, Some(2494055));
    assert_eq!(body.fbtrace_id.as_deref(), Some("Az8or2yhqkZfEZ-_4Qn_Bam"));
    assert_eq!(err.code(), Some(ErrorCode::RateLimitHit));
    assert_eq!(err.retry().scope, RetryScope::SendingNumber);
    assert!(err.retry().is_retryable());

    // The server validates with the same types and answers Meta's way.
    let long = SendMessageRequest::buttons(
        PhoneNumber::parse("+16505551234").unwrap(),
        "b",
        &[("a", "A title that is too long")],
    );
    let err = c.send_message(&pnid(), &long).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidParameter));
    assert_eq!(err.code().unwrap().class(), ErrorClass::InvalidRequest);

    let err = c
        .smb_app_data(&pnid(), SyncType::History)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::SyncCallLimit));
    assert!(!err.retry().is_retryable());
}

#[tokio::test]
async fn wrong_token_is_an_auth_error() {
    let (base, _seen) = start().await;
    let c = GraphClient::new(&GraphConfig::new(&base, Secret::new("wrong"))).unwrap();
    let err = c.phone_number(&pnid(), &[]).await.unwrap_err();
    assert_eq!(err.status(), Some(401));
    assert_eq!(err.code(), Some(ErrorCode::AccessTokenExpired));
    assert!(err.retry().needs_operator());
    // The token is not in the error text.
    assert!(!err.to_string().contains("wrong"));
}

#[tokio::test]
async fn undecodable_answers() {
    let (base, _seen) = start().await;
    let c = client(&base);
    let req = SendMessageRequest::text(PhoneNumber::parse("+16505551234").unwrap(), "x");
    let err = c
        .send_message(&PhoneNumberId::parse("html").unwrap(), &req)
        .await
        .unwrap_err();
    let GraphError::Decode {
        status,
        body_snippet,
        ..
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!(*status, 502);
    assert!(body_snippet.contains("Bad Gateway"));
    assert!(err.retry().is_retryable());

    let err = c
        .send_message(&PhoneNumberId::parse("weird").unwrap(), &req)
        .await
        .unwrap_err();
    assert!(
        matches!(err, GraphError::Decode { status: 200, .. }),
        "{err}"
    );
    // A 2xx we cannot read is never resent: the message may have gone out.
    assert!(!err.retry().is_retryable());
}

#[tokio::test]
async fn slow_answer_times_out() {
    let (base, _seen) = start().await;
    let config = GraphConfig {
        timeout: Duration::from_millis(200),
        ..GraphConfig::new(&base, Secret::new(TOKEN))
    };
    let c = GraphClient::new(&config).unwrap();
    let req = SendMessageRequest::text(PhoneNumber::parse("+16505551234").unwrap(), "x");
    let err = c
        .send_message(&PhoneNumberId::parse("slow").unwrap(), &req)
        .await
        .unwrap_err();
    assert!(matches!(err, GraphError::Timeout), "{err}");
    assert_eq!(err.retry(), RetryAdvice::TRANSIENT);
}

#[tokio::test]
async fn unreachable_server_is_transport() {
    // Bind then drop a listener so the port is (very likely) closed.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let c = client(&format!("http://127.0.0.1:{port}"));
    let err = c
        .media_info(&MediaId::parse("1").unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(err, GraphError::Transport(_) | GraphError::Timeout),
        "{err}"
    );
    assert!(err.retry().is_retryable());
}

#[tokio::test]
async fn onboarding_calls() {
    let (base, seen) = start().await;
    let c = client(&base);
    let r = c
        .smb_app_data(&pnid(), SyncType::SmbAppStateSync)
        .await
        .unwrap();
    assert_eq!(r.request_id.as_str(), "REQ-1");
    assert!(
        c.subscribe_app(&waba(), &SubscribeAppRequest::default())
            .await
            .unwrap()
            .success
    );
    let ovr = SubscribeAppRequest::with_override("https://hooks.example.com/w", Secret::new("vt"));
    assert!(c.subscribe_app(&waba(), &ovr).await.unwrap().success);
    let apps = c.subscribed_apps(&waba()).await.unwrap();
    assert_eq!(
        apps.data[0]
            .whatsapp_business_api_data
            .as_ref()
            .unwrap()
            .id
            .as_deref(),
        Some("67")
    );
    assert!(c.unsubscribe_app(&waba()).await.unwrap().success);
    let phone_override = PhoneWebhookOverrideRequest {
        webhook_configuration: SubscribeAppRequest::with_override(
            "https://hooks.example.com/n",
            Secret::new("vt2"),
        ),
    };
    assert!(
        c.set_phone_webhook_override(&pnid(), &phone_override)
            .await
            .unwrap()
            .success
    );

    let info = c
        .phone_number(
            &pnid(),
            &[PhoneNumberField::IsOnBizApp, PhoneNumberField::PlatformType],
        )
        .await
        .unwrap();
    assert_eq!(info.platform_type, Some(PlatformType::CloudApi));
    assert_eq!(info.is_coexistence(), Some(true));
    let list = c
        .waba_phone_numbers(
            &waba(),
            &[
                PhoneNumberField::DisplayPhoneNumber,
                PhoneNumberField::MessagingLimit,
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        list.data[0].messaging_limit().unwrap().daily_limit(),
        Some(250)
    );
    assert_eq!(list.after(), Some("B"));

    let bodies = seen.take();
    let labels: Vec<&str> = bodies.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(
        labels,
        [
            "smb_app_data",
            "subscribe",
            "subscribe",
            "node_post",
            "node_get"
        ]
    );
    assert_eq!(
        bodies[0].1,
        json!({"messaging_product": "whatsapp", "sync_type": "smb_app_state_sync"})
    );
    assert_eq!(bodies[1].1, json!({}));
    assert_eq!(
        bodies[2].1,
        json!({"override_callback_uri": "https://hooks.example.com/w", "verify_token": "vt"})
    );
    assert_eq!(
        bodies[3].1,
        json!({"webhook_configuration": {"override_callback_uri": "https://hooks.example.com/n", "verify_token": "vt2"}})
    );
    assert_eq!(bodies[4].1["fields"], json!("is_on_biz_app,platform_type"));
}

#[tokio::test]
async fn media_round_trip() {
    let (base, seen) = start().await;
    let c = client(&base);
    MediaKind::Image.check("image/jpeg", 5, false).unwrap();
    let up = c
        .upload_media(
            &pnid(),
            MediaUpload {
                file_name: "plant.jpg".into(),
                mime_type: "image/jpeg".into(),
                bytes: b"JFIF!".to_vec(),
            },
        )
        .await
        .unwrap();
    assert_eq!(up.id.as_str(), "1479537139650973");
    let form = &seen.take()[0].1;
    assert_eq!(form["messaging_product"]["text"], json!("whatsapp"));
    assert_eq!(form["type"]["text"], json!("image/jpeg"));
    assert_eq!(form["file"]["file_name"], json!("plant.jpg"));
    assert_eq!(form["file"]["content_type"], json!("image/jpeg"));
    assert_eq!(form["file"]["text"], json!("JFIF!"));

    let info = c
        .media_info(&MediaId::parse("media-1").unwrap())
        .await
        .unwrap();
    assert_eq!(info.file_size, 5);
    let file = c.download_media(&info.url).await.unwrap();
    assert_eq!(file.bytes, b"JFIF!");
    assert_eq!(file.content_type.as_deref(), Some("image/jpeg"));
    assert!(
        c.delete_media(&MediaId::parse("media-1").unwrap())
            .await
            .unwrap()
            .success
    );

    let err = c.download_media_capped(&info.url, 4).await.unwrap_err();
    assert!(matches!(err, GraphError::MediaTooLarge { .. }), "{err}");
    let bad = GraphClient::new(&GraphConfig::new(&base, Secret::new("nope"))).unwrap();
    let err = bad.download_media(&info.url).await.unwrap_err();
    assert_eq!(err.status(), Some(403));
}

#[tokio::test]
async fn templates() {
    let (base, seen) = start().await;
    let c = client(&base);
    let q = TemplateListQuery {
        status: Some(TemplateStatus::Approved),
        ..Default::default()
    };
    let list = c.list_templates(&waba(), &q).await.unwrap();
    assert_eq!(list.data[0].expected_params().total(), 1);
    let req = CreateTemplateRequest {
        name: "seasonal_promotion".into(),
        language: "en_US".into(),
        category: TemplateCategory::Marketing,
        parameter_format: None,
        components: vec![TemplateComponent::text(
            TemplateComponentType::Body,
            "Hi {{1}}",
        )],
        allow_category_change: None,
        extra: Extra::new(),
    };
    let r = c.create_template(&waba(), &req).await.unwrap();
    assert_eq!(r.status, TemplateStatus::Pending);
    assert_eq!(seen.take()[0].1["components"][0]["type"], json!("BODY"));
}

#[test]
fn config_defaults_and_durations() {
    let c: GraphConfig = serde_json::from_value(json!({"access_token": "EAAG"})).unwrap();
    assert_eq!(c.base_url, DEFAULT_BASE_URL);
    assert_eq!(c.api_version, "v25.0");
    assert_eq!(c.timeout, Duration::from_secs(30));
    assert_eq!(c.access_token.expose(), "EAAG");
    assert!(!format!("{c:?}").contains("EAAG"));
    let c: GraphConfig = serde_json::from_value(
        json!({"timeout": "500ms", "connect_timeout": 2, "media_timeout": "2m"}),
    )
    .unwrap();
    assert_eq!(c.timeout, Duration::from_millis(500));
    assert_eq!(c.connect_timeout, Duration::from_secs(2));
    assert_eq!(c.media_timeout, Duration::from_secs(120));
    let v = serde_json::to_value(&c).unwrap();
    assert_eq!(v["timeout"], json!("500ms"));
    assert_eq!(v["connect_timeout"], json!("2s"));
    assert_eq!(v["access_token"], json!("[redacted]"));
    assert!(serde_json::from_value::<GraphConfig>(json!({"timeout": "soon"})).is_err());
    assert_eq!(
        duration_text::parse("1.5s"),
        Some(Duration::from_millis(1500))
    );
    assert_eq!(duration_text::parse("1h"), Some(Duration::from_secs(3600)));
}

#[test]
fn bad_config_is_refused() {
    assert!(matches!(
        GraphClient::new(&GraphConfig::new("not a url", Secret::new(TOKEN))),
        Err(GraphError::InvalidConfig(_))
    ));
    assert!(matches!(
        GraphClient::new(&GraphConfig::new("ftp://x", Secret::new(TOKEN))),
        Err(GraphError::InvalidConfig(_))
    ));
    assert!(matches!(
        GraphClient::new(&GraphConfig::new("http://x", Secret::new("bad\ntoken"))),
        Err(GraphError::InvalidConfig(_))
    ));
}
