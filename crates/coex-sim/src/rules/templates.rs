//! Template sends (spec/cloud-api.md §3.1, §4): the template must exist in the requested
//! language and be approved (else 132001), and every component must get exactly the number of
//! parameters the template defines (else 132000, with Meta's `details` wording). Counting is
//! `coex-meta`'s (`check_send_params`), the same the hub runs before sending.

use coex_meta::graph::{ErrorCode, TemplateContent, check_send_params};

use crate::wire::errors::MetaError;
use crate::world::templates::{Template, TemplateStatus};

/// Finds and checks the template a send names; returns the template on success.
pub fn check_send<'a>(
    templates: &'a [Template],
    sent: &TemplateContent,
) -> Result<&'a Template, MetaError> {
    let (name, language) = (sent.name.as_str(), sent.language.code.as_str());
    let template = templates
        .iter()
        .find(|t| t.name == name && t.language == language && t.status == TemplateStatus::Approved)
        .ok_or_else(|| MetaError::template_missing(name, language))?;
    let meta = template
        .to_meta()
        .map_err(|e| MetaError::unknown().with_details(e))?;
    check_send_params(&meta, sent).map_err(|m| {
        MetaError::of(ErrorCode::TemplateParamCountMismatch).with_details(m.details())
    })?;
    Ok(template)
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::world::templates::{Button, TemplateCategory};

    fn sent(v: Value) -> TemplateContent {
        serde_json::from_value(v).unwrap()
    }

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
            assert_eq!(check_send(&ts, &sent(req)).unwrap_err().code, 132001);
        }
    }

    #[test]
    fn parameter_counts_are_checked_per_component() {
        let ts = templates();
        let err = check_send(
            &ts,
            &sent(json!({ "name": "order_update", "language": { "code": "en_US" },
                     "components": [{ "type": "body", "parameters": [{ "type": "text", "text": "Ana" }] }] })),
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
        assert_eq!(check_send(&ts, &sent(ok)).unwrap().name, "order_update");
        let no_button = json!({ "name": "order_update", "language": { "code": "en_US" }, "components": [
            { "type": "body", "parameters": [{ "type": "text", "text": "Ana" }, { "type": "text", "text": "42" }] }
        ] });
        assert_eq!(check_send(&ts, &sent(no_button)).unwrap_err().code, 132000);
    }
}
