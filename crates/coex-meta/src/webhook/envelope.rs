//! The notification envelope (`object`, `entry[]`, `changes[]`) and the two-level parse.
//!
//! Level one accepts any JSON object shaped like an envelope: an object with an `entry`
//! array of objects, each with a `changes` array of objects. Everything else at that level
//! (`object`, `entry[].id`, `entry[].time`) is typed when it can be and kept raw otherwise.
//! Level two types each change's `value` on its own, so one change that does not fit its
//! type becomes [`ChangeValue::Malformed`] with the error and the raw JSON, and the rest of a
//! batch of up to 1000 updates (spec/cloud-api.md §7.4) still goes through.

use coex_core::{PhoneNumberId, WabaId};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use super::ParseError;
use super::account::AccountUpdateValue;
use super::history::HistoryValue;
use super::state_sync::StateSyncValue;
use super::values::{BusinessUsernameValue, EchoesValue, MessagesValue, UserIdUpdateValue};
use super::walk::{Flag, FlagKind, Walk, join, walk_extra};
use super::wire::{Extra, Metadata, Timestamp};

/// The `object` of every WhatsApp webhook.
pub const WHATSAPP_BUSINESS_ACCOUNT: &str = "whatsapp_business_account";

/// One webhook POST body.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Notification {
    /// Always `"whatsapp_business_account"`; some of Meta's examples omit it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    /// The entries, one per WABA (or partner business, for `PARTNER_*` events).
    pub entry: Vec<Entry>,
    /// Keys not modelled here (including an `object` that is not a string).
    #[serde(flatten)]
    pub extra: Extra,
}

/// One `entry[]`.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Entry {
    /// The WABA id (not the phone-number id). Absent only if Meta sent none or an invalid one
    /// (then it stays in `extra`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<WabaId>,
    /// `account_update` and `business_username_update` carry the trigger time, usually an
    /// integer, sometimes a quoted string; the form is kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<Timestamp>,
    /// The changes.
    pub changes: Vec<Change>,
    /// Keys not modelled here (Meta's examples sometimes put `field`/`object` here).
    #[serde(flatten)]
    pub extra: Extra,
}

/// One `changes[]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// The subscribed topic as written on the change. [`Change::value`] was typed from this,
    /// or when it is absent from a `field` inside `value` or on the entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The typed value.
    #[serde(skip_serializing_if = "ChangeValue::is_missing")]
    pub value: ChangeValue,
    /// Keys not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A change's `value`, typed by its field.
#[derive(Debug, Clone, PartialEq)]
pub enum ChangeValue {
    /// `messages`: inbound messages, statuses, errors.
    Messages(MessagesValue),
    /// `smb_message_echoes`: what the business sent from the phone app.
    MessageEchoes(EchoesValue),
    /// `history`: imported chats, the decline, or the media follow-up.
    History(HistoryValue),
    /// `smb_app_state_sync`: phone-app contacts.
    AppStateSync(StateSyncValue),
    /// `account_update` (boxed: it is by far the largest value type).
    AccountUpdate(Box<AccountUpdateValue>),
    /// `user_id_update`: a user's BSUID changed.
    UserIdUpdate(UserIdUpdateValue),
    /// `business_username_update`.
    BusinessUsernameUpdate(BusinessUsernameValue),
    /// A field this version has no type for (or no field at all), kept as received.
    Unknown {
        /// The field name, if any was found.
        field: Option<String>,
        /// The value as received.
        raw: Value,
    },
    /// A known field whose value did not fit its type; kept with the reason.
    Malformed {
        /// The field name.
        field: String,
        /// Why typing failed (serde's message).
        error: String,
        /// The value as received.
        raw: Value,
    },
    /// The change had no `value` key at all.
    Missing,
}

impl Notification {
    /// A notification with `object: "whatsapp_business_account"` and the given entries.
    pub fn new(entry: Vec<Entry>) -> Self {
        Self {
            object: Some(WHATSAPP_BUSINESS_ACCOUNT.to_owned()),
            entry,
            extra: Extra::new(),
        }
    }

    /// A notification with one entry holding one change.
    pub fn single(waba_id: WabaId, value: ChangeValue) -> Self {
        Self::new(vec![Entry::new(waba_id, vec![Change::new(value)])])
    }

    /// Types a JSON value (level one, then level two for each change).
    pub fn from_value(value: Value) -> Result<Self, ParseError> {
        let Value::Object(mut map) = value else {
            return Err(ParseError::Shape("the body is not a JSON object".into()));
        };
        let object = take_typed::<String>(&mut map, "object");
        let entries = match map.remove("entry") {
            Some(Value::Array(a)) => a,
            Some(_) => return Err(ParseError::Shape("`entry` is not an array".into())),
            None => return Err(ParseError::Shape("`entry` is missing".into())),
        };
        let entry = entries
            .into_iter()
            .enumerate()
            .map(|(i, e)| Entry::from_value(i, e))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            object,
            entry,
            extra: map,
        })
    }

    /// Every change with the entry it belongs to.
    pub fn changes(&self) -> impl Iterator<Item = (&Entry, &Change)> {
        self.entry
            .iter()
            .flat_map(|e| e.changes.iter().map(move |c| (e, c)))
    }

    /// Every part of the notification this version does not understand.
    pub fn unknowns(&self) -> Vec<Flag> {
        let mut out = Vec::new();
        self.walk("", &mut out);
        out
    }
}

impl<'de> Deserialize<'de> for Notification {
    /// Same as [`Notification::from_value`]; prefer [`super::parse_notification`] on raw
    /// bytes, which reports the line and column of a JSON error.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        Self::from_value(v).map_err(serde::de::Error::custom)
    }
}

impl Entry {
    /// An entry for a WABA with the given changes.
    pub fn new(id: WabaId, changes: Vec<Change>) -> Self {
        Self {
            id: Some(id),
            time: None,
            changes,
            extra: Extra::new(),
        }
    }

    /// `time` in Unix seconds.
    pub fn time_seconds(&self) -> Option<i64> {
        self.time.as_ref().and_then(Timestamp::seconds)
    }

    fn from_value(index: usize, value: Value) -> Result<Self, ParseError> {
        let Value::Object(mut map) = value else {
            return Err(ParseError::Shape(format!(
                "entry[{index}] is not an object"
            )));
        };
        let id = take_typed::<WabaId>(&mut map, "id");
        let time = take_typed::<Timestamp>(&mut map, "time");
        let changes = match map.remove("changes") {
            Some(Value::Array(a)) => a,
            Some(_) => {
                return Err(ParseError::Shape(format!(
                    "entry[{index}].changes is not an array"
                )));
            }
            None => {
                return Err(ParseError::Shape(format!(
                    "entry[{index}].changes is missing"
                )));
            }
        };
        // Meta's `PARTNER_APP_INSTALLED` example puts `field` on the entry.
        let entry_field = map.get("field").and_then(Value::as_str).map(str::to_owned);
        let changes = changes
            .into_iter()
            .enumerate()
            .map(|(j, c)| Change::from_value(index, j, c, entry_field.as_deref()))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            id,
            time,
            changes,
            extra: map,
        })
    }
}

impl Change {
    /// A change whose `field` is the value's field name.
    pub fn new(value: ChangeValue) -> Self {
        Self {
            field: value.field_name().map(str::to_owned),
            value,
            extra: Extra::new(),
        }
    }

    fn from_value(
        entry: usize,
        index: usize,
        value: Value,
        entry_field: Option<&str>,
    ) -> Result<Self, ParseError> {
        let Value::Object(mut map) = value else {
            return Err(ParseError::Shape(format!(
                "entry[{entry}].changes[{index}] is not an object"
            )));
        };
        let field = take_typed::<String>(&mut map, "field");
        let value = match map.remove("value") {
            None => ChangeValue::Missing,
            Some(raw) => {
                // Meta's `PARTNER_APP_UNINSTALLED` example puts `field` inside `value`.
                let inner = raw.get("field").and_then(Value::as_str).map(str::to_owned);
                let resolved = field.clone().or(inner).or(entry_field.map(str::to_owned));
                ChangeValue::parse(resolved.as_deref(), raw)
            }
        };
        Ok(Self {
            field,
            value,
            extra: map,
        })
    }

    /// The field this change was typed as: the wire name, else the one found in the value or
    /// on the entry.
    pub fn field_name(&self) -> Option<&str> {
        self.field.as_deref().or_else(|| self.value.field_name())
    }
}

impl ChangeValue {
    /// Types `raw` as the value of `field`. Never fails: an unknown field gives
    /// [`ChangeValue::Unknown`], a value that does not fit gives [`ChangeValue::Malformed`].
    pub fn parse(field: Option<&str>, raw: Value) -> Self {
        match field {
            Some("messages") => typed(raw, "messages", Self::Messages),
            Some("smb_message_echoes") => typed(raw, "smb_message_echoes", Self::MessageEchoes),
            Some("history") => typed(raw, "history", Self::History),
            Some("smb_app_state_sync") => typed(raw, "smb_app_state_sync", Self::AppStateSync),
            Some("account_update") => {
                typed(raw, "account_update", |v| Self::AccountUpdate(Box::new(v)))
            }
            Some("user_id_update") => typed(raw, "user_id_update", Self::UserIdUpdate),
            // Meta's page titles it `business_username_updates`; the payload says singular.
            Some(f @ ("business_username_update" | "business_username_updates")) => {
                typed(raw, f, Self::BusinessUsernameUpdate)
            }
            other => Self::Unknown {
                field: other.map(str::to_owned),
                raw,
            },
        }
    }

    /// The field name this value belongs to.
    pub fn field_name(&self) -> Option<&str> {
        Some(match self {
            Self::Messages(_) => "messages",
            Self::MessageEchoes(_) => "smb_message_echoes",
            Self::History(_) => "history",
            Self::AppStateSync(_) => "smb_app_state_sync",
            Self::AccountUpdate(_) => "account_update",
            Self::UserIdUpdate(_) => "user_id_update",
            Self::BusinessUsernameUpdate(_) => "business_username_update",
            Self::Unknown { field, .. } => return field.as_deref(),
            Self::Malformed { field, .. } => field,
            Self::Missing => return None,
        })
    }

    /// Whether the change had no `value`.
    pub fn is_missing(&self) -> bool {
        matches!(self, Self::Missing)
    }

    /// `value.metadata` of phone-number-scoped values.
    pub fn metadata(&self) -> Option<&Metadata> {
        match self {
            Self::Messages(v) => v.metadata.as_ref(),
            Self::MessageEchoes(v) => v.metadata.as_ref(),
            Self::History(v) => v.metadata.as_ref(),
            Self::AppStateSync(v) => v.metadata.as_ref(),
            Self::UserIdUpdate(v) => v.metadata.as_ref(),
            _ => None,
        }
    }

    /// `value.metadata.phone_number_id`.
    pub fn phone_number_id(&self) -> Option<&PhoneNumberId> {
        self.metadata()?.phone_number_id.as_ref()
    }
}

impl Serialize for ChangeValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Messages(v) => v.serialize(s),
            Self::MessageEchoes(v) => v.serialize(s),
            Self::History(v) => v.serialize(s),
            Self::AppStateSync(v) => v.serialize(s),
            Self::AccountUpdate(v) => v.serialize(s),
            Self::UserIdUpdate(v) => v.serialize(s),
            Self::BusinessUsernameUpdate(v) => v.serialize(s),
            Self::Unknown { raw, .. } | Self::Malformed { raw, .. } => raw.serialize(s),
            Self::Missing => s.serialize_unit(),
        }
    }
}

/// Deserialises `raw` as `T`, or keeps it with the error. Reads through `&Value` so a large
/// history value is not cloned before typing.
fn typed<T: DeserializeOwned>(raw: Value, field: &str, wrap: fn(T) -> ChangeValue) -> ChangeValue {
    match T::deserialize(&raw) {
        Ok(v) => wrap(v),
        Err(e) => ChangeValue::Malformed {
            field: field.to_owned(),
            error: e.to_string(),
            raw,
        },
    }
}

/// Removes `key` and returns it typed; if it does not fit, puts it back (into what becomes
/// `extra`) so nothing is lost.
fn take_typed<T: DeserializeOwned>(map: &mut Extra, key: &str) -> Option<T> {
    let v = map.remove(key)?;
    match T::deserialize(&v) {
        Ok(t) => Some(t),
        Err(_) => {
            map.insert(key.to_owned(), v);
            None
        }
    }
}

impl Walk for Notification {
    fn walk(&self, path: &str, out: &mut Vec<Flag>) {
        walk_extra(&self.extra, path, out);
        for (i, e) in self.entry.iter().enumerate() {
            e.walk(&join(path, &format!("entry[{i}]")), out);
        }
    }
}

impl Walk for Entry {
    fn walk(&self, path: &str, out: &mut Vec<Flag>) {
        walk_extra(&self.extra, path, out);
        for (j, c) in self.changes.iter().enumerate() {
            c.walk(&format!("{path}.changes[{j}]"), out);
        }
    }
}

impl Walk for Change {
    fn walk(&self, path: &str, out: &mut Vec<Flag>) {
        walk_extra(&self.extra, path, out);
        self.value.walk(&format!("{path}.value"), out);
    }
}

impl Walk for ChangeValue {
    fn walk(&self, path: &str, out: &mut Vec<Flag>) {
        match self {
            Self::Messages(v) => v.walk(path, out),
            Self::MessageEchoes(v) => v.walk(path, out),
            Self::History(v) => v.walk(path, out),
            Self::AppStateSync(v) => v.walk(path, out),
            Self::AccountUpdate(v) => v.walk(path, out),
            Self::UserIdUpdate(v) => v.walk(path, out),
            Self::BusinessUsernameUpdate(v) => v.walk(path, out),
            Self::Unknown { field, .. } => out.push(Flag {
                kind: FlagKind::UnknownField,
                path: path.strip_suffix(".value").unwrap_or(path).to_owned() + ".field",
                value: field.clone(),
            }),
            Self::Malformed { .. } | Self::Missing => {}
        }
    }
}
