//! Connection and request limits, over raw sockets where a client library would hide them:
//! headers that arrive too slowly, too many or too large headers, too many connections, and a
//! request that takes too long. Every loop here is bounded and stops by itself.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::*;

fn address(server: &TestServer) -> String {
    server.base.trim_start_matches("http://").to_owned()
}

/// Reads until the server closes the connection (or 15 s pass); returns what it sent and when
/// it closed.
fn read_to_close(stream: &mut TcpStream) -> (String, Duration) {
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .expect("socket I/O on loopback");
    let started = Instant::now();
    let mut received = Vec::new();
    let mut buffer = [0u8; 8192];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => received.extend_from_slice(&buffer[..n]),
        }
    }
    (
        String::from_utf8_lossy(&received).into_owned(),
        started.elapsed(),
    )
}

/// The status and JSON body of a raw HTTP/1.1 answer.
fn parse(answer: &str) -> (u16, Value, String) {
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {answer:?}"));
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((answer, ""));
    (
        status,
        serde_json::from_str(body).unwrap_or(Value::Null),
        head.to_ascii_lowercase(),
    )
}

#[tokio::test]
async fn headers_sent_a_byte_a_second_are_cut_off_at_the_header_timeout() {
    let server = TestServer::start_with(&[("MEDIALIB_HEADER_TIMEOUT_SECS", "2")]).await;
    let target = address(&server);
    let dripping = std::thread::spawn(move || {
        let mut stream = TcpStream::connect(&target).expect("socket I/O on loopback");
        let request =
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
        let started = Instant::now();
        for byte in request {
            if stream.write_all(&[*byte]).is_err() {
                return (started.elapsed(), true);
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        let (answer, _) = read_to_close(&mut stream);
        (started.elapsed(), answer.is_empty())
    });
    let (after, unanswered) =
        tokio::task::spawn_blocking(move || dripping.join().expect("the dripping client"))
            .await
            .expect("joined");
    assert!(
        unanswered,
        "a request whose headers took too long was served"
    );
    assert!(after < Duration::from_secs(8), "still open after {after:?}");

    // A kept-alive connection waiting for its next request is closed after it too.
    let mut stream = TcpStream::connect(address(&server)).expect("socket I/O on loopback");
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("socket I/O on loopback");
    let (answer, after) = read_to_close(&mut stream);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(after < Duration::from_secs(8), "kept open for {after:?}");
}

#[tokio::test]
async fn too_many_or_too_large_headers_get_431_with_the_error_body() {
    let server = TestServer::start().await;
    let send = |request: String| {
        let mut stream = TcpStream::connect(address(&server)).expect("socket I/O on loopback");
        stream
            .write_all(request.as_bytes())
            .expect("socket I/O on loopback");
        read_to_close(&mut stream).0
    };
    let many: String = (0..150).map(|n| format!("X-Header-{n}: v\r\n")).collect();
    let large = format!("X-Large: {}\r\n", "a".repeat(1024 * 1024));
    for headers in [many, large] {
        let answer = send(format!(
            "GET /v1/usage HTTP/1.1\r\nHost: x\r\n{headers}Connection: close\r\n\r\n"
        ));
        let (status, body, head) = parse(&answer);
        assert_eq!(status, 431, "{head}");
        assert_eq!(body["code"], "headers_too_large", "{answer:.300}");
        assert!(body["message"].is_string());
        assert!(head.contains("x-request-id:"), "{head}");
    }
    // Past the HTTP layer's own ceiling the answer is a bare 431, and the server lives on.
    let huge = format!("X-Huge: {}\r\n", "a".repeat(2 * 1024 * 1024));
    let answer = send(format!("GET /healthz HTTP/1.1\r\nHost: x\r\n{huge}\r\n"));
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer:.200}");
    server
        .get(&server.admin, "/v1/usage")
        .await
        .expect(200, None);
}

#[tokio::test]
async fn a_connection_over_the_limit_gets_503_until_one_closes() {
    let server = TestServer::start_with(&[("MEDIALIB_MAX_CONNECTIONS", "3")]).await;
    // Three connections that completed a request and stay open hold every place.
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut stream = TcpStream::connect(address(&server)).expect("socket I/O on loopback");
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .expect("socket I/O on loopback");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("socket I/O on loopback");
        let mut buffer = [0u8; 1024];
        let n = stream.read(&mut buffer).expect("socket I/O on loopback");
        assert!(buffer[..n].starts_with(b"HTTP/1.1 200"));
        held.push(stream);
    }
    let mut extra = TcpStream::connect(address(&server)).expect("socket I/O on loopback");
    extra
        .write_all(b"GET /v1/usage HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("socket I/O on loopback");
    let (answer, _) = read_to_close(&mut extra);
    let (status, body, head) = parse(&answer);
    assert_eq!(status, 503, "{answer}");
    assert_eq!(body["code"], "too_many_connections");
    assert!(head.contains("retry-after: 1"), "{head}");
    assert!(head.contains("x-request-id:"), "{head}");

    drop(held);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let reply = server.get(&server.admin, "/v1/usage").await;
        if reply.status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "still refused: {}", reply.body);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn an_upload_that_outlasts_the_request_timeout_gets_503_and_stores_nothing() {
    let server = TestServer::start_with(&[("MEDIALIB_REQUEST_TIMEOUT_SECS", "1")]).await;
    let mut stream = TcpStream::connect(address(&server)).expect("socket I/O on loopback");
    let head = format!(
        "POST /v1/media?path=slow.bin HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/octet-stream\r\nContent-Length: 1000\r\n\r\n",
        server.admin
    );
    stream
        .write_all(head.as_bytes())
        .expect("socket I/O on loopback");
    stream
        .write_all(&[7u8; 100])
        .expect("socket I/O on loopback");
    let started = Instant::now();
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .expect("socket I/O on loopback");
    let mut answer = vec![0u8; 4096];
    let n = stream.read(&mut answer).expect("socket I/O on loopback");
    let answer = String::from_utf8_lossy(&answer[..n]).into_owned();
    let (status, body, _) = parse(&answer);
    assert_eq!(status, 503, "{answer}");
    assert_eq!(body["code"], "request_timeout");
    // The answer waits for the rest of the body up to the lingering bound (10 s, docs/api.md).
    assert!(started.elapsed() < Duration::from_secs(14));
    let listed = server.get(&server.admin, "/v1/media").await;
    assert_eq!(listed.expect(200, None)["items"], serde_json::json!([]));
}

#[tokio::test]
async fn a_json_body_over_the_limit_gets_413_announced_or_chunked() {
    let server = TestServer::start_with(&[("MEDIALIB_MAX_JSON_BYTES", "2048")]).await;
    let ids: Vec<i64> = (1..=1000).collect();
    let body = serde_json::json!({ "ids": ids }).to_string();
    assert!(body.len() > 2048);
    let announced = server
        .send(
            reqwest::Method::POST,
            "/v1/media/bulk-delete",
            Some(&server.admin),
            Some(serde_json::json!({ "ids": ids })),
        )
        .await;
    announced.expect(413, Some("payload_too_large"));

    let mut stream = TcpStream::connect(address(&server)).expect("socket I/O on loopback");
    let head = format!(
        "POST /v1/media/bulk-delete HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        server.admin
    );
    stream
        .write_all(head.as_bytes())
        .expect("socket I/O on loopback");
    for chunk in body.as_bytes().chunks(500) {
        let framed = format!(
            "{:x}\r\n{}\r\n",
            chunk.len(),
            String::from_utf8_lossy(chunk)
        );
        stream
            .write_all(framed.as_bytes())
            .expect("socket I/O on loopback");
    }
    stream
        .write_all(b"0\r\n\r\n")
        .expect("socket I/O on loopback");
    let (answer, _) = read_to_close(&mut stream);
    let (status, body, head) = parse(&answer);
    assert_eq!(status, 413, "{answer}");
    assert_eq!(body["code"], "payload_too_large");
    assert!(head.contains("x-request-id:"), "{head}");

    // Within the limit the same route works.
    server
        .post(&server.admin, "/v1/media/bulk-delete", bulk(&[1, 2]))
        .await
        .expect(200, None);
}
