//! `POST /{phone_number_id}/smb_app_data` (spec/cloud-api.md §2.1 step 6): each sync type
//! (`smb_app_state_sync` for contacts, `history`) may be requested once (2593107), and only
//! within 24 hours of onboarding (2593108).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::clock::SimTime;
use crate::wire::errors::MetaError;

/// How long after onboarding a sync may be requested.
pub const SYNC_DEADLINE: Duration = Duration::from_secs(24 * 3600);

/// The two sync types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncType {
    SmbAppStateSync,
    History,
}

impl SyncType {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "smb_app_state_sync" => Some(Self::SmbAppStateSync),
            "history" => Some(Self::History),
            _ => None,
        }
    }
}

/// Which sync types a number has already requested, and when.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SyncRequests {
    pub contacts: Option<SimTime>,
    pub history: Option<SimTime>,
}

impl SyncRequests {
    /// Records a request at `now` if the rules allow it.
    pub fn request(
        &mut self,
        kind: SyncType,
        now: SimTime,
        onboarded_at: SimTime,
    ) -> Result<(), MetaError> {
        let slot = match kind {
            SyncType::SmbAppStateSync => &mut self.contacts,
            SyncType::History => &mut self.history,
        };
        if slot.is_some() {
            return Err(MetaError::sync_repeated());
        }
        if now > onboarded_at + SYNC_DEADLINE {
            return Err(MetaError::sync_too_late());
        }
        *slot = Some(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn once_per_type_within_24_hours() {
        let onboarded = SimTime::from_unix_secs(0);
        let mut s = SyncRequests::default();
        s.request(SyncType::SmbAppStateSync, onboarded, onboarded)
            .unwrap();
        assert_eq!(
            s.request(SyncType::SmbAppStateSync, onboarded, onboarded)
                .unwrap_err()
                .code,
            2593107
        );
        let late = onboarded + SYNC_DEADLINE + Duration::from_secs(1);
        assert_eq!(
            s.request(SyncType::History, late, onboarded)
                .unwrap_err()
                .code,
            2593108
        );
        s.request(SyncType::History, onboarded + SYNC_DEADLINE, onboarded)
            .unwrap();
    }
}
