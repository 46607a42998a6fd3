//! Delete by filter: clean-up by rule ("everything tagged `tmp`", "older than 30 days") done by
//! the server, within the caller's tenant and visibility.
//!
//! A dry run counts the matching media and their bytes, pages through their ids, and forecasts
//! the real run: each match judged by the rules of the delete (may the caller delete it, is it
//! held, is it in use without `force`) against the data as it is now. A real run walks the
//! matches newest first in chunks; each chunk is judged and deleted exactly as a bulk delete
//! (one transaction, one purge, per-item refusals), so held media are never deleted and
//! referenced media only with `force`. A filter must name at least one criterion.

use time::OffsetDateTime;

use super::media::{media_query, page_limit, parse_cursor};
use super::{access_of, Access, MediaService};
use crate::error::ServiceError;
use crate::model::*;
use crate::ports::Budget;

/// Matches read per page of a dry run.
const SCAN_PAGE: u64 = 1000;
/// Matches deleted per transaction.
const DELETE_CHUNK: u64 = 500;

/// A delete-by-filter request with raw fields.
#[derive(Debug, Clone, Default)]
pub struct FilterRequest {
    /// Only media with this tag.
    pub tag: Option<String>,
    /// Only media in this folder or below (empty = the root only).
    pub folder: Option<String>,
    /// Only media created strictly before this time.
    pub created_before: Option<OffsetDateTime>,
    /// Only media older than this many days.
    pub older_than_days: Option<u32>,
    /// Only media of this owner.
    pub owner: Option<String>,
    /// Count and list only.
    pub dry_run: bool,
    /// Delete referenced media too.
    pub force: bool,
    /// Page size of the ids of a dry run.
    pub limit: Option<u64>,
    /// The `next_cursor` of the previous dry-run page.
    pub cursor: Option<String>,
}

/// What a delete by filter found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilterReport {
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// Media that matched.
    pub matched: u64,
    /// Their total size.
    pub matched_bytes: i64,
    /// Dry run: one page of the matching ids, newest first.
    pub ids: Vec<MediaId>,
    /// Dry run: the cursor of the next page of ids.
    pub next_cursor: Option<String>,
    /// What was deleted and kept, and why (a dry run: what a real run would do now).
    pub counts: DeleteCounts,
}

impl MediaService {
    /// Counts, or deletes, the media matching a filter.
    ///
    /// # Errors
    /// `empty_filter` without a criterion; invalid tag, folder, owner, limit or cursor; `Repo`
    /// when a chunk's transaction failed (the chunks before it are deleted).
    #[tracing::instrument(skip_all, fields(tenant = %actor.tenant_slug, dry_run = request.dry_run))]
    pub async fn delete_by_filter(
        &self,
        actor: &Actor,
        request: FilterRequest,
    ) -> Result<FilterReport, ServiceError> {
        let page = page_limit(request.limit)?;
        let ids_before = parse_cursor(request.cursor.as_deref())?;
        let dry_run = request.dry_run;
        let (base, force) = self.filter_list(request)?;
        let mut report = FilterReport {
            dry_run,
            ..FilterReport::default()
        };
        let chunk = if dry_run { SCAN_PAGE } else { DELETE_CHUNK };
        let mut query = media_query(actor, base, MediaState::Live)?;
        query.limit = chunk;
        loop {
            let matches = self.repo.list_media(actor.tenant_id, &query).await?;
            let Some(last) = matches.last().map(|m| m.id) else {
                break;
            };
            report.matched += matches.len() as u64;
            report.matched_bytes += matches.iter().map(|m| m.size_bytes).sum::<i64>();
            if dry_run {
                for media in &matches {
                    let after_cursor = ids_before.is_none_or(|before| media.id.get() < before);
                    if after_cursor && (report.ids.len() as u64) < page {
                        report.ids.push(media.id);
                    } else if after_cursor && report.next_cursor.is_none() {
                        report.next_cursor = report.ids.last().map(|id| id.get().to_string());
                    }
                }
                self.forecast(actor, &matches, force, &mut report).await?;
            } else {
                let ids: Vec<i64> = matches.iter().map(|m| m.id.get()).collect();
                self.spend(actor, Budget::Deletes, ids.len()).await?;
                for item in self
                    .delete_ids(actor, &ids, MediaState::Live, force)
                    .await?
                {
                    report.counts.count(item.outcome);
                }
            }
            if (matches.len() as u64) < chunk {
                break;
            }
            query.before_id = Some(last);
        }
        Ok(report)
    }

    /// Adds to a dry run's report what a real run would do with `matches` now: the verdicts of
    /// the delete's rules, in the order the delete applies them.
    async fn forecast(
        &self,
        actor: &Actor,
        matches: &[Media],
        force: bool,
        report: &mut FilterReport,
    ) -> Result<(), ServiceError> {
        let ids: Vec<MediaId> = matches.iter().map(|media| media.id).collect();
        let found = self
            .repo
            .find_media_to_delete(actor.tenant_id, &ids, &actor.user_id, MediaState::Live)
            .await?;
        let blockers = self.repo.delete_blockers(&ids).await?;
        for item in found {
            let access = access_of(actor, &item);
            if access == Access::Hidden {
                continue;
            }
            if access < Access::Delete {
                report.counts.forbidden += 1;
            } else if blockers.held.contains(&item.media.id) {
                report.counts.held += 1;
            } else if !force && blockers.referenced.contains(&item.media.id) {
                report.counts.in_use += 1;
            } else {
                report.counts.deleted += 1;
                report.counts.freed_bytes += item.media.size_bytes;
            }
        }
        Ok(())
    }
}
