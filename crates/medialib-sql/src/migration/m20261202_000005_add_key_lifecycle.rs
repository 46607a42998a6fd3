//! API keys that expire (a rotated key's overlap window ends) and that record when they were
//! last used.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one column at a time.
        for name in ["expires_at", "last_used_at"] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Alias::new("api_keys"))
                        .add_column(ColumnDef::new(Alias::new(name)).big_integer().null())
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in ["expires_at", "last_used_at"] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Alias::new("api_keys"))
                        .drop_column(Alias::new(name))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
