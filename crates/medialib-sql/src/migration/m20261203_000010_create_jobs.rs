//! Delete jobs: what each was asked (`spec`), where it is (`job_cursor`), what it did
//! (`progress`, JSON), and the claim of the runner working it.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mysql = manager.get_database_backend() == sea_orm::DbBackend::MySql;
        let big = |name: &str| {
            ColumnDef::new(Alias::new(name))
                .big_integer()
                .not_null()
                .to_owned()
        };
        let string = |name: &str, len: u32| {
            ColumnDef::new(Alias::new(name))
                .string_len(len)
                .not_null()
                .to_owned()
        };
        // The progress lists up to 1,000 kept media: past MariaDB's 64 KiB TEXT.
        let mut progress = ColumnDef::new(Alias::new("progress"));
        if mysql {
            progress.custom(Alias::new("LONGTEXT"));
        } else {
            progress.text();
        }
        let mut table = Table::create()
            .table(Alias::new("jobs"))
            .col(
                ColumnDef::new(Alias::new("id"))
                    .big_integer()
                    .not_null()
                    .auto_increment()
                    .primary_key(),
            )
            .col(big("tenant_id"))
            .col(string("kind", 32))
            .col(string("state", 16))
            .col(ColumnDef::new(Alias::new("spec")).text().not_null())
            .col(ColumnDef::new(Alias::new("job_cursor")).text().not_null())
            .col(progress.not_null())
            .col(
                ColumnDef::new(Alias::new("cancel_requested"))
                    .boolean()
                    .not_null(),
            )
            .col(ColumnDef::new(Alias::new("error")).text().null())
            .col(string("created_by", 128))
            .col(big("created_at"))
            .col(big("updated_at"))
            .col(
                ColumnDef::new(Alias::new("finished_at"))
                    .big_integer()
                    .null(),
            )
            .col(big("leased_until"))
            .col(
                ColumnDef::new(Alias::new("lease_token"))
                    .string_len(64)
                    .null(),
            )
            .to_owned();
        if mysql {
            table.character_set("utf8mb4").collate("utf8mb4_bin");
        }
        manager.create_table(table).await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_jobs_tenant")
                    .table(Alias::new("jobs"))
                    .col(Alias::new("tenant_id"))
                    .col(Alias::new("id"))
                    .to_owned(),
            )
            .await?;
        // Runners look for unfinished jobs.
        manager
            .create_index(
                Index::create()
                    .name("ix_jobs_state")
                    .table(Alias::new("jobs"))
                    .col(Alias::new("state"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Alias::new("jobs")).to_owned())
            .await
    }
}
