//! The hub as one value: build it from a store and settings, then run it on a listener until
//! the shutdown signal (zero-to-production's `build` / `run_until_stopped`, with the listener
//! injected so tests bind port 0).

use std::{future::Future, sync::Arc};

use coex_store::SqlStore;
use tokio::{net::TcpListener, sync::watch};

use crate::{
    http::{self, AppState, WebhookSettings},
    ingest::{Clock, IngestConfig, Ingestor, fanout},
    send::{self, SendService},
};

/// Everything the hub needs besides the store.
#[derive(Debug, Clone)]
pub struct HubSettings {
    pub webhook: WebhookSettings,
    pub ingest: IngestConfig,
}

/// A built, not yet running hub.
#[derive(Debug)]
pub struct Hub {
    state: AppState,
    shutdown_tx: watch::Sender<bool>,
    sending: Option<Arc<SendService>>,
}

/// Connections the kernel may hold for the hub before it accepts them (capped by
/// `net.core.somaxconn`, 4096 on current Linux).
///
/// Why not tokio's `TcpListener::bind` (1,024): webhook senders open connections in bursts
/// when answers slow down for a moment (the ingest benchmark's generator opened 2,700 within a
/// second at the start of a 10,000 webhooks/s step). Past the backlog the kernel drops SYNs,
/// and each dropped one costs its sender a retransmission one second later: a full second
/// added to webhooks the hub would have answered in milliseconds.
pub const LISTEN_BACKLOG: u32 = 4096;

/// Binds `addr` for the hub, with [`LISTEN_BACKLOG`].
pub fn bind(addr: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    // As tokio's `TcpListener::bind` does: a restarted hub can bind while old connections of
    // the previous one linger in TIME_WAIT.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

impl Hub {
    pub fn build(store: SqlStore, settings: HubSettings, clock: Clock) -> Self {
        let ingest = Arc::new(Ingestor::start(store.clone(), settings.ingest, clock));
        // Why a watch channel: many long-lived tasks (feeds, workers) need to see one flag.
        let (shutdown_tx, shutdown) = watch::channel(false);
        Self {
            state: AppState {
                webhook: Arc::new(settings.webhook),
                ingest,
                store,
                shutdown,
            },
            shutdown_tx,
            sending: None,
        }
    }

    /// Adds sending: its REST routes, and its engine (lanes, committer, reconciler), which
    /// runs with the hub and stops at its shutdown.
    pub fn with_sending(mut self, service: Arc<SendService>) -> Self {
        self.sending = Some(service);
        self
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then stops accepting, lets in-flight requests and
    /// the background workers finish, and returns.
    pub async fn run(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let addr = listener.local_addr()?;
        tracing::info!(%addr, "coex hub listening");
        let worker = tokio::spawn(fanout::run(
            self.state.ingest.clone(),
            self.state.shutdown.clone(),
        ));
        let engine = self
            .sending
            .as_ref()
            .map(|s| tokio::spawn(s.engine().clone().run(self.state.shutdown.clone())));
        let stop = self.shutdown_tx.clone();
        let mut app = http::router(self.state.clone());
        if let Some(s) = &self.sending {
            app = app.merge(send::http::routes(s.clone()));
        }
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                shutdown.await;
                // Tell feeds and workers first, so open event streams end and the server can
                // finish its graceful shutdown.
                let _ = stop.send(true);
            })
            .await;
        let _ = self.shutdown_tx.send(true);
        if let Err(e) = worker.await {
            tracing::warn!(error = %e, "fan-out worker ended abnormally");
        }
        if let Some(Err(e)) = match engine {
            Some(task) => Some(task.await),
            None => None,
        } {
            tracing::warn!(error = %e, "send engine ended abnormally");
        }
        tracing::info!("coex hub stopped");
        served
    }
}
