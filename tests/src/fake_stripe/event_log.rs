//! The account's events as Stripe keeps them: recorded when something happens, delivered to
//! the webhook endpoint unless delivery is switched off (an endpoint that is down), and listed
//! by `GET /v1/events` (newest first, filtered by `types[]` and `created`, paged with
//! `starting_after`); and the payer's and dashboard's actions that make them.

use super::*;

impl FakeStripe {
    /// Sends the events made from now on to `url`, signed with `secret`, as a webhook
    /// endpoint in Stripe's dashboard would.
    pub fn send_webhooks_to(&self, url: &str, secret: &str) {
        self.shared.account().webhook_endpoint = Some((url.to_owned(), secret.to_owned()));
    }

    /// Switches delivery off (`false`: the endpoint is down, events are only recorded) or on
    /// again (events recorded meanwhile are not re-sent: Stripe would have given up).
    pub fn set_webhooks_delivered(&self, delivered: bool) {
        self.shared.account().webhooks_off = !delivered;
    }

    /// Every event recorded, oldest first.
    pub fn recorded_events(&self) -> Vec<Value> {
        self.shared.account().events.clone()
    }

    /// Records an event about `object` made now and delivers it unless delivery is off;
    /// returns the event. A delivery the endpoint refuses is not retried.
    pub async fn publish(&self, event_type: &str, object: Value) -> Value {
        let event = self.event(event_type, object);
        let endpoint = {
            let mut account = self.shared.account();
            account.events.push(event.clone());
            account
                .webhook_endpoint
                .clone()
                .filter(|_| !account.webhooks_off)
        };
        if let Some((url, secret)) = endpoint {
            let response = self.deliver(&url, &event, &secret).await;
            assert_eq!(response.status(), 200, "{event_type} delivered");
        }
        event
    }

    /// The payer pays an open Checkout Session: it completes as paid, and its events are
    /// made (`customer.subscription.created` first for a subscription, then
    /// `checkout.session.completed`). Returns the session.
    pub async fn pay(&self, session_id: &str) -> Value {
        let session = self.complete_session(session_id, "paid");
        if let Some(subscription) = session["subscription"]
            .as_str()
            .and_then(|id| self.subscription(id))
        {
            self.publish("customer.subscription.created", subscription)
                .await;
        }
        self.publish("checkout.session.completed", session.clone())
            .await;
        session
    }

    /// The customer cancels a subscription now (in the portal): it ends, and
    /// `customer.subscription.deleted` is made.
    pub async fn cancel_subscription(&self, id: &str) {
        self.set_subscription(id, "canceled", false);
        let subscription = self.subscription(id).expect("the subscription");
        self.publish("customer.subscription.deleted", subscription)
            .await;
    }

    /// A subscription's status changes (dunning: `past_due`, `unpaid`; `paused`; `active`
    /// again), and `customer.subscription.updated` is made.
    pub async fn change_subscription(&self, id: &str, status: &str) {
        self.set_subscription(id, status, false);
        let subscription = self.subscription(id).expect("the subscription");
        self.publish("customer.subscription.updated", subscription)
            .await;
    }

    /// The merchant refunds `amount` (the rest when `None`) of a paid session's payment, and
    /// `charge.refunded` is made.
    pub async fn refund_payment(&self, session_id: &str, amount: Option<i64>) {
        let charge = self.refund(session_id, amount);
        self.publish("charge.refunded", charge).await;
    }

    /// The payer's bank disputes a paid session's payment, and `charge.dispute.created` is
    /// made; returns the dispute.
    pub async fn open_dispute(&self, session_id: &str) -> Value {
        let dispute = self.dispute(session_id);
        self.publish("charge.dispute.created", dispute.clone())
            .await;
        dispute
    }
}

/// `GET /v1/events`: newest first, of the `types[]` (or the one `type`) asked, within
/// `created[gte|gt|lte|lt]`, after `starting_after`, `limit` (1–100, default 10) at a time.
pub(super) fn list_events(account: &Account, form: &Form<'_>) -> Reply {
    if let Some(refusal) = form.reject_unknown(EVENT_LIST_PARAMS) {
        return refusal;
    }
    let limit = match form.integer("limit") {
        Ok(limit) => limit.unwrap_or(10),
        Err(refusal) => return refusal,
    };
    if !(1..=100).contains(&limit) {
        return bad_param("limit", "This value must be between 1 and 100.");
    }
    let types = form.list("types");
    if types.len() > 20 {
        return bad_param("types", "You may pass at most 20 types.");
    }
    if !types.is_empty() && form.get("type").is_some() {
        return bad_param(
            "types",
            "You may pass either `type` or `types`, but not both.",
        );
    }
    let mut bounds = Vec::new();
    for op in ["gte", "gt", "lte", "lt"] {
        match form.integer(&format!("created[{op}]")) {
            Ok(Some(value)) => bounds.push((op, value)),
            Ok(None) => {}
            Err(refusal) => return refusal,
        }
    }
    let wanted = |event: &&Value| {
        let kind = event["type"].as_str().unwrap_or_default();
        let typed = match form.get("type") {
            Some(one) => one
                .strip_suffix('*')
                .map_or(kind == one, |prefix| kind.starts_with(prefix)),
            None => types.is_empty() || types.iter().any(|t| t == kind),
        };
        let created = event["created"].as_i64().unwrap_or_default();
        let within = bounds.iter().all(|(op, value)| match *op {
            "gte" => created >= *value,
            "gt" => created > *value,
            "lte" => created <= *value,
            _ => created < *value,
        });
        typed && within
    };
    // Newest first, as Stripe lists; events of one second in the reverse order they were made.
    let matching: Vec<&Value> = account.events.iter().rev().filter(wanted).collect();
    let start = match form.get("starting_after") {
        None => 0,
        Some(after) => match matching.iter().position(|event| event["id"] == after) {
            Some(position) => position + 1,
            None => return no_such(StatusCode::BAD_REQUEST, "event", after, "starting_after"),
        },
    };
    let limit = usize::try_from(limit).unwrap_or(10);
    let page: Vec<Value> = matching
        .iter()
        .skip(start)
        .take(limit)
        .map(|event| (*event).clone())
        .collect();
    Reply::ok(&json!({
        "object": "list",
        "data": page,
        "has_more": matching.len() > start + limit,
        "url": "/v1/events",
    }))
}
