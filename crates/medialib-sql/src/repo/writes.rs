//! The writes of a transaction issued together: on PostgreSQL as few statements as possible
//! (a `WITH` of data-modifying statements runs them all in one round trip), elsewhere one by
//! one. A delete is bound by its round trips to the database, not by the work of each write.
//!
//! The writes of one batch must not touch the same rows: PostgreSQL runs the statements of a
//! `WITH` against one snapshot, in no defined order.

use sea_orm::sea_query::{
    Alias, CommonTableExpression, DeleteStatement, InsertStatement, PostgresQueryBuilder,
    UpdateStatement, WithClause,
};
use sea_orm::{ConnectionTrait, DbBackend, Statement};

use super::db_err;
use medialib_domain::RepoError;

/// Bound values per combined statement (PostgreSQL takes at most 65,535).
const MAX_VALUES: usize = 30_000;

/// One write.
#[derive(Debug, Clone)]
pub(crate) enum Write {
    Insert(InsertStatement),
    Update(UpdateStatement),
    Delete(DeleteStatement),
}

impl From<InsertStatement> for Write {
    fn from(statement: InsertStatement) -> Self {
        Self::Insert(statement)
    }
}

impl From<UpdateStatement> for Write {
    fn from(statement: UpdateStatement) -> Self {
        Self::Update(statement)
    }
}

impl From<DeleteStatement> for Write {
    fn from(statement: DeleteStatement) -> Self {
        Self::Delete(statement)
    }
}

impl Write {
    fn statement(&self, backend: DbBackend) -> Statement {
        match self {
            Self::Insert(s) => backend.build(s),
            Self::Update(s) => backend.build(s),
            Self::Delete(s) => backend.build(s),
        }
    }

    fn values(&self) -> usize {
        match self {
            Self::Insert(s) => s.build(PostgresQueryBuilder).1 .0.len(),
            Self::Update(s) => s.build(PostgresQueryBuilder).1 .0.len(),
            Self::Delete(s) => s.build(PostgresQueryBuilder).1 .0.len(),
        }
    }

    fn cte(self, name: usize) -> CommonTableExpression {
        let mut cte = CommonTableExpression::new();
        cte.table_name(Alias::new(format!("w{name}")));
        match self {
            Self::Insert(s) => cte.query(s),
            Self::Update(s) => cte.query(s),
            Self::Delete(s) => cte.query(s),
        };
        cte
    }
}

/// Writes collected for one transaction.
#[derive(Debug, Default)]
pub(crate) struct Writes {
    list: Vec<Write>,
}

impl Writes {
    pub(crate) fn push(&mut self, write: impl Into<Write>) {
        self.list.push(write.into());
    }

    pub(crate) fn extend<W: Into<Write>>(&mut self, writes: impl IntoIterator<Item = W>) {
        self.list.extend(writes.into_iter().map(Into::into));
    }

    /// Issues every write, in order where the backend runs them one by one.
    pub(crate) async fn run<C: ConnectionTrait>(self, conn: &C) -> Result<(), RepoError> {
        let backend = conn.get_database_backend();
        if backend != DbBackend::Postgres {
            for write in &self.list {
                conn.execute(write.statement(backend))
                    .await
                    .map_err(db_err)?;
            }
            return Ok(());
        }
        let mut group: Vec<Write> = Vec::new();
        let mut values = 0;
        for write in self.list {
            let n = write.values();
            if !group.is_empty() && values + n > MAX_VALUES {
                execute_together(conn, std::mem::take(&mut group)).await?;
                values = 0;
            }
            values += n;
            group.push(write);
        }
        execute_together(conn, group).await
    }
}

/// One PostgreSQL statement for `group`: the last write, with the others as its `WITH`.
async fn execute_together<C: ConnectionTrait>(
    conn: &C,
    mut group: Vec<Write>,
) -> Result<(), RepoError> {
    let Some(last) = group.pop() else {
        return Ok(());
    };
    let statement = if group.is_empty() {
        last.statement(DbBackend::Postgres)
    } else {
        let mut with = WithClause::new();
        for (n, write) in group.into_iter().enumerate() {
            with.cte(write.cte(n));
        }
        let query = match last {
            Write::Insert(s) => with.query(s),
            Write::Update(s) => with.query(s),
            Write::Delete(s) => with.query(s),
        };
        DbBackend::Postgres.build(&query)
    };
    conn.execute(statement).await.map_err(db_err)?;
    Ok(())
}
