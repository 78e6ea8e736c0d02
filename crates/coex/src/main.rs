//! The `coex` binary: parse the command line, run it, turn errors into a message and exit 1.

use std::process::ExitCode;

use clap::Parser;

// Why mimalloc rather than glibc's malloc: the sender and the emulator allocate and free
// small buffers for every request, row and status, and under glibc's allocator a fifth of
// their CPU went to malloc, free and its consolidation. `coex bench send` (200 numbers,
// two cores) used 1.16-1.22 cores with glibc and 0.97-1.06 with mimalloc for the same work;
// the cores it frees are the ones the idle number's sends wait for.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
