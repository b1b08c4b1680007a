//! The subscriptions that completed subscription-mode sessions start, and their billing periods.

use super::*;

/// The subscription a completed subscription-mode session starts.
pub(super) fn subscription_object(
    session: &Session,
    customer: &str,
    payment_status: &str,
    now: i64,
) -> Value {
    let id = format!("sub_1{}", random_base62(23));
    let trial_end = session
        .trial_period_days
        .map(|days| now.saturating_add(days.saturating_mul(24 * 60 * 60)));
    let status = match (trial_end, payment_status) {
        (Some(_), _) => "trialing",
        (None, "unpaid") => "incomplete",
        (None, _) => "active",
    };
    let items: Vec<Value> = session
        .items
        .iter()
        .filter(|item| item.price["type"] == "recurring")
        .map(|item| {
            let price = &item.price;
            let recurring = &price["recurring"];
            let interval = recurring["interval"].as_str().unwrap_or("month");
            let period_end = trial_end.unwrap_or_else(|| period_end(now, interval));
            let plan = json!({
                "id": price["id"],
                "object": "plan",
                "active": true,
                "amount": price["unit_amount"],
                "amount_decimal": price["unit_amount_decimal"],
                "billing_scheme": "per_unit",
                "created": price["created"],
                "currency": price["currency"],
                "interval": interval,
                "interval_count": 1,
                "livemode": false,
                "metadata": {},
                "meter": recurring["meter"],
                "nickname": null,
                "product": price["product"],
                "tiers_mode": null,
                "transform_usage": null,
                "trial_period_days": null,
                "usage_type": recurring["usage_type"],
            });
            let mut subscription_item = json!({
                "id": format!("si_{}", random_base62(14)),
                "object": "subscription_item",
                "billing_thresholds": null,
                "created": now,
                "current_period_end": period_end,
                "current_period_start": now,
                "discounts": [],
                "metadata": {},
                "plan": plan,
                "price": price,
                "subscription": id,
                "tax_rates": [],
            });
            if let Some(quantity) = item.quantity {
                subscription_item["quantity"] = json!(quantity);
            }
            subscription_item
        })
        .collect();
    let currency = items
        .first()
        .map_or(Value::Null, |item| item["price"]["currency"].clone());
    let paid = payment_status == "paid";
    let head = json!({
        "id": id,
        "object": "subscription",
        "application": null,
        "application_fee_percent": null,
        "automatic_tax": {"disabled_reason": null, "enabled": false, "liability": null},
        "billing_cycle_anchor": trial_end.unwrap_or(now),
        "billing_cycle_anchor_config": null,
        "billing_mode": {
            "flexible": {"proration_discounts": "included"},
            "type": "flexible",
            "updated_at": now,
        },
        "billing_schedules": [],
        "billing_thresholds": null,
        "cancel_at": null,
        "cancel_at_period_end": false,
        "canceled_at": null,
        "cancellation_details": {"comment": null, "feedback": null, "reason": null},
        "collection_method": "charge_automatically",
        "created": now,
        "currency": currency,
        "customer": customer,
        "customer_account": null,
        "days_until_due": null,
        "default_payment_method": paid.then(|| format!("pm_1{}", random_base62(23))),
        "default_source": null,
        "default_tax_rates": [],
        "description": null,
        "discounts": [],
        "ended_at": null,
    });
    let tail = json!({
        "invoice_settings": {"account_tax_ids": null, "issuer": {"type": "self"}},
        "items": {
            "object": "list",
            "data": items,
            "has_more": false,
            "total_count": items.len(),
            "url": format!("/v1/subscription_items?subscription={id}"),
        },
        "latest_invoice": format!("in_1{}", random_base62(23)),
        "livemode": false,
        "metadata": session.subscription_metadata,
        "next_pending_invoice_item_invoice": null,
        "on_behalf_of": null,
        "pause_collection": null,
        "payment_settings": {
            "payment_method_options": null,
            "payment_method_types": null,
            "save_default_payment_method": "off",
        },
        "pending_invoice_item_interval": null,
        "pending_setup_intent": null,
        "pending_update": null,
        "schedule": null,
        "start_date": now,
        "status": status,
        "test_clock": null,
        "transfer_data": null,
        "trial_end": trial_end,
        "trial_settings": {"end_behavior": {"missing_payment_method": "create_invoice"}},
        "trial_start": trial_end.map(|_| now),
    });
    merged(head, tail)
}

/// `DELETE /v1/subscriptions/{id}`: cancels now (no proration, no refund) and answers the
/// subscription; one already canceled is refused, as Stripe does.
pub(super) fn cancel_subscription(
    account: &mut Account,
    form: &Form<'_>,
    id: &str,
    now: i64,
) -> Reply {
    if let Some(refusal) = form.reject_unknown(&["expand", "invoice_now", "prorate"]) {
        return refusal;
    }
    let Some(subscription) = account.subscriptions.iter_mut().find(|s| s["id"] == id) else {
        return no_such(StatusCode::NOT_FOUND, "subscription", id, "id");
    };
    if subscription["status"] == "canceled" {
        return invalid_request(
            StatusCode::BAD_REQUEST,
            None,
            None,
            &format!(
                "A canceled subscription can only update its cancellation_details and metadata. \
                 ({id})"
            ),
        );
    }
    subscription["status"] = json!("canceled");
    subscription["canceled_at"] = json!(now);
    subscription["ended_at"] = json!(now);
    subscription["cancellation_details"]["reason"] = json!("cancellation_requested");
    Reply::ok(subscription)
}

/// `head` with the fields of `tail` (objects too big for one `json!`).
pub(super) fn merged(mut head: Value, tail: Value) -> Value {
    if let (Some(head), Value::Object(tail)) = (head.as_object_mut(), tail) {
        head.extend(tail);
    }
    head
}

/// One billing interval after `start`.
pub(super) fn period_end(start: i64, interval: &str) -> i64 {
    let Some(start_time) = DateTime::from_timestamp(start, 0) else {
        return start;
    };
    let end = match interval {
        "day" => start_time.checked_add_signed(TimeDelta::days(1)),
        "week" => start_time.checked_add_signed(TimeDelta::weeks(1)),
        "year" => start_time.checked_add_months(Months::new(12)),
        _ => start_time.checked_add_months(Months::new(1)),
    };
    end.map_or(start, |end| end.timestamp())
}
