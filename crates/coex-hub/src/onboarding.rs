//! Onboarding a WABA's numbers (spec/cloud-api.md §2.1): subscribe the app to the WABA, read
//! each number's `is_on_biz_app` and `platform_type` (never `/register`: a coexistence number
//! is already registered), register it in the store, and — within Meta's 24 h — request the
//! contacts sync, then the history sync, storing each `request_id`.
//!
//! Each sync type can be requested only once per onboarding (2593107) and only within 24 h
//! (2593108). Such a refusal is stored as the sync job's state (`refused`, with Meta's code
//! and text), shown by `GET /v1/numbers/{id}/sync`, and never retried: a job of either kind,
//! in any state, means "asked already". Any other failure (Meta or the network down) stores
//! nothing, so the next start asks again.
//!
//! A number that left the platform (disconnected, offboarded, app uninstalled) and was
//! onboarded again may be synced again: onboarding asks once more for every job older than
//! the number's last departure. Meta accepting means a new onboarding, and the job starts
//! over; Meta refusing means the same onboarding came back, and the earlier job stands.

use coex_core::{
    PhoneNumber, PhoneNumberId, WabaId,
    model::{
        AccountEventKind, MessagingTier, MetaError, NewNumber, NumberKind, NumberState, SyncKind,
        Timestamp, WorkspaceId,
    },
};
use coex_meta::graph::{
    ErrorCode, GraphClient, GraphError, MessagingLimitTier, PhoneNumberField, PhoneNumberInfo,
    PlatformType, SubscribeAppRequest, SyncType,
};
use coex_store::{SqlStore, Store, StoreError};
use serde::Serialize;

/// Why onboarding a WABA or number failed.
#[derive(Debug, thiserror::Error)]
pub enum OnboardingError {
    #[error("Graph API: {0}")]
    Graph(#[from] GraphError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("number {id} has no usable display phone number ({detail})")]
    BadNumber { id: PhoneNumberId, detail: String },
}

/// What happened to one number.
#[derive(Debug, Clone, Serialize)]
pub struct NumberOnboarding {
    pub id: PhoneNumberId,
    pub kind: NumberKind,
    /// `Ok(request_id)` or Meta's error, per sync type requested now; empty when the sync was
    /// already requested (or refused) earlier or the number is not a coexistence number.
    pub contacts_sync: Option<Result<String, String>>,
    pub history_sync: Option<Result<String, String>>,
}

const FIELDS: &[PhoneNumberField] = &[
    PhoneNumberField::DisplayPhoneNumber,
    PhoneNumberField::VerifiedName,
    PhoneNumberField::IsOnBizApp,
    PhoneNumberField::PlatformType,
    PhoneNumberField::Throughput,
    PhoneNumberField::MessagingLimit,
];

/// Onboards every number of `waba` into `workspace`.
pub async fn onboard_waba(
    graph: &GraphClient,
    store: &SqlStore,
    workspace: WorkspaceId,
    waba: &WabaId,
    now: Timestamp,
) -> Result<Vec<NumberOnboarding>, OnboardingError> {
    store.upsert_waba(workspace, waba, None).await?;
    graph
        .subscribe_app(waba, &SubscribeAppRequest::default())
        .await?;
    let numbers = graph.waba_phone_numbers(waba, FIELDS).await?;
    let mut out = Vec::new();
    for info in numbers.data {
        out.push(onboard_number(graph, store, waba, info, now).await?);
    }
    Ok(out)
}

/// Registers one number and, for a coexistence number, requests the syncs not yet requested.
pub async fn onboard_number(
    graph: &GraphClient,
    store: &SqlStore,
    waba: &WabaId,
    info: PhoneNumberInfo,
    now: Timestamp,
) -> Result<NumberOnboarding, OnboardingError> {
    // The list endpoint may omit fields; ask the number itself when it did.
    let info = if info.is_on_biz_app.is_none() || info.display_phone_number.is_none() {
        graph.phone_number(&info.id, FIELDS).await?
    } else {
        info
    };
    let display = info.display_phone_number.clone().unwrap_or_default();
    let display_phone = PhoneNumber::parse(&display).map_err(|e| OnboardingError::BadNumber {
        id: info.id.clone(),
        detail: e.to_string(),
    })?;
    let kind = if info.is_on_biz_app == Some(true)
        && matches!(info.platform_type, Some(PlatformType::CloudApi))
    {
        NumberKind::Coexistence
    } else {
        NumberKind::CloudApi
    };
    let limit = info
        .whatsapp_business_manager_messaging_limit
        .as_ref()
        .or(info.messaging_limit_tier.as_ref());
    store
        .upsert_number(&NewNumber {
            id: info.id.clone(),
            waba: waba.clone(),
            display_phone,
            verified_name: info.verified_name.clone(),
            kind,
            tier: tier(limit),
            initial_state: NumberState::Connected,
        })
        .await?;
    let mut result = NumberOnboarding {
        id: info.id.clone(),
        kind,
        contacts_sync: None,
        history_sync: None,
    };
    if kind != NumberKind::Coexistence {
        return Ok(result);
    }
    let jobs = store.sync_progress(&info.id).await?;
    let left_at = last_departure(store, &info.id).await?;
    // Contacts first, then history: the order Meta documents.
    for (sync_kind, sync_type) in [
        (SyncKind::Contacts, SyncType::SmbAppStateSync),
        (SyncKind::History, SyncType::History),
    ] {
        let job = jobs.iter().find(|j| j.kind == sync_kind);
        // A job asked for before the number last left the platform belongs to an earlier
        // onboarding: this may be a new one, which Meta lets us ask again (it says 2593107
        // if it is the same onboarding coming back).
        let again = match (job, left_at) {
            (None, _) => false,
            (Some(j), Some(left)) if j.requested_at.is_none_or(|r| r <= left) => true,
            (Some(_), _) => continue,
        };
        let outcome = match graph.smb_app_data(&info.id, sync_type).await {
            Ok(resp) => {
                if again {
                    store
                        .restart_sync(&info.id, sync_kind, &resp.request_id, now)
                        .await?;
                    tracing::info!(number = %info.id, kind = %sync_kind, request_id = %resp.request_id, "new onboarding: sync requested again");
                } else {
                    store
                        .record_sync_request(&info.id, sync_kind, &resp.request_id, now)
                        .await?;
                    tracing::info!(number = %info.id, kind = %sync_kind, request_id = %resp.request_id, "sync requested");
                }
                Ok(resp.request_id.to_string())
            }
            Err(e) if again => {
                // The earlier job and what it imported stay as they are.
                tracing::info!(number = %info.id, kind = %sync_kind, error = %e, "asked for the sync again after the number came back; Meta refused, the earlier sync stands");
                Err(e.to_string())
            }
            Err(e) => {
                if let Some(refusal) = refusal(&e) {
                    store
                        .record_sync_refusal(&info.id, sync_kind, &refusal, now)
                        .await?;
                    tracing::warn!(number = %info.id, kind = %sync_kind, code = refusal.code, error = %e, "sync request refused by Meta; not asked again");
                } else {
                    tracing::warn!(number = %info.id, kind = %sync_kind, error = %e, "sync request failed; asked again at the next start");
                }
                Err(e.to_string())
            }
        };
        match sync_kind {
            SyncKind::Contacts => result.contacts_sync = Some(outcome),
            SyncKind::History => result.history_sync = Some(outcome),
        }
    }
    Ok(result)
}

/// When the number last left the platform (disconnected, offboarded or the app uninstalled),
/// by Meta's time of the event; `None` if it never did (in its recent events).
async fn last_departure(
    store: &SqlStore,
    number: &PhoneNumberId,
) -> Result<Option<Timestamp>, OnboardingError> {
    // Newest first; departures are rare, so the last page of events holds the latest one.
    let events = store.number_events(number, 200).await?;
    Ok(events
        .iter()
        .find(|e| {
            matches!(
                e.kind,
                AccountEventKind::PartnerRemoved
                    | AccountEventKind::AccountOffboarded
                    | AccountEventKind::PartnerAppUninstalled
            )
        })
        .map(|e| e.occurred_at))
}

/// Meta's error, when it refuses the sync for good for this onboarding: requested already
/// (2593107) or past the 24 h after onboarding (2593108).
fn refusal(e: &GraphError) -> Option<MetaError> {
    let GraphError::Api { body, .. } = e else {
        return None;
    };
    if !matches!(
        body.code,
        ErrorCode::SyncCallLimit | ErrorCode::SyncWindowExpired
    ) {
        return None;
    }
    Some(MetaError {
        code: body.code.code(),
        title: body.code.title().to_owned(),
        details: body
            .error_data
            .as_ref()
            .and_then(|d| d.details.clone())
            .or_else(|| Some(body.code.details().to_owned())),
    })
}

/// The store's tier for Meta's limit (spec §5.4). A number that reports no tier, or one this
/// build does not know, is held to the smallest current tier (250) until Meta says more.
fn tier(limit: Option<&MessagingLimitTier>) -> MessagingTier {
    match limit {
        Some(MessagingLimitTier::Tier50) => MessagingTier::Tier50,
        Some(MessagingLimitTier::Tier1K) => MessagingTier::Tier1k,
        Some(MessagingLimitTier::Tier2K) => MessagingTier::Tier2k,
        Some(MessagingLimitTier::Tier10K) => MessagingTier::Tier10k,
        Some(MessagingLimitTier::Tier100K) => MessagingTier::Tier100k,
        Some(MessagingLimitTier::TierUnlimited) => MessagingTier::Unlimited,
        Some(MessagingLimitTier::Tier250 | MessagingLimitTier::Other(_)) | None => {
            MessagingTier::Tier250
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_tiers_keep_their_limits() {
        for (meta, limit) in [
            ("TIER_50", Some(50)),
            ("TIER_250", Some(250)),
            ("TIER_1K", Some(1_000)),
            ("TIER_2K", Some(2_000)),
            ("TIER_10K", Some(10_000)),
            ("TIER_100K", Some(100_000)),
            ("TIER_UNLIMITED", None),
        ] {
            let wire: MessagingLimitTier =
                serde_json::from_value(serde_json::Value::String(meta.into())).unwrap();
            assert_eq!(
                wire.daily_limit(),
                limit.map(u64::from),
                "{meta} on the wire"
            );
            assert_eq!(
                tier(Some(&wire)).daily_limit(),
                limit,
                "{meta} in the store"
            );
        }
        assert_eq!(tier(None), MessagingTier::Tier250);
        let unknown: MessagingLimitTier = serde_json::from_value("TIER_5M".into()).unwrap();
        assert_eq!(tier(Some(&unknown)), MessagingTier::Tier250);
    }
}
