//! Everything one run measured, and what the report makes of it: the table with each figure's
//! ratio to its ceiling and the targets' verdicts, and the JSON of the figures.

use serde_json::{json, Value};

use crate::ceiling::Ceiling;
use crate::compared::Compared;
use crate::load::Stats;
use crate::phases::Reap;
use crate::report::{rate, row, strongest, Row};
use crate::Args;

/// The figures of a full run.
pub(crate) struct Figures {
    pub(crate) compared: Compared,
    pub(crate) ceilings: Vec<Ceiling>,
    pub(crate) upload: Stats,
    pub(crate) raw1: Stats,
    pub(crate) raw8: Stats,
    pub(crate) blob1: Stats,
    pub(crate) blob8: Stats,
    pub(crate) blob8_split: Value,
    pub(crate) http8: Stats,
    pub(crate) plain8: Stats,
    pub(crate) bulk_rate: f64,
    pub(crate) purge_rate: f64,
    pub(crate) reap: Reap,
    pub(crate) flat_small: Stats,
    pub(crate) flat_again: Stats,
    pub(crate) flat_big: Stats,
    pub(crate) idle_rss: f64,
    /// MiB, upload and download MiB/s, RSS growth in MiB.
    pub(crate) large: Option<(u64, f64, f64, f64)>,
    pub(crate) small_rows: u64,
    pub(crate) big_rows: u64,
    pub(crate) bulk_items: usize,
    pub(crate) reap_items: usize,
    pub(crate) ops: usize,
}

impl Figures {
    /// The report's rows, each with its target's verdict where one applies to this backend.
    pub(crate) fn rows(&self, args: &Args) -> anyhow::Result<Vec<Row>> {
        let Figures {
            compared:
                Compared {
                    delete1,
                    at1,
                    lookup1,
                    delete8,
                    at8,
                    load_rss,
                    ..
                },
            ceilings,
            upload,
            raw1,
            raw8,
            blob8,
            http8,
            plain8,
            bulk_rate,
            purge_rate,
            reap,
            flat_small,
            flat_again,
            flat_big,
            idle_rss,
            large,
            small_rows,
            big_rows,
            ..
        } = self;
        let (bulk_rate, purge_rate, idle_rss, load_rss) =
            (*bulk_rate, *purge_rate, *idle_rss, *load_rss);
        let mut rows = Vec::new();
        let (best8, best8_stats) = strongest(ceilings, at8, |a, b| a.per_second > b.per_second)?;
        let (best1, best1_stats) = strongest(ceilings, at1, |a, b| a.p50_ms < b.p50_ms)?;
        let ratio = |a: f64, b: f64| if b > 0.0 { Some(a / b) } else { None };
        // Which targets apply: each names its backend, or none (every backend).
        let files = args.blobs == "file";
        let sqlite = args.database == "sqlite" && files;
        let postgres_files = args.database == "postgres" && files;
        rows.push(row(
            "DELETE, 1 client",
            rate(delete1),
            format!("raw delete {}", rate(raw1)),
            ratio(delete1.per_second, raw1.per_second),
            "",
        ));
        rows.push(
            row(
                "DELETE p50, 1 client",
                format!("{:.2} ms", delete1.p50_ms),
                format!("{} p50 {:.2} ms", best1.label(), best1_stats.p50_ms),
                ratio(delete1.p50_ms, best1_stats.p50_ms),
                "PostgreSQL: <= 1.3x strongest",
            )
            .judged(postgres_files, |x| x <= 1.3),
        );
        for (ceiling, stats) in ceilings.iter().zip(at1.iter()) {
            rows.push(row(
                "DELETE p50, 1 client, vs",
                format!("{:.2} ms", delete1.p50_ms),
                format!("{} p50 {:.2} ms", ceiling.label(), stats.p50_ms),
                ratio(delete1.p50_ms, stats.p50_ms),
                "",
            ));
        }
        rows.push(row(
            "DELETE 404 p50, 1 client",
            format!("{:.2} ms", lookup1.p50_ms),
            format!("trivial HTTP p50 {:.2} ms", http8.p50_ms),
            None,
            "",
        ));
        rows.push(
            row(
                "DELETE, 8 clients (group commit)",
                rate(delete8),
                format!("{} {:.0}/s", best8.label(), best8_stats.per_second),
                ratio(delete8.per_second, best8_stats.per_second),
                "PostgreSQL, SQLite: >= 1.0x strongest",
            )
            .judged(postgres_files || sqlite, |x| x >= 1.0),
        );
        for (ceiling, stats) in ceilings.iter().zip(at8.iter()) {
            rows.push(row(
                "DELETE, 8 clients, vs",
                format!("{:.0}/s", delete8.per_second),
                format!("{} {:.0}/s", ceiling.label(), stats.per_second),
                ratio(delete8.per_second, stats.per_second),
                "",
            ));
        }
        rows.push(row(
            "DELETE, 8 clients, vs raw delete",
            format!("{:.0}/s", delete8.per_second),
            format!("sqlx + object_store {}", rate(raw8)),
            ratio(delete8.per_second, raw8.per_second),
            "",
        ));
        rows.push(row(
            "DELETE, 8 clients, group commit off",
            rate(plain8),
            format!("{} {:.0}/s", best8.label(), best8_stats.per_second),
            ratio(plain8.per_second, best8_stats.per_second),
            "",
        ));
        rows.push(
            row(
                "DELETE p99 / p50, 8 clients",
                format!("{:.2} / {:.2} ms", delete8.p99_ms, delete8.p50_ms),
                String::new(),
                ratio(delete8.p99_ms, delete8.p50_ms),
                "SQLite: <= 3x",
            )
            .judged(sqlite, |x| x <= 3.0),
        );
        rows.push(
            row(
                "bulk delete to receipt",
                format!("{bulk_rate:.0} items/s"),
                String::new(),
                None,
                "SQLite >= 20000, PostgreSQL >= 10000",
            )
            .judged_on(
                sqlite || postgres_files,
                bulk_rate >= if sqlite { 20_000.0 } else { 10_000.0 },
            ),
        );
        rows.push(row(
            "bulk delete until purged",
            format!("{purge_rate:.0} items/s"),
            format!("raw blob delete {:.0}/s", blob8.per_second),
            ratio(purge_rate, blob8.per_second),
            "",
        ));
        rows.push(
            row(
                "blob purge by the reaper",
                format!("{:.0} keys/s", reap.rate),
                format!("raw blob delete {:.0}/s", blob8.per_second),
                ratio(reap.rate, blob8.per_second),
                ">= 0.8x (S3: >= 1000 keys/s)",
            )
            .judged_on(
                true,
                if files {
                    ratio(reap.rate, blob8.per_second).is_some_and(|x| x >= 0.8)
                } else {
                    reap.rate >= 1000.0
                },
            ),
        );
        rows.push(row(
            "upload 4 KiB, 8 clients",
            rate(upload),
            format!("trivial HTTP {:.0}/s", http8.per_second),
            ratio(upload.per_second, http8.per_second),
            "",
        ));
        for (tail, big, small) in [
            ("p50", flat_big.p50_ms, flat_small.p50_ms),
            ("p99", flat_big.p99_ms, flat_small.p99_ms),
        ] {
            rows.push(
                row(
                    &format!("DELETE {tail} big/small table"),
                    format!("{big:.2} / {small:.2} ms"),
                    format!("{big_rows} vs {small_rows} rows"),
                    ratio(big, small),
                    "<= 1.2x",
                )
                .judged(true, |x| x <= 1.2),
            );
        }
        rows.push(row(
            "DELETE p99, same table twice",
            format!("{:.2} / {:.2} ms", flat_again.p99_ms, flat_small.p99_ms),
            format!("{small_rows} rows, run-to-run noise"),
            ratio(flat_again.p99_ms, flat_small.p99_ms),
            "",
        ));
        rows.push(
            row(
                "RSS idle / peak at 8 clients",
                format!("{idle_rss:.1} / {load_rss:.1} MiB"),
                String::new(),
                None,
                "<= 30 / < 64 MiB",
            )
            .judged_on(true, idle_rss <= 30.0 && load_rss < 64.0),
        );
        if let Some((mib, up, down, growth)) = &large {
            rows.push(
                row(
                    &format!("{mib} MiB upload / download"),
                    format!("{up:.0} / {down:.0} MiB/s, RSS growth {growth:.1} MiB"),
                    String::new(),
                    None,
                    "< 50 MiB growth",
                )
                .judged_on(true, *growth < 50.0),
            );
        }
        Ok(rows)
    }

    /// The figures as JSON, with the judged rows.
    pub(crate) fn json(
        &self,
        judged: &[&Row],
        args: &Args,
        results: &mut serde_json::Map<String, Value>,
    ) -> anyhow::Result<()> {
        let smoke = args.smoke;
        let Figures {
            compared:
                Compared {
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
                    ..
                },
            ceilings,
            upload,
            raw1,
            raw8,
            blob1,
            blob8,
            blob8_split,
            http8,
            plain8,
            bulk_rate,
            purge_rate,
            reap,
            flat_small,
            flat_again,
            flat_big,
            idle_rss,
            large,
            small_rows,
            big_rows,
            bulk_items,
            reap_items,
            ops,
        } = self;
        let (bulk_rate, purge_rate, idle_rss, load_rss) =
            (*bulk_rate, *purge_rate, *idle_rss, *load_rss);
        results.insert(
            "targets".into(),
            Value::Array(
                judged
                    .iter()
                    .map(|r| json!({ "figure": r.what, "ratio": r.ratio, "target": r.target, "met": r.met }))
                    .collect(),
            ),
        );

        for (name, stats) in [
            ("upload_8", &upload),
            ("delete_1", &delete1),
            ("delete_missing_1", &lookup1),
            ("delete_8", &delete8),
            ("delete_8_no_group_commit", &plain8),
            ("raw_blob_1", &blob1),
            ("raw_blob_8", &blob8),
            ("raw_delete_1", &raw1),
            ("raw_delete_8", &raw8),
            ("http_200_8", &http8),
            ("delete_8_small_table", &flat_small),
            ("delete_8_small_table_again", &flat_again),
            ("delete_8_big_table", &flat_big),
        ] {
            results.insert(name.to_owned(), serde_json::to_value(stats)?);
        }
        results.insert(
            "ceilings".into(),
            Value::Array(
                ceilings
                    .iter()
                    .enumerate()
                    .map(|(n, ceiling)| {
                        json!({
                            "label": ceiling.label(), "one_transaction": ceiling.one_transaction(),
                            "at_1": at1[n], "at_8": at8[n], "cpu_busy_8": at8_cpu[n],
                            "cpu_per_delete_8": ceiling.cpu_readable().then(|| &at8_split[n]),
                        })
                    })
                    .collect(),
            ),
        );
        results.insert(
            "bulk".into(),
            json!({
                "items": bulk_items, "to_receipt_per_s": bulk_rate, "until_purged_per_s": purge_rate,
                "reaper_purge_per_s": reap.rate, "reaper_items": reap_items,
                "reaper_purge_with_start_per_s": reap.gross, "reaper_start_ms": reap.startup_ms,
                "reaper_cpu_per_key": reap.split, "raw_blob_8_cpu_per_key": blob8_split,
            }),
        );
        let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
        results.insert(
            "cpu_busy".into(),
            json!({
                "delete_8": delete8_cpu, "cores": cores, "per_delete_8": delete8_split,
            }),
        );
        results.insert(
            "rss_mib".into(),
            json!({ "idle": idle_rss, "peak_delete_8": load_rss }),
        );
        if let Some((mib, up, down, growth)) = large {
            results.insert(
                "large_file".into(),
                json!({ "mib": mib, "upload_mib_s": up, "download_mib_s": down, "rss_growth_mib": growth }),
            );
        }
        results.insert(
            "setup".into(),
            json!({
                "database": args.database, "blobs": args.blobs, "ops": ops, "smoke": smoke,
                "small_rows": small_rows, "big_rows": big_rows,
                "date": time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339)?,
            }),
        );
        Ok(())
    }
}
