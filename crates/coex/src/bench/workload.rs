//! The ingest benchmark's workload: signed webhook bodies in Meta's wire shapes, built before a
//! measured step so that JSON building and HMAC signing cost nothing while it runs.
//!
//! The mix follows the issue: about 70% statuses, 20% inbound customer messages (several types,
//! some customers known only by BSUID), 5% echoes, 4% contact sync (`smb_app_state_sync`) and 1%
//! history chunks of 100 KB–3 MB (sizes log-uniform, so most chunks are small as in real
//! onboardings), plus a share of exact redeliveries (the same bytes again).
//!
//! Statuses name messages the bench "sent" through the API: each step comes with the
//! [`SentMessage`]s to record in the store before it runs (what the send path would have
//! written), so no status is an orphan. Each message gets `sent`, then `delivered` a little
//! later in the stream, then `read` later still; concurrent commits may still reorder them, which
//! the store reports as stale, as it would for Meta's own out-of-order deliveries.
//!
//! Every original body carries keys no other body has (fresh wamids, contact phones, chunk
//! numbers), so "unique" and "duplicate" are known exactly: a body's units are stored once, and
//! every further acknowledged delivery of it is a duplicate the store must ignore.

use std::fmt::Write as _;

use bytes::Bytes;
use coex_core::model::{CustomerKey, CustomerRef, MessageContent, Origin, SentMessage, Timestamp};
use coex_core::{Bsuid, PhoneNumber, PhoneNumberId, Wamid};
use rand::{Rng, SeedableRng, rngs::StdRng, seq::SliceRandom};
use serde::Serialize;

/// What a webhook body carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Status,
    Inbound,
    Echo,
    ContactSync,
    History,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Status,
        Kind::Inbound,
        Kind::Echo,
        Kind::ContactSync,
        Kind::History,
    ];

    /// The kind's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Status => "status",
            Kind::Inbound => "inbound",
            Kind::Echo => "echo",
            Kind::ContactSync => "contact_sync",
            Kind::History => "history",
        }
    }

    /// Share of original bodies, in percent.
    pub fn weight(self) -> u32 {
        match self {
            Kind::Status => 70,
            Kind::Inbound => 20,
            Kind::Echo => 5,
            Kind::ContactSync => 4,
            Kind::History => 1,
        }
    }
}

/// Countable things in a body, each stored once however often the body is delivered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Units {
    /// Live inbound messages and echoes (one row in `messages` each).
    pub messages: u64,
    /// Status webhooks (one row in `status_history` per wamid and status).
    pub statuses: u64,
    /// Contacts added in the phone app.
    pub contacts: u64,
    /// Messages inside history chunks.
    pub history_messages: u64,
    pub history_chunks: u64,
}

impl Units {
    pub fn add(&mut self, o: &Units) {
        self.messages += o.messages;
        self.statuses += o.statuses;
        self.contacts += o.contacts;
        self.history_messages += o.history_messages;
        self.history_chunks += o.history_chunks;
    }
}

/// One request to make: the whole HTTP/1.1 request, signed, and what its body carries.
#[derive(Debug, Clone)]
pub struct Webhook {
    /// `POST /webhook` with `X-Hub-Signature-256` and the body, ready to write to a socket.
    pub request: Bytes,
    pub body_len: usize,
    pub kind: Kind,
    pub units: Units,
    /// Identifies the original body; a redelivery shares its original's id.
    pub original: u64,
    pub redelivery: bool,
}

/// An API send the bench records before the step, and who it went to.
#[derive(Debug)]
struct PlannedSend {
    number: usize,
    customer: usize,
    message: SentMessage,
}

/// The sends of a step, and its status webhooks in order as `(send index, stage)` with stage
/// 0 `sent`, 1 `delivered`, 2 `read`.
#[derive(Debug)]
struct StatusPlan {
    sent: Vec<PlannedSend>,
    order: Vec<(usize, u8)>,
}

/// A measured step's bodies and the API sends its statuses refer to.
#[derive(Debug)]
pub struct StepLoad {
    pub webhooks: Vec<Webhook>,
    pub sent: Vec<SentMessage>,
}

/// A business number of the fleet.
#[derive(Debug, Clone)]
pub struct FleetNumber {
    pub id: PhoneNumberId,
    pub display: PhoneNumber,
}

/// A customer and how Meta names them: by phone and BSUID, by phone only (before BSUIDs), or
/// by BSUID only (the number is hidden).
#[derive(Debug, Clone)]
struct Customer {
    name: String,
    phone: Option<String>,
    bsuid: Option<String>,
}

/// Workload tuning.
#[derive(Debug, Clone, Copy)]
pub struct Mix {
    /// Share of requests that repeat an earlier body byte for byte.
    pub redeliver: f64,
    pub history_min_bytes: usize,
    pub history_max_bytes: usize,
}

/// Builds the bodies of successive steps from one seed; ids never repeat across steps.
#[derive(Debug)]
pub struct Generator {
    seed: u64,
    steps: u64,
    secret: Vec<u8>,
    /// The server's `host:port`, for the `Host` header.
    host: String,
    waba: String,
    numbers: Vec<FleetNumber>,
    customers: Vec<Customer>,
    mix: Mix,
    /// Distinguishes this run's wamids from any earlier run's.
    run_tag: String,
    next_id: u64,
    next_original: u64,
    next_contact: u64,
    next_chunk: u64,
    /// Meta's clock for `timestamp` fields, in seconds, advanced as requests are planned.
    clock: f64,
}

const LOREM: &str = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod \
tempor incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud \
exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat. Duis aute irure dolor in \
reprehenderit in voluptate velit esse cillum dolore eu fugiat nulla pariatur.";

const FIRST_NAMES: &[&str] = &[
    "Sheena", "Pablo", "Amara", "Jun", "Lucia", "Omar", "Ingrid", "Ravi", "Chen", "Fatima",
];

impl Generator {
    pub fn new(
        seed: u64,
        secret: &[u8],
        host: &str,
        waba: &str,
        numbers: Vec<FleetNumber>,
        mix: Mix,
        start: Timestamp,
    ) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let customers = (0..4000u64)
            .map(|i| {
                let first = FIRST_NAMES[(i as usize) % FIRST_NAMES.len()];
                let phone = format!("1650{:07}", 1_000_000 + i);
                let bsuid = format!("US.{}", 10_000_000_000_000_000_000u64 + i * 7919);
                let (phone, bsuid) = match rng.gen_range(0..100) {
                    0..60 => (Some(phone), Some(bsuid)),
                    60..85 => (Some(phone), None),
                    _ => (None, Some(bsuid)),
                };
                Customer {
                    name: format!("{first} {i}"),
                    phone,
                    bsuid,
                }
            })
            .collect();
        Self {
            seed,
            steps: 0,
            secret: secret.to_vec(),
            host: host.to_owned(),
            waba: waba.to_owned(),
            numbers,
            customers,
            mix,
            run_tag: format!("{:08X}", rng.r#gen::<u32>()),
            next_id: 0,
            next_original: 0,
            next_contact: 0,
            next_chunk: 0,
            clock: start.as_secs() as f64,
        }
    }

    /// Plans `n` requests arriving at `rate` per second.
    pub fn step(&mut self, n: usize, rate: f64) -> anyhow::Result<StepLoad> {
        self.steps += 1;
        let mut rng =
            StdRng::seed_from_u64(self.seed.wrapping_add(self.steps.wrapping_mul(0x9E37_79B9)));
        // First the shape of the step (which slot is what), so the statuses can be planned.
        let slots: Vec<Option<Kind>> = (0..n)
            .map(|i| {
                if i > 0 && rng.gen_bool(self.mix.redeliver.clamp(0.0, 1.0)) {
                    None
                } else {
                    Some(pick_kind(&mut rng))
                }
            })
            .collect();
        let n_status = slots.iter().filter(|k| **k == Some(Kind::Status)).count();
        let StatusPlan { sent, order } = self.plan_statuses(&mut rng, n_status)?;
        let mut statuses = order.into_iter();
        let mut webhooks: Vec<Webhook> = Vec::with_capacity(n);
        let mut originals: Vec<usize> = Vec::new();
        let step_secs = 1.0 / rate.max(1e-3);
        for slot in slots {
            self.clock += step_secs;
            let Some(kind) = slot else {
                // A redelivery of one of the recent originals, as Meta retries soon after.
                let recent = &originals[originals.len().saturating_sub(2000)..];
                if let Some(&i) = recent.choose(&mut rng) {
                    let mut again = webhooks[i].clone();
                    again.redelivery = true;
                    webhooks.push(again);
                    continue;
                }
                continue;
            };
            let (body, units) = match kind {
                Kind::Status => {
                    let (msg, stage) = statuses.next().unwrap_or((0, 0));
                    self.status(&sent[msg], stage)
                }
                Kind::Inbound => self.inbound(&mut rng),
                Kind::Echo => self.echo(&mut rng),
                Kind::ContactSync => self.contact_sync(&mut rng),
                Kind::History => self.history(&mut rng),
            };
            let signature = coex_meta::signature::sign(&self.secret, body.as_bytes());
            let mut request = String::with_capacity(body.len() + 256);
            let _ = write!(
                request,
                "POST /webhook HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\n\
                 x-hub-signature-256: {signature}\r\ncontent-length: {}\r\n\r\n",
                self.host,
                body.len()
            );
            request.push_str(&body);
            originals.push(webhooks.len());
            webhooks.push(Webhook {
                request: Bytes::from(request),
                body_len: body.len(),
                kind,
                units,
                original: self.next_original,
                redelivery: false,
            });
            self.next_original += 1;
        }
        Ok(StepLoad {
            webhooks,
            sent: sent.into_iter().map(|p| p.message).collect(),
        })
    }

    /// The API sends the step's statuses refer to, and the order of `(message, stage)` status
    /// webhooks: message `m`'s `sent` at position `3m`, `delivered` about `lag_d` messages
    /// later, `read` about `lag_r` later.
    fn plan_statuses(&mut self, rng: &mut StdRng, n: usize) -> anyhow::Result<StatusPlan> {
        let lag_d = (n / 20).min(300);
        let lag_r = (n / 6).min(3000);
        let messages = n / 3 + lag_r + 1;
        let mut plan: Vec<(usize, usize, u8)> = Vec::with_capacity(messages * 3);
        for m in 0..messages {
            let jitter =
                |rng: &mut StdRng, lag: usize| 3 * (m + lag) + rng.gen_range(0..=lag / 3 + 1);
            plan.push((3 * m, m, 0));
            plan.push((jitter(rng, lag_d), m, 1));
            plan.push((jitter(rng, lag_r), m, 2));
        }
        plan.sort_unstable();
        plan.truncate(n);
        let mut sent = Vec::with_capacity(messages);
        for m in 0..messages {
            let number = m % self.numbers.len();
            let customer = (m * 13) % self.customers.len();
            let message = SentMessage {
                number: self.numbers[number].id.clone(),
                wamid: Wamid::parse(self.wamid('S'))?,
                customer: customer_ref(&self.customers[customer])?,
                timestamp: Timestamp::from_secs(self.ts()),
                origin: Origin::ApiAgent,
                sender: None,
                content: MessageContent::text("Your order has shipped."),
                send: None,
            };
            sent.push(PlannedSend {
                number,
                customer,
                message,
            });
        }
        let order: Vec<(usize, u8)> = plan.into_iter().map(|(_, m, s)| (m, s)).collect();
        Ok(StatusPlan { sent, order })
    }

    /// A fresh wamid, shaped like Meta's.
    fn wamid(&mut self, tag: char) -> String {
        self.next_id += 1;
        format!("wamid.HBgL{tag}{}{:012X}AA==", self.run_tag, self.next_id)
    }

    fn ts(&self) -> i64 {
        self.clock as i64
    }

    fn number<'a>(&'a self, rng: &mut StdRng) -> &'a FleetNumber {
        &self.numbers[rng.gen_range(0..self.numbers.len())]
    }

    fn envelope(&self, field: &str, number: &FleetNumber, inner: &str) -> String {
        format!(
            "{{\"object\":\"whatsapp_business_account\",\"entry\":[{{\"id\":\"{waba}\",\"changes\":[{{\"value\":\
             {{\"messaging_product\":\"whatsapp\",\"metadata\":{{\"display_phone_number\":\"{disp}\",\
             \"phone_number_id\":\"{id}\"}},{inner}}},\"field\":\"{field}\"}}]}}]}}",
            waba = self.waba,
            disp = number.display.digits(),
            id = number.id,
        )
    }

    fn status(&self, sent: &PlannedSend, stage: u8) -> (String, Units) {
        let number = &self.numbers[sent.number];
        let customer = &self.customers[sent.customer];
        let status = ["sent", "delivered", "read"][usize::from(stage.min(2))];
        let mut item = format!(
            "{{\"id\":\"{}\",\"status\":\"{status}\",\"timestamp\":\"{}\"",
            sent.message.wamid,
            self.ts()
        );
        if let Some(p) = &customer.phone {
            let _ = write!(item, ",\"recipient_id\":\"{p}\"");
        }
        if let Some(b) = &customer.bsuid {
            let _ = write!(item, ",\"recipient_user_id\":\"{b}\"");
        }
        if stage < 2 {
            item.push_str(
                ",\"pricing\":{\"billable\":true,\"pricing_model\":\"PMP\",\"type\":\"regular\",\
                 \"category\":\"utility\"}",
            );
        }
        item.push('}');
        let inner = format!(
            "\"contacts\":[{}],\"statuses\":[{item}]",
            contact_json(customer)
        );
        let units = Units {
            statuses: 1,
            ..Units::default()
        };
        (self.envelope("messages", number, &inner), units)
    }

    fn inbound(&mut self, rng: &mut StdRng) -> (String, Units) {
        let number = self.number(rng).clone();
        let customer = self.customers[rng.gen_range(0..self.customers.len())].clone();
        let wamid = self.wamid('I');
        let mut m = String::with_capacity(512);
        if let Some(p) = &customer.phone {
            let _ = write!(m, "\"from\":\"{p}\",");
        }
        if let Some(b) = &customer.bsuid {
            let _ = write!(m, "\"from_user_id\":\"{b}\",");
        }
        let _ = write!(m, "\"id\":\"{wamid}\",\"timestamp\":\"{}\",", self.ts());
        let media = |rng: &mut StdRng| -> (u64, String) {
            let id = rng.gen_range(10_000_000_000_000_000u64..99_999_999_999_999_999);
            (id, format!("{:064x}", rng.r#gen::<u128>()))
        };
        match rng.gen_range(0..100) {
            0..60 => {
                let _ = write!(
                    m,
                    "\"type\":\"text\",\"text\":{{\"body\":\"{}\"}}",
                    lorem(rng)
                );
            }
            60..75 => {
                let (id, sha) = media(rng);
                let _ = write!(
                    m,
                    "\"type\":\"image\",\"image\":{{\"caption\":\"{}\",\"mime_type\":\"image/jpeg\",\
                     \"sha256\":\"{sha}\",\"id\":\"{id}\"}}",
                    lorem(rng)
                );
            }
            75..80 => {
                let (id, sha) = media(rng);
                let _ = write!(
                    m,
                    "\"type\":\"audio\",\"audio\":{{\"mime_type\":\"audio/ogg; codecs=opus\",\
                     \"sha256\":\"{sha}\",\"id\":\"{id}\",\"voice\":true}}"
                );
            }
            80..85 => {
                let (id, sha) = media(rng);
                let _ = write!(
                    m,
                    "\"type\":\"document\",\"document\":{{\"caption\":\"Invoice\",\"filename\":\
                     \"invoice-{id}.pdf\",\"mime_type\":\"application/pdf\",\"sha256\":\"{sha}\",\
                     \"id\":\"{id}\"}}"
                );
            }
            85..90 => {
                let _ = write!(
                    m,
                    "\"type\":\"location\",\"location\":{{\"latitude\":{:.4},\"longitude\":{:.4},\
                     \"name\":\"Philz Coffee\",\"address\":\"101 Forest Ave, Palo Alto\"}}",
                    rng.gen_range(-60.0..60.0f64),
                    rng.gen_range(-180.0..180.0f64)
                );
            }
            90..95 => {
                let _ = write!(
                    m,
                    "\"type\":\"reaction\",\"reaction\":{{\"message_id\":\"wamid.HBgLR{:016X}\",\
                     \"emoji\":\"\\ud83d\\ude00\"}}",
                    rng.r#gen::<u64>()
                );
            }
            _ => {
                let _ = write!(
                    m,
                    "\"context\":{{\"from\":\"{}\",\"id\":\"wamid.HBgLC{:016X}\"}},\"type\":\
                     \"interactive\",\"interactive\":{{\"type\":\"button_reply\",\"button_reply\":\
                     {{\"id\":\"yes\",\"title\":\"Yes, please\"}}}}",
                    number.display.digits(),
                    rng.r#gen::<u64>()
                );
            }
        }
        let inner = format!(
            "\"contacts\":[{}],\"messages\":[{{{m}}}]",
            contact_json(&customer)
        );
        let units = Units {
            messages: 1,
            ..Units::default()
        };
        (self.envelope("messages", &number, &inner), units)
    }

    fn echo(&mut self, rng: &mut StdRng) -> (String, Units) {
        let number = self.number(rng).clone();
        let customer = self.customers[rng.gen_range(0..self.customers.len())].clone();
        let wamid = self.wamid('E');
        let mut m = format!("\"from\":\"{}\"", number.display.digits());
        if let Some(p) = &customer.phone {
            let _ = write!(m, ",\"to\":\"{p}\"");
        }
        if let Some(b) = &customer.bsuid {
            let _ = write!(m, ",\"to_user_id\":\"{b}\"");
        }
        let _ = write!(
            m,
            ",\"id\":\"{wamid}\",\"timestamp\":\"{}\",\"type\":\"text\",\"text\":{{\"body\":\"{}\"}}",
            self.ts(),
            lorem(rng)
        );
        let inner = format!("\"message_echoes\":[{{{m}}}]");
        let units = Units {
            messages: 1,
            ..Units::default()
        };
        (self.envelope("smb_message_echoes", &number, &inner), units)
    }

    fn contact_sync(&mut self, rng: &mut StdRng) -> (String, Units) {
        let number = self.number(rng).clone();
        let items = rng.gen_range(1..=3u64);
        let mut list = String::new();
        for i in 0..items {
            self.next_contact += 1;
            let c = self.next_contact;
            let first = FIRST_NAMES[rng.gen_range(0..FIRST_NAMES.len())];
            if i > 0 {
                list.push(',');
            }
            let _ = write!(
                list,
                "{{\"type\":\"contact\",\"contact\":{{\"full_name\":\"{first} App{c}\",\
                 \"first_name\":\"{first}\",\"phone_number\":\"1415{:07}\"",
                c
            );
            if rng.gen_bool(0.3) {
                let _ = write!(list, ",\"user_id\":\"US.7{c:018}\"");
            }
            let _ = write!(
                list,
                "}},\"action\":\"add\",\"metadata\":{{\"timestamp\":\"{}\"}}}}",
                self.ts()
            );
        }
        let inner = format!("\"state_sync\":[{list}]");
        let units = Units {
            contacts: items,
            ..Units::default()
        };
        (self.envelope("smb_app_state_sync", &number, &inner), units)
    }

    fn history(&mut self, rng: &mut StdRng) -> (String, Units) {
        let number = self.number(rng).clone();
        let (lo, hi) = (
            self.mix.history_min_bytes.max(1) as f64,
            self.mix
                .history_max_bytes
                .max(self.mix.history_min_bytes.max(1)) as f64,
        );
        // Log-uniform: as many chunks between 100 and 300 KB as between 1 and 3 MB.
        let target = (lo.ln() + rng.r#gen::<f64>() * (hi.ln() - lo.ln())).exp() as usize;
        // Room for the envelope and one more message, so no body passes `history_max_bytes`
        // (the hub refuses bodies over Meta's 3 MiB with 413).
        let fill = target.saturating_sub(1024);
        self.next_chunk += 1;
        let chunk = self.next_chunk;
        let mut threads = String::with_capacity(target + 4096);
        let mut count = 0u64;
        let mut when = self.ts() - 90 * 86_400;
        while threads.len() < fill {
            let customer = self.customers[rng.gen_range(0..self.customers.len())].clone();
            if !threads.is_empty() {
                threads.push(',');
            }
            match (&customer.phone, &customer.bsuid) {
                (Some(p), _) => {
                    let _ = write!(threads, "{{\"id\":\"{p}\",\"messages\":[");
                }
                (None, Some(b)) => {
                    let _ = write!(
                        threads,
                        "{{\"context\":{{\"user_id\":\"{b}\"}},\"messages\":["
                    );
                }
                (None, None) => continue,
            }
            let len = rng.gen_range(10..60);
            for i in 0..len {
                if i > 0 && threads.len() >= fill {
                    break;
                }
                if i > 0 {
                    threads.push(',');
                }
                when += rng.gen_range(1..600);
                let wamid = self.wamid('H');
                threads.push('{');
                match (rng.gen_bool(0.5), &customer.phone, &customer.bsuid) {
                    (true, Some(p), _) => {
                        let _ = write!(threads, "\"from\":\"{p}\",");
                    }
                    (true, None, Some(b)) => {
                        let _ = write!(threads, "\"from_user_id\":\"{b}\",");
                    }
                    _ => {
                        let _ = write!(threads, "\"from\":\"{}\",", number.display.digits());
                    }
                }
                let _ = write!(threads, "\"id\":\"{wamid}\",\"timestamp\":\"{when}\",");
                if rng.gen_bool(0.05) {
                    threads.push_str("\"type\":\"media_placeholder\"");
                } else {
                    let _ = write!(
                        threads,
                        "\"type\":\"text\",\"text\":{{\"body\":\"{}\"}}",
                        lorem(rng)
                    );
                }
                let status = ["DELIVERED", "READ", "PLAYED"][rng.gen_range(0..3)];
                let _ = write!(
                    threads,
                    ",\"history_context\":{{\"status\":\"{status}\"}}}}"
                );
                count += 1;
            }
            threads.push_str("]}");
        }
        let inner = format!(
            "\"history\":[{{\"metadata\":{{\"phase\":{},\"chunk_order\":{chunk},\"progress\":{}}},\
             \"threads\":[{threads}]}}]",
            chunk % 3,
            (chunk % 100) as u8
        );
        let units = Units {
            history_messages: count,
            history_chunks: 1,
            ..Units::default()
        };
        (self.envelope("history", &number, &inner), units)
    }
}

fn pick_kind(rng: &mut StdRng) -> Kind {
    let total: u32 = Kind::ALL.iter().map(|k| k.weight()).sum();
    let mut x = rng.gen_range(0..total);
    for k in Kind::ALL {
        if x < k.weight() {
            return k;
        }
        x -= k.weight();
    }
    Kind::Status
}

/// A slice of filler text, 10 to 160 ASCII characters.
fn lorem(rng: &mut StdRng) -> &'static str {
    let start = rng.gen_range(0..60);
    let len = rng.gen_range(10..160);
    &LOREM[start..(start + len).min(LOREM.len())]
}

/// `contacts[]` item of a user-facing payload.
fn contact_json(c: &Customer) -> String {
    let mut s = format!("{{\"profile\":{{\"name\":\"{}\"}}", c.name);
    if let Some(p) = &c.phone {
        let _ = write!(s, ",\"wa_id\":\"{p}\"");
    }
    if let Some(b) = &c.bsuid {
        let _ = write!(s, ",\"user_id\":\"{b}\"");
    }
    s.push('}');
    s
}

fn customer_ref(c: &Customer) -> anyhow::Result<CustomerRef> {
    let bsuid = c.bsuid.as_deref().map(Bsuid::parse).transpose()?;
    let phone = c.phone.as_deref().map(PhoneNumber::parse).transpose()?;
    let key = CustomerKey::new(bsuid, phone)
        .ok_or_else(|| anyhow::anyhow!("customer {} has neither phone nor BSUID", c.name))?;
    let mut r = CustomerRef::key(key);
    r.profile_name = Some(c.name.clone());
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use coex_core::model::Ingest;
    use std::collections::{HashMap, HashSet};

    const SECRET: &[u8] = b"s3cret";

    fn generator(seed: u64) -> Generator {
        let numbers = (0..2)
            .map(|i| FleetNumber {
                id: PhoneNumberId::parse(format!("10654035224{i:04}")).unwrap(),
                display: PhoneNumber::parse(&format!("1555078{i:04}")).unwrap(),
            })
            .collect();
        let mix = Mix {
            redeliver: 0.02,
            history_min_bytes: 20_000,
            history_max_bytes: 60_000,
        };
        Generator::new(
            seed,
            SECRET,
            "127.0.0.1:1",
            "102290129340398",
            numbers,
            mix,
            Timestamp::from_secs(1_750_000_000),
        )
    }

    /// The body of a request and its signature header.
    fn split(request: &[u8]) -> (&[u8], String) {
        let end = request.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = std::str::from_utf8(&request[..end]).unwrap();
        let sig = head
            .lines()
            .find_map(|l| l.strip_prefix("x-hub-signature-256: "))
            .unwrap();
        (&request[end + 4..], sig.to_owned())
    }

    #[test]
    fn every_body_is_signed_parses_and_carries_its_units() {
        let mut g = generator(7);
        let step = g.step(3000, 1000.0).unwrap();
        let mut per_kind: HashMap<Kind, usize> = HashMap::new();
        for w in &step.webhooks {
            let (body, sig) = split(&w.request);
            assert_eq!(body.len(), w.body_len);
            if w.kind == Kind::History {
                assert!(
                    (20_000 * 9 / 10..=60_000).contains(&w.body_len),
                    "{}",
                    w.body_len
                );
            }
            coex_meta::signature::verify(SECRET, body, &sig).unwrap();
            let n = coex_meta::webhook::parse_notification(body).unwrap();
            let events = coex_hub::ingest::normalize::normalize(&n, Timestamp::from_secs(0));
            let mut got = Units::default();
            for e in &events {
                match e {
                    Ingest::InboundMessage(_) | Ingest::Echo(_) => got.messages += 1,
                    Ingest::Status(_) => got.statuses += 1,
                    Ingest::ContactUpsert(_) => got.contacts += 1,
                    Ingest::HistoryChunk(h) => {
                        got.history_chunks += 1;
                        got.history_messages += h.messages.len() as u64;
                    }
                    other => panic!(
                        "unexpected event {other:?} in {}",
                        String::from_utf8_lossy(body)
                    ),
                }
            }
            assert_eq!(got, w.units, "{}", String::from_utf8_lossy(body));
            if !w.redelivery {
                *per_kind.entry(w.kind).or_default() += 1;
            }
        }
        let originals: usize = per_kind.values().sum();
        let share = |k| per_kind.get(&k).copied().unwrap_or(0) as f64 / originals as f64;
        assert!((share(Kind::Status) - 0.70).abs() < 0.04, "{per_kind:?}");
        assert!((share(Kind::Inbound) - 0.20).abs() < 0.03, "{per_kind:?}");
        let redeliveries = step.webhooks.iter().filter(|w| w.redelivery).count();
        assert!((30..=90).contains(&redeliveries), "{redeliveries}");
    }

    #[test]
    fn statuses_name_recorded_sends_in_order_and_ids_never_repeat() {
        let mut g = generator(3);
        let a = g.step(600, 500.0).unwrap();
        let b = g.step(600, 500.0).unwrap();
        let sent: HashSet<&str> = a
            .sent
            .iter()
            .chain(&b.sent)
            .map(|s| s.wamid.as_str())
            .collect();
        assert_eq!(sent.len(), a.sent.len() + b.sent.len());
        let mut originals = HashSet::new();
        for w in a.webhooks.iter().chain(&b.webhooks) {
            if w.redelivery {
                assert!(originals.contains(&w.original));
            } else {
                assert!(originals.insert(w.original));
            }
            if w.kind == Kind::Status {
                let (body, _) = split(&w.request);
                let n = coex_meta::webhook::parse_notification(body).unwrap();
                let events = coex_hub::ingest::normalize::normalize(&n, Timestamp::from_secs(0));
                let Ingest::Status(s) = &events[0] else {
                    panic!()
                };
                assert!(sent.contains(s.wamid.as_str()), "orphan status {}", s.wamid);
            }
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_bytes() {
        let a = generator(11).step(200, 100.0).unwrap();
        let b = generator(11).step(200, 100.0).unwrap();
        assert!(
            a.webhooks
                .iter()
                .zip(&b.webhooks)
                .all(|(x, y)| x.request == y.request)
        );
    }
}
