//! PostgreSQL: fresh planner statistics for tables that grow fast, long before autovacuum.
//!
//! sqlx keeps every statement prepared per connection, and PostgreSQL moves a prepared
//! statement to a generic plan after five runs and keeps it until a table it reads is next
//! analyzed. On a fresh database that plan was made for near-empty tables (sequential scans),
//! and autovacuum's first ANALYZE comes a minute or more later (its naptime), while a burst of
//! webhooks makes each scan longer. Measured (`coex bench ingest --db postgres`, 20 s at
//! 250 webhooks/s): 592 sequential scans of `contacts` reading 1.4 M rows, others on
//! `messages`, `status_history` and `conversations`, and ack p99 growing to 262 ms.
//!
//! This task looks at `pg_stat_user_tables` every [`EVERY`] and analyzes each of the store's
//! tables changed by more than [`MIN_CHANGES`] rows and a quarter of its size since it was
//! last analyzed (by anyone). The analysis also makes every connection plan the statements
//! reading that table again. Once tables are large the quarter makes this rare, and autovacuum
//! (10% by default) takes over. Forcing custom plans instead (`plan_cache_mode`) fixed the
//! scans too but cost the send path ~15% in planning (1,859 -> 1,576-1,613 sends/s).
//!
//! `SKIP_LOCKED`: a table another process is analyzing (two `coex serve` on one database) is
//! left to it. The task ends when the store's last handle is dropped or its pool is closed.

use std::sync::Weak;
use std::time::Duration;

use sqlx::{PgPool, Row};

/// How often the statistics are looked at.
const EVERY: Duration = Duration::from_secs(5);

/// Rows changed since the last analysis below which a table is never analyzed by this task.
const MIN_CHANGES: i64 = 500;

/// Starts the analyzer for the database behind `pool`; it stops once `alive` has no strong
/// reference left.
pub(crate) fn spawn(pool: PgPool, alive: Weak<()>) {
    crate::periodic::spawn(
        "PostgreSQL ANALYZE",
        EVERY,
        pool,
        alive,
        |pool| async move { analyze_grown(&pool).await.map(|_| ()) },
    );
}

/// Analyzes the tables of the store's schema that grew enough; returns their names.
pub(crate) async fn analyze_grown(pool: &PgPool) -> Result<Vec<String>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT relname::text AS name FROM pg_stat_user_tables \
         WHERE schemaname = current_schema() AND relname <> '_sqlx_migrations' \
           AND n_mod_since_analyze > $1 AND n_mod_since_analyze * 4 > n_live_tup \
         ORDER BY relname",
    )
    .bind(MIN_CHANGES)
    .fetch_all(pool)
    .await?;
    let mut analyzed = Vec::with_capacity(rows.len());
    for row in rows {
        let name: String = row.try_get("name")?;
        // The name comes from the catalog; quoted all the same.
        let sql = format!("ANALYZE (SKIP_LOCKED) \"{}\"", name.replace('"', "\"\""));
        sqlx::query(&sql).execute(pool).await?;
        tracing::debug!(table = %name, "analyzed");
        analyzed.push(name);
    }
    Ok(analyzed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use coex_testdb::{Backend, TestDb};

    /// Needs the test PostgreSQL (fails without it, as every store test does).
    #[tokio::test]
    async fn a_table_that_grew_is_analyzed_and_a_quiet_one_is_not() {
        let db = TestDb::create(Backend::Postgres, "coex_analyze").await;
        // The schema without a store: no analyzer task of its own races this test's calls.
        let pool = PgPool::connect(db.url()).await.unwrap();
        crate::migrate::postgres()
            .await
            .unwrap()
            .run(&pool)
            .await
            .unwrap();
        let mut c = pool.acquire().await.unwrap();
        sqlx::query(
            "INSERT INTO workspaces (slug, name, created_at) \
             SELECT 'ws' || i, 'Workspace ' || i, 0 FROM generate_series(1, 2000) AS i",
        )
        .execute(&mut *c)
        .await
        .unwrap();
        // Statistics reach pg_stat_user_tables when the backend flushes them.
        sqlx::query("SELECT pg_stat_force_next_flush()")
            .execute(&mut *c)
            .await
            .unwrap();
        sqlx::query("SELECT 1").execute(&mut *c).await.unwrap();
        drop(c);

        let analyzed = analyze_grown(&pool).await.unwrap();
        assert_eq!(analyzed, vec!["workspaces".to_owned()]);
        let last: Option<i64> = sqlx::query_scalar(
            "SELECT CAST(EXTRACT(EPOCH FROM last_analyze) AS BIGINT) FROM pg_stat_user_tables \
             WHERE relname = 'workspaces' AND schemaname = current_schema()",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        assert!(last.is_some(), "workspaces was analyzed");
        // Nothing changed since: nothing to do.
        assert!(analyze_grown(&pool).await.unwrap().is_empty());
        pool.close().await;
        db.finish().await;
    }
}
