//! The compared phases: DELETE at 1 and at 8 clients through medialib, taking turns with each
//! of the database's ceilings, and the DELETE of a missing id at 1 (what a delete costs before
//! its transaction).

use anyhow::bail;
use serde_json::Value;

use crate::ceiling::{Ceiling, On};
use crate::cpu::*;
use crate::load::{drive, Stats};
use crate::raw::RawDb;
use crate::report::{rate, turns};
use crate::server::Server;
use crate::{quiet, Client};

/// Turns medialib and its ceiling take in a compared phase.
pub(crate) const ROUNDS: usize = 4;

/// What the compared phases measured; `at1`, `at8` and their CPU figures are per ceiling, in
/// the order of [`Ceiling::for_database`].
pub(crate) struct Compared {
    pub(crate) delete1: Stats,
    pub(crate) at1: Vec<Stats>,
    pub(crate) lookup1: Stats,
    pub(crate) delete8: Stats,
    pub(crate) delete8_cpu: f64,
    pub(crate) delete8_split: Value,
    pub(crate) at8: Vec<Stats>,
    pub(crate) at8_cpu: Vec<f64>,
    pub(crate) at8_split: Vec<Value>,
    pub(crate) load_rss: f64,
}

/// Deletes `ids` through `client` (the first `seq` at 1 client, the next `ops` at 8), each
/// ceiling deleting its own `ceiling_ids` alike, all taking turns.
#[allow(clippy::too_many_arguments)] // the phase's whole setup, named
pub(crate) async fn deletes(
    client: &Client,
    server: &Server,
    raw: &RawDb,
    ceilings: &[Ceiling],
    on: &On,
    ids: &[i64],
    ceiling_ids: &[Vec<i64>],
    seq: usize,
    ops: usize,
) -> anyhow::Result<Compared> {
    // medialib and its ceilings take turns, a quarter of the operations at a time and in an
    // order rotated every round ([`turns`]), so that all meet the same machine (a checkpoint,
    // a vacuum, a busy neighbour) alike.
    let (one_ids, eight_ids) = ids.split_at(seq);
    // Every side starts from a settled database (the fills above left work for its background
    // maintenance, which would otherwise land in whichever turn comes first).
    raw.settle().await?;
    let mut delete1 = Vec::new();
    let mut at1: Vec<Vec<Stats>> = vec![Vec::new(); ceilings.len()];
    let chunk1 = seq.div_ceil(ROUNDS);
    for (round, ours) in one_ids.chunks(chunk1).enumerate() {
        for side in turns(round, ceilings.len()) {
            quiet().await;
            let Some(n) = side else {
                delete1.push(client.delete_all(ours.to_vec(), 1).await?);
                continue;
            };
            let chunk = &ceiling_ids[n][..seq][round * chunk1..((round + 1) * chunk1).min(seq)];
            at1[n].push(ceilings[n].run(on, chunk, 1).await?);
        }
    }
    let delete1 = Stats::pooled(&delete1)?;
    println!("DELETE at 1 client: {}", rate(&delete1));
    let at1 = at1
        .iter()
        .map(|rounds| Stats::pooled(rounds))
        .collect::<anyhow::Result<Vec<_>>>()?;
    for (ceiling, stats) in ceilings.iter().zip(&at1) {
        println!("{} at 1: {}", ceiling.label(), rate(stats));
    }
    // The part of a delete before its transaction: HTTP, authentication and the lookup that
    // authorizes it (an id that does not exist answers 404 right after it).
    let lookup1 = {
        let client = client.clone();
        drive(1, vec![(); seq], move |()| {
            let client = client.clone();
            async move {
                let response = client
                    .http
                    .delete(format!("{}/v1/media/999999999", client.base))
                    .bearer_auth(&client.key)
                    .send()
                    .await?;
                if response.status() != 404 {
                    bail!("missing id: {}", response.status());
                }
                Ok(())
            }
        })
        .await?
    };
    println!(
        "DELETE of a missing id at 1 client (authentication and a locked lookup that finds nothing): {}",
        rate(&lookup1)
    );
    raw.settle().await?;
    let (sampler, peak) = peak_rss(server.rss_probe());
    let mut delete8 = Vec::new();
    let mut delete8_cpu = 0.0;
    let mut delete8_split = Vec::new();
    let mut at8: Vec<Vec<Stats>> = vec![Vec::new(); ceilings.len()];
    let mut at8_cpu = vec![0.0; ceilings.len()];
    let mut at8_split: Vec<Vec<Value>> = vec![Vec::new(); ceilings.len()];
    let chunk8 = ops.div_ceil(ROUNDS);
    for (round, ours) in eight_ids.chunks(chunk8).enumerate() {
        for side in turns(round, ceilings.len()) {
            quiet().await;
            let cpu = CpuTimes::now();
            let Some(n) = side else {
                let used = ProcessCpu::now(Some(server.pid()));
                delete8.push(client.delete_all(ours.to_vec(), 8).await?);
                delete8_cpu += cpu.busy_since() / ROUNDS as f64;
                delete8_split.push(used.per_op_since(Some(server.pid()), ours.len() as u64));
                continue;
            };
            let chunk = &ceiling_ids[n][seq..][round * chunk8..((round + 1) * chunk8).min(ops)];
            let used = ProcessCpu::now(None);
            let stats = ceilings[n].run(on, chunk, 8).await?;
            at8_cpu[n] += cpu.busy_since() / ROUNDS as f64;
            at8_split[n].push(used.per_op_since(None, stats.ops));
            at8[n].push(stats);
        }
    }
    let delete8_split = mean_split(&delete8_split);
    sampler.abort();
    let load_rss = peak.lock().map_or(0.0, |max| *max);
    let delete8 = Stats::pooled(&delete8)?;
    let at8 = at8
        .iter()
        .map(|rounds| Stats::pooled(rounds))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let at8_split: Vec<Value> = at8_split.iter().map(|splits| mean_split(splits)).collect();
    println!(
        "DELETE at 8 clients: {}  (peak RSS {load_rss:.1} MiB, CPU {:.0}% busy)",
        rate(&delete8),
        delete8_cpu * 100.0
    );
    println!("CPU per delete at 8, medialib: {delete8_split}");
    for (n, ceiling) in ceilings.iter().enumerate() {
        println!(
            "{} at 8: {}  (CPU {:.0}% busy)",
            ceiling.label(),
            rate(&at8[n]),
            at8_cpu[n] * 100.0
        );
        if ceiling.cpu_readable() {
            println!("CPU per delete at 8, {}: {}", ceiling.label(), at8_split[n]);
        }
    }
    Ok(Compared {
        delete1,
        at1,
        lookup1,
        delete8,
        delete8_cpu,
        delete8_split,
        at8,
        at8_cpu,
        at8_split,
        load_rss,
    })
}
