//! Contract suites of the ports (feature `contract`): public async functions, each checking one
//! `MUST` of a port's documentation over `&dyn Port`, so that every adapter — the ones in this
//! workspace on every backend, the in-memory reference repository, and an embedding service's
//! own — runs the same checks. Each function panics with what broke; [`blob::all`] runs the
//! blob store's suite and [`repository`] lists the repository's.

use std::future::Future;
use std::pin::Pin;

use crate::ports::MediaRepo;

pub mod access;
pub mod blob;
pub mod catalog;
pub mod deletes;
pub mod jobs;
pub mod lifecycle;
pub mod pending;
pub mod webhooks;

/// One check of the repository's contract, run on a fresh store.
pub type Check = for<'a> fn(&'a dyn MediaRepo) -> Pin<Box<dyn Future<Output = ()> + 'a>>;

macro_rules! checks {
    ($($suite:ident :: $name:ident),* $(,)?) => {
        vec![$((
            concat!(stringify!($suite), "::", stringify!($name)),
            (|repo| Box::pin($suite::$name(repo))) as Check,
        )),*]
    };
}

/// Every check of the repository ports' contracts, by name. Each needs a fresh, migrated store
/// of its own (each creates tenant `t`).
pub fn repository() -> Vec<(&'static str, Check)> {
    checks![
        access::tenants_are_unique_by_slug_and_settings_change_what_is_named,
        access::keys_revoke_expire_and_record_their_last_use,
        access::a_community_copy_follows_its_media_and_unsharing_purges_it,
        access::grants_are_one_per_user_and_replaced,
        access::activity_is_newest_first_and_filtered,
        access::idempotency_keys_are_claimed_once_and_replayed,
        access::changes_are_numbered_once_in_order,
        catalog::paths_are_unique_per_owner_and_case_sensitive,
        catalog::usage_visible_to_a_user_counts_owned_and_granted_media_once,
        catalog::lookups_find_the_tenants_live_media_with_the_callers_grant,
        catalog::listings_filter_and_page_newest_first,
        catalog::tags_are_replaced_and_gone_media_is_not_found,
        deletes::the_second_delete_of_a_row_is_not_found_and_cascades_are_counted,
        deletes::a_batch_with_a_repeated_id_deletes_it_once,
        deletes::deletes_by_id_are_authorized_against_the_locked_row,
        deletes::a_grant_revoked_between_plan_and_commit_stops_a_planned_delete,
        deletes::a_held_id_repeated_in_a_batch_is_refused_every_time,
        deletes::ids_are_never_reused_after_the_highest_is_deleted,
        deletes::a_plan_for_another_tenant_deletes_nothing,
        deletes::delete_transactions_forget_purged_records_alongside,
        deletes::a_row_without_its_upload_intent_is_refused,
        deletes::quotes_backslashes_and_dollars_survive_the_delete_transaction,
        deletes::a_stale_if_match_changes_nothing,
        lifecycle::trash_frees_the_path_moves_usage_and_restore_detects_a_taken_path,
        lifecycle::holds_refuse_delete_and_trash_until_removed,
        lifecycle::references_refuse_unforced_deletes_and_forced_ones_report_them,
        lifecycle::derivatives_go_with_their_media_into_the_pending_deletions,
        lifecycle::expired_trash_follows_each_tenants_retention_and_skips_holds,
        pending::a_pass_hides_its_records_until_settled_which_forgets_reschedules_and_parks,
        pending::known_blob_keys_cover_rows_copies_and_pending_records,
        pending::the_pending_summary_counts_each_status_with_its_oldest_record,
        pending::a_key_recorded_twice_is_one_record_with_the_latest_status,
        pending::pending_lists_page_newest_first,
        jobs::jobs_are_claimed_by_one_runner_and_saved_under_the_claim,
        jobs::cancelling_stops_queued_jobs_and_flags_running_ones,
        webhooks::webhooks_belong_to_their_tenant_and_change_what_is_named,
        webhooks::deliveries_are_enqueued_once_per_cursor,
        webhooks::deliveries_are_claimed_in_media_order_and_settled_by_their_claim,
    ]
}
