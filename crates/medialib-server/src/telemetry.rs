//! The only place a tracing subscriber is installed. Logs go to stderr; `RUST_LOG` filters
//! (default `info`).

use tracing_subscriber::EnvFilter;

/// Installs the subscriber once.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
