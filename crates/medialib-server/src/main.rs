//! The `medialib` binary: parses the command line, runs it, reports a failure as one line.

mod cli;
mod config;
mod http;
mod limits;
mod prometheus;
mod telemetry;
mod wiring;

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    match cli.run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
