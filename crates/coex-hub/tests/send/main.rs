//! Sending against the real emulator over HTTP, on SQLite and on PostgreSQL, with tokio's
//! clock paused (see `harness`): the window, templates, disabled features, every class of
//! Meta error, pacing, a crash between a request and its commit, two hubs sharing one
//! number's lane, and idempotency keys.

#![allow(clippy::unwrap_used, clippy::expect_used)]

/// `both!(name)` runs `async fn name(Backend)` once per backend, with tokio's clock paused.
macro_rules! both {
    ($name:ident) => {
        mod $name {
            #[tokio::test(start_paused = true)]
            async fn sqlite() {
                super::$name(crate::harness::Backend::Sqlite).await;
            }

            #[tokio::test(start_paused = true)]
            async fn postgres() {
                super::$name(crate::harness::Backend::Postgres).await;
            }
        }
    };
}
mod cases;
mod harness;
