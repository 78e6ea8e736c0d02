//! The template catalog the policy checks sends against: each WABA's templates as
//! `GET /{waba_id}/message_templates` lists them, cached for a while and fetched again when a
//! send names a template the cache does not know (it may have been created a moment ago).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use coex_core::WabaId;
use coex_core::policy::{ExpectedParams, Slot, TemplateCategory, TemplateFacts, TemplateStatus};
use coex_meta::graph::templates::HeaderParams;
use coex_meta::graph::{
    GraphClient, GraphError, MessageTemplate, Placeholder, TemplateCategory as MetaCategory,
    TemplateListQuery, TemplateStatus as MetaStatus,
};

/// Most pages read per listing (a WABA has at most a few hundred templates).
const MAX_PAGES: usize = 20;

/// A WABA's templates, shared by every send that reads them.
pub type Catalog = Arc<Vec<TemplateFacts>>;

/// The cache. Cheap to share behind an `Arc`.
pub struct TemplateCache {
    graph: GraphClient,
    ttl: Duration,
    // Why a std Mutex: lookups copy an `Arc` out and never hold the lock across an await.
    entries: Mutex<HashMap<WabaId, (tokio::time::Instant, Catalog)>>,
}

impl std::fmt::Debug for TemplateCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TemplateCache")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl TemplateCache {
    pub fn new(graph: GraphClient, ttl: Duration) -> Self {
        Self {
            graph,
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn cached(&self, waba: &WabaId) -> Option<(tokio::time::Instant, Catalog)> {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(waba)
            .cloned()
    }

    /// The WABA's catalog; fetched when missing, older than the TTL, or (when `name` is
    /// given) when it does not know that template yet.
    pub async fn catalog(&self, waba: &WabaId, name: Option<&str>) -> Result<Catalog, GraphError> {
        let now = tokio::time::Instant::now();
        if let Some((at, catalog)) = self.cached(waba) {
            let fresh = now.duration_since(at) < self.ttl;
            let knows = name.is_none_or(|n| catalog.iter().any(|t| t.name == n));
            if fresh && knows {
                return Ok(catalog);
            }
        }
        let catalog = Arc::new(self.fetch(waba).await?);
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(waba.clone(), (now, catalog.clone()));
        Ok(catalog)
    }

    /// Forgets a WABA's catalog (a template status webhook arrived).
    pub fn invalidate(&self, waba: &WabaId) {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(waba);
    }

    async fn fetch(&self, waba: &WabaId) -> Result<Vec<TemplateFacts>, GraphError> {
        let mut out = Vec::new();
        let mut query = TemplateListQuery {
            limit: Some(250),
            ..TemplateListQuery::default()
        };
        for _ in 0..MAX_PAGES {
            let page = self.graph.list_templates(waba, &query).await?;
            out.extend(page.data.iter().filter_map(facts));
            match page.after() {
                Some(after) if !page.data.is_empty() => query.after = Some(after.to_owned()),
                _ => break,
            }
        }
        Ok(out)
    }
}

fn slot(p: &Placeholder) -> Slot {
    match p {
        Placeholder::Positional(n) => Slot::Positional(*n),
        Placeholder::Named(n) => Slot::Named(n.clone()),
    }
}

/// A listed template as the policy knows it; `None` for one without a category we price.
pub fn facts(t: &MessageTemplate) -> Option<TemplateFacts> {
    let category = match t.category.as_ref()? {
        MetaCategory::Marketing => TemplateCategory::Marketing,
        MetaCategory::Utility => TemplateCategory::Utility,
        MetaCategory::Authentication => TemplateCategory::Authentication,
        MetaCategory::Other(_) => return None,
    };
    let status = match t.status.as_ref() {
        Some(MetaStatus::Approved) => TemplateStatus::Approved,
        Some(MetaStatus::Rejected) => TemplateStatus::Rejected,
        Some(MetaStatus::Paused) => TemplateStatus::Paused,
        Some(MetaStatus::Disabled) => TemplateStatus::Disabled,
        Some(MetaStatus::InAppeal) => TemplateStatus::InAppeal,
        Some(MetaStatus::PendingDeletion) => TemplateStatus::PendingDeletion,
        Some(MetaStatus::Deleted) => TemplateStatus::Deleted,
        Some(MetaStatus::LimitExceeded) => TemplateStatus::LimitExceeded,
        Some(MetaStatus::Pending | MetaStatus::Other(_)) | None => TemplateStatus::Pending,
    };
    let expected = t.expected_params();
    Some(TemplateFacts {
        name: t.name.clone(),
        language: t.language.clone(),
        status,
        category,
        expected: ExpectedParams {
            header: match &expected.header {
                HeaderParams::None => Vec::new(),
                HeaderParams::Text(p) => p.iter().map(slot).collect(),
                HeaderParams::Media(_) => vec![Slot::Media],
            },
            body: expected.body.iter().map(slot).collect(),
            buttons: expected.buttons.clone(),
        },
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn listed_templates_become_facts() {
        let t: MessageTemplate = serde_json::from_value(json!({
            "name": "order_update", "language": "en_US", "status": "APPROVED", "category": "UTILITY",
            "components": [
                {"type": "HEADER", "format": "IMAGE"},
                {"type": "BODY", "text": "Hi {{1}}, order {{2}} shipped"},
                {"type": "BUTTONS", "buttons": [
                    {"type": "QUICK_REPLY", "text": "OK"},
                    {"type": "URL", "text": "Track", "url": "https://x/{{1}}"}
                ]}
            ]
        }))
        .unwrap();
        let f = facts(&t).unwrap();
        assert_eq!(f.status, TemplateStatus::Approved);
        assert_eq!(f.category, TemplateCategory::Utility);
        assert_eq!(f.expected.header, vec![Slot::Media]);
        assert_eq!(
            f.expected.body,
            vec![Slot::Positional(1), Slot::Positional(2)]
        );
        assert_eq!(f.expected.buttons.get(&1), Some(&1));
    }
}
