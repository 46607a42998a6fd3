//! The changes feed's order: activity events get a sequence number once committed (`seq`,
//! null until then), given by one sequencer at a time, which `change_sequence` (one row, the
//! last number given) serializes.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("activity"))
                    .add_column(ColumnDef::new(Alias::new("seq")).big_integer().null())
                    .to_owned(),
            )
            .await?;
        // Finds the events still to number (null first) and a tenant's page after a cursor.
        manager
            .create_index(
                Index::create()
                    .name("ix_activity_seq")
                    .table(Alias::new("activity"))
                    .col(Alias::new("seq"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("change_sequence"))
                    .col(
                        ColumnDef::new(Alias::new("id"))
                            .integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(Alias::new("last_seq"))
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(Alias::new("change_sequence"))
                    .columns([Alias::new("id"), Alias::new("last_seq")])
                    .values_panic([1.into(), 0i64.into()])
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(Alias::new("change_sequence"))
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("ix_activity_seq")
                    .table(Alias::new("activity"))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("activity"))
                    .drop_column(Alias::new("seq"))
                    .to_owned(),
            )
            .await
    }
}
