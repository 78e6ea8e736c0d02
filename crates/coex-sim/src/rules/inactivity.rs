//! The primary device's inactivity (spec/cloud-api.md §2.5, §6.5): a coexistence number whose
//! WhatsApp Business app has not been opened for about 14 days is disconnected by Meta with
//! `account_update` `PARTNER_REMOVED`, `disconnection_info.reason = PRIMARY_INACTIVITY`,
//! `initiated_by = SYSTEM`.

use std::time::Duration;

use crate::clock::SimTime;

/// How long the app may stay unopened before Meta disconnects the number.
pub const PRIMARY_INACTIVITY: Duration = Duration::from_secs(14 * 86_400);

/// When the number will be disconnected if the app stays closed.
pub fn deadline(last_opened: SimTime) -> SimTime {
    last_opened + PRIMARY_INACTIVITY
}

/// Whether the app has been closed long enough for Meta to disconnect the number.
pub fn is_inactive(last_opened: SimTime, now: SimTime) -> bool {
    now >= deadline(last_opened)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fourteen_days() {
        let opened = SimTime::from_unix_secs(0);
        assert!(!is_inactive(
            opened,
            opened + Duration::from_secs(13 * 86_400)
        ));
        assert!(is_inactive(opened, opened + PRIMARY_INACTIVITY));
    }
}
