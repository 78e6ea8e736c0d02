//! `coex serve`: the hub process. Connects the store (migrating it), onboards the configured
//! WABAs, and serves webhooks and the REST API until SIGINT or SIGTERM.

use std::{process::ExitCode, sync::Arc, time::Duration};

use anyhow::Context;
use coex_core::{
    WabaId,
    model::{Timestamp, WorkspaceSlug},
};
use coex_hub::{
    Hub, HubSettings,
    http::{WebhookSettings, webhook::MAX_WEBHOOK_BYTES},
    ingest::{
        IngestConfig,
        commit_queue::{BackgroundConfig, CommitQueueConfig},
    },
    onboarding,
    send::{SendEngine, SendService, templates::TemplateCache},
};
use coex_meta::graph::{GraphClient, GraphConfig};
use coex_store::{SqlStore, Store, StoreOptions};

use crate::config::Config;

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Listen address, overriding `server.listen` (use 127.0.0.1:0 for any free port).
    #[arg(long)]
    pub listen: Option<std::net::SocketAddr>,
}

/// Runs the hub until a shutdown signal.
pub async fn run(config: Config, args: &ServeArgs) -> anyhow::Result<ExitCode> {
    let listen = args.listen.unwrap_or(config.server.listen);
    let store = connect_store(&config).await?;
    let hub =
        build_hub(&config, store.clone()).with_sending(build_sending(&config, store.clone())?);
    onboard_configured(&config, &store).await?;
    let listener = coex_hub::app::bind(listen).with_context(|| format!("binding {listen}"))?;
    // Scripts read the bound address from stdout when they asked for port 0.
    println!(
        "{}",
        serde_json::json!({ "listening": listener.local_addr()?.to_string() })
    );
    hub.run(listener, shutdown_signal()).await?;
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

pub async fn connect_store(config: &Config) -> anyhow::Result<SqlStore> {
    let opts = StoreOptions {
        max_connections: config.database.max_connections,
        ..StoreOptions::default()
    };
    let store = SqlStore::connect_with(&config.database.url, opts)
        .await
        .with_context(|| format!("opening the database {}", redact_url(&config.database.url)))?;
    tracing::info!(backend = store.backend_name(), "store ready");
    Ok(store)
}

pub fn build_hub(config: &Config, store: SqlStore) -> Hub {
    let ingest = &config.ingest;
    let writers = match ingest.writers {
        // One on both: SQLite has a single writer anyway, and on PostgreSQL concurrent ingest
        // transactions deadlock on the same hot rows (a number's history sync job, a new
        // conversation), each deadlock costing `deadlock_timeout` (1 s by default) of stall;
        // measured with `coex bench ingest`, one writer acknowledges more, and sooner.
        0 => 1,
        n => n,
    };
    let settings = HubSettings {
        webhook: WebhookSettings {
            app_secret: config.meta.app_secret.clone(),
            verify_token: config.meta.verify_token.clone(),
            max_body_bytes: MAX_WEBHOOK_BYTES,
        },
        ingest: IngestConfig {
            queue: CommitQueueConfig {
                capacity: ingest.queue_capacity,
                max_batch: ingest.max_batch,
                linger: Duration::from_millis(ingest.linger_ms),
                writers,
            },
            defer_bytes: ingest.defer_bytes,
            fanout_chunk: ingest.fanout_chunk,
            background: BackgroundConfig {
                per_live_batch: ingest.fanout_per_live_batch,
                per_idle_batch: ingest.fanout_per_idle_batch,
                max_wait: Duration::from_millis(ingest.fanout_max_wait_ms),
                ..BackgroundConfig::default()
            },
        },
    };
    if config.meta.app_secret.is_empty() {
        tracing::warn!("meta.app_secret is empty: every webhook will be refused with 401");
    }
    Hub::build(store, settings, Arc::new(Timestamp::now))
}

/// The sending side: the policy, the queue and the send engine (its lanes run with the hub).
pub fn build_sending(config: &Config, store: SqlStore) -> anyhow::Result<Arc<SendService>> {
    let graph = graph_client(config)?;
    let settings = config.send.settings();
    let clock: coex_hub::ingest::Clock = Arc::new(Timestamp::now);
    let templates = Arc::new(TemplateCache::new(
        graph.clone(),
        settings.template_cache_ttl,
    ));
    let engine = SendEngine::new(store.clone(), graph, settings, clock.clone());
    Ok(Arc::new(SendService::new(
        store,
        templates,
        config.pricing.clone(),
        engine,
        clock,
    )))
}

pub fn graph_client(config: &Config) -> anyhow::Result<GraphClient> {
    let mut graph = GraphConfig::new(
        config.meta.graph_url.clone(),
        config.meta.access_token.clone(),
    );
    graph.api_version = config.meta.api_version.clone();
    graph.timeout = config.meta.request_timeout();
    graph.connect_timeout = config.meta.connect_timeout();
    GraphClient::new(&graph).context("configuring the Graph API client")
}

/// Onboards `meta.waba_ids`. A Graph API failure is logged, not fatal: the hub still
/// receives webhooks, and the next start tries again.
pub async fn onboard_configured(config: &Config, store: &SqlStore) -> anyhow::Result<()> {
    if config.meta.waba_ids.is_empty() {
        return Ok(());
    }
    let slug = WorkspaceSlug::parse(config.server.workspace.clone())
        .map_err(|e| anyhow::anyhow!("server.workspace: {e}"))?;
    let workspace = store
        .ensure_workspace(&slug, &config.server.workspace)
        .await?;
    let graph = graph_client(config)?;
    for raw in &config.meta.waba_ids {
        let waba = WabaId::parse(raw.clone()).map_err(|e| anyhow::anyhow!("meta.waba_ids: {e}"))?;
        match onboarding::onboard_waba(&graph, store, workspace.id, &waba, Timestamp::now()).await {
            Ok(numbers) => {
                for n in numbers {
                    tracing::info!(waba = %waba, number = %n.id, kind = %n.kind, contacts = ?n.contacts_sync, history = ?n.history_sync, "number onboarded");
                }
            }
            Err(e) => {
                tracing::error!(waba = %waba, error = %e, "onboarding failed; will retry at the next start")
            }
        }
    }
    Ok(())
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    // Why select!: whichever signal comes first stops the server.
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    tracing::info!("shutdown requested");
}

/// The URL without its password, for error messages.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            super::redact_url("postgres://u:pw@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(super::redact_url("sqlite://coex.db"), "sqlite://coex.db");
    }
}
