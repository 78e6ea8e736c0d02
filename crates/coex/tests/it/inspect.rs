//! `coex inspect` on the webhook fixtures, malformed bodies and signatures.

use crate::{coex, fixture};
use serde_json::Value;

fn lines(out: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each stdout line is JSON"))
        .collect()
}

fn hub_signature(secret: &[u8], body: &[u8]) -> String {
    coex_meta::signature::sign(secret, body)
}

#[test]
fn every_fixture_is_understood_one_line_per_event() {
    let dir = fixture("");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let out = coex(&["inspect", path.to_str().unwrap()], b"");
        assert!(out.status.success(), "{}: {:?}", path.display(), out);
        let events = lines(&out.stdout);
        for e in &events {
            assert!(e["kind"].is_string(), "{}: {e}", path.display());
        }
        seen += 1;
    }
    assert!(seen > 50, "only {seen} fixtures");
}

#[test]
fn reads_stdin_and_names_kind_number_id_timestamp() {
    let body = std::fs::read(fixture("spec_2_2_echo_text.json")).unwrap();
    let out = coex(&["inspect", "-"], &body);
    assert!(out.status.success());
    let events = lines(&out.stdout);
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(e["kind"], "echo");
    assert_eq!(e["phone_number_id"], "106540352242922");
    assert_eq!(
        e["id"],
        "wamid.HBgLMTY0NjcwNDM1OTUVAgARGBIyNDlBOEI5QUQ4NDc0N0FCNjMA"
    );
    assert_eq!(e["timestamp"], 1739321024);
}

#[test]
fn batches_yield_one_line_per_change_and_malformed_changes_are_flagged_not_fatal() {
    let out = coex(
        &[
            "inspect",
            fixture("batch_one_malformed.json").to_str().unwrap(),
        ],
        b"",
    );
    assert!(out.status.success(), "{out:?}");
    let kinds: Vec<String> = lines(&out.stdout)
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect();
    assert!(kinds.iter().any(|k| k == "malformed"), "{kinds:?}");
    assert!(kinds.iter().any(|k| k != "malformed"), "{kinds:?}");
}

#[test]
fn unknown_parts_are_flagged() {
    let out = coex(
        &[
            "inspect",
            fixture("unknown_message_type.json").to_str().unwrap(),
        ],
        b"",
    );
    assert!(out.status.success());
    let events = lines(&out.stdout);
    assert!(
        events
            .iter()
            .any(|e| e["flags"].as_array().is_some_and(|f| !f.is_empty())),
        "{events:?}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not understand"));
}

#[test]
fn malformed_json_exits_non_zero_with_the_position() {
    let out = coex(
        &["inspect", "-"],
        b"{\n  \"object\": \"whatsapp_business_account\",\n  \"entry\": [ }",
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 3, column"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn missing_file_is_a_clear_error() {
    let out = coex(&["inspect", "/nonexistent/body.json"], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/body.json"));
}

#[test]
fn verifies_the_signature_over_the_raw_bytes() {
    // Non-ASCII text as Meta sends it: \uXXXX escapes, signed over those exact bytes.
    let body = br#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"messages":[{"from":"16505551234","id":"wamid.A","timestamp":"1749416383","type":"text","text":{"body":"caf\u00e9 \ud83d\ude00 \u0645\u0631\u062d\u0628\u0627"}}]}}]}]}"#;
    let good = hub_signature(b"app-secret", body);
    let out = coex(
        &[
            "inspect",
            "-",
            "--app-secret",
            "app-secret",
            "--signature",
            &good,
        ],
        body,
    );
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("signature: valid"));
    let text = lines(&out.stdout)[0]["item"]["text"]["body"].clone();
    assert_eq!(text, "café 😀 مرحبا");

    let out = coex(
        &[
            "inspect",
            "-",
            "--app-secret",
            "other",
            "--signature",
            &good,
        ],
        body,
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("INVALID"));

    let out = coex(&["inspect", "-", "--signature", &good], body);
    assert_eq!(out.status.code(), Some(2), "clap refuses --signature alone");
}
