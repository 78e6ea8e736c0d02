//! The hub's listening socket: what the kernel does with connections the hub has not
//! accepted yet.

use std::time::Duration;

use futures_util::future::try_join_all;
use tokio::net::TcpStream;

/// More connections than tokio's default backlog (1,024) holds.
const BURST: usize = 1_500;

/// A burst of connections past 1,024 is queued by the kernel until the hub accepts them. With
/// tokio's default backlog the kernel drops the SYNs past it, and each sender retransmits one
/// a second later (what cost the ingest benchmark its p99 at 10,000 webhooks/s). Nothing
/// accepts here, so a connect completes only if the kernel queued it; a dropped one never
/// completes, and the deadline is only a guard against waiting for ever.
#[tokio::test]
async fn a_burst_of_connections_past_1024_waits_in_the_backlog() {
    raise_open_file_limit(BURST as u64 + 512);
    let listener = coex_hub::app::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = listener.local_addr().unwrap();
    let connects = (0..BURST).map(|_| TcpStream::connect(addr));
    let connected = tokio::time::timeout(Duration::from_secs(30), try_join_all(connects))
        .await
        .expect("connections past the backlog were dropped")
        .unwrap();
    assert_eq!(connected.len(), BURST);
}

/// Lifts the soft limit on open files towards `want` (within the hard limit): many systems
/// start processes at 1,024.
fn raise_open_file_limit(want: u64) {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    let hard = limit.maximum.unwrap_or(u64::MAX);
    if limit.current.is_some_and(|soft| soft < want) {
        limit.current = Some(want.min(hard));
        setrlimit(Resource::Nofile, limit).unwrap();
    }
}
