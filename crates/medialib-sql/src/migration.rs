//! Schema migrations, applied in order by [`Migrator`]. Files are named
//! `mYYYYMMDD_NNNNNN_<verb>_<object>.rs`; a migration, once released, is never edited.

use sea_orm_migration::prelude::*;

mod m20261125_000001_create_tables;
mod m20261125_000002_add_pending_leases;
mod m20261125_000003_add_lifecycle;
mod m20261202_000004_add_rate_limits;
mod m20261202_000005_add_key_lifecycle;
mod m20261203_000006_add_media_versions;
mod m20261203_000007_create_idempotency_keys;
mod m20261203_000008_add_change_sequence;
mod m20261203_000009_create_webhooks;
mod m20261203_000010_create_jobs;

/// Every migration of the schema, oldest first.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_create_tables::Migration),
            Box::new(m20261125_000002_add_pending_leases::Migration),
            Box::new(m20261125_000003_add_lifecycle::Migration),
            Box::new(m20261202_000004_add_rate_limits::Migration),
            Box::new(m20261202_000005_add_key_lifecycle::Migration),
            Box::new(m20261203_000006_add_media_versions::Migration),
            Box::new(m20261203_000007_create_idempotency_keys::Migration),
            Box::new(m20261203_000008_add_change_sequence::Migration),
            Box::new(m20261203_000009_create_webhooks::Migration),
            Box::new(m20261203_000010_create_jobs::Migration),
        ]
    }
}
