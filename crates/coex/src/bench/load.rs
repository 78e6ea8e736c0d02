//! The open-model load generator: requests start on a fixed schedule (request `i` is due at
//! `start + i / rate`), whatever the server answers, over a pool of keep-alive connections.
//!
//! Latency is measured from the moment a request was *due*, not from when it was actually
//! written, so a server (or generator) that falls behind shows it in the figures instead of
//! silently slowing the arrival rate (no coordinated omission). A 503 is counted and never
//! retried. When more than `max_in_flight` requests are outstanding, due requests are not sent
//! and counted as `not_sent`, so an overloaded server cannot exhaust file descriptors.
//!
//! The HTTP client is deliberately minimal, so that the generator costs little next to the
//! server: every request is written as pre-built bytes (see [`Webhook::request`]) on an idle
//! connection (or a new one), and only the status line and `Content-Length` of the answer are
//! parsed. A general client (reqwest) cost about 70 µs of CPU per request here, mostly URL
//! parsing, header maps and its connection task.

use std::{
    io,
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use indicatif::ProgressBar;
use serde::Serialize;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use super::workload::Webhook;

/// What happened to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Answered with this HTTP status, `latency` after it was due.
    Answered { status: u16, latency: Duration },
    /// The connection failed or the answer could not be read.
    Failed,
    /// Not started: too many requests were outstanding.
    NotSent,
}

/// The outcome of every request of a step, in schedule order, and the step's timing.
#[derive(Debug)]
pub struct Shots {
    pub outcomes: Vec<Outcome>,
    /// From the first due time to the last answer.
    pub elapsed: Duration,
    /// The largest delay between a request's due time and its start (generator lag).
    pub max_start_lag: Duration,
    /// Connections opened (the rest of the requests reused one).
    pub connections: u64,
}

/// Slot encoding in the shared results: 0 = pending, 1 = failed, 2 = not sent, otherwise
/// `status << 40 | latency_us + 3`.
const FAILED: u64 = 1;
const NOT_SENT: u64 = 2;

fn encode(status: u16, latency: Duration) -> u64 {
    let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX >> 24);
    (u64::from(status) << 40) | (us.min((1 << 40) - 4) + 3)
}

fn decode(v: u64) -> Outcome {
    match v {
        FAILED | 0 => Outcome::Failed,
        NOT_SENT => Outcome::NotSent,
        v => Outcome::Answered {
            status: (v >> 40) as u16,
            latency: Duration::from_micros((v & ((1 << 40) - 1)) - 3),
        },
    }
}

/// A keep-alive connection and its read buffer.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

/// Idle connections, most recently used last.
// Why a std mutex: held for a push or a pop, never across an await.
type Pool = Arc<Mutex<Vec<Conn>>>;

/// Sends `webhooks` to `addr` at `rate` per second and waits for every answer.
pub async fn run(
    addr: SocketAddr,
    webhooks: &[Webhook],
    rate: f64,
    max_in_flight: usize,
    progress: &ProgressBar,
) -> Shots {
    let n = webhooks.len();
    let results: Arc<Vec<AtomicU64>> = Arc::new((0..n).map(|_| AtomicU64::new(0)).collect());
    let in_flight = Arc::new(AtomicUsize::new(0));
    let opened = Arc::new(AtomicU64::new(0));
    let pool: Pool = Arc::default();
    // Why a JoinSet: the step ends when every request has its answer.
    let mut tasks = tokio::task::JoinSet::new();
    let start = Instant::now() + Duration::from_millis(20);
    let mut ticker = tokio::time::interval_at(start.into(), Duration::from_millis(1));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut next = 0usize;
    let mut max_lag = Duration::ZERO;
    let mut ticks = 0u64;
    while next < n {
        ticker.tick().await;
        let now = Instant::now();
        let due_until = (((now - start).as_secs_f64() * rate) as usize + 1).min(n);
        while next < due_until {
            let due = start + Duration::from_secs_f64(next as f64 / rate);
            max_lag = max_lag.max(now.saturating_duration_since(due));
            if in_flight.load(Ordering::Relaxed) >= max_in_flight {
                results[next].store(NOT_SENT, Ordering::Relaxed);
                next += 1;
                continue;
            }
            in_flight.fetch_add(1, Ordering::Relaxed);
            let request = webhooks[next].request.clone();
            let (results, in_flight, pool, opened, i) = (
                results.clone(),
                in_flight.clone(),
                pool.clone(),
                opened.clone(),
                next,
            );
            tasks.spawn(async move {
                let v = match exchange(&pool, &opened, addr, &request, due).await {
                    Ok((status, latency)) => encode(status, latency),
                    Err(_) => FAILED,
                };
                results[i].store(v, Ordering::Relaxed);
                in_flight.fetch_sub(1, Ordering::Relaxed);
            });
            next += 1;
        }
        while tasks.try_join_next().is_some() {}
        ticks += 1;
        if ticks.is_multiple_of(50) {
            progress.set_position(next as u64);
            progress.set_message(format!("in flight {}", in_flight.load(Ordering::Relaxed)));
        }
    }
    progress.set_position(n as u64);
    while tasks.join_next().await.is_some() {}
    let elapsed = start.elapsed();
    let outcomes = results
        .iter()
        .map(|v| decode(v.load(Ordering::Relaxed)))
        .collect();
    Shots {
        outcomes,
        elapsed,
        max_start_lag: max_lag,
        connections: opened.load(Ordering::Relaxed),
    }
}

/// One request and its answer on an idle connection, or a new one. Returns the status and
/// the latency from `due` to the end of the answer's headers.
async fn exchange(
    pool: &Pool,
    opened: &AtomicU64,
    addr: SocketAddr,
    request: &[u8],
    due: Instant,
) -> io::Result<(u16, Duration)> {
    let idle = pool.lock().unwrap_or_else(|p| p.into_inner()).pop();
    let mut conn = match idle {
        Some(c) => c,
        None => {
            let stream = TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            opened.fetch_add(1, Ordering::Relaxed);
            Conn {
                stream,
                buf: Vec::with_capacity(1024),
            }
        }
    };
    conn.stream.write_all(request).await?;
    let (status, latency, reusable) = read_response(&mut conn, due).await?;
    if reusable {
        pool.lock().unwrap_or_else(|p| p.into_inner()).push(conn);
    }
    Ok((status, latency))
}

/// Reads one answer: its status, the latency at the end of its headers, and whether the
/// connection can carry another request (a `Content-Length` body, no `Connection: close`).
async fn read_response(conn: &mut Conn, due: Instant) -> io::Result<(u16, Duration, bool)> {
    conn.buf.clear();
    let mut head: Option<(u16, Duration, Option<usize>, bool, usize)> = None;
    loop {
        if head.is_none()
            && let Some(end) = conn.buf.windows(4).position(|w| w == b"\r\n\r\n")
        {
            let (status, length, close) = parse_head(&conn.buf[..end])?;
            head = Some((status, due.elapsed(), length, close, end + 4));
        }
        match head {
            Some((status, latency, None, _, _)) => return Ok((status, latency, false)),
            Some((status, latency, Some(len), close, body_at))
                if conn.buf.len() >= body_at + len =>
            {
                return Ok((status, latency, !close));
            }
            _ => {}
        }
        if conn.stream.read_buf(&mut conn.buf).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
    }
}

/// Status, `Content-Length` and `Connection: close` of a response head.
fn parse_head(head: &[u8]) -> io::Result<(u16, Option<usize>, bool)> {
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "malformed HTTP response");
    let text = std::str::from_utf8(head).map_err(|_| bad())?;
    let mut lines = text.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(bad)?;
    let (mut length, mut close) = (None, false);
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.trim().parse().map_err(|_| bad())?);
        } else if name.eq_ignore_ascii_case("connection") {
            close = value.trim().eq_ignore_ascii_case("close");
        }
    }
    Ok((status, length, close))
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Latency {
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    /// Percentiles of the given latencies (nearest rank).
    pub fn of(mut samples: Vec<Duration>) -> Self {
        if samples.is_empty() {
            return Self::default();
        }
        samples.sort_unstable();
        let at = |q: f64| {
            let rank = ((q * samples.len() as f64).ceil() as usize).clamp(1, samples.len());
            samples[rank - 1].as_secs_f64() * 1000.0
        };
        Self {
            p50_ms: at(0.50),
            p90_ms: at(0.90),
            p99_ms: at(0.99),
            p999_ms: at(0.999),
            max_ms: at(1.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_round_trip() {
        let d = Duration::from_micros(12_345);
        assert_eq!(
            decode(encode(200, d)),
            Outcome::Answered {
                status: 200,
                latency: d
            }
        );
        assert_eq!(decode(FAILED), Outcome::Failed);
        assert_eq!(decode(NOT_SENT), Outcome::NotSent);
    }

    #[test]
    fn response_heads_are_parsed() {
        let (status, len, close) =
            parse_head(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nContent-Length: 42")
                .unwrap();
        assert_eq!((status, len, close), (200, Some(42), false));
        let (status, len, close) =
            parse_head(b"HTTP/1.1 503 Service Unavailable\r\nconnection: close").unwrap();
        assert_eq!((status, len, close), (503, None, true));
        assert!(parse_head(b"garbage").is_err());
    }

    #[test]
    fn nearest_rank_percentiles() {
        let l = Latency::of((1..=1000).map(Duration::from_millis).collect());
        assert_eq!(l.p50_ms, 500.0);
        assert_eq!(l.p99_ms, 990.0);
        assert_eq!(l.p999_ms, 999.0);
        assert_eq!(l.max_ms, 1000.0);
    }
}
