//! The changes feed: every change of media a caller may see, after a cursor, in commit order,
//! deletes as tombstones.

use std::collections::{HashMap, HashSet};

use super::media::page_limit;
use super::{access_of, Access, MediaService};
use crate::error::ServiceError;
use crate::model::*;

/// Events numbered per sequencing round.
const SEQUENCE_BATCH: u64 = 1000;

impl MediaService {
    /// The changes after `cursor` (as `next_cursor` answered it) that `actor` may see, oldest
    /// first; without a cursor, none and the cursor of now: a client lists the media it wants
    /// first, then follows the feed from that cursor.
    ///
    /// Admins and viewers see every change of the tenant; members see the changes of media
    /// they own or were granted, and the tombstones of media they owned.
    ///
    /// # Errors
    /// `invalid_cursor`, `invalid_limit`; `CursorExpired` when the changes right after the
    /// cursor are older than the feed keeps them (the client must list again and follow from
    /// a new cursor); `Repo`.
    #[tracing::instrument(skip_all, fields(tenant = %actor.tenant_slug))]
    pub async fn list_changes(
        &self,
        actor: &Actor,
        cursor: Option<&str>,
        limit: Option<u64>,
    ) -> Result<ChangesPage, ServiceError> {
        let limit = page_limit(limit)?;
        let after = match cursor {
            None => None,
            Some(raw) => Some(raw.parse::<i64>().ok().filter(|seq| *seq >= 0).ok_or_else(
                || ServiceError::Invalid {
                    code: "invalid_cursor",
                    message: "cursor is not one this API returned".into(),
                },
            )?),
        };
        self.sequence_committed().await?;
        let Some(after) = after else {
            return Ok(ChangesPage {
                changes: Vec::new(),
                next_cursor: self.repo.last_change().await?,
            });
        };
        let rows = self
            .repo
            .list_changes(actor.tenant_id, &ChangeKind::ACTIONS, after, limit)
            .await?;
        let kept_since = self.clock.now() - self.config.changes_retention;
        if rows
            .first()
            .is_some_and(|row| row.activity.created_at < kept_since)
        {
            return Err(ServiceError::CursorExpired);
        }
        let next_cursor = rows.last().map_or(after, |row| row.seq);
        let visible = self.visible_media(actor, &rows).await?;
        let changes = rows
            .into_iter()
            .filter_map(|row| change(row, &visible))
            .collect();
        Ok(ChangesPage {
            changes,
            next_cursor,
        })
    }

    /// Numbers every event committed since the last round; several callers take turns.
    pub(crate) async fn sequence_committed(&self) -> Result<(), ServiceError> {
        while self.repo.sequence_changes(SEQUENCE_BATCH).await? == SEQUENCE_BATCH {}
        Ok(())
    }

    /// Of the media the changes name, the ones `actor` may see (`None`: all of them).
    async fn visible_media(
        &self,
        actor: &Actor,
        rows: &[SequencedActivity],
    ) -> Result<Option<HashSet<MediaId>>, ServiceError> {
        if actor.role != Role::Member {
            return Ok(None);
        }
        let mut ids: Vec<MediaId> = rows
            .iter()
            .filter_map(|row| row.activity.media_id)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let mut visible = HashSet::new();
        let mut present = HashSet::new();
        let live = self
            .repo
            .find_media_access(actor.tenant_id, &ids, &actor.user_id)
            .await?;
        let trashed = self
            .repo
            .find_trashed_media(actor.tenant_id, &ids, &actor.user_id)
            .await?;
        for item in live.iter().chain(&trashed) {
            present.insert(item.media.id);
            if access_of(actor, item) != Access::Hidden {
                visible.insert(item.media.id);
            }
        }
        // Media that is gone: its owner's, as its tombstone (or its upload) recorded.
        let mut owners: HashMap<MediaId, &str> = HashMap::new();
        for row in rows {
            let event = &row.activity;
            let Some(id) = event.media_id.filter(|id| !present.contains(id)) else {
                continue;
            };
            let owner = match event.action.as_str() {
                "media_deleted" | "media_purged" => event.details["media"]["owner_id"].as_str(),
                "media_uploaded" => Some(event.actor_id.as_str()),
                _ => None,
            };
            if let Some(owner) = owner {
                owners.insert(id, owner);
            }
        }
        visible.extend(
            owners
                .into_iter()
                .filter(|(_, owner)| *owner == actor.user_id.as_str())
                .map(|(id, _)| id),
        );
        Ok(Some(visible))
    }
}

/// The change an event records, if its media is visible.
fn change(row: SequencedActivity, visible: &Option<HashSet<MediaId>>) -> Option<Change> {
    let event = row.activity;
    let kind = ChangeKind::of_action(&event.action)?;
    let media_id = event.media_id?;
    if visible.as_ref().is_some_and(|ids| !ids.contains(&media_id)) {
        return None;
    }
    let tombstone = kind == ChangeKind::Deleted;
    let text = |value: &serde_json::Value| value.as_str().map(str::to_owned);
    Some(Change {
        seq: row.seq,
        kind,
        media_id,
        at: event.created_at,
        owner_id: tombstone
            .then(|| event.details["media"]["owner_id"].as_str())
            .flatten()
            .and_then(|owner| UserId::parse(owner).ok()),
        path: tombstone
            .then(|| text(&event.details["media"]["path"]))
            .flatten(),
        reason: tombstone.then(|| text(&event.details["reason"])).flatten(),
    })
}
