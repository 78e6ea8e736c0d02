//! Customer identity (spec/cloud-api.md §10, spec/coexistence.md §8).
//!
//! A contact is one person within a workspace (one business portfolio: BSUIDs are scoped to it).
//! Meta names a person by the business-scoped user id (BSUID), by phone number, or both; either
//! may be missing. [`CustomerKey`] makes "neither" unrepresentable. The username is display
//! data, never a key.

use serde::{Deserialize, Serialize};

use super::{ContactId, Timestamp, WorkspaceId};
use crate::{Bsuid, PhoneNumber};

/// How an event names a customer: by BSUID, by phone number, or by both.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "KeyFields", into = "KeyFields")]
pub enum CustomerKey {
    Bsuid(Bsuid),
    Phone(PhoneNumber),
    Both { bsuid: Bsuid, phone: PhoneNumber },
}

impl CustomerKey {
    /// A key from optional parts; `None` if both are missing.
    pub fn new(bsuid: Option<Bsuid>, phone: Option<PhoneNumber>) -> Option<Self> {
        match (bsuid, phone) {
            (Some(bsuid), Some(phone)) => Some(Self::Both { bsuid, phone }),
            (Some(bsuid), None) => Some(Self::Bsuid(bsuid)),
            (None, Some(phone)) => Some(Self::Phone(phone)),
            (None, None) => None,
        }
    }

    pub fn bsuid(&self) -> Option<&Bsuid> {
        match self {
            Self::Bsuid(b) | Self::Both { bsuid: b, .. } => Some(b),
            Self::Phone(_) => None,
        }
    }

    pub fn phone(&self) -> Option<&PhoneNumber> {
        match self {
            Self::Phone(p) | Self::Both { phone: p, .. } => Some(p),
            Self::Bsuid(_) => None,
        }
    }
}

/// The JSON form of [`CustomerKey`]: `{"bsuid": ..., "phone": ...}` with at least one present.
#[derive(Serialize, Deserialize)]
struct KeyFields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    bsuid: Option<Bsuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    phone: Option<PhoneNumber>,
}

impl TryFrom<KeyFields> for CustomerKey {
    type Error = &'static str;
    fn try_from(f: KeyFields) -> Result<Self, Self::Error> {
        Self::new(f.bsuid, f.phone).ok_or("a customer needs a bsuid or a phone number")
    }
}

impl From<CustomerKey> for KeyFields {
    fn from(k: CustomerKey) -> Self {
        Self {
            bsuid: k.bsuid().cloned(),
            phone: k.phone().cloned(),
        }
    }
}

/// A customer as one webhook names them: the key plus display data seen with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerRef {
    pub key: CustomerKey,
    /// The parent BSUID (`CC.ENT.…`) of enrolled portfolios; stored, never a key.
    #[serde(default)]
    pub parent_bsuid: Option<Bsuid>,
    /// `profile.name`.
    #[serde(default)]
    pub profile_name: Option<String>,
    /// `profile.username`, as received (Meta's examples carry a leading `@`).
    #[serde(default)]
    pub username: Option<String>,
}

impl CustomerRef {
    /// A reference with a key and no display data.
    pub fn key(key: CustomerKey) -> Self {
        Self {
            key,
            parent_bsuid: None,
            profile_name: None,
            username: None,
        }
    }
}

/// A stored contact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    pub id: ContactId,
    pub workspace: WorkspaceId,
    pub bsuid: Option<Bsuid>,
    pub parent_bsuid: Option<Bsuid>,
    pub phone: Option<PhoneNumber>,
    /// Earlier BSUIDs of this person (before a phone-number change); events naming them still
    /// land here.
    pub previous_bsuids: Vec<Bsuid>,
    pub profile_name: Option<String>,
    pub username: Option<String>,
    /// The name the business gave the contact in its phone app (contact sync).
    pub app_full_name: Option<String>,
    pub app_first_name: Option<String>,
    /// Whether the contact is currently in the business app's contact list.
    pub in_app_contacts: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Contact {
    /// The name to show (spec/cloud-api.md §10.6): the business's own name for the contact,
    /// then the profile name, then `@username`, then the phone, then a shortened BSUID.
    pub fn display_name(&self) -> String {
        if let Some(n) = self.app_full_name.as_deref().filter(|n| !n.is_empty()) {
            return n.to_owned();
        }
        if let Some(n) = self.profile_name.as_deref().filter(|n| !n.is_empty()) {
            return n.to_owned();
        }
        if let Some(u) = self.username.as_deref().filter(|u| !u.is_empty()) {
            return if u.starts_with('@') {
                u.to_owned()
            } else {
                format!("@{u}")
            };
        }
        if let Some(p) = &self.phone {
            return p.to_string();
        }
        match &self.bsuid {
            // BSUIDs are ASCII (checked by `Bsuid::parse`), so byte slicing is safe.
            Some(b) if b.as_str().len() > 12 => {
                let s = b.as_str();
                format!("{}…{}", &s[..3], &s[s.len() - 6..])
            }
            Some(b) => b.to_string(),
            None => format!("contact {}", self.id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contact() -> Contact {
        Contact {
            id: ContactId::new(7),
            workspace: WorkspaceId::new(1),
            bsuid: Some(Bsuid::parse("US.13491208655302741918").unwrap()),
            parent_bsuid: None,
            phone: None,
            previous_bsuids: vec![],
            profile_name: None,
            username: None,
            app_full_name: None,
            app_first_name: None,
            in_app_contacts: false,
            created_at: Timestamp::from_secs(0),
            updated_at: Timestamp::from_secs(0),
        }
    }

    #[test]
    fn key_needs_one_part() {
        assert!(CustomerKey::new(None, None).is_none());
        let phone = PhoneNumber::parse("16505551234").unwrap();
        let k = CustomerKey::new(None, Some(phone.clone())).unwrap();
        assert_eq!(k.phone(), Some(&phone));
        assert_eq!(k.bsuid(), None);
        let json = serde_json::to_string(&k).unwrap();
        assert_eq!(json, r#"{"phone":"16505551234"}"#);
        assert!(serde_json::from_str::<CustomerKey>("{}").is_err());
        let back: CustomerKey =
            serde_json::from_str(r#"{"bsuid":"US.1","phone":"16505551234"}"#).unwrap();
        assert!(matches!(back, CustomerKey::Both { .. }));
    }

    #[test]
    fn display_order() {
        let mut c = contact();
        assert_eq!(c.display_name(), "US.…741918");
        c.phone = Some(PhoneNumber::parse("16505551234").unwrap());
        assert_eq!(c.display_name(), "+16505551234");
        c.username = Some("pablomorales".into());
        assert_eq!(c.display_name(), "@pablomorales");
        c.username = Some("@pablomorales".into());
        assert_eq!(c.display_name(), "@pablomorales");
        c.profile_name = Some("Pablo M.".into());
        assert_eq!(c.display_name(), "Pablo M.");
        c.app_full_name = Some("Pablo Morales".into());
        assert_eq!(c.display_name(), "Pablo Morales");
    }
}
