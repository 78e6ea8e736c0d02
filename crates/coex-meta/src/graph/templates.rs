//! Message templates: `GET/POST /{waba_id}/message_templates`, and the parameter arithmetic
//! both the sender and the emulator need.
//!
//! A template's components hold placeholders — positional `{{1}}` or named `{{first_name}}`.
//! A send must give exactly as many values per component as the template expects, or Meta
//! answers 132000 with details such as
//! `body: number of localizable_params (0) does not match the expected number of params (1)`
//! (spec §3.1, captured traffic). [`expected_params`] counts what a template expects and
//! [`check_send_params`] compares a send against it, producing that same error body.
//!
//! The management API writes component and button types in upper case (`BODY`,
//! `QUICK_REPLY`); parsing ignores case so either form is read.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::{ErrorCode, GraphErrorBody};
use super::messages::{SendComponentType, TemplateContent};
use super::wire::{Extra, wire_enum};

wire_enum!(
    /// `status` of a template.
    TemplateStatus {
        Approved = "APPROVED",
        Pending = "PENDING",
        Rejected = "REJECTED",
        Paused = "PAUSED",
        Disabled = "DISABLED",
        InAppeal = "IN_APPEAL",
        PendingDeletion = "PENDING_DELETION",
        Deleted = "DELETED",
        LimitExceeded = "LIMIT_EXCEEDED",
    }
);

wire_enum!(
    /// `category` of a template; decides pricing.
    TemplateCategory {
        Marketing = "MARKETING",
        Utility = "UTILITY",
        Authentication = "AUTHENTICATION",
    }
);

wire_enum!(
    /// `parameter_format`: how placeholders are written.
    ParameterFormat {
        /// `{{1}}`, `{{2}}` …
        Positional = "POSITIONAL",
        /// `{{first_name}}` …
        Named = "NAMED",
    }
);

wire_enum!(
    /// `components[].type` in the management API.
    TemplateComponentType {
        Header = "HEADER",
        Body = "BODY",
        Footer = "FOOTER",
        Buttons = "BUTTONS",
        Carousel = "CAROUSEL",
        LimitedTimeOffer = "LIMITED_TIME_OFFER",
    }
);

wire_enum!(
    /// `components[].format` of a header.
    HeaderFormat {
        Text = "TEXT",
        Image = "IMAGE",
        Video = "VIDEO",
        Document = "DOCUMENT",
        Location = "LOCATION",
    }
);

wire_enum!(
    /// `buttons[].type`.
    TemplateButtonType {
        QuickReply = "QUICK_REPLY",
        Url = "URL",
        PhoneNumber = "PHONE_NUMBER",
        CopyCode = "COPY_CODE",
        Otp = "OTP",
        Flow = "FLOW",
        Catalog = "CATALOG",
        Mpm = "MPM",
        VoiceCall = "VOICE_CALL",
    }
);

/// A template id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TemplateId(pub String);

/// One template, as listed by `GET /{waba_id}/message_templates` and created by POST.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageTemplate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<TemplateId>,
    pub name: String,
    /// `en_US`, `pt_BR`, …
    pub language: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<TemplateStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<TemplateCategory>,
    #[serde(default)]
    pub components: Vec<TemplateComponent>,
    /// Absent means positional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameter_format: Option<ParameterFormat>,
    #[serde(flatten)]
    pub extra: Extra,
}

impl MessageTemplate {
    /// What a send of this template must supply.
    pub fn expected_params(&self) -> ExpectedParams {
        expected_params(&self.components)
    }
}

/// A template component (header, body, footer, buttons).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateComponent {
    #[serde(rename = "type")]
    pub kind: TemplateComponentType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<HeaderFormat>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Sample values for review: `header_text`, `body_text`, `header_handle`,
    /// `*_named_params`. Kept as JSON: its shape differs per component and format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub example: Option<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<TemplateButton>,
    #[serde(flatten)]
    pub extra: Extra,
}

impl TemplateComponent {
    /// A component with only a type and text.
    pub fn text(kind: TemplateComponentType, text: impl Into<String>) -> Self {
        Self {
            kind,
            format: None,
            text: Some(text.into()),
            example: None,
            buttons: Vec::new(),
            extra: Extra::new(),
        }
    }
}

/// A template button.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateButton {
    #[serde(rename = "type")]
    pub kind: TemplateButtonType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// URL buttons; may contain one `{{1}}` suffix placeholder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub example: Option<Value>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `POST /{waba_id}/message_templates` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateTemplateRequest {
    pub name: String,
    pub language: String,
    pub category: TemplateCategory,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameter_format: Option<ParameterFormat>,
    pub components: Vec<TemplateComponent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_category_change: Option<bool>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// The answer to a create.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateTemplateResponse {
    pub id: TemplateId,
    pub status: TemplateStatus,
    pub category: TemplateCategory,
    #[serde(flatten)]
    pub extra: Extra,
}

/// Filters for `GET /{waba_id}/message_templates`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TemplateListQuery {
    pub name: Option<String>,
    pub status: Option<TemplateStatus>,
    pub limit: Option<u32>,
    /// `paging.cursors.after` of the previous page.
    pub after: Option<String>,
}

impl TemplateListQuery {
    /// As query-string pairs.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut q = Vec::new();
        if let Some(n) = &self.name {
            q.push(("name", n.clone()));
        }
        if let Some(s) = &self.status {
            q.push(("status", s.as_str().to_owned()));
        }
        if let Some(l) = self.limit {
            q.push(("limit", l.to_string()));
        }
        if let Some(a) = &self.after {
            q.push(("after", a.clone()));
        }
        q
    }
}

// ---------------------------------------------------------------------------------------------
// Parameter counting

/// A placeholder inside template text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Placeholder {
    /// `{{1}}`.
    Positional(u32),
    /// `{{first_name}}`.
    Named(String),
}

/// The distinct placeholders in `text`, in order of first appearance.
///
/// Whitespace inside the braces is ignored. Positional names are 1-based digits; named ones
/// are lowercase letters, digits and underscores starting with a letter (Meta's rule).
/// Anything else between braces is literal text, not a placeholder.
pub fn placeholders(text: &str) -> Vec<Placeholder> {
    let mut out: Vec<Placeholder> = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        let inner = after[..end].trim();
        let p = if !inner.is_empty() && inner.bytes().all(|b| b.is_ascii_digit()) {
            inner.parse().ok().map(Placeholder::Positional)
        } else if inner.starts_with(|c: char| c.is_ascii_lowercase())
            && inner
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            Some(Placeholder::Named(inner.to_owned()))
        } else {
            None
        };
        match p {
            Some(p) if !out.contains(&p) => out.push(p),
            _ => {}
        }
        rest = &after[end + 2..];
    }
    out
}

/// What a template's header expects.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum HeaderParams {
    /// No header, or a text header without placeholders.
    #[default]
    None,
    /// A text header with these placeholders.
    Text(Vec<Placeholder>),
    /// A media or location header: exactly one parameter of this format.
    Media(HeaderFormat),
}

/// What a send of a template must supply, per component. Carousel cards and limited-time
/// offers are not counted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExpectedParams {
    pub header: HeaderParams,
    pub body: Vec<Placeholder>,
    /// Button index → number of parameters that button needs (URL with a placeholder,
    /// COPY_CODE and OTP need one; others none and are omitted).
    pub buttons: BTreeMap<u32, usize>,
}

impl ExpectedParams {
    pub fn header_count(&self) -> usize {
        match &self.header {
            HeaderParams::None => 0,
            HeaderParams::Text(p) => p.len(),
            HeaderParams::Media(_) => 1,
        }
    }

    /// Every value a send must carry.
    pub fn total(&self) -> usize {
        self.header_count() + self.body.len() + self.buttons.values().sum::<usize>()
    }
}

/// Counts the parameters `components` expect.
pub fn expected_params(components: &[TemplateComponent]) -> ExpectedParams {
    let mut out = ExpectedParams::default();
    for c in components {
        match c.kind {
            TemplateComponentType::Header => {
                out.header = match c.format.as_ref().unwrap_or(&HeaderFormat::Text) {
                    HeaderFormat::Text | HeaderFormat::Other(_) => {
                        let p = placeholders(c.text.as_deref().unwrap_or(""));
                        if p.is_empty() {
                            HeaderParams::None
                        } else {
                            HeaderParams::Text(p)
                        }
                    }
                    media => HeaderParams::Media(media.clone()),
                };
            }
            TemplateComponentType::Body => {
                out.body = placeholders(c.text.as_deref().unwrap_or(""));
            }
            TemplateComponentType::Buttons => {
                for (i, b) in c.buttons.iter().enumerate() {
                    let needed = match b.kind {
                        TemplateButtonType::Url => {
                            placeholders(b.url.as_deref().unwrap_or("")).len().min(1)
                        }
                        TemplateButtonType::CopyCode | TemplateButtonType::Otp => 1,
                        _ => 0,
                    };
                    if needed > 0 {
                        let idx = u32::try_from(i).unwrap_or(u32::MAX);
                        out.buttons.insert(idx, needed);
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// A send whose parameters do not fit the template (Meta's 132000).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.details())]
pub struct ParamMismatch {
    /// `header`, `body` or `button 1`.
    pub component: String,
    pub provided: usize,
    pub expected: usize,
    /// For named templates: names expected but not given.
    pub missing_names: Vec<String>,
}

impl ParamMismatch {
    /// Meta's `error_data.details` text.
    pub fn details(&self) -> String {
        if self.provided == self.expected && !self.missing_names.is_empty() {
            return format!(
                "{}: parameter names ({}) are missing from the request",
                self.component,
                self.missing_names.join(", ")
            );
        }
        format!(
            "{}: number of localizable_params ({}) does not match the expected number of params ({})",
            self.component, self.provided, self.expected
        )
    }

    /// The 132000 body the emulator answers with.
    pub fn to_graph_error(&self) -> GraphErrorBody {
        GraphErrorBody::new(ErrorCode::TemplateParamCountMismatch).with_details(self.details())
    }
}

/// Checks that `sent` carries the parameters `template` expects, header, body, then buttons.
pub fn check_send_params(
    template: &MessageTemplate,
    sent: &TemplateContent,
) -> Result<(), ParamMismatch> {
    let expected = template.expected_params();
    let header = sent.parameters_for(&SendComponentType::Header, None);
    if header.len() != expected.header_count() {
        return Err(ParamMismatch {
            component: "header".into(),
            provided: header.len(),
            expected: expected.header_count(),
            missing_names: Vec::new(),
        });
    }
    if let HeaderParams::Text(p) = &expected.header {
        check_names("header", p, header)?;
    }
    let body = sent.parameters_for(&SendComponentType::Body, None);
    if body.len() != expected.body.len() {
        return Err(ParamMismatch {
            component: "body".into(),
            provided: body.len(),
            expected: expected.body.len(),
            missing_names: Vec::new(),
        });
    }
    check_names("body", &expected.body, body)?;
    for (&index, &needed) in &expected.buttons {
        let given = sent.parameters_for(&SendComponentType::Button, Some(index));
        if given.len() != needed {
            return Err(ParamMismatch {
                component: format!("button {index}"),
                provided: given.len(),
                expected: needed,
                missing_names: Vec::new(),
            });
        }
    }
    Ok(())
}

fn check_names(
    component: &str,
    expected: &[Placeholder],
    given: &[super::messages::TemplateParameter],
) -> Result<(), ParamMismatch> {
    let missing: Vec<String> = expected
        .iter()
        .filter_map(|p| match p {
            Placeholder::Named(n) => Some(n),
            Placeholder::Positional(_) => None,
        })
        .filter(|n| {
            !given
                .iter()
                .any(|g| g.parameter_name.as_deref() == Some(n.as_str()))
        })
        .cloned()
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(ParamMismatch {
            component: component.to_owned(),
            provided: given.len(),
            expected: expected.len(),
            missing_names: missing,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::ListResponse;
    use super::super::messages::{ButtonSubType, SendComponent, TemplateParameter};
    use super::*;
    use serde_json::json;

    const LIST: &str = r##"{
      "data": [
        { "name": "order_confirmation", "parameter_format": "POSITIONAL",
          "components": [
            { "type": "HEADER", "format": "TEXT", "text": "Order {{1}}", "example": { "header_text": ["#123"] } },
            { "type": "BODY", "text": "Hi {{1}}, your order {{2}} ships on {{3}}. Thanks {{1}}!",
              "example": { "body_text": [["Ana", "#123", "Monday"]] } },
            { "type": "FOOTER", "text": "Lucky Shrub" },
            { "type": "BUTTONS", "buttons": [
                { "type": "QUICK_REPLY", "text": "Stop promotions" },
                { "type": "URL", "text": "Track", "url": "https://example.com/track/{{1}}", "example": ["https://example.com/track/abc"] },
                { "type": "PHONE_NUMBER", "text": "Call us", "phone_number": "+15550783881" } ] } ],
          "language": "en_US", "status": "APPROVED", "category": "UTILITY", "id": "1192339204654487" },
        { "name": "wedding_pre_invite_1", "parameter_format": "NAMED",
          "components": [
            { "type": "HEADER", "format": "IMAGE", "example": { "header_handle": ["4::aW1h..."] } },
            { "type": "BODY", "text": "Dear {{name}}, save the date!",
              "example": { "body_text_named_params": [{ "param_name": "name", "example": "Madhav" }] } } ],
          "language": "en_US", "status": "PENDING", "category": "MARKETING", "id": "2", "quality_score": { "score": "UNKNOWN" } }
      ],
      "paging": { "cursors": { "before": "MAZDZD", "after": "MjQZD" } }
    }"##;

    #[test]
    fn list_parses_and_roundtrips() {
        let list: ListResponse<MessageTemplate> = serde_json::from_str(LIST).unwrap();
        assert_eq!(
            serde_json::to_value(&list).unwrap(),
            serde_json::from_str::<Value>(LIST).unwrap()
        );
        let t = &list.data[0];
        assert_eq!(t.status, Some(TemplateStatus::Approved));
        assert_eq!(t.category, Some(TemplateCategory::Utility));
        assert_eq!(t.components[3].buttons[1].kind, TemplateButtonType::Url);
        assert!(list.data[1].extra.contains_key("quality_score"));
        assert_eq!(list.after(), Some("MjQZD"));
    }

    #[test]
    fn counts_positional_named_header_and_buttons() {
        let list: ListResponse<MessageTemplate> = serde_json::from_str(LIST).unwrap();
        let e = list.data[0].expected_params();
        assert_eq!(
            e.header,
            HeaderParams::Text(vec![Placeholder::Positional(1)])
        );
        assert_eq!(
            e.body,
            vec![
                Placeholder::Positional(1),
                Placeholder::Positional(2),
                Placeholder::Positional(3)
            ]
        );
        assert_eq!(e.buttons, BTreeMap::from([(1, 1)]));
        assert_eq!(e.total(), 5);
        let e = list.data[1].expected_params();
        assert_eq!(e.header, HeaderParams::Media(HeaderFormat::Image));
        assert_eq!(e.body, vec![Placeholder::Named("name".into())]);
        assert_eq!(e.total(), 2);
    }

    #[test]
    fn placeholder_parsing() {
        assert_eq!(
            placeholders("{{ 1 }} {{first_name}} {{1}} {{Bad}} {{}} {{a-b}} {{2}"),
            vec![
                Placeholder::Positional(1),
                Placeholder::Named("first_name".into())
            ]
        );
        assert!(placeholders("no braces, {single}").is_empty());
        assert_eq!(placeholders("{{{{3}}}}"), vec![]);
    }

    #[test]
    fn check_send_reproduces_metas_132000() {
        let t = MessageTemplate {
            id: None,
            name: "wedding_pre_invite_1".into(),
            language: "en_US".into(),
            status: Some(TemplateStatus::Approved),
            category: Some(TemplateCategory::Marketing),
            components: vec![TemplateComponent::text(
                TemplateComponentType::Body,
                "Dear {{name}}",
            )],
            parameter_format: Some(ParameterFormat::Named),
            extra: Extra::new(),
        };
        let bare = TemplateContent::new("wedding_pre_invite_1", "en_US");
        let err = check_send_params(&t, &bare).unwrap_err();
        assert_eq!(
            err.details(),
            "body: number of localizable_params (0) does not match the expected number of params (1)"
        );
        let body = err.to_graph_error();
        assert_eq!(
            serde_json::to_value(body.into_envelope()).unwrap(),
            json!({"error": {"message": "(#132000) Number of parameters does not match the expected number of params",
                "type": "OAuthException", "code": 132000, "error_data": {"messaging_product": "whatsapp",
                "details": "body: number of localizable_params (0) does not match the expected number of params (1)"}}})
        );
        let good =
            bare.clone()
                .with_component(SendComponent::body(vec![TemplateParameter::named_text(
                    "name", "Madhav",
                )]));
        check_send_params(&t, &good).unwrap();
        let wrong_name =
            bare.with_component(SendComponent::body(vec![TemplateParameter::named_text(
                "nome", "M",
            )]));
        let err = check_send_params(&t, &wrong_name).unwrap_err();
        assert_eq!(err.missing_names, vec!["name".to_owned()]);
    }

    #[test]
    fn check_send_counts_header_and_buttons() {
        let list: ListResponse<MessageTemplate> = serde_json::from_str(LIST).unwrap();
        let t = &list.data[0];
        let base = TemplateContent::new("order_confirmation", "en_US")
            .with_component(SendComponent::header(vec![TemplateParameter::text("#123")]))
            .with_component(SendComponent::body(vec![
                TemplateParameter::text("Ana"),
                TemplateParameter::text("#123"),
                TemplateParameter::text("Monday"),
            ]));
        let err = check_send_params(t, &base).unwrap_err();
        assert_eq!(err.component, "button 1");
        let full = base.with_component(SendComponent::button(
            ButtonSubType::Url,
            1,
            vec![TemplateParameter::text("abc")],
        ));
        check_send_params(t, &full).unwrap();
    }

    #[test]
    fn create_request_and_response() {
        let req = CreateTemplateRequest {
            name: "seasonal_promotion".into(),
            language: "en_US".into(),
            category: TemplateCategory::Marketing,
            parameter_format: None,
            components: vec![TemplateComponent::text(
                TemplateComponentType::Body,
                "Shop now through {{1}}!",
            )],
            allow_category_change: None,
            extra: Extra::new(),
        };
        assert_eq!(
            serde_json::to_value(&req).unwrap(),
            json!({"name": "seasonal_promotion", "language": "en_US", "category": "MARKETING",
                   "components": [{"type": "BODY", "text": "Shop now through {{1}}!"}]})
        );
        let raw = r#"{ "id": "572279198452421", "status": "PENDING", "category": "MARKETING" }"#;
        let r: CreateTemplateResponse = serde_json::from_str(raw).unwrap();
        assert_eq!(r.status, TemplateStatus::Pending);
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            serde_json::from_str::<Value>(raw).unwrap()
        );
        // Lowercase component types from hand-written clients are read too.
        let c: TemplateComponent =
            serde_json::from_value(json!({"type": "body", "text": "x"})).unwrap();
        assert_eq!(c.kind, TemplateComponentType::Body);
    }

    #[test]
    fn list_query_pairs() {
        let q = TemplateListQuery {
            status: Some(TemplateStatus::Approved),
            limit: Some(50),
            ..Default::default()
        };
        assert_eq!(
            q.pairs(),
            vec![
                ("status", "APPROVED".to_owned()),
                ("limit", "50".to_owned())
            ]
        );
    }
}
