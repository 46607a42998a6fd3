//! Webhooks: the tenants' endpoints (with the feed number each has been fanned out to), the
//! deliveries of events to them, and every attempt at a delivery.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn id() -> ColumnDef {
    ColumnDef::new(Alias::new("id"))
        .big_integer()
        .not_null()
        .auto_increment()
        .primary_key()
        .to_owned()
}

fn big(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name))
        .big_integer()
        .not_null()
        .to_owned()
}

fn text(name: &str, mysql_long: bool, mysql: bool) -> ColumnDef {
    let mut column = ColumnDef::new(Alias::new(name));
    // MariaDB's TEXT holds 64 KiB; an event's details may name many tags.
    if mysql && mysql_long {
        column.custom(Alias::new("LONGTEXT"));
    } else {
        column.text();
    }
    column
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mysql = manager.get_database_backend() == sea_orm::DbBackend::MySql;
        let utf8 = |table: &mut TableCreateStatement| {
            if mysql {
                table.character_set("utf8mb4").collate("utf8mb4_bin");
            }
        };
        let mut webhooks = Table::create()
            .table(Alias::new("webhooks"))
            .col(id())
            .col(big("tenant_id"))
            .col(text("url", false, mysql).not_null())
            .col(
                ColumnDef::new(Alias::new("secret"))
                    .string_len(128)
                    .not_null(),
            )
            .col(text("event_types", false, mysql).not_null())
            .col(text("description", false, mysql).not_null())
            .col(ColumnDef::new(Alias::new("enabled")).boolean().not_null())
            .col(big("created_at"))
            .col(big("feed_cursor"))
            .to_owned();
        utf8(&mut webhooks);
        manager.create_table(webhooks).await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_webhooks_tenant")
                    .table(Alias::new("webhooks"))
                    .col(Alias::new("tenant_id"))
                    .to_owned(),
            )
            .await?;

        let mut deliveries = Table::create()
            .table(Alias::new("webhook_deliveries"))
            .col(id())
            .col(big("webhook_id"))
            .col(big("tenant_id"))
            .col(big("seq"))
            .col(
                ColumnDef::new(Alias::new("event_type"))
                    .string_len(64)
                    .not_null(),
            )
            .col(big("media_id"))
            .col(text("payload", true, mysql).not_null())
            .col(
                ColumnDef::new(Alias::new("status"))
                    .string_len(16)
                    .not_null(),
            )
            .col(ColumnDef::new(Alias::new("attempts")).integer().not_null())
            .col(big("next_attempt_at"))
            .col(big("leased_until"))
            .col(
                ColumnDef::new(Alias::new("lease_token"))
                    .string_len(64)
                    .null(),
            )
            .col(ColumnDef::new(Alias::new("last_status")).integer().null())
            .col(text("last_error", false, mysql).null())
            .col(big("created_at"))
            .col(
                ColumnDef::new(Alias::new("delivered_at"))
                    .big_integer()
                    .null(),
            )
            .to_owned();
        utf8(&mut deliveries);
        manager.create_table(deliveries).await?;
        // The claim's scan of due deliveries.
        manager
            .create_index(
                Index::create()
                    .name("ix_webhook_deliveries_due")
                    .table(Alias::new("webhook_deliveries"))
                    .col(Alias::new("status"))
                    .col(Alias::new("next_attempt_at"))
                    .to_owned(),
            )
            .await?;
        // The claim's check for an earlier pending delivery of the same media.
        manager
            .create_index(
                Index::create()
                    .name("ix_webhook_deliveries_media")
                    .table(Alias::new("webhook_deliveries"))
                    .col(Alias::new("webhook_id"))
                    .col(Alias::new("media_id"))
                    .col(Alias::new("seq"))
                    .to_owned(),
            )
            .await?;

        let mut attempts = Table::create()
            .table(Alias::new("webhook_attempts"))
            .col(id())
            .col(big("delivery_id"))
            .col(big("at"))
            .col(ColumnDef::new(Alias::new("status")).integer().null())
            .col(text("error", false, mysql).null())
            .col(big("duration_ms"))
            .to_owned();
        utf8(&mut attempts);
        manager.create_table(attempts).await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_webhook_attempts_delivery")
                    .table(Alias::new("webhook_attempts"))
                    .col(Alias::new("delivery_id"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["webhook_attempts", "webhook_deliveries", "webhooks"] {
            manager
                .drop_table(Table::drop().table(Alias::new(table)).to_owned())
                .await?;
        }
        Ok(())
    }
}
