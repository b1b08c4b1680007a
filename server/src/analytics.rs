//! Call statistics and the dashboard's analytics: every `tools/call` a tenant's endpoint answers
//! is counted per day, tool and [`Outcome`], and read back with the tenant's checkouts and
//! revenue.
//!
//! Counting is on the hot path of every tool call, so [`AnalyticsService::record`] only adds one
//! to a counter in memory; a background task ([`AnalyticsService::spawn_flusher`]) adds the
//! counters to the `call_stat` table every [`FLUSH_INTERVAL`], and [`App::serve`] flushes once
//! more when it stops. Reads add the counters not saved yet to the saved ones, so they are
//! exact in this process. A crash loses at most the last interval's counters: these are
//! statistics, not money — what was billed is in the `usage` table, written in the call's own
//! transaction.
//!
//! [`App::serve`]: crate::app::App::serve

mod store;

use crate::billing::PurchaseStatus;
use crate::clock::Clock;
use crate::tenant::TenantId;
use chrono::{Days, NaiveDate, NaiveTime};
use sea_orm::{DatabaseConnection, DbErr, SqlErr};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often the counters in memory are added to the database.
pub const FLUSH_INTERVAL: Duration = Duration::from_secs(5);

/// The longest period a report covers, in days.
pub const MAX_DAYS: u32 = 366;

/// How one `tools/call` ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    /// A free tool (or a paid tool's free quota) answered.
    Free,
    /// A paid tool answered and the call was billed.
    Paid,
    /// The answer was a payment request (a link to pay, a pending payment, a spent cap).
    PaymentRequired,
    /// The tool failed: bad arguments, an upstream failure, payments unavailable.
    Error,
}

impl Outcome {
    /// The name stored in `call_stat.outcome`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Free => "free",
            Self::Paid => "paid",
            Self::PaymentRequired => "payment_required",
            Self::Error => "error",
        }
    }

    fn parse(raw: &str) -> Option<Self> {
        match raw {
            "free" => Some(Self::Free),
            "paid" => Some(Self::Paid),
            "payment_required" => Some(Self::PaymentRequired),
            "error" => Some(Self::Error),
            _ => None,
        }
    }

    fn index(self) -> usize {
        match self {
            Self::Free => 0,
            Self::Paid => 1,
            Self::PaymentRequired => 2,
            Self::Error => 3,
        }
    }
}

/// What can go wrong reading or saving statistics.
#[derive(Debug, thiserror::Error)]
pub enum AnalyticsError {
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] DbErr),
}

/// The numbers of a tenant's overview page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OverviewNumbers {
    /// Tool calls today (UTC).
    pub calls_today: u64,
    /// Tool calls in the last 30 days, today included.
    pub calls_30d: u64,
    /// Revenue in the last 30 days, per currency (see [`AnalyticsService::report`]).
    pub revenue_30d: Vec<Revenue>,
    /// End users holding a plan they can use now.
    pub paying_customers: u64,
}

/// Revenue in one currency.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Revenue {
    /// ISO code, lower case.
    pub currency: String,
    /// Minor units.
    pub amount: i64,
}

/// One tool's calls on one day (UTC), by how they ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DayCalls {
    /// The day.
    pub day: NaiveDate,
    /// The tool's name.
    pub tool: String,
    /// Free calls that succeeded.
    pub free: u64,
    /// Paid calls that succeeded.
    pub paid: u64,
    /// Calls answered with a payment request.
    pub payment_required: u64,
    /// Calls that failed.
    pub errors: u64,
}

/// Totals over a report's period.
#[derive(Clone, Debug, PartialEq)]
pub struct Totals {
    /// Every call.
    pub calls: u64,
    /// Free calls.
    pub free: u64,
    /// Paid calls.
    pub paid: u64,
    /// Payment requests.
    pub payment_required: u64,
    /// Failures.
    pub errors: u64,
    /// Checkouts opened.
    pub checkouts_started: u64,
    /// Checkouts paid.
    pub checkouts_paid: u64,
    /// `checkouts_paid / checkouts_started` (0 when none started).
    pub conversion: f64,
}

/// A tenant's analytics over a period (see [`AnalyticsService::report`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// The period, in days up to today.
    pub days: u32,
    /// Per day and tool, oldest first.
    pub daily: Vec<DayCalls>,
    /// Totals.
    pub totals: Totals,
    /// Revenue per currency.
    pub revenue: Vec<Revenue>,
}

/// Counters not saved yet. Keyed in two levels so that counting a call whose key exists
/// looks the tool up by `&str` and allocates nothing.
type Pending = HashMap<(TenantId, NaiveDate, Outcome), HashMap<String, u64>>;

/// Calls per (day, tool): free, paid, payment required, errors.
type Counts = BTreeMap<(NaiveDate, String), [u64; 4]>;

/// Call statistics for all tenants.
#[derive(Clone)]
pub struct AnalyticsService {
    db: DatabaseConnection,
    clock: Arc<dyn Clock>,
    pending: Arc<Mutex<Pending>>,
    /// Held by a flush from taking the counters until they are saved (or put back), and by a
    /// read while it reads both: a read never sees a counter twice, or not at all.
    flushing: Arc<tokio::sync::Mutex<()>>,
}

impl AnalyticsService {
    /// The service; nothing is saved until [`Self::flush`] or the flusher runs.
    pub fn new(db: DatabaseConnection, clock: Arc<dyn Clock>) -> Self {
        Self {
            db,
            clock,
            pending: Arc::default(),
            flushing: Arc::default(),
        }
    }

    /// Counts one tool call, today (UTC), in memory.
    pub fn record(&self, tenant: TenantId, tool: &str, outcome: Outcome) {
        let day = self.clock.now().date_naive();
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        let tools = pending.entry((tenant, day, outcome)).or_default();
        match tools.get_mut(tool) {
            Some(count) => *count += 1,
            None => {
                tools.insert(tool.to_owned(), 1);
            }
        }
    }

    /// Adds the counters in memory to the database. Each tenant's counters are saved in one
    /// transaction; those that could not be saved stay in memory for the next flush, except a
    /// deleted tenant's, which are dropped.
    pub async fn flush(&self) -> Result<(), AnalyticsError> {
        let _flushing = self.flushing.lock().await;
        let taken =
            std::mem::take(&mut *self.pending.lock().unwrap_or_else(PoisonError::into_inner));
        if taken.is_empty() {
            return Ok(());
        }
        let mut per_tenant: HashMap<TenantId, Vec<store::Count>> = HashMap::new();
        for ((tenant, day, outcome), tools) in taken {
            let day = day.format("%Y-%m-%d").to_string();
            per_tenant
                .entry(tenant)
                .or_default()
                .extend(tools.into_iter().map(|(tool, count)| store::Count {
                    day: day.clone(),
                    tool,
                    outcome: outcome.as_str(),
                    count: i64::try_from(count).unwrap_or(i64::MAX),
                }));
        }
        let mut first_error = None;
        for (tenant, counts) in per_tenant {
            match self.save(tenant, &counts).await {
                Ok(()) => {}
                Err(error)
                    if matches!(
                        error.sql_err(),
                        Some(SqlErr::ForeignKeyConstraintViolation(_))
                    ) =>
                {
                    tracing::info!(tenant.id = %tenant, "call counters of a deleted tenant dropped");
                }
                Err(error) => {
                    self.put_back(tenant, counts);
                    first_error.get_or_insert(error);
                }
            }
        }
        match first_error {
            Some(error) => Err(error.into()),
            None => Ok(()),
        }
    }

    async fn save(&self, tenant: TenantId, counts: &[store::Count]) -> Result<(), DbErr> {
        let txn = crate::db::begin_write(&self.db).await?;
        // A deleted tenant's row stays (soft delete), so the foreign key no longer refuses its
        // counters: they are dropped here, like those of a tenant whose row is gone.
        if !store::tenant_is_live(&txn, tenant).await? {
            tracing::info!(tenant.id = %tenant, "call counters of a deleted tenant dropped");
            return txn.commit().await;
        }
        store::add_counts(&txn, tenant, counts).await?;
        txn.commit().await
    }

    fn put_back(&self, tenant: TenantId, counts: Vec<store::Count>) {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        for count in counts {
            let (Ok(day), Some(outcome)) = (
                NaiveDate::parse_from_str(&count.day, "%Y-%m-%d"),
                Outcome::parse(count.outcome),
            ) else {
                continue;
            };
            *pending
                .entry((tenant, day, outcome))
                .or_default()
                .entry(count.tool)
                .or_default() += u64::try_from(count.count).unwrap_or_default();
        }
    }

    /// Starts the task that flushes every [`FLUSH_INTERVAL`] until `shutdown`. It does not
    /// flush on `shutdown`: requests still finishing may count calls after it, so the server
    /// flushes once more when it has stopped.
    pub fn spawn_flusher(&self, shutdown: CancellationToken) -> tokio::task::JoinHandle<()> {
        let service = self.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(FLUSH_INTERVAL);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticks.tick().await;
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    _ = ticks.tick() => {}
                }
                if let Err(error) = service.flush().await {
                    tracing::warn!(%error, "could not save call counters; they are kept for the next try");
                }
            }
        })
    }

    /// A tenant's analytics over the last `days` days, today (UTC) included; `days` is kept
    /// within 1..=[`MAX_DAYS`].
    ///
    /// Checkouts are the purchases created in the period (a purchase is created when a paid
    /// tool first asks a user to pay); the paid ones are those whose payment completed, a
    /// refunded one included. Revenue is an approximation: one payment per paid purchase (not
    /// refunded) at its plan's current price; subscription renewals are not counted.
    pub async fn report(&self, tenant: TenantId, days: u32) -> Result<Report, AnalyticsError> {
        let days = days.clamp(1, MAX_DAYS);
        let since = self.first_day(days);
        let counts = self.counts(tenant, since).await?;
        let checkouts = self.checkouts(tenant, since).await?;
        let mut totals = Totals {
            calls: 0,
            free: 0,
            paid: 0,
            payment_required: 0,
            errors: 0,
            checkouts_started: checkouts.started,
            checkouts_paid: checkouts.paid,
            conversion: if checkouts.started == 0 {
                0.0
            } else {
                checkouts.paid as f64 / checkouts.started as f64
            },
        };
        let daily = counts
            .into_iter()
            .map(|((day, tool), [free, paid, payment_required, errors])| {
                totals.free += free;
                totals.paid += paid;
                totals.payment_required += payment_required;
                totals.errors += errors;
                DayCalls {
                    day,
                    tool,
                    free,
                    paid,
                    payment_required,
                    errors,
                }
            })
            .collect();
        totals.calls = totals.free + totals.paid + totals.payment_required + totals.errors;
        Ok(Report {
            days,
            daily,
            totals,
            revenue: checkouts.revenue,
        })
    }

    /// The numbers of the tenant's overview page.
    pub async fn overview_numbers(
        &self,
        tenant: TenantId,
    ) -> Result<OverviewNumbers, AnalyticsError> {
        let today = self.first_day(1);
        let since = self.first_day(30);
        let counts = self.counts(tenant, since).await?;
        let sum = |c: &[u64; 4]| c.iter().sum::<u64>();
        let calls_30d = counts.values().map(sum).sum();
        let calls_today = counts
            .iter()
            .filter(|((day, _), _)| *day >= today)
            .map(|(_, c)| sum(c))
            .sum();
        let revenue_30d = self.checkouts(tenant, since).await?.revenue;
        let paying_customers =
            store::count_paying_customers(&self.db, tenant, self.clock.now()).await?;
        Ok(OverviewNumbers {
            calls_today,
            calls_30d,
            revenue_30d,
            paying_customers,
        })
    }

    /// The first day of a period of `days` days that ends today.
    fn first_day(&self, days: u32) -> NaiveDate {
        let today = self.clock.now().date_naive();
        today
            .checked_sub_days(Days::new(u64::from(days.saturating_sub(1))))
            .unwrap_or(today)
    }

    /// Saved and unsaved calls of `tenant` from `since` on.
    async fn counts(&self, tenant: TenantId, since: NaiveDate) -> Result<Counts, AnalyticsError> {
        let _flushing = self.flushing.lock().await;
        let saved =
            store::list_counts(&self.db, tenant, &since.format("%Y-%m-%d").to_string()).await?;
        let mut counts = Counts::new();
        for row in saved {
            let (Ok(day), Some(outcome)) = (
                NaiveDate::parse_from_str(&row.day, "%Y-%m-%d"),
                Outcome::parse(&row.outcome),
            ) else {
                continue;
            };
            counts.entry((day, row.tool)).or_default()[outcome.index()] +=
                u64::try_from(row.count).unwrap_or_default();
        }
        let pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        for ((of, day, outcome), tools) in pending.iter() {
            if *of != tenant || *day < since {
                continue;
            }
            for (tool, count) in tools {
                counts.entry((*day, tool.clone())).or_default()[outcome.index()] += count;
            }
        }
        Ok(counts)
    }

    async fn checkouts(
        &self,
        tenant: TenantId,
        since: NaiveDate,
    ) -> Result<Checkouts, AnalyticsError> {
        let from = since.and_time(NaiveTime::MIN).and_utc();
        let mut checkouts = Checkouts::default();
        let mut revenue: BTreeMap<String, i64> = BTreeMap::new();
        let purchases = store::purchases_since(&self.db, tenant, from).await?;
        let prices = store::offer_prices(&self.db, tenant).await?;
        for (status, offer, number) in purchases {
            let number = u64::try_from(number).unwrap_or_default();
            checkouts.started += number;
            let status = PurchaseStatus::parse(&status);
            if matches!(
                status,
                Some(PurchaseStatus::Paid | PurchaseStatus::Refunded)
            ) {
                checkouts.paid += number;
            }
            if status == Some(PurchaseStatus::Paid)
                && let Some((amount, currency)) = prices.get(&offer)
            {
                *revenue.entry(currency.clone()).or_default() +=
                    amount.saturating_mul(i64::try_from(number).unwrap_or(i64::MAX));
            }
        }
        checkouts.revenue = revenue
            .into_iter()
            .map(|(currency, amount)| Revenue { currency, amount })
            .collect();
        Ok(checkouts)
    }
}

/// Checkouts of a period.
#[derive(Default)]
struct Checkouts {
    started: u64,
    paid: u64,
    revenue: Vec<Revenue>,
}
