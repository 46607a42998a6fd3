//! Database errors to [`RepoError`]: what is transient and retried, what is a conflict, what
//! means the database is unavailable.

use super::*;

pub(crate) fn unavailable(err: DbErr) -> RepoError {
    RepoError::Unavailable(Box::new(err))
}

/// A deadlock, serialization failure or lock timeout: the transaction was rolled back and
/// may simply be run again.
#[derive(Debug, thiserror::Error)]
#[error("transaction conflict")]
pub(crate) struct Retryable(#[source] DbErr);

/// SQLSTATEs and codes of transient conflicts: PostgreSQL deadlock and serialization failure,
/// MySQL/MariaDB deadlock (SQLSTATE 40001) and lock wait timeout, SQLite busy/locked.
pub(crate) fn is_transient(err: &DbErr) -> bool {
    let (DbErr::Exec(RuntimeErr::SqlxError(sea_orm::sqlx::Error::Database(db)))
    | DbErr::Query(RuntimeErr::SqlxError(sea_orm::sqlx::Error::Database(db)))) = err
    else {
        return false;
    };
    let code = db.code();
    let code = code.as_deref().unwrap_or_default();
    matches!(
        code,
        "40P01" | "40001" | "1213" | "1205" | "5" | "6" | "517" | "262"
    ) || db.message().contains("Lock wait timeout")
}

/// Runs a write transaction, again (up to five times, with a short growing pause) when the
/// database rolled it back for a transient conflict. Never surfaces a deadlock as a failure
/// unless it persists.
pub(crate) async fn retrying<T, F, Fut>(mut transaction: F) -> Result<T, RepoError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, RepoError>>,
{
    let mut attempt: u32 = 0;
    loop {
        match transaction().await {
            Err(RepoError::Unavailable(source)) if source.is::<Retryable>() && attempt < 5 => {
                attempt += 1;
                tracing::warn!(attempt, "transaction conflict; retrying");
                tokio::time::sleep(Duration::from_millis(5 * u64::from(attempt * attempt))).await;
            }
            other => return other,
        }
    }
}

/// Ends a transaction: commits when its body succeeded, rolls back otherwise, so that no
/// connection goes back to the pool holding an open transaction and its locks.
pub(crate) async fn finish<T>(
    txn: sea_orm::DatabaseTransaction,
    result: Result<T, RepoError>,
) -> Result<T, RepoError> {
    match result {
        Ok(value) => {
            txn.commit().await.map_err(db_err)?;
            Ok(value)
        }
        Err(err) => {
            if let Err(rollback) = txn.rollback().await {
                tracing::warn!(
                    error = &rollback as &dyn std::error::Error,
                    "rollback failed"
                );
            }
            Err(err)
        }
    }
}

/// Translates a SeaORM error at the boundary.
pub(crate) fn db_err(err: DbErr) -> RepoError {
    if let Some(SqlErr::UniqueConstraintViolation(_)) = err.sql_err() {
        return RepoError::Conflict;
    }
    if is_transient(&err) {
        return RepoError::Unavailable(Box::new(Retryable(err)));
    }
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => RepoError::Unavailable(Box::new(err)),
        DbErr::Exec(RuntimeErr::SqlxError(ref inner))
        | DbErr::Query(RuntimeErr::SqlxError(ref inner))
            if matches!(
                inner,
                sea_orm::sqlx::Error::Io(_)
                    | sea_orm::sqlx::Error::PoolTimedOut
                    | sea_orm::sqlx::Error::PoolClosed
            ) =>
        {
            RepoError::Unavailable(Box::new(err))
        }
        other => RepoError::Backend(Box::new(other)),
    }
}
