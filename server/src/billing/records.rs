//! Billing's records as the rest of billing reads them (purchases, entitlements, meter events,
//! the end users on the customers page), returned by the store instead of database rows, and
//! the statuses they carry: each an enum whose stored spelling is written here once
//! (`as_str`, `parse`).

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// An enum stored as text: its variants, their spellings, `as_str` and `parse`.
macro_rules! stored_as_text {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $text:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
        }

        impl $name {
            /// The stored spelling.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }

            /// The status a stored spelling names; `None` for anything else.
            pub fn parse(raw: &str) -> Option<Self> {
                match raw {
                    $($text => Some(Self::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

stored_as_text! {
    /// Where a purchase (one checkout) stands.
    PurchaseStatus {
        /// Created at the provider, not paid yet.
        Open => "open",
        /// Paid with a method that confirms later (a bank debit).
        Processing => "processing",
        /// Paid; its entitlement was granted.
        Paid => "paid",
        /// The checkout expired unpaid.
        Expired => "expired",
        /// The delayed payment failed.
        Failed => "failed",
        /// Refunded or disputed; its access was revoked.
        Refunded => "refunded",
    }
}

stored_as_text! {
    /// What paid for one tool call.
    UsageKind {
        /// The offer's monthly free quota.
        Free => "free",
        /// An entitlement (a one-time purchase or a subscription).
        Paid => "paid",
        /// A metered subscription: the call is reported to the meter.
        Metered => "metered",
    }
}

stored_as_text! {
    /// Where a tool call's use stands.
    UsageStatus {
        /// Taken before the tool runs; released if it fails.
        Reserved => "reserved",
        /// The tool succeeded: the use is final.
        Committed => "committed",
    }
}

stored_as_text! {
    /// Whether an entitlement grants access (within its period and calls).
    EntitlementStatus {
        /// Granted.
        Active => "active",
        /// Ended for good (the tombstone): the subscription ended, the payment was refunded in
        /// full or a dispute lost.
        Revoked => "revoked",
        /// No access for now: the subscription is unpaid or paused, or the payment disputed;
        /// a newer granting event restores it.
        Suspended => "suspended",
    }
}

stored_as_text! {
    /// Where a meter event in the outbox stands.
    MeterStatus {
        /// Waiting for (another) delivery attempt.
        Pending => "pending",
        /// Delivered to the provider.
        Sent => "sent",
        /// Refused by the provider (a permanent error), or outside the time window it accepts:
        /// never sent again, set aside for an operator (`BillingService::failed_meter_events`).
        Failed => "failed",
    }
}

/// A purchase: one checkout of one offer by one end user.
#[derive(Clone, Debug)]
pub struct Purchase {
    /// Its id (also on the provider's session as `client_reference_id`).
    pub id: Uuid,
    /// The buyer.
    pub end_user_id: Uuid,
    /// What is bought.
    pub offer_id: Uuid,
    /// `stripe` or `sandbox`.
    pub provider: String,
    /// The provider's checkout session id.
    pub session_id: String,
    /// Where the buyer pays.
    pub checkout_url: String,
    /// Where it stands.
    pub status: PurchaseStatus,
    /// The subscription, once paid (subscriptions).
    pub subscription_id: Option<String>,
    /// The payment intent, once paid (one-time payments).
    pub payment_intent: Option<String>,
    /// When the checkout expires.
    pub expires_at: DateTime<Utc>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// An entitlement: access to one offer for one end user, from one source (a checkout or a
/// subscription).
#[derive(Clone, Debug)]
pub struct Entitlement {
    /// Its id.
    pub id: Uuid,
    /// Who holds it.
    pub end_user_id: Uuid,
    /// To what.
    pub offer_id: Uuid,
    /// Granted, suspended or ended.
    pub status: EntitlementStatus,
    /// Calls left (one-time purchases of N calls); `None` is unlimited.
    pub calls_remaining: Option<i64>,
    /// The end of the paid period (subscriptions).
    pub period_end: Option<DateTime<Utc>>,
    /// Stripe's `created` of the last event applied to it (`billing::lifecycle` orders by it).
    pub last_event_at: i64,
}

/// A meter event waiting in the outbox.
#[derive(Clone, Debug)]
pub struct MeterRecord {
    /// Its row id.
    pub id: Uuid,
    /// Its tenant.
    pub tenant_id: Uuid,
    /// The deterministic identifier the provider deduplicates by.
    pub identifier: String,
    /// The meter's event name.
    pub event_name: String,
    /// The provider's customer id.
    pub provider_customer_id: String,
    /// The value reported.
    pub value: i64,
    /// When the call happened (unix seconds).
    pub timestamp: i64,
    /// Delivery attempts so far.
    pub attempts: i32,
}

/// A meter event set aside as `failed`: what the operator sees of it.
#[derive(Clone, Debug)]
pub struct FailedMeterEvent {
    /// The identifier it would have been sent under (`tg_call_…`).
    pub identifier: String,
    /// The meter's event name.
    pub event_name: String,
    /// The provider's customer id.
    pub customer: String,
    /// The value it carried.
    pub value: i64,
    /// When the call happened.
    pub occurred_at: DateTime<Utc>,
    /// Why it was set aside: the provider's message, or which limit of time it broke.
    pub reason: String,
    /// Delivery attempts made (0 when it was never sent).
    pub attempts: i32,
    /// When it was set aside.
    pub failed_at: DateTime<Utc>,
}

/// An end user as the customers page lists them.
#[derive(Clone, Debug)]
pub struct EndUserSummary {
    /// Their id.
    pub id: Uuid,
    /// Their login.
    pub login: String,
    /// Their display name.
    pub display_name: Option<String>,
    /// Their e-mail.
    pub email: Option<String>,
    /// When they first signed in.
    pub created_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_reads_back_what_it_writes_and_nothing_else() {
        for status in [
            PurchaseStatus::Open,
            PurchaseStatus::Processing,
            PurchaseStatus::Paid,
            PurchaseStatus::Expired,
            PurchaseStatus::Failed,
            PurchaseStatus::Refunded,
        ] {
            assert_eq!(PurchaseStatus::parse(status.as_str()), Some(status));
        }
        for kind in [UsageKind::Free, UsageKind::Paid, UsageKind::Metered] {
            assert_eq!(UsageKind::parse(kind.as_str()), Some(kind));
        }
        for status in [UsageStatus::Reserved, UsageStatus::Committed] {
            assert_eq!(UsageStatus::parse(status.as_str()), Some(status));
        }
        for status in [
            EntitlementStatus::Active,
            EntitlementStatus::Revoked,
            EntitlementStatus::Suspended,
        ] {
            assert_eq!(EntitlementStatus::parse(status.as_str()), Some(status));
        }
        for status in [MeterStatus::Pending, MeterStatus::Sent, MeterStatus::Failed] {
            assert_eq!(MeterStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(PurchaseStatus::parse("Paid"), None);
        assert_eq!(UsageKind::parse(""), None);
    }
}
