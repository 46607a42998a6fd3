//! The crash harness: runs the real `medialib` binary under concurrent uploads, deletes, bulk
//! deletes, shares and grants, kills it with SIGKILL at random moments, restarts it on the same
//! data, and after the last run works off every pending deletion (`medialib reap --all`), runs
//! the reconciler (`medialib gc`) and checks that nothing was lost or left behind. A webhook
//! receiver on loopback (which refuses every seventh message) gets the tenant's events
//! throughout; after the last kill the server is started once more, and every acknowledged
//! delete must reach the receiver.
//!
//! `cargo test -p medialib-server --test crash` runs a short campaign (3 runs);
//! `cargo test -p medialib-server --test crash -- --runs 1000` (or `just crash 1000`) a long
//! one. `--seed N` replays a campaign's random choices; `--keep` keeps the data directory.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test program: a failed setup step is fatal

mod check;
mod workload;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use workload::{Journal, Workload};

const BIN: &str = env!("CARGO_BIN_EXE_medialib");

struct Options {
    runs: u32,
    seed: u64,
    keep: bool,
}

fn options() -> Option<Options> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // Speak enough of libtest's protocol for test runners that list tests first.
    if args.iter().any(|a| a == "--list") {
        if !args.iter().any(|a| a == "--ignored") {
            println!("crash_campaign: test");
        }
        return None;
    }
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse::<u64>().ok())
    };
    Some(Options {
        runs: value("--runs").map_or(3, |v| v as u32),
        seed: value("--seed").unwrap_or_else(|| fastrand::u64(..)),
        keep: args.iter().any(|a| a == "--keep"),
    })
}

fn medialib(dir: &Path) -> Command {
    let mut command = Command::new(BIN);
    command
        .current_dir(dir)
        .env_remove("MEDIALIB_DATABASE_URL")
        .env_remove("MEDIALIB_BLOB_URL")
        .env("RUST_LOG", "error");
    command
}

/// Starts the server on a free port; returns it and its base URL.
fn start(dir: &Path) -> (Child, String) {
    let mut command = medialib(dir);
    command
        .env("MEDIALIB_RETRY_INTERVAL_SECS", "1")
        .env("MEDIALIB_RETRY_GRACE_SECS", "1")
        .env("MEDIALIB_WEBHOOK_INTERVAL_MS", "100")
        .env("MEDIALIB_WEBHOOK_RETRY_BASE_MS", "200")
        .env("MEDIALIB_WEBHOOK_RETRY_MAX_SECS", "2")
        .env("MEDIALIB_WEBHOOK_MAX_ATTEMPTS", "1000")
        .stderr(Stdio::null());
    medialib_test_support::spawn_serve(command).expect("start medialib")
}

fn main() {
    let Some(options) = options() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let mut rng = fastrand::Rng::with_seed(options.seed);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let journal = Arc::new(Mutex::new(Journal::default()));
    let started = Instant::now();
    println!(
        "crash campaign: {} runs, seed {}",
        options.runs, options.seed
    );

    let receiver = runtime.block_on(medialib_test_support::receiver::Receiver::start());
    receiver.fail_every(7);
    let admin_key = || {
        std::fs::read_to_string(dir.path().join("data/admin.key"))
            .expect("admin key")
            .trim()
            .to_owned()
    };
    let mut kills = 0;
    for run in 0..options.runs {
        let (mut child, base) = start(dir.path());
        let admin = admin_key();
        if run == 0 {
            runtime.block_on(check::add_webhook(&base, &admin, &receiver));
        }
        let workload = Workload::new(base, admin, Arc::clone(&journal), rng.u64(..));
        let kill_after = Duration::from_millis(rng.u64(150..900));
        runtime.block_on(workload.run_until(kill_after));
        child.kill().expect("SIGKILL");
        child.wait().expect("reap child");
        kills += 1;
        // Let the workers notice and record what was left unacknowledged.
        runtime.block_on(workload.drain());
        if (run + 1) % 50 == 0 {
            println!("  {} runs, {:.0?}", run + 1, started.elapsed());
        }
    }

    // The server once more: what the kills cut off is delivered.
    let (mut child, _) = start(dir.path());
    let mut report = runtime.block_on(check::webhooks_delivered(
        &receiver,
        &journal.lock().unwrap(),
    ));
    child.kill().expect("SIGKILL");
    child.wait().expect("reap child");
    let after = runtime.block_on(check::after_campaign(dir.path(), &journal.lock().unwrap()));
    report.violations.extend(after.violations);
    report.notes.extend(after.notes);
    let journal = journal.lock().unwrap();
    println!();
    println!("| runs | operations | acked uploads | acked deletes | unacknowledged | refused (503) | kills | violations | time |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {} | {} | {} | {} | {} | {} | {} | {} | {:.0?} |",
        options.runs,
        journal.operations,
        journal.uploads.len(),
        journal.deleted.len(),
        journal.unacknowledged,
        journal.refused,
        kills,
        report.violations.len(),
        started.elapsed()
    );
    for violation in report.violations.iter().take(50) {
        println!("VIOLATION: {violation}");
    }
    for line in &report.notes {
        println!("{line}");
    }
    if options.keep {
        let kept = dir.keep();
        println!("data kept in {}", kept.display());
    }
    if report.violations.is_empty() {
        println!("crash: 1 passed, 0 failed");
    } else {
        println!("crash: 0 passed, 1 failed");
        std::process::exit(1);
    }
}
