//! Onboarding's sync requests when Meta refuses them: past the 24 h after onboarding
//! (2593108), or requested already (2593107). The refusal is the sync job's state, shown by the
//! REST API, and onboarding again (as `coex serve` does at every start) does not ask again.

use coex_core::model::{SyncKind, SyncState};
use coex_store::Store;
use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::{Backend, Env, Options};

/// How many `smb_app_data` calls the emulator has seen.
async fn sync_calls(env: &Env) -> usize {
    env.ctl("GET", "/requests?path=smb_app_data", None)
        .await
        .as_array()
        .unwrap()
        .len()
}

/// `GET /v1/numbers/{id}/sync`, by kind.
async fn rest_sync(env: &Env, kind: &str) -> Value {
    let jobs = env.rest(&format!("/numbers/{}/sync", env.coex())).await;
    jobs["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} job in {jobs}"))
        .clone()
}

async fn a_sync_requested_past_24_hours_is_refused_once(backend: Backend) {
    let env = Env::start_with(
        backend,
        Options {
            onboard: false,
            ..Options::default()
        },
    )
    .await;
    let coex = env.coex();
    // The number was onboarded on Meta's side 10 minutes before the start; a day later it is
    // too late to ask for its contacts or history.
    env.advance("25h").await;
    let first = env.onboard().await;
    let ours = first.iter().find(|n| n.id == coex).unwrap();
    assert!(
        matches!(&ours.contacts_sync, Some(Err(e)) if e.contains("2593108")),
        "{ours:?}"
    );
    assert!(
        matches!(&ours.history_sync, Some(Err(e)) if e.contains("2593108")),
        "{ours:?}"
    );
    assert_eq!(sync_calls(&env).await, 2);

    let jobs = env.store.sync_progress(&coex).await.unwrap();
    assert_eq!(jobs.len(), 2, "{jobs:?}");
    for job in &jobs {
        assert_eq!(job.state, SyncState::Refused, "{job:?}");
        let error = job.error.as_ref().unwrap();
        assert_eq!(error.code, 2593108);
        assert_eq!(
            error.details.as_deref(),
            Some("Synchronization request can only be made within 24 hours of onboarding.")
        );
        assert_eq!(
            job.requested_at.map(|t| t.as_secs()),
            Some(env.now().as_secs())
        );
    }
    for kind in ["contacts", "history"] {
        let job = rest_sync(&env, kind).await;
        assert_eq!(job["state"], "refused", "{job}");
        assert_eq!(job["error"]["code"], 2593108, "{job}");
    }

    // The next start onboards again: nothing is asked, the state stays.
    let again = env.onboard().await;
    let ours = again.iter().find(|n| n.id == coex).unwrap();
    assert!(
        ours.contacts_sync.is_none() && ours.history_sync.is_none(),
        "{ours:?}"
    );
    assert_eq!(sync_calls(&env).await, 2, "not asked again");
    assert_eq!(env.store.sync_progress(&coex).await.unwrap(), jobs);
    env.finish().await;
}
both_backends!(a_sync_requested_past_24_hours_is_refused_once);

async fn a_sync_requested_already_is_refused_and_the_other_goes_ahead(backend: Backend) {
    // The emulator only records its webhooks: what the earlier request sends does not reach
    // the hub before its onboarding runs.
    let env = Env::start_with(
        backend,
        Options {
            onboard: false,
            deliver: false,
            ..Options::default()
        },
    )
    .await;
    let coex = env.coex();
    // Someone (an earlier installation) asked for the contacts already.
    let url = format!(
        "{}/{}/{coex}/smb_app_data",
        env.info.graph_url, env.info.graph_version
    );
    let resp = env
        .http
        .post(&url)
        .bearer_auth(&env.info.access_token)
        .json(&json!({ "messaging_product": "whatsapp", "sync_type": "smb_app_state_sync" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    let first = env.onboard().await;
    let ours = first.iter().find(|n| n.id == coex).unwrap();
    assert!(
        matches!(&ours.contacts_sync, Some(Err(e)) if e.contains("2593107")),
        "{ours:?}"
    );
    assert!(matches!(&ours.history_sync, Some(Ok(_))), "{ours:?}");
    let jobs = env.store.sync_progress(&coex).await.unwrap();
    let contacts = jobs.iter().find(|j| j.kind == SyncKind::Contacts).unwrap();
    assert_eq!(contacts.state, SyncState::Refused);
    assert_eq!(contacts.error.as_ref().unwrap().code, 2593107);
    let history = jobs.iter().find(|j| j.kind == SyncKind::History).unwrap();
    assert_eq!(history.state, SyncState::Requested);
    assert!(history.request_id.is_some() && history.error.is_none());
    let job = rest_sync(&env, "contacts").await;
    assert_eq!(job["state"], "refused", "{job}");
    assert_eq!(job["error"]["code"], 2593107, "{job}");

    let calls = sync_calls(&env).await;
    env.onboard().await;
    assert_eq!(sync_calls(&env).await, calls, "not asked again");
    env.finish().await;
}
both_backends!(a_sync_requested_already_is_refused_and_the_other_goes_ahead);
