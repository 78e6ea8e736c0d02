//! The virtual world and everything that happens in it.
//!
//! [`World`] holds all state: WABAs, numbers (with the business phone app), customers,
//! templates, media, messages, the per-(number, customer) state Meta keeps, the timer queue,
//! the webhook outbox and deliveries, the request log, injected faults and chaos settings. Its
//! methods are synchronous and take the virtual instant they happen at, so every behaviour is
//! testable without HTTP or sleeping; the [`crate::engine`] owns the lock and the I/O.
//!
//! What happens is split by actor: [`customers`] (inbound traffic and customer behaviour),
//! [`app`] (the business phone app: echoes, edits, revokes, contacts, inactivity, disconnects),
//! [`send`] (the Cloud API send path with Meta's rules, and the status lifecycle),
//! [`history`] (`smb_app_data` contact and history sync).

pub mod actions;
pub mod app;
pub mod customers;
pub mod history;
pub mod log;
pub mod media;
pub mod messages;
pub mod model;
pub mod seed;
pub mod send;
pub mod templates;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use serde_json::Value;

use coex_core::{Bsuid, PhoneNumber, PhoneNumberId, WabaId, Wamid};

use crate::clock::SimTime;
use crate::delivery::Delivery;
use crate::delivery::chaos::Chaos;
use crate::delivery::outbox::{OutChange, Outbox};
use crate::ids::IdGen;
use crate::sched::Scheduler;
use crate::wire::payloads::{self, Party};

use self::actions::Action;
use self::log::{BoundedLog, Fault, RequestRecord};
use self::media::MediaStore;
use self::messages::{MessageRecord, StatusKind};
use self::model::{Customer, CustomerKey, Number, Pair, Waba};
use self::templates::Template;

/// How many requests and deliveries the control API keeps (the oldest finished ones go).
pub const LOG_CAP: usize = 100_000;

/// How long Meta shares a username user's phone number after the business messaged it (§10.5).
pub const PHONE_SHARE_WINDOW: Duration = Duration::from_secs(30 * 86_400);

/// Secrets, URLs and timings of a run.
#[derive(Debug, Clone)]
pub struct Settings {
    pub app_id: String,
    pub access_token: String,
    pub app_secret: String,
    pub verify_token: String,
    /// The app's webhook callback URL; `None` records deliveries without sending them.
    pub webhook_url: Option<String>,
    /// Where the emulator is reachable (`http://127.0.0.1:PORT`), for media URLs.
    pub public_url: String,
    /// The version in URLs the emulator builds (`v25.0`).
    pub graph_version: String,
    /// Delay between accepting a send and its `sent` status.
    pub sent_after: Duration,
    /// How long changes wait to be batched with others before a POST.
    pub batch_window: Duration,
    /// Messages per history chunk.
    pub history_chunk_messages: usize,
    /// Virtual time between two history chunks (and before the first).
    pub history_chunk_gap: Duration,
    /// Real-time limit of one webhook attempt.
    pub attempt_timeout: Duration,
}

/// A timer's work, run when the virtual clock reaches it.
#[derive(Debug, Clone)]
pub enum Task {
    /// Move an API message to `sent`, `delivered`, `read` or `failed`.
    Status { wamid: Wamid, status: StatusKind },
    /// Turn pending changes into deliveries.
    Flush,
    /// Attempt (or retry) one delivery.
    Attempt { delivery: u64 },
    /// Disconnect the number if its app has not been opened for 14 days.
    InactivityCheck { number: PhoneNumberId },
    /// Queue a prepared change (history chunks, follow-ups).
    Emit(Box<OutChange>),
    /// Perform a scripted action (scenario steps, customers' automatic replies).
    Act(Box<Action>),
}

/// One webhook attempt to make over HTTP (outside the world lock).
#[derive(Debug, Clone)]
pub struct AttemptJob {
    pub delivery: u64,
    pub at: SimTime,
    pub url: String,
    pub body: bytes::Bytes,
    pub signature: String,
}

/// The whole emulated world.
#[derive(Debug)]
pub struct World {
    pub settings: Settings,
    pub ids: IdGen,
    /// What happens in the world and when (customers' jittered delays): drawn by world events
    /// only, so the timeline of a seed is the same whatever the delivery settings.
    pub rng: StdRng,
    /// Chaos mode's own draws (reordering, re-batching, delays, duplicates), kept apart from
    /// [`World::rng`] so switching chaos on changes how webhooks arrive, never what happens in
    /// the world or at which virtual instant.
    pub chaos_rng: StdRng,
    pub wabas: BTreeMap<WabaId, Waba>,
    pub numbers: BTreeMap<PhoneNumberId, Number>,
    /// Number ids in the order the world description gave them (the first is the default).
    pub number_order: Vec<PhoneNumberId>,
    pub customers: BTreeMap<CustomerKey, Customer>,
    /// Customers by current phone number (sends look them up on every request).
    pub phone_index: HashMap<PhoneNumber, CustomerKey>,
    /// Customers by current BSUID and parent BSUID.
    pub bsuid_index: HashMap<Bsuid, CustomerKey>,
    /// Whether a send to a phone number nobody in the world has creates a customer for it
    /// (any number is a WhatsApp user), or fails with 131026.
    pub auto_customers: bool,
    pub templates: BTreeMap<WabaId, Vec<Template>>,
    pub media: MediaStore,
    /// Every message, by wamid. A B-tree, not a hash map: a long run keeps millions, and a
    /// hash map that doubles copies all of them while the world is locked, which stalled
    /// every request for long enough to bunch the next second's sends into one window
    /// (spurious 130429s in `coex bench send`, 90 s apart as the map doubled).
    pub messages: BTreeMap<Wamid, MessageRecord>,
    pub pairs: HashMap<(PhoneNumberId, CustomerKey), Pair>,
    pub sched: Scheduler<Task>,
    pub outbox: Outbox,
    pub deliveries: BoundedLog<Delivery>,
    /// Shared, so the control API lists them without copying under the world's lock.
    pub requests: BoundedLog<Arc<RequestRecord>>,
    pub faults: Vec<Fault>,
    pub chaos: Chaos,
    /// Set when something was scheduled that the driver may need to wake up for.
    pub woke: bool,
}

impl World {
    /// Queues `task` at `at`.
    pub fn schedule(&mut self, at: SimTime, task: Task) {
        self.sched.schedule(at, task);
        self.woke = true;
    }

    /// Queues a webhook change for delivery.
    pub fn emit(
        &mut self,
        now: SimTime,
        waba: WabaId,
        number: Option<PhoneNumberId>,
        field: &str,
        value: Value,
        summary: String,
    ) {
        self.emit_with_time(now, waba, number, field, value, None, summary);
    }

    /// [`World::emit`] with an `entry[].time`.
    #[allow(clippy::too_many_arguments)]
    pub fn emit_with_time(
        &mut self,
        now: SimTime,
        waba: WabaId,
        number: Option<PhoneNumberId>,
        field: &str,
        value: Value,
        entry_time: Option<i64>,
        summary: String,
    ) {
        self.outbox.next_seq += 1;
        let change = OutChange {
            seq: self.outbox.next_seq,
            waba,
            number,
            field: field.to_owned(),
            value,
            entry_time,
            summary,
        };
        self.queue_change(now, change);
    }

    /// Queues an already-built change (its sequence number is kept).
    pub fn queue_change(&mut self, now: SimTime, change: OutChange) {
        self.outbox.pending.push(change);
        if !self.outbox.flush_queued {
            self.outbox.flush_queued = true;
            let at = now + self.settings.batch_window;
            self.schedule(at, Task::Flush);
        }
    }

    /// A change with a sequence number reserved now, to be queued later ([`Task::Emit`]).
    pub fn prepare_change(
        &mut self,
        waba: WabaId,
        number: Option<PhoneNumberId>,
        field: &str,
        value: Value,
        summary: String,
    ) -> OutChange {
        self.outbox.next_seq += 1;
        OutChange {
            seq: self.outbox.next_seq,
            waba,
            number,
            field: field.to_owned(),
            value,
            entry_time: None,
            summary,
        }
    }

    /// `value.metadata` for a number.
    pub fn metadata(&self, number: &PhoneNumberId) -> Value {
        match self.numbers.get(number) {
            Some(n) => payloads::metadata(n.display.digits(), n.id.as_str()),
            None => payloads::metadata("", number.as_str()),
        }
    }

    pub fn pair_mut(&mut self, number: &PhoneNumberId, customer: &CustomerKey) -> &mut Pair {
        self.pairs
            .entry((number.clone(), customer.clone()))
            .or_default()
    }

    /// Whether Meta may show `customer`'s phone number to `number`'s business (§10.5): users
    /// without a username always; username users if they share it, if they are in the
    /// portfolio's contact book, or if the business messaged their number in the last 30 days.
    pub fn phone_visible(&self, number: &PhoneNumberId, customer: &Customer, now: SimTime) -> bool {
        if customer.username.is_none() || customer.shares_phone {
            return true;
        }
        let Some(n) = self.numbers.get(number) else {
            return false;
        };
        if let Some(waba) = self.wabas.get(&n.waba)
            && waba.contact_book_enabled
            && waba.contact_book.contains(&customer.key)
        {
            return true;
        }
        self.pairs
            .get(&(number.clone(), customer.key.clone()))
            .and_then(|p| p.last_phone_contact)
            .is_some_and(|t| now < t + PHONE_SHARE_WINDOW)
    }

    /// How `customer` appears in a payload for `number` at `now`.
    pub fn party(&self, number: &PhoneNumberId, customer: &Customer, now: SimTime) -> Party {
        Party {
            name: customer.name.clone(),
            phone: self
                .phone_visible(number, customer, now)
                .then(|| customer.phone.digits().to_owned()),
            user_id: customer.bsuid.as_str().to_owned(),
            parent_user_id: customer
                .parent_bsuid
                .as_ref()
                .map(|b| b.as_str().to_owned()),
            username: customer.username.clone(),
        }
    }

    /// Adds a customer and indexes it.
    pub fn add_customer(&mut self, customer: Customer) {
        self.phone_index
            .insert(customer.phone.clone(), customer.key.clone());
        self.bsuid_index
            .insert(customer.bsuid.clone(), customer.key.clone());
        if let Some(parent) = &customer.parent_bsuid {
            self.bsuid_index
                .insert(parent.clone(), customer.key.clone());
        }
        self.customers.insert(customer.key.clone(), customer);
    }

    /// The customer using this phone number now.
    pub fn customer_by_phone(&self, phone: &PhoneNumber) -> Option<&CustomerKey> {
        self.phone_index.get(phone)
    }

    /// The customer with this (parent) BSUID now.
    pub fn customer_by_bsuid(&self, bsuid: &Bsuid) -> Option<&CustomerKey> {
        self.bsuid_index.get(bsuid)
    }

    /// A customer for a phone number the world did not know: any number is a WhatsApp user
    /// (reachable, reading after 20 s), identified by a fresh BSUID.
    pub fn auto_customer(&mut self, phone: &PhoneNumber) -> Option<CustomerKey> {
        let key = CustomerKey::parse(format!("wa-{}", phone.digits())).ok()?;
        let country = seed::country_of(phone);
        let bsuid = self.ids.bsuid(country);
        let tail = &phone.digits()[phone.digits().len().saturating_sub(4)..];
        self.add_customer(Customer {
            key: key.clone(),
            name: format!("WhatsApp user {tail}"),
            phone: phone.clone(),
            username: None,
            shares_phone: false,
            bsuid,
            parent_bsuid: None,
            previous_bsuids: Vec::new(),
            on_whatsapp: true,
            online: true,
            deliver_after: Duration::from_millis(1_500),
            read_after: Some(Duration::from_secs(20)),
            auto_reply: None,
        });
        Some(key)
    }

    /// The numbers in the world description's order.
    pub fn numbers_in_order(&self) -> impl Iterator<Item = &Number> {
        self.number_order
            .iter()
            .filter_map(|id| self.numbers.get(id))
    }

    /// The number a customer talks to when none is named: the first one.
    pub fn default_number(&self) -> Option<PhoneNumberId> {
        self.number_order.first().cloned()
    }

    /// Runs one due task at its instant; an attempt comes back as I/O for the engine.
    pub fn run_task(&mut self, at: SimTime, task: Task) -> Option<AttemptJob> {
        match task {
            Task::Status { wamid, status } => {
                self.advance_status(at, &wamid, status);
                None
            }
            Task::Flush => {
                self.flush(at);
                None
            }
            Task::Attempt { delivery } => self.attempt_job(delivery, at),
            Task::InactivityCheck { number } => {
                self.check_inactivity(at, &number);
                None
            }
            Task::Emit(change) => {
                self.queue_change(at, *change);
                None
            }
            Task::Act(action) => {
                if let Err(e) = self.perform(at, *action) {
                    tracing::warn!(error = %e, "scheduled action failed");
                }
                None
            }
        }
    }
}
