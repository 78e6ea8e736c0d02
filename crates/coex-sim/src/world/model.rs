//! The things in the virtual world: WABAs, business phone numbers (with the business phone app
//! for coexistence numbers), customers, and the per-(number, customer) state Meta keeps.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use coex_core::{Bsuid, PhoneNumber, PhoneNumberId, WabaId, Wamid};

use crate::clock::SimTime;
use crate::rules::messaging_limit::{MessagingLimit, Tier};
use crate::rules::pair_rate::PairRate;
use crate::rules::sync::SyncRequests;
use crate::rules::throughput::Throughput;
use crate::rules::window::ServiceWindow;

/// The control handle of a customer (`alice`, `c12`): what the control API and scenarios use.
/// Meta never sees it.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CustomerKey(String);

/// A refused customer handle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("customer handle {0:?} must be 1 to 40 characters of a-z, 0-9, '_' or '-'")]
pub struct BadCustomerKey(pub String);

impl CustomerKey {
    pub fn parse(s: impl Into<String>) -> Result<Self, BadCustomerKey> {
        let s = s.into();
        let ok = !s.is_empty()
            && s.len() <= 40
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if ok {
            Ok(Self(s))
        } else {
            Err(BadCustomerKey(s))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for CustomerKey {
    type Error = BadCustomerKey;
    fn try_from(s: String) -> Result<Self, BadCustomerKey> {
        Self::parse(s)
    }
}

impl From<CustomerKey> for String {
    fn from(k: CustomerKey) -> String {
        k.0
    }
}

impl fmt::Display for CustomerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for CustomerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CustomerKey({})", self.0)
    }
}

/// A WhatsApp Business Account (one business portfolio in the emulator).
#[derive(Debug)]
pub struct Waba {
    pub id: WabaId,
    pub name: String,
    pub owner_business_id: String,
    pub currency: String,
    pub timezone_id: String,
    /// Messaging limit over a rolling 24 h, shared by every number of the portfolio.
    pub limit: MessagingLimit<CustomerKey>,
    /// Whether our app is subscribed (`POST /{waba_id}/subscribed_apps`).
    pub subscribed: bool,
    /// WABA-level webhook override (`override_callback_uri`).
    pub override_url: Option<String>,
    /// Meta's hosted contact book for the portfolio (spec §10.5): customers whose phone-BSUID
    /// pair Meta has stored, so their phone number keeps appearing in webhooks.
    pub contact_book: BTreeSet<CustomerKey>,
    pub contact_book_enabled: bool,
}

/// How a business number is connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NumberMode {
    /// The WhatsApp Business app and the Cloud API share the number.
    Coexistence,
    /// A pure Cloud API number.
    CloudApi,
}

/// Why and when a number was disconnected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Disconnection {
    pub at: SimTime,
    pub reason: String,
    pub initiated_by: String,
}

/// A business phone number.
#[derive(Debug)]
pub struct Number {
    pub id: PhoneNumberId,
    pub waba: WabaId,
    pub display: PhoneNumber,
    pub verified_name: String,
    pub mode: NumberMode,
    pub quality: String,
    pub onboarded_at: SimTime,
    pub throughput: Throughput,
    pub disconnected: Option<Disconnection>,
    pub sync: SyncRequests,
    /// Whether the business agreed to share its chat history at onboarding.
    pub history_shared: bool,
    /// Phone-number-level webhook override.
    pub override_url: Option<String>,
    /// The business phone app; `None` for a pure Cloud API number.
    pub app: Option<BusinessApp>,
}

impl Number {
    pub fn is_coexistence(&self) -> bool {
        self.mode == NumberMode::Coexistence
    }

    pub fn is_connected(&self) -> bool {
        self.disconnected.is_none()
    }
}

/// A contact in the business app's address book.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AppContact {
    pub full_name: String,
    pub first_name: String,
    pub phone: PhoneNumber,
    /// The emulator's customer behind the number, if they are one of the world's customers.
    #[serde(default)]
    pub customer: Option<CustomerKey>,
}

/// One message of the app's past (before onboarding), for the history sync.
#[derive(Debug, Clone)]
pub struct PastMessage {
    pub wamid: Wamid,
    pub at: SimTime,
    pub from_business: bool,
    /// `text` or a media kind (`image`, `audio`, `document`, `video`).
    pub kind: String,
    pub text: String,
    pub status: &'static str,
}

/// A chat in the app before onboarding.
#[derive(Debug, Clone)]
pub struct PastThread {
    /// `Some` for a 1:1 chat, `None` for a group (never synced).
    pub customer: Option<CustomerKey>,
    pub group_name: Option<String>,
    pub messages: Vec<PastMessage>,
}

/// Something the owner did in the app while the phone had no connection; it reaches Meta (and
/// becomes an echo) when the phone is back online.
#[derive(Debug, Clone)]
pub struct Backlogged {
    pub at: SimTime,
    pub wamid: Wamid,
    pub customer: CustomerKey,
    pub message: serde_json::Value,
}

/// The business's phone running the WhatsApp Business app.
#[derive(Debug)]
pub struct BusinessApp {
    pub installed: bool,
    pub last_opened: SimTime,
    /// Whether the phone has a connection; app sends made offline are backlogged.
    pub online: bool,
    pub backlog: Vec<Backlogged>,
    pub contacts: Vec<AppContact>,
    pub history: Vec<PastThread>,
    /// App-sent messages (for edits and revokes): id, customer, when, type.
    pub sent: Vec<(Wamid, CustomerKey, SimTime)>,
}

/// A WhatsApp user who talks to the business.
#[derive(Debug, Clone)]
pub struct Customer {
    pub key: CustomerKey,
    pub name: String,
    pub phone: PhoneNumber,
    pub username: Option<String>,
    /// Whether the customer lets businesses see their number even with a username.
    pub shares_phone: bool,
    pub bsuid: Bsuid,
    pub parent_bsuid: Option<Bsuid>,
    pub previous_bsuids: Vec<Bsuid>,
    /// Whether the number is on WhatsApp at all (else sends fail with 131026).
    pub on_whatsapp: bool,
    pub online: bool,
    /// Delay between `sent` and `delivered` while online.
    pub deliver_after: Duration,
    /// Delay between `delivered` and `read`; `None` = never reads (or read receipts off).
    pub read_after: Option<Duration>,
    /// Replies automatically to business messages (a campaign's replies).
    pub auto_reply: Option<AutoReply>,
}

/// A customer's automatic reply to the business's messages.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AutoReply {
    /// Virtual delay after the message is read (or delivered, if the customer never reads).
    pub after: Duration,
    pub text: String,
    /// Reply only to templates (a campaign), not to service messages.
    #[serde(default)]
    pub templates_only: bool,
}

/// What Meta keeps per (business number, customer).
#[derive(Debug, Default)]
pub struct Pair {
    pub window: ServiceWindow,
    pub pair_rate: PairRate,
    /// Last time the business messaged this customer's phone number (the 30-day rule of §10.5).
    pub last_phone_contact: Option<SimTime>,
    /// API messages waiting for the customer to come online to be delivered.
    pub undelivered: Vec<Wamid>,
    /// The business marked the customer's messages read up to this instant.
    pub read_up_to: Option<SimTime>,
}

/// The messaging tier of a portfolio, re-exported for builders.
pub type MessagingTier = Tier;
