//! The plan (offer) editor's rules: the form's text fields in, a `NewOffer` or the first
//! field to fix out. Pure functions, tested on the host.

use crate::money::{self, optional_count};
use crate::text;
use crate::validate;
use crate::wire::NewOffer;

/// The plan form as typed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PlanInput {
    /// Display name.
    pub name: String,
    /// `one_time`, `subscription` or `metered`.
    pub kind: String,
    /// Calls one purchase buys (one-time; empty = unlimited).
    pub calls: String,
    /// `month` or `year`.
    pub interval: String,
    /// The billing meter's event name (metered).
    pub meter_event: String,
    /// The value each call reports (metered, empty = 1).
    pub meter_value: String,
    /// The Stripe price id.
    pub price_id: String,
    /// The amount as a decimal ("5.00").
    pub amount: String,
    /// ISO code.
    pub currency: String,
    /// Free calls per user per month (empty = none).
    pub free_quota: String,
    /// Most billed calls a month (metered, empty = no cap).
    pub spend_cap: String,
    /// Why payment is asked (optional).
    pub payment_reason: String,
    /// Where the browser goes after paying (optional).
    pub success_url: String,
    /// Days a past-due subscription keeps access (subscription, metered; empty = 3).
    pub past_due_grace_days: String,
}

/// The kinds, with labels.
pub const KINDS: [(&str, &str); 3] = [
    ("one_time", "One-time purchase"),
    ("subscription", "Subscription"),
    ("metered", "Metered (pay per call)"),
];

/// Every field in the order the form shows them.
pub const FIELDS: [&str; 14] = [
    "name",
    "kind",
    "calls",
    "interval",
    "meter_event",
    "meter_value",
    "price_id",
    "amount",
    "currency",
    "free_quota",
    "spend_cap",
    "past_due_grace_days",
    "payment_reason",
    "success_url",
];

impl PlanInput {
    /// A fresh one-time plan in `currency` with a price id suggestion for the sandbox.
    pub fn new_one_time(sandbox: bool) -> Self {
        PlanInput {
            name: String::new(),
            kind: "one_time".into(),
            calls: "100".into(),
            interval: "month".into(),
            currency: "usd".into(),
            price_id: if sandbox {
                text::sandbox_price_id("")
            } else {
                String::new()
            },
            ..PlanInput::default()
        }
    }

    /// The form filled from a plan.
    pub fn from_offer(offer: &NewOffer) -> Self {
        let count = |n: Option<i64>| n.map(|n| n.to_string()).unwrap_or_default();
        PlanInput {
            name: offer.name.clone(),
            kind: offer.kind.clone(),
            calls: count(offer.calls),
            interval: offer.interval.clone().unwrap_or_else(|| "month".into()),
            meter_event: offer.meter_event.clone().unwrap_or_default(),
            meter_value: count(offer.meter_value),
            price_id: offer.price_id.clone(),
            amount: money::format_minor(offer.amount, &offer.currency),
            currency: offer.currency.clone(),
            free_quota: count(offer.free_quota.map(i64::from)),
            spend_cap: count(offer.spend_cap),
            payment_reason: offer.payment_reason.clone().unwrap_or_default(),
            success_url: offer.success_url.clone().unwrap_or_default(),
            past_due_grace_days: count(offer.past_due_grace_days),
        }
    }

    /// Whether `field` matters for this kind.
    pub fn shows(&self, field: &str) -> bool {
        match field {
            "calls" => self.kind == "one_time",
            "interval" | "past_due_grace_days" => {
                self.kind == "subscription" || self.kind == "metered"
            }
            "meter_event" | "meter_value" | "spend_cap" => self.kind == "metered",
            _ => true,
        }
    }

    /// The message for `field`, if it is wrong.
    pub fn error(&self, field: &str) -> Option<String> {
        if !self.shows(field) {
            return None;
        }
        let result: Result<(), String> = match field {
            "name" => validate::text("plan name", &self.name, 200),
            "kind" => match self.kind.as_str() {
                "one_time" | "subscription" | "metered" => Ok(()),
                _ => Err("choose what kind of plan this is".into()),
            },
            "calls" => optional_count(&self.calls, "number of calls", 1, 1_000_000_000).map(drop),
            "interval" => match self.interval.as_str() {
                "month" | "year" => Ok(()),
                _ => Err("choose month or year".into()),
            },
            "meter_event" => meter_event(&self.meter_event),
            "meter_value" => {
                optional_count(&self.meter_value, "meter value", 1, 1_000_000).map(drop)
            }
            "price_id" => text::price_id(&self.price_id),
            "amount" => match money::currency(&self.currency) {
                Ok(currency) => money::parse_amount(&self.amount, &currency).map(drop),
                Err(_) => Ok(()),
            },
            "currency" => money::currency(&self.currency).map(drop),
            "free_quota" => optional_count(&self.free_quota, "free quota", 0, 1_000_000).map(drop),
            "spend_cap" => optional_count(&self.spend_cap, "spend cap", 1, 1_000_000_000).map(drop),
            "payment_reason" if self.payment_reason.trim().is_empty() => Ok(()),
            "payment_reason" => validate::text("payment reason", &self.payment_reason, 500),
            "success_url" if self.success_url.trim().is_empty() => Ok(()),
            "success_url" => text::http_url(&self.success_url),
            "past_due_grace_days" => grace_days(&self.past_due_grace_days).map(drop),
            _ => Ok(()),
        };
        result.err()
    }

    /// The first field to fix, with its message.
    pub fn first_error(&self) -> Option<(&'static str, String)> {
        FIELDS
            .iter()
            .find_map(|field| self.error(field).map(|message| (*field, message)))
    }

    /// The plan to send, or the first field to fix.
    pub fn to_offer(&self) -> Result<NewOffer, (&'static str, String)> {
        if let Some(problem) = self.first_error() {
            return Err(problem);
        }
        let bad = |field: &'static str, message: String| (field, message);
        let currency = money::currency(&self.currency).map_err(|m| bad("currency", m))?;
        let amount = money::parse_amount(&self.amount, &currency).map_err(|m| bad("amount", m))?;
        let count = |field: &'static str, raw: &str, min: i64, max: i64| {
            if self.shows(field) {
                optional_count(raw, field, min, max).map_err(|m| bad(field, m))
            } else {
                Ok(None)
            }
        };
        let optional_text = |raw: &str| {
            let raw = raw.trim();
            (!raw.is_empty()).then(|| raw.to_string())
        };
        let free_quota = count("free_quota", &self.free_quota, 0, 1_000_000)?
            .map(|n| i32::try_from(n).unwrap_or(i32::MAX));
        Ok(NewOffer {
            name: self.name.trim().to_string(),
            kind: self.kind.clone(),
            price_id: self.price_id.trim().to_string(),
            amount,
            currency,
            interval: self.shows("interval").then(|| self.interval.clone()),
            calls: count("calls", &self.calls, 1, 1_000_000_000)?,
            meter_event: if self.shows("meter_event") {
                optional_text(&self.meter_event)
            } else {
                None
            },
            meter_value: count("meter_value", &self.meter_value, 1, 1_000_000)?,
            free_quota,
            spend_cap: count("spend_cap", &self.spend_cap, 1, 1_000_000_000)?,
            payment_reason: optional_text(&self.payment_reason),
            success_url: optional_text(&self.success_url),
            past_due_grace_days: if self.shows("past_due_grace_days") {
                grace_days(&self.past_due_grace_days).map_err(|m| bad("past_due_grace_days", m))?
            } else {
                None
            },
        })
    }
}

/// The past-due grace as typed: empty is the default (none sent), else whole days within
/// `validate::past_due_grace_days`'s range.
fn grace_days(raw: &str) -> Result<Option<i64>, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    let days: i64 = raw
        .parse()
        .map_err(|_| "the past-due grace is a whole number of days".to_string())?;
    validate::past_due_grace_days(days)?;
    Ok(Some(days))
}

/// A Stripe billing meter's event name: 1-100 characters of letters, digits, `_`, `-`, `.`.
pub fn meter_event(raw: &str) -> Result<(), String> {
    let raw = raw.trim();
    let ok = (1..=100).contains(&raw.len())
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if ok {
        Ok(())
    } else {
        Err("the meter's event name: 1-100 letters, digits, _, - and .".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_time() -> PlanInput {
        PlanInput {
            name: "Pro".into(),
            price_id: "price_sandbox_pro".into(),
            amount: "5.00".into(),
            free_quota: "3".into(),
            ..PlanInput::new_one_time(true)
        }
    }

    #[test]
    fn a_one_time_plan_becomes_an_offer() {
        let offer = one_time().to_offer().expect("valid");
        assert_eq!(offer.name, "Pro");
        assert_eq!(offer.kind, "one_time");
        assert_eq!(offer.amount, 500);
        assert_eq!(offer.currency, "usd");
        assert_eq!(offer.calls, Some(100));
        assert_eq!(offer.free_quota, Some(3));
        assert_eq!(offer.interval, None);
        assert_eq!(offer.meter_event, None);
        assert_eq!(offer.payment_reason, None);
        assert_eq!(PlanInput::from_offer(&offer).to_offer(), Ok(offer));
    }

    #[test]
    fn unlimited_calls_and_subscriptions() {
        let mut input = one_time();
        input.calls = String::new();
        assert_eq!(input.to_offer().map(|o| o.calls), Ok(None));
        input.kind = "subscription".into();
        input.calls = "nonsense".into(); // ignored for subscriptions
        let offer = input.to_offer().expect("valid");
        assert_eq!(offer.interval.as_deref(), Some("month"));
        assert_eq!(offer.calls, None);
    }

    #[test]
    fn metered_plans_need_an_event() {
        let mut input = one_time();
        input.kind = "metered".into();
        assert_eq!(input.first_error().map(|e| e.0), Some("meter_event"));
        input.meter_event = "api_calls".into();
        input.spend_cap = "1000".into();
        let offer = input.to_offer().expect("valid");
        assert_eq!(offer.meter_event.as_deref(), Some("api_calls"));
        assert_eq!(offer.spend_cap, Some(1000));
        assert_eq!(offer.meter_value, None);
    }

    #[test]
    fn errors_name_their_field() {
        let mut input = one_time();
        input.amount = "5.001".into();
        assert_eq!(input.first_error().map(|e| e.0), Some("amount"));
        input.amount = "5".into();
        input.price_id = "prod_1".into();
        assert_eq!(input.first_error().map(|e| e.0), Some("price_id"));
        input.price_id = "price_1".into();
        input.success_url = "example.com".into();
        assert_eq!(input.first_error().map(|e| e.0), Some("success_url"));
        input.success_url = String::new();
        input.name = " ".into();
        assert_eq!(input.first_error().map(|e| e.0), Some("name"));
    }

    #[test]
    fn subscriptions_say_their_past_due_grace() {
        let mut input = one_time();
        input.past_due_grace_days = "40".into(); // ignored for one-time plans
        assert_eq!(input.to_offer().map(|o| o.past_due_grace_days), Ok(None));
        input.kind = "subscription".into();
        assert_eq!(
            input.first_error().map(|e| e.0),
            Some("past_due_grace_days")
        );
        input.past_due_grace_days = "0".into();
        let offer = input.to_offer().expect("valid");
        assert_eq!(offer.past_due_grace_days, Some(0));
        assert_eq!(PlanInput::from_offer(&offer).past_due_grace_days, "0");
        input.past_due_grace_days = String::new();
        assert_eq!(input.to_offer().map(|o| o.past_due_grace_days), Ok(None));
    }
}
