//! Early answers to requests with a body are readable by clients that write the whole body
//! before reading: the server reads and discards the rest of the body (bounded) before it
//! answers. Node's built-in `fetch` and Python's `urllib` are such clients; both need their
//! runtime, so these tests are ignored by default and run by .ci/run
//! (`cargo test --test e2e -- --ignored node_`).

use std::process::Command;

use crate::helpers::*;

/// Node `fetch` and Python `urllib` each upload 5 MiB to a 1 MiB server, with a
/// `Content-Length` and chunked, once with a key and once without; every answer must be read.
#[tokio::test]
#[ignore = "needs Node.js 18+ and Python 3"]
async fn node_fetch_and_python_urllib_read_early_answers_to_large_uploads() {
    let server = TestServer::start_with(&[("MEDIALIB_MAX_UPLOAD_BYTES", "1048576")]).await;
    let url = format!("{}/v1/media", server.base);
    let node = r#"
const [url, key] = process.argv.slice(1);
const body = new Uint8Array(5 * 1024 * 1024);
for (const auth of [true, false]) {
  for (const chunked of [false, true]) {
    const headers = { "Content-Type": "application/octet-stream" };
    if (auth) headers.Authorization = `Bearer ${key}`;
    const init = { method: "POST", headers };
    if (chunked) { init.body = new Blob([body]).stream(); init.duplex = "half"; } else { init.body = body; }
    try {
      const response = await fetch(`${url}?path=node-${auth}-${chunked}.bin`, init);
      const json = await response.json();
      console.log(`${response.status} ${json.code}`);
    } catch (error) {
      console.log(`ERROR ${error.cause?.code ?? error.message}`);
    }
  }
}
"#;
    let python = r#"
import json, sys, urllib.error, urllib.request
url, key = sys.argv[1:]
data = b"x" * (5 * 1024 * 1024)
for auth in (True, False):
    for chunked in (False, True):
        body = (data[i:i + 65536] for i in range(0, len(data), 65536)) if chunked else data
        headers = {"Content-Type": "application/octet-stream"}
        if auth:
            headers["Authorization"] = "Bearer " + key
        request = urllib.request.Request(f"{url}?path=py-{auth}-{chunked}.bin", data=body, method="POST", headers=headers)
        try:
            urllib.request.urlopen(request)
            print("2xx")
        except urllib.error.HTTPError as error:
            print(error.code, json.loads(error.read())["code"])
        except Exception as error:
            print("ERROR", repr(error))
"#;
    let expected =
        "413 payload_too_large\n413 payload_too_large\n401 unauthorized\n401 unauthorized\n";
    for (program, args) in [
        ("node", ["--input-type=module", "-e", node, "--"]),
        ("python3", ["-c", python, "", ""]),
    ] {
        let output = Command::new(program)
            .args(args.iter().filter(|arg| !arg.is_empty()))
            .args([&url, &server.admin])
            .output()
            .unwrap_or_else(|err| panic!("run {program}: {err}"));
        assert!(
            output.status.success(),
            "{program}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            expected,
            "{program}"
        );
    }
    assert_eq!(server.usage(&server.admin).await, (0, 0));
}
