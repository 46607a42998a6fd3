//! Thumbnails of real image files (and of a corrupt and an oversized one), and delete by
//! filter.

use std::io::Cursor;

use image::{DynamicImage, ImageBuffer, ImageFormat, Rgb};
use serde_json::json;

use crate::helpers::*;

pub fn encoded(format: ImageFormat, width: u32, height: u32) -> Vec<u8> {
    let image = DynamicImage::ImageRgb8(ImageBuffer::from_fn(width, height, |x, y| {
        Rgb([(x % 251) as u8, (y % 241) as u8, 90])
    }));
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, format).expect("encode");
    out.into_inner()
}

/// A well-formed PNG whose header declares a `side` × `side` canvas: a decompression bomb.
fn png_bomb(side: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = |kind: &[u8], data: &[u8]| {
        let len = u32::try_from(data.len()).expect("a short chunk");
        out.extend_from_slice(&len.to_be_bytes());
        let mut crc = crc32fast::Hasher::new();
        crc.update(kind);
        crc.update(data);
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        out.extend_from_slice(&crc.finalize().to_be_bytes());
    };
    let mut header = side.to_be_bytes().to_vec();
    header.extend_from_slice(&side.to_be_bytes());
    header.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(b"IHDR", &header);
    chunk(b"IDAT", &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
    chunk(b"IEND", &[]);
    out
}

pub async fn upload_typed(
    server: &TestServer,
    key: &str,
    path: &str,
    content_type: &str,
    bytes: Vec<u8>,
) -> serde_json::Value {
    let response = server
        .http
        .post(format!("{}/v1/media", server.base))
        .query(&[("path", path)])
        .bearer_auth(key)
        .header("content-type", content_type)
        .body(bytes)
        .send()
        .await
        .expect("request sent");
    reply(response).await.expect(201, None).clone()
}

#[tokio::test]
async fn images_get_thumbnails_that_are_deleted_with_them() {
    let server = TestServer::start().await;
    let alice = server.key("default", "alice", "member");
    let cases = [
        ("a.jpg", "image/jpeg", ImageFormat::Jpeg),
        ("b.png", "image/png", ImageFormat::Png),
        ("c.gif", "image/gif", ImageFormat::Gif),
        ("d.webp", "image/webp", ImageFormat::WebP),
    ];
    let mut ids = Vec::new();
    for (path, content_type, format) in cases {
        let media = upload_typed(
            &server,
            &alice,
            path,
            content_type,
            encoded(format, 512, 256),
        )
        .await;
        assert_eq!(media["thumbnail"], "ready", "{path}");
        let id = media["id"].as_i64().unwrap();
        let response = server
            .http
            .get(format!("{}/v1/media/{id}/thumbnail", server.base))
            .bearer_auth(&alice)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.headers()["content-type"], "image/jpeg", "{path}");
        let bytes = response.bytes().await.unwrap();
        let thumbnail = image::load_from_memory(&bytes).expect("a decodable thumbnail");
        assert_eq!(
            (thumbnail.width(), thumbnail.height()),
            (256, 128),
            "{path}"
        );
        ids.push(id);
    }
    // Another member cannot see it; the thumbnail follows the media's visibility.
    let bob = server.key("default", "bob", "member");
    server
        .get(&bob, &format!("/v1/media/{}/thumbnail", ids[0]))
        .await
        .expect(404, Some("media_not_found"));
    let blobs = server.blobs().await;
    server.assert_blobs(blobs, 8);

    // A delete removes the derivative in the same transaction and purge.
    let reply = server.delete_media(&alice, ids[0]).await;
    let receipt = reply.expect(200, None);
    assert_eq!(receipt["removed"]["derivatives"], 1);
    assert_eq!(receipt["storage"], "purged");
    let blobs = server.blobs().await;
    server.assert_blobs(blobs, 6);
    let reply = server
        .post(&alice, "/v1/media/bulk-delete", json!({ "ids": &ids[1..] }))
        .await;
    assert_eq!(reply.expect(200, None)["deleted"], 3);
    let blobs = server.blobs().await;
    server.assert_blobs(blobs, 0);
}

#[tokio::test]
async fn corrupt_oversized_and_other_files_upload_without_a_thumbnail() {
    let server = TestServer::start().await;
    let alice = server.key("default", "alice", "member");
    let mut truncated = encoded(ImageFormat::Png, 64, 64);
    truncated.truncate(truncated.len() / 2);
    let cases = [
        (
            "corrupt.png",
            "image/png",
            b"definitely not a png".to_vec(),
            "failed",
        ),
        ("truncated.png", "image/png", truncated, "failed"),
        ("bomb.png", "image/png", png_bomb(100_000), "failed"),
        ("notes.txt", "text/plain", b"hello".to_vec(), "none"),
        ("vector.svg", "image/svg+xml", b"<svg/>".to_vec(), "none"),
    ];
    for (path, content_type, bytes, state) in cases {
        let size = bytes.len();
        let media = upload_typed(&server, &alice, path, content_type, bytes).await;
        assert_eq!(media["thumbnail"], state, "{path}");
        assert_eq!(media["size_bytes"], size, "{path}");
        let id = media["id"].as_i64().unwrap();
        // The upload itself is whole: its content downloads and it reads back the same.
        let read = server.get(&alice, &format!("/v1/media/{id}")).await;
        assert_eq!(read.expect(200, None)["thumbnail"], state, "{path}");
        server
            .get(&alice, &format!("/v1/media/{id}/thumbnail"))
            .await
            .expect(404, Some("thumbnail_not_found"));
    }
    let blobs = server.blobs().await;
    server.assert_blobs(blobs, 5);
}

#[tokio::test]
async fn delete_by_filter_counts_then_deletes_only_what_matches() {
    let server = TestServer::start().await;
    let alice = server.key("default", "alice", "member");
    let bob = server.key("default", "bob", "member");
    let acme = server.key("acme", "root", "admin");
    let mut tmp = Vec::new();
    for i in 0..5 {
        let reply = server
            .try_upload(&alice, &format!("tmp/{i}.jpg"), &[1u8; 10], "tmp")
            .await;
        tmp.push(reply.expect(201, None)["id"].as_i64().unwrap());
    }
    let kept = server
        .try_upload(&alice, "keep/k.jpg", b"keep", "keep")
        .await
        .expect(201, None)["id"]
        .as_i64()
        .unwrap();
    let bobs = server
        .try_upload(&bob, "tmp/bob.jpg", b"bob", "tmp")
        .await
        .expect(201, None)["id"]
        .as_i64()
        .unwrap();
    let foreign = server
        .try_upload(&acme, "tmp/x.jpg", b"acme", "tmp")
        .await
        .expect(201, None)["id"]
        .as_i64()
        .unwrap();
    server
        .post(
            &alice,
            &format!("/v1/media/{}/references", tmp[0]),
            json!({ "ref": "post:1" }),
        )
        .await
        .expect(201, None);

    server
        .post(
            &alice,
            "/v1/media/delete-by-filter",
            json!({ "dry_run": true }),
        )
        .await
        .expect(400, Some("empty_filter"));
    server
        .post(
            &alice,
            "/v1/media/delete-by-filter",
            json!({ "tag": "a,b", "dry_run": true }),
        )
        .await
        .expect(400, None);

    // Dry run: counts and bytes over every match, ids one page at a time.
    let reply = server
        .post(
            &alice,
            "/v1/media/delete-by-filter",
            json!({ "tag": "tmp", "dry_run": true, "limit": 3 }),
        )
        .await;
    let first = reply.expect(200, None).clone();
    assert_eq!(first["matched"], 5);
    assert_eq!(first["matched_bytes"], 50);
    // The forecast of the real run below: the referenced one stays.
    assert_eq!(first["deleted"], 4);
    assert_eq!(first["freed_bytes"], 40);
    assert_eq!(first["in_use"], 1);
    let page: Vec<i64> = serde_json::from_value(first["ids"].clone()).unwrap();
    assert_eq!(page, vec![tmp[4], tmp[3], tmp[2]]);
    let cursor = first["next_cursor"].as_str().unwrap();
    let reply = server
        .post(
            &alice,
            "/v1/media/delete-by-filter",
            json!({ "tag": "tmp", "dry_run": true, "limit": 3, "cursor": cursor }),
        )
        .await;
    let second = reply.expect(200, None);
    let page: Vec<i64> = serde_json::from_value(second["ids"].clone()).unwrap();
    assert_eq!(page, vec![tmp[1], tmp[0]]);
    assert!(second["next_cursor"].is_null());
    // Nothing matches "older than a day": everything was just uploaded.
    let reply = server
        .post(
            &alice,
            "/v1/media/delete-by-filter",
            json!({ "older_than_days": 1, "dry_run": false }),
        )
        .await;
    assert_eq!(reply.expect(200, None)["matched"], 0);

    // The real run: alice's tmp media only; the referenced one stays without force.
    let reply = server
        .post(
            &alice,
            "/v1/media/delete-by-filter",
            json!({ "tag": "tmp", "folder": "tmp", "dry_run": false }),
        )
        .await;
    let report = reply.expect(200, None);
    assert_eq!(report["matched"], 5);
    assert_eq!(report["deleted"], 4);
    assert_eq!(report["freed_bytes"], 40);
    assert_eq!(report["in_use"], 1);
    for id in &tmp[1..] {
        assert_eq!(server.deleted_events(*id).await, 1);
    }
    server
        .get(&alice, &format!("/v1/media/{kept}"))
        .await
        .expect(200, None);
    server
        .get(&bob, &format!("/v1/media/{bobs}"))
        .await
        .expect(200, None);
    server
        .get(&acme, &format!("/v1/media/{foreign}"))
        .await
        .expect(200, None);

    // With force the referenced one goes too; an admin's filter by owner spans users.
    let reply = server
        .post(
            &alice,
            "/v1/media/delete-by-filter",
            json!({ "tag": "tmp", "dry_run": false, "force": true }),
        )
        .await;
    assert_eq!(reply.expect(200, None)["deleted"], 1);
    let reply = server
        .post(
            &server.admin,
            "/v1/media/delete-by-filter",
            json!({ "owner": "bob", "dry_run": false }),
        )
        .await;
    let report = reply.expect(200, None);
    assert_eq!(
        (report["matched"].clone(), report["deleted"].clone()),
        (json!(1), json!(1))
    );
    assert_eq!(server.usage(&alice).await, (1, 4));
    assert_eq!(server.usage(&acme).await, (1, 4));
}

/// A dry run reports what the real run then does: deletes, holds, references and permissions
/// judged as the delete judges them.
#[tokio::test]
async fn a_dry_run_forecasts_exactly_what_the_real_run_does() {
    let server = TestServer::start().await;
    let alice = server.key("default", "alice", "member");
    let bob = server.key("default", "bob", "member");
    let mut mine = Vec::new();
    for n in 0..4 {
        let reply = server
            .try_upload(&alice, &format!("old/{n}.jpg"), &vec![b'x'; 10 + n], "old")
            .await;
        mine.push(reply.expect(201, None)["id"].as_i64().expect("id"));
    }
    let theirs = server.try_upload(&bob, "old/b.jpg", b"bob", "old").await;
    let theirs = theirs.expect(201, None)["id"].as_i64().expect("id");
    server.grant(&bob, theirs, "alice", "read").await;
    server
        .post(
            &server.admin,
            &format!("/v1/media/{}/holds", mine[0]),
            json!({ "reason": "audit" }),
        )
        .await
        .expect(201, None);
    server
        .post(
            &alice,
            &format!("/v1/media/{}/references", mine[1]),
            json!({ "ref": "post:9" }),
        )
        .await
        .expect(201, None);

    let fields = [
        "matched",
        "deleted",
        "freed_bytes",
        "held",
        "in_use",
        "forbidden",
    ];
    let run = |dry_run: bool| {
        server.post(
            &alice,
            "/v1/media/delete-by-filter",
            json!({ "tag": "old", "dry_run": dry_run }),
        )
    };
    let forecast = run(true).await;
    let forecast = forecast.expect(200, None);
    let counts = |report: &serde_json::Value| -> Vec<serde_json::Value> {
        fields.iter().map(|field| report[*field].clone()).collect()
    };
    assert_eq!(
        counts(forecast),
        vec![json!(5), json!(2), json!(25), json!(1), json!(1), json!(1)]
    );
    server
        .get(&alice, &format!("/v1/media/{}", mine[3]))
        .await
        .expect(200, None);
    let real = run(false).await;
    assert_eq!(counts(real.expect(200, None)), counts(forecast));
}
