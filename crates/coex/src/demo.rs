//! `coex demo`: the whole platform on one machine with nothing to set up — the emulator of
//! Meta's side, a hub on a fresh SQLite file, onboarding, and the built-in business day.
//!
//! It prints one line per stored event as the day unfolds (customers writing, the owner
//! answering from the phone, statuses, history import), then a summary.

use std::{collections::BTreeMap, path::PathBuf, process::ExitCode, sync::Arc, time::Duration};

use anyhow::Context;
use coex_core::{
    WabaId,
    model::{EventKind, EventSeq, PageRequest, Timestamp, WorkspaceSlug},
};
use coex_hub::{
    Hub, HubSettings,
    http::{WebhookSettings, webhook::MAX_WEBHOOK_BYTES},
    ingest::IngestConfig,
    onboarding,
};
use coex_meta::graph::{GraphClient, GraphConfig};
use coex_sim::{Sim, SimOptions};
use coex_store::{SqlStore, Store};
use tokio::{net::TcpListener, sync::oneshot};

use crate::sim_cmd::load_scenario;

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Stop after this long (e.g. `60s`, `2m`); by default run until Ctrl-C.
    #[arg(long, value_parser = humantime_secs)]
    pub duration: Option<Duration>,
    /// Virtual seconds per real second: 600 plays the business day in about a minute.
    #[arg(long, default_value_t = 600.0)]
    pub speed: f64,
    /// The scenario (`builtin:business_day`, or a TOML file).
    #[arg(long, default_value = "builtin:business_day")]
    pub scenario: PathBuf,
    /// Database URL; a fresh SQLite file in a temporary folder by default.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Where the hub listens.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: std::net::SocketAddr,
    /// Print the summary only, not a line per event.
    #[arg(long)]
    pub quiet: bool,
}

fn humantime_secs(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 30s or 2m"))?;
    match unit {
        "" | "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        "h" => Ok(Duration::from_secs(n * 3600)),
        "ms" => Ok(Duration::from_millis(n)),
        _ => Err(format!("{s:?}: use s, m, h or ms")),
    }
}

pub async fn run(args: &DemoArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.speed > 0.0 && args.speed.is_finite(),
        "--speed must be positive"
    );
    let tmp = tempfile::tempdir().context("creating a temporary folder")?;
    let url = match &args.database_url {
        Some(url) => url.clone(),
        None => format!(
            "sqlite://{}?mode=rwc",
            tmp.path().join("coex-demo.db").display()
        ),
    };
    let store = SqlStore::connect(&url)
        .await
        .context("opening the demo database")?;

    // The hub listens first, so the emulator knows where to send webhooks.
    let hub_listener = coex_hub::app::bind(args.listen)?;
    let hub_url = format!("http://{}", hub_listener.local_addr()?);
    let mut opts = SimOptions {
        webhook_url: Some(format!("{hub_url}/webhook")),
        ..SimOptions::default()
    };
    let scenario = load_scenario(&args.scenario)?;
    opts.speed = args.speed;
    opts.scenario = Some(scenario);
    let sim = Sim::new(opts, TcpListener::bind("127.0.0.1:0").await?).await?;
    let info = sim.info().clone();

    let hub = Hub::build(
        store.clone(),
        HubSettings {
            webhook: WebhookSettings {
                app_secret: info.app_secret.clone().into(),
                verify_token: info.verify_token.clone().into(),
                max_body_bytes: MAX_WEBHOOK_BYTES,
            },
            ingest: IngestConfig::default(),
        },
        Arc::new(Timestamp::now),
    );
    let workspace = store
        .ensure_workspace(
            &WorkspaceSlug::parse("demo").map_err(|e| anyhow::anyhow!("{e}"))?,
            "Demo",
        )
        .await?;

    // Why oneshot channels: each server gets exactly one "stop now".
    let (stop_hub, hub_stopped) = oneshot::channel::<()>();
    let (stop_sim, sim_stopped) = oneshot::channel::<()>();
    let hub_task = tokio::spawn(hub.run(hub_listener, async {
        let _ = hub_stopped.await;
    }));
    let sim_task = tokio::spawn(sim.serve(async {
        let _ = sim_stopped.await;
    }));

    println!(
        "{}",
        serde_json::json!({
            "hub_url": hub_url,
            "graph_url": info.graph_url,
            "control_url": info.control_url,
            "database": url,
            "waba_id": info.waba_id,
        })
    );

    let mut graph_cfg = GraphConfig::new(info.graph_url.clone(), info.access_token.clone().into());
    graph_cfg.api_version = info.graph_version.clone();
    let graph = GraphClient::new(&graph_cfg)?;
    let waba = WabaId::parse(info.waba_id.clone()).map_err(|e| anyhow::anyhow!("{e}"))?;
    for n in onboarding::onboard_waba(&graph, &store, workspace.id, &waba, Timestamp::now()).await?
    {
        eprintln!(
            "onboarded {} ({}): contacts sync {:?}, history sync {:?}",
            n.id, n.kind, n.contacts_sync, n.history_sync
        );
    }

    let follow = follow_feed(store.clone(), workspace.id, args.quiet);
    let deadline = async {
        match args.duration {
            Some(d) => tokio::time::sleep(d).await,
            None => crate::serve::shutdown_signal().await,
        }
    };
    // Why select!: print events until the deadline or Ctrl-C, whichever comes first.
    tokio::select! {
        _ = follow => {}
        _ = deadline => {}
    }
    let _ = stop_sim.send(());
    let _ = stop_hub.send(());
    let _ = sim_task.await;
    let _ = hub_task.await;
    summary(&store).await?;
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

/// Prints a line per stored event, forever.
async fn follow_feed(store: SqlStore, workspace: coex_core::model::WorkspaceId, quiet: bool) {
    let mut after = EventSeq::new(0);
    loop {
        match store.events_after(workspace, after, 200).await {
            Ok(events) if !events.is_empty() => {
                for e in events {
                    after = e.seq;
                    if !quiet {
                        println!("{}", describe(&store, &e).await);
                    }
                }
            }
            Ok(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            Err(err) => {
                eprintln!("reading the feed failed: {err}");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

async fn describe(store: &SqlStore, e: &coex_core::model::StoredEvent) -> String {
    let head = format!("#{:<5} {:<16}", e.seq.get(), e.kind.as_str());
    if let (EventKind::MessageCreated, Some(number), Some(wamid)) = (e.kind, &e.number, &e.wamid)
        && let Ok(m) = store.get_message(number, wamid).await
    {
        let body = m
            .content
            .body
            .clone()
            .unwrap_or_else(|| format!("[{}]", m.content.kind.as_str()));
        return format!(
            "{head} {:<8} {:<14} {body}",
            m.direction.as_str(),
            m.origin.as_str()
        );
    }
    format!("{head} {}", e.data.as_str())
}

/// Counts of what the hub stored, by number and message origin.
async fn summary(store: &SqlStore) -> anyhow::Result<()> {
    println!("--- summary");
    for number in store.list_numbers(None).await? {
        let mut by_origin: BTreeMap<String, u64> = BTreeMap::new();
        let mut conversations = 0;
        let mut page = PageRequest::first(PageRequest::MAX_LIMIT);
        loop {
            let convs = store.list_conversations(&number.id, page).await?;
            for c in &convs.items {
                conversations += 1;
                let mut mpage = PageRequest::first(PageRequest::MAX_LIMIT);
                loop {
                    let msgs = store.list_messages(c.conversation.id, mpage).await?;
                    for m in &msgs.items {
                        *by_origin.entry(m.origin.as_str().to_owned()).or_default() += 1;
                    }
                    match msgs.next {
                        Some(next) => mpage = PageRequest::after(PageRequest::MAX_LIMIT, next),
                        None => break,
                    }
                }
            }
            match convs.next {
                Some(next) => page = PageRequest::after(PageRequest::MAX_LIMIT, next),
                None => break,
            }
        }
        let sync: Vec<String> = store
            .sync_progress(&number.id)
            .await?
            .iter()
            .map(|j| format!("{} {}", j.kind, j.state))
            .collect();
        println!(
            "{}",
            serde_json::json!({
                "number": number.id,
                "kind": number.kind.as_str(),
                "state": number.state.as_str(),
                "conversations": conversations,
                "messages_by_origin": by_origin,
                "sync": sync,
            })
        );
    }
    Ok(())
}
