//! The emulator for `coex bench send`: `coex sim` as a child process, with a world of
//! coexistence numbers and customers written for the run, and its request log read back.
//!
//! Why a child process rather than `coex_sim::Sim` in the bench process: the emulator keeps
//! every message it accepted (millions in a long run) and a log of the last 100,000 requests
//! with their bodies; in process, that memory would be counted as the sender's RSS. Apart,
//! the sender's RSS and CPU are the bench process's own, and the emulator's are read from its
//! `/proc` entry. The price is reading the request log as JSON over loopback, about 1 KB per
//! request, once a second.
//!
//! Webhooks are off (no callback URL): the status webhooks the emulator builds are recorded,
//! not sent. The sender's pacing does not read statuses, and a hub ingesting them would put a
//! second workload on the same two cores and the same database.

use std::{
    borrow::Cow,
    collections::HashMap,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use coex_sim::{
    rules::messaging_limit::Tier,
    scenario::{Scenario, ScenarioSim},
    world::{
        model::NumberMode,
        seed::{CustomerSpec, NumberSpec, WorldSpec, default_templates},
    },
};
use serde::Deserialize;

use super::target::{log_tail, spawn_announcing};

/// The phone of the `i`-th customer of the shared pool the backlogs rotate over.
pub fn pool_phone(i: usize) -> String {
    format!("+1555{:07}", 2_000_000 + i)
}

/// The phone of the idle number's `k`-th send: a new customer every time (created by the
/// emulator on first contact), so each request is matched to its enqueue by `to`.
pub fn idle_phone(k: usize) -> String {
    format!("+1555{:07}", 6_000_000 + k)
}

/// The world: `numbers` coexistence numbers, `recipients` customers in the shared pool, the
/// unlimited messaging tier (the bench sends templates to many customers; the portfolio's
/// daily limit is not what it measures), and the default templates (`hello_world` is used).
///
/// The pool's customers never read and have no history, so each accepted send costs the
/// emulator two status webhooks (sent, delivered) instead of three; it shares the two cores.
pub fn world(numbers: usize, recipients: usize) -> WorldSpec {
    WorldSpec {
        seed: 7,
        business_name: "Send Bench".into(),
        tier: Tier::Unlimited,
        numbers: (0..numbers)
            .map(|i| NumberSpec {
                display: format!("+1555{:07}", 7_000_000 + i),
                mode: NumberMode::Coexistence,
                verified_name: Some(format!("Bench Shop {i}")),
                history_shared: false,
                ..NumberSpec::default()
            })
            .collect(),
        customers: (0..recipients)
            .map(|i| CustomerSpec {
                key: format!("pool-{i}"),
                name: format!("Pool Customer {i}"),
                phone: pool_phone(i),
                read_after_secs: None,
                app_contact: false,
                history_messages: 0,
                ..CustomerSpec::default()
            })
            .collect(),
        templates: default_templates(),
        extra_app_contacts: Vec::new(),
        contact_book_enabled: false,
        auto_customers: true,
    }
}

/// What the emulator prints first (the fields the bench uses).
#[derive(Debug, Clone, Deserialize)]
pub struct SimInfo {
    pub graph_url: String,
    pub graph_version: String,
    pub control_url: String,
    pub access_token: String,
    pub waba_id: String,
    pub phone_number_ids: Vec<String>,
}

/// A running `coex sim`.
#[derive(Debug)]
pub struct Emulator {
    child: Child,
    pub info: SimInfo,
    log: PathBuf,
}

impl Emulator {
    /// Writes the world as a scenario file in `dir` and starts `exe sim` on it.
    pub fn spawn(exe: &Path, spec: WorldSpec, dir: &Path) -> anyhow::Result<Self> {
        let scenario = Scenario {
            sim: ScenarioSim {
                speed: Some(1.0),
                start: None,
                chaos: Some(false),
            },
            world: Some(spec),
            steps: Vec::new(),
        };
        let path = dir.join("world.toml");
        std::fs::write(&path, toml::to_string(&scenario)?)
            .with_context(|| format!("writing {}", path.display()))?;
        let log = dir.join("sim.log");
        let log_file = std::fs::File::create(&log)
            .with_context(|| format!("creating the emulator log {}", log.display()))?;
        let mut cmd = Command::new(exe);
        cmd.args(["sim", "--listen", "127.0.0.1:0", "--scenario"])
            .arg(&path);
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy().into_owned();
            if key.starts_with("COEX_") && !key.starts_with("COEX_LOG_") {
                cmd.env_remove(&key);
            }
        }
        cmd.stdin(Stdio::null()).stderr(Stdio::from(log_file));
        let (mut child, line) = spawn_announcing(&mut cmd, "coex sim", Duration::from_secs(120))?;
        let line = line.unwrap_or_default();
        match serde_json::from_str::<SimInfo>(&line) {
            Ok(info) => Ok(Self { child, info, log }),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                bail!(
                    "coex sim did not print its info; its log ends with:\n{}",
                    log_tail(&log)
                )
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Where its log is.
    pub fn log(&self) -> &Path {
        &self.log
    }

    /// SIGTERM, then SIGKILL after 10 s.
    pub async fn stop(mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Maps this process's monotonic clock onto the emulator's virtual clock (speed 1, so the
/// offset is constant): `sim_ms = offset_ms + ms since epoch`.
#[derive(Debug, Clone, Copy)]
pub struct SimClockMap {
    pub epoch: Instant,
    pub offset_ms: f64,
    /// Round trip of the best probe: the offset is exact to about half of it (plus the
    /// emulator's millisecond resolution).
    pub rtt_ms: f64,
}

impl SimClockMap {
    /// Probes `GET /_sim/clock` a few times and keeps the probe with the shortest round trip.
    pub async fn calibrate(client: &reqwest::Client, control_url: &str) -> anyhow::Result<Self> {
        #[derive(Deserialize)]
        struct Clock {
            now: i64,
        }
        let epoch = Instant::now();
        let mut best: Option<(f64, f64)> = None;
        for _ in 0..30 {
            let sent = epoch.elapsed().as_secs_f64() * 1000.0;
            let now: Clock = client
                .get(format!("{control_url}/clock"))
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            let back = epoch.elapsed().as_secs_f64() * 1000.0;
            let rtt = back - sent;
            // The emulator truncates to the millisecond: its instant is on average 0.5 ms
            // later than the value it prints.
            let offset = now.now as f64 + 0.5 - (sent + back) / 2.0;
            if best.is_none_or(|(r, _)| rtt < r) {
                best = Some((rtt, offset));
            }
        }
        let (rtt_ms, offset_ms) = best.unwrap_or_default();
        Ok(Self {
            epoch,
            offset_ms,
            rtt_ms,
        })
    }

    /// The emulator's time at `at`, in (fractional) Unix milliseconds.
    pub fn sim_ms(&self, at: Instant) -> f64 {
        self.offset_ms + at.saturating_duration_since(self.epoch).as_secs_f64() * 1000.0
    }

    pub fn now_ms(&self) -> f64 {
        self.sim_ms(Instant::now())
    }
}

/// One logged request to `POST /{version}/{number}/messages`, reduced to what is counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendRequest {
    pub id: u64,
    /// Arrival, emulator time (Unix ms).
    pub at: i64,
    /// The number's index among the ids the lookup was built from.
    pub number: usize,
    pub status: u16,
    /// Meta's error code of a refused request.
    pub code: Option<i64>,
    /// `to` of the body, when asked for (the idle number's requests).
    pub to: Option<String>,
}

/// Reads a page of `GET /_sim/requests` and keeps the sends of known numbers; `with_to` says
/// for which number indices the body's `to` is kept. Returns the requests and the highest id
/// seen (of any request).
pub fn parse_requests(
    bytes: &[u8],
    numbers: &HashMap<String, usize>,
    with_to: impl Fn(usize) -> bool,
) -> anyhow::Result<(Vec<SendRequest>, Option<u64>, Option<u64>)> {
    #[derive(Deserialize)]
    struct Raw<'a> {
        id: u64,
        at: i64,
        #[serde(borrow)]
        method: Cow<'a, str>,
        #[serde(borrow)]
        path: Cow<'a, str>,
        #[serde(borrow)]
        body: Cow<'a, str>,
        status: u16,
        #[serde(borrow)]
        response: Cow<'a, str>,
    }
    #[derive(Deserialize)]
    struct Body<'a> {
        #[serde(borrow)]
        to: Option<Cow<'a, str>>,
    }
    #[derive(Deserialize)]
    struct ErrorBody {
        error: ErrorObject,
    }
    #[derive(Deserialize)]
    struct ErrorObject {
        code: i64,
    }
    let raw: Vec<Raw<'_>> = serde_json::from_slice(bytes).context("the emulator's request log")?;
    let first = raw.first().map(|r| r.id);
    let last = raw.last().map(|r| r.id);
    let mut out = Vec::with_capacity(raw.len());
    for r in raw {
        // `/v25.0/{number}/messages`
        let mut parts = r.path.split('/').filter(|p| !p.is_empty());
        let (Some(_version), Some(number), Some("messages"), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if r.method != "POST" {
            continue;
        }
        let Some(&index) = numbers.get(number) else {
            continue;
        };
        let code = if r.status == 200 {
            None
        } else {
            serde_json::from_str::<ErrorBody>(&r.response)
                .ok()
                .map(|e| e.error.code)
        };
        let to = if with_to(index) {
            serde_json::from_str::<Body<'_>>(&r.body)
                .ok()
                .and_then(|b| b.to)
                .map(|t| t.trim_start_matches('+').to_owned())
        } else {
            None
        };
        out.push(SendRequest {
            id: r.id,
            at: r.at,
            number: index,
            status: r.status,
            code,
            to,
        });
    }
    Ok((out, first, last))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_world_serialises_as_a_scenario() {
        let scenario = Scenario {
            sim: ScenarioSim::default(),
            world: Some(world(3, 4)),
            steps: Vec::new(),
        };
        let text = toml::to_string(&scenario).unwrap();
        let back = Scenario::from_toml(&text).unwrap();
        let w = back.world.unwrap();
        assert_eq!(w.numbers.len(), 3);
        assert_eq!(w.customers.len(), 4);
        assert_eq!(w.tier, Tier::Unlimited);
        assert_eq!(w.customers[3].phone, pool_phone(3));
    }

    #[test]
    fn request_log_pages_are_reduced() {
        let page = serde_json::json!([
            {"id": 7, "at": 1000, "method": "POST", "path": "/v25.0/111/messages", "query": null,
             "headers": {"authorization": "Bearer <valid token>"},
             "body": "{\"to\":\"+15550000001\",\"type\":\"template\"}", "status": 200,
             "response": "{\"messages\":[{\"id\":\"wamid.x\"}]}"},
            {"id": 8, "at": 1001, "method": "POST", "path": "/v25.0/222/messages", "query": null,
             "headers": {}, "body": "{}", "status": 400,
             "response": "{\"error\":{\"code\":130429,\"message\":\"Rate limit hit\"}}"},
            {"id": 9, "at": 1002, "method": "GET", "path": "/v25.0/111/message_templates",
             "query": null, "headers": {}, "body": "", "status": 200, "response": "{}"},
            {"id": 10, "at": 1003, "method": "POST", "path": "/v25.0/333/messages", "query": null,
             "headers": {}, "body": "{}", "status": 200, "response": "{}"}
        ]);
        let numbers: HashMap<String, usize> = [("111".to_owned(), 0), ("222".to_owned(), 1)]
            .into_iter()
            .collect();
        let bytes = serde_json::to_vec(&page).unwrap();
        let (reqs, first, last) = parse_requests(&bytes, &numbers, |i| i == 0).unwrap();
        assert_eq!((first, last), (Some(7), Some(10)));
        assert_eq!(reqs.len(), 2);
        assert_eq!(reqs[0].to.as_deref(), Some("15550000001"));
        assert_eq!(reqs[0].code, None);
        assert_eq!(reqs[1].code, Some(130429));
        assert_eq!(reqs[1].to, None);
        assert_eq!(reqs[1].number, 1);
    }
}
