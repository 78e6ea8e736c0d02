//! Direct SQL on the send bench's database: queues grown in bulk, and the final counts.
//!
//! Every queued row starts as a real send: `SendService::enqueue` (policy, pricing, the
//! store's transaction) writes one per number and customer of the pool. The queues are then
//! grown by copying those rows inside the database, a round at a time, keeping each number's
//! rotation over its customers (round `k` gets `not_before = base + k` ms, so a lane claims
//! the rounds in order). Queueing millions of sends one transaction each would take the
//! better part of an hour on SQLite (one fsync per commit); the rows a copy makes are the
//! ones the service wrote, and the lanes cannot tell them apart.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

use anyhow::Context;
use coex_core::PhoneNumberId;
use sqlx::{ConnectOptions, Row};

use super::target::Backend;

/// A connection to the bench's database, beside the store's pools.
#[derive(Debug)]
pub enum Raw {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Raw {
    pub async fn connect(backend: Backend, url: &str) -> anyhow::Result<Self> {
        Ok(match backend {
            Backend::Sqlite => {
                // The bulk copies take seconds by design: no slow-statement warnings.
                let opts = sqlx::sqlite::SqliteConnectOptions::from_str(url)?
                    .busy_timeout(std::time::Duration::from_secs(60))
                    .disable_statement_logging();
                Self::Sqlite(
                    sqlx::sqlite::SqlitePoolOptions::new()
                        .max_connections(1)
                        .connect_with(opts)
                        .await?,
                )
            }
            Backend::Postgres => Self::Postgres(
                sqlx::postgres::PgPoolOptions::new()
                    .max_connections(1)
                    .connect_with(
                        sqlx::postgres::PgConnectOptions::from_str(url)?
                            .disable_statement_logging(),
                    )
                    .await?,
            ),
        })
    }

    async fn exec(&self, sql: &str) -> anyhow::Result<u64> {
        Ok(match self {
            Self::Sqlite(p) => sqlx::query(sql).execute(p).await?.rows_affected(),
            Self::Postgres(p) => sqlx::query(sql).execute(p).await?.rows_affected(),
        })
    }

    async fn scalar(&self, sql: &str) -> anyhow::Result<i64> {
        Ok(match self {
            Self::Sqlite(p) => sqlx::query_scalar::<_, Option<i64>>(sql)
                .fetch_one(p)
                .await?
                .unwrap_or(0),
            Self::Postgres(p) => sqlx::query_scalar::<_, Option<i64>>(sql)
                .fetch_one(p)
                .await?
                .unwrap_or(0),
        })
    }

    async fn strings(&self, sql: &str) -> anyhow::Result<Vec<String>> {
        Ok(match self {
            Self::Sqlite(p) => sqlx::query_scalar(sql).fetch_all(p).await?,
            Self::Postgres(p) => sqlx::query_scalar(sql).fetch_all(p).await?,
        })
    }

    /// The columns of `sends`, in table order.
    async fn send_columns(&self) -> anyhow::Result<Vec<String>> {
        let sql = match self {
            Self::Sqlite(_) => "SELECT name FROM pragma_table_info('sends') ORDER BY cid",
            Self::Postgres(_) => {
                "SELECT column_name::TEXT FROM information_schema.columns \
                 WHERE table_name = 'sends' AND table_schema = current_schema() \
                 ORDER BY ordinal_position"
            }
        };
        let cols = self.strings(sql).await?;
        anyhow::ensure!(!cols.is_empty(), "the database has no sends table");
        Ok(cols)
    }

    /// Queued sends of `number`.
    pub async fn queued(&self, number: &PhoneNumberId) -> anyhow::Result<u64> {
        let n = self
            .scalar(&format!(
                "SELECT COUNT(*) FROM sends WHERE state = 'queued' AND number_id = '{}'",
                number.as_str()
            ))
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Grows the queue of each of `numbers` to `target` sends by copying its queued rows in
    /// order (see the module notes). Every number must hold the same count, and the counts
    /// should be multiples of the rotation so that it stays unbroken. Returns rows inserted.
    pub async fn grow(&self, numbers: &[PhoneNumberId], target: u64) -> anyhow::Result<u64> {
        let Some(first) = numbers.first() else {
            return Ok(0);
        };
        let cols: Vec<String> = self
            .send_columns()
            .await?
            .into_iter()
            .filter(|c| c != "id" && c != "not_before")
            .collect();
        let list = cols.join(", ");
        // Ids are digits (PhoneNumberId parses them), so they can be written as literals.
        let in_list = numbers
            .iter()
            .map(|n| format!("'{}'", n.as_str()))
            .collect::<Vec<_>>()
            .join(", ");
        let mut have = self.queued(first).await?;
        anyhow::ensure!(have > 0, "no queued send of {first} to copy");
        let base = self.scalar("SELECT MAX(not_before) FROM sends").await? + 1;
        let mut inserted = 0;
        let mut round = 0_i64;
        while have < target {
            let take = have.min(target - have);
            let sql = format!(
                "INSERT INTO sends ({list}, not_before) \
                 SELECT {list}, {nb} FROM ( \
                   SELECT {list}, not_before AS src_nb, id AS src_id, \
                     ROW_NUMBER() OVER (PARTITION BY number_id ORDER BY not_before, id) AS rn \
                   FROM sends WHERE state = 'queued' AND number_id IN ({in_list})) s \
                 WHERE rn <= {take} ORDER BY number_id, src_nb, src_id",
                nb = base + round,
            );
            inserted += self.exec(&sql).await.context("copying queued sends")?;
            have += take;
            round += 1;
        }
        Ok(inserted)
    }

    /// Sends by state.
    pub async fn states(&self) -> anyhow::Result<BTreeMap<String, i64>> {
        let sql = "SELECT state AS k, COUNT(*) AS v FROM sends GROUP BY state";
        Ok(self.text_int_rows(sql, None).await?.into_iter().collect())
    }

    /// When the first attempt of each of `number`'s sends started (the engine's clock, ms),
    /// by recipient without its `+`.
    pub async fn first_attempts(&self, number: &str) -> anyhow::Result<HashMap<String, i64>> {
        let sql = "SELECT s.recipient AS k, MIN(a.started_at) AS v \
                   FROM send_attempts a JOIN sends s ON s.id = a.send_id \
                   WHERE s.number_id = $1 GROUP BY s.recipient";
        Ok(self
            .text_int_rows(sql, Some(number))
            .await?
            .into_iter()
            .map(|(to, at)| (to.trim_start_matches('+').to_owned(), at))
            .collect())
    }

    /// The rows of `sql` as (`k` text, `v` integer), with `$1` bound to `arg` if given.
    async fn text_int_rows(
        &self,
        sql: &str,
        arg: Option<&str>,
    ) -> anyhow::Result<Vec<(String, i64)>> {
        macro_rules! rows {
            ($pool:expr) => {{
                let mut q = sqlx::query(sql);
                if let Some(a) = arg {
                    q = q.bind(a);
                }
                q.fetch_all($pool)
                    .await?
                    .iter()
                    .map(|r| Ok((r.try_get("k")?, r.try_get("v")?)))
                    .collect::<Result<_, sqlx::Error>>()?
            }};
        }
        Ok(match self {
            Self::Sqlite(p) => rows!(p),
            Self::Postgres(p) => rows!(p),
        })
    }

    /// Accepted sends sharing a wamid with another (must be 0).
    pub async fn duplicate_wamids(&self) -> anyhow::Result<i64> {
        self.scalar("SELECT COUNT(wamid) - COUNT(DISTINCT wamid) FROM sends")
            .await
    }

    pub async fn close(&self) {
        match self {
            Self::Sqlite(p) => p.close().await,
            Self::Postgres(p) => p.close().await,
        }
    }
}
