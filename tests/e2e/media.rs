//! Upload, list, read, share and tags.

use reqwest::Method;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn upload_media_streams_the_body_and_records_its_hash() {
    let server = TestServer::start().await;
    let body = vec![7u8; 300_000];
    let reply = server
        .try_upload(&server.admin, "photos/big.bin", &body, "a, b,a")
        .await;
    let media = reply.expect(201, None).clone();
    assert_eq!(media["size_bytes"], 300_000);
    assert_eq!(media["file_name"], "big.bin");
    assert_eq!(media["tags"], json!(["a", "b"]));
    assert_eq!(media["sha256"].as_str().unwrap().len(), 64);
    let id = media["id"].as_i64().unwrap();
    let content = server
        .http
        .get(format!("{}/v1/media/{id}/content", server.base))
        .bearer_auth(&server.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(content.status(), 200);
    assert_eq!(content.headers()["content-type"], "image/jpeg");
    assert_eq!(content.headers()["content-length"], "300000");
    assert_eq!(
        content.headers()["etag"].to_str().unwrap(),
        format!("\"{}\"", media["sha256"].as_str().unwrap())
    );
    assert_eq!(content.bytes().await.unwrap().to_vec(), body);
    assert_eq!(server.usage(&server.admin).await, (1, 300_000));
}

#[tokio::test]
async fn upload_to_a_taken_path_is_409_and_paths_are_case_sensitive() {
    let server = TestServer::start().await;
    server.upload(&server.admin, "x/Y.jpg", b"1").await;
    server
        .try_upload(&server.admin, "x/Y.jpg", b"2", "")
        .await
        .expect(409, Some("path_conflict"));
    server.upload(&server.admin, "x/y.jpg", b"3").await;
    server.assert_blobs(server.blobs().await, 2);
    assert_eq!(server.usage(&server.admin).await, (2, 2));
}

#[tokio::test]
async fn upload_with_an_invalid_path_is_400() {
    let server = TestServer::start().await;
    for bad in ["../x.jpg", "/abs.jpg", "a\\b.jpg", "a//b.jpg", ""] {
        server
            .try_upload(&server.admin, bad, b"1", "")
            .await
            .expect(400, Some("invalid_path"));
    }
    server
        .try_upload(
            &server.admin,
            "ok.jpg",
            b"1",
            "bad,tag,with a very long name that is far longer than sixty-four characters in total",
        )
        .await
        .expect(400, Some("invalid_tag"));
    server.assert_blobs(server.blobs().await, 0);
}

#[tokio::test]
async fn upload_over_the_limit_is_413_and_leaves_nothing() {
    let server = TestServer::start_with(&[("MEDIALIB_MAX_UPLOAD_BYTES", "1000")]).await;
    server
        .try_upload(&server.admin, "big.jpg", &[0u8; 1001], "")
        .await
        .expect(413, Some("payload_too_large"));
    // Without a Content-Length the limit is enforced while streaming. The server answers
    // before the body ends and closes that connection, so this request gets a client of its
    // own: a pooled connection could otherwise be reused by the next request as it closes.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = (0..5).map(|_| Ok(vec![1u8; 400])).collect();
    let response = reqwest::Client::new()
        .post(format!("{}/v1/media?path=chunked.jpg", server.base))
        .bearer_auth(&server.admin)
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    reply(response).await.expect(413, Some("payload_too_large"));
    server.upload(&server.admin, "fits.jpg", &[0u8; 1000]).await;
    assert_eq!(server.usage(&server.admin).await, (1, 1000));
    server.assert_blobs(server.blobs().await, 1);
}

#[tokio::test]
async fn list_media_pages_stay_stable_under_concurrent_deletes() {
    let server = TestServer::start().await;
    let mut all = Vec::new();
    for i in 0..7 {
        all.push(
            server
                .upload(&server.admin, &format!("p/{i}.jpg"), b"1")
                .await,
        );
    }
    let first = server.get(&server.admin, "/v1/media?limit=3").await;
    let page = first.expect(200, None).clone();
    assert_eq!(ids(&page), vec![all[6], all[5], all[4]]);
    // Delete an item of the next page and one already seen, then continue.
    server
        .delete_media(&server.admin, all[3])
        .await
        .expect(200, None);
    server
        .delete_media(&server.admin, all[5])
        .await
        .expect(200, None);
    let cursor = page["next_cursor"].as_str().unwrap();
    let second = server
        .get(&server.admin, &format!("/v1/media?limit=3&cursor={cursor}"))
        .await;
    let second = second.expect(200, None).clone();
    assert_eq!(ids(&second), vec![all[2], all[1], all[0]]);
    let cursor = second["next_cursor"].as_str().unwrap();
    let last = server
        .get(&server.admin, &format!("/v1/media?limit=3&cursor={cursor}"))
        .await;
    assert!(ids(last.expect(200, None)).is_empty());
    assert!(last.body["next_cursor"].is_null());
    server
        .get(&server.admin, "/v1/media?cursor=zzz")
        .await
        .expect(400, Some("invalid_cursor"));
    server
        .get(&server.admin, "/v1/media?limit=0")
        .await
        .expect(400, Some("invalid_limit"));
    server
        .get(&server.admin, "/v1/media?limit=abc")
        .await
        .expect(400, Some("invalid_limit"));
    server
        .get(&server.admin, "/v1/media?created_before=yesterday")
        .await
        .expect(400, Some("invalid_parameter"));
}

#[tokio::test]
async fn list_media_filters_by_tag_folder_and_date() {
    let server = TestServer::start().await;
    let key = &server.admin;
    let root = server
        .try_upload(key, "root.jpg", b"1", "tmp")
        .await
        .expect(201, None)["id"]
        .as_i64()
        .unwrap();
    let deep = server
        .try_upload(key, "Trips/2024/a.jpg", b"1", "keep")
        .await
        .expect(201, None)["id"]
        .as_i64()
        .unwrap();
    let trips = server
        .try_upload(key, "Trips/b.jpg", b"1", "tmp")
        .await
        .expect(201, None)["id"]
        .as_i64()
        .unwrap();
    let other = server
        .try_upload(key, "trips/c.jpg", b"1", "")
        .await
        .expect(201, None)["id"]
        .as_i64()
        .unwrap();
    assert_eq!(
        ids(server.get(key, "/v1/media?tag=tmp").await.expect(200, None)),
        vec![trips, root]
    );
    assert_eq!(
        ids(server
            .get(key, "/v1/media?folder=Trips")
            .await
            .expect(200, None)),
        vec![trips, deep]
    );
    assert_eq!(
        ids(server.get(key, "/v1/media?folder=").await.expect(200, None)),
        vec![root]
    );
    assert_eq!(
        ids(server
            .get(key, "/v1/media?folder=trips")
            .await
            .expect(200, None)),
        vec![other]
    );
    let all = ids(server
        .get(key, "/v1/media?created_before=2100-01-01T00:00:00Z")
        .await
        .expect(200, None));
    assert_eq!(all.len(), 4);
    assert!(ids(server
        .get(key, "/v1/media?created_before=2000-01-01T00:00:00Z")
        .await
        .expect(200, None))
    .is_empty());
    server
        .get(key, "/v1/media?created_before=yesterday")
        .await
        .expect(400, Some("invalid_parameter"));
}

#[tokio::test]
async fn members_list_their_own_and_granted_media_only() {
    let server = TestServer::start().await;
    let alice = server.key("default", "alice", "member");
    let bob = server.key("default", "bob", "member");
    let a = server.upload(&alice, "a.jpg", b"a").await;
    let b = server.upload(&bob, "b.jpg", b"b").await;
    let granted = server.upload(&bob, "g.jpg", b"g").await;
    server.grant(&bob, granted, "alice", "read").await;
    assert_eq!(
        ids(server.get(&alice, "/v1/media").await.expect(200, None)),
        vec![granted, a]
    );
    assert_eq!(
        ids(server
            .get(&server.admin, "/v1/media")
            .await
            .expect(200, None)),
        vec![granted, b, a]
    );
}

#[tokio::test]
async fn share_tags_and_unshare_keep_the_community_copy_in_step() {
    let server = TestServer::start().await;
    let key = &server.admin;
    let id = server
        .try_upload(key, "s.jpg", b"shared", "one")
        .await
        .expect(201, None)["id"]
        .as_i64()
        .unwrap();
    let copy = server
        .post(key, &format!("/v1/media/{id}/share"), json!({}))
        .await;
    assert_eq!(copy.expect(201, None)["tags"], json!(["one"]));
    server
        .post(key, &format!("/v1/media/{id}/share"), json!({}))
        .await
        .expect(409, Some("already_shared"));
    let tagged = server
        .send(
            Method::PUT,
            &format!("/v1/media/{id}/tags"),
            Some(key),
            Some(json!({"tags": ["two", "three"]})),
        )
        .await;
    assert_eq!(tagged.expect(200, None)["tags"], json!(["three", "two"]));
    let community = server.get(key, "/v1/community").await;
    assert_eq!(
        community.expect(200, None)["items"][0]["tags"],
        json!(["three", "two"])
    );
    assert_eq!(
        server
            .get(key, &format!("/v1/media/{id}"))
            .await
            .expect(200, None)["shared_to_community"],
        true
    );
    let unshared = server.delete(key, &format!("/v1/media/{id}/share")).await;
    assert_eq!(unshared.expect(200, None)["storage"], "purged");
    server.assert_blobs(server.blobs().await, 1);
    server
        .delete(key, &format!("/v1/media/{id}/share"))
        .await
        .expect(404, Some("community_copy_not_found"));
    let receipt = server.delete_media(key, id).await;
    assert_eq!(
        receipt.expect(200, None)["removed"],
        json!({"community_copy": false, "tag_assignments": 2, "access_grants": 0, "derivatives": 0})
    );
}

#[tokio::test]
async fn downloads_serve_ranges_etags_and_the_file_name() {
    let server = TestServer::start().await;
    let id = server
        .upload(&server.admin, "docs/résumé 1.pdf", b"0123456789")
        .await;
    let url = format!("{}/v1/media/{id}/content", server.base);
    let get = |range: Option<&str>, etag: Option<&str>| {
        let mut request = server.http.get(&url).bearer_auth(&server.admin);
        if let Some(range) = range {
            request = request.header("range", range);
        }
        if let Some(etag) = etag {
            request = request.header("if-none-match", etag);
        }
        request.send()
    };

    let whole = get(None, None).await.unwrap();
    assert_eq!(whole.status(), 200);
    assert_eq!(whole.headers()["accept-ranges"], "bytes");
    let disposition = whole.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        disposition.starts_with("inline; filename=\"r_sum_ 1.pdf\""),
        "{disposition}"
    );
    assert!(
        disposition.ends_with("filename*=UTF-8''r%C3%A9sum%C3%A9%201%2Epdf"),
        "{disposition}"
    );
    let etag = whole.headers()["etag"].to_str().unwrap().to_owned();

    let part = get(Some("bytes=2-5"), None).await.unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(part.headers()["content-range"], "bytes 2-5/10");
    assert_eq!(part.headers()["content-length"], "4");
    assert_eq!(part.headers()["etag"].to_str().unwrap(), etag);
    assert_eq!(part.bytes().await.unwrap().as_ref(), b"2345");
    let tail = get(Some("bytes=-3"), None).await.unwrap();
    assert_eq!(
        (tail.status().as_u16(), tail.bytes().await.unwrap().to_vec()),
        (206, b"789".to_vec())
    );
    let several = get(Some("bytes=0-1,4-5"), None).await.unwrap();
    assert_eq!(
        (
            several.status().as_u16(),
            several.bytes().await.unwrap().len()
        ),
        (200, 10)
    );

    let beyond = get(Some("bytes=10-20"), None).await.unwrap();
    assert_eq!(beyond.headers()["content-range"], "bytes */10");
    reply(beyond)
        .await
        .expect(416, Some("range_not_satisfiable"));

    let cached = get(None, Some(&etag)).await.unwrap();
    assert_eq!(cached.status(), 304);
    assert_eq!(cached.headers()["etag"].to_str().unwrap(), etag);
    assert!(cached.bytes().await.unwrap().is_empty());
    let stale = get(None, Some("\"something-else\"")).await.unwrap();
    assert_eq!(stale.status(), 200);
}
