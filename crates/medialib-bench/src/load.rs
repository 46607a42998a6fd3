//! The load driver: a fixed list of operations, worked off by N concurrent clients after a
//! warm-up, each operation timed into a histogram.

use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;

/// Throughput and latency of one measured phase.
#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    /// Operations completed.
    pub ops: u64,
    /// Concurrent clients.
    pub clients: usize,
    /// Wall time in seconds.
    pub seconds: f64,
    /// Operations per second.
    pub per_second: f64,
    /// Median latency, milliseconds.
    pub p50_ms: f64,
    /// 99th percentile, milliseconds.
    pub p99_ms: f64,
    /// 99.9th percentile, milliseconds.
    pub p999_ms: f64,
    /// Every measured latency, to merge phases run in rounds.
    #[serde(skip)]
    times: Histogram<u64>,
}

impl Stats {
    /// One figure for phases of the same operation run in rounds (interleaved with the phases
    /// they are compared with, so that both see the same machine): operations and wall time
    /// add up, latencies are pooled.
    pub fn pooled(rounds: &[Stats]) -> anyhow::Result<Stats> {
        let mut times = histogram();
        let mut ops = 0;
        let mut seconds = 0.0;
        for round in rounds {
            times.add(&round.times)?;
            ops += round.ops;
            seconds += round.seconds;
        }
        let clients = rounds.first().map_or(1, |r| r.clients);
        Ok(stats(ops, clients, Duration::from_secs_f64(seconds), times))
    }
}

pub(crate) fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 120_000_000, 3).expect("valid histogram bounds")
}

/// Runs `op` once per item with `clients` workers; every call must succeed. The first tenth
/// of the items warm up (connections, prepared statements, caches) and are not measured: the
/// clock starts when the first measured item is taken.
pub async fn drive<T, F, Fut>(clients: usize, items: Vec<T>, op: F) -> anyhow::Result<Stats>
where
    T: Send + 'static,
    F: Fn(T) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send,
{
    let warmup = items.len() / 10;
    let ops = (items.len() - warmup) as u64;
    let queue = Arc::new(Mutex::new(items.into_iter().enumerate()));
    let started = Arc::new(OnceLock::new());
    let mut workers = Vec::with_capacity(clients);
    for _ in 0..clients.max(1) {
        let queue = Arc::clone(&queue);
        let started = Arc::clone(&started);
        let op = op.clone();
        workers.push(tokio::spawn(async move {
            let mut times = histogram();
            loop {
                let next = queue.lock().expect("queue lock").next();
                let Some((n, item)) = next else { break };
                let t0 = Instant::now();
                if n == warmup {
                    started.get_or_init(|| t0);
                }
                op(item).await?;
                if n >= warmup {
                    let micros = u64::try_from(t0.elapsed().as_micros()).unwrap_or(u64::MAX);
                    times.saturating_record(micros.max(1));
                }
            }
            anyhow::Ok(times)
        }));
    }
    let mut all = histogram();
    for worker in workers {
        all.add(worker.await??)?;
    }
    let elapsed = started.get().map_or(Duration::ZERO, Instant::elapsed);
    Ok(stats(ops, clients, elapsed, all))
}

pub(crate) fn stats(ops: u64, clients: usize, elapsed: Duration, times: Histogram<u64>) -> Stats {
    let seconds = elapsed.as_secs_f64();
    let ms = |q: f64| times.value_at_quantile(q) as f64 / 1000.0;
    Stats {
        ops,
        clients,
        seconds,
        per_second: if seconds > 0.0 {
            ops as f64 / seconds
        } else {
            0.0
        },
        p50_ms: ms(0.5),
        p99_ms: ms(0.99),
        p999_ms: ms(0.999),
        times,
    }
}
