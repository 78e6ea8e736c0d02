//! Read queries and the row-to-domain mappers shared with setup.
//!
//! Lists are keyset-paginated, newest first: `(sort key, id)` of the last item is the cursor,
//! and the next page is everything strictly before it. That stays fast at any depth and never
//! repeats an item, unlike `OFFSET`.

use coex_core::model::{
    ArchiveId, Contact, ContactId, Conversation, ConversationId, ConversationView, Cursor,
    CustomerKey, EventSeq, Message, MessageContent, MessageKind, MetaError, Number, NumberEvent,
    Page, PageRequest, RawJson, StatusRecord, StoredEvent, SyncJob, Waba, Workspace, WorkspaceId,
};
use coex_core::{Bsuid, PhoneNumberId, Wamid};

use crate::apply::{media_from, pricing_from};
use crate::db::{Conn, Row, args};
use crate::{ArchivedWebhook, ChangeErrorRecord, Result, StoreError, archive_body};

pub(crate) fn workspace_from(r: &Row) -> Result<Workspace> {
    Ok(Workspace {
        id: WorkspaceId::new(r.i64("id")?),
        slug: r.parse("slug")?,
        name: r.str("name")?,
        created_at: r.ts("created_at")?,
    })
}

pub(crate) fn waba_from(r: &Row) -> Result<Waba> {
    Ok(Waba {
        id: r.parse("id")?,
        workspace: WorkspaceId::new(r.i64("workspace_id")?),
        name: r.opt_str("name")?,
        created_at: r.ts("created_at")?,
    })
}

pub(crate) const NUMBER_COLS: &str = "id, workspace_id, waba_id, display_phone, verified_name, kind, tier, \
    state, state_reason, state_changed_at, last_app_activity_at, created_at";

pub(crate) fn number_from(r: &Row) -> Result<Number> {
    Ok(Number {
        id: r.parse("id")?,
        workspace: WorkspaceId::new(r.i64("workspace_id")?),
        waba: r.parse("waba_id")?,
        display_phone: r.parse("display_phone")?,
        verified_name: r.opt_str("verified_name")?,
        kind: r.parse("kind")?,
        tier: r.parse("tier")?,
        state: r.parse("state")?,
        state_reason: r.opt_str("state_reason")?,
        state_changed_at: r.ts("state_changed_at")?,
        last_app_activity_at: r.opt_ts("last_app_activity_at")?,
        created_at: r.ts("created_at")?,
    })
}

const CONTACT_COLS: &str = "k.id AS k_id, k.workspace_id AS k_workspace_id, k.bsuid AS k_bsuid, \
    k.parent_bsuid AS k_parent_bsuid, k.phone AS k_phone, k.profile_name AS k_profile_name, \
    k.username AS k_username, k.app_full_name AS k_app_full_name, k.app_first_name AS k_app_first_name, \
    k.in_app_contacts AS k_in_app_contacts, k.created_at AS k_created_at, k.updated_at AS k_updated_at";

fn contact_from(r: &Row, previous_bsuids: Vec<Bsuid>) -> Result<Contact> {
    Ok(Contact {
        id: ContactId::new(r.i64("k_id")?),
        workspace: WorkspaceId::new(r.i64("k_workspace_id")?),
        bsuid: r.opt_parse("k_bsuid")?,
        parent_bsuid: r.opt_parse("k_parent_bsuid")?,
        phone: r.opt_parse("k_phone")?,
        previous_bsuids,
        profile_name: r.opt_str("k_profile_name")?,
        username: r.opt_str("k_username")?,
        app_full_name: r.opt_str("k_app_full_name")?,
        app_first_name: r.opt_str("k_app_first_name")?,
        in_app_contacts: r.bool("k_in_app_contacts")?,
        created_at: r.ts("k_created_at")?,
        updated_at: r.ts("k_updated_at")?,
    })
}

const CONVERSATION_COLS: &str = "c.id AS c_id, c.workspace_id AS c_workspace_id, c.number_id AS c_number_id, \
    c.contact_id AS c_contact_id, c.created_at AS c_created_at, c.last_message_at AS c_last_message_at, \
    c.last_inbound_at AS c_last_inbound_at, c.last_echo_at AS c_last_echo_at, \
    c.last_outbound_at AS c_last_outbound_at, c.message_count AS c_message_count";

fn conversation_from(r: &Row) -> Result<Conversation> {
    Ok(Conversation {
        id: ConversationId::new(r.i64("c_id")?),
        workspace: WorkspaceId::new(r.i64("c_workspace_id")?),
        number: r.parse("c_number_id")?,
        contact: ContactId::new(r.i64("c_contact_id")?),
        created_at: r.ts("c_created_at")?,
        last_message_at: r.ts("c_last_message_at")?,
        last_inbound_at: r.opt_ts("c_last_inbound_at")?,
        last_echo_at: r.opt_ts("c_last_echo_at")?,
        last_outbound_at: r.opt_ts("c_last_outbound_at")?,
        message_count: r.i64("c_message_count")?,
    })
}

const MESSAGE_COLS: &str = "id, number_id, wamid, conversation_id, direction, origin, sender, kind, body, \
    media_id, media_mime, media_sha256, media_filename, reply_to, payload, sent_at, stored_at, status, \
    status_at, error_code, error_title, error_details, pricing_billable, pricing_model, pricing_type, \
    pricing_category, edited_at, revoked_at";

fn error_from(r: &Row) -> Result<Option<MetaError>> {
    Ok(match r.opt_i64("error_code")? {
        Some(code) => Some(MetaError {
            code,
            title: r.opt_str("error_title")?.unwrap_or_default(),
            details: r.opt_str("error_details")?,
        }),
        None => None,
    })
}

fn message_from(r: &Row) -> Result<Message> {
    Ok(Message {
        id: coex_core::model::MessageId::new(r.i64("id")?),
        number: r.parse("number_id")?,
        wamid: r.parse("wamid")?,
        conversation: ConversationId::new(r.i64("conversation_id")?),
        direction: r.parse("direction")?,
        origin: r.parse("origin")?,
        sender: r.opt_str("sender")?,
        content: MessageContent {
            kind: MessageKind::from_meta(&r.str("kind")?),
            body: r.opt_str("body")?,
            media: media_from(r)?,
            reply_to: r.opt_parse("reply_to")?,
            payload: r.opt_str("payload")?.map(RawJson::new),
        },
        timestamp: r.ts("sent_at")?,
        stored_at: r.ts("stored_at")?,
        status: r.opt_parse("status")?,
        status_at: r.opt_ts("status_at")?,
        error: error_from(r)?,
        pricing: pricing_from(r)?,
        edited_at: r.opt_ts("edited_at")?,
        revoked_at: r.opt_ts("revoked_at")?,
    })
}

const SYNC_COLS: &str = "number_id, kind, state, request_id, requested_at, phase, chunk_order, progress, \
    chunks_received, items_received, last_event_at, error_code, error_title, error_details";

pub(crate) fn sync_job_from(r: &Row) -> Result<SyncJob> {
    let small = |col: &str| -> Result<Option<i64>> { r.opt_i64(col) };
    Ok(SyncJob {
        number: r.parse("number_id")?,
        kind: r.parse("kind")?,
        state: r.parse("state")?,
        request_id: r.opt_parse("request_id")?,
        requested_at: r.opt_ts("requested_at")?,
        phase: small("phase")?.and_then(|v| u8::try_from(v).ok()),
        chunk_order: small("chunk_order")?.and_then(|v| u32::try_from(v).ok()),
        progress: u8::try_from(r.i64("progress")?.clamp(0, 100)).unwrap_or(0),
        chunks_received: u32::try_from(r.i64("chunks_received")?).unwrap_or(u32::MAX),
        items_received: u64::try_from(r.i64("items_received")?).unwrap_or(0),
        last_event_at: r.opt_ts("last_event_at")?,
        error: error_from(r)?,
    })
}

fn archive_from(r: &Row) -> Result<ArchivedWebhook> {
    Ok(ArchivedWebhook {
        id: ArchiveId::new(r.i64("id")?),
        received_at: r.ts("received_at")?,
        signature_ok: r.bool("signature_ok")?,
        body: archive_body::unpack(r.get("body")?, r.parse("body_encoding")?)?,
        processed_at: r.opt_ts("processed_at")?,
    })
}

fn limit_of(page: PageRequest) -> i64 {
    i64::from(page.clamped_limit())
}

/// Cuts the extra row fetched to learn whether a next page exists.
fn paginate<T>(mut items: Vec<T>, page: PageRequest, cursor_of: impl Fn(&T) -> Cursor) -> Page<T> {
    let limit = page.clamped_limit() as usize;
    let next = if items.len() > limit {
        items.truncate(limit);
        items.last().map(cursor_of)
    } else {
        None
    };
    Page { items, next }
}

pub(crate) async fn list_numbers(c: &mut Conn<'_>, ws: Option<WorkspaceId>) -> Result<Vec<Number>> {
    let rows = match ws {
        Some(ws) => {
            c.all(
                &format!("SELECT {NUMBER_COLS} FROM numbers WHERE workspace_id = $1 ORDER BY id"),
                args![ws],
            )
            .await?
        }
        None => {
            c.all(
                &format!("SELECT {NUMBER_COLS} FROM numbers ORDER BY id"),
                args![],
            )
            .await?
        }
    };
    rows.iter().map(number_from).collect()
}

pub(crate) async fn get_number(c: &mut Conn<'_>, id: &PhoneNumberId) -> Result<Number> {
    let row = c
        .opt(
            &format!("SELECT {NUMBER_COLS} FROM numbers WHERE id = $1"),
            args![id],
        )
        .await?
        .ok_or_else(|| StoreError::not_found("number", id))?;
    number_from(&row)
}

pub(crate) async fn number_events(
    c: &mut Conn<'_>,
    id: &PhoneNumberId,
    limit: u32,
) -> Result<Vec<NumberEvent>> {
    let rows = c
        .all(
            "SELECT number_id, kind, reason, occurred_at, received_at, state_before, state_after, detail \
             FROM number_events WHERE number_id = $1 ORDER BY occurred_at DESC, id DESC LIMIT $2",
            args![id, i64::from(limit.clamp(1, PageRequest::MAX_LIMIT))],
        )
        .await?;
    rows.iter()
        .map(|r| {
            let before = r.opt_parse("state_before")?;
            let after = r.opt_parse("state_after")?;
            Ok(NumberEvent {
                number: r.parse("number_id")?,
                kind: coex_core::model::AccountEventKind::from_meta(&r.str("kind")?),
                reason: r.opt_str("reason")?,
                occurred_at: r.ts("occurred_at")?,
                received_at: r.ts("received_at")?,
                state_change: before.zip(after),
                detail: r.opt_str("detail")?.map(RawJson::new),
            })
        })
        .collect()
}

async fn aliases_of(c: &mut Conn<'_>, ids: &[i64]) -> Result<Vec<(i64, Bsuid)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT contact_id, bsuid FROM contact_aliases WHERE contact_id IN ({}) ORDER BY created_at, bsuid",
        placeholders.join(", ")
    );
    let binds: Vec<_> = ids.iter().map(crate::db::ToArg::to_arg).collect();
    let rows = c.all(&sql, &binds).await?;
    rows.iter()
        .map(|r| Ok((r.i64("contact_id")?, r.parse("bsuid")?)))
        .collect()
}

fn previous_for(aliases: &[(i64, Bsuid)], id: i64, current: Option<&Bsuid>) -> Vec<Bsuid> {
    aliases
        .iter()
        .filter(|(c, b)| *c == id && Some(b) != current)
        .map(|(_, b)| b.clone())
        .collect()
}

async fn contact_with_aliases(c: &mut Conn<'_>, row: &Row) -> Result<Contact> {
    let id = row.i64("k_id")?;
    let aliases = aliases_of(c, &[id]).await?;
    let mut contact = contact_from(row, Vec::new())?;
    contact.previous_bsuids = previous_for(&aliases, id, contact.bsuid.as_ref());
    Ok(contact)
}

pub(crate) async fn get_contact(c: &mut Conn<'_>, id: ContactId) -> Result<Contact> {
    let row = c
        .opt(
            &format!("SELECT {CONTACT_COLS} FROM contacts k WHERE k.id = $1"),
            args![id],
        )
        .await?
        .ok_or_else(|| StoreError::not_found("contact", id))?;
    contact_with_aliases(c, &row).await
}

pub(crate) async fn find_contact(
    c: &mut Conn<'_>,
    ws: WorkspaceId,
    key: &CustomerKey,
) -> Result<Option<Contact>> {
    // BSUID first (current, then earlier), then phone: the order of spec/cloud-api.md §10.6.
    let mut row = None;
    if let Some(b) = key.bsuid() {
        row = c
            .opt(
                &format!("SELECT {CONTACT_COLS} FROM contacts k WHERE k.workspace_id = $1 AND k.bsuid = $2"),
                args![ws, b],
            )
            .await?;
        if row.is_none() {
            row = c
                .opt(
                    &format!(
                        "SELECT {CONTACT_COLS} FROM contact_aliases a JOIN contacts k ON k.id = a.contact_id \
                         WHERE a.workspace_id = $1 AND a.bsuid = $2"
                    ),
                    args![ws, b],
                )
                .await?;
        }
    }
    if row.is_none()
        && let Some(p) = key.phone()
    {
        row = c
            .opt(
                &format!("SELECT {CONTACT_COLS} FROM contacts k WHERE k.workspace_id = $1 AND k.phone = $2"),
                args![ws, p],
            )
            .await?;
    }
    match row {
        Some(r) => Ok(Some(contact_with_aliases(c, &r).await?)),
        None => Ok(None),
    }
}

pub(crate) async fn list_conversations(
    c: &mut Conn<'_>,
    number: &PhoneNumberId,
    page: PageRequest,
) -> Result<Page<ConversationView>> {
    let base = format!(
        "SELECT {CONVERSATION_COLS}, {CONTACT_COLS} FROM conversations c JOIN contacts k ON k.id = c.contact_id \
         WHERE c.number_id = $1"
    );
    let fetch = limit_of(page) + 1;
    let rows = match page.after {
        None => {
            c.all(
                &format!("{base} ORDER BY c.last_message_at DESC, c.id DESC LIMIT $2"),
                args![number, fetch],
            )
            .await?
        }
        Some(cur) => {
            c.all(
                &format!(
                    "{base} AND (c.last_message_at < $2 OR (c.last_message_at = $2 AND c.id < $3)) \
                     ORDER BY c.last_message_at DESC, c.id DESC LIMIT $4"
                ),
                args![number, cur.sort_key(), cur.id(), fetch],
            )
            .await?
        }
    };
    let ids = rows
        .iter()
        .map(|r| r.i64("k_id"))
        .collect::<Result<Vec<_>>>()?;
    let aliases = aliases_of(c, &ids).await?;
    let items = rows
        .iter()
        .map(|r| {
            let conversation = conversation_from(r)?;
            let mut contact = contact_from(r, Vec::new())?;
            contact.previous_bsuids =
                previous_for(&aliases, contact.id.get(), contact.bsuid.as_ref());
            Ok(ConversationView {
                conversation,
                contact,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(paginate(items, page, |v| {
        Cursor::new(
            v.conversation.last_message_at.as_millis(),
            v.conversation.id.get(),
        )
    }))
}

pub(crate) async fn get_conversation(
    c: &mut Conn<'_>,
    id: ConversationId,
) -> Result<ConversationView> {
    let row = c
        .opt(
            &format!(
                "SELECT {CONVERSATION_COLS}, {CONTACT_COLS} FROM conversations c \
                 JOIN contacts k ON k.id = c.contact_id WHERE c.id = $1"
            ),
            args![id],
        )
        .await?
        .ok_or_else(|| StoreError::not_found("conversation", id))?;
    let conversation = conversation_from(&row)?;
    let contact = contact_with_aliases(c, &row).await?;
    Ok(ConversationView {
        conversation,
        contact,
    })
}

pub(crate) async fn list_messages(
    c: &mut Conn<'_>,
    conversation: ConversationId,
    page: PageRequest,
) -> Result<Page<Message>> {
    let fetch = limit_of(page) + 1;
    let rows = match page.after {
        None => {
            c.all(
                &format!(
                    "SELECT {MESSAGE_COLS} FROM messages WHERE conversation_id = $1 \
                     ORDER BY sent_at DESC, id DESC LIMIT $2"
                ),
                args![conversation, fetch],
            )
            .await?
        }
        Some(cur) => {
            c.all(
                &format!(
                    "SELECT {MESSAGE_COLS} FROM messages WHERE conversation_id = $1 \
                     AND (sent_at < $2 OR (sent_at = $2 AND id < $3)) \
                     ORDER BY sent_at DESC, id DESC LIMIT $4"
                ),
                args![conversation, cur.sort_key(), cur.id(), fetch],
            )
            .await?
        }
    };
    let items = rows.iter().map(message_from).collect::<Result<Vec<_>>>()?;
    Ok(paginate(items, page, |m| {
        Cursor::new(m.timestamp.as_millis(), m.id.get())
    }))
}

pub(crate) async fn get_message(
    c: &mut Conn<'_>,
    number: &PhoneNumberId,
    wamid: &Wamid,
) -> Result<Message> {
    let row = c
        .opt(
            &format!("SELECT {MESSAGE_COLS} FROM messages WHERE number_id = $1 AND wamid = $2"),
            args![number, wamid],
        )
        .await?
        .ok_or_else(|| StoreError::not_found("message", wamid))?;
    message_from(&row)
}

pub(crate) async fn status_history(
    c: &mut Conn<'_>,
    number: &PhoneNumberId,
    wamid: &Wamid,
) -> Result<Vec<StatusRecord>> {
    let rows = c
        .all(
            "SELECT number_id, wamid, status, occurred_at, received_at, error_code, error_title, error_details, \
               pricing_billable, pricing_model, pricing_type, pricing_category \
             FROM status_history WHERE number_id = $1 AND wamid = $2 ORDER BY occurred_at, received_at",
            args![number, wamid],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(StatusRecord {
                number: r.parse("number_id")?,
                wamid: r.parse("wamid")?,
                status: r.parse("status")?,
                occurred_at: r.ts("occurred_at")?,
                received_at: r.ts("received_at")?,
                error: error_from(r)?,
                pricing: pricing_from(r)?,
            })
        })
        .collect()
}

pub(crate) async fn sync_progress(
    c: &mut Conn<'_>,
    number: &PhoneNumberId,
) -> Result<Vec<SyncJob>> {
    let rows = c
        .all(
            &format!("SELECT {SYNC_COLS} FROM sync_jobs WHERE number_id = $1 ORDER BY kind"),
            args![number],
        )
        .await?;
    rows.iter().map(sync_job_from).collect()
}

pub(crate) async fn sync_job(
    c: &mut Conn<'_>,
    number: &PhoneNumberId,
    kind: &str,
) -> Result<SyncJob> {
    let row = c
        .one(
            &format!("SELECT {SYNC_COLS} FROM sync_jobs WHERE number_id = $1 AND kind = $2"),
            args![number, kind],
        )
        .await?;
    sync_job_from(&row)
}

pub(crate) async fn events_after(
    c: &mut Conn<'_>,
    ws: WorkspaceId,
    after: EventSeq,
    limit: u32,
) -> Result<Vec<StoredEvent>> {
    let rows = c
        .all(
            "SELECT workspace_id, seq, kind, at, number_id, conversation_id, contact_id, wamid, data \
             FROM events WHERE workspace_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
            args![ws, after, i64::from(limit.clamp(1, 10_000))],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(StoredEvent {
                workspace: WorkspaceId::new(r.i64("workspace_id")?),
                seq: EventSeq::new(r.i64("seq")?),
                kind: r.parse("kind")?,
                at: r.ts("at")?,
                number: r.opt_parse("number_id")?,
                conversation: r.opt_i64("conversation_id")?.map(ConversationId::new),
                contact: r.opt_i64("contact_id")?.map(ContactId::new),
                wamid: r.opt_parse("wamid")?,
                data: RawJson::new(r.str("data")?),
            })
        })
        .collect()
}

pub(crate) async fn change_errors(
    c: &mut Conn<'_>,
    after: i64,
    limit: u32,
) -> Result<Vec<ChangeErrorRecord>> {
    let rows = c
        .all(
            "SELECT id, archive_id, received_at, waba_id, number_id, field, error, raw \
             FROM change_errors WHERE id > $1 ORDER BY id LIMIT $2",
            args![after, i64::from(limit.clamp(1, 10_000))],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(ChangeErrorRecord {
                id: r.i64("id")?,
                archive: r.opt_i64("archive_id")?.map(ArchiveId::new),
                received_at: r.ts("received_at")?,
                waba: r.opt_str("waba_id")?,
                number: r.opt_str("number_id")?,
                field: r.opt_str("field")?,
                error: r.str("error")?,
                raw: r.str("raw")?,
            })
        })
        .collect()
}

pub(crate) async fn pending_archives(
    c: &mut Conn<'_>,
    after: Option<ArchiveId>,
    limit: u32,
) -> Result<Vec<ArchivedWebhook>> {
    let rows = c
        .all(
            "SELECT id, received_at, signature_ok, body, body_encoding, processed_at FROM webhook_archive \
             WHERE processed_at IS NULL AND signature_ok AND id > $1 ORDER BY id LIMIT $2",
            args![
                after.map_or(0, ArchiveId::get),
                i64::from(limit.clamp(1, 10_000))
            ],
        )
        .await?;
    rows.iter().map(archive_from).collect()
}

pub(crate) async fn get_archive(c: &mut Conn<'_>, id: ArchiveId) -> Result<ArchivedWebhook> {
    let row = c
        .opt(
            "SELECT id, received_at, signature_ok, body, body_encoding, processed_at FROM webhook_archive WHERE id = $1",
            args![id],
        )
        .await?
        .ok_or_else(|| StoreError::not_found("archived webhook", id))?;
    archive_from(&row)
}
