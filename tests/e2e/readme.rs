//! The README's quickstart, run as written against a real server: the shell block under
//! "## Quickstart", with the server's address for the default one, the built binary for
//! `cargo run --release --`, and `curl -f`, so that any error answer fails the script.

use std::process::Command;

use crate::helpers::*;

/// The first ```sh block after `## Quickstart` in README.md.
fn quickstart() -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("README.md");
    let section = readme
        .split_once("## Quickstart")
        .expect("a Quickstart section")
        .1;
    let block = section.split_once("```sh\n").expect("a shell block").1;
    block
        .split_once("```")
        .expect("a closed block")
        .0
        .to_owned()
}

#[tokio::test]
async fn the_readme_quickstart_runs_as_written() {
    let server = TestServer::start().await;
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"),
        server.dir.path().join("README.md"),
    )
    .expect("copy README.md next to data/");
    let script = quickstart()
        .replace("http://127.0.0.1:8080", &server.base)
        .replace("cargo run --release --", BIN)
        .replace("curl -s ", "curl -sf ");
    let output = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(server.dir.path())
        .env("MEDIALIB_DATABASE_URL", &server.backend.database_url)
        .env("MEDIALIB_BLOB_URL", &server.backend.blob_url)
        .env("RUST_LOG", "error")
        .output()
        .expect("run bash");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the quickstart failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains(r#""message":"Media deleted successfully""#),
        "{stdout}"
    );
    assert!(stdout.contains(r#""storage":"purged""#), "{stdout}");
    assert!(stdout.contains("mlk_"), "a key was created: {stdout}");
    // The first file is deleted; the second is back from the trash.
    server
        .get(&server.admin, "/v1/media/1")
        .await
        .expect(404, Some("media_not_found"));
    let restored = server.get(&server.admin, "/v1/media/2").await;
    assert_eq!(restored.expect(200, None)["content_type"], "text/markdown");
}
