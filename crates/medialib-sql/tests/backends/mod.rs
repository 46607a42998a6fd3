//! The databases the adapter tests run on: SQLite always (a temp file), and PostgreSQL and
//! MySQL/MariaDB when `MEDIALIB_TEST_POSTGRES_URL` / `MEDIALIB_TEST_MYSQL_URL` name a server.
//! Each test gets a fresh, uniquely named database, dropped afterwards. A configured server
//! that cannot be reached fails the test.

use medialib_sql::{SeaOrmMediaRepo, SqlConfig};
use medialib_test_support::TestDatabase;

/// A fresh, migrated repository and what keeps its database alive.
pub struct Backend {
    pub name: &'static str,
    pub repo: SeaOrmMediaRepo,
    _guard: Guard,
}

enum Guard {
    Dir(#[allow(dead_code)] tempfile::TempDir),
    Server(#[allow(dead_code)] TestDatabase),
}

async fn server(name: &'static str, admin_url: &str) -> Backend {
    let database = TestDatabase::create(admin_url).await;
    let repo = SeaOrmMediaRepo::connect(&SqlConfig::new(database.url.as_str()))
        .await
        .unwrap();
    repo.migrate().await.unwrap();
    Backend {
        name,
        repo,
        _guard: Guard::Server(database),
    }
}

/// A fresh `name` backend (`sqlite`, `postgres` or `mysql`), or `None` when that server is
/// not configured.
pub async fn named(name: &'static str) -> Option<Backend> {
    if name == "sqlite" {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let repo = SeaOrmMediaRepo::connect(&SqlConfig::new(url))
            .await
            .unwrap();
        repo.migrate().await.unwrap();
        repo.migrate().await.expect("migrations are idempotent");
        return Some(Backend {
            name,
            repo,
            _guard: Guard::Dir(dir),
        });
    }
    let var = match name {
        "postgres" => "MEDIALIB_TEST_POSTGRES_URL",
        _ => "MEDIALIB_TEST_MYSQL_URL",
    };
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(server(name, &url).await),
        _ => {
            eprintln!("{name}: not run ({var} is not set)");
            None
        }
    }
}

/// Every configured backend, fresh.
pub async fn all() -> Vec<Backend> {
    let mut backends = Vec::new();
    for name in ["sqlite", "postgres", "mysql"] {
        backends.extend(named(name).await);
    }
    backends
}
