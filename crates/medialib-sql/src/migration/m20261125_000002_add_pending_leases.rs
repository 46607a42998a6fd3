//! Pending deletions learn their tenant, a status (`pending`, `failed`, `upload`) and a lease,
//! for the reaper and the admin endpoints; blob keys get indexes for the reconciler.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const TABLE: &str = "pending_deletions";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one column at a time.
        let columns = [
            ColumnDef::new(Alias::new("tenant_id"))
                .big_integer()
                .null()
                .to_owned(),
            ColumnDef::new(Alias::new("status"))
                .string_len(16)
                .not_null()
                .default("pending")
                .to_owned(),
            ColumnDef::new(Alias::new("lease_until"))
                .big_integer()
                .null()
                .to_owned(),
        ];
        for column in columns {
            manager
                .alter_table(
                    Table::alter()
                        .table(Alias::new(TABLE))
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        let indexes = [
            (
                "pending_deletions",
                "ix_pending_status_due",
                vec!["status", "next_attempt_at"],
            ),
            (
                "pending_deletions",
                "ix_pending_tenant",
                vec!["tenant_id", "id"],
            ),
            ("media", "ix_media_blob_key", vec!["blob_key"]),
            ("community_media", "ix_community_blob_key", vec!["blob_key"]),
        ];
        for (table, name, columns) in indexes {
            let mut stmt = Index::create();
            stmt.name(name).table(Alias::new(table));
            for column in columns {
                stmt.col(Alias::new(column));
            }
            manager.create_index(stmt.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, name) in [
            ("community_media", "ix_community_blob_key"),
            ("media", "ix_media_blob_key"),
            ("pending_deletions", "ix_pending_tenant"),
            ("pending_deletions", "ix_pending_status_due"),
        ] {
            manager
                .drop_index(Index::drop().name(name).table(Alias::new(table)).to_owned())
                .await?;
        }
        for column in ["lease_until", "status", "tenant_id"] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Alias::new(TABLE))
                        .drop_column(Alias::new(column))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
