//! Idempotency keys: one row per tenant and key, held while its request runs and kept with the
//! answer for replays until it expires.

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
        // A replayed answer may be a bulk receipt of a thousand items: MariaDB's TEXT holds
        // 64 KiB, its LONGTEXT 4 GiB.
        let mut body = ColumnDef::new(Alias::new("body"));
        if mysql {
            body.custom(Alias::new("LONGTEXT"));
        } else {
            body.text();
        }
        let mut table = Table::create()
            .table(Alias::new("idempotency_keys"))
            .col(big("tenant_id"))
            .col(
                ColumnDef::new(Alias::new("idem_key"))
                    .string_len(255)
                    .not_null(),
            )
            .col(
                ColumnDef::new(Alias::new("fingerprint"))
                    .string_len(64)
                    .null(),
            )
            .col(ColumnDef::new(Alias::new("status")).integer().null())
            .col(
                ColumnDef::new(Alias::new("content_type"))
                    .string_len(255)
                    .null(),
            )
            .col(body.null())
            .col(big("held_until"))
            .col(big("expires_at"))
            .primary_key(
                Index::create()
                    .col(Alias::new("tenant_id"))
                    .col(Alias::new("idem_key")),
            )
            .to_owned();
        if mysql {
            table.character_set("utf8mb4").collate("utf8mb4_bin");
        }
        manager.create_table(table).await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_idempotency_keys_expires")
                    .table(Alias::new("idempotency_keys"))
                    .col(Alias::new("expires_at"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(Alias::new("idempotency_keys"))
                    .to_owned(),
            )
            .await
    }
}
