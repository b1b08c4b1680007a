//! The fake playing the paying user and the customer portal: completing and expiring Checkout Sessions, changing subscriptions.

use super::*;

impl FakeStripe {
    /// Plays the paying user: completes an open Checkout Session with `payment_status`
    /// (`paid`, `unpaid` or `no_payment_required`). Payment mode gets a PaymentIntent
    /// `pi_…` (unless no payment was required); subscription mode gets a customer if it had
    /// none and a subscription `sub_…` (`active`, or `incomplete` when unpaid, or `trialing`
    /// with `subscription_data[trial_period_days]`) carrying `subscription_data[metadata]`
    /// and the session's prices. Returns the session as it now is.
    pub fn complete_session(&self, session_id: &str, payment_status: &str) -> Value {
        assert!(
            matches!(payment_status, "paid" | "unpaid" | "no_payment_required"),
            "a Checkout Session's payment_status is paid, unpaid or no_payment_required"
        );
        let now = self.shared.now();
        let mut guard = self.shared.account();
        let account = &mut *guard;
        let session = account
            .sessions
            .iter_mut()
            .find(|session| session.object["id"] == session_id)
            .unwrap_or_else(|| panic!("the fake Stripe has no Checkout Session {session_id}"));
        assert_eq!(
            session.object["status"], "open",
            "only an open Checkout Session can be completed"
        );
        let subscription_mode = session.object["mode"] == "subscription";
        let mut customer_id = session.object["customer"].as_str().map(str::to_owned);
        let known = customer_id
            .as_deref()
            .and_then(|id| account.customers.iter().find(|c| c["id"] == id));
        let email = known
            .and_then(|customer| customer["email"].as_str())
            .or_else(|| session.object["customer_email"].as_str())
            .unwrap_or("jenny.rosen@example.com")
            .to_owned();
        let name = known
            .and_then(|customer| customer["name"].as_str())
            .unwrap_or("Jenny Rosen")
            .to_owned();
        if customer_id.is_none()
            && (subscription_mode || session.object["customer_creation"] == "always")
        {
            let customer = customer_object(&Form(&[]), now, Some(&email), Some(&name));
            customer_id = customer["id"].as_str().map(str::to_owned);
            account.customers.push(customer);
        }
        let object = &mut session.object;
        object["status"] = json!("complete");
        object["payment_status"] = json!(payment_status);
        object["customer"] = json!(customer_id);
        object["url"] = Value::Null;
        object["customer_details"] = json!({
            "address": {
                "city": null,
                "country": "US",
                "line1": null,
                "line2": null,
                "postal_code": "94103",
                "state": null,
            },
            "business_name": null,
            "email": email,
            "individual_name": null,
            "name": name,
            "phone": null,
            "tax_exempt": "none",
            "tax_ids": [],
        });
        object["collected_information"] = json!({
            "business_name": null,
            "individual_name": null,
            "shipping_details": null,
        });
        if subscription_mode {
            let customer = customer_id.unwrap_or_default();
            let subscription = subscription_object(session, &customer, payment_status, now);
            session.object["subscription"] = subscription["id"].clone();
            session.object["invoice"] = subscription["latest_invoice"].clone();
            account.subscriptions.push(subscription);
        } else if payment_status != "no_payment_required" {
            session.object["payment_intent"] = json!(format!("pi_3{}", random_base62(23)));
        }
        session.object.clone()
    }

    /// Where Checkout sends the browser after paying: the session's `success_url` with
    /// `{CHECKOUT_SESSION_ID}` replaced, as Stripe does.
    pub fn success_redirect(&self, session_id: &str) -> Option<String> {
        let account = self.shared.account();
        let url = account.session(session_id)?.object["success_url"].as_str()?;
        Some(url.replace("{CHECKOUT_SESSION_ID}", session_id))
    }

    /// Expires an open Checkout Session, as 24 hours passing would; returns it.
    pub fn expire_session(&self, session_id: &str) -> Value {
        let mut account = self.shared.account();
        let session = account
            .session_mut(session_id)
            .unwrap_or_else(|| panic!("the fake Stripe has no Checkout Session {session_id}"));
        assert_eq!(
            session.object["status"], "open",
            "only an open Checkout Session can expire"
        );
        session.object["status"] = json!("expired");
        session.object["url"] = Value::Null;
        session.object.clone()
    }

    /// A subscription as it is now.
    pub fn subscription(&self, id: &str) -> Option<Value> {
        self.shared
            .account()
            .subscriptions
            .iter()
            .find(|subscription| subscription["id"] == id)
            .cloned()
    }

    /// Changes a subscription as the customer (in the portal) or dunning would: its `status`
    /// and `cancel_at_period_end` (which sets `cancel_at` to the end of the current period).
    /// `canceled` ends it now.
    pub fn set_subscription(&self, id: &str, status: &str, cancel_at_period_end: bool) {
        let now = self.shared.now();
        let mut account = self.shared.account();
        let subscription = account
            .subscriptions
            .iter_mut()
            .find(|subscription| subscription["id"] == id)
            .unwrap_or_else(|| panic!("the fake Stripe has no subscription {id}"));
        let period_end = subscription["items"]["data"][0]["current_period_end"].clone();
        subscription["status"] = json!(status);
        subscription["cancel_at_period_end"] = json!(cancel_at_period_end);
        let canceling = cancel_at_period_end || status == "canceled";
        if canceling {
            if subscription["canceled_at"].is_null() {
                subscription["canceled_at"] = json!(now);
            }
            subscription["cancellation_details"]["reason"] = json!("cancellation_requested");
        } else {
            subscription["canceled_at"] = Value::Null;
            subscription["cancellation_details"]["reason"] = Value::Null;
        }
        subscription["cancel_at"] = if cancel_at_period_end {
            period_end
        } else {
            Value::Null
        };
        subscription["ended_at"] = if status == "canceled" {
            json!(now)
        } else {
            Value::Null
        };
    }
}
