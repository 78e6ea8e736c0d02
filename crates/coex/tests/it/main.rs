//! End-to-end tests of the `coex` binary, run as a real process.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bench_ingest;
mod bench_send;
mod demo;
mod inspect;

use std::process::{Command, Output, Stdio};

/// Runs `coex ARGS` with `stdin` as standard input, from a clean environment for COEX_ keys.
pub fn coex(args: &[&str], stdin: &[u8]) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_coex"))
        .args(args)
        .env_remove("COEX_CONFIG")
        .env_remove("COEX_META_APP_SECRET")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn coex");
    // A child that exits without reading its input (a usage error, refused by clap) closes
    // the pipe first: the write then fails with a broken pipe, which is the child's answer,
    // not a failure (it made this test flaky).
    if let Err(e) = child.stdin.take().unwrap().write_all(stdin) {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    }
    child.wait_with_output().unwrap()
}

pub fn fixture(name: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("../coex-meta/tests/fixtures/webhooks")
    .join(name)
}
