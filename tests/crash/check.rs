//! The invariants checked after a campaign, against the database and the blob directory.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use serde_json::Value;
use sha2::{Digest, Sha256};

use medialib_test_support::receiver::Receiver;

use crate::workload::Journal;

/// Violations (empty when every invariant holds) and informative notes.
pub struct Report {
    pub violations: Vec<String>,
    pub notes: Vec<String>,
}

fn cli(dir: &Path, args: &[&str]) -> Value {
    let output = crate::medialib(dir)
        .args(args)
        .output()
        .expect("run medialib");
    assert!(
        output.status.success(),
        "medialib {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON summary")
}

async fn rows(db: &DatabaseConnection, sql: &str) -> Vec<sea_orm::QueryResult> {
    db.query_all(Statement::from_string(db.get_database_backend(), sql))
        .await
        .expect("query")
}

pub async fn after_campaign(dir: &Path, journal: &Journal) -> Report {
    let mut violations: Vec<String> = journal.bad_answers.clone();
    let mut notes = Vec::new();

    let reaped = cli(dir, &["reap", "--all", "--json"]);
    notes.push(format!("reap --all: {reaped}"));
    let gc = cli(dir, &["gc", "--grace", "0s", "--json"]);
    notes.push(format!(
        "gc: {} blobs, {} rows scanned",
        gc["scanned_blobs"], gc["scanned_rows"]
    ));
    if gc["orphan_blobs"] != 0 {
        violations.push(format!("gc found orphan blobs: {}", gc["orphan_examples"]));
    }
    if gc["dangling_rows"] != 0 {
        violations.push(format!(
            "gc found rows without blobs: {}",
            gc["dangling_examples"]
        ));
    }
    // What SIGKILL leaves of a local write in progress (`name#N` staging files) is not a
    // disagreement between rows and blobs; the reconciler sweeps it.
    let swept = cli(dir, &["gc", "--grace", "0s", "--fix", "--json"]);
    notes.push(format!(
        "gc --fix swept {} interrupted writes",
        swept["incomplete_writes"]
    ));
    if swept["deleted_blobs"] != 0 || swept["removed_rows"] != 0 {
        violations.push(format!(
            "gc --fix repaired something the dry run did not report: {swept}"
        ));
    }

    let url = format!("sqlite://{}", dir.join("data/medialib.db").display());
    let db = Database::connect(url.as_str())
        .await
        .expect("open database");
    let mut live: HashMap<i64, (String, String, i64, i64)> = HashMap::new();
    for row in rows(
        &db,
        "SELECT id, blob_key, sha256, size_bytes, tenant_id FROM media",
    )
    .await
    {
        let id: i64 = row.try_get("", "id").expect("id");
        live.insert(
            id,
            (
                row.try_get("", "blob_key").expect("blob_key"),
                row.try_get("", "sha256").expect("sha256"),
                row.try_get("", "size_bytes").expect("size"),
                row.try_get("", "tenant_id").expect("tenant"),
            ),
        );
    }
    let mut referenced: HashSet<String> = live.values().map(|v| v.0.clone()).collect();
    for row in rows(&db, "SELECT blob_key FROM community_media").await {
        referenced.insert(row.try_get("", "blob_key").expect("blob_key"));
    }
    let blob_root = dir.join("data/blobs");
    let stored: HashSet<String> = medialib_test_support::blob_keys_under(&blob_root)
        .into_iter()
        .collect();

    // Every acknowledged delete: no row (and, below, no blob without a row).
    for id in &journal.deleted {
        if live.contains_key(id) {
            violations.push(format!("acknowledged delete of {id} came back"));
        }
    }
    // Every acknowledged upload that no delete touched: its row, and a blob with its hash.
    for (id, sha) in &journal.uploads {
        if journal.deleted.contains(id) || journal.maybe_deleted.contains(id) {
            continue;
        }
        match live.get(id) {
            None => violations.push(format!("acknowledged upload {id} is lost")),
            Some((key, stored_sha, _, _)) => {
                if stored_sha != sha {
                    violations.push(format!("upload {id}: row hash differs"));
                }
                match std::fs::read(blob_root.join(key)) {
                    Ok(bytes) if format!("{:x}", Sha256::digest(&bytes)) == *sha => {}
                    Ok(_) => violations.push(format!("upload {id}: blob content differs")),
                    Err(_) => violations.push(format!("upload {id}: blob missing")),
                }
            }
        }
    }
    for key in stored.difference(&referenced) {
        violations.push(format!("blob without a row: {key}"));
    }
    for key in referenced.difference(&stored) {
        violations.push(format!("row without its blob: {key}"));
    }

    // Usage equals the sums over live media.
    let mut sums: HashMap<i64, (i64, i64)> = HashMap::new();
    for (_, _, size, tenant) in live.values() {
        let entry = sums.entry(*tenant).or_default();
        entry.0 += 1;
        entry.1 += size;
    }
    for row in rows(&db, "SELECT tenant_id, media_count, bytes_used FROM usage").await {
        let tenant: i64 = row.try_get("", "tenant_id").expect("tenant");
        let counted: (i64, i64) = (
            row.try_get("", "media_count").expect("count"),
            row.try_get("", "bytes_used").expect("bytes"),
        );
        let actual = sums.get(&tenant).copied().unwrap_or_default();
        if counted != actual {
            violations.push(format!(
                "usage of tenant {tenant} is {counted:?}, live media sum to {actual:?}"
            ));
        }
    }

    // Exactly one media_deleted event per deleted id; none for live ones.
    let mut events: HashMap<i64, i64> = HashMap::new();
    for row in rows(
        &db,
        "SELECT media_id, COUNT(*) AS n FROM activity WHERE action = 'media_deleted' GROUP BY media_id",
    )
    .await
    {
        events.insert(row.try_get("", "media_id").expect("id"), row.try_get("", "n").expect("n"));
    }
    for id in &journal.deleted {
        let n = events.get(id).copied().unwrap_or(0);
        if n != 1 {
            violations.push(format!(
                "acknowledged delete of {id} has {n} media_deleted events"
            ));
        }
    }
    for (id, n) in &events {
        if *n != 1 || live.contains_key(id) {
            violations.push(format!(
                "media {id} has {n} media_deleted events while live={}",
                live.contains_key(id)
            ));
        }
    }
    feed(&url, journal, &mut violations, &mut notes).await;

    let left = rows(&db, "SELECT COUNT(*) AS n FROM pending_deletions").await;
    let left: i64 = left[0].try_get("", "n").expect("n");
    if left != 0 {
        violations.push(format!("{left} pending deletions left after reap --all"));
    }
    notes.push(format!(
        "end state: {} live media, {} blobs, {} deleted ids with events",
        live.len(),
        stored.len(),
        events.len()
    ));
    Report { violations, notes }
}

/// Adds a webhook for every event type to `receiver`.
pub async fn add_webhook(base: &str, admin: &str, receiver: &Receiver) {
    let response = reqwest::Client::new()
        .post(format!("{base}/v1/webhooks"))
        .bearer_auth(admin)
        .json(&serde_json::json!({ "url": receiver.url }))
        .send()
        .await
        .expect("add the webhook");
    assert_eq!(response.status(), 201, "add the webhook");
    let webhook: Value = response.json().await.expect("webhook body");
    receiver.set_secret(webhook["secret"].as_str().expect("secret"));
}

/// Waits (up to a minute) until every acknowledged delete's event reached the receiver;
/// what is missing then is a violation. Every message must carry a valid signature.
pub async fn webhooks_delivered(receiver: &Receiver, journal: &Journal) -> Report {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let missing = loop {
        let delivered: HashSet<i64> = receiver
            .accepted()
            .iter()
            .filter(|m| m.event_type == "media.deleted" || m.event_type == "media.purged")
            .filter_map(|m| m.media_id)
            .collect();
        let missing: Vec<i64> = journal
            .deleted
            .iter()
            .filter(|id| !delivered.contains(id))
            .copied()
            .collect();
        if missing.is_empty() || std::time::Instant::now() > deadline {
            break missing;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let mut violations: Vec<String> = missing
        .iter()
        .take(20)
        .map(|id| format!("acknowledged delete of {id} never reached the webhook receiver"))
        .collect();
    if missing.len() > 20 {
        violations.push(format!(
            "… {} acknowledged deletes undelivered in all",
            missing.len()
        ));
    }
    if receiver.bad_signatures() > 0 {
        violations.push(format!(
            "{} webhook messages without a valid signature",
            receiver.bad_signatures()
        ));
    }
    let accepted = receiver.accepted();
    let distinct: HashSet<&str> = accepted.iter().map(|m| m.id.as_str()).collect();
    Report {
        violations,
        notes: vec![format!(
            "webhooks: {} requests, {} messages accepted, {} distinct events, {} acknowledged \
             deletes all delivered: {}",
            receiver.requests(),
            accepted.len(),
            distinct.len(),
            journal.deleted.len(),
            missing.is_empty()
        )],
    }
}

/// The changes feed after the campaign: every committed event numbered once, every
/// acknowledged delete's tombstone in it exactly once, and every change the follower was
/// served during the campaign still under the number it was served with.
async fn feed(url: &str, journal: &Journal, violations: &mut Vec<String>, notes: &mut Vec<String>) {
    use medialib_domain::{ChangeKind, ChangeLog, TenantId};
    let repo = medialib_sql::SeaOrmMediaRepo::connect(&medialib_sql::SqlConfig::new(url))
        .await
        .expect("open the repository");
    while repo.sequence_changes(10_000).await.expect("sequence") > 0 {}
    let changes = repo
        .list_changes(TenantId(1), &ChangeKind::ACTIONS, 0, u64::MAX >> 1)
        .await
        .expect("list changes");
    let db = Database::connect(url).await.expect("open database");
    let unnumbered = rows(&db, "SELECT COUNT(*) AS n FROM activity WHERE seq IS NULL").await;
    let unnumbered: i64 = unnumbered[0].try_get("", "n").expect("n");
    if unnumbered != 0 {
        violations.push(format!("{unnumbered} events left without a feed number"));
    }
    let mut last = 0;
    let mut tombstones: HashMap<i64, u32> = HashMap::new();
    let mut by_seq: HashMap<i64, (&str, i64)> = HashMap::new();
    for change in &changes {
        if change.seq <= last {
            violations.push(format!("feed number {} after {last}", change.seq));
        }
        last = change.seq;
        let id = change.activity.media_id.map_or(-1, |id| id.get());
        let kind = ChangeKind::of_action(&change.activity.action).map_or("", ChangeKind::as_str);
        if kind == "deleted" {
            *tombstones.entry(id).or_default() += 1;
        }
        by_seq.insert(change.seq, (kind, id));
    }
    for id in &journal.deleted {
        let n = tombstones.get(id).copied().unwrap_or(0);
        if n != 1 {
            violations.push(format!(
                "acknowledged delete of {id} has {n} tombstones in the feed"
            ));
        }
    }
    for (seq, (kind, id)) in &journal.feed_seen {
        if by_seq.get(seq) != Some(&(kind.as_str(), *id)) {
            violations.push(format!(
                "feed number {seq} was served as {kind} of {id}, is now {:?}",
                by_seq.get(seq)
            ));
        }
    }
    notes.push(format!(
        "feed: {} changes numbered, {} served to the follower during the campaign",
        changes.len(),
        journal.feed_seen.len()
    ));
}
