//! Fixture loading shared by the webhook tests.

use std::path::PathBuf;

use coex_meta::webhook::{ChangeValue, Notification, parse_notification};

/// The directory holding the webhook fixtures.
///
/// Read from the environment cargo and nextest give the test process, not only at compile
/// time: clones sharing one target directory reuse each other's test binaries, and a path
/// baked in by another (since deleted) clone would find no fixtures.
pub fn fixture_dir() -> PathBuf {
    PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("tests/fixtures/webhooks")
}

/// Every fixture as (file name, raw bytes), sorted by name.
pub fn all_fixtures() -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<_> = std::fs::read_dir(fixture_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    out.sort();
    out
}

/// The raw bytes of one fixture.
pub fn bytes(name: &str) -> Vec<u8> {
    std::fs::read(fixture_dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// One fixture, parsed.
pub fn load(name: &str) -> Notification {
    parse_notification(&bytes(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The only change of a one-change fixture.
pub fn only_value(name: &str) -> ChangeValue {
    let n = load(name);
    assert_eq!(n.entry.len(), 1, "{name}: entries");
    assert_eq!(n.entry[0].changes.len(), 1, "{name}: changes");
    n.entry[0].changes[0].value.clone()
}
