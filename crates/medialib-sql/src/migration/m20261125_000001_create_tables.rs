//! The initial schema: tenants, keys, media and their cascades, usage, activity, pending
//! deletions.
//!
//! Paths are unique per tenant and owner through `path_hash` (hex SHA-256 of the path): a
//! 1024-character path is longer than a MariaDB index key may be. On MariaDB every table uses
//! the binary collation, so text compares case-sensitively on every backend.
//!
//! Ids are auto-increment primary keys (`INTEGER PRIMARY KEY AUTOINCREMENT` on SQLite), so a
//! deleted id is never handed out again, not even the highest one.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn id(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name))
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

fn text(name: &str, len: u32) -> ColumnDef {
    ColumnDef::new(Alias::new(name))
        .string_len(len)
        .not_null()
        .to_owned()
}

fn index(table: &str, name: &str, columns: &[&str], unique: bool) -> IndexCreateStatement {
    let mut stmt = Index::create();
    stmt.name(name).table(Alias::new(table));
    for column in columns {
        stmt.col(Alias::new(*column));
    }
    if unique {
        stmt.unique();
    }
    stmt.to_owned()
}

fn table(name: &str) -> TableCreateStatement {
    Table::create().table(Alias::new(name)).to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let tables = [
            table("tenants")
                .col(id("id"))
                .col(text("slug", 63))
                .col(big("created_at"))
                .to_owned(),
            table("api_keys")
                .col(text("id", 32).primary_key())
                .col(big("tenant_id"))
                .col(text("user_id", 128))
                .col(text("role", 16))
                .col(text("secret_hash", 128))
                .col(big("created_at"))
                .col(
                    ColumnDef::new(Alias::new("revoked_at"))
                        .big_integer()
                        .null(),
                )
                .to_owned(),
            table("media")
                .col(id("id"))
                .col(big("tenant_id"))
                .col(text("owner_id", 128))
                .col(text("path", 1024))
                .col(text("path_hash", 64))
                .col(text("content_type", 255))
                .col(big("size_bytes"))
                .col(text("sha256", 64))
                .col(text("blob_key", 128))
                .col(
                    ColumnDef::new(Alias::new("shared_to_community"))
                        .boolean()
                        .not_null(),
                )
                .col(big("created_at"))
                .to_owned(),
            table("media_tags")
                .col(big("media_id"))
                .col(text("tag", 64))
                .primary_key(
                    Index::create()
                        .col(Alias::new("media_id"))
                        .col(Alias::new("tag")),
                )
                .to_owned(),
            table("community_media")
                .col(id("id"))
                .col(big("tenant_id"))
                .col(big("media_id"))
                .col(text("blob_key", 128))
                .col(big("created_at"))
                .to_owned(),
            table("community_tags")
                .col(big("community_id"))
                .col(text("tag", 64))
                .primary_key(
                    Index::create()
                        .col(Alias::new("community_id"))
                        .col(Alias::new("tag")),
                )
                .to_owned(),
            table("access_grants")
                .col(big("media_id"))
                .col(text("user_id", 128))
                .col(text("permission", 16))
                .col(big("created_at"))
                .primary_key(
                    Index::create()
                        .col(Alias::new("media_id"))
                        .col(Alias::new("user_id")),
                )
                .to_owned(),
            table("activity")
                .col(id("id"))
                .col(big("tenant_id"))
                .col(text("actor_id", 128))
                .col(text("action", 64))
                .col(ColumnDef::new(Alias::new("media_id")).big_integer().null())
                .col(ColumnDef::new(Alias::new("details")).text().not_null())
                .col(big("created_at"))
                .to_owned(),
            table("usage")
                .col(big("tenant_id").primary_key())
                .col(big("media_count"))
                .col(big("bytes_used"))
                .to_owned(),
            table("pending_deletions")
                .col(id("id"))
                .col(text("blob_key", 128))
                .col(ColumnDef::new(Alias::new("attempts")).integer().not_null())
                .col(big("next_attempt_at"))
                .col(
                    ColumnDef::new(Alias::new("last_error"))
                        .string_len(1024)
                        .null(),
                )
                .col(big("created_at"))
                .to_owned(),
        ];
        let mysql = manager.get_database_backend() == sea_orm::DbBackend::MySql;
        for mut stmt in tables {
            if mysql {
                // Binary collation: paths, tags and user ids compare case-sensitively, as on
                // SQLite and PostgreSQL.
                stmt.character_set("utf8mb4").collate("utf8mb4_bin");
            }
            manager.create_table(stmt).await?;
        }
        let indexes = [
            index("tenants", "ux_tenants_slug", &["slug"], true),
            index("api_keys", "ix_api_keys_tenant", &["tenant_id"], false),
            index(
                "media",
                "ux_media_owner_path",
                &["tenant_id", "owner_id", "path_hash"],
                true,
            ),
            index("media", "ix_media_tenant_id", &["tenant_id", "id"], false),
            index(
                "media",
                "ix_media_owner_id",
                &["tenant_id", "owner_id", "id"],
                false,
            ),
            index(
                "media_tags",
                "ix_media_tags_tag",
                &["tag", "media_id"],
                false,
            ),
            index("community_media", "ux_community_media", &["media_id"], true),
            index(
                "community_media",
                "ix_community_tenant",
                &["tenant_id", "id"],
                false,
            ),
            index(
                "access_grants",
                "ix_grants_user",
                &["user_id", "media_id"],
                false,
            ),
            index(
                "activity",
                "ix_activity_tenant",
                &["tenant_id", "id"],
                false,
            ),
            index(
                "activity",
                "ix_activity_actor",
                &["tenant_id", "actor_id", "id"],
                false,
            ),
            index(
                "activity",
                "ix_activity_media",
                &["tenant_id", "media_id", "id"],
                false,
            ),
            index("pending_deletions", "ux_pending_blob", &["blob_key"], true),
            index(
                "pending_deletions",
                "ix_pending_due",
                &["next_attempt_at"],
                false,
            ),
        ];
        for stmt in indexes {
            manager.create_index(stmt).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in [
            "pending_deletions",
            "usage",
            "activity",
            "access_grants",
            "community_tags",
            "community_media",
            "media_tags",
            "media",
            "api_keys",
            "tenants",
        ] {
            manager
                .drop_table(Table::drop().table(Alias::new(name)).to_owned())
                .await?;
        }
        Ok(())
    }
}
