//! What the ingest benchmark measures, set up from nothing and torn down after: a fresh
//! database (a temporary SQLite file in the store's durable mode, or a PostgreSQL database
//! created and dropped on the given server), its workspace, WABA and numbers, and the real
//! `coex serve` binary running on it as a child process.
//!
//! Also the probes read from outside the server: its `/metrics`, direct counts on the database,
//! and CPU time and peak memory from `/proc`.

use std::{
    io::{BufRead, BufReader, Read},
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    str::FromStr,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use coex_core::{
    PhoneNumber, PhoneNumberId, WabaId,
    model::{MessagingTier, NewNumber, NumberKind, NumberState, WorkspaceSlug},
};
use coex_store::{BatchSummary, SqlStore, Store};
use serde::Deserialize;
use sqlx::{Connection, Executor};

use super::workload::FleetNumber;

/// The database backend under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    /// How durable a commit is on this backend, as the reports say.
    pub fn durability(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite WAL, each commit's WAL frames synced before it returns",
            Backend::Postgres => "PostgreSQL defaults (fsync on, synchronous_commit on)",
        }
    }
}

/// A database made for one run.
#[derive(Debug)]
pub struct Database {
    pub url: String,
    pub backend: Backend,
    /// Holds the server log and the SQLite file; removed on drop unless kept.
    dir: Option<tempfile::TempDir>,
    /// PostgreSQL: the maintenance URL and the name of the database to drop.
    admin: Option<(String, String)>,
}

impl Database {
    /// Creates an empty database. `admin_url` (PostgreSQL) names a database to connect to for
    /// `CREATE DATABASE`.
    pub async fn create(backend: Backend, admin_url: &str) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new().prefix("coex-bench-").tempdir()?;
        match backend {
            Backend::Sqlite => {
                let url = format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join("bench.db").display()
                );
                Ok(Self {
                    url,
                    backend,
                    dir: Some(dir),
                    admin: None,
                })
            }
            Backend::Postgres => {
                let name = format!(
                    "coex_bench_{}_{}",
                    std::process::id(),
                    coex_core::model::Timestamp::now().as_millis()
                );
                let mut conn = sqlx::PgConnection::connect(admin_url)
                    .await
                    .with_context(|| format!("connecting to PostgreSQL at {admin_url}"))?;
                conn.execute(format!("CREATE DATABASE \"{name}\"").as_str())
                    .await
                    .with_context(|| format!("creating database {name}"))?;
                conn.close().await?;
                Ok(Self {
                    url: coex_store::with_database_name(admin_url, &name),
                    backend,
                    dir: Some(dir),
                    admin: Some((admin_url.to_owned(), name)),
                })
            }
        }
    }

    /// Where the server's log goes (beside the SQLite file).
    pub fn log_path(&self) -> PathBuf {
        self.dir
            .as_ref()
            .map_or_else(std::env::temp_dir, |d| d.path().to_owned())
            .join("serve.log")
    }

    /// Keeps the log (and the SQLite file) after the run; returns their directory.
    pub fn keep(&mut self) -> Option<PathBuf> {
        self.dir.take().map(|d| d.keep())
    }

    /// Drops the PostgreSQL database (the SQLite directory goes with `self`).
    pub async fn destroy(self, keep: bool) -> anyhow::Result<()> {
        if let (Some((admin, name)), false) = (&self.admin, keep) {
            let mut conn = sqlx::PgConnection::connect(admin).await?;
            conn.execute(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)").as_str())
                .await
                .with_context(|| format!("dropping database {name}"))?;
            conn.close().await?;
        }
        Ok(())
    }
}

/// Registers a workspace, a WABA and `count` coexistence numbers; returns the numbers.
pub async fn seed(store: &SqlStore, waba: &str, count: usize) -> anyhow::Result<Vec<FleetNumber>> {
    let slug = WorkspaceSlug::parse("bench".to_owned()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let workspace = store.ensure_workspace(&slug, "Ingest benchmark").await?;
    let waba = WabaId::parse(waba)?;
    store
        .upsert_waba(workspace.id, &waba, Some("Bench WABA"))
        .await?;
    let mut numbers = Vec::with_capacity(count);
    for i in 0..count {
        let n = FleetNumber {
            id: PhoneNumberId::parse(format!("10654035224{:04}", 2900 + i))?,
            display: PhoneNumber::parse(&format!("1555078{:04}", 3800 + i))?,
        };
        store
            .upsert_number(&NewNumber {
                id: n.id.clone(),
                waba: waba.clone(),
                display_phone: n.display.clone(),
                verified_name: Some(format!("Bench Shop {i}")),
                kind: NumberKind::Coexistence,
                tier: MessagingTier::Tier2k,
                initial_state: NumberState::Connected,
            })
            .await?;
        numbers.push(n);
    }
    Ok(numbers)
}

/// The HTTP client for health and metrics (the load itself goes through [`super::load`]).
pub fn client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
}

/// A running `coex serve` child process.
#[derive(Debug)]
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    pub log: PathBuf,
}

impl Server {
    /// Starts `exe serve --listen 127.0.0.1:0` on `db_url` (with `--config config_file` when
    /// one is given) and waits for its address.
    ///
    /// Settings go through `COEX_*` variables; the bench's own `COEX_INGEST_*`,
    /// `COEX_DATABASE_MAX_CONNECTIONS` and `COEX_LOG_*` pass through (to tune the server under
    /// test), every other `COEX_*` is removed so a developer's environment cannot redirect it.
    pub fn spawn(
        exe: &Path,
        config_file: Option<&Path>,
        db_url: &str,
        secret: &str,
        log: &Path,
    ) -> anyhow::Result<Self> {
        let log_file = std::fs::File::create(log)
            .with_context(|| format!("creating the server log {}", log.display()))?;
        let mut cmd = Command::new(exe);
        if let Some(file) = config_file {
            cmd.arg("--config").arg(file);
        }
        cmd.args(["serve", "--listen", "127.0.0.1:0"]);
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy().into_owned();
            let passes = ["COEX_INGEST_", "COEX_DATABASE_MAX_CONNECTIONS", "COEX_LOG_"]
                .iter()
                .any(|p| key.starts_with(p));
            if key.starts_with("COEX_") && !passes {
                cmd.env_remove(&key);
            }
        }
        cmd.env("COEX_DATABASE_URL", db_url)
            .env("COEX_META_APP_SECRET", secret)
            .env("COEX_META_VERIFY_TOKEN", "bench-verify-token")
            .stdin(Stdio::null())
            .stderr(Stdio::from(log_file));
        let (mut child, line) = spawn_announcing(&mut cmd, "coex serve", Duration::from_secs(60))?;
        #[derive(Deserialize)]
        struct Listening {
            listening: SocketAddr,
        }
        let addr = match line.and_then(|l| serde_json::from_str::<Listening>(&l).ok()) {
            Some(l) => l.listening,
            None => {
                let _ = child.kill();
                let _ = child.wait();
                bail!(
                    "coex serve did not print its address; its log ends with:\n{}",
                    log_tail(log)
                );
            }
        };
        Ok(Self {
            child,
            addr,
            log: log.to_owned(),
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Waits until `/healthz` answers 200.
    pub async fn wait_healthy(&mut self, client: &reqwest::Client) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = client.get(self.url("/healthz")).send().await
                && r.status().is_success()
            {
                return Ok(());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                bail!("coex serve exited ({status}):\n{}", log_tail(&self.log));
            }
            if Instant::now() > deadline {
                bail!(
                    "coex serve did not become healthy:\n{}",
                    log_tail(&self.log)
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn metrics(&self, client: &reqwest::Client) -> anyhow::Result<Metrics> {
        let r = client
            .get(self.url("/metrics"))
            .send()
            .await?
            .error_for_status()?;
        Ok(r.json().await?)
    }

    /// SIGTERM (through `kill`, as the std library only sends SIGKILL), then waits up to 60 s
    /// for the graceful shutdown before killing it.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait()? {
                if !status.success() {
                    tracing::warn!(%status, "coex serve exited with an error");
                }
                return Ok(());
            }
            if Instant::now() > deadline {
                self.child.kill()?;
                self.child.wait()?;
                bail!("coex serve ignored SIGTERM for 60 s and was killed");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Starts `cmd` (its stdout piped) and waits up to `deadline` for the first line it prints:
/// the coordinates a `coex` process announces. `None` when no line came in time.
pub fn spawn_announcing(
    cmd: &mut Command,
    what: &str,
    deadline: Duration,
) -> anyhow::Result<(Child, Option<String>)> {
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {what}"))?;
    let Some(stdout) = child.stdout.take() else {
        bail!("the stdout of {what} was not captured");
    };
    // Why a thread and a channel: the first line must be awaited with a deadline, and the
    // pipe must keep being drained afterwards so the process never blocks on a full pipe.
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut first = String::new();
        if reader.read_line(&mut first).is_ok() {
            let _ = tx.send(first);
        }
        let _ = std::io::copy(&mut reader, &mut std::io::sink());
    });
    Ok((child, rx.recv_timeout(deadline).ok()))
}

/// The last lines of a log file, for error messages.
pub fn log_tail(path: &Path) -> String {
    let mut text = String::new();
    if let Ok(mut f) = std::fs::File::open(path) {
        let _ = f.read_to_string(&mut text);
    }
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// The server's `GET /metrics`.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct Metrics {
    pub ingest_queue_depth: usize,
    pub ingest: Totals,
}

/// Ingest counters since the server started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
pub struct Totals {
    pub acked: u64,
    pub deferred: u64,
    pub refused_busy: u64,
    pub store: BatchSummary,
}

/// Direct row counts on the benchmark's database (read-only, beside the server).
#[derive(Debug)]
pub enum Counter {
    /// The read-only pool, and the URL to open a writable connection for [`Self::settle_wal`].
    Sqlite(sqlx::SqlitePool, String),
    Postgres(sqlx::PgPool),
}

/// What the database holds, counted with SQL.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Stored {
    pub webhooks_archived: i64,
    pub webhooks_pending: i64,
    /// Live inbound messages and echoes.
    pub messages: i64,
    pub statuses: i64,
    /// Contacts changed by app contact sync.
    pub contacts: i64,
    pub history_messages: i64,
    pub history_chunks: i64,
}

impl Counter {
    pub async fn connect(backend: Backend, url: &str) -> anyhow::Result<Self> {
        Ok(match backend {
            Backend::Sqlite => {
                let opts = sqlx::sqlite::SqliteConnectOptions::from_str(url)?.read_only(true);
                Self::Sqlite(
                    sqlx::sqlite::SqlitePoolOptions::new()
                        .max_connections(1)
                        .connect_with(opts)
                        .await?,
                    url.to_owned(),
                )
            }
            Backend::Postgres => Self::Postgres(
                sqlx::postgres::PgPoolOptions::new()
                    .max_connections(1)
                    .connect(url)
                    .await?,
            ),
        })
    }

    async fn count(&self, sql: &str) -> anyhow::Result<i64> {
        Ok(match self {
            Self::Sqlite(p, _) => sqlx::query_scalar(sql).fetch_one(p).await?,
            Self::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await?,
        })
    }

    /// Copies the SQLite WAL into the database and empties it, so that a step starts from the
    /// server's steady state. The bench writes its setup (the API sends a step's statuses
    /// refer to) straight into the database; left in the WAL, those pages would be copied
    /// during the step (by the server's checkpointer, or by its writer's own checkpoint once
    /// the WAL passes its size), work charged to the webhooks of the step. PostgreSQL:
    /// nothing to do.
    ///
    /// The server's own connections may hold the WAL at that moment (its checkpointer's
    /// passive pass, a reader that has not finished): then the checkpoint answers busy and is
    /// tried again, for up to about a second.
    pub async fn settle_wal(&self) -> anyhow::Result<()> {
        const TRIES: u32 = 50;
        if let Self::Sqlite(_, url) = self {
            use sqlx::Connection;
            let mut c = sqlx::SqliteConnection::connect(url).await?;
            let mut busy = 1;
            for _ in 0..TRIES {
                (busy, _, _) =
                    sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(TRUNCATE)")
                        .fetch_one(&mut c)
                        .await?;
                if busy == 0 {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            c.close().await?;
            anyhow::ensure!(
                busy == 0,
                "the WAL checkpoint before the step could not finish ({TRIES} tries): another \
                 connection kept the WAL busy"
            );
        }
        Ok(())
    }

    /// Archived bodies not yet applied (deferred history chunks waiting for the fan-out).
    pub async fn pending(&self) -> anyhow::Result<i64> {
        self.count("SELECT COUNT(*) FROM webhook_archive WHERE processed_at IS NULL")
            .await
    }

    pub async fn stored(&self) -> anyhow::Result<Stored> {
        Ok(Stored {
            webhooks_archived: self.count("SELECT COUNT(*) FROM webhook_archive").await?,
            webhooks_pending: self.pending().await?,
            messages: self
                .count("SELECT COUNT(*) FROM messages WHERE origin IN ('customer', 'business_app')")
                .await?,
            statuses: self.count("SELECT COUNT(*) FROM status_history").await?,
            contacts: self
                .count("SELECT COUNT(*) FROM contacts WHERE app_changed_at IS NOT NULL")
                .await?,
            history_messages: self
                .count("SELECT COUNT(*) FROM messages WHERE origin = 'history_import'")
                .await?,
            history_chunks: self.count("SELECT COUNT(*) FROM history_chunks").await?,
        })
    }

    pub async fn close(&self) {
        match self {
            Self::Sqlite(p, _) => p.close().await,
            Self::Postgres(p) => p.close().await,
        }
    }
}

/// CPU seconds (user + system, all threads) and peak resident memory of a process.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcStats {
    pub cpu_secs: f64,
    pub peak_rss_kb: u64,
}

/// Reads `/proc/<pid>/stat` and `/proc/<pid>/status` (`pid` `None` = this process). CPU times
/// there are in USER_HZ ticks, which Linux fixes at 100 per second for user space.
pub fn proc_stats(pid: Option<u32>) -> ProcStats {
    let dir = pid.map_or_else(|| "/proc/self".to_owned(), |p| format!("/proc/{p}"));
    let stat = std::fs::read_to_string(format!("{dir}/stat")).unwrap_or_default();
    // Fields after the command name (which may contain spaces) start at field 3 (state);
    // utime and stime are fields 14 and 15.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let cpu_secs = (tick(11) + tick(12)) as f64 / 100.0;
    let status = std::fs::read_to_string(format!("{dir}/status")).unwrap_or_default();
    let peak_rss_kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    ProcStats {
        cpu_secs,
        peak_rss_kb,
    }
}

/// CPU seconds the whole machine spent busy (all processes: the server, the generator, and a
/// PostgreSQL server if one is used), from `/proc/stat`, in USER_HZ (100 per second) ticks.
pub fn machine_busy_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal ...: busy is all but idle and iowait.
    let total: u64 = ticks.iter().take(8).sum();
    let idle = ticks.get(3).copied().unwrap_or(0) + ticks.get(4).copied().unwrap_or(0);
    total.saturating_sub(idle) as f64 / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_stats_are_read() {
        let s = proc_stats(None);
        assert!(s.peak_rss_kb > 0);
        assert!(machine_busy_secs() > 0.0);
    }
}
