//! The coex store: everything ingest, the inbox and the sending side persist, behind one
//! [`Store`] trait with two backends, SQLite (the embedded default: one file, WAL,
//! every commit on disk before it returns; see `lite`) and PostgreSQL (several hub processes share one database).
//!
//! The heart is [`Store::apply_batch`]: many webhooks' domain events ([`IngestBatch`]) applied
//! in one transaction, idempotently, with their raw bodies archived and the resulting feed
//! events appended in the same transaction. Redeliveries and concurrent duplicates change
//! nothing; statuses only move forward; an edit that overtakes its original waits for it.
//!
//! [`SqlStore`] is the one implementation; it dispatches on the backend internally (an enum,
//! not generics), so callers hold a plain cloneable value. The trait exists to state the
//! contract in one place and to let the hub be written against it; its futures are `Send`, so
//! calls can run inside spawned tasks. It is not object-safe (`impl Future` returns): hold an
//! `SqlStore` (or be generic over `S: Store`) rather than a `dyn Store`.

mod analyze;
mod apply;
pub mod archive_body;
mod checkpoint;
mod db;
mod error;
mod lite;
mod migrate;
mod periodic;
mod read;
pub mod send;
mod setup;
mod sql_store;
mod write_timing;
mod writer_gate;

use std::future::Future;

use coex_core::model::{
    ArchiveId, Contact, ContactId, ConversationId, ConversationView, CustomerKey, EventSeq,
    IngestBatch, Message, MetaError, NewNumber, Number, NumberEvent, Page, PageRequest, RawWebhook,
    StatusRecord, StoredEvent, SyncJob, SyncKind, Timestamp, Waba, Workspace, WorkspaceId,
    WorkspaceSlug,
};
use coex_core::{PhoneNumberId, RequestId, WabaId, Wamid};
use serde::{Deserialize, Serialize};

pub use error::{MAX_ID_BYTES, StoreError};
pub use send::SendStore;
pub use sql_store::{Clock, SqlStore, StoreOptions, with_database_name};
pub use write_timing::{WriteTiming, WriteTimings};

/// Result of a store operation.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// What one [`Store::apply_batch`] did.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BatchOutcome {
    /// The archive id of each item's raw body, in item order (`None` when not archived).
    pub archives: Vec<Option<ArchiveId>>,
    /// The last event sequence number appended per workspace, for waking live feeds.
    pub appended: Vec<(WorkspaceId, EventSeq)>,
    pub summary: BatchSummary,
}

/// Counts of what a batch changed and what it recognised as already known.
///
/// Every event lands in exactly one bucket of its kind, so e.g. for live messages
/// `messages_inserted + messages_duplicate` equals the messages in the batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BatchSummary {
    pub webhooks: u64,
    pub archived: u64,
    /// Live inbound messages, echoes and API-sent messages stored.
    pub messages_inserted: u64,
    /// ... already stored (same number and wamid): redeliveries, retries, our own echoes.
    pub messages_duplicate: u64,
    pub history_inserted: u64,
    /// History messages already stored (live or from an earlier chunk).
    pub history_duplicate: u64,
    pub statuses_applied: u64,
    /// Received once but older than the stored status (e.g. `delivered` after `read`).
    pub statuses_stale: u64,
    /// The same (wamid, status) received before.
    pub statuses_duplicate: u64,
    /// For a message not (yet) stored; applied when it is.
    pub statuses_orphaned: u64,
    /// Edits, revokes and history media applied to their message.
    pub patches_applied: u64,
    /// ... kept until their original arrives.
    pub patches_pending: u64,
    /// ... superseded (an older edit after a newer one, a second revoke).
    pub patches_stale: u64,
    pub patches_duplicate: u64,
    pub history_chunks: u64,
    pub history_chunks_duplicate: u64,
    pub history_declined: u64,
    /// Contact adds/edits and removes from the app that changed the contact.
    pub contacts_synced: u64,
    /// ... older than what is stored, or repeated.
    pub contacts_unchanged: u64,
    /// Two contacts found to be one person and merged.
    pub contacts_merged: u64,
    pub user_ids_changed: u64,
    /// Account events recorded (per affected number) ...
    pub account_events: u64,
    /// ... of which changed the number's state.
    pub account_state_changes: u64,
    pub account_events_duplicate: u64,
    /// Change errors stored (from the hub, and events for unregistered numbers).
    pub change_errors: u64,
    /// Events naming a number (or WABA) that is not registered; kept as change errors.
    pub unknown_number: u64,
    pub events_appended: u64,
}

/// A stored raw webhook body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchivedWebhook {
    pub id: ArchiveId,
    pub received_at: Timestamp,
    pub signature_ok: bool,
    pub body: Vec<u8>,
    /// When its events were applied; `None` while it waits (acknowledged, not yet applied).
    pub processed_at: Option<Timestamp>,
}

/// A change that could not be applied, kept with its error and raw JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeErrorRecord {
    pub id: i64,
    pub archive: Option<ArchiveId>,
    pub received_at: Timestamp,
    pub waba: Option<String>,
    pub number: Option<String>,
    pub field: Option<String>,
    pub error: String,
    pub raw: String,
}

/// The store's contract. See the crate docs for why this is a trait with one implementation.
pub trait Store: Send + Sync {
    // --- setup -------------------------------------------------------------------------

    /// Creates the workspace, or returns it (renamed to `name`) if the slug exists.
    fn ensure_workspace(
        &self,
        slug: &WorkspaceSlug,
        name: &str,
    ) -> impl Future<Output = Result<Workspace>> + Send;

    /// Creates or updates a WABA. A WABA already owned by another workspace is a `Conflict`.
    fn upsert_waba(
        &self,
        workspace: WorkspaceId,
        waba: &WabaId,
        name: Option<&str>,
    ) -> impl Future<Output = Result<Waba>> + Send;

    /// Creates a number, or updates its display data, kind and tier (never its state). The
    /// WABA must exist; a number registered under another WABA is a `Conflict`.
    fn upsert_number(&self, number: &NewNumber) -> impl Future<Output = Result<Number>> + Send;

    /// Records an `smb_app_data` request (onboarding): the sync job restarts as `requested`.
    fn record_sync_request(
        &self,
        number: &PhoneNumberId,
        kind: SyncKind,
        request_id: &RequestId,
        at: Timestamp,
    ) -> impl Future<Output = Result<SyncJob>> + Send;

    /// Records an `smb_app_data` request made for a new onboarding of a number that left the
    /// platform and came back: the sync job starts over (`requested`, progress and counters
    /// at zero, the error cleared) and, for history, the chunks seen by the earlier import
    /// are forgotten so the new import's chunks count. Messages already imported stay; the
    /// new import's copies of them are recognised by their wamid.
    fn restart_sync(
        &self,
        number: &PhoneNumberId,
        kind: SyncKind,
        request_id: &RequestId,
        at: Timestamp,
    ) -> impl Future<Output = Result<SyncJob>> + Send;

    /// Records that Meta refused an `smb_app_data` request (2593107 already requested,
    /// 2593108 past 24 h): the sync job becomes `refused` with Meta's error, so it is shown and
    /// not requested again. A job already receiving data keeps its state.
    fn record_sync_refusal(
        &self,
        number: &PhoneNumberId,
        kind: SyncKind,
        error: &MetaError,
        at: Timestamp,
    ) -> impl Future<Output = Result<SyncJob>> + Send;

    // --- ingest ------------------------------------------------------------------------

    /// Archives a raw body on its own (acknowledge first, apply later). It stays pending until
    /// a batch names it with `ArchiveInput::Existing`.
    fn archive_webhook(&self, raw: &RawWebhook) -> impl Future<Output = Result<ArchiveId>> + Send;

    /// Applies a batch in one transaction: archives, events, conversation and number updates,
    /// feed events. Idempotent. Retried internally on PostgreSQL serialization failures.
    fn apply_batch(&self, batch: &IngestBatch)
    -> impl Future<Output = Result<BatchOutcome>> + Send;

    /// Verified archived bodies not yet applied, oldest first, after `after` (for replay after
    /// a crash, or for the background fan-out of large history chunks).
    fn pending_archives(
        &self,
        after: Option<ArchiveId>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<ArchivedWebhook>>> + Send;

    fn get_archive(&self, id: ArchiveId) -> impl Future<Output = Result<ArchivedWebhook>> + Send;

    // --- read --------------------------------------------------------------------------

    /// All numbers, or those of one workspace, by id.
    fn list_numbers(
        &self,
        workspace: Option<WorkspaceId>,
    ) -> impl Future<Output = Result<Vec<Number>>> + Send;

    fn get_number(&self, id: &PhoneNumberId) -> impl Future<Output = Result<Number>> + Send;

    /// A number's lifecycle events, newest first.
    fn number_events(
        &self,
        number: &PhoneNumberId,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<NumberEvent>>> + Send;

    /// A number's conversations, most recent activity first (keyset pages).
    fn list_conversations(
        &self,
        number: &PhoneNumberId,
        page: PageRequest,
    ) -> impl Future<Output = Result<Page<ConversationView>>> + Send;

    fn get_conversation(
        &self,
        id: ConversationId,
    ) -> impl Future<Output = Result<ConversationView>> + Send;

    /// A conversation's messages, newest first by Meta's timestamp (keyset pages).
    fn list_messages(
        &self,
        conversation: ConversationId,
        page: PageRequest,
    ) -> impl Future<Output = Result<Page<Message>>> + Send;

    fn get_message(
        &self,
        number: &PhoneNumberId,
        wamid: &Wamid,
    ) -> impl Future<Output = Result<Message>> + Send;

    /// Every status webhook received for a message, oldest first.
    fn status_history(
        &self,
        number: &PhoneNumberId,
        wamid: &Wamid,
    ) -> impl Future<Output = Result<Vec<StatusRecord>>> + Send;

    fn get_contact(&self, id: ContactId) -> impl Future<Output = Result<Contact>> + Send;

    /// The contact a key names in a workspace (by BSUID, earlier BSUID, or phone).
    fn find_contact(
        &self,
        workspace: WorkspaceId,
        key: &CustomerKey,
    ) -> impl Future<Output = Result<Option<Contact>>> + Send;

    /// The sync jobs (history, contacts) of a number.
    fn sync_progress(
        &self,
        number: &PhoneNumberId,
    ) -> impl Future<Output = Result<Vec<SyncJob>>> + Send;

    /// Feed events of a workspace with `seq > after`, in order.
    fn events_after(
        &self,
        workspace: WorkspaceId,
        after: EventSeq,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<StoredEvent>>> + Send;

    /// Stored change errors with `id > after`, oldest first.
    fn change_errors(
        &self,
        after: i64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<ChangeErrorRecord>>> + Send;
}
