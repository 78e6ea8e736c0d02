//! Integration tests of the hub against the real emulator over HTTP, each on SQLite and on
//! PostgreSQL (`TEST_DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432/postgres`; an
//! unreachable PostgreSQL fails the PostgreSQL half, it is never skipped).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cluster;
mod day;
mod expected;
mod feed;
mod harness;
mod history;
mod lifecycle;
mod listener;
mod onboarding;
mod webhook;

/// Runs `async fn $name(Backend)` as two tests, `$name::sqlite` and `$name::postgres`, on a
/// multi-threaded runtime (the hub, the emulator and the test run side by side).
#[macro_export]
macro_rules! both_backends {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::harness::Backend::Sqlite).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::harness::Backend::Postgres).await
            }
        }
    };
}
