//! Trash retention under a controllable clock: the real service on SQLite and local files,
//! with time moved by the test instead of waited for.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use std::sync::{Arc, Mutex};
use std::time::Duration;

use medialib_blob::{BlobConfig, ObjectStoreBlobStore};
use medialib_domain::service::media::UploadRequest;
use medialib_domain::{Actor, BlobStore, ByteStream, Clock, MediaService, SettingsChange};
use medialib_server::{Inject, RawSettings, Running, Settings};
use time::macros::datetime;
use time::OffsetDateTime;

/// A clock the test moves.
#[derive(Debug)]
struct ManualClock(Mutex<OffsetDateTime>);

impl ManualClock {
    fn advance(&self, by: time::Duration) {
        *self.0.lock().unwrap() += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap()
    }
}

struct Harness {
    service: MediaService,
    blobs: Arc<ObjectStoreBlobStore>,
    clock: Arc<ManualClock>,
    admin: Actor,
    _server: Running,
    _dir: tempfile::TempDir,
}

/// The server as `medialib serve` wires it, on SQLite and local files, with the test's clock.
/// Its own retention pass runs at start only: the tests run theirs after moving the clock.
async fn harness() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let raw = RawSettings {
        retry_interval_secs: 3600,
        webhook_max_attempts: 1,
        ..RawSettings::local(dir.path())
    };
    let blobs = Arc::new(
        ObjectStoreBlobStore::from_url(&BlobConfig {
            url: raw.blob_url.clone(),
            timeout: Duration::from_secs(5),
        })
        .unwrap(),
    );
    let clock = Arc::new(ManualClock(Mutex::new(datetime!(2026-01-01 09:00 UTC))));
    let inject = Inject {
        blobs: Some(blobs.clone()),
        clock: Some(clock.clone()),
        ..Inject::default()
    };
    let server = medialib_server::start(
        &Settings::validate(raw).unwrap(),
        &inject,
        std::future::pending(),
    )
    .await
    .unwrap();
    let service = server.service.clone();
    service.create_tenant("t").await.unwrap();
    let token = service
        .create_api_key("t", "root", "admin")
        .await
        .unwrap()
        .token;
    let admin = service.authenticate(&token).await.unwrap();
    Harness {
        service,
        blobs,
        clock,
        admin,
        _server: server,
        _dir: dir,
    }
}

impl Harness {
    async fn upload(&self, path: &str, size: usize) -> i64 {
        let body: ByteStream = Box::pin(futures::stream::iter([Ok(bytes::Bytes::from(vec![
            7u8;
            size
        ]))]));
        let request = UploadRequest {
            path: path.into(),
            content_type: "application/octet-stream".into(),
            tags: vec![],
            content_length: None,
        };
        self.service
            .upload_media(&self.admin, request, body)
            .await
            .unwrap()
            .id
            .get()
    }

    async fn usage(&self) -> (i64, i64, i64, i64) {
        let usage = self.service.usage(&self.admin).await.unwrap();
        (
            usage.media_count,
            usage.bytes_used,
            usage.trashed_count,
            usage.trashed_bytes,
        )
    }

    async fn purged_events(&self) -> Vec<serde_json::Value> {
        self.service
            .list_activity(
                &self.admin,
                Some("media_purged".into()),
                None,
                Some(100),
                None,
            )
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|event| event.details)
            .collect()
    }
}

#[tokio::test]
async fn trash_is_purged_once_the_retention_period_has_passed_and_never_when_held() {
    let h = harness().await;
    let kept = h.upload("kept.bin", 1).await;
    let old = h.upload("old.bin", 10).await;
    let held = h.upload("held.bin", 100).await;
    let old_key = h
        .service
        .get_media(&h.admin, &old.to_string())
        .await
        .unwrap()
        .blob_key;
    for id in [old, held] {
        h.service
            .trash_media(&h.admin, &id.to_string(), false)
            .await
            .unwrap();
    }
    h.service
        .add_hold(&h.admin, &held.to_string(), "litigation")
        .await
        .unwrap();
    assert_eq!(h.usage().await, (1, 1, 2, 110));

    // The default retention is 30 days: nothing happens a minute before.
    h.clock
        .advance(time::Duration::days(30) - time::Duration::minutes(1));
    assert_eq!(h.service.purge_expired_trash(100).await.unwrap(), 0);
    assert!(h.blobs.exists(&old_key).await.unwrap());

    h.clock.advance(time::Duration::minutes(1));
    assert_eq!(h.service.purge_expired_trash(100).await.unwrap(), 1);
    assert!(!h.blobs.exists(&old_key).await.unwrap());
    assert_eq!(h.usage().await, (1, 1, 1, 100));
    let events = h.purged_events().await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["reason"], "trash_retention");
    assert_eq!(events[0]["media"]["id"], old);

    // Held media stays however long it waits, until the hold is lifted.
    h.clock.advance(time::Duration::days(3650));
    assert_eq!(h.service.purge_expired_trash(100).await.unwrap(), 0);
    let hold = h
        .service
        .list_holds(&h.admin, &held.to_string())
        .await
        .unwrap()
        .remove(0);
    h.service
        .remove_hold(&h.admin, &held.to_string(), hold.id)
        .await
        .unwrap();
    assert_eq!(h.service.purge_expired_trash(100).await.unwrap(), 1);
    assert_eq!(h.usage().await, (1, 1, 0, 0));
    // Live media is never touched by retention.
    assert!(h
        .service
        .get_media(&h.admin, &kept.to_string())
        .await
        .is_ok());
}

#[tokio::test]
async fn retention_counts_from_the_latest_trashing_and_follows_the_tenant_setting() {
    let h = harness().await;
    let id = h.upload("a.bin", 5).await;
    h.service
        .trash_media(&h.admin, &id.to_string(), false)
        .await
        .unwrap();
    h.clock.advance(time::Duration::days(20));
    h.service
        .restore_media(&h.admin, &id.to_string(), None)
        .await
        .unwrap();
    h.service
        .trash_media(&h.admin, &id.to_string(), false)
        .await
        .unwrap();
    // 20 days after the first trashing plus 20 more: 40 days, but only 20 in the trash.
    h.clock.advance(time::Duration::days(20));
    assert_eq!(h.service.purge_expired_trash(100).await.unwrap(), 0);

    // A shorter retention applies to what is already in the trash.
    let change = SettingsChange {
        trash_retention_days: Some(7),
        ..SettingsChange::default()
    };
    h.service
        .update_tenant_settings(&h.admin, change)
        .await
        .unwrap();
    assert_eq!(h.service.purge_expired_trash(100).await.unwrap(), 1);
    assert_eq!(h.usage().await, (0, 0, 0, 0));
}

#[tokio::test]
async fn finished_webhook_deliveries_are_forgotten_after_the_changes_retention() {
    let h = harness().await;
    // Nothing listens on port 9: every attempt fails, and the only one dead-letters.
    let hook = h
        .service
        .create_webhook(&h.admin, "http://127.0.0.1:9/hook", Vec::new(), None)
        .await
        .unwrap();
    h.upload("a.bin", 1).await;
    let round = h.service.dispatch_webhooks(100).await.unwrap();
    assert_eq!((round.enqueued, round.dead), (1, 1), "{round:?}");
    let listed = |h: &Harness| {
        let service = h.service.clone();
        let admin = h.admin.clone();
        async move {
            service
                .list_deliveries(&admin, hook.id, None, None, None)
                .await
                .unwrap()
                .items
        }
    };
    assert_eq!(listed(&h).await.len(), 1);

    h.clock.advance(time::Duration::days(29));
    assert_eq!(h.service.forget_old_deliveries().await.unwrap(), 0);
    h.clock.advance(time::Duration::days(2));
    assert_eq!(h.service.forget_old_deliveries().await.unwrap(), 1);
    assert!(listed(&h).await.is_empty());
}
