//! The media lifecycle: the trash (a timestamp on the row), tenant settings, trashed usage,
//! legal holds, in-use references and derivatives (thumbnails).
//!
//! A trashed row keeps its path but gives up its place in the unique path index: its
//! `path_hash` becomes `trashed:<id>`, so the owner can reuse the path and a restore finds out
//! from the index whether the path was taken meanwhile.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn big(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name))
        .big_integer()
        .not_null()
        .to_owned()
}

fn text(name: &str, len: u32) -> ColumnDef {
    ColumnDef::new(Alias::new(name))
        .string_len(len)
        .not_null()
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one column at a time.
        let columns = [
            (
                "media",
                ColumnDef::new(Alias::new("trashed_at"))
                    .big_integer()
                    .null()
                    .to_owned(),
            ),
            (
                "media",
                ColumnDef::new(Alias::new("thumbnail"))
                    .string_len(16)
                    .null()
                    .to_owned(),
            ),
            (
                "tenants",
                ColumnDef::new(Alias::new("trash_retention_days"))
                    .integer()
                    .not_null()
                    .default(30)
                    .to_owned(),
            ),
            (
                "tenants",
                ColumnDef::new(Alias::new("delete_moves_to_trash"))
                    .boolean()
                    .not_null()
                    .default(false)
                    .to_owned(),
            ),
            (
                "usage",
                ColumnDef::new(Alias::new("trashed_count"))
                    .big_integer()
                    .not_null()
                    .default(0)
                    .to_owned(),
            ),
            (
                "usage",
                ColumnDef::new(Alias::new("trashed_bytes"))
                    .big_integer()
                    .not_null()
                    .default(0)
                    .to_owned(),
            ),
        ];
        for (table, column) in columns {
            manager
                .alter_table(
                    Table::alter()
                        .table(Alias::new(table))
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }

        let tables = [
            Table::create()
                .table(Alias::new("holds"))
                .col(
                    ColumnDef::new(Alias::new("id"))
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(big("tenant_id"))
                .col(big("media_id"))
                .col(text("reason", 1024))
                .col(text("created_by", 128))
                .col(big("created_at"))
                .to_owned(),
            Table::create()
                .table(Alias::new("media_references"))
                .col(big("media_id"))
                .col(text("ref_name", 255))
                .col(text("created_by", 128))
                .col(big("created_at"))
                .primary_key(
                    Index::create()
                        .col(Alias::new("media_id"))
                        .col(Alias::new("ref_name")),
                )
                .to_owned(),
            Table::create()
                .table(Alias::new("derivatives"))
                .col(
                    ColumnDef::new(Alias::new("id"))
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(big("tenant_id"))
                .col(big("media_id"))
                .col(text("kind", 32))
                .col(text("blob_key", 128))
                .col(text("content_type", 64))
                .col(big("size_bytes"))
                .col(ColumnDef::new(Alias::new("width")).integer().not_null())
                .col(ColumnDef::new(Alias::new("height")).integer().not_null())
                .col(big("created_at"))
                .to_owned(),
        ];
        let mysql = manager.get_database_backend() == sea_orm::DbBackend::MySql;
        for mut stmt in tables {
            if mysql {
                stmt.character_set("utf8mb4").collate("utf8mb4_bin");
            }
            manager.create_table(stmt).await?;
        }

        let indexes = [
            ("holds", "ix_holds_media", vec!["media_id", "id"], false),
            (
                "derivatives",
                "ux_derivatives_kind",
                vec!["media_id", "kind"],
                true,
            ),
            (
                "derivatives",
                "ix_derivatives_blob_key",
                vec!["blob_key"],
                false,
            ),
            ("media", "ix_media_trashed", vec!["trashed_at"], false),
        ];
        for (table, name, columns, unique) in indexes {
            let mut stmt = Index::create();
            stmt.name(name).table(Alias::new(table));
            for column in columns {
                stmt.col(Alias::new(column));
            }
            if unique {
                stmt.unique();
            }
            manager.create_index(stmt.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("ix_media_trashed")
                    .table(Alias::new("media"))
                    .to_owned(),
            )
            .await?;
        for table in ["derivatives", "media_references", "holds"] {
            manager
                .drop_table(Table::drop().table(Alias::new(table)).to_owned())
                .await?;
        }
        for (table, column) in [
            ("usage", "trashed_bytes"),
            ("usage", "trashed_count"),
            ("tenants", "delete_moves_to_trash"),
            ("tenants", "trash_retention_days"),
            ("media", "thumbnail"),
            ("media", "trashed_at"),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Alias::new(table))
                        .drop_column(Alias::new(column))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
