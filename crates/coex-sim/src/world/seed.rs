//! Building a world from a [`WorldSpec`]: the default one (a small plant shop with a
//! coexistence number and a pure Cloud API number, six customers covering every identity case
//! of spec/cloud-api.md §10, and templates in every state) or one described in a scenario file.
//!
//! The phone app's past is generated: months of 1:1 chats per customer (some older than the
//! 180 days Meta syncs, media among them), a group chat (never synced) and a contact book.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use coex_core::{PhoneNumber, PhoneNumberId, WabaId};

use crate::clock::SimTime;
use crate::delivery::chaos::Chaos;
use crate::delivery::outbox::Outbox;
use crate::ids::IdGen;
use crate::rules::inactivity;
use crate::rules::messaging_limit::{MessagingLimit, Tier};
use crate::rules::sync::SyncRequests;
use crate::rules::throughput::{COEXISTENCE_MPS, DEFAULT_CLOUD_API_MPS, Throughput};
use crate::sched::Scheduler;
use crate::world::log::BoundedLog;
use crate::world::media::MediaStore;
use crate::world::model::{
    AppContact, AutoReply, BusinessApp, Customer, CustomerKey, Number, NumberMode, PastMessage,
    PastThread, Waba,
};
use crate::world::templates::{Button, Header, Template, TemplateCategory, TemplateStatus};
use crate::world::{Settings, Task, World};

/// Why a world description was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeedError {
    #[error("phone number {0:?}: {1}")]
    BadPhone(String, String),
    #[error("customer handle: {0}")]
    BadKey(String),
    #[error("two customers are called {0:?}")]
    DuplicateCustomer(String),
    #[error("the world needs at least one phone number")]
    NoNumber,
}

/// A business phone number to create.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct NumberSpec {
    pub display: String,
    pub mode: NumberMode,
    pub verified_name: Option<String>,
    /// MPS of a Cloud API number (a coexistence number is always 20).
    pub mps: Option<u32>,
    /// How long before the start the number was onboarded (sync is allowed for 24 h).
    pub onboarded_minutes_ago: u64,
    /// How long before the start the owner last opened the app.
    pub app_opened_minutes_ago: u64,
    /// Whether the business shares its history at onboarding (else 2593109).
    pub history_shared: bool,
}

impl Default for NumberSpec {
    fn default() -> Self {
        Self {
            display: "+15550783881".into(),
            mode: NumberMode::Coexistence,
            verified_name: None,
            mps: None,
            onboarded_minutes_ago: 10,
            app_opened_minutes_ago: 0,
            history_shared: true,
        }
    }
}

/// A customer to create.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct CustomerSpec {
    pub key: String,
    pub name: String,
    pub phone: String,
    pub username: Option<String>,
    /// Whether the number is shown even with a username.
    pub shares_phone: bool,
    /// ISO country of the BSUID prefix.
    pub country: String,
    /// Enrolled in a parent BSUID account.
    pub parent: bool,
    pub online: bool,
    pub on_whatsapp: bool,
    pub deliver_after_ms: u64,
    /// `None`: never reads.
    pub read_after_secs: Option<u64>,
    /// Saved in the business app's contacts.
    pub app_contact: bool,
    /// Past messages with the business in the app (the history to sync).
    pub history_messages: usize,
    pub auto_reply: Option<AutoReply>,
}

impl Default for CustomerSpec {
    fn default() -> Self {
        Self {
            key: String::new(),
            name: String::new(),
            phone: String::new(),
            username: None,
            shares_phone: false,
            country: "US".into(),
            parent: false,
            online: true,
            on_whatsapp: true,
            deliver_after_ms: 1_500,
            read_after_secs: Some(20),
            app_contact: true,
            history_messages: 24,
            auto_reply: None,
        }
    }
}

/// A description of the world.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct WorldSpec {
    pub seed: u64,
    pub business_name: String,
    pub tier: Tier,
    pub numbers: Vec<NumberSpec>,
    pub customers: Vec<CustomerSpec>,
    pub templates: Vec<Template>,
    /// Contacts in the app that are not customers: (name, phone).
    pub extra_app_contacts: Vec<(String, String)>,
    /// Whether Meta's hosted contact book is on for the portfolio.
    pub contact_book_enabled: bool,
    /// Whether a send to an unknown phone number creates a customer (else 131026).
    pub auto_customers: bool,
}

fn customer(key: &str, name: &str, phone: &str) -> CustomerSpec {
    CustomerSpec {
        key: key.into(),
        name: name.into(),
        phone: phone.into(),
        ..CustomerSpec::default()
    }
}

fn template(
    id: &str,
    name: &str,
    language: &str,
    status: TemplateStatus,
    category: TemplateCategory,
) -> Template {
    Template {
        id: id.into(),
        name: name.into(),
        language: language.into(),
        status,
        category,
        header: None,
        body: String::new(),
        body_params: 0,
        footer: None,
        buttons: Vec::new(),
    }
}

/// The default templates: approved, pending and rejected, in every category and with
/// parameters in header, body and buttons.
pub fn default_templates() -> Vec<Template> {
    vec![
        Template {
            body: "Hello from Lucky Shrub!".into(),
            ..template(
                "1000000000000001",
                "hello_world",
                "en_US",
                TemplateStatus::Approved,
                TemplateCategory::Utility,
            )
        },
        Template {
            body: "Hi {{1}}, your order {{2}} has shipped.".into(),
            body_params: 2,
            buttons: vec![Button::Url {
                text: "Track".into(),
                url: "https://shop.example/track/{{1}}".into(),
                dynamic: true,
            }],
            ..template(
                "1000000000000002",
                "order_update",
                "en_US",
                TemplateStatus::Approved,
                TemplateCategory::Utility,
            )
        },
        Template {
            header: Some(Header::Media {
                kind: "image".into(),
            }),
            body: "Spring sale, {{1}}: 30% off all succulents this week.".into(),
            body_params: 1,
            footer: Some("Reply STOP to opt out".into()),
            buttons: vec![
                Button::QuickReply {
                    text: "Shop now".into(),
                },
                Button::QuickReply {
                    text: "Not interested".into(),
                },
            ],
            ..template(
                "1000000000000003",
                "spring_sale",
                "en_US",
                TemplateStatus::Approved,
                TemplateCategory::Marketing,
            )
        },
        Template {
            body: "Promoção de primavera, {{1}}!".into(),
            body_params: 1,
            ..template(
                "1000000000000004",
                "spring_sale",
                "pt_BR",
                TemplateStatus::Pending,
                TemplateCategory::Marketing,
            )
        },
        Template {
            body: "WIN A FREE PLANT!!! Click now".into(),
            ..template(
                "1000000000000005",
                "winter_promo",
                "en_US",
                TemplateStatus::Rejected,
                TemplateCategory::Marketing,
            )
        },
        Template {
            body: "{{1}} is your verification code.".into(),
            body_params: 1,
            buttons: vec![Button::Otp {
                otp_type: "COPY_CODE".into(),
            }],
            ..template(
                "1000000000000006",
                "login_code",
                "en_US",
                TemplateStatus::Approved,
                TemplateCategory::Authentication,
            )
        },
        Template {
            header: Some(Header::Text {
                text: "Order {{1}}".into(),
                params: 1,
            }),
            body: "Hola {{1}}, tu pedido está listo.".into(),
            body_params: 1,
            ..template(
                "1000000000000007",
                "order_ready",
                "es_ES",
                TemplateStatus::Approved,
                TemplateCategory::Utility,
            )
        },
    ]
}

impl Default for WorldSpec {
    fn default() -> Self {
        Self {
            seed: 42,
            business_name: "Lucky Shrub".into(),
            tier: Tier::T250,
            numbers: vec![
                NumberSpec::default(),
                NumberSpec {
                    display: "+15550102030".into(),
                    mode: NumberMode::CloudApi,
                    verified_name: Some("Lucky Shrub Support".into()),
                    ..NumberSpec::default()
                },
            ],
            customers: vec![
                // A customer without a username: phone number always visible.
                customer("alice", "Sheena Nelson", "+16505551234"),
                // Never reads (or has read receipts off).
                CustomerSpec {
                    country: "BR".into(),
                    read_after_secs: None,
                    ..customer("bruno", "Bruno Costa", "+5511987654321")
                },
                // A username user whose number Meta does not share: BSUID only.
                CustomerSpec {
                    username: Some("@chen.w".into()),
                    app_contact: false,
                    history_messages: 12,
                    ..customer("chen", "Chen Wei", "+14155550199")
                },
                // A username user who shares the number.
                CustomerSpec {
                    username: Some("@dana_k".into()),
                    shares_phone: true,
                    ..customer("dana", "Dana Kim", "+442079460018")
                },
                // Enrolled in a parent BSUID account.
                CustomerSpec {
                    country: "TR".into(),
                    parent: true,
                    history_messages: 6,
                    ..customer("emre", "Emre Yılmaz", "+905321234567")
                },
                // Offline at the start, Arabic name (non-ASCII payloads).
                CustomerSpec {
                    country: "AE".into(),
                    online: false,
                    app_contact: false,
                    history_messages: 0,
                    ..customer("farah", "فرح الهاشمي", "+971501234567")
                },
            ],
            templates: default_templates(),
            extra_app_contacts: vec![
                ("Green Supplier Ltd".into(), "+15550001111".into()),
                ("Delivery Guy".into(), "+15550002222".into()),
            ],
            contact_book_enabled: true,
            auto_customers: true,
        }
    }
}

/// The ISO country of a phone number's calling code, for BSUID prefixes (a few common codes;
/// `US` otherwise).
pub fn country_of(phone: &PhoneNumber) -> &'static str {
    const CODES: [(&str, &str); 16] = [
        ("971", "AE"),
        ("234", "NG"),
        ("55", "BR"),
        ("44", "GB"),
        ("91", "IN"),
        ("90", "TR"),
        ("52", "MX"),
        ("49", "DE"),
        ("34", "ES"),
        ("33", "FR"),
        ("39", "IT"),
        ("27", "ZA"),
        ("62", "ID"),
        ("54", "AR"),
        ("57", "CO"),
        ("1", "US"),
    ];
    CODES
        .iter()
        .find(|(code, _)| phone.has_country_code(code))
        .map_or("US", |(_, cc)| cc)
}

const DAY: Duration = Duration::from_secs(86_400);

const TEXTS_FROM_CUSTOMER: [&str; 6] = [
    "Hi! Do you still have the echeveria?",
    "Can I pick it up tomorrow?",
    "Thanks!",
    "How often should I water it?",
    "Is the shop open on Sunday?",
    "Perfect, see you then 🌵",
];
const TEXTS_FROM_BUSINESS: [&str; 6] = [
    "Yes, we have three left.",
    "Sure, we're open 9 to 6.",
    "You're welcome!",
    "Once every two weeks is plenty.",
    "Sunday 10 to 2.",
    "Here's the care guide.",
];

impl World {
    /// Builds the world at virtual instant `start`.
    pub fn build(settings: Settings, spec: &WorldSpec, start: SimTime) -> Result<World, SeedError> {
        if spec.numbers.is_empty() {
            return Err(SeedError::NoNumber);
        }
        let mut ids = IdGen::new(spec.seed);
        let mut rng = StdRng::seed_from_u64(spec.seed ^ 0x5eed);
        let chaos_rng = StdRng::seed_from_u64(spec.seed ^ 0xc4a0_5eed);
        let waba_id =
            WabaId::parse(ids.digits(15)).map_err(|e| SeedError::BadKey(e.to_string()))?;
        let waba = Waba {
            id: waba_id.clone(),
            name: spec.business_name.clone(),
            owner_business_id: ids.digits(16),
            currency: "USD".into(),
            timezone_id: "1".into(),
            limit: MessagingLimit::new(spec.tier),
            subscribed: true,
            override_url: None,
            contact_book: BTreeSet::new(),
            contact_book_enabled: spec.contact_book_enabled,
        };

        let mut customers: BTreeMap<CustomerKey, Customer> = BTreeMap::new();
        for c in &spec.customers {
            let key =
                CustomerKey::parse(c.key.clone()).map_err(|e| SeedError::BadKey(e.to_string()))?;
            if customers.contains_key(&key) {
                return Err(SeedError::DuplicateCustomer(c.key.clone()));
            }
            let phone = PhoneNumber::parse(&c.phone)
                .map_err(|e| SeedError::BadPhone(c.phone.clone(), e.to_string()))?;
            let bsuid = ids.bsuid(&c.country);
            let parent_bsuid = c.parent.then(|| ids.parent_bsuid(&c.country));
            customers.insert(
                key.clone(),
                Customer {
                    key,
                    name: c.name.clone(),
                    phone,
                    username: c.username.clone(),
                    shares_phone: c.shares_phone,
                    bsuid,
                    parent_bsuid,
                    previous_bsuids: Vec::new(),
                    on_whatsapp: c.on_whatsapp,
                    online: c.online,
                    deliver_after: Duration::from_millis(c.deliver_after_ms),
                    read_after: c.read_after_secs.map(Duration::from_secs),
                    auto_reply: c.auto_reply.clone(),
                },
            );
        }

        let mut numbers = BTreeMap::new();
        let mut number_order = Vec::new();
        let mut sched = Scheduler::new();
        for n in &spec.numbers {
            let display = PhoneNumber::parse(&n.display)
                .map_err(|e| SeedError::BadPhone(n.display.clone(), e.to_string()))?;
            let id = PhoneNumberId::parse(ids.digits(15))
                .map_err(|e| SeedError::BadKey(e.to_string()))?;
            let onboarded_at = start - Duration::from_secs(n.onboarded_minutes_ago * 60);
            let coexistence = n.mode == NumberMode::Coexistence;
            let mps = if coexistence {
                COEXISTENCE_MPS
            } else {
                n.mps.unwrap_or(DEFAULT_CLOUD_API_MPS)
            };
            let app = coexistence.then(|| {
                let last_opened = start - Duration::from_secs(n.app_opened_minutes_ago * 60);
                sched.schedule(
                    inactivity::deadline(last_opened),
                    Task::InactivityCheck { number: id.clone() },
                );
                BusinessApp {
                    installed: true,
                    last_opened,
                    online: true,
                    backlog: Vec::new(),
                    contacts: app_contacts(spec, &customers),
                    history: past_threads(spec, &customers, onboarded_at, &mut ids, &mut rng),
                    sent: Vec::new(),
                }
            });
            number_order.push(id.clone());
            numbers.insert(
                id.clone(),
                Number {
                    id,
                    waba: waba_id.clone(),
                    display,
                    verified_name: n
                        .verified_name
                        .clone()
                        .unwrap_or_else(|| spec.business_name.clone()),
                    mode: n.mode,
                    quality: "GREEN".into(),
                    onboarded_at,
                    throughput: Throughput::new(mps),
                    disconnected: None,
                    sync: SyncRequests::default(),
                    history_shared: n.history_shared,
                    override_url: None,
                    app,
                },
            );
        }

        let phone_index = customers
            .values()
            .map(|c| (c.phone.clone(), c.key.clone()))
            .collect();
        let mut bsuid_index = HashMap::new();
        for c in customers.values() {
            bsuid_index.insert(c.bsuid.clone(), c.key.clone());
            if let Some(p) = &c.parent_bsuid {
                bsuid_index.insert(p.clone(), c.key.clone());
            }
        }
        let mut list = spec.templates.clone();
        for t in &mut list {
            if t.id.is_empty() {
                t.id = ids.digits(16);
            }
        }
        let mut templates = BTreeMap::new();
        templates.insert(waba_id.clone(), list);
        let mut wabas = BTreeMap::new();
        wabas.insert(waba_id, waba);
        Ok(World {
            settings,
            ids,
            rng,
            chaos_rng,
            wabas,
            numbers,
            number_order,
            customers,
            phone_index,
            bsuid_index,
            auto_customers: spec.auto_customers,
            templates,
            media: MediaStore::default(),
            messages: BTreeMap::new(),
            pairs: HashMap::new(),
            sched,
            outbox: Outbox::default(),
            deliveries: BoundedLog::new(crate::world::LOG_CAP),
            requests: BoundedLog::new(crate::world::LOG_CAP),
            faults: Vec::new(),
            chaos: Chaos::default(),
            woke: true,
        })
    }
}

fn app_contacts(spec: &WorldSpec, customers: &BTreeMap<CustomerKey, Customer>) -> Vec<AppContact> {
    let mut out: Vec<AppContact> = customers
        .values()
        .filter(|c| {
            spec.customers
                .iter()
                .any(|s| s.key == c.key.as_str() && s.app_contact)
        })
        .map(|c| AppContact {
            full_name: c.name.clone(),
            first_name: c
                .name
                .split_whitespace()
                .next()
                .unwrap_or(&c.name)
                .to_owned(),
            phone: c.phone.clone(),
            customer: Some(c.key.clone()),
        })
        .collect();
    for (name, phone) in &spec.extra_app_contacts {
        if let Ok(phone) = PhoneNumber::parse(phone) {
            out.push(AppContact {
                full_name: name.clone(),
                first_name: name.split_whitespace().next().unwrap_or(name).to_owned(),
                phone,
                customer: None,
            });
        }
    }
    out
}

/// Months of 1:1 chats (denser near onboarding, some beyond 180 days, every fourth message a
/// media message) and one group chat.
fn past_threads(
    spec: &WorldSpec,
    customers: &BTreeMap<CustomerKey, Customer>,
    onboarded_at: SimTime,
    ids: &mut IdGen,
    rng: &mut StdRng,
) -> Vec<PastThread> {
    let mut threads = Vec::new();
    for s in &spec.customers {
        let Some(c) = customers.values().find(|c| c.key.as_str() == s.key) else {
            continue;
        };
        let n = s.history_messages;
        if n == 0 {
            continue;
        }
        let mut messages = Vec::with_capacity(n);
        for i in 0..n {
            // Quadratic spread over 200 days: a few in the last day, many in the last two
            // weeks, some older than the 180 days Meta syncs.
            let frac = (i as f64 + 0.5) / n as f64;
            let age =
                DAY.mul_f64(200.0 * frac * frac) + Duration::from_secs(rng.gen_range(600..3_600));
            let from_business = i % 2 == 1;
            let media = i % 4 == 3;
            let idx = i % TEXTS_FROM_CUSTOMER.len();
            let text = if from_business {
                TEXTS_FROM_BUSINESS[idx]
            } else {
                TEXTS_FROM_CUSTOMER[idx]
            };
            messages.push(PastMessage {
                wamid: ids.wamid(c.phone.digits()),
                at: onboarded_at - age,
                from_business,
                kind: if media { "image".into() } else { "text".into() },
                text: if media { "Photo".into() } else { text.into() },
                status: if from_business { "READ" } else { "DELIVERED" },
            });
        }
        messages.sort_by_key(|m| m.at);
        threads.push(PastThread {
            customer: Some(c.key.clone()),
            group_name: None,
            messages,
        });
    }
    let group = (0..5)
        .map(|i| PastMessage {
            wamid: ids.wamid("120363000000000000"),
            at: onboarded_at - DAY * (i + 1),
            from_business: i % 2 == 0,
            kind: "text".into(),
            text: "Family dinner on Sunday?".into(),
            status: "READ",
        })
        .collect();
    threads.push(PastThread {
        customer: None,
        group_name: Some("Family".into()),
        messages: group,
    });
    threads
}
