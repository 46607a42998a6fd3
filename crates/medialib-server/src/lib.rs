//! medialib's server: settings, the wiring of adapters into the service, the HTTP server and
//! the command line. The `medialib` binary is [`Cli`]; tests and embedders start the same
//! wiring in process with [`wiring::start`].

mod cli;
pub mod config;
mod http;
mod limits;
mod prometheus;
mod telemetry;
pub mod webhook;
pub mod wiring;

pub use cli::Cli;
pub use config::{RawSettings, Settings};
pub use wiring::{start, Inject, Running};
