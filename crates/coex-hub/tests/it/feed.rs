//! The live feed, `GET /v1/workspaces/{id}/events` (server-sent events): it streams the stored
//! events in order, then new ones as they are committed, and resumes after `Last-Event-ID`
//! without losing or repeating one.

use std::time::Duration;

use coex_core::model::{EventSeq, StoredEvent};
use coex_store::Store;
use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::{Backend, Env};

/// A hang guard per event (never an assertion on speed).
const HANG: Duration = Duration::from_secs(60);

/// One server-sent event.
#[derive(Debug, Clone)]
struct SseEvent {
    id: i64,
    event: String,
    data: Value,
}

/// Reads server-sent events off a streaming response.
struct SseReader {
    resp: reqwest::Response,
    buf: String,
}

impl SseReader {
    async fn open(env: &Env, query: &str, last_event_id: Option<i64>) -> SseReader {
        let mut req = env.http.get(format!(
            "{}/v1/workspaces/{}/events{query}",
            env.hub.url, env.workspace.id
        ));
        if let Some(id) = last_event_id {
            req = req.header("last-event-id", id.to_string());
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        let ct = resp.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(ct.starts_with("text/event-stream"), "{ct}");
        SseReader {
            resp,
            buf: String::new(),
        }
    }

    /// The next event (keep-alive comments are skipped).
    async fn next(&mut self) -> SseEvent {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let (mut id, mut event, mut data) = (None, String::new(), String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        id = Some(v.trim().parse().unwrap());
                    } else if let Some(v) = line.strip_prefix("event:") {
                        event = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim_start());
                    }
                }
                if let Some(id) = id {
                    return SseEvent {
                        id,
                        event,
                        data: serde_json::from_str(&data).unwrap(),
                    };
                }
                continue;
            }
            let chunk = tokio::time::timeout(HANG, self.resp.chunk())
                .await
                .expect("the feed stopped sending")
                .unwrap()
                .expect("the feed ended");
            self.buf.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }

    async fn take(&mut self, n: usize) -> Vec<SseEvent> {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(self.next().await);
        }
        out
    }
}

fn assert_same(streamed: &[SseEvent], stored: &[StoredEvent]) {
    assert_eq!(streamed.len(), stored.len());
    for (s, e) in streamed.iter().zip(stored) {
        assert_eq!(s.id, e.seq.get());
        assert_eq!(s.event, e.kind.as_str());
        assert_eq!(s.data["seq"], e.seq.get());
        assert_eq!(s.data["kind"], e.kind.as_str());
        assert_eq!(s.data["wamid"], serde_json::to_value(&e.wamid).unwrap());
    }
}

async fn the_feed_streams_and_resumes(backend: Backend) {
    let env = Env::start(backend).await;
    // History, contacts and a conversation make a few dozen events.
    env.advance("1m").await;
    env.act(json!({ "action": "customer_sends", "customer": "alice", "text": "Hi!" }))
        .await;
    env.quiesce().await;
    let stored = env
        .store
        .events_after(env.workspace.id, EventSeq::new(0), 10_000)
        .await
        .unwrap();
    assert!(stored.len() > 20, "{}", stored.len());

    // From the start: every stored event, in order.
    let mut feed = SseReader::open(&env, "", None).await;
    let streamed = feed.take(stored.len()).await;
    assert_same(&streamed, &stored);
    assert!(streamed.windows(2).all(|w| w[0].id < w[1].id));

    // Then live: a new message shows up on the open stream.
    let sent = env
        .act(json!({ "action": "customer_sends", "customer": "dana", "text": "Open late?" }))
        .await;
    let wamid = sent["id"].as_str().unwrap().to_owned();
    let mut live = Vec::new();
    loop {
        let e = feed.next().await;
        let done = e.event == "message.created" && e.data["wamid"] == wamid.as_str();
        live.push(e);
        if done {
            break;
        }
    }
    assert_eq!(live[0].id, streamed.last().unwrap().id + 1, "{live:#?}");
    drop(feed);

    // Resuming after an event gives exactly the ones after it, live ones included.
    let all = env
        .store
        .events_after(env.workspace.id, EventSeq::new(0), 10_000)
        .await
        .unwrap();
    let middle = all[all.len() / 2].seq.get();
    let rest: Vec<StoredEvent> = all.into_iter().filter(|e| e.seq.get() > middle).collect();
    let mut resumed = SseReader::open(&env, "", Some(middle)).await;
    assert_same(&resumed.take(rest.len()).await, &rest);
    let mut by_query = SseReader::open(&env, &format!("?after={middle}"), None).await;
    assert_same(&by_query.take(rest.len()).await, &rest);

    // A bad Last-Event-ID is a 400 with the usual error body.
    let bad = env
        .http
        .get(format!(
            "{}/v1/workspaces/{}/events",
            env.hub.url, env.workspace.id
        ))
        .header("last-event-id", "yesterday")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 400);
    let body: Value = bad.json().await.unwrap();
    assert_eq!(body["code"], "bad_last_event_id");
    // Open streams end when the hub stops.
    env.finish().await;
    drop((resumed, by_query));
}
both_backends!(the_feed_streams_and_resumes);
