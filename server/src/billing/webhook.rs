//! Stripe's webhook wire format, the one place that reads it: signatures, checked on the raw
//! body (`Stripe-Signature: t=…,v1=…[,v1=…]`, HMAC-SHA256 of `"{t}.{body}"` under the
//! endpoint secret, within a 300 s tolerance; every `v1` is tried against every configured
//! secret, so a secret can be rolled without downtime), and the event JSON, read into a typed
//! [`StripeEvent`] that the entitlement logic matches on.

use super::CheckoutSession;
use super::lifecycle::State;
use crate::crypto::{constant_time_eq, hmac_sha256_hex};
use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

/// How far a signature's timestamp may be from now.
pub const TOLERANCE_SECONDS: i64 = 300;

/// Why a delivery was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No or unreadable header.
    #[error("missing or malformed Stripe-Signature header")]
    Malformed,
    /// Signed too long ago (or in the future).
    #[error("the signature timestamp is outside the tolerance")]
    Stale,
    /// No signature matches any secret.
    #[error("no signature matches")]
    Mismatch,
}

/// Verifies `header` for `payload` against any of `secrets`, at time `now` (unix seconds).
pub fn verify(
    payload: &[u8],
    header: Option<&str>,
    secrets: &[String],
    now: i64,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Malformed)?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        let Some((key, value)) = part.trim().split_once('=') else {
            continue;
        };
        match key {
            "t" => timestamp = value.parse::<i64>().ok(),
            "v1" => signatures.push(value.to_ascii_lowercase()),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if (now - timestamp).abs() > TOLERANCE_SECONDS {
        return Err(SignatureError::Stale);
    }
    let mut signed = format!("{timestamp}.").into_bytes();
    signed.extend_from_slice(payload);
    let matched = secrets.iter().any(|secret| {
        let expected = hmac_sha256_hex(secret.as_bytes(), &signed);
        signatures.iter().any(|s| constant_time_eq(s, &expected))
    });
    if matched {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// A Stripe event, read from its JSON here and nowhere else: the entitlement logic
/// (`entitlements.rs`) matches on [`StripeEvent::change`] and never looks at Stripe's JSON.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StripeEvent {
    /// `evt_…`: recorded, so a second delivery changes nothing.
    pub id: String,
    /// The event type as Stripe spells it (`checkout.session.completed`), for the record and
    /// the audit entry.
    pub kind: String,
    /// Whether it comes from live mode.
    pub livemode: bool,
    /// When Stripe created it (unix seconds): orders subscription events.
    pub created: i64,
    /// The id of the object it is about, for the audit entry.
    pub object_id: Option<String>,
    /// What it says, in Tollgate's terms.
    pub change: StripeChange,
}

/// The event types Tollgate acts on (what [`StripeChange`] reads): the types a webhook
/// endpoint should be subscribed to, and those reconciliation lists (`types[]`, at most 20).
pub const HANDLED_EVENT_TYPES: &[&str] = &[
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "checkout.session.expired",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "invoice.paid",
    "invoice.payment_failed",
    "charge.refunded",
    "charge.dispute.created",
    "charge.dispute.closed",
];

impl StripeEvent {
    /// Whether it tells the state of what it is about as Stripe holds it (a subscription's
    /// status, a payment): applying it confirms the entitlement for reconciliation.
    pub fn confirms_state(&self) -> bool {
        matches!(
            self.change,
            StripeChange::CheckoutCompleted(_)
                | StripeChange::Subscription(_)
                | StripeChange::InvoicePaid { .. }
        )
    }
}

/// What a Stripe event says, for the event types Tollgate acts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StripeChange {
    /// `checkout.session.completed` or `checkout.session.async_payment_succeeded`.
    CheckoutCompleted(CheckoutSession),
    /// `checkout.session.async_payment_failed`: the session's id.
    CheckoutFailed(String),
    /// `checkout.session.expired`: the session's id.
    CheckoutExpired(String),
    /// `customer.subscription.created`, `.updated` or `.deleted`.
    Subscription(SubscriptionChange),
    /// `invoice.paid`: the subscription paid for, and the end of the period paid.
    InvoicePaid {
        /// `sub_…`.
        subscription: String,
        /// The end of the invoiced period, when the invoice says.
        period_end: Option<DateTime<Utc>>,
    },
    /// `invoice.payment_failed`.
    InvoicePaymentFailed,
    /// `charge.refunded`: the charge's payment intent, and whether all of it was refunded
    /// (Stripe's `refunded` flag; a partial refund leaves it false).
    Refunded {
        /// `pi_…`.
        payment_intent: String,
        /// The whole amount was refunded.
        full: bool,
    },
    /// `charge.dispute.created`: the disputed payment intent.
    DisputeOpened(String),
    /// `charge.dispute.closed`: the payment intent, and whether the merchant won.
    DisputeClosed {
        /// `pi_…`.
        payment_intent: String,
        /// The dispute's status is `won`.
        won: bool,
    },
    /// Anything else, or one of the above without the fields Tollgate needs.
    Other,
}

/// A subscription's state, as a `customer.subscription.*` event reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubscriptionChange {
    /// `sub_…`.
    pub id: String,
    /// Its lifecycle state: Stripe's `status`, `cancel_at_period_end`, and whether the event
    /// is `customer.subscription.deleted`.
    pub state: State,
    /// The end of the current period.
    pub period_end: Option<DateTime<Utc>>,
    /// The Tollgate purchase its metadata names (`tollgate_purchase`).
    pub purchase: Option<Uuid>,
}

/// Reads a Stripe event; `None` when the body is not one (no JSON, no id or type).
pub fn parse_event(body: &[u8]) -> Option<StripeEvent> {
    let event: Value = serde_json::from_slice(body).ok()?;
    read_event(&event)
}

/// Reads one event of a `GET /v1/events` page (the same shape as a webhook's body); `None`
/// when it is not one.
pub fn read_event(event: &Value) -> Option<StripeEvent> {
    let id = event["id"].as_str()?.to_owned();
    let kind = event["type"].as_str()?.to_owned();
    let object = &event["data"]["object"];
    Some(StripeEvent {
        livemode: event["livemode"].as_bool() == Some(true),
        created: event["created"].as_i64().unwrap_or_default(),
        object_id: object["id"].as_str().map(str::to_owned),
        change: change(&kind, object).unwrap_or(StripeChange::Other),
        id,
        kind,
    })
}

/// An id, whether Stripe sent it as a string or expanded into its object.
fn id_of(v: &Value) -> Option<String> {
    v.as_str().or_else(|| v["id"].as_str()).map(str::to_owned)
}

fn timestamp(v: &Value) -> Option<DateTime<Utc>> {
    v.as_i64()
        .and_then(|t| DateTime::<Utc>::from_timestamp(t, 0))
}

/// Reads a subscription object (an event's, or `GET /v1/subscriptions/{id}`'s); `deleted`
/// for `customer.subscription.deleted`. `None` without an id.
pub fn read_subscription(object: &Value, deleted: bool) -> Option<SubscriptionChange> {
    Some(SubscriptionChange {
        id: object["id"].as_str()?.to_owned(),
        state: State::from_stripe(
            object["status"].as_str().unwrap_or_default(),
            object["cancel_at_period_end"].as_bool() == Some(true),
            deleted,
        ),
        // Newer API versions put the period on the subscription's items.
        period_end: timestamp(&object["items"]["data"][0]["current_period_end"])
            .or_else(|| timestamp(&object["current_period_end"])),
        purchase: object["metadata"]["tollgate_purchase"]
            .as_str()
            .and_then(|p| Uuid::parse_str(p).ok()),
    })
}

fn change(kind: &str, object: &Value) -> Option<StripeChange> {
    let text = |v: &Value| v.as_str().map(str::to_owned);
    Some(match kind {
        "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
            StripeChange::CheckoutCompleted(CheckoutSession {
                id: text(&object["id"])?,
                url: None,
                status: object["status"].as_str().unwrap_or("complete").to_owned(),
                payment_status: text(&object["payment_status"]).unwrap_or_default(),
                customer: id_of(&object["customer"]),
                subscription: id_of(&object["subscription"]),
                payment_intent: id_of(&object["payment_intent"]),
            })
        }
        "checkout.session.async_payment_failed" => {
            StripeChange::CheckoutFailed(text(&object["id"])?)
        }
        "checkout.session.expired" => StripeChange::CheckoutExpired(text(&object["id"])?),
        "customer.subscription.created"
        | "customer.subscription.updated"
        | "customer.subscription.deleted" => StripeChange::Subscription(read_subscription(
            object,
            kind == "customer.subscription.deleted",
        )?),
        "invoice.paid" => StripeChange::InvoicePaid {
            // Newer API versions put the subscription under `parent`.
            subscription: text(&object["subscription"])
                .or_else(|| text(&object["parent"]["subscription_details"]["subscription"]))?,
            period_end: timestamp(&object["lines"]["data"][0]["period"]["end"]),
        },
        "invoice.payment_failed" => StripeChange::InvoicePaymentFailed,
        "charge.refunded" => StripeChange::Refunded {
            payment_intent: id_of(&object["payment_intent"])?,
            full: object["refunded"].as_bool() == Some(true),
        },
        "charge.dispute.created" => StripeChange::DisputeOpened(id_of(&object["payment_intent"])?),
        "charge.dispute.closed" => StripeChange::DisputeClosed {
            payment_intent: id_of(&object["payment_intent"])?,
            won: object["status"].as_str() == Some("won"),
        },
        _ => StripeChange::Other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(secret: &str, t: i64, body: &str) -> String {
        format!(
            "t={t},v1={}",
            hmac_sha256_hex(secret.as_bytes(), format!("{t}.{body}").as_bytes())
        )
    }

    #[test]
    fn a_valid_signature_passes_and_any_change_fails() {
        let body = r#"{"id":"evt_1"}"#;
        let secrets = vec!["whsec_a".to_owned()];
        let h = header("whsec_a", 1000, body);
        assert_eq!(verify(body.as_bytes(), Some(&h), &secrets, 1000), Ok(()));
        assert_eq!(
            verify(br#"{"id":"evt_2"}"#, Some(&h), &secrets, 1000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(br#"{ "id":"evt_1"}"#, Some(&h), &secrets, 1000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(body.as_bytes(), Some(&h), &["whsec_b".to_owned()], 1000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(body.as_bytes(), None, &secrets, 1000),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(body.as_bytes(), Some("v1=abc"), &secrets, 1000),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn the_tolerance_is_300_seconds_either_way() {
        let body = "{}";
        let secrets = vec!["whsec_a".to_owned()];
        let h = header("whsec_a", 1000, body);
        assert_eq!(verify(body.as_bytes(), Some(&h), &secrets, 1299), Ok(()));
        assert_eq!(verify(body.as_bytes(), Some(&h), &secrets, 1300), Ok(()));
        assert_eq!(
            verify(body.as_bytes(), Some(&h), &secrets, 1301),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(body.as_bytes(), Some(&h), &secrets, 699),
            Err(SignatureError::Stale)
        );
    }

    #[test]
    fn during_a_secret_roll_either_signature_in_either_order_passes() {
        let body = "{}";
        let old = header("whsec_old", 1000, body);
        let new = header("whsec_new", 1000, body);
        let new_sig = new.split_once(",v1=").map(|(_, s)| s).unwrap_or_default();
        let both = format!("{old},v1={new_sig}");
        let old_sig = old.split_once(",v1=").map(|(_, s)| s).unwrap_or_default();
        let reversed = format!("t=1000,v1={new_sig},v1={old_sig}");
        for secrets in [vec!["whsec_old".to_owned()], vec!["whsec_new".to_owned()]] {
            assert_eq!(verify(body.as_bytes(), Some(&both), &secrets, 1000), Ok(()));
            assert_eq!(
                verify(body.as_bytes(), Some(&reversed), &secrets, 1000),
                Ok(())
            );
        }
    }

    #[test]
    fn events_are_read_whichever_shape_stripe_sends() {
        let session = br#"{"id":"evt_1","type":"checkout.session.completed","created":5,
            "data":{"object":{"id":"cs_1","payment_status":"paid",
            "customer":{"id":"cus_1"},"subscription":"sub_1","payment_intent":null}}}"#;
        let event = parse_event(session).expect("an event");
        assert_eq!(
            (event.id.as_str(), event.created, event.livemode),
            ("evt_1", 5, false)
        );
        assert_eq!(event.object_id.as_deref(), Some("cs_1"));
        let StripeChange::CheckoutCompleted(session) = event.change else {
            panic!("{:?}", event.change);
        };
        assert_eq!(session.status, "complete");
        assert_eq!(session.customer.as_deref(), Some("cus_1"));
        assert_eq!(session.subscription.as_deref(), Some("sub_1"));
        assert_eq!(session.payment_intent, None);

        let subscription = br#"{"id":"evt_2","type":"customer.subscription.deleted",
            "data":{"object":{"id":"sub_1","status":"active",
            "items":{"data":[{"current_period_end":1000}]},
            "metadata":{"tollgate_purchase":"6f1c1ad4-5b8e-4a43-9d1d-7f0c4c8a2b10"}}}}"#;
        let StripeChange::Subscription(change) = parse_event(subscription).expect("event").change
        else {
            panic!("not a subscription change");
        };
        assert_eq!(
            change.state,
            State::Ended,
            "deleted, whatever its status says"
        );
        assert_eq!(change.period_end.map(|t| t.timestamp()), Some(1000));
        assert!(change.purchase.is_some());

        let invoice = br#"{"id":"evt_3","type":"invoice.paid","data":{"object":{
            "parent":{"subscription_details":{"subscription":"sub_9"}},
            "lines":{"data":[{"period":{"end":2000}}]}}}}"#;
        assert_eq!(
            parse_event(invoice).expect("event").change,
            StripeChange::InvoicePaid {
                subscription: "sub_9".into(),
                period_end: DateTime::<Utc>::from_timestamp(2000, 0),
            }
        );
    }

    #[test]
    fn refunds_say_whether_they_are_whole_and_disputes_how_they_closed() {
        let read = |kind: &str, object: &str| {
            let body = format!(r#"{{"id":"evt_9","type":"{kind}","data":{{"object":{object}}}}}"#);
            parse_event(body.as_bytes()).expect("event").change
        };
        assert_eq!(
            read(
                "charge.refunded",
                r#"{"payment_intent":"pi_1","refunded":false,"amount_refunded":100}"#
            ),
            StripeChange::Refunded {
                payment_intent: "pi_1".into(),
                full: false
            }
        );
        assert_eq!(
            read(
                "charge.refunded",
                r#"{"payment_intent":{"id":"pi_1"},"refunded":true}"#
            ),
            StripeChange::Refunded {
                payment_intent: "pi_1".into(),
                full: true
            }
        );
        assert_eq!(
            read(
                "charge.dispute.created",
                r#"{"payment_intent":"pi_2","status":"needs_response"}"#
            ),
            StripeChange::DisputeOpened("pi_2".into())
        );
        for (status, won) in [("won", true), ("lost", false), ("warning_closed", false)] {
            assert_eq!(
                read(
                    "charge.dispute.closed",
                    &format!(r#"{{"payment_intent":"pi_3","status":"{status}"}}"#)
                ),
                StripeChange::DisputeClosed {
                    payment_intent: "pi_3".into(),
                    won
                }
            );
        }
        let cancelling = read(
            "customer.subscription.updated",
            r#"{"id":"sub_1","status":"active","cancel_at_period_end":true}"#,
        );
        assert!(matches!(
            cancelling,
            StripeChange::Subscription(SubscriptionChange {
                state: State::CancellingAtPeriodEnd,
                ..
            })
        ));
    }

    #[test]
    fn events_without_what_tollgate_needs_change_nothing_and_non_events_are_refused() {
        let no_intent =
            br#"{"id":"evt_4","type":"charge.refunded","data":{"object":{"id":"ch_1"}}}"#;
        assert_eq!(
            parse_event(no_intent).expect("event").change,
            StripeChange::Other
        );
        let unknown = br#"{"id":"evt_5","type":"payout.paid","livemode":true,"data":{}}"#;
        let event = parse_event(unknown).expect("event");
        assert!(event.livemode);
        assert_eq!(event.change, StripeChange::Other);
        assert_eq!(parse_event(br#"{"type":"invoice.paid"}"#), None);
        assert_eq!(parse_event(b"not json"), None);
    }
}
