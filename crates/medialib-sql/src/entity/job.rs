//! The `jobs` table.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "jobs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: i64,
    pub kind: String,
    pub state: String,
    /// JSON of `JobSpec`.
    #[sea_orm(column_type = "Text")]
    pub spec: String,
    /// JSON of `JobCursor`.
    #[sea_orm(column_type = "Text")]
    pub job_cursor: String,
    /// JSON of `JobProgress`.
    #[sea_orm(column_type = "Text")]
    pub progress: String,
    pub cancel_requested: bool,
    #[sea_orm(column_type = "Text", nullable)]
    pub error: Option<String>,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub finished_at: Option<i64>,
    /// 0: not claimed.
    pub leased_until: i64,
    pub lease_token: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
