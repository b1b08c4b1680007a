//! The lifecycle of an entitlement (a subscription's, or a one-time purchase's), as a pure
//! state machine: what each Stripe fact does to access, and in which order facts win. No
//! database, no clock: `entitlements.rs` reads the stored [`Applied`], asks [`next`] and
//! writes what it answers, in the event's transaction. The table is in ARCHITECTURE.md
//! ("The subscription lifecycle").
//!
//! Ordering: every fact carries Stripe's event `created`. The stored entitlement remembers the
//! `created` of the fact it reflects (`last_event_at`); a fact replaces it only when its key
//! (`created`, then how final its access is, then its period end) is greater, so facts
//! delivered in any order, any number of times, end in the state of the greatest one.
//! [`Access::Ended`] is a tombstone: it wins over any other state whenever it was sent, and
//! nothing revives it (Stripe never reopens a deleted subscription, a full refund or a lost
//! dispute). A genuinely newer granting fact (a paused
//! or unpaid subscription resumed, a dispute won) restores a [`Access::Suspended`] one.

use chrono::{DateTime, Duration, Utc};

/// How long a `past_due` subscription keeps access after the event that reported it, while
/// Stripe retries the payment, when its plan does not say otherwise (each plan sets its own,
/// 0-30 days: `Offer::past_due_grace`).
pub const PAST_DUE_GRACE: Duration = Duration::days(3);

/// The end of a subscription's access granted by its checkout, before any of its own events
/// (or a read of the subscription) said when its period ends: one `interval` (`day`, `week`,
/// `month`, `year`) and the plan's past-due `grace` after the payment's event. `None` for an
/// unknown interval.
pub fn first_period_end(at: i64, interval: Option<&str>, grace: Duration) -> Option<DateTime<Utc>> {
    let days = match interval? {
        "day" => 1,
        "week" => 7,
        "month" => 31,
        "year" => 366,
        _ => return None,
    };
    DateTime::<Utc>::from_timestamp(at, 0).map(|paid| paid + Duration::days(days) + grace)
}

/// What an entitlement gives now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    /// Access, within `period_end` (and the calls left, for a one-time purchase).
    Granted,
    /// No access for now; a newer granting fact restores it (paused, unpaid, disputed).
    Suspended,
    /// No access, for good: the tombstone.
    Ended,
}

/// A fact about an entitlement, in Tollgate's terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fact {
    /// The subscription's status, as a `customer.subscription.*` event reports it.
    Status {
        /// Its lifecycle state.
        state: State,
        /// The end of its current period, when the event says.
        period_end: Option<DateTime<Utc>>,
    },
    /// A payment for it (checkout completed, `invoice.paid`): granted until `period_end`
    /// (none: a one-time purchase, limited by its calls).
    Paid {
        /// The end of the paid period.
        period_end: Option<DateTime<Utc>>,
    },
    /// `charge.refunded`; `full` when the whole amount was refunded.
    Refunded {
        /// The charge's `refunded` flag.
        full: bool,
    },
    /// `charge.dispute.created`.
    DisputeOpened,
    /// `charge.dispute.closed`; `won` when its status is `won`.
    DisputeClosed {
        /// Whether the merchant won.
        won: bool,
    },
}

/// A subscription's lifecycle state (Stripe's statuses, with `cancel_at_period_end` and
/// `deleted` folded in).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// `active`.
    Active,
    /// `trialing`.
    Trialing,
    /// `active` with `cancel_at_period_end`: access until the period ends.
    CancellingAtPeriodEnd,
    /// `past_due`: access for the plan's grace while Stripe retries (none with a grace of 0).
    PastDue,
    /// `unpaid`: retries exhausted, the subscription kept.
    Unpaid,
    /// `paused` (a trial ended without a payment method, or paused collection).
    Paused,
    /// `incomplete`: the first payment is not made yet.
    Incomplete,
    /// `canceled`, `incomplete_expired`, or a `customer.subscription.deleted` event.
    Ended,
}

impl State {
    /// Reads Stripe's status; `deleted` for `customer.subscription.deleted`.
    pub fn from_stripe(status: &str, cancel_at_period_end: bool, deleted: bool) -> Self {
        if deleted {
            return Self::Ended;
        }
        match status {
            "active" if cancel_at_period_end => Self::CancellingAtPeriodEnd,
            "active" => Self::Active,
            "trialing" => Self::Trialing,
            "past_due" => Self::PastDue,
            "unpaid" => Self::Unpaid,
            "paused" => Self::Paused,
            "incomplete" => Self::Incomplete,
            _ => Self::Ended,
        }
    }
}

/// What is stored of an entitlement's lifecycle: its access, until when, and the `created` of
/// the fact it reflects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Applied {
    /// Granted, suspended or ended.
    pub access: Access,
    /// Access ends then (none: no end but the calls left).
    pub period_end: Option<DateTime<Utc>>,
    /// Stripe's `created` of the fact applied last.
    pub at: i64,
}

impl Applied {
    /// Which of two states wins: the later fact; at the same second the more final access
    /// (so a `deleted` beats an `updated` sent with it); then the later period end.
    fn key(&self) -> (i64, Access, Option<DateTime<Utc>>) {
        (self.at, self.access, self.period_end)
    }
}

/// What `fact`, from an event created at `at`, makes of `current` (none: no entitlement
/// yet), under a plan whose past-due grace is `grace`. `None` when it changes nothing.
pub fn next(current: Option<Applied>, fact: Fact, at: i64, grace: Duration) -> Option<Applied> {
    let kept_end = current.and_then(|c| c.period_end);
    let proposed = match fact {
        Fact::Status { state, period_end } => {
            let period_end = period_end.or(kept_end);
            match state {
                State::Active | State::Trialing | State::CancellingAtPeriodEnd => Applied {
                    access: Access::Granted,
                    period_end,
                    at,
                },
                // A plan without grace suspends at once; a later payment restores it.
                State::PastDue if grace <= Duration::zero() => Applied {
                    access: Access::Suspended,
                    period_end,
                    at,
                },
                State::PastDue => {
                    let grace =
                        DateTime::<Utc>::from_timestamp(at, 0).map(|reported| reported + grace);
                    Applied {
                        access: Access::Granted,
                        period_end: match (period_end, grace) {
                            (Some(end), Some(grace)) => Some(end.min(grace)),
                            (end, grace) => grace.or(end),
                        },
                        at,
                    }
                }
                State::Unpaid | State::Paused | State::Incomplete => Applied {
                    access: Access::Suspended,
                    period_end,
                    at,
                },
                State::Ended => Applied {
                    access: Access::Ended,
                    period_end,
                    at,
                },
            }
        }
        Fact::Paid { period_end } => Applied {
            access: Access::Granted,
            period_end: period_end.or(kept_end),
            at,
        },
        // A partial refund keeps access: the buyer got some money back, not all of it.
        Fact::Refunded { full: false } => return None,
        Fact::Refunded { full: true } | Fact::DisputeClosed { won: false } => Applied {
            access: Access::Ended,
            period_end: kept_end,
            at,
        },
        Fact::DisputeOpened => Applied {
            access: Access::Suspended,
            period_end: kept_end,
            at,
        },
        Fact::DisputeClosed { won: true } => Applied {
            access: Access::Granted,
            period_end: kept_end,
            at,
        },
    };
    match current {
        None => Some(proposed),
        // The tombstone: an end wins over any state that is not one, whenever it was sent
        // (Stripe never reopens what ended), and only a greater end replaces an end.
        Some(current)
            if (current.access == Access::Ended) != (proposed.access == Access::Ended) =>
        {
            (proposed.access == Access::Ended).then_some(proposed)
        }
        Some(current) if proposed.key() > current.key() => Some(proposed),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> Option<DateTime<Utc>> {
        DateTime::<Utc>::from_timestamp(s, 0)
    }

    fn status(state: State, end: i64) -> Fact {
        Fact::Status {
            state,
            period_end: t(end),
        }
    }

    fn run(history: &[(Fact, i64)]) -> Option<Applied> {
        history.iter().fold(None, |current, &(fact, at)| {
            next(current, fact, at, PAST_DUE_GRACE).or(current)
        })
    }

    /// A small xorshift generator: the property test needs shuffles, not a dependency.
    struct Rng(u64);
    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            usize::try_from(self.0 % u64::try_from(n).unwrap_or(1)).unwrap_or_default()
        }
    }

    /// Every fact a subscription's history may hold (a dispute won restores the period the
    /// entitlement already had, so subscription histories carry a period with every granting
    /// fact, as Stripe's events do).
    fn subscription_fact(rng: &mut Rng) -> Fact {
        let end = 10_000 + i64::try_from(rng.below(4)).unwrap_or_default() * 1000;
        match rng.below(10) {
            0 => status(State::Active, end),
            1 => status(State::Trialing, end),
            2 => status(State::CancellingAtPeriodEnd, end),
            3 => status(State::PastDue, end),
            4 => status(State::Unpaid, end),
            5 => status(State::Paused, end),
            6 => status(State::Incomplete, end),
            7 => status(State::Ended, end),
            8 => Fact::Paid { period_end: t(end) },
            _ => Fact::Refunded { full: false },
        }
    }

    fn one_time_fact(rng: &mut Rng) -> Fact {
        match rng.below(5) {
            0 => Fact::Paid { period_end: None },
            1 => Fact::Refunded {
                full: rng.below(2) == 0,
            },
            2 => Fact::DisputeOpened,
            _ => Fact::DisputeClosed {
                won: rng.below(2) == 0,
            },
        }
    }

    #[test]
    fn any_order_and_any_duplicates_of_a_history_end_in_the_same_state() {
        let mut rng = Rng(0x5eed_1234_abcd_0001);
        for round in 0..3000 {
            let one_time = round % 2 == 1;
            let len = 1 + rng.below(7);
            // Several events may share a second, as Stripe's often do.
            let history: Vec<(Fact, i64)> = (0..len)
                .map(|_| {
                    let fact = if one_time {
                        one_time_fact(&mut rng)
                    } else {
                        subscription_fact(&mut rng)
                    };
                    (fact, 100 + i64::try_from(rng.below(4)).unwrap_or_default())
                })
                .collect();
            // One-time histories start with their payment (the grant), which comes first
            // whatever order the rest arrives in, as a refund cannot precede a payment.
            let (fixed, rest) = if one_time {
                (vec![(Fact::Paid { period_end: None }, 99)], history)
            } else {
                (Vec::new(), history)
            };
            let expected = run(&[fixed.clone(), rest.clone()].concat());
            for _ in 0..20 {
                let mut shuffled = rest.clone();
                for i in (1..shuffled.len()).rev() {
                    shuffled.swap(i, rng.below(i + 1));
                }
                for _ in 0..rng.below(4) {
                    let again = shuffled[rng.below(shuffled.len())];
                    shuffled.insert(rng.below(shuffled.len() + 1), again);
                }
                assert_eq!(
                    run(&[fixed.clone(), shuffled.clone()].concat()),
                    expected,
                    "history {rest:?} delivered as {shuffled:?}"
                );
            }
        }
    }

    #[test]
    fn an_end_is_a_tombstone_and_a_newer_active_state_restores_a_suspension() {
        let ended = run(&[
            (status(State::Active, 500), 1),
            (status(State::Ended, 500), 3),
        ]);
        assert_eq!(ended.map(|a| a.access), Some(Access::Ended));
        // An older update arriving late, and a newer one: neither revives the deleted one.
        for at in [2, 9] {
            assert_eq!(
                next(ended, status(State::Active, 900), at, PAST_DUE_GRACE),
                None
            );
        }
        // Deleted before the checkout's grant: the grant changes nothing.
        let deleted_first = run(&[
            (status(State::Ended, 500), 5),
            (Fact::Paid { period_end: t(500) }, 4),
        ]);
        assert_eq!(deleted_first.map(|a| a.access), Some(Access::Ended));
        // Paused, then resumed: access back.
        let resumed = run(&[
            (status(State::Active, 500), 1),
            (status(State::Paused, 500), 2),
            (status(State::Active, 900), 3),
        ]);
        assert_eq!(
            resumed,
            Some(Applied {
                access: Access::Granted,
                period_end: t(900),
                at: 3
            })
        );
        // At the same second, an end beats an active update.
        let same_second = run(&[
            (status(State::Ended, 500), 7),
            (status(State::Active, 500), 7),
        ]);
        assert_eq!(same_second.map(|a| a.access), Some(Access::Ended));
    }

    #[test]
    fn past_due_keeps_access_for_the_grace_period_only() {
        let now = 1_000_000;
        let late = run(&[(status(State::PastDue, now + 30 * 86_400), now)]).expect("state");
        assert_eq!(late.access, Access::Granted);
        assert_eq!(late.period_end, t(now + 3 * 86_400));
    }

    #[test]
    fn the_past_due_grace_is_the_plans() {
        let now = 1_000_000;
        let end = now + 30 * 86_400;
        let active = next(None, status(State::Active, end), now - 10, Duration::zero());
        let week = next(active, status(State::PastDue, end), now, Duration::days(7));
        assert_eq!(
            week.map(|a| (a.access, a.period_end)),
            Some((Access::Granted, t(now + 7 * 86_400)))
        );
        // No grace: suspended at once, and a payment afterwards restores the period.
        let none = next(active, status(State::PastDue, end), now, Duration::zero());
        assert_eq!(none.map(|a| a.access), Some(Access::Suspended));
        let paid = next(
            none,
            Fact::Paid { period_end: None },
            now + 5,
            Duration::zero(),
        );
        assert_eq!(
            paid.map(|a| (a.access, a.period_end)),
            Some((Access::Granted, t(end)))
        );
        assert_eq!(
            first_period_end(now, Some("month"), Duration::zero()),
            t(now + 31 * 86_400)
        );
    }

    #[test]
    fn refunds_and_disputes() {
        let paid = (Fact::Paid { period_end: None }, 1);
        let partial = run(&[paid, (Fact::Refunded { full: false }, 2)]);
        assert_eq!(partial.map(|a| a.access), Some(Access::Granted));
        let full = run(&[paid, (Fact::Refunded { full: true }, 2)]);
        assert_eq!(full.map(|a| a.access), Some(Access::Ended));
        let disputed = run(&[paid, (Fact::DisputeOpened, 2)]);
        assert_eq!(disputed.map(|a| a.access), Some(Access::Suspended));
        let won = run(&[
            paid,
            (Fact::DisputeOpened, 2),
            (Fact::DisputeClosed { won: true }, 3),
        ]);
        assert_eq!(won.map(|a| a.access), Some(Access::Granted));
        let lost = run(&[
            paid,
            (Fact::DisputeOpened, 2),
            (Fact::DisputeClosed { won: false }, 3),
        ]);
        assert_eq!(lost.map(|a| a.access), Some(Access::Ended));
    }
}
