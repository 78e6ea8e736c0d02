//! Integration tests of the store. Every test runs twice, on SQLite (a temporary file) and on
//! PostgreSQL (a fresh database per test, at `TEST_DATABASE_URL`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`). PostgreSQL being unreachable fails the
//! PostgreSQL half loudly; nothing is skipped.

#![allow(clippy::unwrap_used, clippy::expect_used)]

/// `both!(name, |db| async { ... })` defines `name::sqlite` and `name::postgres`, each running
/// the body against a fresh [`harness::TestDb`] of that backend.
macro_rules! both {
    ($name:ident, |$db:ident| $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let $db = $crate::harness::TestDb::sqlite().await;
                $body.await;
                $db.finish().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let $db = $crate::harness::TestDb::postgres().await;
                $body.await;
                $db.finish().await;
            }
        }
    };
}

mod archive;
mod concurrency;
mod errors;
mod feed;
mod harness;
mod history;
mod identity;
mod lifecycle;
mod messages;
mod sending;
mod setup;
mod statuses;
