//! The `coex` binary: parse the command line, run it, turn errors into a message and exit 1.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = coex::cli::Cli::parse();
    match coex::cli::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("coex: {err:#}");
            ExitCode::FAILURE
        }
    }
}
