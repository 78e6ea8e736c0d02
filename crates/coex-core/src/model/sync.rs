//! Sync jobs: the history import and the contact sync of a coexistence number
//! (spec/cloud-api.md §2.1, §2.3, §2.4), with their progress.
//!
//! A business that declines to share its history is a state to show, not an error to retry.

use serde::{Deserialize, Serialize};

use super::{MetaError, Timestamp, named_enum};
use crate::{PhoneNumberId, RequestId};

named_enum! {
    /// Which sync.
    pub enum SyncKind as "sync kind" {
        History = "history",
        Contacts = "contacts",
    }
}

named_enum! {
    /// Where a sync stands.
    pub enum SyncState as "sync state" {
        /// Requested from Meta (`smb_app_data`), nothing received yet.
        Requested = "requested",
        /// Data is arriving.
        InProgress = "in_progress",
        /// History reported `progress: 100`.
        Complete = "complete",
        /// The business declined to share its history (2593109).
        Declined = "declined",
        /// Meta refused the request itself: already requested for this onboarding (2593107)
        /// or past the 24 h after onboarding (2593108). Not requested again; offboarding
        /// and onboarding the number again is the way out.
        Refused = "refused",
    }
}

/// Progress of one sync of one number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncJob {
    pub number: PhoneNumberId,
    pub kind: SyncKind,
    pub state: SyncState,
    /// Meta's `request_id` for the `smb_app_data` call, when we made it.
    pub request_id: Option<RequestId>,
    pub requested_at: Option<Timestamp>,
    /// History: the phase (0: day 0-1, 1: day 1-90, 2: day 90-180) and chunk of the chunk with
    /// the highest progress seen.
    pub phase: Option<u8>,
    pub chunk_order: Option<u32>,
    /// History: 0 to 100; 100 means complete.
    pub progress: u8,
    /// Distinct history chunks, or distinct contact-sync items (adds and removals), received.
    pub chunks_received: u32,
    /// Messages imported (history), or distinct contacts the contact sync reported (contacts).
    pub items_received: u64,
    pub last_event_at: Option<Timestamp>,
    /// Why it was declined or refused.
    pub error: Option<MetaError>,
}
