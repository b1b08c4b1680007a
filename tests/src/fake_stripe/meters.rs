//! Billing meter events (`/v1/billing/meter_events`).

use super::*;

pub(super) fn create_meter_event(account: &mut Account, form: &Form<'_>, now: i64) -> Reply {
    if let Some(refusal) = form.reject_unknown(METER_EVENT_PARAMS) {
        return refusal;
    }
    let Some(event_name) = form.get("event_name") else {
        return missing("event_name");
    };
    let payload = form.map("payload");
    if payload.is_empty() {
        return missing("payload");
    }
    let timestamp = match form.integer("timestamp") {
        Ok(timestamp) => timestamp.unwrap_or(now),
        Err(refusal) => return refusal,
    };
    if timestamp < now - METER_PAST || timestamp > now + METER_FUTURE {
        return bad_param(
            "timestamp",
            "The timestamp must be within the past 35 calendar days and no more than 5 \
             minutes in the future.",
        );
    }
    let identifier = form
        .get("identifier")
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
    if identifier.chars().count() > 100 {
        return bad_param(
            "identifier",
            "Invalid string: identifier must be at most 100 characters",
        );
    }
    if account
        .identifiers
        .get(&identifier)
        .is_some_and(|recorded| now - recorded < IDENTIFIER_WINDOW)
    {
        account.counts.duplicate_meter_events += 1;
        // What Stripe answers (observed, not documented): no `code`, and not worth retrying.
        return invalid_request(
            StatusCode::BAD_REQUEST,
            None,
            None,
            &format!("An event already exists with identifier {identifier}."),
        )
        .with_header("stripe-should-retry", "false");
    }
    let event = json!({
        "object": "billing.meter_event",
        "created": now,
        "event_name": event_name,
        "identifier": identifier,
        "livemode": false,
        "payload": payload,
        "timestamp": timestamp,
    });
    account.identifiers.insert(identifier, now);
    account.meter_events.push(event.clone());
    Reply::ok(&event)
}
