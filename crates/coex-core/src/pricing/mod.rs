//! What an API message costs (spec/coexistence.md §5, spec/cloud-api.md §3.2–§3.3).
//!
//! The rules, in the order [`PriceTable::estimate`] applies them:
//! 1. Messages sent **from the phone app are free**, before and after onboarding (so is
//!    anything that is not an API send: inbound, history). Only [`Origin::is_api`] sends cost.
//! 2. **Service** (non-template) messages inside the open customer-service window are free.
//! 3. **Utility** templates inside the window are free too: Meta reports both as
//!    `pricing.type: "free_customer_service"` under per-message pricing (PMP).
//! 4. Everything else is charged by **category and the customer's country** from a
//!    [`PriceTable`] in configuration; a country without its own row (or an unknown one) uses
//!    the default row.
//!
//! The estimate is replaced by the actual cost once Meta's `pricing` object arrives in a
//! status webhook ([`PriceTable::actual`]): Meta's `type` and `category` win over our guess.
//! [`PriceTable::estimate_campaign`] totals a campaign before it starts.

mod amount;
mod country;

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::model::{Origin, Pricing, named_enum};

pub use amount::{Amount, AmountError};
pub use country::{CALLING_CODES, Country, CountryError};

named_enum! {
    /// Meta's pricing category of an API message.
    pub enum Category as "pricing category" {
        Marketing = "marketing",
        Utility = "utility",
        Authentication = "authentication",
        /// Non-template messages (free-form replies), allowed only inside the window.
        Service = "service",
    }
}

impl Category {
    /// From Meta's `pricing.category`, folding its variants onto the four we price:
    /// `authentication-international` is authentication, `marketing_lite` is marketing.
    /// `referral_conversion` and unknown names are `None`.
    pub fn from_meta(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "marketing" | "marketing_lite" => Some(Self::Marketing),
            "utility" => Some(Self::Utility),
            "authentication" | "authentication-international" | "authentication_international" => {
                Some(Self::Authentication)
            }
            "service" => Some(Self::Service),
            _ => None,
        }
    }
}

named_enum! {
    /// Why a message costs nothing.
    pub enum FreeReason as "free reason" {
        /// Not sent through the Cloud API: the phone app (echoes), history, inbound.
        NotApi = "not_api",
        /// A service reply or utility template inside the customer-service window.
        CustomerService = "customer_service",
        /// Inside a free entry-point window (Meta's `free_entry_point`; only Meta knows these).
        EntryPoint = "entry_point",
        /// Meta said `billable: false` without a known `type`.
        NotBillable = "not_billable",
    }
}

/// What one message costs, in the table's currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cost {
    Free(FreeReason),
    Billed(Amount),
}

impl Cost {
    /// The amount charged (zero when free).
    pub fn amount(self) -> Amount {
        match self {
            Self::Free(_) => Amount::ZERO,
            Self::Billed(a) => a,
        }
    }

    pub fn is_free(self) -> bool {
        matches!(self, Self::Free(_))
    }
}

/// An ISO 4217 currency code (`USD`), the one currency a price table is written in.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency(String);

/// A currency code that is not three ASCII letters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an ISO 4217 currency code (three letters)")]
pub struct CurrencyError(pub String);

impl Currency {
    pub fn parse(code: &str) -> Result<Self, CurrencyError> {
        if code.len() == 3 && code.bytes().all(|b| b.is_ascii_alphabetic()) {
            Ok(Self(code.to_ascii_uppercase()))
        } else {
            Err(CurrencyError(code.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Currency {
    type Error = CurrencyError;
    fn try_from(s: String) -> Result<Self, CurrencyError> {
        Self::parse(&s)
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> Self {
        c.0
    }
}

impl std::fmt::Display for Currency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The price of one message per category: the table's default row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rates {
    pub marketing: Amount,
    pub utility: Amount,
    pub authentication: Amount,
    /// Meta charges nothing for service messages under PMP; kept configurable.
    #[serde(default)]
    pub service: Amount,
}

impl Rates {
    pub fn get(&self, category: Category) -> Amount {
        match category {
            Category::Marketing => self.marketing,
            Category::Utility => self.utility,
            Category::Authentication => self.authentication,
            Category::Service => self.service,
        }
    }
}

/// A country's row: the categories it prices differently from the default row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CountryRates {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marketing: Option<Amount>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utility: Option<Amount>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication: Option<Amount>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<Amount>,
}

impl CountryRates {
    pub fn get(&self, category: Category) -> Option<Amount> {
        match category {
            Category::Marketing => self.marketing,
            Category::Utility => self.utility,
            Category::Authentication => self.authentication,
            Category::Service => self.service,
        }
    }
}

/// Prices per category and customer country, in one currency. TOML shape:
///
/// ```toml
/// currency = "USD"
/// [default]                # any country without its own row, and unknown countries
/// marketing = 0.025
/// utility = 0.004
/// authentication = 0.004
/// service = 0              # optional, 0 by default
/// [countries.BR]           # ISO 3166 alpha-2; categories left out use the default row
/// marketing = "0.0625"     # a number or a decimal string
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceTable {
    pub currency: Currency,
    pub default: Rates,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub countries: BTreeMap<Country, CountryRates>,
}

/// The category and cost of a message once Meta has priced it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actual {
    pub category: Category,
    pub cost: Cost,
}

/// One message of a campaign, for [`PriceTable::estimate_campaign`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CampaignItem {
    pub category: Category,
    /// `None` when unknown: priced at the default row.
    pub country: Option<Country>,
    /// Whether the recipient's customer-service window will be open.
    pub in_window: bool,
}

/// Counts and money for a group of messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Tally {
    pub messages: u64,
    /// Of `messages`, how many cost nothing.
    pub free: u64,
    pub amount: Amount,
}

impl Tally {
    fn add(&mut self, cost: Cost) {
        self.messages += 1;
        self.free += u64::from(cost.is_free());
        self.amount = self.amount.saturating_add(cost.amount());
    }
}

/// A campaign's estimated cost with its breakdowns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignEstimate {
    pub currency: Currency,
    pub total: Tally,
    /// Per country, `None` (unknown country) first, then by ISO code.
    pub by_country: Vec<(Option<Country>, Tally)>,
    /// Per category, in [`Category::ALL`] order; categories without messages left out.
    pub by_category: Vec<(Category, Tally)>,
}

impl PriceTable {
    /// A table with only a default row.
    pub fn new(currency: Currency, default: Rates) -> Self {
        Self {
            currency,
            default,
            countries: BTreeMap::new(),
        }
    }

    /// Adds or replaces a country's row.
    pub fn with_country(mut self, country: Country, rates: CountryRates) -> Self {
        self.countries.insert(country, rates);
        self
    }

    /// The price of one `category` message to `country`: its row, else the default row.
    pub fn rate(&self, category: Category, country: Option<Country>) -> Amount {
        country
            .and_then(|c| self.countries.get(&c))
            .and_then(|r| r.get(category))
            .unwrap_or_else(|| self.default.get(category))
    }

    /// The estimated cost of one message (the module's rules 1–4).
    pub fn estimate(
        &self,
        category: Category,
        country: Option<Country>,
        in_window: bool,
        origin: Origin,
    ) -> Cost {
        if !origin.is_api() {
            return Cost::Free(FreeReason::NotApi);
        }
        if in_window && matches!(category, Category::Service | Category::Utility) {
            return Cost::Free(FreeReason::CustomerService);
        }
        Cost::Billed(self.rate(category, country))
    }

    /// The actual cost from a status webhook's `pricing` object, replacing the estimate.
    ///
    /// `pricing.type` decides (Meta asks to use it with `category`; `billable` is being
    /// deprecated): `free_customer_service` and `free_entry_point` are free, `regular` is
    /// billed at the table's rate for Meta's category. Without a known `type` (pre-PMP
    /// webhooks), `billable: false` is free and anything else billed. A category Meta names
    /// that we do not price falls back to `estimated`.
    pub fn actual(
        &self,
        pricing: &Pricing,
        estimated: Category,
        country: Option<Country>,
    ) -> Actual {
        let category = pricing
            .category
            .as_deref()
            .and_then(Category::from_meta)
            .unwrap_or(estimated);
        let billed = Cost::Billed(self.rate(category, country));
        let cost = match pricing.kind.as_deref() {
            Some("free_customer_service") => Cost::Free(FreeReason::CustomerService),
            Some("free_entry_point") => Cost::Free(FreeReason::EntryPoint),
            Some("regular") => billed,
            _ if pricing.billable == Some(false) => Cost::Free(FreeReason::NotBillable),
            _ => billed,
        };
        Actual { category, cost }
    }

    /// Totals a campaign's messages (all API sends) with per-country and per-category tallies.
    pub fn estimate_campaign(
        &self,
        items: impl IntoIterator<Item = CampaignItem>,
    ) -> CampaignEstimate {
        let mut total = Tally::default();
        let mut by_country: BTreeMap<Option<Country>, Tally> = BTreeMap::new();
        let mut by_category: HashMap<Category, Tally> = HashMap::new();
        for item in items {
            let cost = self.estimate(
                item.category,
                item.country,
                item.in_window,
                Origin::Campaign,
            );
            total.add(cost);
            by_country.entry(item.country).or_default().add(cost);
            by_category.entry(item.category).or_default().add(cost);
        }
        CampaignEstimate {
            currency: self.currency.clone(),
            total,
            by_country: by_country.into_iter().collect(),
            by_category: Category::ALL
                .iter()
                .filter_map(|c| by_category.get(c).map(|t| (*c, *t)))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOML: &str = r#"
        currency = "usd"
        [default]
        marketing = 0.025
        utility = 0.004
        authentication = "0.004"
        [countries.BR]
        marketing = "0.0625"
        utility = 0.0068
        [countries.in]
        authentication = 0.0014
    "#;

    fn table() -> PriceTable {
        toml::from_str(TOML).unwrap()
    }

    fn c(code: &str) -> Option<Country> {
        Some(Country::parse(code).unwrap())
    }

    fn micros(m: i64) -> Cost {
        Cost::Billed(Amount::from_micros(m))
    }

    #[test]
    fn loads_from_toml() {
        let t = table();
        assert_eq!(t.currency.as_str(), "USD");
        assert_eq!(t.default.service, Amount::ZERO);
        assert_eq!(t.rate(Category::Marketing, c("BR")).micros(), 62_500);
        // A category the row leaves out, an unlisted country, an unknown one: default row.
        assert_eq!(t.rate(Category::Authentication, c("BR")).micros(), 4_000);
        assert_eq!(t.rate(Category::Marketing, c("DE")).micros(), 25_000);
        assert_eq!(t.rate(Category::Marketing, None).micros(), 25_000);
        assert_eq!(t.rate(Category::Authentication, c("IN")).micros(), 1_400);
        // Typos are errors, not silently default prices.
        assert!(
            toml::from_str::<PriceTable>(&TOML.replace("utility = 0.004", "utilty = 0.004"))
                .is_err()
        );
        assert!(
            toml::from_str::<PriceTable>(&TOML.replace("[countries.BR]", "[countries.BRA]"))
                .is_err()
        );
        // Round trip.
        let back: PriceTable = toml::from_str(&toml::to_string(&t).unwrap()).unwrap();
        assert_eq!(back, t);
    }

    #[test]
    fn free_cases() {
        let t = table();
        // App messages are free whatever they are.
        for origin in [Origin::BusinessApp, Origin::HistoryImport, Origin::Customer] {
            assert_eq!(
                t.estimate(Category::Marketing, c("BR"), false, origin),
                Cost::Free(FreeReason::NotApi)
            );
        }
        // Service replies and utility templates inside the window are free.
        let free = Cost::Free(FreeReason::CustomerService);
        assert_eq!(
            t.estimate(Category::Service, c("BR"), true, Origin::ApiAgent),
            free
        );
        assert_eq!(
            t.estimate(Category::Utility, c("BR"), true, Origin::Automation),
            free
        );
        // Marketing and authentication are charged even inside the window.
        assert_eq!(
            t.estimate(Category::Marketing, c("BR"), true, Origin::ApiAgent),
            micros(62_500)
        );
        assert_eq!(
            t.estimate(Category::Authentication, c("BR"), true, Origin::ApiAgent),
            micros(4_000)
        );
        // Outside the window, utility is charged by country.
        assert_eq!(
            t.estimate(Category::Utility, c("BR"), false, Origin::Campaign),
            micros(6_800)
        );
        assert_eq!(
            t.estimate(Category::Utility, None, false, Origin::Campaign),
            micros(4_000)
        );
    }

    #[test]
    fn actual_replaces_estimate() {
        let t = table();
        let p = |billable, kind: Option<&str>, category: Option<&str>| Pricing {
            billable,
            model: Some("PMP".into()),
            kind: kind.map(str::to_owned),
            category: category.map(str::to_owned),
        };
        let a = t.actual(
            &p(Some(true), Some("regular"), Some("marketing")),
            Category::Utility,
            c("BR"),
        );
        assert_eq!(
            a,
            Actual {
                category: Category::Marketing,
                cost: micros(62_500)
            }
        );
        let a = t.actual(
            &p(Some(false), Some("free_customer_service"), Some("utility")),
            Category::Utility,
            c("BR"),
        );
        assert_eq!(a.cost, Cost::Free(FreeReason::CustomerService));
        let a = t.actual(
            &p(Some(false), Some("free_entry_point"), Some("service")),
            Category::Service,
            None,
        );
        assert_eq!(
            a,
            Actual {
                category: Category::Service,
                cost: Cost::Free(FreeReason::EntryPoint)
            }
        );
        // CBP-era webhooks: no type, decide by `billable`.
        let a = t.actual(
            &p(Some(true), None, Some("service")),
            Category::Service,
            None,
        );
        assert_eq!(a.cost, micros(0));
        let a = t.actual(
            &p(Some(false), None, Some("marketing")),
            Category::Marketing,
            None,
        );
        assert_eq!(a.cost, Cost::Free(FreeReason::NotBillable));
        // Category variants fold; unknown ones keep the estimate's category.
        let a = t.actual(
            &p(
                Some(true),
                Some("regular"),
                Some("authentication-international"),
            ),
            Category::Utility,
            c("IN"),
        );
        assert_eq!(
            a,
            Actual {
                category: Category::Authentication,
                cost: micros(1_400)
            }
        );
        let a = t.actual(
            &p(Some(true), Some("regular"), Some("referral_conversion")),
            Category::Marketing,
            None,
        );
        assert_eq!(a.category, Category::Marketing);
    }

    #[test]
    fn campaign_breakdown() {
        let t = table();
        let items = [
            (c("BR"), false),
            (c("BR"), false),
            (c("BR"), true),
            (None, false),
            (c("DE"), true),
        ]
        .map(|(country, in_window)| CampaignItem {
            category: Category::Utility,
            country,
            in_window,
        })
        .into_iter()
        .chain([CampaignItem {
            category: Category::Marketing,
            country: c("BR"),
            in_window: true,
        }]);
        let e = t.estimate_campaign(items);
        assert_eq!(
            e.total,
            Tally {
                messages: 6,
                free: 2,
                amount: Amount::from_micros(6_800 * 2 + 4_000 + 62_500)
            }
        );
        assert_eq!(
            e.by_country,
            vec![
                (
                    None,
                    Tally {
                        messages: 1,
                        free: 0,
                        amount: Amount::from_micros(4_000)
                    }
                ),
                (
                    c("BR"),
                    Tally {
                        messages: 4,
                        free: 1,
                        amount: Amount::from_micros(6_800 * 2 + 62_500)
                    }
                ),
                (
                    c("DE"),
                    Tally {
                        messages: 1,
                        free: 1,
                        amount: Amount::ZERO
                    }
                ),
            ]
        );
        assert_eq!(e.by_category.len(), 2);
        assert_eq!(e.by_category[0].0, Category::Marketing);
        assert_eq!(e.by_category[1].1.messages, 5);
    }

    #[test]
    fn meta_category_names() {
        assert_eq!(
            Category::from_meta("marketing_lite"),
            Some(Category::Marketing)
        );
        assert_eq!(Category::from_meta("UTILITY"), Some(Category::Utility));
        assert_eq!(Category::from_meta("referral_conversion"), None);
        assert_eq!(Category::Service.as_str(), "service");
    }
}
