//! The end user's payment pages: pay, success, cancel, account, and the sandbox checkout.

use super::{PlanStatus, PurchaseStatus, PurchaseView};
use crate::html::{escape, layout};
use crate::oauth::EndUser;

/// A page with a title and one paragraph.
pub fn message(title: &str, text: &str) -> String {
    layout(
        title,
        &format!("<h1>{}</h1><p>{}</p>", escape(title), escape(text)),
    )
}

/// The refund rule, stated on every page that shows a plan before it is paid
/// (`billing/lifecycle.rs` is where it is applied).
const REFUND_RULE: &str = "A partial refund keeps your access; a full refund or a lost chargeback ends it, and an open chargeback pauses it.";

/// The past-due rule of a subscription plan: how long access lasts once a renewal payment
/// failed (the plan's own grace; `lifecycle.rs` applies it).
fn past_due_rule(offer: &super::Offer) -> String {
    match offer.past_due_grace_days {
        0 => " If a renewal payment fails, access stops until it is paid.".to_owned(),
        1 => " If a renewal payment fails, access continues for 1 day while it is retried."
            .to_owned(),
        days => format!(
            " If a renewal payment fails, access continues for {days} days while it is retried."
        ),
    }
}

fn offer_lines(view: &PurchaseView) -> String {
    match &view.offer {
        Some(offer) => format!(
            "<p><strong>{}</strong> — {}</p><p><small>{}</small></p><p><small>{}{}</small></p>",
            escape(&offer.name),
            escape(&offer.price_text()),
            escape(&offer.payment_reason),
            escape(REFUND_RULE),
            if offer.kind == super::OfferKind::OneTime {
                String::new()
            } else {
                escape(&past_due_rule(offer))
            }
        ),
        None => String::new(),
    }
}

/// The payment page: what is bought, from whom, then on to checkout.
pub fn pay(tenant: &str, view: &PurchaseView) -> String {
    let body = match view.status {
        PurchaseStatus::Paid => "<p>This is paid. Return to your assistant and run the tool again.</p>".to_owned(),
        PurchaseStatus::Processing => "<p>Your payment is being processed. Return to your assistant; the tool will work once it is confirmed.</p>".to_owned(),
        PurchaseStatus::Open => format!(
            r#"<div class="actions"><a href="{}"><button class="primary" type="button">Continue to checkout</button></a></div>"#,
            escape(&view.checkout_url)
        ),
        _ => "<p>This payment link has expired. Run the tool again in your assistant for a new one.</p>".to_owned(),
    };
    layout(
        "Payment",
        &format!("<h1>Pay {}</h1>{}{body}", escape(tenant), offer_lines(view)),
    )
}

/// After checkout: confirmed, or pending until the provider confirms.
pub fn success(tenant: &str, view: &PurchaseView) -> String {
    let text = if view.status == PurchaseStatus::Paid {
        "Payment received. Return to your assistant and run the tool again: it works now."
    } else {
        "Thank you. Your payment is pending confirmation; return to your assistant and retry in a moment."
    };
    layout(
        "Thank you",
        &format!(
            "<h1>{}</h1>{}<p>{}</p>",
            escape(tenant),
            offer_lines(view),
            escape(text)
        ),
    )
}

/// Checkout was cancelled.
pub fn cancelled(tenant: &str, view: &PurchaseView) -> String {
    layout(
        "Payment cancelled",
        &format!(
            "<h1>Payment cancelled</h1>{}<p>Nothing was charged by {}. You can return to your assistant; running the tool again offers the payment again.</p>",
            offer_lines(view),
            escape(tenant)
        ),
    )
}

/// The sandbox checkout: unmistakably a test, showing what is bought and its price; the form
/// carries the CSRF value bound to this browser's cookie.
pub fn sandbox(tenant: &str, view: &PurchaseView, action: &str, csrf: &str) -> String {
    let pay = if view.status == PurchaseStatus::Paid {
        "<p>This is paid. Return to your assistant and run the tool again.</p>".to_owned()
    } else {
        format!(
            r#"<form method="post" action="{}"><input type="hidden" name="csrf" value="{}"><div class="actions"><button class="primary" type="submit">Pay (test)</button></div></form>"#,
            escape(action),
            escape(csrf)
        )
    };
    layout(
        "Test checkout",
        &format!(
            r#"<p class="demo"><strong>TEST MODE.</strong> This is Tollgate's sandbox checkout: no card, no money. {} has not connected a payment provider.</p>
<h1>Pay {}</h1>{}{pay}"#,
            escape(tenant),
            escape(tenant),
            offer_lines(view),
        ),
    )
}

/// The account page.
pub fn account(tenant: &str, user: &EndUser, plans: &[PlanStatus], portal: Option<&str>) -> String {
    let rows: String = plans
        .iter()
        .map(|p| {
            let state = if p.active { "active" } else { "not purchased" };
            let remaining = p
                .calls_remaining
                .map(|n| format!(", {n} calls left"))
                .unwrap_or_default();
            let until = p
                .access_until
                .map(|t| format!(", until {}", t.format("%Y-%m-%d")))
                .unwrap_or_default();
            let free = p
                .free_calls_left
                .map(|n| format!(", {n} free calls left this month"))
                .unwrap_or_default();
            format!(
                "<li><strong>{}</strong> ({}): {state}{remaining}{until}{free}; {} billed calls this month</li>",
                escape(&p.offer),
                escape(&p.price),
                p.calls_this_month
            )
        })
        .collect();
    let portal = portal
        .map(|url| {
            format!(
                r#"<p><a href="{}">Manage billing and invoices</a></p>"#,
                escape(url)
            )
        })
        .unwrap_or_default();
    layout(
        "Your account",
        &format!(
            "<h1>{}</h1><p>Signed in as {}</p><ul>{rows}</ul>{portal}",
            escape(tenant),
            escape(user.display_name.as_deref().unwrap_or(&user.login))
        ),
    )
}
