//! The command line: keys, tenants, config errors, the admin key file.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use crate::helpers::*;

fn run(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut command = Command::new(BIN);
    command
        .current_dir(dir)
        .args(args)
        .env_remove("MEDIALIB_DATABASE_URL")
        .env_remove("MEDIALIB_BLOB_URL")
        .env("RUST_LOG", "error");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("run medialib")
}

#[tokio::test]
async fn first_start_writes_a_private_admin_key() {
    let server = TestServer::start().await;
    let mode = std::fs::metadata(server.data().join("admin.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(server.admin.starts_with("mlk_"));
    let keys = server.cli(&["keys", "list"]);
    assert_eq!(keys.lines().count(), 1);
    assert!(keys.contains("default\tadmin\tadmin\tactive"), "{keys}");
}

#[test]
fn keys_create_prints_the_key_alone_and_refuses_unknown_tenants() {
    let dir = tempfile::tempdir().unwrap();
    assert!(run(dir.path(), &["tenants", "create", "acme"], &[])
        .status
        .success());
    let created = run(
        dir.path(),
        &[
            "keys", "create", "--tenant", "acme", "--user", "u", "--role", "viewer",
        ],
        &[],
    );
    let stdout = String::from_utf8(created.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1);
    assert!(stdout.starts_with("mlk_"));
    let missing = run(
        dir.path(),
        &[
            "keys", "create", "--tenant", "nope", "--user", "u", "--role", "admin",
        ],
        &[],
    );
    assert!(!missing.status.success());
    let bad_role = run(
        dir.path(),
        &[
            "keys", "create", "--tenant", "acme", "--user", "u", "--role", "root",
        ],
        &[],
    );
    assert!(!bad_role.status.success());
    let twice = run(dir.path(), &["tenants", "create", "acme"], &[]);
    assert!(!twice.status.success());
}

#[test]
fn bad_configuration_exits_non_zero_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &str); 4] = [
        ("MEDIALIB_LISTEN", "not-an-address"),
        ("MEDIALIB_DATABASE_URL", "oracle://db"),
        ("MEDIALIB_MAX_UPLOAD_BYTES", "lots"),
        ("MEDIALIB_LOG_FORMAT", "xml"),
    ];
    for (key, value) in cases {
        let output = run(dir.path(), &["serve"], &[(key, value)]);
        assert!(!output.status.success(), "{key}={value} was accepted");
        let stderr = String::from_utf8(output.stderr).unwrap();
        let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(lines.len(), 1, "{stderr}");
    }
}

#[test]
fn unusable_database_or_blob_directory_fails_startup() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("file"), b"x").unwrap();
    let blob_on_file = run(
        dir.path(),
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--blob-url",
            "file/blobs",
        ],
        &[],
    );
    assert!(!blob_on_file.status.success());
    assert!(String::from_utf8_lossy(&blob_on_file.stderr).contains("blob store"));
    let db_on_file = run(
        dir.path(),
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            "sqlite://file/x.db",
        ],
        &[],
    );
    assert!(!db_on_file.status.success());
    let unreachable = run(
        dir.path(),
        &[
            "migrate",
            "--database-url",
            "postgres://nobody@127.0.0.1:1/none",
        ],
        &[],
    );
    assert!(!unreachable.status.success());
    assert!(String::from_utf8_lossy(&unreachable.stderr).contains("cannot connect to the database"));
}
