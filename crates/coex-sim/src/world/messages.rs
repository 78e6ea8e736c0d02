//! Every message the emulator knows, by `wamid`: API sends (with their status and pricing),
//! customers' inbound messages (for mark-as-read, reactions and context) and app-sent messages
//! (for edits and revokes).

use serde::Serialize;
use serde_json::value::RawValue;

use coex_core::{PhoneNumberId, Wamid};

use crate::clock::SimTime;
use crate::wire::errors::MetaError;
use crate::world::model::CustomerKey;

/// Where a message came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// Sent through the Cloud API.
    Api,
    /// Sent by a customer.
    Customer,
    /// Sent from the business phone app (echoed).
    App,
}

/// An outbound message's status, in Meta's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusKind {
    Accepted,
    Sent,
    Delivered,
    Read,
    Failed,
}

impl StatusKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Read => "read",
            Self::Failed => "failed",
        }
    }
}

/// The `pricing` object of a status (spec/cloud-api.md §3.3), PMP model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pricing {
    pub billable: bool,
    /// `regular`, `free_customer_service`, `free_entry_point`.
    pub kind: &'static str,
    /// `service`, `marketing`, `utility`, `authentication`.
    pub category: &'static str,
}

/// One message.
#[derive(Debug, Clone, Serialize)]
pub struct MessageRecord {
    /// Creation order (many messages share a virtual instant when the clock is frozen).
    pub seq: u64,
    pub wamid: Wamid,
    pub origin: Origin,
    pub number: PhoneNumberId,
    pub customer: Option<CustomerKey>,
    pub at: SimTime,
    /// Meta's message `type` (`text`, `image`, `template`, `reaction`, ...).
    pub kind: String,
    pub status: StatusKind,
    pub pricing: Option<Pricing>,
    /// What the API request put in `to` or `recipient`.
    pub recipient_input: Option<String>,
    /// Whether the API request addressed the customer by BSUID only.
    pub to_bsuid: bool,
    pub biz_opaque_callback_data: Option<String>,
    /// Graph API major version of the send (status webhooks differ by version).
    pub version_major: u32,
    pub template_name: Option<String>,
    #[serde(skip)]
    pub error: Option<MetaError>,
    /// Inbound messages: read by the business (`status: read` through the API).
    pub read_by_business: bool,
    /// App messages: revoked from the app.
    pub revoked: bool,
    /// The message's content as Meta shows it (`{"type": ..., "<type>": {...}}`), kept as
    /// its JSON text: only the control API reads it back, and a `Value` tree costs a few
    /// kilobytes of small allocations per message (a long benchmark keeps millions).
    pub content: Box<RawValue>,
}

/// `content` (a `Value` or a JSON object's map) as [`MessageRecord::content`] keeps it.
pub fn compact<T: Serialize + ?Sized>(content: &T) -> Box<RawValue> {
    // JSON values always serialize (their keys are strings); `null` stands in should one not.
    serde_json::value::to_raw_value(content).unwrap_or_else(|_| RawValue::NULL.to_owned())
}
