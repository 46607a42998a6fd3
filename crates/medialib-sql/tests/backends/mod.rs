//! The databases the adapter tests run on: SQLite always (a temp file), and PostgreSQL and
//! MySQL/MariaDB when `MEDIALIB_TEST_POSTGRES_URL` / `MEDIALIB_TEST_MYSQL_URL` name a server.
//! Each test gets a fresh, uniquely named database, dropped afterwards. A configured server
//! that cannot be reached fails the test.

use medialib_sql::{SeaOrmMediaRepo, SqlConfig};
use sea_orm::{ConnectionTrait, Database};

/// A fresh, migrated repository and what keeps its database alive.
pub struct Backend {
    pub name: &'static str,
    pub repo: SeaOrmMediaRepo,
    _guard: Guard,
}

enum Guard {
    Dir(#[allow(dead_code)] tempfile::TempDir),
    Server { admin_url: String, database: String },
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Guard::Server {
            admin_url,
            database,
        } = self
        {
            let (admin_url, database) = (admin_url.clone(), database.clone());
            // Best effort, on a thread of its own: Drop cannot await.
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                runtime.block_on(async {
                    if let Ok(db) = Database::connect(admin_url.as_str()).await {
                        // PostgreSQL refuses while pooled connections linger, unless forced.
                        let force = if admin_url.starts_with("postgres") {
                            " WITH (FORCE)"
                        } else {
                            ""
                        };
                        let _ = db
                            .execute_unprepared(&format!(
                                "DROP DATABASE IF EXISTS {database}{force}"
                            ))
                            .await;
                    }
                });
                Ok::<_, std::io::Error>(())
            })
            .join();
        }
    }
}

/// Replaces the database name (the last path segment) of a server URL.
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let base = base.rsplit_once('/').map_or(base, |(server, _)| server);
    match query {
        Some(query) => format!("{base}/{database}?{query}"),
        None => format!("{base}/{database}"),
    }
}

async fn server(name: &'static str, admin_url: &str) -> Backend {
    let database = format!("medialib_t_{}", &uuid_like());
    let admin = Database::connect(admin_url)
        .await
        .unwrap_or_else(|err| panic!("{name} at {admin_url} cannot be reached: {err}"));
    admin
        .execute_unprepared(&format!("CREATE DATABASE {database}"))
        .await
        .unwrap_or_else(|err| panic!("cannot create a {name} test database: {err}"));
    let repo = SeaOrmMediaRepo::connect(&SqlConfig::new(with_database(admin_url, &database)))
        .await
        .unwrap();
    repo.migrate().await.unwrap();
    Backend {
        name,
        repo,
        _guard: Guard::Server {
            admin_url: admin_url.to_owned(),
            database,
        },
    }
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::{SystemTime, UNIX_EPOCH};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{:x}_{:x}_{n}", nanos % (1 << 48), std::process::id())
}

/// Every configured backend, fresh.
pub async fn all() -> Vec<Backend> {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let repo = SeaOrmMediaRepo::connect(&SqlConfig::new(url))
        .await
        .unwrap();
    repo.migrate().await.unwrap();
    repo.migrate().await.expect("migrations are idempotent");
    let mut backends = vec![Backend {
        name: "sqlite",
        repo,
        _guard: Guard::Dir(dir),
    }];
    for (name, var) in [
        ("postgres", "MEDIALIB_TEST_POSTGRES_URL"),
        ("mysql", "MEDIALIB_TEST_MYSQL_URL"),
    ] {
        match std::env::var(var) {
            Ok(url) if !url.is_empty() => backends.push(server(name, &url).await),
            _ => eprintln!("{name}: not run ({var} is not set)"),
        }
    }
    backends
}
