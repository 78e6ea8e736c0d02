//! Media: `POST /{phone_number_id}/media` (multipart upload), `GET /{media_id}` (its URL,
//! type, hash and size), `DELETE /{media_id}`, and the download URL, which points back at the
//! emulator and, like Meta's `lookaside.fbsbx.com` URLs, needs the bearer token.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use coex_meta::graph::{Extra, MESSAGING_PRODUCT, MediaInfo, UploadMediaResponse};
use serde_json::Value;

use coex_core::MediaId;

use crate::engine::Engine;
use crate::rules::auth;
use crate::wire::errors::MetaError;
use crate::world::media::MediaItem;

use super::messages::known_number;
use super::{GraphError, GraphResult, authorize};

/// Where downloads are served.
pub const DOWNLOAD_PATH: &str = "/lookaside/whatsapp_business/attachments/";

/// Size limits per MIME family (Meta's supported media page).
fn limit_for(mime: &str) -> Option<usize> {
    const MB: usize = 1024 * 1024;
    match mime {
        "image/jpeg" | "image/png" => Some(5 * MB),
        "image/webp" => Some(MB / 2),
        "audio/aac" | "audio/amr" | "audio/mpeg" | "audio/mp4" | "audio/ogg" => Some(16 * MB),
        "video/mp4" | "video/3gpp" => Some(16 * MB),
        "text/plain"
        | "application/pdf"
        | "application/vnd.ms-powerpoint"
        | "application/msword"
        | "application/vnd.ms-excel"
        | "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        | "application/vnd.openxmlformats-officedocument.presentationml.presentation"
        | "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => Some(100 * MB),
        _ => None,
    }
}

/// The download URL of a media item.
pub fn url_of(public_url: &str, item: &MediaItem) -> String {
    format!(
        "{public_url}{DOWNLOAD_PATH}?mid={}&ext={}&hash={}",
        item.id,
        item.created_at.unix_secs(),
        &item.sha256[..item.sha256.len().min(16)]
    )
}

/// `GET /{media_id}` body.
pub fn info(public_url: &str, item: &MediaItem) -> Value {
    let info = MediaInfo {
        messaging_product: MESSAGING_PRODUCT.to_owned(),
        url: url_of(public_url, item),
        mime_type: item.mime_type.clone(),
        sha256: item.sha256.clone(),
        file_size: u64::try_from(item.file_size).unwrap_or(u64::MAX),
        id: item.id.clone(),
        extra: Extra::new(),
    };
    serde_json::to_value(info).unwrap_or(Value::Null)
}

/// `POST /{version}/{phone_number_id}/media`.
pub async fn upload(
    State(engine): State<Arc<Engine>>,
    Path((version, id)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    mut form: Multipart,
) -> GraphResult {
    let path = format!("/{version}/{id}/media");
    authorize(&engine, &version, &headers, &query, &path).await?;
    let number = known_number(&engine, &id, "POST").await?;
    let bad = |d: String| GraphError(MetaError::invalid_param(d));
    let mut product = None;
    let mut declared = None;
    let mut file = None;
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| bad(format!("The multipart body could not be read: {e}")))?
    {
        match field.name().unwrap_or_default() {
            "messaging_product" => product = field.text().await.ok(),
            "type" => declared = field.text().await.ok(),
            "file" => {
                let ctype = field.content_type().map(str::to_owned);
                let filename = field.file_name().map(str::to_owned);
                let bytes = field
                    .bytes()
                    .await
                    .map_err(|e| bad(format!("The file could not be read: {e}")))?;
                file = Some((ctype, filename, bytes));
            }
            _ => {}
        }
    }
    if product.as_deref() != Some("whatsapp") {
        return Err(bad(
            "The parameter messaging_product is required and must be \"whatsapp\".".into(),
        ));
    }
    let Some((ctype, filename, bytes)) = file else {
        return Err(GraphError(MetaError::missing_param(
            "The parameter file is required.",
        )));
    };
    let mime = declared
        .or(ctype)
        .unwrap_or_else(|| "application/octet-stream".into());
    let mime = mime.split(';').next().unwrap_or_default().trim().to_owned();
    let Some(limit) = limit_for(&mime) else {
        return Err(bad(format!(
            "Param file must be a file with one of the supported media types; got {mime}."
        )));
    };
    if bytes.len() > limit {
        return Err(bad(format!(
            "The file is {} bytes; the limit for {mime} is {limit} bytes.",
            bytes.len()
        )));
    }
    let id = engine
        .mutate(|w, now| {
            let id = w.ids.media_id();
            w.media
                .insert(id.clone(), number, &mime, bytes, filename, now);
            id
        })
        .await;
    let response = UploadMediaResponse {
        id,
        extra: Extra::new(),
    };
    Ok(Json(serde_json::to_value(response).unwrap_or(Value::Null)))
}

/// `GET {DOWNLOAD_PATH}?mid=...` with the bearer token: the bytes.
pub async fn download(
    State(engine): State<Arc<Engine>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, GraphError> {
    let token = engine.world().await.settings.access_token.clone();
    let authz = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    auth::check(authz, query.get("access_token").map(String::as_str), &token)?;
    let id = query
        .get("mid")
        .and_then(|m| MediaId::parse(m.clone()).ok())
        .ok_or_else(|| GraphError(MetaError::missing_param("mid is required")))?;
    let w = engine.world().await;
    let item = w
        .media
        .get(&id)
        .ok_or_else(|| GraphError(MetaError::unknown_object(id.as_str(), "GET")))?;
    Ok((
        [(header::CONTENT_TYPE, item.mime_type.clone())],
        item.bytes.clone(),
    )
        .into_response())
}
