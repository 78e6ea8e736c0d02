//! Template sends (spec/cloud-api.md §3.1, §4): the template must exist in the requested
//! language and be approved (else 132001), and every component must get exactly the number of
//! parameters the template defines (else 132000, with Meta's `details` wording).

use serde_json::Value;

use crate::wire::errors::MetaError;
use crate::world::templates::{Header, Template, TemplateStatus};

/// Finds and checks the template a send request names; returns the template on success.
pub fn check_send<'a>(
    templates: &'a [Template],
    request: &Value,
) -> Result<&'a Template, MetaError> {
    let name = request
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| MetaError::missing_param("template.name is required"))?;
    let language = request
        .pointer("/language/code")
        .and_then(Value::as_str)
        .ok_or_else(|| MetaError::missing_param("template.language.code is required"))?;
    let template = templates
        .iter()
        .find(|t| t.name == name && t.language == language && t.status == TemplateStatus::Approved)
        .ok_or_else(|| MetaError::template_missing(name, language))?;

    let components = request
        .get("components")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let count = |kind: &str| -> usize {
        components
            .iter()
            .filter(|c| c.get("type").and_then(Value::as_str) == Some(kind))
            .map(|c| {
                c.get("parameters")
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len)
            })
            .sum()
    };

    let header_expected = match &template.header {
        Some(Header::Text { params, .. }) => *params,
        Some(Header::Media { .. }) => 1,
        None => 0,
    };
    let header_got = count("header");
    if header_got != header_expected {
        return Err(MetaError::template_params(
            "header",
            header_got,
            header_expected,
        ));
    }
    let body_got = count("body");
    if body_got != template.body_params {
        return Err(MetaError::template_params(
            "body",
            body_got,
            template.body_params,
        ));
    }
    for (index, button) in template.buttons.iter().enumerate() {
        let got: usize = components
            .iter()
            .filter(|c| c.get("type").and_then(Value::as_str) == Some("button"))
            .filter(|c| button_index(c) == Some(index))
            .map(|c| {
                c.get("parameters")
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len)
            })
            .sum();
        if got != button.params() {
            return Err(MetaError::template_params(
                &format!("button at index {index}"),
                got,
                button.params(),
            ));
        }
    }
    Ok(template)
}

fn button_index(component: &Value) -> Option<usize> {
    match component.get("index")? {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_u64().and_then(|n| usize::try_from(n).ok()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::world::templates::{Button, TemplateCategory};

    fn templates() -> Vec<Template> {
        let base = Template {
            id: "1".into(),
            name: "order_update".into(),
            language: "en_US".into(),
            status: TemplateStatus::Approved,
            category: TemplateCategory::Utility,
            header: None,
            body: "Hi {{1}}, order {{2}} shipped".into(),
            body_params: 2,
            footer: None,
            buttons: vec![Button::Url {
                text: "Track".into(),
                url: "https://t.example/{{1}}".into(),
                dynamic: true,
            }],
        };
        let pending = Template {
            id: "2".into(),
            name: "spring_sale".into(),
            status: TemplateStatus::Pending,
            ..base.clone()
        };
        vec![base, pending]
    }

    #[test]
    fn unknown_wrong_language_or_unapproved_is_132001() {
        let ts = templates();
        for req in [
            json!({ "name": "nope", "language": { "code": "en_US" } }),
            json!({ "name": "order_update", "language": { "code": "pt_BR" } }),
            json!({ "name": "spring_sale", "language": { "code": "en_US" } }),
        ] {
            assert_eq!(check_send(&ts, &req).unwrap_err().code, 132001);
        }
    }

    #[test]
    fn parameter_counts_are_checked_per_component() {
        let ts = templates();
        let err = check_send(
            &ts,
            &json!({ "name": "order_update", "language": { "code": "en_US" },
                     "components": [{ "type": "body", "parameters": [{ "type": "text", "text": "Ana" }] }] }),
        )
        .unwrap_err();
        assert_eq!(err.code, 132000);
        assert_eq!(
            err.details,
            "body: number of localizable_params (1) does not match the expected number of params (2)"
        );
        let ok = json!({ "name": "order_update", "language": { "code": "en_US" }, "components": [
            { "type": "body", "parameters": [{ "type": "text", "text": "Ana" }, { "type": "text", "text": "42" }] },
            { "type": "button", "sub_type": "url", "index": "0", "parameters": [{ "type": "text", "text": "42" }] }
        ] });
        assert_eq!(check_send(&ts, &ok).unwrap().name, "order_update");
        let no_button = json!({ "name": "order_update", "language": { "code": "en_US" }, "components": [
            { "type": "body", "parameters": [{ "type": "text", "text": "Ana" }, { "type": "text", "text": "42" }] }
        ] });
        assert_eq!(check_send(&ts, &no_button).unwrap_err().code, 132000);
    }
}
