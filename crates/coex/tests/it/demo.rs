//! `coex demo` and `coex sim` run as real processes.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::coex;

#[test]
fn demo_plays_a_business_day_into_the_store() {
    // 3600 virtual seconds per second: the 9-hour scripted day takes about 9 s.
    let out = coex(
        &["demo", "--duration", "12s", "--speed", "3600", "--quiet"],
        b"",
    );
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    let banner: Value = serde_json::from_str(lines[0]).unwrap();
    assert!(
        banner["hub_url"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:")
    );
    let coexistence: Value = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["kind"] == "coexistence")
        .unwrap_or_else(|| panic!("no coexistence number in {stdout}"));
    let origins = &coexistence["messages_by_origin"];
    assert!(origins["customer"].as_u64().unwrap() > 0, "{coexistence}");
    assert!(
        origins["business_app"].as_u64().unwrap() > 0,
        "{coexistence}"
    );
    assert!(
        origins["history_import"].as_u64().unwrap() > 0,
        "{coexistence}"
    );
}

#[test]
fn sim_prints_its_coordinates_first() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_coex"))
        .args(["sim", "--listen", "127.0.0.1:0", "--app-secret", "s3cret"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    child.kill().unwrap();
    let _ = child.wait();
    let info: Value = serde_json::from_str(&first).unwrap();
    for key in [
        "graph_url",
        "control_url",
        "access_token",
        "app_secret",
        "verify_token",
        "waba_id",
    ] {
        assert!(info[key].is_string(), "{key} missing in {first}");
    }
    assert_eq!(info["app_secret"], "s3cret");
    assert!(!info["phone_number_ids"].as_array().unwrap().is_empty());
}

#[test]
fn a_missing_scenario_file_is_a_clear_error() {
    let out = coex(&["sim", "--scenario", "/nonexistent.toml"], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent.toml"));
}
