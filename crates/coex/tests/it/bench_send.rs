//! `coex bench send` end to end: a few seconds with five numbers on each backend (a fresh
//! SQLite file; a database the bench creates and drops on `TEST_DATABASE_URL`), the emulator
//! as a child process. Asserts that the report is written, that everything the emulator
//! accepted is in the store once, and that Meta's throughput and pair-rate limits were never
//! hit — never anything about speed. PostgreSQL being unreachable fails the test.

use std::process::Command;

use serde_json::Value;

fn bench(db: &str) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("send.json");
    let pg = std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let output = Command::new(env!("CARGO_BIN_EXE_coex"))
        .args(["bench", "send", "--numbers", "5", "--duration", "2"])
        .args(["--warmup", "0.5", "--queue", "3000", "--db", db])
        .arg("--out")
        .arg(&out)
        .env("TEST_DATABASE_URL", pg)
        .env_remove("COEX_CONFIG")
        .output()
        .expect("run coex bench send");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "coex bench send failed\nstdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("CHECK PASS"), "{stdout}");
    serde_json::from_slice(&std::fs::read(&out).expect("the JSON report")).unwrap()
}

fn assert_report(r: &Value, backend: &str) {
    assert_eq!(r["bench"], "send");
    assert_eq!(r["backend"], backend);
    assert_eq!(r["check"]["pass"], true, "{:#}", r["check"]);
    let answers = &r["answers"];
    assert_eq!(answers["throughput_130429"], 0, "{answers:#}");
    assert_eq!(answers["pair_rate_131056"], 0, "{answers:#}");
    assert!(answers["accepted"].as_u64().unwrap() > 0, "{answers:#}");
    assert_eq!(r["rates"]["per_number"].as_array().unwrap().len(), 5);
    assert_eq!(r["memory"]["queue"]["queued"], 3000);
    assert!(r["memory"]["vm_hwm_mb"].as_f64().unwrap() > 0.0);
    assert_eq!(r["sender"]["throughput_errors"], 0);
    assert_eq!(r["sender"]["pair_rate_errors"], 0);
}

#[test]
fn sqlite_run_reports_no_rate_errors() {
    assert_report(&bench("sqlite"), "sqlite");
}

#[test]
fn postgres_run_reports_no_rate_errors() {
    assert_report(&bench("postgres"), "postgres");
}
