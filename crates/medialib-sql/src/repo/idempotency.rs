//! Idempotency keys: claimed in a transaction that locks (on servers) the key's row, so that of
//! concurrent claims one inserts or takes the row and the others find it held.

use medialib_domain::{
    IdempotencyKey, IdempotencyKeys, KeyClaim, KeyTerms, RepoError, StoredResponse, TenantId,
};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter,
    QuerySelect, TransactionTrait,
};
use time::OffsetDateTime;

use super::{db_err, finish, retrying, to_millis, SeaOrmMediaRepo};
use crate::entity::idempotency_key as row;

fn held(terms: &KeyTerms) -> row::ActiveModel {
    row::ActiveModel {
        tenant_id: Set(terms.tenant.0),
        fingerprint: Set(None),
        status: Set(None),
        content_type: Set(None),
        body: Set(None),
        held_until: Set(to_millis(terms.held_until)),
        expires_at: Set(to_millis(terms.expires_at)),
        ..Default::default()
    }
}

fn of(tenant: TenantId, key: &IdempotencyKey) -> sea_orm::Condition {
    sea_orm::Condition::all()
        .add(row::Column::TenantId.eq(tenant.0))
        .add(row::Column::IdemKey.eq(key.as_str()))
}

async fn claim(
    repo: &SeaOrmMediaRepo,
    key: &IdempotencyKey,
    terms: KeyTerms,
) -> Result<KeyClaim, RepoError> {
    let txn = repo.writer.begin().await.map_err(db_err)?;
    let result: Result<_, RepoError> = async {
        let mut select = row::Entity::find().filter(of(terms.tenant, key));
        if txn.get_database_backend() != DbBackend::Sqlite {
            select = select.lock_exclusive();
        }
        let now = to_millis(terms.now);
        let Some(found) = select.one(&txn).await.map_err(db_err)? else {
            let mut new = held(&terms);
            new.idem_key = Set(key.as_str().to_owned());
            // A concurrent claim that inserted first makes this a unique violation
            // (`Conflict`): the transaction is rolled back and the key is that request's.
            row::Entity::insert(new)
                .exec_without_returning(&txn)
                .await
                .map_err(db_err)?;
            return Ok(KeyClaim::Fresh);
        };
        if found.expires_at > now {
            if let (Some(fingerprint), Some(status), Some(body)) =
                (found.fingerprint, found.status, found.body)
            {
                return Ok(KeyClaim::Completed {
                    fingerprint,
                    response: StoredResponse {
                        status: u16::try_from(status).unwrap_or(500),
                        content_type: found.content_type,
                        body,
                    },
                });
            }
            if found.held_until > now {
                return Ok(KeyClaim::InFlight);
            }
        }
        // Expired, or held by a request that never finished: this request takes it over.
        row::Entity::update_many()
            .set(held(&terms))
            .filter(of(terms.tenant, key))
            .exec(&txn)
            .await
            .map_err(db_err)?;
        Ok(KeyClaim::Fresh)
    }
    .await;
    match finish(txn, result).await {
        Err(RepoError::Conflict) => Ok(KeyClaim::InFlight),
        other => other,
    }
}

#[async_trait::async_trait]
impl IdempotencyKeys for SeaOrmMediaRepo {
    async fn claim_idempotency_key(
        &self,
        key: &IdempotencyKey,
        terms: KeyTerms,
    ) -> Result<KeyClaim, RepoError> {
        retrying(|| claim(self, key, terms)).await
    }

    async fn complete_idempotency_key(
        &self,
        tenant: TenantId,
        key: &IdempotencyKey,
        fingerprint: &str,
        response: &StoredResponse,
        expires_at: OffsetDateTime,
    ) -> Result<(), RepoError> {
        let updated = row::Entity::update_many()
            .col_expr(row::Column::Fingerprint, Expr::value(fingerprint))
            .col_expr(row::Column::Status, Expr::value(i32::from(response.status)))
            .col_expr(
                row::Column::ContentType,
                Expr::value(response.content_type.clone()),
            )
            .col_expr(row::Column::Body, Expr::value(response.body.clone()))
            .col_expr(row::Column::ExpiresAt, Expr::value(to_millis(expires_at)))
            .filter(of(tenant, key))
            .exec(&self.writer)
            .await
            .map_err(db_err)?;
        if updated.rows_affected == 0 {
            return Err(RepoError::NotFound);
        }
        Ok(())
    }

    async fn release_idempotency_key(
        &self,
        tenant: TenantId,
        key: &IdempotencyKey,
    ) -> Result<(), RepoError> {
        row::Entity::delete_many()
            .filter(of(tenant, key))
            .filter(row::Column::Status.is_null())
            .exec(&self.writer)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn purge_idempotency_keys(&self, now: OffsetDateTime) -> Result<u64, RepoError> {
        Ok(row::Entity::delete_many()
            .filter(row::Column::ExpiresAt.lte(to_millis(now)))
            .exec(&self.writer)
            .await
            .map_err(db_err)?
            .rows_affected)
    }
}
