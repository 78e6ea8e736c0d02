//! `coex sim`: a local emulator of Meta's side of WhatsApp Coexistence.
//!
//! It plays three parts at once: Meta's Graph API (the same paths, versions, JSON and errors a
//! Coexistence platform calls), the business's phone app (echoes, edits, revokes, history,
//! contacts, inactivity, disconnection) and the business's customers (inbound messages of
//! every type, delivery and read receipts, going offline). Everything runs on a virtual clock
//! ([`clock`]) that tests jump forward instead of sleeping.
//!
//! ```no_run
//! # async fn demo() -> Result<(), coex_sim::SimError> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let sim = coex_sim::Sim::builder()
//!     .webhook_url("http://127.0.0.1:8080/webhook")
//!     .build(listener)
//!     .await?;
//! println!("{}", serde_json::to_string(sim.info()).unwrap_or_default());
//! sim.serve(std::future::pending()).await?;
//! # Ok(()) }
//! ```
//!
//! Layout: [`clock`] and [`sched`] (virtual time and timers), [`world`] (the state and what the
//! actors do), [`rules`] (Meta's limits, each a small module), [`wire`] (error objects and
//! webhook payloads), [`delivery`] (batching, signing, retries, chaos), [`engine`] (the lock
//! and the timer loop), [`graph_api`] (Meta's HTTP surface), [`control`] (`/_sim`),
//! [`scenario`] (TOML scripts).

pub mod clock;
pub mod control;
pub mod delivery;
pub mod engine;
pub mod graph_api;
pub mod ids;
pub mod rules;
pub mod scenario;
pub mod sched;
pub mod wire;
pub mod world;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use rand::distributions::Alphanumeric;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::clock::{ClockError, SimClock, SimTime};
use crate::engine::Engine;
use crate::scenario::{Scenario, ScenarioError};
use crate::world::seed::{SeedError, WorldSpec};
use crate::world::{Settings, World};

/// The Graph API version the emulator writes in URLs it builds (any `vNN.N` is accepted).
pub const GRAPH_VERSION: &str = "v25.0";

/// Why the emulator could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Clock(#[from] ClockError),
    #[error("world: {0}")]
    Seed(#[from] SeedError),
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
}

/// Everything the emulator can be started with.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// The app's webhook callback URL (where Meta would POST).
    pub webhook_url: Option<String>,
    /// Virtual seconds per real second (0 = time moves only when jumped).
    pub speed: f64,
    /// Virtual start instant (default: now).
    pub start: Option<SimTime>,
    /// The world to build (default: [`WorldSpec::default`]).
    pub world: WorldSpec,
    /// A scenario to run from the start; its `[world]` and `[sim]` settings apply.
    pub scenario: Option<Scenario>,
    /// Secrets; random when `None`.
    pub access_token: Option<String>,
    pub app_secret: Option<String>,
    pub verify_token: Option<String>,
    /// Delay between accepting a send and its `sent` status.
    pub sent_after: Duration,
    /// How long webhook changes wait to be batched together.
    pub batch_window: Duration,
    /// Real-time limit of one webhook attempt.
    pub attempt_timeout: Duration,
    /// Messages per history chunk.
    pub history_chunk_messages: usize,
    /// Virtual time between history chunks.
    pub history_chunk_gap: Duration,
    /// Where real time comes from (default: the OS clock). Tests that pause tokio time pass
    /// [`clock::TokioRealTime`] so the emulator's rate limits run on the same time.
    pub real_time: Option<Arc<dyn clock::RealTime>>,
}

impl Default for SimOptions {
    fn default() -> Self {
        Self {
            webhook_url: None,
            speed: 1.0,
            start: None,
            world: WorldSpec::default(),
            scenario: None,
            access_token: None,
            app_secret: None,
            verify_token: None,
            sent_after: Duration::from_millis(300),
            batch_window: Duration::ZERO,
            attempt_timeout: Duration::from_secs(10),
            history_chunk_messages: 40,
            history_chunk_gap: Duration::from_secs(2),
            real_time: None,
        }
    }
}

/// A business phone number in [`SimInfo`].
#[derive(Debug, Clone, Serialize)]
pub struct NumberInfo {
    pub id: String,
    pub display_phone_number: String,
    pub mode: world::model::NumberMode,
}

/// A customer in [`SimInfo`] (their handle is what the control API takes).
#[derive(Debug, Clone, Serialize)]
pub struct CustomerInfo {
    pub key: String,
    pub name: String,
    pub phone: String,
    pub user_id: String,
    pub username: Option<String>,
}

/// What `coex sim` prints as its first stdout line: where it is and how to talk to it.
#[derive(Debug, Clone, Serialize)]
pub struct SimInfo {
    /// Base URL of the Graph API (append `/v25.0/...`).
    pub graph_url: String,
    pub graph_version: String,
    /// Base URL of the control API.
    pub control_url: String,
    pub access_token: String,
    pub app_secret: String,
    pub verify_token: String,
    pub app_id: String,
    pub waba_id: String,
    /// Phone-number ids, in order (the first is the default for control actions).
    pub phone_number_ids: Vec<String>,
    pub phone_numbers: Vec<NumberInfo>,
    pub customers: Vec<CustomerInfo>,
    pub webhook_url: Option<String>,
}

/// Builds a [`Sim`] from options, one setting at a time.
#[derive(Debug, Clone, Default)]
pub struct SimBuilder {
    opts: SimOptions,
}

impl SimBuilder {
    pub fn webhook_url(mut self, url: impl Into<String>) -> Self {
        self.opts.webhook_url = Some(url.into());
        self
    }

    pub fn speed(mut self, speed: f64) -> Self {
        self.opts.speed = speed;
        self
    }

    pub fn start(mut self, start: SimTime) -> Self {
        self.opts.start = Some(start);
        self
    }

    pub fn world(mut self, world: WorldSpec) -> Self {
        self.opts.world = world;
        self
    }

    pub fn scenario(mut self, scenario: Scenario) -> Self {
        self.opts.scenario = Some(scenario);
        self
    }

    pub fn access_token(mut self, token: impl Into<String>) -> Self {
        self.opts.access_token = Some(token.into());
        self
    }

    pub fn app_secret(mut self, secret: impl Into<String>) -> Self {
        self.opts.app_secret = Some(secret.into());
        self
    }

    pub fn options(mut self, f: impl FnOnce(&mut SimOptions)) -> Self {
        f(&mut self.opts);
        self
    }

    /// Builds the world on `listener` (not yet serving).
    pub async fn build(self, listener: TcpListener) -> Result<Sim, SimError> {
        Sim::new(self.opts, listener).await
    }
}

fn random_token(prefix: &str, len: usize) -> String {
    let tail: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect();
    format!("{prefix}{tail}")
}

fn base_url(addr: SocketAddr) -> String {
    let ip = if addr.ip().is_unspecified() {
        std::net::IpAddr::from([127, 0, 0, 1])
    } else {
        addr.ip()
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

/// A built emulator, bound to its listener.
#[derive(Debug)]
pub struct Sim {
    engine: Arc<Engine>,
    listener: TcpListener,
    info: Arc<SimInfo>,
}

impl Sim {
    pub fn builder() -> SimBuilder {
        SimBuilder::default()
    }

    /// Builds the world and binds it to `listener`.
    pub async fn new(mut opts: SimOptions, listener: TcpListener) -> Result<Self, SimError> {
        let addr = listener.local_addr()?;
        let base = base_url(addr);
        let mut chaos_on = false;
        if let Some(s) = &opts.scenario {
            if let Some(w) = &s.world {
                opts.world = w.clone();
            }
            if let Some(speed) = s.sim.speed {
                opts.speed = speed;
            }
            if let Some(start) = s.sim.start {
                opts.start = Some(SimTime::from_unix_secs(start));
            }
            chaos_on = s.sim.chaos.unwrap_or(false);
        }
        let start = opts.start.unwrap_or_else(SimTime::wall_now);
        let clock = match &opts.real_time {
            Some(real) => SimClock::with_real_time(start, opts.speed, real.clone())?,
            None => SimClock::new(start, opts.speed)?,
        };
        let settings = Settings {
            app_id: rand::thread_rng()
                .gen_range(100_000_000_000_000u64..999_999_999_999_999)
                .to_string(),
            access_token: opts
                .access_token
                .clone()
                .unwrap_or_else(|| random_token("EAAG", 48)),
            app_secret: opts
                .app_secret
                .clone()
                .unwrap_or_else(|| hex::encode(rand::thread_rng().r#gen::<[u8; 16]>())),
            verify_token: opts
                .verify_token
                .clone()
                .unwrap_or_else(|| random_token("coex-", 24)),
            webhook_url: opts.webhook_url.clone(),
            public_url: base.clone(),
            graph_version: GRAPH_VERSION.to_owned(),
            sent_after: opts.sent_after,
            batch_window: opts.batch_window,
            history_chunk_messages: opts.history_chunk_messages,
            history_chunk_gap: opts.history_chunk_gap,
            attempt_timeout: opts.attempt_timeout,
        };
        let mut world = World::build(settings, &opts.world, start)?;
        world.chaos.enabled = chaos_on;
        if let Some(s) = &opts.scenario {
            world.schedule_scenario(start, s)?;
        }
        let waba_id = world
            .wabas
            .keys()
            .next()
            .map(ToString::to_string)
            .unwrap_or_default();
        let info = SimInfo {
            graph_url: base.clone(),
            graph_version: GRAPH_VERSION.to_owned(),
            control_url: format!("{base}/_sim"),
            access_token: world.settings.access_token.clone(),
            app_secret: world.settings.app_secret.clone(),
            verify_token: world.settings.verify_token.clone(),
            app_id: world.settings.app_id.clone(),
            waba_id,
            phone_number_ids: world.number_order.iter().map(ToString::to_string).collect(),
            phone_numbers: world
                .numbers_in_order()
                .map(|n| NumberInfo {
                    id: n.id.to_string(),
                    display_phone_number: n.display.digits().to_owned(),
                    mode: n.mode,
                })
                .collect(),
            customers: world
                .customers
                .values()
                .map(|c| CustomerInfo {
                    key: c.key.to_string(),
                    name: c.name.clone(),
                    phone: c.phone.digits().to_owned(),
                    user_id: c.bsuid.to_string(),
                    username: c.username.clone(),
                })
                .collect(),
            webhook_url: opts.webhook_url.clone(),
        };
        Ok(Self {
            engine: Engine::new(clock, world),
            listener,
            info: Arc::new(info),
        })
    }

    /// Where it listens and its secrets (the CLI's first stdout line).
    pub fn info(&self) -> &SimInfo {
        &self.info
    }

    /// The engine, for in-process callers (tests, the demo) that want to drive it directly.
    pub fn engine(&self) -> Arc<Engine> {
        self.engine.clone()
    }

    /// The whole HTTP surface: the Graph API and the control API.
    pub fn router(&self) -> axum::Router {
        graph_api::router(self.engine.clone())
            .merge(control::router(self.engine.clone(), self.info.clone()))
    }

    /// Serves until `shutdown` resolves, running timers as virtual time passes.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), SimError> {
        let app = self.router();
        let (stop_tx, stop_rx) = watch::channel(false);
        let driver = tokio::spawn(self.engine.clone().drive(stop_rx));
        tracing::info!(graph_url = %self.info.graph_url, "coex sim listening");
        let served = axum::serve(self.listener, app)
            .with_graceful_shutdown(async move {
                shutdown.await;
                let _ = stop_tx.send(true);
            })
            .await;
        // If serving failed, the sender is dropped and the driver stops too.
        let _ = driver.await;
        served.map_err(SimError::from)
    }
}

/// Builds and serves in one call: `on_ready` gets the info (the CLI prints it) before the
/// first request is served.
pub async fn run(
    opts: SimOptions,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    on_ready: impl FnOnce(&SimInfo),
) -> Result<(), SimError> {
    let sim = Sim::new(opts, listener).await?;
    on_ready(sim.info());
    sim.serve(shutdown).await
}
