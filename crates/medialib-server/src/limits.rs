//! Rate limits of deletes and uploads, per credential and per tenant, held in this process
//! (GCRA buckets from `governor`).
//!
//! Each budget refills at its rate per second and holds at most one second's worth (its
//! burst). A request costs one item per media item it deletes or uploads; a cost above the
//! burst counts as the burst, so a full budget always lets a request through. The credential's
//! budget is spent first: a request the tenant's budget refuses has still spent the
//! credential's. Several instances each keep their own budgets (see docs/operations.md for
//! what a shared limiter needs).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota};
use medialib_domain::{Actor, Budget, Credential, RateLimited, RateLimiter};

/// Items per second; 0 leaves a budget unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rates {
    /// Deletes per second of one API key (or one user of a token or of the embedding service).
    pub deletes_per_key: u32,
    /// Deletes per second of a whole tenant, unless its settings say otherwise.
    pub deletes_per_tenant: u32,
    /// Uploads per second of one API key.
    pub uploads_per_key: u32,
    /// Uploads per second of a whole tenant, unless its settings say otherwise.
    pub uploads_per_tenant: u32,
}

/// Whose budget.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Scope {
    Key(String),
    User(i64, String),
    Tenant(i64),
}

#[derive(Debug)]
struct Bucket {
    rate: NonZeroU32,
    limiter: DefaultDirectRateLimiter,
}

/// Buckets beyond this many are dropped all at once (every budget starts full again), which
/// bounds memory when many distinct users send tokens.
const MAX_BUCKETS: usize = 100_000;

/// The in-process limiter.
#[derive(Debug)]
pub struct GovernorLimiter {
    rates: Rates,
    clock: DefaultClock,
    buckets: Mutex<HashMap<(Scope, Budget), Bucket>>,
}

impl GovernorLimiter {
    /// A limiter with these default rates.
    pub fn new(rates: Rates) -> Self {
        Self {
            rates,
            clock: DefaultClock::default(),
            buckets: Mutex::default(),
        }
    }

    /// Spends `cost` from the bucket of `scope` (made only when the budget is limited, so an
    /// unlimited server allocates nothing per request).
    fn take(
        &self,
        scope: impl FnOnce() -> Scope,
        budget: Budget,
        rate: u32,
        cost: u32,
    ) -> Result<(), RateLimited> {
        let Some(rate) = NonZeroU32::new(rate) else {
            return Ok(());
        };
        let cost = NonZeroU32::new(cost.clamp(1, rate.get())).unwrap_or(rate);
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() >= MAX_BUCKETS {
            buckets.clear();
        }
        let bucket = buckets
            .entry((scope(), budget))
            .or_insert_with(|| bucket(rate));
        if bucket.rate != rate {
            *bucket = self::bucket(rate);
        }
        match bucket.limiter.check_n(cost) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => Err(RateLimited {
                budget,
                limit: rate.get(),
                retry_after: not_until.wait_time_from(self.clock.now()),
            }),
            // The cost is at most the burst, so it always fits.
            Err(_) => Ok(()),
        }
    }
}

fn bucket(rate: NonZeroU32) -> Bucket {
    Bucket {
        rate,
        limiter: governor::RateLimiter::direct(Quota::per_second(rate)),
    }
}

#[async_trait::async_trait]
impl RateLimiter for GovernorLimiter {
    async fn spend(&self, actor: &Actor, budget: Budget, cost: u32) -> Result<(), RateLimited> {
        let (per_key, per_tenant, tenant_override) = match budget {
            Budget::Deletes => (
                self.rates.deletes_per_key,
                self.rates.deletes_per_tenant,
                actor.settings.delete_rate_limit,
            ),
            Budget::Uploads => (
                self.rates.uploads_per_key,
                self.rates.uploads_per_tenant,
                actor.settings.upload_rate_limit,
            ),
        };
        let credential = || match actor.credential {
            Credential::ApiKey => Scope::Key(actor.key_id.clone()),
            _ => Scope::User(actor.tenant_id.0, actor.user_id.as_str().to_owned()),
        };
        self.take(credential, budget, per_key, cost)?;
        let tenant_rate = tenant_override.unwrap_or(per_tenant);
        let tenant = || Scope::Tenant(actor.tenant_id.0);
        self.take(tenant, budget, tenant_rate, cost)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use medialib_domain::{Role, TenantId, TenantSettings, TenantSlug, UserId};

    fn actor(key: &str, tenant: i64, settings: TenantSettings) -> Actor {
        Actor {
            tenant_id: TenantId(tenant),
            tenant_slug: TenantSlug::parse("acme").unwrap(),
            user_id: UserId::parse("alice").unwrap(),
            role: Role::Member,
            key_id: key.to_owned(),
            settings,
            credential: Credential::ApiKey,
        }
    }

    fn spend(limiter: &GovernorLimiter, actor: &Actor, budget: Budget, cost: u32) -> bool {
        futures::executor::block_on(limiter.spend(actor, budget, cost)).is_ok()
    }

    #[test]
    fn a_key_gets_its_burst_then_is_refused_with_a_wait() {
        let limiter = GovernorLimiter::new(Rates {
            deletes_per_key: 5,
            ..Rates::default()
        });
        let alice = actor("k1", 1, TenantSettings::default());
        assert!((0..5).all(|_| spend(&limiter, &alice, Budget::Deletes, 1)));
        let refused = futures::executor::block_on(limiter.spend(&alice, Budget::Deletes, 1))
            .expect_err("the sixth delete within a second is refused");
        assert_eq!(refused.budget, Budget::Deletes);
        assert_eq!(refused.limit, 5);
        assert!(refused.retry_after > std::time::Duration::ZERO);
        assert!(refused.retry_after <= std::time::Duration::from_millis(200));
        // Other keys and the upload budget are apart.
        let bob = actor("k2", 1, TenantSettings::default());
        assert!(spend(&limiter, &bob, Budget::Deletes, 1));
        assert!(spend(&limiter, &alice, Budget::Uploads, 1));
    }

    #[test]
    fn a_cost_above_the_burst_passes_on_a_full_budget_and_empties_it() {
        let limiter = GovernorLimiter::new(Rates {
            deletes_per_key: 10,
            ..Rates::default()
        });
        let alice = actor("k1", 1, TenantSettings::default());
        assert!(spend(&limiter, &alice, Budget::Deletes, 1000));
        assert!(!spend(&limiter, &alice, Budget::Deletes, 1));
    }

    #[test]
    fn the_tenant_budget_is_shared_and_its_setting_overrides_the_default() {
        let limiter = GovernorLimiter::new(Rates {
            deletes_per_tenant: 100,
            ..Rates::default()
        });
        let strict = TenantSettings {
            delete_rate_limit: Some(2),
            ..TenantSettings::default()
        };
        let a = actor("k1", 7, strict);
        let b = actor("k2", 7, strict);
        assert!(spend(&limiter, &a, Budget::Deletes, 1));
        assert!(spend(&limiter, &b, Budget::Deletes, 1));
        assert!(!spend(&limiter, &a, Budget::Deletes, 1));
        // Another tenant on the default keeps its own budget.
        let other = actor("k3", 8, TenantSettings::default());
        assert!(spend(&limiter, &other, Budget::Deletes, 50));
        // 0 lifts the limit for one tenant.
        let lifted = actor(
            "k4",
            9,
            TenantSettings {
                delete_rate_limit: Some(0),
                ..TenantSettings::default()
            },
        );
        assert!((0..500).all(|_| spend(&limiter, &lifted, Budget::Deletes, 1)));
    }

    #[test]
    fn no_rates_limit_nothing() {
        let limiter = GovernorLimiter::new(Rates::default());
        let alice = actor("k1", 1, TenantSettings::default());
        assert!((0..10_000).all(|_| spend(&limiter, &alice, Budget::Uploads, 1)));
    }
}
