//! Tests that need a local blob directory: they make the store fail by putting a directory
//! where a blob file was.

use crate::helpers::*;

#[tokio::test]
async fn storage_failure_after_commit_answers_pending_and_the_retry_loop_purges_later() {
    let server = TestServer::start_with(&[
        ("MEDIALIB_RETRY_INTERVAL_SECS", "1"),
        ("MEDIALIB_RETRY_GRACE_SECS", "0"),
    ])
    .await;
    let id = server.upload(&server.admin, "stuck.jpg", b"abc").await;
    let Store::Dir(root) = &server.backend.store else {
        panic!("this test needs a local blob directory (MEDIALIB_TEST_E2E_BLOBS=file)");
    };
    let blob = root.join(server.blobs().await.unwrap().pop().unwrap());
    // A non-empty directory where the blob file was: the store cannot delete it.
    std::fs::remove_file(&blob).unwrap();
    std::fs::create_dir(&blob).unwrap();
    std::fs::write(blob.join("inner"), b"x").unwrap();

    let reply = server.delete_media(&server.admin, id).await;
    let receipt = reply.expect(200, None);
    assert_eq!(receipt["storage"], "pending");
    assert_eq!(receipt["deleted"], true);
    server
        .get(&server.admin, &format!("/v1/media/{id}"))
        .await
        .expect(404, Some("media_not_found"));
    assert_eq!(server.usage(&server.admin).await, (0, 0));

    // Storage comes back: the blob is an ordinary file again, and the retry loop removes it.
    std::fs::remove_dir_all(&blob).unwrap();
    std::fs::write(&blob, b"abc").unwrap();
    eventually("the retry loop to purge the blob", || !blob.exists()).await;
}
