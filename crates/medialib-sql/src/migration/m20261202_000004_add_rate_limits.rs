//! Per-tenant rate limits set by the operator: deletes and uploads per second for the whole
//! tenant. NULL keeps the server's default.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one column at a time.
        for name in ["delete_rate_limit", "upload_rate_limit"] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Alias::new("tenants"))
                        .add_column(ColumnDef::new(Alias::new(name)).big_integer().null())
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in ["delete_rate_limit", "upload_rate_limit"] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Alias::new("tenants"))
                        .drop_column(Alias::new(name))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
