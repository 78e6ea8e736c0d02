//! [`SendService`]: the policy at enqueue time, the queue, and what the REST API reads back
//! (a send with its attempts and cost, a number's cost ledger, its lane).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use coex_core::model::{CustomerKey, MessageStatus, Number, Origin, Timestamp};
use coex_core::policy::{
    ConversationFacts, Decision, Feature, FreeFormKind, NeedsTemplateReason, NumberFacts,
    Recipient, Refusal, SendContent, SendFacts, TemplateFacts, Window, decide,
};
use coex_core::pricing::{Amount, Category, Country, PriceTable};
use coex_core::{PhoneNumberId, WabaId};
use coex_meta::graph::{
    GraphError, Recipient as GraphRecipient, RecipientType, SendMessageRequest, ValidationError,
};
use coex_store::send::{
    AttemptRecord, Enqueued, IdempotencyKey, LaneRecord, NewSend, SendContext, SendErrorInfo,
    SendId, SendRecord, SendState, SendStore,
};
use coex_store::{SqlStore, Store, StoreError};
use serde::Serialize;
use serde_json::Value;

use super::engine::SendEngine;
use super::request::{self, MediaHint};
use super::templates::TemplateCache;
use crate::http::error::ApiError;
use crate::ingest::Clock;

/// One send request as the REST API (or a campaign, or automation) hands it over.
#[derive(Debug, Clone, PartialEq)]
pub struct SendInput {
    /// The Graph API body (`POST /{phone_number_id}/messages`), any message type.
    pub body: Value,
    /// `api_agent`, `automation` or `campaign`.
    pub origin: Origin,
    /// Who sent it within its origin (an agent, a rule, a campaign).
    pub sender: Option<String>,
    pub idempotency_key: Option<IdempotencyKey>,
    /// What the client knows about a media asset we cannot see.
    pub media: Option<MediaHint>,
    /// Sent through the Marketing Messages Lite API.
    pub marketing_messages_lite: bool,
}

impl SendInput {
    /// An agent's send of `body`.
    pub fn new(body: Value) -> Self {
        Self {
            body,
            origin: Origin::ApiAgent,
            sender: None,
            idempotency_key: None,
            media: None,
            marketing_messages_lite: false,
        }
    }
}

/// Why a send was not queued (or cannot be read).
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("no registered number {0}")]
    NumberNotFound(PhoneNumberId),
    #[error("no send {0}")]
    SendNotFound(SendId),
    #[error("{0}")]
    BadBody(String),
    #[error("{0}")]
    Invalid(ValidationError),
    #[error("origin {0} does not send through the API; use api_agent, automation or campaign")]
    BadOrigin(Origin),
    #[error("{0}")]
    Refused(Refusal),
    #[error("{detail}")]
    NeedsTemplate {
        reason: NeedsTemplateReason,
        detail: String,
    },
    #[error("{0}")]
    IdempotencyConflict(String),
    #[error("the WABA's templates could not be read from Meta: {0}")]
    Templates(GraphError),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for SendError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(msg) => Self::IdempotencyConflict(msg),
            other => Self::Store(other),
        }
    }
}

impl SendError {
    /// The stable code of the REST error body.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NumberNotFound(_) => "number_not_found",
            Self::SendNotFound(_) => "send_not_found",
            Self::BadBody(_) => "invalid_body",
            Self::Invalid(_) => "invalid_message",
            Self::BadOrigin(_) => "bad_origin",
            Self::Refused(r) => r.code(),
            Self::NeedsTemplate { .. } => "needs_template",
            Self::IdempotencyConflict(_) => "idempotency_key_reused",
            Self::Templates(_) => "templates_unavailable",
            Self::Store(_) => "store",
        }
    }
}

impl From<SendError> for ApiError {
    fn from(e: SendError) -> Self {
        use axum::http::StatusCode;
        let detail = e.to_string();
        match e {
            SendError::NumberNotFound(_) | SendError::SendNotFound(_) => {
                ApiError::not_found(e.code(), detail)
            }
            SendError::BadBody(_) | SendError::BadOrigin(_) => {
                ApiError::bad_request(e.code(), detail)
            }
            SendError::Invalid(_) | SendError::Refused(_) | SendError::NeedsTemplate { .. } => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.code(), detail)
            }
            SendError::IdempotencyConflict(_) => {
                ApiError::new(StatusCode::CONFLICT, e.code(), detail)
            }
            SendError::Templates(_) => ApiError::unavailable(e.code(), detail, 5),
            SendError::Store(s) => ApiError::from(s),
        }
    }
}

/// A send's cost: the estimate, and Meta's pricing once a status webhook carried it.
#[derive(Debug, Clone, Serialize)]
pub struct CostView {
    pub currency: String,
    pub category: Category,
    pub country: Option<Country>,
    pub estimated: Amount,
    /// From Meta's `pricing` (and the price table), once known.
    pub actual: Option<Amount>,
    /// `estimate` until Meta priced the message, then `meta`.
    pub source: &'static str,
}

/// A send as the REST API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct SendView {
    pub id: SendId,
    pub number: PhoneNumberId,
    pub state: SendState,
    /// The message's delivery status from status webhooks (sent, delivered, read, failed).
    pub status: Option<MessageStatus>,
    pub wamid: Option<coex_core::Wamid>,
    pub recipient: Recipient,
    pub customer: CustomerKey,
    pub origin: Origin,
    pub sender: Option<String>,
    pub kind: String,
    pub business_initiated: bool,
    pub error: Option<SendErrorInfo>,
    /// Why a queued send waits (pair_rate, throughput, messaging_limit, lane_stopped, …).
    pub waiting: Option<String>,
    pub not_before: Timestamp,
    pub attempt_count: u32,
    pub cost: CostView,
    pub idempotency_key: Option<String>,
    pub created_at: Timestamp,
    pub accepted_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    /// The Graph API body as sent.
    pub request: Value,
    pub attempts: Vec<AttemptRecord>,
}

/// One (day, category) line of a number's cost ledger.
#[derive(Debug, Clone, Serialize)]
pub struct CostLine {
    /// `YYYY-MM-DD` (UTC).
    pub date: String,
    pub category: Category,
    pub messages: u64,
    /// Of `messages`, how many Meta has priced (the rest count at their estimate).
    pub priced_by_meta: u64,
    /// Meta's pricing where known, the estimate elsewhere.
    pub amount: Amount,
    /// The estimates alone, for comparison.
    pub estimated: Amount,
}

/// Totals of a number's accepted sends in a time range.
#[derive(Debug, Clone, Serialize)]
pub struct CostReport {
    pub number: PhoneNumberId,
    pub currency: String,
    pub from: Timestamp,
    pub to: Timestamp,
    pub lines: Vec<CostLine>,
    pub by_category: BTreeMap<String, Amount>,
    pub messages: u64,
    pub total: Amount,
    pub estimated: Amount,
}

/// One send request as [`SendService::new_send`] decides it.
struct Request<'a> {
    /// Typed and validated; its recipient is set from the decision.
    req: &'a SendMessageRequest,
    /// The policy's view of the request, addressed to the request's key (the contact's
    /// identifiers replace it).
    facts: SendFacts,
    catalog: &'a [TemplateFacts],
    /// The WABA whose catalog this is (templates only).
    waba: Option<&'a WabaId>,
    input: &'a SendInput,
    now: Timestamp,
}

/// Why [`SendService::new_send`] made no queue row.
enum Undecided {
    Refused(SendError),
    /// The number belongs to this WABA now: the catalog was another's.
    WabaMoved(WabaId),
}

/// The sending side of the hub. Cheap to share behind an `Arc`.
pub struct SendService {
    store: SqlStore,
    templates: Arc<TemplateCache>,
    // Why a std Mutex: held for a lookup or an insert, never across an await.
    /// Each number's WABA, for its template catalog (see [`SendService::waba_of`]).
    wabas: Mutex<HashMap<PhoneNumberId, WabaId>>,
    prices: PriceTable,
    engine: SendEngine,
    clock: Clock,
}

impl std::fmt::Debug for SendService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SendService")
            .field("engine", &self.engine)
            .finish_non_exhaustive()
    }
}

impl SendService {
    pub fn new(
        store: SqlStore,
        templates: Arc<TemplateCache>,
        prices: PriceTable,
        engine: SendEngine,
        clock: Clock,
    ) -> Self {
        Self {
            store,
            templates,
            wabas: Mutex::default(),
            prices,
            engine,
            clock,
        }
    }

    pub fn engine(&self) -> &SendEngine {
        &self.engine
    }

    pub fn prices(&self) -> &PriceTable {
        &self.prices
    }

    /// Decides and queues one send. `Ok((view, true))` for a new send, `(view, false)` when
    /// the idempotency key named an earlier one.
    ///
    /// Everything the decision needs from the store (the number, the contact, the window) is
    /// read in the transaction that queues the send ([`SendStore::decide_and_enqueue`]); only
    /// a template's catalog is looked up before it (cached per WABA; see [`Self::waba_of`]).
    pub async fn enqueue(
        &self,
        number_id: &PhoneNumberId,
        input: SendInput,
    ) -> Result<(SendView, bool), SendError> {
        if !input.origin.is_api() {
            return Err(SendError::BadOrigin(input.origin));
        }
        if !input.body.is_object() {
            return Err(SendError::BadBody(
                "the body must be a Graph API message object".into(),
            ));
        }
        let now = (self.clock)();
        let features = request::features(&input.body, input.marketing_messages_lite);
        if !features.is_empty() {
            self.refuse_features(number_id, &features, now).await?;
        }
        let mut req: SendMessageRequest = serde_json::from_value(input.body.clone())
            .map_err(|e| SendError::BadBody(format!("not a Graph API message: {e}")))?;
        req.validate().map_err(SendError::Invalid)?;
        let key = match req.target() {
            Ok(GraphRecipient::Phone(p)) => CustomerKey::Phone(p),
            Ok(GraphRecipient::User(b)) => CustomerKey::Bsuid(b),
            Ok(GraphRecipient::Group(_)) => {
                return Err(SendError::BadBody("group sends are not supported".into()));
            }
            Err(e) => return Err(SendError::BadBody(e.to_string())),
        };
        req.recipient_type = Some(RecipientType::Individual);
        let content = request::send_content(&req, input.media.as_ref());
        let template = match &content {
            SendContent::Template(t) => Some(t.name.clone()),
            _ => None,
        };
        let mut waba = match template {
            Some(_) => Some(self.waba_of(number_id).await?),
            None => None,
        };
        let queued = loop {
            let catalog = match (&waba, &template) {
                (Some(w), Some(name)) => match self.templates.catalog(w, Some(name)).await {
                    Ok(c) => c,
                    Err(e) => {
                        // Perhaps the number is no longer this WABA's: the next request
                        // reads it again.
                        self.forget_waba(number_id);
                        return Err(SendError::Templates(e));
                    }
                },
                _ => Arc::new(Vec::new()),
            };
            let facts = SendFacts {
                recipient: key.clone(),
                content: content.clone(),
                features: features.clone(),
            };
            let request = Request {
                req: &req,
                facts,
                catalog: &catalog,
                waba: waba.as_ref(),
                input: &input,
                now,
            };
            // When the number's lane runs here, the send is claimed for it in the same
            // transaction (if it can go at once) and handed over: one transaction less
            // between the request and Meta.
            let owner = self.engine.local_lane(number_id);
            let decided = self
                .store
                .decide_and_enqueue(number_id, &key, owner, |context| {
                    self.new_send(context, &request)
                })
                .await;
            match decided {
                Ok(Ok(q)) => break q,
                Ok(Err(Undecided::Refused(e))) => return Err(e),
                Ok(Err(Undecided::WabaMoved(moved))) => {
                    // The number moved to another WABA since it was cached: its templates
                    // are that WABA's. Decided again with that catalog (once more, unless
                    // it moves again in between).
                    self.remember_waba(number_id, &moved);
                    waba = Some(moved);
                }
                Err(StoreError::NotFound { .. }) => {
                    self.forget_waba(number_id);
                    return Err(SendError::NumberNotFound(number_id.clone()));
                }
                Err(e) => return Err(e.into()),
            }
        };
        let created = matches!(queued.enqueued, Enqueued::Created(_));
        match queued.claimed {
            Some(send) => self.engine.hand_over(send).await,
            None if created => self.engine.notify(number_id),
            None => {}
        }
        Ok((self.view(queued.record, queued.attempts), created))
    }

    /// A request with a feature Coexistence disables is refused before its body is typed (a
    /// `live_location` or `revoke` body has no typed form); the policy answers the number's
    /// state first, so the number is read here.
    async fn refuse_features(
        &self,
        number_id: &PhoneNumberId,
        features: &[Feature],
        now: Timestamp,
    ) -> Result<(), SendError> {
        let number = self.number(number_id).await?;
        let probe = SendFacts {
            recipient: CustomerKey::Phone(number.display_phone.clone()),
            content: SendContent::FreeForm {
                kind: FreeFormKind::Other,
            },
            features: features.to_vec(),
        };
        match decide(
            &NumberFacts::from(&number),
            &ConversationFacts::default(),
            &probe,
            &Vec::<TemplateFacts>::new(),
            now,
        ) {
            Decision::Refused(r) => Err(SendError::Refused(r)),
            _ => Ok(()),
        }
    }

    /// The policy's decision on `request` with what the store read in the enqueue's
    /// transaction, and the queue row it makes. No I/O: it may run more than once.
    fn new_send(&self, context: &SendContext, r: &Request<'_>) -> Result<NewSend, Undecided> {
        let number = &context.number;
        if let Some(waba) = r.waba
            && *waba != number.waba
        {
            return Err(Undecided::WabaMoved(number.waba.clone()));
        }
        let mut facts = r.facts.clone();
        // Whichever identifiers the contact has: the policy sends to the phone when known.
        facts.recipient = context.customer.clone();
        let conversation = ConversationFacts {
            last_inbound_at: context.last_inbound_at,
        };
        let decision = decide(
            &NumberFacts::from(number),
            &conversation,
            &facts,
            r.catalog,
            r.now,
        );
        let (category, recipient, window) = match decision {
            Decision::SendNow {
                category,
                recipient,
                window,
                ..
            } => (category, recipient, window),
            Decision::Refused(refusal) => {
                return Err(Undecided::Refused(SendError::Refused(refusal)));
            }
            d @ Decision::NeedsTemplate { reason, .. } => {
                return Err(Undecided::Refused(SendError::NeedsTemplate {
                    reason,
                    detail: d.detail(),
                }));
            }
        };
        let mut req = r.req.clone();
        match &recipient {
            Recipient::Phone(p) => {
                req.to = Some(p.e164());
                req.recipient = None;
            }
            Recipient::Bsuid(b) => {
                req.to = None;
                req.recipient = Some(b.as_str().to_owned());
            }
        }
        let is_template = matches!(facts.content, SendContent::Template(_));
        let country = Country::of_customer(&facts.recipient);
        let estimated = self
            .prices
            .estimate(category, country, window.is_open(), r.input.origin)
            .amount();
        let window_closes_at = match window {
            Window::Open { closes_at } if !is_template => Some(closes_at),
            _ => None,
        };
        let request = serde_json::to_string(&req)
            .map_err(|e| Undecided::Refused(SendError::BadBody(e.to_string())))?;
        Ok(NewSend {
            workspace: number.workspace,
            number: number.id.clone(),
            customer: facts.recipient,
            recipient,
            origin: r.input.origin,
            sender: r.input.sender.clone(),
            kind: req.content.kind().to_owned(),
            request,
            content: request::stored_content(&req),
            category,
            country,
            business_initiated: is_template && !window.is_open(),
            window_closes_at,
            estimated,
            currency: self.prices.currency.to_string(),
            idempotency_key: r.input.idempotency_key.clone(),
            not_before: r.now,
        })
    }

    /// The number, or `NumberNotFound`.
    async fn number(&self, id: &PhoneNumberId) -> Result<Number, SendError> {
        match self.store.get_number(id).await {
            Ok(n) => {
                self.remember_waba(id, &n.waba);
                Ok(n)
            }
            Err(StoreError::NotFound { .. }) => {
                self.forget_waba(id);
                Err(SendError::NumberNotFound(id.clone()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The WABA whose templates a number sends: remembered once read, since a number rarely
    /// moves to another WABA (and [`Self::new_send`] notices when it did).
    async fn waba_of(&self, id: &PhoneNumberId) -> Result<WabaId, SendError> {
        let known = self
            .wabas
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .cloned();
        match known {
            Some(w) => Ok(w),
            None => Ok(self.number(id).await?.waba),
        }
    }

    fn remember_waba(&self, id: &PhoneNumberId, waba: &WabaId) {
        let mut wabas = self.wabas.lock().unwrap_or_else(PoisonError::into_inner);
        if wabas.get(id) != Some(waba) {
            wabas.insert(id.clone(), waba.clone());
        }
    }

    fn forget_waba(&self, id: &PhoneNumberId) {
        self.wabas
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id);
    }

    /// A send with its attempts and cost.
    pub async fn get(&self, id: SendId) -> Result<SendView, SendError> {
        let record = match self.store.get_send(id).await {
            Ok(r) => r,
            Err(StoreError::NotFound { .. }) => return Err(SendError::SendNotFound(id)),
            Err(e) => return Err(e.into()),
        };
        let attempts = self.store.send_attempts(id).await?;
        Ok(self.view(record, attempts))
    }

    fn view(&self, r: SendRecord, attempts: Vec<AttemptRecord>) -> SendView {
        let actual = r
            .pricing
            .as_ref()
            .map(|p| self.prices.actual(p, r.category, r.country));
        let cost = CostView {
            currency: r.currency.clone(),
            category: actual.map_or(r.category, |a| a.category),
            country: r.country,
            estimated: r.estimated,
            actual: actual.map(|a| a.cost.amount()),
            source: if actual.is_some() { "meta" } else { "estimate" },
        };
        SendView {
            id: r.id,
            number: r.number,
            state: r.state,
            status: r.message_status,
            wamid: r.wamid,
            recipient: r.recipient,
            customer: r.customer,
            origin: r.origin,
            sender: r.sender,
            kind: r.kind,
            business_initiated: r.business_initiated,
            error: r.error,
            waiting: r.waiting,
            not_before: r.not_before,
            attempt_count: r.attempts,
            cost,
            idempotency_key: r.idempotency_key,
            created_at: r.created_at,
            accepted_at: r.accepted_at,
            finished_at: r.finished_at,
            request: serde_json::from_str(&r.request).unwrap_or(Value::Null),
            attempts,
        }
    }

    /// The number's cost ledger for sends accepted in `[from, to)`: per day and category,
    /// Meta's pricing where the status webhooks brought it, the estimate elsewhere. By
    /// default `to` is the end of today and `from` thirty days earlier.
    pub async fn costs(
        &self,
        number: &PhoneNumberId,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
    ) -> Result<CostReport, SendError> {
        const DAY_MS: i64 = 86_400_000;
        let to = to.unwrap_or_else(|| {
            Timestamp::from_millis(((self.clock)().as_millis().div_euclid(DAY_MS) + 1) * DAY_MS)
        });
        let from = from.unwrap_or_else(|| to.plus_millis(-30 * DAY_MS));
        self.number(number).await?;
        let rows = self.store.cost_rows(number, from, to).await?;
        let mut lines: BTreeMap<(i64, &'static str), CostLine> = BTreeMap::new();
        for row in rows {
            let (category, amount, priced) = match &row.pricing {
                Some(p) => {
                    let a = self.prices.actual(p, row.category, row.country);
                    (
                        a.category,
                        a.cost.amount().times(row.messages),
                        row.messages,
                    )
                }
                None => (row.category, row.estimated, 0),
            };
            let line = lines
                .entry((row.day, category.as_str()))
                .or_insert_with(|| CostLine {
                    date: civil_date(row.day),
                    category,
                    messages: 0,
                    priced_by_meta: 0,
                    amount: Amount::ZERO,
                    estimated: Amount::ZERO,
                });
            line.messages += row.messages;
            line.priced_by_meta += priced;
            line.amount = line.amount.saturating_add(amount);
            line.estimated = line.estimated.saturating_add(row.estimated);
        }
        let lines: Vec<CostLine> = lines.into_values().collect();
        let mut by_category: BTreeMap<String, Amount> = BTreeMap::new();
        for l in &lines {
            let e = by_category
                .entry(l.category.as_str().to_owned())
                .or_insert(Amount::ZERO);
            *e = e.saturating_add(l.amount);
        }
        Ok(CostReport {
            number: number.clone(),
            currency: self.prices.currency.to_string(),
            from,
            to,
            messages: lines.iter().map(|l| l.messages).sum(),
            total: lines.iter().map(|l| l.amount).sum(),
            estimated: lines.iter().map(|l| l.estimated).sum(),
            by_category,
            lines,
        })
    }

    /// The number's lane: owner, pause, the alert that stopped it, queue depth.
    pub async fn lane(&self, number: &PhoneNumberId) -> Result<LaneRecord, SendError> {
        match self.store.get_lane(number).await {
            Ok(l) => Ok(l),
            Err(StoreError::NotFound { .. }) => Err(SendError::NumberNotFound(number.clone())),
            Err(e) => Err(e.into()),
        }
    }

    /// Clears the alert that stopped the number's lane (after fixing the token, say).
    pub async fn resume(&self, number: &PhoneNumberId) -> Result<LaneRecord, SendError> {
        let lane = self.lane(number).await?;
        let was_stopped = self.store.resume_lane(number).await?;
        if was_stopped || lane.paused_until.is_some() {
            tracing::info!(number = %number, "lane resumed");
        }
        self.engine.resumed(number);
        self.lane(number).await
    }

    /// Forgets a WABA's cached templates.
    pub fn templates_changed(&self, waba: &WabaId) {
        self.templates.invalidate(waba);
    }
}

/// `YYYY-MM-DD` of a day number since the Unix epoch (Howard Hinnant's civil-from-days).
pub fn civil_date(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!("{y:04}-{m:02}-{d:02}")
}

/// The day number since the Unix epoch of `YYYY-MM-DD` (the inverse of [`civil_date`]).
pub fn days_from_civil(date: &str) -> Option<i64> {
    let mut parts = date.splitn(3, '-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let d: i64 = parts.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_round_trip() {
        assert_eq!(civil_date(0), "1970-01-01");
        assert_eq!(civil_date(20_254), "2025-06-15");
        assert_eq!(days_from_civil("2025-06-15"), Some(20_254));
        for d in [-1000, 0, 59, 60, 11_016, 20_254, 30_000] {
            assert_eq!(days_from_civil(&civil_date(d)), Some(d));
        }
        assert_eq!(days_from_civil("2025-13-01"), None);
        assert_eq!(days_from_civil("x"), None);
    }
}
