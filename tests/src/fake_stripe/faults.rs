//! Random faults, drawn from a seeded generator: API requests that fail by kind (500, 429, a
//! time-out past the client's deadline, a response dropped after the work was done) and
//! webhooks that never arrive. Stripe's semantics hold under them: the work behind a time-out
//! or a dropped response is kept, so only idempotency keys and meter identifiers save a retry.

use super::*;

/// What goes wrong, and how often. The same seed draws the same sequence of faults; which
/// request gets which draw follows the order in which requests arrive.
#[derive(Clone, Debug)]
pub struct Faults {
    /// Seeds the generator (print it: the run can be replayed with it).
    pub seed: u64,
    /// The share of API requests (`/v1/…`) that fail, 0.0 to 1.0, evenly across the four kinds.
    pub rate: f64,
    /// The share of webhooks [`FakeStripe::send_webhook`] drops, 0.0 to 1.0.
    pub webhook_drop_rate: f64,
    /// How long a time-out holds a request before the work is done (and answered to a client
    /// that has stopped waiting): longer than the client's own limit.
    pub timeout: std::time::Duration,
}

/// One kind of injected API fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Fault {
    /// `500`, Stripe's `api_error`: nothing happens.
    ServerError,
    /// `429`, `rate_limit`: nothing happens.
    RateLimited,
    /// Held past the client's deadline, then done.
    Timeout,
    /// Done, then the connection is cut before the answer.
    Dropped,
}

/// What the fake did under a fault plan and to meter events (for a test's figures).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultCounts {
    /// API requests seen while a plan was set.
    pub requests: usize,
    /// `500`s injected.
    pub server_errors: usize,
    /// `429`s injected.
    pub rate_limited: usize,
    /// Requests held past the client's deadline.
    pub timeouts: usize,
    /// Responses dropped after the work was done.
    pub dropped: usize,
    /// Webhooks sent through [`FakeStripe::send_webhook`].
    pub webhooks_sent: usize,
    /// Of those, dropped.
    pub webhooks_dropped: usize,
    /// Requests answered again from their idempotency key.
    pub idempotent_replays: usize,
    /// Meter events refused because their identifier was already recorded.
    pub duplicate_meter_events: usize,
}

/// What became of a webhook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Webhook {
    /// The plan dropped it: never sent.
    Dropped,
    /// The endpoint answered this status.
    Answered(u16),
    /// The endpoint could not be reached (a replica down, say).
    Unreachable(String),
}

/// A plan in force, with its generator.
pub(super) struct FaultState {
    plan: Faults,
    /// SplitMix64's state.
    state: u64,
}

impl FaultState {
    pub(super) fn new(plan: Faults) -> Self {
        Self {
            state: plan.seed,
            plan,
        }
    }

    fn next(&mut self) -> f64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        // 53 random bits: a uniform float in [0, 1).
        (z >> 11) as f64 / (1_u64 << 53) as f64
    }
}

impl FakeStripe {
    /// Sets (or with `None`, lifts) a plan of random faults. Counts start again from zero.
    pub fn set_faults(&self, plan: Option<Faults>) {
        let mut account = self.shared.account();
        account.counts = FaultCounts::default();
        account.faults = plan.map(FaultState::new);
    }

    /// What the fake counted since the plan was set.
    pub fn fault_counts(&self) -> FaultCounts {
        self.shared.account().counts
    }

    /// Sends `event` to a webhook endpoint as [`deliver`](Self::deliver) does, unless the
    /// plan drops it.
    pub async fn send_webhook(&self, webhook_url: &str, event: &Value, secret: &str) -> Webhook {
        let dropped = {
            let mut account = self.shared.account();
            let dropped = match account.faults.as_mut() {
                Some(faults) => {
                    let rate = faults.plan.webhook_drop_rate;
                    faults.next() < rate
                }
                None => false,
            };
            account.counts.webhooks_sent += 1;
            if dropped {
                account.counts.webhooks_dropped += 1;
            }
            dropped
        };
        if dropped {
            return Webhook::Dropped;
        }
        match self.try_deliver(webhook_url, event, secret).await {
            Ok(response) => Webhook::Answered(response.status().as_u16()),
            Err(error) => Webhook::Unreachable(error.to_string()),
        }
    }
}

/// Draws the fault for one API request (`None`: it goes through), and counts it.
pub(super) fn draw(account: &mut Account) -> Option<(Fault, std::time::Duration)> {
    let faults = account.faults.as_mut()?;
    let hold = faults.plan.timeout;
    let rate = faults.plan.rate;
    let roll = faults.next();
    account.counts.requests += 1;
    if roll >= rate {
        return None;
    }
    // Which of the four kinds: the roll's place within the failing share.
    let fault = match ((roll / rate) * 4.0) as u32 {
        0 => Fault::ServerError,
        1 => Fault::RateLimited,
        2 => Fault::Timeout,
        _ => Fault::Dropped,
    };
    let counts = &mut account.counts;
    match fault {
        Fault::ServerError => counts.server_errors += 1,
        Fault::RateLimited => counts.rate_limited += 1,
        Fault::Timeout => counts.timeouts += 1,
        Fault::Dropped => counts.dropped += 1,
    }
    Some((fault, hold))
}

impl FakeStripe {
    /// The payer pays an open Checkout Session as [`pay`](Self::pay) does, on an account
    /// whose tenants each have their own endpoint: the events (`customer.subscription.created`
    /// first for a subscription, then `checkout.session.completed`) are recorded for
    /// `GET /v1/events` and sent to `url` signed with `secret`, each dropped at the plan's
    /// rate. Returns the session and what became of each webhook.
    pub async fn pay_notifying(
        &self,
        session_id: &str,
        url: &str,
        secret: &str,
    ) -> (Value, Vec<Webhook>) {
        let session = self.complete_session(session_id, "paid");
        let mut events = Vec::new();
        if let Some(subscription) = session["subscription"]
            .as_str()
            .and_then(|id| self.subscription(id))
        {
            events.push(self.event("customer.subscription.created", subscription));
        }
        events.push(self.event("checkout.session.completed", session.clone()));
        let mut outcomes = Vec::with_capacity(events.len());
        for event in events {
            self.shared.account().events.push(event.clone());
            outcomes.push(self.send_webhook(url, &event, secret).await);
        }
        (session, outcomes)
    }
}
