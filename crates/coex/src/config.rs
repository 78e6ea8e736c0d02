//! Configuration in layers: the built-in defaults (`config/default.toml`, compiled in), an
//! optional TOML file, then `COEX_<SECTION>_<KEY>` environment variables.
//!
//! The environment layer splits a variable's name at its first underscore after the prefix,
//! so `COEX_DATABASE_URL` sets `database.url` and `COEX_META_ACCESS_TOKEN` sets
//! `meta.access_token`. Secrets are [`Secret`]s: redacted in `Debug` and when printed.

use std::{net::SocketAddr, path::Path, time::Duration};

use coex_core::Secret;
use coex_core::pricing::PriceTable;
use coex_hub::send::SendSettings;
use figment::{
    Figment,
    providers::{Env, Format, Toml},
};
use serde::{Deserialize, Serialize};

/// The built-in defaults, kept in one file that is also the documentation of every key.
pub const DEFAULT_TOML: &str = include_str!("../../../config/default.toml");

/// Environment variables with this prefix that are not settings.
const NOT_SETTINGS: &[&str] = &["CONFIG"];

/// The whole configuration of a coex process.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub meta: MetaConfig,
    pub ingest: IngestSettings,
    pub send: SendConfig,
    pub pricing: PriceTable,
    pub log: LogConfig,
}

/// Sending: pacing, retries, leases and reconciliation (see `[send]` in the defaults).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SendConfig {
    pub coexistence_outbound_mps: u32,
    pub cloud_api_mps: u32,
    pub pair_interval_ms: u64,
    pub pair_burst: u32,
    pub max_in_flight_per_lane: usize,
    pub max_in_flight: usize,
    pub max_attempts: u32,
    pub lease_ttl_ms: u64,
    pub lease_renew_ms: u64,
    pub poll_interval_ms: u64,
    pub idle_release_ms: u64,
    pub traffic_sample_ms: u64,
    pub traffic_span_secs: usize,
    pub reconcile_interval_ms: u64,
    pub unconfirmed_after_ms: u64,
    pub commit_max_batch: usize,
    pub commit_linger_ms: u64,
    pub template_cache_ttl_ms: u64,
}

impl SendConfig {
    /// The hub's settings from this section.
    pub fn settings(&self) -> SendSettings {
        let ms = Duration::from_millis;
        SendSettings {
            coexistence_outbound_mps: self.coexistence_outbound_mps,
            cloud_api_mps: self.cloud_api_mps,
            pair_interval: ms(self.pair_interval_ms),
            pair_burst: self.pair_burst,
            claim_batch: None,
            max_in_flight_per_lane: self.max_in_flight_per_lane,
            max_in_flight: self.max_in_flight,
            max_attempts: self.max_attempts,
            lease_ttl: ms(self.lease_ttl_ms),
            lease_renew: ms(self.lease_renew_ms),
            poll_interval: ms(self.poll_interval_ms),
            idle_release: ms(self.idle_release_ms),
            traffic_sample: ms(self.traffic_sample_ms),
            traffic_span_secs: self.traffic_span_secs,
            reconcile_interval: ms(self.reconcile_interval_ms),
            unconfirmed_after: ms(self.unconfirmed_after_ms),
            commit_max_batch: self.commit_max_batch,
            commit_linger: ms(self.commit_linger_ms),
            template_cache_ttl: ms(self.template_cache_ttl_ms),
            owner: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub workspace: String,
}

/// Group commit and background fan-out of webhook ingest.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IngestSettings {
    pub queue_capacity: usize,
    pub max_batch: usize,
    pub linger_ms: u64,
    pub writers: usize,
    pub defer_bytes: usize,
    pub fanout_chunk: usize,
    pub fanout_per_live_batch: usize,
    pub fanout_per_idle_batch: usize,
    pub fanout_max_wait_ms: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    pub url: String,
    pub max_connections: u32,
}

/// How to reach Meta (or the emulator) and the secrets Meta shares with us.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MetaConfig {
    pub graph_url: String,
    pub api_version: String,
    pub access_token: Secret,
    pub app_secret: Secret,
    pub verify_token: Secret,
    pub request_timeout_ms: u64,
    pub connect_timeout_ms: u64,
    pub waba_ids: Vec<String>,
}

impl MetaConfig {
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    pub level: String,
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {path} does not exist")]
    MissingFile { path: String },
    #[error("invalid configuration: {0}")]
    Invalid(Box<figment::Error>),
}

impl Config {
    /// Loads defaults, then `file` if given, then the process environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::figment(file, Env::prefixed("COEX_"))?
            .extract()
            .map_err(|e| ConfigError::Invalid(Box::new(e)))
    }

    /// The layered sources, with the environment layer given so tests can use their own.
    fn figment(file: Option<&Path>, env: Env) -> Result<Figment, ConfigError> {
        let mut figment = Figment::from(Toml::string(DEFAULT_TOML));
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError::MissingFile {
                    path: path.display().to_string(),
                });
            }
            figment = figment.merge(Toml::file(path));
        }
        let env = env
            .filter(|key| {
                !NOT_SETTINGS
                    .iter()
                    .any(|n| key.as_str().eq_ignore_ascii_case(n))
            })
            .map(|key| key.as_str().replacen('_', ".", 1).into());
        Ok(figment.merge(env))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Loads the config with env variables from a private prefix, so tests never race on
    /// the process environment.
    // figment's Jail closure must return figment's own (large) error type.
    #[allow(clippy::result_large_err)]
    fn load_with(file: Option<&Path>, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut out = None;
        figment::Jail::expect_with(|jail| {
            for (k, v) in vars {
                jail.set_env(k, v);
            }
            out = Some(
                Config::figment(file, Env::prefixed("COEXTEST_")).and_then(|f| {
                    f.extract::<Config>()
                        .map_err(|e| ConfigError::Invalid(Box::new(e)))
                }),
            );
            Ok(())
        });
        out.expect("the jail ran")
    }

    #[test]
    fn defaults_load_and_document_every_key() {
        let cfg = load_with(None, &[]).unwrap();
        assert_eq!(cfg.database.url, "sqlite://coex.db?mode=rwc");
        assert_eq!(cfg.meta.api_version, "v25.0");
        assert_eq!(cfg.log.format, LogFormat::Text);
        assert_eq!(cfg.send.settings(), SendSettings::default());
        assert_eq!(cfg.pricing.currency.as_str(), "USD");
        assert!(cfg.pricing.countries.len() >= 2);
    }

    #[test]
    fn file_then_env_override() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("coex.toml");
        std::fs::write(
            &path,
            "[database]\nurl = \"postgres://file\"\n[meta]\naccess_token = \"from-file\"\napi_version = \"v24.0\"\n",
        )
        .unwrap();
        let cfg = load_with(
            Some(&path),
            &[
                ("COEXTEST_DATABASE_URL", "postgres://env"),
                ("COEXTEST_META_ACCESS_TOKEN", "EAAG-secret"),
                ("COEXTEST_CONFIG", "ignored.toml"),
            ],
        )
        .unwrap();
        assert_eq!(cfg.database.url, "postgres://env");
        assert_eq!(cfg.meta.api_version, "v24.0");
        assert_eq!(cfg.meta.access_token.expose(), "EAAG-secret");
        let shown = format!("{cfg:?}");
        assert!(!shown.contains("EAAG-secret"), "{shown}");
        let json = serde_json::to_string(&cfg).unwrap();
        assert!(!json.contains("EAAG-secret"), "{json}");
    }

    #[test]
    fn unknown_keys_and_missing_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, "[database]\nurll = \"x\"\n").unwrap();
        let err = load_with(Some(&path), &[]).unwrap_err();
        assert!(err.to_string().contains("urll"), "{err}");
        let missing = dir.path().join("nope.toml");
        assert!(matches!(
            load_with(Some(&missing), &[]),
            Err(ConfigError::MissingFile { .. })
        ));
    }
}
