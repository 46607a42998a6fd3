//! The report: one row per figure with its ceiling, ratio, target and verdict.

use super::*;

/// One line of the report: a figure, its ceiling and the ratio.
pub(crate) struct Row {
    pub(crate) what: String,
    pub(crate) figure: String,
    pub(crate) ceiling: String,
    pub(crate) ratio: Option<f64>,
    pub(crate) target: String,
    /// Whether the target holds, where it applies to this backend.
    pub(crate) met: Option<bool>,
}

pub(crate) fn row(
    what: &str,
    figure: String,
    ceiling: String,
    ratio: Option<f64>,
    target: &str,
) -> Row {
    Row {
        what: what.to_owned(),
        figure,
        ceiling,
        ratio,
        target: target.to_owned(),
        met: None,
    }
}

impl Row {
    /// Judges the row's target where it `applies` to the backend: `holds` of its ratio (false
    /// without one), or of the figure given.
    pub(crate) fn judged(mut self, applies: bool, holds: impl FnOnce(f64) -> bool) -> Self {
        self.met = applies.then(|| self.ratio.is_some_and(holds));
        self
    }

    /// Judges a target on an absolute figure rather than the ratio.
    pub(crate) fn judged_on(mut self, applies: bool, holds: bool) -> Self {
        self.met = applies.then_some(holds);
        self
    }
}

/// Prints the table of `rows` and which targets were met; returns the judged rows.
pub(crate) fn report<'a>(rows: &'a [Row], args: &Args, smoke: bool) -> Vec<&'a Row> {
    println!();
    println!(
        "{:<38} {:<58} {:<48} {:>7}  {:<8} target",
        "figure", "medialib", "ceiling", "ratio", "verdict"
    );
    for r in rows {
        let ratio = r.ratio.map_or(String::new(), |x| format!("{x:.2}x"));
        let verdict = match r.met {
            Some(true) => "met",
            Some(false) => "NOT MET",
            None => "",
        };
        println!(
            "{:<38} {:<58} {:<48} {:>7}  {:<8} {}",
            r.what, r.figure, r.ceiling, ratio, verdict, r.target
        );
    }
    let judged: Vec<&Row> = rows.iter().filter(|r| r.met.is_some()).collect();
    let missed: Vec<&str> = judged
        .iter()
        .filter(|r| r.met == Some(false))
        .map(|r| r.what.as_str())
        .collect();
    println!(
        "\ntargets on {} + {}: {} of {} met{}{}",
        args.database,
        args.blobs,
        judged.len() - missed.len(),
        judged.len(),
        if missed.is_empty() {
            String::new()
        } else {
            format!("; not met: {}", missed.join(", "))
        },
        if smoke {
            " (smoke run: small counts, the figures mean nothing)"
        } else {
            ""
        }
    );
    judged
}

/// The order of the sides in compared round `round`: medialib (`None`) and each of `ceilings`
/// ceilings, rotated by one place a round, so that no side always follows the same one (what
/// a heavy phase leaves to the database, dead rows and a checkpoint due, lands on each alike).
pub(crate) fn turns(round: usize, ceilings: usize) -> impl Iterator<Item = Option<usize>> {
    let sides = ceilings + 1;
    (0..sides).map(move |k| match (k + round) % sides {
        0 => None,
        n => Some(n - 1),
    })
}

/// The strongest of the one-transaction-per-delete `ceilings` by `better` (the fastest at 8
/// clients, the lowest median at 1), with its figures.
pub(crate) fn strongest<'a>(
    ceilings: &[Ceiling],
    figures: &'a [Stats],
    better: fn(&Stats, &Stats) -> bool,
) -> anyhow::Result<(Ceiling, &'a Stats)> {
    ceilings
        .iter()
        .zip(figures)
        .filter(|(ceiling, _)| ceiling.one_transaction())
        .fold(
            None::<(Ceiling, &Stats)>,
            |best, (ceiling, stats)| match best {
                Some((_, held)) if !better(stats, held) => best,
                _ => Some((*ceiling, stats)),
            },
        )
        .context("no one-transaction ceiling")
}

pub(crate) fn rate(stats: &Stats) -> String {
    format!(
        "{:.0}/s  p50 {:.2} ms  p99 {:.2} ms  p99.9 {:.2} ms",
        stats.per_second, stats.p50_ms, stats.p99_ms, stats.p999_ms
    )
}
