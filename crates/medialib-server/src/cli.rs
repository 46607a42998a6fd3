//! The command line: one subcommand, one function. Results go to stdout, logs to stderr.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use medialib_api::compat::Profile;

use medialib_domain::error::chain;
use medialib_domain::service::gc::{GcOptions, GcProgress};
use medialib_domain::service::reaper::ReapReport;

use crate::config::{Overrides, Settings};
use crate::wiring;

/// medialib: a media library whose deletes are durable, consistent, authorized and fast.
#[derive(Debug, Parser)]
#[command(name = "medialib", version)]
pub struct Cli {
    /// Config file (default: ./medialib.toml when present).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Database URL: sqlite:path, postgres://…, mysql://…
    #[arg(long, global = true)]
    database_url: Option<String>,
    /// Blob store URL: a directory, file:///dir, or memory://
    #[arg(long, global = true)]
    blob_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP server (migrates the database first).
    Serve {
        /// Address to listen on, e.g. 127.0.0.1:8080 (port 0 picks a free one).
        #[arg(long)]
        listen: Option<String>,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Manage tenants.
    #[command(subcommand)]
    Tenants(TenantsCommand),
    /// Manage API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Print the OpenAPI document of `/v1`, or of one compatibility profile.
    Openapi {
        /// The profile whose routes to document (`gallery`, `swiftia`, `swonkie`,
        /// `catdata`, `defdrive`).
        #[arg(long, value_name = "PROFILE")]
        compat: Option<String>,
    },
    /// Work off pending blob deletions once, then print a summary.
    Reap {
        /// Also take records that are not due yet, leased, or upload intents. Only for a
        /// store that no server is using: every upload in progress counts as abandoned.
        #[arg(long)]
        all: bool,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Deliver webhook events once: record the deliveries of events committed since the
    /// last run and send every delivery that is due, until none is; then print a summary.
    /// Deliveries that failed wait for their retry (the next run, or a server).
    Deliver {
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Erase everything a user owns in a tenant (live and trashed media with their tags,
    /// grants, references, community copies and blobs), keeping held media; runs the erasure
    /// job here, with a progress bar, and prints its receipt.
    EraseUser {
        /// The tenant.
        #[arg(long, default_value = "default")]
        tenant: String,
        /// The user whose media to erase.
        user: String,
        /// Print the receipt as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Compare the blob store with the database: orphan blobs and rows without blobs.
    Gc {
        /// Report only (the default unless --fix).
        #[arg(long, conflicts_with = "fix")]
        dry_run: bool,
        /// Orphan blobs younger than this are left alone (e.g. 1h, 30m, 0s).
        #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
        grace: std::time::Duration,
        /// Delete orphan blobs and remove rows whose blob is missing.
        #[arg(long)]
        fix: bool,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum TenantsCommand {
    /// Create a tenant.
    Create {
        /// Tenant slug: a-z, 0-9 and '-'.
        slug: String,
    },
    /// Set a tenant's rate limits (for all of its callers together); prints them.
    Limits {
        /// Tenant slug.
        slug: String,
        /// Deletes per second: a number (0: unlimited) or `default` (the server's setting).
        #[arg(long, value_parser = parse_rate)]
        deletes: Option<RateSetting>,
        /// Uploads per second: a number (0: unlimited) or `default`.
        #[arg(long, value_parser = parse_rate)]
        uploads: Option<RateSetting>,
    },
}

/// A tenant's rate: its own number, or the server's default.
#[derive(Debug, Clone, Copy)]
struct RateSetting(Option<u32>);

fn parse_rate(raw: &str) -> Result<RateSetting, String> {
    if raw == "default" {
        return Ok(RateSetting(None));
    }
    raw.parse()
        .map(|rate| RateSetting(Some(rate)))
        .map_err(|_| format!("expected a number of items per second or `default`, not {raw:?}"))
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Create an API key; prints the key (shown only once).
    Create(CreateKey),
    /// List API keys (never their secrets).
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke an API key by id.
    Revoke {
        /// The key id (as listed).
        id: String,
    },
    /// Replace an API key: prints a new key for the same tenant, user and role; the old one
    /// keeps working for the overlap, then expires.
    Rotate {
        /// The key id (as listed).
        id: String,
        /// How long the old key keeps working (e.g. 24h, 30m, 0s).
        #[arg(long, default_value = "24h", value_parser = humantime::parse_duration)]
        overlap: std::time::Duration,
        /// The new key expires this long after it is made (e.g. 90d); never when absent.
        #[arg(long, value_parser = humantime::parse_duration)]
        expires_in: Option<std::time::Duration>,
        /// Print a JSON object instead of the bare key.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
struct CreateKey {
    /// Tenant slug.
    #[arg(long)]
    tenant: String,
    /// User id.
    #[arg(long)]
    user: String,
    /// admin, member or viewer.
    #[arg(long)]
    role: String,
    /// The key expires this long after it is made (e.g. 90d, 12h); never when absent.
    #[arg(long, value_parser = humantime::parse_duration)]
    expires_in: Option<std::time::Duration>,
    /// Print a JSON object instead of the bare key.
    #[arg(long)]
    json: bool,
}

impl Cli {
    /// Runs the chosen subcommand.
    ///
    /// # Errors
    /// Whatever the subcommand failed with, with context.
    pub async fn run(self) -> anyhow::Result<()> {
        let mut overrides = Overrides {
            database_url: self.database_url,
            blob_url: self.blob_url,
            listen: None,
        };
        if let Command::Serve { listen } = &self.command {
            overrides.listen.clone_from(listen);
        }
        let settings = Settings::load(self.config.as_deref(), &overrides)?;
        crate::telemetry::init(settings.log_format);
        match self.command {
            Command::Serve { .. } => wiring::serve(&settings).await,
            Command::Migrate => migrate(&settings).await,
            Command::Tenants(TenantsCommand::Create { slug }) => {
                create_tenant(&settings, &slug).await
            }
            Command::Tenants(TenantsCommand::Limits {
                slug,
                deletes,
                uploads,
            }) => set_limits(&settings, &slug, deletes, uploads).await,
            Command::Keys(KeysCommand::Create(args)) => create_key(&settings, &args).await,
            Command::Keys(KeysCommand::List { json }) => list_keys(&settings, json).await,
            Command::Keys(KeysCommand::Revoke { id }) => revoke_key(&settings, &id).await,
            Command::Keys(KeysCommand::Rotate {
                id,
                overlap,
                expires_in,
                json,
            }) => rotate_key(&settings, &id, overlap, expires_in, json).await,
            Command::Openapi { compat } => openapi(compat.as_deref()).await,
            Command::Reap { all, json } => reap(&settings, all, json).await,
            Command::Deliver { json } => deliver(&settings, json).await,
            Command::EraseUser { tenant, user, json } => {
                erase_user(&settings, &tenant, &user, json).await
            }
            Command::Gc {
                dry_run: _,
                grace,
                fix,
                json,
            } => gc(&settings, GcOptions { grace, fix }, json).await,
        }
    }
}

fn service_err(err: medialib_domain::ServiceError) -> anyhow::Error {
    anyhow::anyhow!("{}", chain(&err))
}

async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    wiring::build(settings).await?;
    println!("migrations applied");
    Ok(())
}

async fn create_tenant(settings: &Settings, slug: &str) -> anyhow::Result<()> {
    let app = wiring::build(settings).await?;
    let tenant = app.service.create_tenant(slug).await.map_err(service_err)?;
    println!("{}", tenant.slug);
    Ok(())
}

async fn set_limits(
    settings: &Settings,
    slug: &str,
    deletes: Option<RateSetting>,
    uploads: Option<RateSetting>,
) -> anyhow::Result<()> {
    let app = wiring::build(settings).await?;
    let limits = app
        .service
        .set_tenant_rate_limits(slug, deletes.map(|r| r.0), uploads.map(|r| r.0))
        .await
        .map_err(service_err)?;
    let show = |rate: Option<u32>| rate.map_or_else(|| "default".to_owned(), |n| n.to_string());
    println!(
        "deletes_per_second={} uploads_per_second={}",
        show(limits.delete_rate_limit),
        show(limits.upload_rate_limit)
    );
    Ok(())
}

async fn create_key(settings: &Settings, args: &CreateKey) -> anyhow::Result<()> {
    let app = wiring::build(settings).await?;
    let issued = app
        .service
        .create_api_key_expiring(&args.tenant, &args.user, &args.role, args.expires_in)
        .await
        .map_err(service_err)?;
    print_issued(&issued, args.json);
    Ok(())
}

async fn rotate_key(
    settings: &Settings,
    id: &str,
    overlap: std::time::Duration,
    expires_in: Option<std::time::Duration>,
    json: bool,
) -> anyhow::Result<()> {
    let app = wiring::build(settings).await?;
    let issued = app
        .service
        .rotate_api_key(id, overlap, expires_in)
        .await
        .map_err(service_err)?;
    print_issued(&issued, json);
    Ok(())
}

/// Prints a new key: bare, or as JSON with its record.
fn print_issued(issued: &medialib_domain::service::keys::IssuedKey, json: bool) {
    if json {
        let mut object = key_json(&issued.key);
        object["key"] = issued.token.clone().into();
        println!("{object}");
    } else {
        println!("{}", issued.token);
    }
}

/// A key's record as JSON (never its secret).
fn key_json(key: &medialib_domain::ApiKey) -> serde_json::Value {
    let at = |time: Option<time::OffsetDateTime>| {
        time.and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
    };
    serde_json::json!({
        "id": key.id,
        "tenant": key.tenant_slug.as_str(),
        "user_id": key.user_id.as_str(),
        "role": key.role.as_str(),
        "revoked": key.revoked_at.is_some(),
        "created_at": at(Some(key.created_at)),
        "expires_at": at(key.expires_at),
        "last_used_at": at(key.last_used_at),
    })
}

async fn list_keys(settings: &Settings, json: bool) -> anyhow::Result<()> {
    let app = wiring::build(settings).await?;
    let keys = app.service.list_api_keys().await.map_err(service_err)?;
    if json {
        let rows: Vec<_> = keys.iter().map(key_json).collect();
        println!("{}", serde_json::Value::Array(rows));
    } else {
        let now = time::OffsetDateTime::now_utc();
        for key in keys {
            let state = if key.revoked_at.is_some() {
                "revoked"
            } else if key.expires_at.is_some_and(|at| at <= now) {
                "expired"
            } else {
                "active"
            };
            let row = key_json(&key);
            let or_dash = |field: &str| row[field].as_str().unwrap_or("-").to_owned();
            println!(
                "{}\t{}\t{}\t{}\t{state}\texpires={}\tlast_used={}",
                key.id,
                key.tenant_slug,
                key.user_id,
                key.role.as_str(),
                or_dash("expires_at"),
                or_dash("last_used_at"),
            );
        }
    }
    Ok(())
}

async fn revoke_key(settings: &Settings, id: &str) -> anyhow::Result<()> {
    let app = wiring::build(settings).await?;
    app.service.revoke_api_key(id).await.map_err(service_err)?;
    println!("revoked {id}");
    Ok(())
}

/// A progress bar on a terminal, nothing otherwise.
fn progress_bar(message: &'static str) -> indicatif::ProgressBar {
    let bar = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        indicatif::ProgressBar::new_spinner()
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {msg}: {pos} ({per_sec})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    bar.set_message(message);
    bar
}

async fn reap(settings: &Settings, all: bool, json: bool) -> anyhow::Result<()> {
    let app = wiring::build(settings).await?;
    // As in the server, the records of purged blobs are forgotten by the committer, alongside
    // the next pass's deletes; it finishes once the service that feeds it is dropped.
    let (service, committer) = app
        .service
        .clone()
        .with_group_commit(settings.group_commit_max_batch);
    let committer = tokio::spawn(committer.run(wiring::forget_pause));
    let bar = progress_bar("blob deletions worked");
    let progress = |done: &ReapReport| {
        bar.set_position(done.claimed as u64);
        true
    };
    let total = service
        .reap_until_done(wiring::REAP_BATCH, all, &progress)
        .await
        .map_err(service_err);
    drop(service);
    committer.await.context("group committer")?;
    let total = total?;
    bar.finish_and_clear();
    if json {
        let summary = serde_json::json!({
            "claimed": total.claimed,
            "purged": total.purged,
            "retried": total.retried,
            "parked": total.parked,
        });
        println!("{summary}");
    } else {
        println!(
            "claimed {}, purged {}, retried later {}, parked as failed {}",
            total.claimed, total.purged, total.retried, total.parked
        );
    }
    Ok(())
}

async fn erase_user(
    settings: &Settings,
    tenant: &str,
    user: &str,
    json: bool,
) -> anyhow::Result<()> {
    let app = wiring::build(settings).await?;
    let service = &app.service;
    let operator = service
        .act_as(tenant, "medialib-cli", "admin")
        .await
        .map_err(service_err)?;
    let job = service
        .start_erasure(&operator, user)
        .await
        .map_err(service_err)?;
    let bar = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        indicatif::ProgressBar::new(0)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} media ({per_sec}, {eta} left) {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let done = service
        .run_job(job.id, |job| {
            if let Some(total) = job.progress.total {
                bar.set_length(total);
            }
            bar.set_position(job.progress.processed);
            bar.set_message(format!(
                "{} deleted, {} kept",
                job.progress.counts.deleted,
                job.progress.counts.held
                    + job.progress.counts.in_use
                    + job.progress.counts.forbidden
            ));
        })
        .await
        .map_err(service_err)?
        .with_context(|| format!("job {} is run by another process", job.id))?;
    bar.finish_and_clear();
    let p = &done.progress;
    if json {
        // The job's progress is its receipt: counts, freed bytes, revoked grants, what was kept.
        let mut receipt = serde_json::to_value(p)?;
        receipt["job"] = done.id.into();
        receipt["state"] = done.state.as_str().into();
        receipt["user"] = user.into();
        println!("{receipt}");
    } else {
        println!(
            "job {}: {}; deleted {} media ({} bytes), kept {} held",
            done.id,
            done.state.as_str(),
            p.counts.deleted,
            p.counts.freed_bytes,
            p.counts.held
        );
        for kept in &p.kept {
            println!(
                "  kept {} ({}{})",
                kept.media_id,
                kept.reason,
                if kept.holds.is_empty() {
                    String::new()
                } else {
                    format!(": {}", kept.holds.join("; "))
                }
            );
        }
    }
    if done.state == medialib_domain::JobState::Succeeded {
        Ok(())
    } else {
        anyhow::bail!(
            "erasure {}: {}",
            done.state.as_str(),
            done.error.unwrap_or_default()
        )
    }
}

async fn deliver(settings: &Settings, json: bool) -> anyhow::Result<()> {
    let app = wiring::build(settings).await?;
    let bar = progress_bar("webhook attempts");
    let total = app
        .service
        .deliver_due(wiring::WEBHOOK_BATCH, |done| {
            bar.set_position(done.attempted as u64);
        })
        .await
        .map_err(service_err)?;
    bar.finish_and_clear();
    if json {
        let summary = serde_json::json!({
            "enqueued": total.enqueued,
            "attempted": total.attempted,
            "delivered": total.delivered,
            "retried": total.retried,
            "dead": total.dead,
        });
        println!("{summary}");
    } else {
        println!(
            "recorded {}, attempted {}, delivered {}, retried later {}, dead-lettered {}",
            total.enqueued, total.attempted, total.delivered, total.retried, total.dead
        );
    }
    Ok(())
}

async fn gc(settings: &Settings, options: GcOptions, json: bool) -> anyhow::Result<()> {
    let app = wiring::build(settings).await?;
    let blobs = progress_bar("blobs listed");
    let rows = progress_bar("rows checked");
    let report = app
        .service
        .reconcile(options, &|step| match step {
            GcProgress::Blobs(n) => blobs.inc(n),
            GcProgress::Rows(n) => rows.inc(n),
        })
        .await
        .map_err(service_err)?;
    blobs.finish_and_clear();
    rows.finish_and_clear();
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        let verb = if options.fix {
            "fixed"
        } else {
            "found (dry run)"
        };
        println!(
            "scanned {} blobs and {} rows",
            report.scanned_blobs, report.scanned_rows
        );
        println!(
            "orphan blobs: {} ({} bytes), {verb}: {}",
            report.orphan_blobs, report.orphan_bytes, report.deleted_blobs
        );
        println!(
            "rows without blob: {}, {verb}: {}",
            report.dangling_rows, report.removed_rows
        );
    }
    Ok(())
}

async fn openapi(compat: Option<&str>) -> anyhow::Result<()> {
    let profile = compat
        .map(|name| Profile::parse(name).with_context(|| format!("unknown profile {name:?}")))
        .transpose()?;
    println!("{}", spec(profile).await?);
    Ok(())
}

/// The OpenAPI document of `/v1`, or of a profile's routes. The API is wired to an in-memory
/// store that is never called.
///
/// # Errors
/// If the in-memory wiring fails.
pub async fn spec(profile: Option<Profile>) -> anyhow::Result<String> {
    let settings = Settings::load(
        None,
        &Overrides {
            database_url: Some("sqlite::memory:".into()),
            blob_url: Some("memory://".into()),
            listen: None,
        },
    )?;
    let app = wiring::build(&settings).await.context("in-memory wiring")?;
    Ok(match profile {
        Some(profile) => medialib_api::compat_openapi_json(&app.service, profile),
        None => medialib_api::openapi_json(&app.service),
    })
}

#[cfg(test)]
mod tests {
    use medialib_api::compat::Profile;

    /// `openapi/medialib.json` must be what `medialib openapi` prints; `just openapi` rewrites it.
    #[tokio::test]
    async fn committed_openapi_spec_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../openapi/medialib.json");
        let generated = super::spec(None).await.unwrap();
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed.trim_end() == generated.trim_end(),
            "openapi/medialib.json is stale: run `just openapi`"
        );
    }

    /// `openapi/compat/<profile>.json` must be what `medialib openapi --compat <profile>`
    /// prints, for every profile.
    #[tokio::test]
    async fn committed_compat_specs_are_current() {
        for profile in Profile::ALL {
            let path = format!(
                "{}/../../openapi/compat/{}.json",
                env!("CARGO_MANIFEST_DIR"),
                profile.name()
            );
            let generated = super::spec(Some(profile)).await.unwrap();
            let committed = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                committed.trim_end() == generated.trim_end(),
                "{path} is stale: run `just openapi`"
            );
        }
    }
}
