//! Delete jobs: a delete by filter, the emptying of a trash or a user's erasure, run in the
//! background one chunk at a time.
//!
//! A runner ([`MediaService::run_job_chunk`]) claims the oldest unfinished job for a lease,
//! works one chunk of it — the next matches of its walk, judged and deleted exactly as a bulk
//! delete (one transaction, holds and references respected) — and saves the counts and the
//! cursor under its claim, renewing the lease. A runner that dies lets the job go when the
//! lease ends; the next one resumes from the saved cursor (a chunk deleted but not saved is
//! not found again, so it is not counted in `deleted`). A cancel request is honoured between
//! chunks; what was deleted stays deleted.

use time::Duration;

use super::filter::FilterRequest;
use super::media::{media_query, next_cursor, page_limit, parse_cursor, ListRequest, Page};
use super::{MediaService, ServiceError};
use crate::error::RepoError;
use crate::model::*;
use crate::ports::Budget;

/// Matches read per page when a job counts them.
const COUNT_PAGE: u64 = 1000;

fn job_not_found(err: RepoError) -> ServiceError {
    match err {
        RepoError::NotFound => ServiceError::NotFound("job"),
        other => other.into(),
    }
}

fn spec(actor: &Actor, steps: Vec<JobStep>, erased_user: Option<String>) -> JobSpec {
    JobSpec {
        tenant: actor.tenant_slug.as_str().to_owned(),
        user: actor.user_id.as_str().to_owned(),
        role: actor.role.as_str().to_owned(),
        steps,
        erased_user,
    }
}

/// Whether `actor` may see and cancel `job`: the tenant's admins, and whoever started it.
fn may_see(actor: &Actor, job: &Job) -> bool {
    job.tenant_id == actor.tenant_id && (actor.is_admin() || job.created_by == actor.user_id)
}

impl MediaService {
    async fn queue(
        &self,
        actor: &Actor,
        kind: JobKind,
        spec: JobSpec,
    ) -> Result<Job, ServiceError> {
        // Every step's query must be one the caller could list.
        for step in &spec.steps {
            self.step_query(actor, step, None, 1)?;
        }
        let job = NewJob {
            tenant_id: actor.tenant_id,
            kind,
            spec,
            created_by: actor.user_id.clone(),
            created_at: self.clock.now(),
        };
        Ok(self.repo.create_job(job).await?)
    }

    /// Starts a job that deletes the live media matching `request` (its `dry_run`, `limit`
    /// and `cursor` are ignored), with the caller's visibility and permissions.
    ///
    /// # Errors
    /// As [`MediaService::delete_by_filter`]'s validation; `Repo`.
    pub async fn start_delete_job(
        &self,
        actor: &Actor,
        request: FilterRequest,
    ) -> Result<Job, ServiceError> {
        let (list, force) = self.filter_list(request)?;
        let step = JobStep {
            tag: list.tags.into_iter().next(),
            folder: list.folder,
            created_before: list.created_before,
            owner: list.owner,
            trashed: false,
            force,
        };
        self.queue(
            actor,
            JobKind::DeleteByFilter,
            spec(actor, vec![step], None),
        )
        .await
    }

    /// Starts a job that purges every trashed item the caller may delete; held items stay.
    ///
    /// # Errors
    /// `Repo`.
    pub async fn start_empty_trash_job(&self, actor: &Actor) -> Result<Job, ServiceError> {
        let step = JobStep {
            trashed: true,
            force: true,
            ..JobStep::default()
        };
        self.queue(actor, JobKind::EmptyTrash, spec(actor, vec![step], None))
            .await
    }

    /// Starts the erasure of everything `user` owns in the caller's tenant (admins only):
    /// live and trashed media with their tags, grants, references, community copies and
    /// blobs, then the grants the user holds on others' media. Held media are kept and
    /// listed with their holds.
    ///
    /// # Errors
    /// `Forbidden` for non-admins; `invalid_user_id`; `Repo`.
    pub async fn start_erasure(&self, actor: &Actor, user: &str) -> Result<Job, ServiceError> {
        if !actor.is_admin() {
            return Err(ServiceError::Forbidden);
        }
        let user = UserId::parse(user)?;
        let walk = |trashed| JobStep {
            owner: Some(user.as_str().to_owned()),
            trashed,
            force: true,
            ..JobStep::default()
        };
        let spec = spec(
            actor,
            vec![walk(false), walk(true)],
            Some(user.as_str().to_owned()),
        );
        self.queue(actor, JobKind::EraseUser, spec).await
    }

    /// A job the caller may see (the tenant's admins: all; others: the ones they started).
    ///
    /// # Errors
    /// `NotFound("job")`; `Repo`.
    pub async fn get_job(&self, actor: &Actor, id: i64) -> Result<Job, ServiceError> {
        self.repo
            .find_job(actor.tenant_id, id)
            .await?
            .filter(|job| may_see(actor, job))
            .ok_or(ServiceError::NotFound("job"))
    }

    /// The jobs the caller may see, newest first.
    ///
    /// # Errors
    /// `invalid_limit`, `invalid_cursor`; `Repo`.
    pub async fn list_jobs(
        &self,
        actor: &Actor,
        limit: Option<u64>,
        cursor: Option<&str>,
    ) -> Result<Page<Job>, ServiceError> {
        let limit = page_limit(limit)?;
        let before = parse_cursor(cursor)?;
        let created_by = (!actor.is_admin()).then(|| actor.user_id.clone());
        let items = self
            .repo
            .list_jobs(actor.tenant_id, created_by, before, limit)
            .await?;
        let next_cursor = next_cursor(&items, limit, |job| job.id);
        Ok(Page { items, next_cursor })
    }

    /// Asks a job to stop (its admins, or whoever started it): a queued job is cancelled at
    /// once, a running one after its chunk in hand.
    ///
    /// # Errors
    /// `NotFound("job")`; `job_finished` (409) for a job that ended; `Repo`.
    pub async fn cancel_job(&self, actor: &Actor, id: i64) -> Result<Job, ServiceError> {
        let job = self.get_job(actor, id).await?;
        if job.state.is_final() {
            return Err(ServiceError::Conflict {
                code: "job_finished",
                message: format!("the job already ended ({})", job.state.as_str()),
            });
        }
        self.repo
            .cancel_job(actor.tenant_id, id, self.clock.now())
            .await
            .map_err(job_not_found)
    }

    /// One chunk of the oldest unfinished job (claimed by `token`, a runner's own): returns the
    /// job as saved after it, or `None` when no job is waiting.
    ///
    /// # Errors
    /// `Repo`: the chunk is worked again once the claim ends (by this runner's next call, or
    /// by another runner).
    pub async fn run_job_chunk(&self, token: &str) -> Result<Option<Job>, ServiceError> {
        self.job_chunk(token, None).await
    }

    async fn job_chunk(&self, token: &str, only: Option<i64>) -> Result<Option<Job>, ServiceError> {
        let now = self.clock.now();
        let Some(mut job) = self
            .repo
            .claim_job(now, now + self.config.job_lease, token, only)
            .await?
        else {
            return Ok(None);
        };
        let actor = match self
            .act_as(&job.spec.tenant, &job.spec.user, &job.spec.role)
            .await
        {
            Ok(actor) => actor,
            Err(ServiceError::Repo(err)) => return Err(err.into()),
            Err(err) => {
                job.state = JobState::Failed;
                job.error = Some(err.to_string());
                return self.save(job, token).await;
            }
        };
        if job.cancel_requested {
            job.state = JobState::Cancelled;
            return self.save(job, token).await;
        }
        if job.progress.total.is_none() {
            job.progress.total = Some(self.count_matches(&actor, &job.spec.steps).await?);
            return self.save(job, token).await;
        }
        let Some(step) = job.spec.steps.get(job.cursor.step).cloned() else {
            // Every walk is done; an erasure then revokes the user's grants, a chunk a turn.
            if self.revoke_erased_grants(&actor, &mut job).await? == 0 {
                job.state = JobState::Succeeded;
            }
            return self.save(job, token).await;
        };
        let chunk = self.config.job_chunk.max(1);
        let query = self.step_query(&actor, &step, job.cursor.before_id, chunk)?;
        let matches = self.repo.list_media(actor.tenant_id, &query).await?;
        if let Some(last) = matches.last() {
            let ids: Vec<i64> = matches.iter().map(|m| m.id.get()).collect();
            match self.spend(&actor, Budget::Deletes, ids.len()).await {
                Ok(()) => {}
                Err(ServiceError::RateLimited(_)) => {
                    // The tenant's budget is spent: let the job go and come back later.
                    return self.save_with_lease(job, token, now).await;
                }
                Err(err) => return Err(err),
            }
            let state = if step.trashed {
                MediaState::Trashed
            } else {
                MediaState::Live
            };
            let items = self.delete_ids(&actor, &ids, state, step.force).await?;
            super::telemetry::job_chunk(job.kind);
            tally(&mut job.progress, items);
            job.cursor.before_id = Some(last.id.get());
        }
        if (matches.len() as u64) < chunk {
            job.cursor = JobCursor {
                step: job.cursor.step + 1,
                before_id: None,
            };
        }
        self.save(job, token).await
    }

    /// An erasure's last part: revokes up to a chunk of the grants the erased user holds on
    /// others' media (each with its `access_revoked` event); returns how many it found.
    async fn revoke_erased_grants(
        &self,
        actor: &Actor,
        job: &mut Job,
    ) -> Result<u64, ServiceError> {
        let Some(user) = job.spec.erased_user.as_deref() else {
            return Ok(0);
        };
        let user = UserId::parse(user)?;
        let granted = self
            .repo
            .granted_media(actor.tenant_id, &user, self.config.job_chunk.max(1))
            .await?;
        for id in &granted {
            let event = self.event(
                actor,
                "access_revoked",
                Some(*id),
                serde_json::json!({ "user_id": user.as_str(), "reason": "erasure" }),
            );
            match self.repo.delete_grant(*id, &user, event).await {
                Ok(()) => job.progress.grants_revoked += 1,
                // Revoked meanwhile.
                Err(RepoError::NotFound) => {}
                Err(err) => return Err(err.into()),
            }
        }
        Ok(granted.len() as u64)
    }

    /// Runs job `id` chunk after chunk until it ends (`medialib erase-user`'s offline run);
    /// returns it as it ended, or `None` when another runner holds it.
    ///
    /// # Errors
    /// As [`MediaService::run_job_chunk`].
    pub async fn run_job(
        &self,
        id: i64,
        mut progress: impl FnMut(&Job),
    ) -> Result<Option<Job>, ServiceError> {
        let token = uuid::Uuid::new_v4().simple().to_string();
        while let Some(job) = self.job_chunk(&token, Some(id)).await? {
            progress(&job);
            if job.state.is_final() {
                return Ok(Some(job));
            }
        }
        Ok(None)
    }

    async fn save(&self, job: Job, token: &str) -> Result<Option<Job>, ServiceError> {
        let until = self.clock.now() + self.config.job_lease;
        self.save_with_lease(job, token, until).await
    }

    async fn save_with_lease(
        &self,
        mut job: Job,
        token: &str,
        leased_until: time::OffsetDateTime,
    ) -> Result<Option<Job>, ServiceError> {
        let at = self.clock.now();
        let update = JobUpdate {
            cursor: job.cursor,
            progress: job.progress.clone(),
            state: job.state,
            error: job.error.clone(),
            at,
            leased_until,
        };
        let Some(cancel) = self.repo.save_job(job.id, token, update).await? else {
            // Another runner took it over: its own save is what counts.
            return Ok(self.repo.find_job(job.tenant_id, job.id).await?);
        };
        job.updated_at = at;
        // A cancel request seen here ends the job at the runner's next chunk, which claims
        // it again first.
        job.cancel_requested |= cancel;
        if job.state.is_final() {
            job.finished_at = Some(at);
        }
        Ok(Some(job))
    }

    /// The media query of a job's step, after `before_id`.
    fn step_query(
        &self,
        actor: &Actor,
        step: &JobStep,
        before_id: Option<i64>,
        limit: u64,
    ) -> Result<MediaQuery, ServiceError> {
        let list = ListRequest {
            limit: None,
            cursor: None,
            tags: step.tag.iter().cloned().collect(),
            folder: step.folder.clone(),
            created_before: step.created_before,
            owner: step.owner.clone(),
        };
        let state = if step.trashed {
            MediaState::Trashed
        } else {
            MediaState::Live
        };
        let mut query = media_query(actor, list, state)?;
        query.limit = limit;
        query.before_id = before_id.map(MediaId::try_from).transpose()?;
        Ok(query)
    }

    /// How many media the steps match now.
    async fn count_matches(&self, actor: &Actor, steps: &[JobStep]) -> Result<u64, ServiceError> {
        let mut total = 0;
        for step in steps {
            let mut before = None;
            loop {
                let query = self.step_query(actor, step, before, COUNT_PAGE)?;
                let page = self.repo.list_media(actor.tenant_id, &query).await?;
                total += page.len() as u64;
                match page.last() {
                    Some(last) if page.len() as u64 == COUNT_PAGE => before = Some(last.id.get()),
                    _ => break,
                }
            }
        }
        Ok(total)
    }

    /// A filter's listing (age turned into a time) and `force`, validated.
    pub(crate) fn filter_list(
        &self,
        request: FilterRequest,
    ) -> Result<(ListRequest, bool), ServiceError> {
        if request.tag.is_none()
            && request.folder.is_none()
            && request.created_before.is_none()
            && request.older_than_days.is_none()
            && request.owner.is_none()
        {
            return Err(ServiceError::Invalid {
                code: "empty_filter",
                message: "name at least one of tag, folder, created_before, older_than_days, owner"
                    .into(),
            });
        }
        let age_cutoff = request
            .older_than_days
            .map(|days| self.clock.now() - Duration::days(i64::from(days)));
        let created_before = match (request.created_before, age_cutoff) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let list = ListRequest {
            limit: None,
            cursor: None,
            tags: request.tag.into_iter().collect(),
            folder: request.folder,
            created_before,
            owner: request.owner,
        };
        Ok((list, request.force))
    }
}

/// Adds a chunk's outcomes to a job's progress.
fn tally(progress: &mut JobProgress, items: Vec<BulkItem>) {
    for item in items {
        progress.processed += 1;
        let kept = progress.counts.count(item.outcome);
        if let (Some((reason, holds)), Ok(id)) = (kept, MediaId::try_from(item.id)) {
            if progress.kept.len() < MAX_KEPT_LISTED {
                progress.kept.push(KeptMedia::new(id, reason, holds));
            }
        }
    }
}
