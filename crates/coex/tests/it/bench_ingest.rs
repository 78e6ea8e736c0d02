//! `coex bench ingest` end to end: a short, slow run on each backend (a fresh SQLite file; a
//! database the bench creates and drops on `TEST_DATABASE_URL`). Asserts that the report is
//! written and that the correctness check passed — never anything about speed. PostgreSQL
//! being unreachable fails the test; nothing is skipped.

use std::process::Command;

use serde_json::Value;

fn bench(db: &str) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ingest.json");
    let pg = std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let output = Command::new(env!("CARGO_BIN_EXE_coex"))
        .args([
            "bench",
            "ingest",
            "--rate",
            "200",
            "--duration",
            "1.5",
            "--db",
            db,
        ])
        // Small history chunks, some still over the 256 KiB deferral threshold.
        .args(["--history-min-kb", "64", "--history-max-kb", "400"])
        .arg("--out")
        .arg(&out)
        .env("TEST_DATABASE_URL", pg)
        .env_remove("COEX_CONFIG")
        .output()
        .expect("run coex bench ingest");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "coex bench ingest failed\nstdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("CHECK PASS"), "{stdout}");
    serde_json::from_slice(&std::fs::read(&out).expect("the JSON report")).unwrap()
}

fn assert_report(r: &Value, backend: &str) {
    assert_eq!(r["backend"], backend);
    assert_eq!(r["check"]["pass"], true, "{:#}", r["check"]);
    let check = &r["check"];
    assert_eq!(
        check["acked"].as_u64().unwrap(),
        check["stored_unique"].as_u64().unwrap() + check["duplicates_ignored"].as_u64().unwrap()
    );
    let ledger = &r["ledger"];
    assert_eq!(ledger["requests"], 300);
    assert!(ledger["acked"].as_u64().unwrap() > 0);
    assert_eq!(check["webhooks_acked"], ledger["acked"]);
    assert_eq!(check["webhooks_pending"], 0);
    let step = &r["steps"][0];
    assert!(step["latency"]["p99_ms"].as_f64().unwrap() > 0.0);
    assert!(r["server_peak_rss_mb"].as_f64().unwrap() > 0.0);
}

#[test]
fn sqlite_run_reports_and_passes_the_check() {
    assert_report(&bench("sqlite"), "sqlite");
}

#[test]
fn postgres_run_reports_and_passes_the_check() {
    assert_report(&bench("postgres"), "postgres");
}
