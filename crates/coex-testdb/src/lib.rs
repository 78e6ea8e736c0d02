//! Throwaway databases for the workspace's tests: a SQLite file in a temporary folder, or a
//! fresh PostgreSQL database created on `TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`). Either goes away when the test ends — also
//! when it panicked, from `Drop`.
//!
//! A PostgreSQL that cannot be reached fails the test with a message saying so: a backend
//! that is skipped silently would hide its bugs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::Connection;

/// Which store a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

/// A fresh, empty database (not migrated: the store does that when it connects).
#[derive(Debug)]
pub struct TestDb {
    url: String,
    backend: Backend,
    /// PostgreSQL: the maintenance URL and the database to drop.
    pg_cleanup: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

/// The PostgreSQL the tests use for `CREATE DATABASE`.
pub fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

impl TestDb {
    /// Creates the database; `prefix` names PostgreSQL databases (`<prefix>_<pid>_…`) so a
    /// leftover one says which tests made it.
    pub async fn create(backend: Backend, prefix: &str) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("a temporary folder");
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("coex.db").display());
                Self {
                    url,
                    backend,
                    pg_cleanup: None,
                    _dir: Some(dir),
                }
            }
            Backend::Postgres => {
                let admin = admin_url();
                let mut conn = sqlx::PgConnection::connect(&admin)
                    .await
                    .unwrap_or_else(|e| {
                        panic!(
                            "these tests need PostgreSQL at {admin} (set TEST_DATABASE_URL; start \
                             it with `pg_ctlcluster --skip-systemctl-redirect <version> main \
                             start`): {e}"
                        )
                    });
                let name = format!("{prefix}_{}", unique_suffix());
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .await
                    .unwrap_or_else(|e| panic!("creating database {name}: {e}"));
                conn.close().await.ok();
                Self {
                    url: coex_store::with_database_name(&admin, &name),
                    backend,
                    pg_cleanup: Some((admin, name)),
                    _dir: None,
                }
            }
        }
    }

    /// The URL to connect stores to (as many as a test wants: each is like another process).
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Drops the PostgreSQL database now (close the stores first); the SQLite folder goes
    /// with `self`.
    pub async fn finish(mut self) {
        if let Some((admin, name)) = self.pg_cleanup.take() {
            drop_database(&admin, &name).await;
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // A test that panicked never reached `finish`: drop its database from a helper thread
        // with its own runtime (the test's runtime may be unwinding).
        if let Some((admin, name)) = self.pg_cleanup.take() {
            let _ = std::thread::spawn(move || {
                if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    rt.block_on(drop_database(&admin, &name));
                }
            })
            .join();
        }
    }
}

async fn drop_database(admin: &str, name: &str) {
    if let Ok(mut conn) = sqlx::PgConnection::connect(admin).await {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut conn)
            .await;
        let _ = conn.close().await;
    }
}

/// Unique across the tests of one run and across concurrent runs.
fn unique_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{}_{}_{}",
        std::process::id(),
        nanos,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn both_backends_give_a_database_that_goes_away() {
        let sqlite = TestDb::create(Backend::Sqlite, "coex_testdb").await;
        assert!(sqlite.url().starts_with("sqlite://"));
        sqlite.finish().await;

        let pg = TestDb::create(Backend::Postgres, "coex_testdb").await;
        let name = pg.url().rsplit('/').next().unwrap().to_owned();
        let conn = sqlx::PgConnection::connect(pg.url()).await.unwrap();
        conn.close().await.unwrap();
        pg.finish().await;
        let mut admin = sqlx::PgConnection::connect(&admin_url()).await.unwrap();
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pg_database WHERE datname = $1")
            .bind(&name)
            .fetch_one(&mut admin)
            .await
            .unwrap();
        assert_eq!(left, 0);
    }
}
