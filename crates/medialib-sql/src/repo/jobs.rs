//! Delete jobs. A claim is a lease (`leased_until`, `lease_token`) taken by a conditional
//! update, so one runner at a time works a job on every backend alike; a save is conditional
//! on the claim.

use medialib_domain::{
    Job, JobCursor, JobKind, JobProgress, JobSpec, JobState, JobUpdate, Jobs, NewJob, RepoError,
    TenantId, UserId,
};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use time::OffsetDateTime;

use super::{corrupt, db_err, from_millis, to_millis, user, SeaOrmMediaRepo};
use crate::entity::job as row;

const UNFINISHED: [&str; 2] = ["queued", "running"];

fn json<T: serde::Serialize>(value: &T) -> Result<String, RepoError> {
    serde_json::to_string(value).map_err(|_| corrupt("job JSON"))
}

fn parse<T: serde::de::DeserializeOwned>(raw: &str, what: &'static str) -> Result<T, RepoError> {
    serde_json::from_str(raw).map_err(|_| corrupt(what))
}

fn to_job(model: row::Model) -> Result<Job, RepoError> {
    Ok(Job {
        id: model.id,
        tenant_id: TenantId(model.tenant_id),
        kind: JobKind::parse(&model.kind).ok_or(corrupt("job kind"))?,
        state: JobState::parse(&model.state).ok_or(corrupt("job state"))?,
        spec: parse::<JobSpec>(&model.spec, "job spec")?,
        cursor: parse::<JobCursor>(&model.job_cursor, "job cursor")?,
        progress: parse::<JobProgress>(&model.progress, "job progress")?,
        cancel_requested: model.cancel_requested,
        error: model.error,
        created_by: user(&model.created_by)?,
        created_at: from_millis(model.created_at)?,
        updated_at: from_millis(model.updated_at)?,
        finished_at: model.finished_at.map(from_millis).transpose()?,
    })
}

fn of(tenant: TenantId, id: i64) -> Condition {
    Condition::all()
        .add(row::Column::TenantId.eq(tenant.0))
        .add(row::Column::Id.eq(id))
}

/// Free for `token`: its own, or nobody's any more.
fn free_for(token: &str, now: i64) -> Condition {
    Condition::any()
        .add(row::Column::LeaseToken.eq(token))
        .add(row::Column::LeasedUntil.lte(now))
}

#[async_trait::async_trait]
impl Jobs for SeaOrmMediaRepo {
    async fn create_job(&self, new: NewJob) -> Result<Job, RepoError> {
        let at = to_millis(new.created_at);
        let model = row::ActiveModel {
            tenant_id: Set(new.tenant_id.0),
            kind: Set(new.kind.as_str().into()),
            state: Set(JobState::Queued.as_str().into()),
            spec: Set(json(&new.spec)?),
            job_cursor: Set(json(&JobCursor::default())?),
            progress: Set(json(&JobProgress::default())?),
            cancel_requested: Set(false),
            error: Set(None),
            created_by: Set(new.created_by.as_str().into()),
            created_at: Set(at),
            updated_at: Set(at),
            finished_at: Set(None),
            leased_until: Set(0),
            lease_token: Set(None),
            ..Default::default()
        }
        .insert(&self.writer)
        .await
        .map_err(db_err)?;
        to_job(model)
    }

    async fn find_job(&self, tenant: TenantId, id: i64) -> Result<Option<Job>, RepoError> {
        row::Entity::find()
            .filter(of(tenant, id))
            .one(&self.writer)
            .await
            .map_err(db_err)?
            .map(to_job)
            .transpose()
    }

    async fn list_jobs(
        &self,
        tenant: TenantId,
        created_by: Option<UserId>,
        before: Option<i64>,
        limit: u64,
    ) -> Result<Vec<Job>, RepoError> {
        let mut select = row::Entity::find().filter(row::Column::TenantId.eq(tenant.0));
        if let Some(user) = created_by {
            select = select.filter(row::Column::CreatedBy.eq(user.as_str()));
        }
        if let Some(before) = before {
            select = select.filter(row::Column::Id.lt(before));
        }
        select
            .order_by_desc(row::Column::Id)
            .limit(limit)
            .all(&self.reader)
            .await
            .map_err(db_err)?
            .into_iter()
            .map(to_job)
            .collect()
    }

    async fn cancel_job(
        &self,
        tenant: TenantId,
        id: i64,
        at: OffsetDateTime,
    ) -> Result<Job, RepoError> {
        let at = to_millis(at);
        row::Entity::update_many()
            .col_expr(row::Column::CancelRequested, Expr::value(true))
            .col_expr(row::Column::UpdatedAt, Expr::value(at))
            .filter(of(tenant, id))
            .filter(row::Column::State.is_in(UNFINISHED))
            .exec(&self.writer)
            .await
            .map_err(db_err)?;
        // Nobody works a queued job: it ends here.
        row::Entity::update_many()
            .col_expr(
                row::Column::State,
                Expr::value(JobState::Cancelled.as_str()),
            )
            .col_expr(row::Column::FinishedAt, Expr::value(Some(at)))
            .filter(of(tenant, id))
            .filter(row::Column::State.eq(JobState::Queued.as_str()))
            .exec(&self.writer)
            .await
            .map_err(db_err)?;
        self.find_job(tenant, id).await?.ok_or(RepoError::NotFound)
    }

    async fn claim_job(
        &self,
        now: OffsetDateTime,
        until: OffsetDateTime,
        token: &str,
        only: Option<i64>,
    ) -> Result<Option<Job>, RepoError> {
        let now = to_millis(now);
        let mut select = row::Entity::find();
        if let Some(id) = only {
            select = select.filter(row::Column::Id.eq(id));
        }
        let candidates = select
            .filter(row::Column::State.is_in(UNFINISHED))
            .filter(free_for(token, now))
            .order_by_asc(row::Column::Id)
            .limit(5)
            .all(&self.writer)
            .await
            .map_err(db_err)?;
        for candidate in candidates {
            let taken = row::Entity::update_many()
                .col_expr(row::Column::LeasedUntil, Expr::value(to_millis(until)))
                .col_expr(row::Column::LeaseToken, Expr::value(token))
                .col_expr(row::Column::State, Expr::value(JobState::Running.as_str()))
                .filter(row::Column::Id.eq(candidate.id))
                .filter(row::Column::State.is_in(UNFINISHED))
                .filter(free_for(token, now))
                .exec(&self.writer)
                .await
                .map_err(db_err)?;
            if taken.rows_affected == 1 {
                let mut job = to_job(candidate)?;
                job.state = JobState::Running;
                return Ok(Some(job));
            }
        }
        Ok(None)
    }

    async fn save_job(
        &self,
        id: i64,
        token: &str,
        update: JobUpdate,
    ) -> Result<Option<bool>, RepoError> {
        let finished = update.state.is_final();
        let at = to_millis(update.at);
        let saved = row::Entity::update_many()
            .col_expr(row::Column::JobCursor, Expr::value(json(&update.cursor)?))
            .col_expr(row::Column::Progress, Expr::value(json(&update.progress)?))
            .col_expr(row::Column::State, Expr::value(update.state.as_str()))
            .col_expr(row::Column::Error, Expr::value(update.error))
            .col_expr(row::Column::UpdatedAt, Expr::value(at))
            .col_expr(row::Column::FinishedAt, Expr::value(finished.then_some(at)))
            .col_expr(
                row::Column::LeasedUntil,
                Expr::value(if finished {
                    0
                } else {
                    to_millis(update.leased_until)
                }),
            )
            .col_expr(
                row::Column::LeaseToken,
                Expr::value((!finished).then(|| token.to_owned())),
            )
            .filter(row::Column::Id.eq(id))
            .filter(row::Column::LeaseToken.eq(token))
            .filter(row::Column::State.is_in(UNFINISHED))
            .exec(&self.writer)
            .await
            .map_err(db_err)?;
        if saved.rows_affected == 0 {
            return Ok(None);
        }
        let cancel = row::Entity::find_by_id(id)
            .select_only()
            .column(row::Column::CancelRequested)
            .into_tuple::<bool>()
            .one(&self.writer)
            .await
            .map_err(db_err)?
            .unwrap_or(false);
        Ok(Some(cancel))
    }
}
