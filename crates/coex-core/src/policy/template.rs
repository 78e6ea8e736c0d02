//! Templates as the policy sees them: what the catalog knows about each approved (or not)
//! template, what a send gives, and the checks Meta would otherwise answer with 132000,
//! 132001, 132015 or 132016 (spec/cloud-api.md §3.1, §4).
//!
//! The hub fills a [`TemplateCatalog`] from `GET /{waba_id}/message_templates` (coex-meta's
//! `expected_params` gives [`ExpectedParams`]) and a [`TemplateUse`] from the send body.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{MediaFacts, Refusal};
use crate::model::{NumberKind, named_enum};
use crate::pricing::Category;

named_enum! {
    /// A template's review status (Meta's `status`, lower-cased).
    pub enum TemplateStatus as "template status" {
        Approved = "approved",
        Pending = "pending",
        Rejected = "rejected",
        /// Paused for low quality (Meta answers a send with 132015).
        Paused = "paused",
        /// Permanently disabled (132016).
        Disabled = "disabled",
        InAppeal = "in_appeal",
        PendingDeletion = "pending_deletion",
        Deleted = "deleted",
        LimitExceeded = "limit_exceeded",
    }
}

named_enum! {
    /// A template's category, which decides its price.
    pub enum TemplateCategory as "template category" {
        Marketing = "marketing",
        Utility = "utility",
        /// One-time passwords; Meta delivers these only to phone numbers (131062 for a BSUID).
        Authentication = "authentication",
    }
}

impl TemplateCategory {
    /// The pricing category of a send of this template.
    pub fn pricing(self) -> Category {
        match self {
            Self::Marketing => Category::Marketing,
            Self::Utility => Category::Utility,
            Self::Authentication => Category::Authentication,
        }
    }
}

/// One placeholder a template expects a value for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Slot {
    /// `{{1}}`: matched by position, only the count is checked.
    Positional(u32),
    /// `{{first_name}}`: the send must give a value with this `parameter_name`.
    Named(String),
    /// The one parameter of a media or location header.
    Media,
}

/// What a send of a template must supply, per component.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ExpectedParams {
    #[serde(default)]
    pub header: Vec<Slot>,
    #[serde(default)]
    pub body: Vec<Slot>,
    /// Button index → parameters that button needs (dynamic URL, copy code, OTP: one each).
    #[serde(default)]
    pub buttons: BTreeMap<u32, usize>,
}

/// The parameters a send gives, per component: one entry per value, holding its
/// `parameter_name` for named templates and `None` for positional ones.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct GivenParams {
    #[serde(default)]
    pub header: Vec<Option<String>>,
    #[serde(default)]
    pub body: Vec<Option<String>>,
    /// Button index → number of values given for it.
    #[serde(default)]
    pub buttons: BTreeMap<u32, usize>,
}

impl GivenParams {
    /// `n` positional header values.
    pub fn header_positional(mut self, n: usize) -> Self {
        self.header = vec![None; n];
        self
    }

    /// `n` positional body values.
    pub fn body_positional(mut self, n: usize) -> Self {
        self.body = vec![None; n];
        self
    }

    /// Named body values.
    pub fn body_named(mut self, names: &[&str]) -> Self {
        self.body = names.iter().map(|n| Some((*n).to_owned())).collect();
        self
    }

    /// Named header values.
    pub fn header_named(mut self, names: &[&str]) -> Self {
        self.header = names.iter().map(|n| Some((*n).to_owned())).collect();
        self
    }

    /// `n` values for the button at `index`.
    pub fn button(mut self, index: u32, n: usize) -> Self {
        self.buttons.insert(index, n);
        self
    }
}

/// One template in one language, as the catalog knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateFacts {
    pub name: String,
    /// `en_US`, `pt_BR`, … compared exactly, as Meta does.
    pub language: String,
    pub status: TemplateStatus,
    pub category: TemplateCategory,
    pub expected: ExpectedParams,
}

/// A template send: which template, in which language, with which values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateUse {
    pub name: String,
    pub language: String,
    #[serde(default)]
    pub params: GivenParams,
    /// The asset of a media header, when the send has one.
    #[serde(default)]
    pub header_media: Option<MediaFacts>,
}

/// Where the policy looks templates up (per WABA).
pub trait TemplateCatalog {
    /// Every language version of the template called `name`.
    fn versions(&self, name: &str) -> Vec<&TemplateFacts>;
}

impl TemplateCatalog for [TemplateFacts] {
    fn versions(&self, name: &str) -> Vec<&TemplateFacts> {
        self.iter().filter(|t| t.name == name).collect()
    }
}

impl TemplateCatalog for Vec<TemplateFacts> {
    fn versions(&self, name: &str) -> Vec<&TemplateFacts> {
        self.as_slice().versions(name)
    }
}

/// Finds the template a send names and checks it can be sent as given: it exists, in that
/// language, is approved, gets the right parameters, and its header media fits.
pub(super) fn check<'c>(
    catalog: &'c (impl TemplateCatalog + ?Sized),
    wanted: &TemplateUse,
    number: NumberKind,
) -> Result<&'c TemplateFacts, Refusal> {
    let versions = catalog.versions(&wanted.name);
    if versions.is_empty() {
        return Err(Refusal::TemplateNotFound {
            name: wanted.name.clone(),
        });
    }
    let Some(template) = versions.iter().find(|t| t.language == wanted.language) else {
        let mut available: Vec<String> = versions.iter().map(|t| t.language.clone()).collect();
        available.sort();
        available.dedup();
        return Err(Refusal::TemplateLanguageNotFound {
            name: wanted.name.clone(),
            language: wanted.language.clone(),
            available,
        });
    };
    if template.status != TemplateStatus::Approved {
        return Err(Refusal::TemplateNotApproved {
            name: template.name.clone(),
            language: template.language.clone(),
            status: template.status,
        });
    }
    check_params(&template.expected, &wanted.params)?;
    if let Some(media) = &wanted.header_media {
        media.check(number)?;
    }
    Ok(template)
}

/// Compares counts (header, body, then buttons in index order, as Meta reports them), then
/// the names of named placeholders.
fn check_params(expected: &ExpectedParams, given: &GivenParams) -> Result<(), Refusal> {
    let mismatch = |component: String, given: usize, expected: usize, missing: Vec<String>| {
        Refusal::TemplateParamMismatch {
            component,
            given,
            expected,
            missing_names: missing,
        }
    };
    for (component, want, got) in [
        ("header", &expected.header, &given.header),
        ("body", &expected.body, &given.body),
    ] {
        if want.len() != got.len() {
            return Err(mismatch(
                component.into(),
                got.len(),
                want.len(),
                Vec::new(),
            ));
        }
        let missing: Vec<String> = want
            .iter()
            .filter_map(|s| match s {
                Slot::Named(n) if !got.iter().any(|g| g.as_deref() == Some(n)) => Some(n.clone()),
                _ => None,
            })
            .collect();
        if !missing.is_empty() {
            return Err(mismatch(component.into(), got.len(), want.len(), missing));
        }
    }
    for (&index, &needed) in &expected.buttons {
        let got = given.buttons.get(&index).copied().unwrap_or(0);
        if got != needed {
            return Err(mismatch(format!("button {index}"), got, needed, Vec::new()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::MediaKind;

    fn catalog() -> Vec<TemplateFacts> {
        let t = |name: &str, language: &str, status, category, expected| TemplateFacts {
            name: name.into(),
            language: language.into(),
            status,
            category,
            expected,
        };
        vec![
            t(
                "order_update",
                "en_US",
                TemplateStatus::Approved,
                TemplateCategory::Utility,
                ExpectedParams {
                    header: vec![Slot::Media],
                    body: vec![Slot::Positional(1), Slot::Positional(2)],
                    buttons: BTreeMap::from([(1, 1)]),
                },
            ),
            t(
                "order_update",
                "pt_BR",
                TemplateStatus::Paused,
                TemplateCategory::Utility,
                ExpectedParams::default(),
            ),
            t(
                "wedding_invite",
                "en_US",
                TemplateStatus::Approved,
                TemplateCategory::Marketing,
                ExpectedParams {
                    body: vec![Slot::Named("name".into())],
                    ..Default::default()
                },
            ),
        ]
    }

    fn wanted(name: &str, language: &str, params: GivenParams) -> TemplateUse {
        TemplateUse {
            name: name.into(),
            language: language.into(),
            params,
            header_media: None,
        }
    }

    fn code(r: Result<&TemplateFacts, Refusal>) -> &'static str {
        r.map(|_| "ok").unwrap_or_else(|e| e.code())
    }

    #[test]
    fn existence_language_approval() {
        let c = catalog();
        let k = NumberKind::Coexistence;
        assert_eq!(
            code(check(
                &c,
                &wanted("nope", "en_US", GivenParams::default()),
                k
            )),
            "template_not_found"
        );
        let err = check(
            &c,
            &wanted("order_update", "es_ES", GivenParams::default()),
            k,
        )
        .unwrap_err();
        assert_eq!(err.code(), "template_language_not_found");
        assert!(err.to_string().contains("en_US, pt_BR"), "{err}");
        assert_eq!(err.meta_code(), Some(132001));
        let err = check(
            &c,
            &wanted("order_update", "pt_BR", GivenParams::default()),
            k,
        )
        .unwrap_err();
        assert_eq!(err.code(), "template_not_approved");
        assert_eq!(err.meta_code(), Some(132015));
    }

    #[test]
    fn positional_counts_header_body_buttons() {
        let c = catalog();
        let k = NumberKind::CloudApi;
        let full = GivenParams::default()
            .header_positional(1)
            .body_positional(2)
            .button(1, 1);
        let t = check(&c, &wanted("order_update", "en_US", full.clone()), k).unwrap();
        assert_eq!(t.category, TemplateCategory::Utility);

        let err = check(
            &c,
            &wanted("order_update", "en_US", full.clone().body_positional(1)),
            k,
        )
        .unwrap_err();
        assert_eq!(err.code(), "template_param_mismatch");
        assert_eq!(err.meta_code(), Some(132000));
        assert_eq!(
            err.to_string(),
            "body: number of localizable_params (1) does not match the expected number of params (2)"
        );
        let err = check(
            &c,
            &wanted("order_update", "en_US", full.clone().header_positional(0)),
            k,
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("header:"), "{err}");
        let mut no_button = full.clone();
        no_button.buttons.clear();
        let err = check(&c, &wanted("order_update", "en_US", no_button), k).unwrap_err();
        assert!(err.to_string().starts_with("button 1:"), "{err}");
    }

    #[test]
    fn named_params_are_matched_by_name() {
        let c = catalog();
        let k = NumberKind::CloudApi;
        let ok = GivenParams::default().body_named(&["name"]);
        assert!(check(&c, &wanted("wedding_invite", "en_US", ok), k).is_ok());
        let err = check(
            &c,
            &wanted("wedding_invite", "en_US", GivenParams::default()),
            k,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "body: number of localizable_params (0) does not match the expected number of params (1)"
        );
        let wrong = GivenParams::default().body_named(&["nome"]);
        let err = check(&c, &wanted("wedding_invite", "en_US", wrong), k).unwrap_err();
        assert_eq!(
            err.to_string(),
            "body: parameter names (name) are missing from the request"
        );
    }

    #[test]
    fn header_media_is_size_checked() {
        let c = catalog();
        let mut w = wanted(
            "order_update",
            "en_US",
            GivenParams::default()
                .header_positional(1)
                .body_positional(2)
                .button(1, 1),
        );
        w.header_media = Some(MediaFacts::known(
            MediaKind::Video,
            "video/mp4",
            17 * 1024 * 1024,
        ));
        assert_eq!(
            code(check(&c, &w, NumberKind::Coexistence)),
            "media_too_large"
        );
    }
}
