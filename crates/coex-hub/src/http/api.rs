//! REST API, version 1: numbers, conversations, messages (newest first, keyset pages), sync
//! progress, lifecycle events, change errors, and ingest metrics.

use axum::{
    Json, Router,
    extract::{Path, Query, State},
    routing::get,
};
use coex_core::{
    PhoneNumberId, Wamid,
    model::{ConversationId, Cursor, PageRequest, WorkspaceId},
};
use coex_store::{Store, StoreError};
use serde::{Deserialize, Serialize};

use super::{AppState, error::ApiError, feed};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/numbers", get(list_numbers))
        .route("/numbers/{number}", get(get_number))
        .route("/numbers/{number}/conversations", get(list_conversations))
        .route("/numbers/{number}/sync", get(sync_progress))
        .route("/numbers/{number}/events", get(number_events))
        .route("/numbers/{number}/messages/{wamid}", get(get_message))
        .route("/conversations/{id}", get(get_conversation))
        .route("/conversations/{id}/messages", get(list_messages))
        .route("/change-errors", get(change_errors))
        .route("/workspaces/{workspace}/events", get(feed::stream))
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { .. } => ApiError::not_found("not_found", e.to_string()),
            StoreError::Conflict(_) => {
                ApiError::new(axum::http::StatusCode::CONFLICT, "conflict", e.to_string())
            }
            StoreError::Unavailable(_) => {
                ApiError::unavailable("store_unavailable", e.to_string(), 2)
            }
            // An id or text the store can never hold (a NUL, an id over its length limit).
            StoreError::InvalidData(_) => ApiError::bad_request("invalid_data", e.to_string()),
            other => {
                tracing::error!(error = %other, "store error");
                ApiError::internal("the store failed; see the server log")
            }
        }
    }
}

fn number_id(raw: String) -> Result<PhoneNumberId, ApiError> {
    PhoneNumberId::parse(raw).map_err(|e| ApiError::bad_request("bad_number_id", e.to_string()))
}

/// `?limit=&cursor=` of list endpoints.
#[derive(Debug, Deserialize)]
pub struct PageQuery {
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

impl PageQuery {
    fn request(&self) -> Result<PageRequest, ApiError> {
        let limit = self.limit.unwrap_or(50);
        if limit == 0 || limit > PageRequest::MAX_LIMIT {
            return Err(ApiError::bad_request(
                "bad_limit",
                format!("limit must be between 1 and {}", PageRequest::MAX_LIMIT),
            ));
        }
        match &self.cursor {
            None => Ok(PageRequest::first(limit)),
            Some(c) => Cursor::parse(c)
                .map(|c| PageRequest::after(limit, c))
                .map_err(|e| ApiError::bad_request("bad_cursor", e.to_string())),
        }
    }
}

/// A page of items and the cursor of the next page.
#[derive(Debug, Serialize)]
pub struct PageBody<T> {
    pub data: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> From<coex_core::model::Page<T>> for PageBody<T> {
    fn from(p: coex_core::model::Page<T>) -> Self {
        Self {
            data: p.items,
            next_cursor: p.next.map(|c| c.to_string()),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct DataBody<T> {
    pub data: T,
}

/// The phone app must be opened at least every 13 days or Meta may drop the link
/// (spec/coexistence.md §2; Meta disconnects after about 14 days, `PRIMARY_INACTIVITY`).
const APP_INACTIVITY_LIMIT_DAYS: i64 = 13;
/// From this many days without a sign of life, the number is shown as at risk.
const APP_INACTIVITY_WARNING_DAYS: i64 = 10;

/// A number with what its owner should know about the phone app's link.
#[derive(Debug, Serialize)]
pub struct NumberView {
    #[serde(flatten)]
    pub number: coex_core::model::Number,
    /// For coexistence numbers: the 13-day rule, measured from the last echo or sync event.
    pub app_link: Option<AppLink>,
}

#[derive(Debug, Serialize)]
pub struct AppLink {
    /// Whole days since the last sign of life from the phone app (`None`: never heard from).
    pub days_since_app_activity: Option<i64>,
    /// Days left before the 13-day limit (0 when past it).
    pub days_left: Option<i64>,
    /// True from day 10: remind the owner to open the WhatsApp Business app.
    pub at_risk: bool,
}

impl NumberView {
    pub fn new(number: coex_core::model::Number, now: coex_core::model::Timestamp) -> Self {
        let app_link = (number.kind == coex_core::model::NumberKind::Coexistence).then(|| {
            let days = number
                .last_app_activity_at
                .map(|at| (now.as_millis() - at.as_millis()).max(0) / 86_400_000);
            AppLink {
                days_since_app_activity: days,
                days_left: days.map(|d| (APP_INACTIVITY_LIMIT_DAYS - d).max(0)),
                at_risk: days.is_some_and(|d| d >= APP_INACTIVITY_WARNING_DAYS),
            }
        });
        Self { number, app_link }
    }
}

async fn list_numbers(State(s): State<AppState>) -> Result<Json<impl Serialize>, ApiError> {
    let now = s.ingest.now();
    let numbers = s.store.list_numbers(None).await?;
    Ok(Json(DataBody {
        data: numbers
            .into_iter()
            .map(|n| NumberView::new(n, now))
            .collect::<Vec<_>>(),
    }))
}

async fn get_number(
    State(s): State<AppState>,
    Path(number): Path<String>,
) -> Result<Json<impl Serialize>, ApiError> {
    let number = s.store.get_number(&number_id(number)?).await?;
    Ok(Json(NumberView::new(number, s.ingest.now())))
}

async fn list_conversations(
    State(s): State<AppState>,
    Path(number): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Json<impl Serialize>, ApiError> {
    let page = s
        .store
        .list_conversations(&number_id(number)?, q.request()?)
        .await?;
    Ok(Json(PageBody::from(page)))
}

async fn sync_progress(
    State(s): State<AppState>,
    Path(number): Path<String>,
) -> Result<Json<impl Serialize>, ApiError> {
    let number = number_id(number)?;
    s.store.get_number(&number).await?;
    Ok(Json(DataBody {
        data: s.store.sync_progress(&number).await?,
    }))
}

async fn number_events(
    State(s): State<AppState>,
    Path(number): Path<String>,
) -> Result<Json<impl Serialize>, ApiError> {
    Ok(Json(DataBody {
        data: s.store.number_events(&number_id(number)?, 200).await?,
    }))
}

/// A message with every status webhook received for it.
#[derive(Debug, Serialize)]
struct MessageWithStatuses {
    #[serde(flatten)]
    message: coex_core::model::Message,
    statuses: Vec<coex_core::model::StatusRecord>,
}

async fn get_message(
    State(s): State<AppState>,
    Path((number, wamid)): Path<(String, String)>,
) -> Result<Json<impl Serialize>, ApiError> {
    let number = number_id(number)?;
    let wamid =
        Wamid::parse(wamid).map_err(|e| ApiError::bad_request("bad_wamid", e.to_string()))?;
    let message = s.store.get_message(&number, &wamid).await?;
    let statuses = s.store.status_history(&number, &wamid).await?;
    Ok(Json(MessageWithStatuses { message, statuses }))
}

fn conversation_id(raw: i64) -> ConversationId {
    ConversationId::new(raw)
}

async fn get_conversation(
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<impl Serialize>, ApiError> {
    Ok(Json(s.store.get_conversation(conversation_id(id)).await?))
}

async fn list_messages(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Query(q): Query<PageQuery>,
) -> Result<Json<impl Serialize>, ApiError> {
    let id = conversation_id(id);
    s.store.get_conversation(id).await?;
    Ok(Json(PageBody::from(
        s.store.list_messages(id, q.request()?).await?,
    )))
}

#[derive(Debug, Deserialize)]
struct AfterQuery {
    after: Option<i64>,
    limit: Option<u32>,
}

async fn change_errors(
    State(s): State<AppState>,
    Query(q): Query<AfterQuery>,
) -> Result<Json<impl Serialize>, ApiError> {
    Ok(Json(DataBody {
        data: s
            .store
            .change_errors(q.after.unwrap_or(0), q.limit.unwrap_or(100).min(1000))
            .await?,
    }))
}

/// Ingest counters and queue depth, as JSON.
pub async fn metrics(State(s): State<AppState>) -> Json<impl Serialize> {
    #[derive(Serialize)]
    struct Metrics {
        ingest_queue_depth: usize,
        /// History pieces waiting for a commit writer.
        ingest_background_depth: usize,
        ingest: crate::ingest::IngestTotals,
    }
    Json(Metrics {
        ingest_queue_depth: s.ingest.queue_depth(),
        ingest_background_depth: s.ingest.background_depth(),
        ingest: s.ingest.totals(),
    })
}

pub(crate) fn workspace_id(raw: i64) -> WorkspaceId {
    WorkspaceId::new(raw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use coex_core::model::{
        MessagingTier, Number, NumberKind, NumberState, Timestamp, WorkspaceId,
    };

    fn number(kind: NumberKind, last_app: Option<i64>) -> Number {
        Number {
            id: PhoneNumberId::parse("1065").unwrap(),
            workspace: WorkspaceId::new(1),
            waba: coex_core::WabaId::parse("1022").unwrap(),
            display_phone: coex_core::PhoneNumber::parse("15550783881").unwrap(),
            verified_name: None,
            kind,
            tier: MessagingTier::Tier250,
            state: NumberState::Connected,
            state_reason: None,
            state_changed_at: Timestamp::from_secs(0),
            last_app_activity_at: last_app.map(Timestamp::from_secs),
            created_at: Timestamp::from_secs(0),
        }
    }

    #[test]
    fn the_thirteen_day_rule_is_shown_for_coexistence_numbers() {
        let day = 86_400;
        let now = Timestamp::from_secs(100 * day);
        let fresh = NumberView::new(number(NumberKind::Coexistence, Some(99 * day)), now);
        let link = fresh.app_link.unwrap();
        assert_eq!(
            (link.days_since_app_activity, link.days_left, link.at_risk),
            (Some(1), Some(12), false)
        );
        let old = NumberView::new(number(NumberKind::Coexistence, Some(89 * day)), now);
        let link = old.app_link.unwrap();
        assert_eq!(
            (link.days_since_app_activity, link.days_left, link.at_risk),
            (Some(11), Some(2), true)
        );
        let gone = NumberView::new(number(NumberKind::Coexistence, Some(80 * day)), now);
        assert_eq!(gone.app_link.unwrap().days_left, Some(0));
        assert!(
            NumberView::new(number(NumberKind::CloudApi, None), now)
                .app_link
                .is_none()
        );
    }
}
