//! The schema migrations, one directory per dialect, embedded in the binary and applied at
//! start-up through sqlx's migrator (so `_sqlx_migrations` and its checksums work as usual and
//! the `sqlx` CLI can still read the directories).
//!
//! Why not `sqlx::migrate!`: that macro needs sqlx's `macros` feature, which compiles sqlx's
//! SQLite and PostgreSQL drivers (and the bundled SQLite C library) a second time for the proc
//! macro. Listing the files here costs one line per migration; a unit test checks the list
//! against the directories so none is forgotten.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};

type Embedded = &'static [(i64, &'static str, &'static str)];

/// `migrations/sqlite/<version>_<description>.sql`, in order.
const SQLITE: Embedded = &[
    (
        1,
        "init",
        include_str!("../migrations/sqlite/0001_init.sql"),
    ),
    (
        2,
        "sending",
        include_str!("../migrations/sqlite/0002_sending.sql"),
    ),
    (
        3,
        "contact_sync_items",
        include_str!("../migrations/sqlite/0003_contact_sync_items.sql"),
    ),
    (
        4,
        "traffic_index",
        include_str!("../migrations/sqlite/0004_traffic_index.sql"),
    ),
    (
        5,
        "archive_encoding",
        include_str!("../migrations/sqlite/0005_archive_encoding.sql"),
    ),
];

/// `migrations/postgres/<version>_<description>.sql`, in order.
const POSTGRES: Embedded = &[
    (
        1,
        "init",
        include_str!("../migrations/postgres/0001_init.sql"),
    ),
    (
        2,
        "sending",
        include_str!("../migrations/postgres/0002_sending.sql"),
    ),
    (
        3,
        "contact_sync_items",
        include_str!("../migrations/postgres/0003_contact_sync_items.sql"),
    ),
    (
        4,
        "traffic_index",
        include_str!("../migrations/postgres/0004_traffic_index.sql"),
    ),
    (
        5,
        "archive_encoding",
        include_str!("../migrations/postgres/0005_archive_encoding.sql"),
    ),
];

#[derive(Debug)]
struct Source(Embedded);

type BoxDynError = Box<dyn std::error::Error + Send + Sync>;

impl MigrationSource<'static> for Source {
    fn resolve(
        self,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send + 'static>> {
        let migrations = self
            .0
            .iter()
            .map(|(version, description, sql)| {
                Migration::new(
                    *version,
                    Cow::Borrowed(*description),
                    MigrationType::Simple,
                    Cow::Borrowed(*sql),
                    false,
                )
            })
            .collect();
        Box::pin(async move { Ok(migrations) })
    }
}

pub(crate) async fn sqlite() -> Result<Migrator, sqlx::migrate::MigrateError> {
    Migrator::new(Source(SQLITE)).await
}

pub(crate) async fn postgres() -> Result<Migrator, sqlx::migrate::MigrateError> {
    Migrator::new(Source(POSTGRES)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on_disk(dialect: &str) -> Vec<(i64, String)> {
        let dir = std::path::PathBuf::from(
            std::env::var_os("CARGO_MANIFEST_DIR")
                .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
        )
        .join("migrations")
        .join(dialect);
        let mut found: Vec<(i64, String)> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter_map(|name| {
                let stem = name.strip_suffix(".sql")?;
                let (v, d) = stem.split_once('_')?;
                Some((v.parse().unwrap(), d.to_owned()))
            })
            .collect();
        found.sort();
        found
    }

    fn listed(list: Embedded) -> Vec<(i64, String)> {
        list.iter().map(|(v, d, _)| (*v, (*d).to_owned())).collect()
    }

    #[test]
    fn every_migration_file_is_embedded() {
        assert_eq!(listed(SQLITE), on_disk("sqlite"));
        assert_eq!(listed(POSTGRES), on_disk("postgres"));
    }
}
