//! `coex inspect`: placeholder until the webhook types land.
use std::process::ExitCode;
#[derive(Debug, clap::Args)]
pub struct InspectArgs {}
pub fn run(_: &InspectArgs) -> anyhow::Result<ExitCode> {
    Ok(ExitCode::SUCCESS)
}
