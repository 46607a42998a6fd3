//! The medialib server under test: spawned from its binary on an ephemeral port, spoken to
//! over HTTP, its resident memory read from `/proc`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{bail, Context};

/// A running `medialib serve`.
pub struct Server {
    child: Child,
    pub base: String,
    pub admin: String,
}

impl Server {
    /// Starts `medialib serve` in `dir` on `database_url` and `blob_url` with extra env.
    pub fn start(
        bin: &Path,
        dir: &Path,
        database_url: &str,
        blob_url: &str,
        env: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        let mut command = Command::new(bin);
        command
            .current_dir(dir)
            .env("MEDIALIB_DATABASE_URL", database_url)
            .env("MEDIALIB_BLOB_URL", blob_url)
            .env("MEDIALIB_MAX_UPLOAD_BYTES", (2u64 << 30).to_string())
            .env("RUST_LOG", "error")
            .envs(env.iter().copied())
            .stderr(Stdio::inherit());
        let (child, base) = medialib_test_support::spawn_serve(command)
            .with_context(|| format!("cannot start {}", bin.display()))?;
        let admin = std::fs::read_to_string(dir.join("data/admin.key"))
            .context("admin key written on first start")?
            .trim()
            .to_owned();
        Ok(Self {
            child,
            base: base.to_owned(),
            admin,
        })
    }

    /// Resident memory of the server process, in MiB.
    pub fn rss_mib(&self) -> f64 {
        rss_of(self.child.id())
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A probe of the server's resident memory that can move to another task.
    pub fn rss_probe(&self) -> impl Fn() -> f64 + Send + 'static {
        let pid = self.child.id();
        move || rss_of(pid)
    }

    /// Stops the server (SIGTERM, then waits).
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `medialib` binary next to this one (both are built into the same target directory).
pub fn default_binary() -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe()?;
    let bin = me.with_file_name("medialib");
    if !bin.is_file() {
        bail!(
            "{} not found: build it first (cargo build [--release] -p medialib-server)",
            bin.display()
        );
    }
    Ok(bin)
}

pub(crate) fn rss_of(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .ok()
        })
        .map_or(0.0, |kib| kib / 1024.0)
}
