//! Where a phase's CPU went: per process from `/proc/<pid>/stat`, the machine's busy share
//! from `/proc/stat`, and the server's peak resident memory.

use super::*;

/// Samples `probe` every 20 ms into the returned maximum until the task is aborted.
pub(crate) fn peak_rss(
    probe: impl Fn() -> f64 + Send + 'static,
) -> (tokio::task::JoinHandle<()>, Arc<std::sync::Mutex<f64>>) {
    let peak = Arc::new(std::sync::Mutex::new(probe()));
    let sink = Arc::clone(&peak);
    let task = tokio::spawn(async move {
        loop {
            let rss = probe();
            if let Ok(mut max) = sink.lock() {
                *max = max.max(rss);
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    });
    (task, peak)
}

/// The mean of per-round CPU splits, field by field.
pub(crate) fn mean_split(rounds: &[Value]) -> Value {
    let mean = |field: &str| {
        rounds.iter().filter_map(|r| r[field].as_f64()).sum::<f64>() / rounds.len().max(1) as f64
    };
    json!({
        "load_generator_us": mean("load_generator_us"),
        "child_process_us": mean("child_process_us"),
        "server_us": mean("server_us"),
        "database_us": mean("database_us"),
    })
}

/// CPU time used so far by the load generator (this process), the server under test and the
/// database's processes, in clock ticks: where the machine's cores went in a phase.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ProcessCpu {
    pub(crate) generator: u64,
    /// Child processes of this one that have exited (`medialib reap`).
    pub(crate) children: u64,
    pub(crate) server: u64,
    pub(crate) database: u64,
}

/// The name and the CPU time used so far (user and system, in clock ticks) of process `pid`
/// (a number, or `self`), from `/proc/<pid>/stat`.
pub(crate) fn ticks(pid: &str) -> Option<(String, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (head, rest) = stat.rsplit_once(')')?;
    let name = head.split_once('(')?.1.to_owned();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let used = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some((name, used))
}

impl ProcessCpu {
    pub(crate) fn now(server: Option<u32>) -> Self {
        // cutime and cstime: fields 16 and 17 of the line, 14 and 15 after the name.
        let children = std::fs::read_to_string("/proc/self/stat")
            .ok()
            .and_then(|stat| {
                let fields: Vec<u64> = stat
                    .rsplit_once(')')?
                    .1
                    .split_whitespace()
                    .skip(1)
                    .map(|v| v.parse().unwrap_or(0))
                    .collect();
                // After the state letter (skipped): cutime is the 13th, cstime the 14th.
                Some(fields.get(12)? + fields.get(13)?)
            })
            .unwrap_or(0);
        let mut out = Self {
            generator: ticks("self").map_or(0, |(_, t)| t),
            children,
            server: server
                .and_then(|pid| ticks(&pid.to_string()))
                .map_or(0, |(_, t)| t),
            database: 0,
        };
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let pid = entry.file_name().to_string_lossy().into_owned();
            if !pid.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            if let Some((name, used)) = ticks(&pid) {
                if matches!(name.as_str(), "postgres" | "mariadbd" | "mysqld" | "weed") {
                    out.database += used;
                }
            }
        }
        out
    }

    /// Microseconds of CPU per operation since `self`, for each party.
    pub(crate) fn per_op_since(&self, server: Option<u32>, ops: u64) -> Value {
        let now = Self::now(server);
        let tick_us = 1e6 / 100.0; // USER_HZ
        let per = |a: u64, b: u64| (a.saturating_sub(b)) as f64 * tick_us / ops.max(1) as f64;
        json!({
            "load_generator_us": per(now.generator, self.generator),
            "child_process_us": per(now.children, self.children),
            "server_us": per(now.server, self.server),
            "database_us": per(now.database, self.database),
        })
    }
}

/// The machine's CPU time counters (`/proc/stat`), to tell whether a phase was CPU-bound.
pub(crate) struct CpuTimes {
    pub(crate) busy: u64,
    pub(crate) total: u64,
}

impl CpuTimes {
    pub(crate) fn now() -> Self {
        let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let fields: Vec<u64> = stat
            .lines()
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .skip(1)
            .filter_map(|v| v.parse().ok())
            .collect();
        let total: u64 = fields.iter().sum();
        // Fields 4 and 5 are idle and iowait.
        let idle = fields.get(3).copied().unwrap_or(0) + fields.get(4).copied().unwrap_or(0);
        Self {
            busy: total.saturating_sub(idle),
            total,
        }
    }

    /// The share of all cores that was busy since `self` was taken (0 to 1).
    pub(crate) fn busy_since(&self) -> f64 {
        let now = Self::now();
        let total = now.total.saturating_sub(self.total);
        if total == 0 {
            return 0.0;
        }
        now.busy.saturating_sub(self.busy) as f64 / total as f64
    }
}
