//! The reconciler: compares the blob store with the database and repairs what disagrees.
//!
//! - An **orphan blob** is a stored blob that no live row references and that has no pending
//!   deletion or upload intent, older than the grace period (younger ones may belong to an
//!   upload whose intent is being written). `fix` deletes it.
//! - An **incomplete write** is what a store keeps of a write that was interrupted (a local
//!   directory's `name#N` staging file after a crash). `fix` removes those older than the
//!   grace period.
//! - A **dangling row** is a live media row whose blob is missing. `fix` removes it through the
//!   normal delete path (one transaction, cascades, usage, a `media_deleted` event with reason
//!   `blob_missing`).
//!
//! Both scans stream: the listing in batches of [`BATCH`] keys, the rows in id order in batches
//! of [`BATCH`], so memory stays bounded on a store of millions of keys.

use std::time::Duration;

use futures_util::{stream, StreamExt};
use serde::Serialize;

use super::{MediaService, ServiceError};
use crate::model::*;

/// Keys or rows per batch.
pub const BATCH: usize = 500;
/// Examples kept in the report.
const EXAMPLES: usize = 100;
/// Concurrent existence checks.
const CHECKS_IN_FLIGHT: usize = 16;
/// The actor recorded for repairs.
pub const GC_ACTOR: &str = "medialib-gc";

/// What the reconciler should do.
#[derive(Debug, Clone, Copy)]
pub struct GcOptions {
    /// Orphans younger than this are left alone.
    pub grace: Duration,
    /// Repair what it finds (otherwise only report).
    pub fix: bool,
}

/// Progress of a reconciler run, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GcProgress {
    /// This many more blobs were listed.
    Blobs(u64),
    /// This many more rows were checked.
    Rows(u64),
}

/// What a reconciler run found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GcReport {
    /// Blobs listed.
    pub scanned_blobs: u64,
    /// Live rows checked.
    pub scanned_rows: u64,
    /// Orphan blobs found.
    pub orphan_blobs: u64,
    /// Their total size.
    pub orphan_bytes: u64,
    /// Up to 100 of their keys.
    pub orphan_examples: Vec<String>,
    /// Dangling rows found.
    pub dangling_rows: u64,
    /// Up to 100 of their ids.
    pub dangling_examples: Vec<i64>,
    /// Orphan blobs deleted.
    pub deleted_blobs: u64,
    /// Dangling rows removed.
    pub removed_rows: u64,
    /// Leftovers of interrupted writes (local staging files) older than the grace period.
    pub incomplete_writes: u64,
}

impl MediaService {
    /// Runs the reconciler once.
    ///
    /// # Errors
    /// Database or store failures that stop the scan.
    pub async fn reconcile(
        &self,
        options: GcOptions,
        progress: &(dyn Fn(GcProgress) + Send + Sync),
    ) -> Result<GcReport, ServiceError> {
        let mut report = GcReport::default();
        self.find_orphan_blobs(options, progress, &mut report)
            .await?;
        self.find_dangling_rows(options, progress, &mut report)
            .await?;
        report.incomplete_writes = self
            .blobs
            .sweep_incomplete(self.clock.now() - options.grace, options.fix)
            .await
            .map_err(ServiceError::StorageUnavailable)?;
        Ok(report)
    }

    async fn find_orphan_blobs(
        &self,
        options: GcOptions,
        progress: &(dyn Fn(GcProgress) + Send + Sync),
        report: &mut GcReport,
    ) -> Result<(), ServiceError> {
        let cutoff = self.clock.now() - options.grace;
        let mut listing = self.blobs.list().chunks(BATCH);
        while let Some(batch) = listing.next().await {
            let batch: Vec<BlobMeta> = batch
                .into_iter()
                .collect::<Result<_, _>>()
                .map_err(ServiceError::StorageUnavailable)?;
            report.scanned_blobs += batch.len() as u64;
            progress(GcProgress::Blobs(batch.len() as u64));
            let ours: Vec<&BlobMeta> = batch
                .iter()
                .filter(|meta| {
                    let key = meta.key.as_str();
                    key.starts_with("media/") || key.starts_with("community/")
                })
                .collect();
            let keys: Vec<BlobKey> = ours.iter().map(|meta| meta.key.clone()).collect();
            let known: std::collections::HashSet<BlobKey> = self
                .repo
                .known_blob_keys(&keys)
                .await?
                .into_iter()
                .collect();
            let orphans: Vec<&BlobMeta> = ours
                .into_iter()
                .filter(|meta| !known.contains(&meta.key) && meta.last_modified < cutoff)
                .collect();
            for meta in &orphans {
                report.orphan_blobs += 1;
                report.orphan_bytes += meta.size;
                if report.orphan_examples.len() < EXAMPLES {
                    report.orphan_examples.push(meta.key.as_str().to_owned());
                }
            }
            if options.fix && !orphans.is_empty() {
                let keys: Vec<BlobKey> = orphans.iter().map(|meta| meta.key.clone()).collect();
                let deleted = self.blobs.delete_many(&keys).await;
                report.deleted_blobs += deleted.iter().filter(|r| r.is_ok()).count() as u64;
            }
        }
        Ok(())
    }

    async fn find_dangling_rows(
        &self,
        options: GcOptions,
        progress: &(dyn Fn(GcProgress) + Send + Sync),
        report: &mut GcReport,
    ) -> Result<(), ServiceError> {
        let actor = UserId::parse(GC_ACTOR)?;
        let mut after = 0;
        loop {
            let rows = self.repo.scan_media(after, BATCH as u64).await?;
            let Some(last) = rows.last() else { break };
            after = last.id.get();
            report.scanned_rows += rows.len() as u64;
            progress(GcProgress::Rows(rows.len() as u64));
            let checks: Vec<_> = rows
                .iter()
                .map(|m| self.blobs.exists(&m.blob_key))
                .collect();
            let exists: Vec<_> = stream::iter(checks)
                .buffered(CHECKS_IN_FLIGHT)
                .collect()
                .await;
            let mut plans = Vec::new();
            for (media, exists) in rows.into_iter().zip(exists) {
                if exists.map_err(ServiceError::StorageUnavailable)? {
                    continue;
                }
                report.dangling_rows += 1;
                if report.dangling_examples.len() < EXAMPLES {
                    report.dangling_examples.push(media.id.get());
                }
                tracing::warn!(media_id = %media.id, "media row without its blob");
                plans.push(self.service_plan(&actor, media, DeleteReason::BlobMissing));
            }
            if options.fix && !plans.is_empty() {
                let requests = plans.into_iter().map(DeleteRequest::from).collect();
                let results = self.carry_out(requests).await?;
                report.removed_rows += results.iter().filter(|r| r.is_ok()).count() as u64;
            }
        }
        Ok(())
    }
}
