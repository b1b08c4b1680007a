//! Prices (`/v1/prices`) and the balance (`/v1/balance`).

use super::*;

pub(super) fn list_prices(account: &Account, form: &Form<'_>) -> Reply {
    if let Some(refusal) = form.reject_unknown(PRICE_LIST_PARAMS) {
        return refusal;
    }
    let limit = match form.integer("limit") {
        Ok(limit) => limit.unwrap_or(10),
        Err(refusal) => return refusal,
    };
    if !(1..=100).contains(&limit) {
        return bad_param("limit", "This value must be between 1 and 100.");
    }
    let wanted = |price: &&Value| {
        let active = form
            .get("active")
            .is_none_or(|a| price["active"] == (a == "true"));
        let kind = form.get("type").is_none_or(|t| price["type"] == t);
        let currency = form.get("currency").is_none_or(|c| price["currency"] == c);
        let product = form.get("product").is_none_or(|p| price["product"] == p);
        active && kind && currency && product
    };
    // Newest first, as Stripe lists.
    let matching: Vec<&Value> = account.prices.iter().rev().filter(wanted).collect();
    let start = match form.get("starting_after") {
        None => 0,
        Some(after) => match matching.iter().position(|price| price["id"] == after) {
            Some(position) => position + 1,
            None => return no_such(StatusCode::BAD_REQUEST, "price", after, "starting_after"),
        },
    };
    let mut expand_product = false;
    for path in form.list("expand") {
        match path.as_str() {
            "data.product" => expand_product = true,
            other => {
                return bad_param(
                    "expand",
                    &format!("This property cannot be expanded ({other})."),
                );
            }
        }
    }
    let limit = usize::try_from(limit).unwrap_or(10);
    let page: Vec<Value> = matching
        .iter()
        .skip(start)
        .take(limit)
        .map(|price| {
            let mut price = (*price).clone();
            if expand_product
                && let Some(product) = price["product"].as_str().and_then(|id| account.product(id))
            {
                price["product"] = product.clone();
            }
            price
        })
        .collect();
    Reply::ok(&json!({
        "object": "list",
        "data": page,
        "has_more": matching.len() > start + limit,
        "url": "/v1/prices",
    }))
}

// ----- balance -----

/// The account's balance: a test account that has been paid nothing yet (its payments settle
/// outside the fake).
pub(super) fn balance(form: &Form<'_>) -> Reply {
    if let Some(refusal) = form.reject_unknown(&["expand"]) {
        return refusal;
    }
    let zero = json!([{"amount": 0, "currency": "usd", "source_types": {"card": 0}}]);
    Reply::ok(&json!({
        "object": "balance",
        "available": zero,
        "connect_reserved": [{"amount": 0, "currency": "usd"}],
        "livemode": false,
        "pending": zero,
    }))
}
