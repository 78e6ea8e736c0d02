//! `coex inspect [FILE|-]`: what coex understands of a webhook body.
//!
//! Prints one JSON line per event on stdout (its kind, number, id, timestamp and the typed
//! item), with parts this version does not understand flagged rather than dropped. With
//! `--app-secret` and `--signature` it also checks `X-Hub-Signature-256` over the exact bytes.
//!
//! Exit codes: 0 understood (and signature valid, when checked); 1 unreadable input or
//! malformed JSON (the message gives the line and column); 3 signature mismatch.

use std::{
    io::{Read, Write},
    path::PathBuf,
    process::ExitCode,
};

use anyhow::Context;
use coex_meta::webhook::{ParseError, events, parse_notification};

/// Exit code for a body whose signature does not match.
pub const EXIT_BAD_SIGNATURE: u8 = 3;

#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// The webhook body: a file, or `-` for standard input.
    #[arg(default_value = "-")]
    pub input: PathBuf,
    /// The app secret that signs Meta's webhooks; checks `--signature` against the body.
    #[arg(
        long,
        requires = "signature",
        env = "COEX_META_APP_SECRET",
        hide_env_values = true
    )]
    pub app_secret: Option<String>,
    /// The `X-Hub-Signature-256` header value, `sha256=<hex>`.
    #[arg(long, requires = "app_secret")]
    pub signature: Option<String>,
}

/// Reads the body, prints its events, and returns the exit code described above.
pub fn run(args: &InspectArgs) -> anyhow::Result<ExitCode> {
    let body = read_input(&args.input)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let code = inspect(&body, args, &mut out, &mut std::io::stderr())?;
    out.flush()?;
    Ok(code)
}

/// The command's work on a body already read, writing events to `out` and remarks to `err`.
pub fn inspect(
    body: &[u8],
    args: &InspectArgs,
    out: &mut impl Write,
    err: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let mut signature_ok = true;
    if let (Some(secret), Some(signature)) = (&args.app_secret, &args.signature) {
        match coex_meta::signature::verify(secret.as_bytes(), body, signature) {
            Ok(()) => writeln!(err, "signature: valid")?,
            Err(e) => {
                writeln!(err, "signature: INVALID ({e})")?;
                signature_ok = false;
            }
        }
    }
    let notification = parse_notification(body).map_err(|e| match &e {
        ParseError::Json {
            line,
            column,
            message,
        } => anyhow::anyhow!("malformed JSON at line {line}, column {column}: {message}"),
        ParseError::Shape(_) => anyhow::anyhow!("not a webhook notification: {e}"),
    })?;
    let events = events(&notification);
    if events.is_empty() {
        writeln!(err, "no events in this notification")?;
    }
    let mut flagged = 0usize;
    for event in &events {
        flagged += usize::from(!event.flags.is_empty());
        writeln!(out, "{}", event.to_json_line()?)?;
    }
    if flagged > 0 {
        writeln!(
            err,
            "{flagged} of {} events have parts this version does not understand (see \"flags\")",
            events.len()
        )?;
    }
    Ok(if signature_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_BAD_SIGNATURE)
    })
}

fn read_input(path: &PathBuf) -> anyhow::Result<Vec<u8>> {
    if path.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .context("reading the webhook body from standard input")?;
        Ok(buf)
    } else {
        std::fs::read(path).with_context(|| format!("reading {}", path.display()))
    }
}
