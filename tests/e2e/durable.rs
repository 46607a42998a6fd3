//! Durable deletion through the real binary: a hundred concurrent deletes of one id, and a
//! graceful shutdown with a request in flight. (The reconciler, the offline reaper and the
//! delete races, which look into the store, are in `store.rs`.)

use crate::helpers::*;

#[tokio::test]
async fn a_hundred_concurrent_deletes_of_one_id_give_one_receipt() {
    let server = TestServer::start().await;
    let id = server.upload(&server.admin, "hundred.jpg", b"100").await;
    assert_one_delete_wins(&server.http, &[&server.base], &server.admin, id, 100).await;
    assert_eq!(server.deleted_events(id).await, 1);
    assert_eq!(server.usage(&server.admin).await, (0, 0));
}

#[tokio::test]
async fn sigterm_lets_in_flight_requests_finish_then_stops() {
    let mut server = TestServer::start().await;
    // An upload whose body trickles in over half a second; SIGTERM is sent once part of the
    // body has been handed to the connection, so the request is in flight whatever the load.
    let (sending, sent) = tokio::sync::oneshot::channel();
    let chunks = futures::stream::unfold((0u8, Some(sending)), |(i, mut sending)| async move {
        if i == 5 {
            return None;
        }
        if i == 2 {
            if let Some(sending) = sending.take() {
                let _ = sending.send(());
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        Some((Ok::<_, std::io::Error>(vec![i; 100]), (i + 1, sending)))
    });
    let request = server
        .http
        .post(format!("{}/v1/media?path=slow.bin", server.base))
        .bearer_auth(&server.admin)
        .body(reqwest::Body::wrap_stream(chunks))
        .send();
    let upload = tokio::spawn(request);
    sent.await.expect("the body is being sent");
    let stopped = tokio::task::spawn_blocking(move || {
        let ok = server.terminate();
        (ok, server)
    });
    let response = upload
        .await
        .unwrap()
        .expect("the in-flight upload is answered");
    assert_eq!(response.status(), 201);
    let (clean, server) = stopped.await.unwrap();
    assert!(clean, "exit status after SIGTERM");
    assert!(
        server
            .http
            .get(format!("{}/healthz", server.base))
            .send()
            .await
            .is_err(),
        "no longer accepting"
    );
}
