//! Graph calls about users that BSUIDs introduced (spec/cloud-api.md §10.4, §10.5): blocking
//! by phone or BSUID, deleting a contact-book entry, and the parent-BSUID account lookup.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::wire::{Extra, messaging_product};

/// One entry of `block_users`: a phone number in `user`, or a BSUID in `user_id`. When both
/// are present `user` wins (parent BSUIDs are not accepted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlockedUser {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `POST /{phone_number_id}/block_users` (and `DELETE` to unblock).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlockUsersRequest {
    #[serde(default = "messaging_product")]
    pub messaging_product: String,
    pub block_users: Vec<BlockedUser>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// The answer to `DELETE /{phone_number_id}/contact_book?messaging_product=whatsapp&bsuid=…`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContactBookDeleteResponse {
    #[serde(default = "messaging_product")]
    pub messaging_product: String,
    pub success: bool,
    /// `false` when there was no entry for that BSUID.
    pub deleted: bool,
    #[serde(flatten)]
    pub extra: Extra,
}

/// The answer to `GET /{business_id}/parent-bsuid-accounts`. The portfolio entries' shape
/// is undocumented, so they stay JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParentBsuidAccount {
    pub parent_bsuid_account_id: String,
    #[serde(default)]
    pub enrolled_business_portfolios: Vec<Value>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn spec_contact_book_delete() {
        for deleted in [true, false] {
            let raw =
                json!({ "messaging_product": "whatsapp", "success": true, "deleted": deleted });
            let r: ContactBookDeleteResponse = serde_json::from_value(raw.clone()).unwrap();
            assert_eq!(r.deleted, deleted);
            assert_eq!(serde_json::to_value(&r).unwrap(), raw);
        }
    }

    #[test]
    fn spec_block_users_by_phone_or_bsuid() {
        let raw = json!({ "messaging_product": "whatsapp",
                          "block_users": [ { "user": "+16505551234" }, { "user_id": "US.13491208655302741918" } ] });
        let r: BlockUsersRequest = serde_json::from_value(raw.clone()).unwrap();
        assert_eq!(
            r.block_users[1].user_id.as_deref(),
            Some("US.13491208655302741918")
        );
        assert_eq!(serde_json::to_value(&r).unwrap(), raw);
    }

    #[test]
    fn spec_parent_bsuid_account() {
        let raw = json!({ "parent_bsuid_account_id": "1234", "enrolled_business_portfolios": ["5678", "9012"] });
        let r: ParentBsuidAccount = serde_json::from_value(raw.clone()).unwrap();
        assert_eq!(r.enrolled_business_portfolios.len(), 2);
        assert_eq!(serde_json::to_value(&r).unwrap(), raw);
    }
}
