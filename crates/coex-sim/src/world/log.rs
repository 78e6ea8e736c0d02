//! What the control API can list about the Graph side: every request the emulator received
//! (with its response), and faults injected for upcoming sends.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use coex_core::PhoneNumberId;

use crate::clock::SimTime;

/// One Graph API request and the emulator's answer.
#[derive(Debug, Clone, Serialize)]
pub struct RequestRecord {
    pub id: u64,
    /// Virtual time it arrived.
    pub at: SimTime,
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// Request headers; `authorization` is reduced to whether it matched.
    pub headers: BTreeMap<String, String>,
    /// The body as text (binary uploads are summarised).
    pub body: String,
    pub status: u16,
    pub response: String,
}

/// How an injected fault is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultDelivery {
    /// The send is refused with the Graph error envelope.
    Sync,
    /// The send is accepted, then a `failed` status carries the error.
    Async,
}

/// "The next `remaining` sends (to `number`, or any number) fail with `code`."
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Fault {
    #[serde(default)]
    pub number: Option<PhoneNumberId>,
    pub code: u32,
    pub remaining: u32,
    /// Defaults by code: errors Meta reports in status webhooks (131047, 131026, 131049,
    /// 131050, 130472) are async, the rest sync.
    #[serde(default)]
    pub delivery: Option<FaultDelivery>,
}

impl Fault {
    /// How this fault is reported.
    pub fn delivery(&self) -> FaultDelivery {
        self.delivery.unwrap_or(match self.code {
            131047 | 131026 | 131049 | 131050 | 130472 => FaultDelivery::Async,
            _ => FaultDelivery::Sync,
        })
    }
}
