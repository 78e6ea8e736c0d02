//! Workspaces, WABAs and business numbers, and how a number's lifecycle state moves when Meta
//! reports an `account_update` (spec/cloud-api.md §2.5, spec/coexistence.md §2).
//!
//! A disconnected, offboarded or banned number keeps all its data; its state only tells the
//! sending side to stop. [`NumberState::after_event`] is the pure transition table.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{RawJson, Timestamp, WorkspaceId, WorkspaceSlug, named_enum};
use crate::{PhoneNumber, PhoneNumberId, WabaId};

/// A tenant: one business portfolio. Customer ids (BSUIDs) are scoped to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workspace {
    pub id: WorkspaceId,
    pub slug: WorkspaceSlug,
    pub name: String,
    pub created_at: Timestamp,
}

/// A WhatsApp Business Account, owned by one workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Waba {
    pub id: WabaId,
    pub workspace: WorkspaceId,
    pub name: Option<String>,
    pub created_at: Timestamp,
}

named_enum! {
    /// How a number is connected: shared with the Business App, or API only.
    pub enum NumberKind as "number kind" {
        /// The phone app and the Cloud API share the number (20 MPS cap, echoes, history).
        Coexistence = "coexistence",
        /// A pure Cloud API number.
        CloudApi = "cloud_api",
    }
}

named_enum! {
    /// Messaging limit tier: business-initiated conversations to unique customers per rolling
    /// 24 h, shared by the portfolio's numbers (spec/cloud-api.md §5.4). Meta's current
    /// ladder is 250, 2,000, 10,000, 100,000, unlimited; `tier_50` and `tier_1k` are the older
    /// per-number tiers a number may still report.
    pub enum MessagingTier as "messaging tier" {
        Tier50 = "tier_50",
        Tier250 = "tier_250",
        Tier1k = "tier_1k",
        Tier2k = "tier_2k",
        Tier10k = "tier_10k",
        Tier100k = "tier_100k",
        Unlimited = "unlimited",
    }
}

impl MessagingTier {
    /// Unique customers per rolling 24 h, or `None` for unlimited.
    pub fn daily_limit(self) -> Option<u32> {
        match self {
            Self::Tier50 => Some(50),
            Self::Tier250 => Some(250),
            Self::Tier1k => Some(1_000),
            Self::Tier2k => Some(2_000),
            Self::Tier10k => Some(10_000),
            Self::Tier100k => Some(100_000),
            Self::Unlimited => None,
        }
    }
}

named_enum! {
    /// Where a number is in its lifecycle.
    pub enum NumberState as "number state" {
        /// Registered with us, onboarding not finished.
        Pending = "pending",
        /// Working: may send and receive.
        Connected = "connected",
        /// Disconnected from the Business Platform (`PARTNER_REMOVED`), e.g. from the app's
        /// settings or for inactivity; the reason is kept beside the state.
        Disconnected = "disconnected",
        /// `ACCOUNT_OFFBOARDED` (device change or re-registration).
        Offboarded = "offboarded",
        /// The business uninstalled or de-authorised our app; must onboard again.
        AppUninstalled = "app_uninstalled",
        /// Restricted or warned by Meta (restriction, violation, scheduled disable).
        Restricted = "restricted",
        /// Disabled by Meta.
        Banned = "banned",
        /// The account was deleted.
        Deleted = "deleted",
    }
}

impl NumberState {
    /// Whether the sending side may send from a number in this state.
    pub fn can_send(self) -> bool {
        matches!(self, Self::Connected)
    }

    /// The state after `event` (with its `reason`: a disconnection reason or a ban state), or
    /// `None` when the event does not change it.
    ///
    /// Reconnection and (re)installation bring a number back only from states they can end;
    /// they never lift a Meta ban, restriction or deletion.
    pub fn after_event(self, event: &AccountEventKind, reason: Option<&str>) -> Option<Self> {
        use AccountEventKind as E;
        let recoverable = matches!(
            self,
            Self::Pending | Self::Disconnected | Self::Offboarded | Self::AppUninstalled
        );
        let next = match event {
            E::PartnerRemoved => Self::Disconnected,
            E::AccountOffboarded => Self::Offboarded,
            E::PartnerAppUninstalled => Self::AppUninstalled,
            E::AccountReconnected if recoverable => Self::Connected,
            E::PartnerAppInstalled | E::PartnerAdded
                if matches!(self, Self::Pending | Self::AppUninstalled) =>
            {
                Self::Connected
            }
            E::AccountDeleted => Self::Deleted,
            E::AccountRestriction | E::AccountViolation => Self::Restricted,
            E::DisabledUpdate => match reason {
                Some(r) if r.eq_ignore_ascii_case("DISABLE") => Self::Banned,
                Some(r) if r.eq_ignore_ascii_case("SCHEDULE_FOR_DISABLE") => Self::Restricted,
                Some(r)
                    if r.eq_ignore_ascii_case("REINSTATE")
                        && matches!(self, Self::Banned | Self::Restricted) =>
                {
                    Self::Connected
                }
                _ => return None,
            },
            _ => return None,
        };
        (next != self).then_some(next)
    }
}

/// The `account_update` events that matter for a number's lifecycle, by Meta's names
/// (spec/cloud-api.md §2.5). Anything else is kept as [`AccountEventKind::Other`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AccountEventKind {
    PartnerRemoved,
    AccountOffboarded,
    AccountReconnected,
    PartnerAppInstalled,
    PartnerAppUninstalled,
    PartnerAdded,
    AccountDeleted,
    AccountRestriction,
    AccountViolation,
    DisabledUpdate,
    /// Any other event name, as received.
    Other(String),
}

impl AccountEventKind {
    const KNOWN: &'static [(&'static str, AccountEventKind)] = &[
        ("PARTNER_REMOVED", Self::PartnerRemoved),
        ("ACCOUNT_OFFBOARDED", Self::AccountOffboarded),
        ("ACCOUNT_RECONNECTED", Self::AccountReconnected),
        ("PARTNER_APP_INSTALLED", Self::PartnerAppInstalled),
        ("PARTNER_APP_UNINSTALLED", Self::PartnerAppUninstalled),
        ("PARTNER_ADDED", Self::PartnerAdded),
        ("ACCOUNT_DELETED", Self::AccountDeleted),
        ("ACCOUNT_RESTRICTION", Self::AccountRestriction),
        ("ACCOUNT_VIOLATION", Self::AccountViolation),
        ("DISABLED_UPDATE", Self::DisabledUpdate),
    ];

    /// From Meta's `value.event` (case-insensitive); never fails.
    pub fn from_meta(name: &str) -> Self {
        Self::KNOWN
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, k)| k.clone())
            .unwrap_or_else(|| Self::Other(name.to_owned()))
    }

    /// Meta's name for the event.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Other(name) => name,
            known => Self::KNOWN
                .iter()
                .find(|(_, k)| k == known)
                .map_or("", |(n, _)| n),
        }
    }
}

impl fmt::Display for AccountEventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for AccountEventKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for AccountEventKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Self::from_meta(&String::deserialize(d)?))
    }
}

/// What the hub registers at start-up (upserted by the Meta phone-number id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewNumber {
    pub id: PhoneNumberId,
    pub waba: WabaId,
    pub display_phone: PhoneNumber,
    pub verified_name: Option<String>,
    pub kind: NumberKind,
    pub tier: MessagingTier,
    /// The state of a number seen for the first time; an existing number keeps its state.
    pub initial_state: NumberState,
}

/// A business phone number as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Number {
    pub id: PhoneNumberId,
    pub workspace: WorkspaceId,
    pub waba: WabaId,
    pub display_phone: PhoneNumber,
    pub verified_name: Option<String>,
    pub kind: NumberKind,
    pub tier: MessagingTier,
    pub state: NumberState,
    /// Why the number is in its state (a disconnection reason, a ban state), when Meta said.
    pub state_reason: Option<String>,
    /// When the event that set the state happened (Meta's time).
    pub state_changed_at: Timestamp,
    /// The last sign of life from the phone app (an echo, a history or contact sync event),
    /// the input of the 13-day rule. `None` until the app was heard from.
    pub last_app_activity_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

/// One recorded lifecycle event of a number, applied or not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumberEvent {
    pub number: PhoneNumberId,
    pub kind: AccountEventKind,
    pub reason: Option<String>,
    /// Meta's `entry.time`.
    pub occurred_at: Timestamp,
    pub received_at: Timestamp,
    /// The state before and after, when the event changed it.
    pub state_change: Option<(NumberState, NumberState)>,
    pub detail: Option<RawJson>,
}

#[cfg(test)]
mod tests {
    use super::AccountEventKind as E;
    use super::NumberState::{self, *};

    #[test]
    fn disconnect_and_reconnect() {
        assert_eq!(
            Connected.after_event(&E::PartnerRemoved, Some("PRIMARY_INACTIVITY")),
            Some(Disconnected)
        );
        assert_eq!(
            Disconnected.after_event(&E::AccountReconnected, None),
            Some(Connected)
        );
        assert_eq!(
            Connected.after_event(&E::AccountOffboarded, None),
            Some(Offboarded)
        );
        assert_eq!(
            Offboarded.after_event(&E::AccountReconnected, None),
            Some(Connected)
        );
        assert_eq!(Connected.after_event(&E::AccountReconnected, None), None);
        assert_eq!(
            Connected.after_event(&E::PartnerAppUninstalled, None),
            Some(AppUninstalled)
        );
        assert_eq!(
            AppUninstalled.after_event(&E::PartnerAppInstalled, None),
            Some(Connected)
        );
    }

    #[test]
    fn meta_actions_are_not_lifted_by_reconnection() {
        assert_eq!(Banned.after_event(&E::AccountReconnected, None), None);
        assert_eq!(Restricted.after_event(&E::PartnerAppInstalled, None), None);
        assert_eq!(
            Connected.after_event(&E::DisabledUpdate, Some("DISABLE")),
            Some(Banned)
        );
        assert_eq!(
            Banned.after_event(&E::DisabledUpdate, Some("REINSTATE")),
            Some(Connected)
        );
        assert_eq!(
            Disconnected.after_event(&E::DisabledUpdate, Some("REINSTATE")),
            None
        );
        assert_eq!(
            Connected.after_event(&E::DisabledUpdate, Some("SCHEDULE_FOR_DISABLE")),
            Some(Restricted)
        );
        assert_eq!(
            Connected.after_event(&E::AccountRestriction, None),
            Some(Restricted)
        );
        assert_eq!(
            Connected.after_event(&E::AccountDeleted, None),
            Some(Deleted)
        );
        assert_eq!(
            Connected.after_event(&E::Other("MM_LITE_TERMS_SIGNED".into()), None),
            None
        );
    }

    #[test]
    fn only_connected_sends() {
        for s in NumberState::ALL {
            assert_eq!(s.can_send(), *s == Connected);
        }
    }

    #[test]
    fn event_names() {
        assert_eq!(E::from_meta("partner_removed"), E::PartnerRemoved);
        assert_eq!(E::AccountOffboarded.as_str(), "ACCOUNT_OFFBOARDED");
        assert_eq!(
            E::from_meta("AD_ACCOUNT_LINKED"),
            E::Other("AD_ACCOUNT_LINKED".into())
        );
        assert_eq!(
            E::from_meta("AD_ACCOUNT_LINKED").as_str(),
            "AD_ACCOUNT_LINKED"
        );
        let json = serde_json::to_string(&E::DisabledUpdate).unwrap();
        assert_eq!(json, "\"DISABLED_UPDATE\"");
    }
}
