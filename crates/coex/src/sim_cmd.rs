//! `coex sim`: the emulator of Meta's side, standalone.
//!
//! Its first stdout line is one JSON object (`graph_url`, `control_url`, `access_token`,
//! `app_secret`, `verify_token`, `waba_id`, the phone-number ids, ...) so scripts can read it;
//! logs go to stderr.

use std::{io::Write, path::PathBuf, process::ExitCode};

use anyhow::Context;
use coex_sim::{SimOptions, scenario::Scenario};
use tokio::net::TcpListener;

#[derive(Debug, clap::Args)]
pub struct SimArgs {
    /// Address of the emulator's HTTP server (Graph API and control API).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: std::net::SocketAddr,
    /// Where the emulator POSTs webhooks (your `coex serve`'s /webhook).
    #[arg(long)]
    pub webhook_url: Option<String>,
    /// A scenario TOML file to run from the start (`builtin:business_day` for the shipped one).
    #[arg(long)]
    pub scenario: Option<PathBuf>,
    /// Virtual seconds per real second (overrides the scenario's).
    #[arg(long)]
    pub speed: Option<f64>,
    /// Fixed secrets instead of random ones.
    #[arg(long)]
    pub access_token: Option<String>,
    #[arg(long)]
    pub app_secret: Option<String>,
    #[arg(long)]
    pub verify_token: Option<String>,
}

/// Loads `--scenario`: a file, or the built-in business day.
pub fn load_scenario(path: &std::path::Path) -> anyhow::Result<Scenario> {
    let text = if path.as_os_str() == "builtin:business_day" {
        coex_sim::scenario::BUSINESS_DAY.to_owned()
    } else {
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?
    };
    Scenario::from_toml(&text).with_context(|| format!("scenario {}", path.display()))
}

pub async fn run(args: &SimArgs) -> anyhow::Result<ExitCode> {
    let mut opts = SimOptions {
        webhook_url: args.webhook_url.clone(),
        access_token: args.access_token.clone(),
        app_secret: args.app_secret.clone(),
        verify_token: args.verify_token.clone(),
        ..SimOptions::default()
    };
    if let Some(path) = &args.scenario {
        let scenario = load_scenario(path)?;
        if let Some(speed) = scenario.sim.speed {
            opts.speed = speed;
        }
        opts.scenario = Some(scenario);
    }
    if let Some(speed) = args.speed {
        anyhow::ensure!(
            speed >= 0.0 && speed.is_finite(),
            "--speed must be 0 or more"
        );
        opts.speed = speed;
    }
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    coex_sim::run(opts, listener, crate::serve::shutdown_signal(), |info| {
        let line = serde_json::to_string(info).unwrap_or_else(|_| "{}".into());
        let mut out = std::io::stdout().lock();
        // A closed stdout only loses the banner; the emulator keeps serving.
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    })
    .await?;
    Ok(ExitCode::SUCCESS)
}
