//! Checkout Sessions (`/v1/checkout/sessions`): creation, line items, expiry.

use super::*;

pub(super) fn create_session(
    shared: &Shared,
    account: &mut Account,
    form: &Form<'_>,
    now: i64,
) -> Reply {
    let checked = form
        .reject_unknown(CHECKOUT_PARAMS)
        .or_else(|| form.check_metadata("metadata"))
        .or_else(|| form.check_metadata("subscription_data[metadata]"))
        .or_else(|| form.check_metadata("payment_intent_data[metadata]"));
    if let Some(refusal) = checked {
        return refusal;
    }
    let mode = match form.get("mode") {
        None => return missing("mode"),
        Some(mode @ ("payment" | "subscription")) => mode,
        Some("setup") => {
            return bad_param("mode", "The fake Stripe does not model `setup` mode.");
        }
        Some(_) => {
            return bad_param(
                "mode",
                "Invalid mode: must be one of payment, setup, or subscription",
            );
        }
    };
    let payment = mode == "payment";
    let ui_mode = form.get("ui_mode").unwrap_or("hosted_page");
    if !matches!(
        ui_mode,
        "hosted_page" | "embedded_page" | "elements" | "form"
    ) {
        return bad_param(
            "ui_mode",
            "Invalid ui_mode: must be one of hosted_page, embedded_page, elements, or form",
        );
    }
    if payment && form.has("subscription_data") {
        return bad_param(
            "subscription_data",
            "You can only specify `subscription_data` in `subscription` mode.",
        );
    }
    if !payment && form.has("payment_intent_data") {
        return bad_param(
            "payment_intent_data",
            "You can not pass `payment_intent_data` in `subscription` mode.",
        );
    }
    let customer = form.get("customer");
    if customer.is_some() && form.get("customer_email").is_some() {
        return bad_param(
            "customer_email",
            "You may only specify one of these parameters: customer, customer_email.",
        );
    }
    if let Some(id) = customer
        && account.customer(id).is_none()
    {
        return no_such(StatusCode::BAD_REQUEST, "customer", id, "customer");
    }
    let items = match line_items(account, form, payment) {
        Ok(items) => items,
        Err(refusal) => return refusal,
    };
    for param in ["success_url", "cancel_url", "return_url"] {
        if let Some(value) = form.get(param)
            && !is_web_url(value)
        {
            return invalid_request(
                StatusCode::BAD_REQUEST,
                Some("url_invalid"),
                Some(param),
                "Not a valid URL",
            );
        }
    }
    let expires_at = match form.integer("expires_at") {
        Ok(expires_at) => expires_at.unwrap_or(now + SESSION_MAX_LIFETIME),
        Err(refusal) => return refusal,
    };
    if expires_at < now + SESSION_MIN_LIFETIME {
        return bad_param(
            "expires_at",
            "The `expires_at` timestamp must be at least 30 minutes from Checkout Session \
             creation.",
        );
    }
    if expires_at > now + SESSION_MAX_LIFETIME {
        return bad_param(
            "expires_at",
            "The `expires_at` timestamp must be less than 24 hours from Checkout Session \
             creation.",
        );
    }
    if form
        .get("client_reference_id")
        .is_some_and(|id| id.chars().count() > 200)
    {
        return bad_param(
            "client_reference_id",
            "Invalid string: client_reference_id must be at most 200 characters",
        );
    }
    let trial_period_days = match form.integer("subscription_data[trial_period_days]") {
        Ok(days) => days,
        Err(refusal) => return refusal,
    };
    let id = format!("cs_test_a1{}", random_base62(56));
    let object = session_object(shared, &id, form, &items, now, expires_at);
    account.sessions.push(Session {
        object: object.clone(),
        items,
        subscription_metadata: form.map("subscription_data[metadata]"),
        trial_period_days,
    });
    Reply::ok(&object)
}

/// `line_items[i][…]`: prices the account has, with quantities where Stripe wants them.
pub(super) fn line_items(
    account: &Account,
    form: &Form<'_>,
    payment: bool,
) -> Result<Vec<LineItem>, Reply> {
    let indexed = form.indexed("line_items");
    if indexed.is_empty() {
        return Err(missing("line_items"));
    }
    let mut items = Vec::new();
    for (index, fields) in &indexed {
        let param = |field: &str| format!("line_items[{index}][{field}]");
        let field = |name: &str| {
            fields
                .iter()
                .rev()
                .find(|(key, value)| key == name && !value.is_empty())
                .map(|(_, value)| value.as_str())
        };
        for (key, _) in fields {
            let top = key.split('[').next().unwrap_or_default();
            if !LINE_ITEM_PARAMS.contains(&top) {
                return Err(unknown_parameter(&param(top)));
            }
        }
        let Some(price_id) = field("price") else {
            if fields.iter().any(|(key, _)| key.starts_with("price_data")) {
                return Err(bad_param(
                    &param("price_data"),
                    "The fake Stripe knows only prices added with `add_price`: pass \
                     `price` instead of `price_data`.",
                ));
            }
            return Err(missing(&param("price")));
        };
        let Some(price) = account.price(price_id) else {
            return Err(no_such(
                StatusCode::BAD_REQUEST,
                "price",
                price_id,
                &param("price"),
            ));
        };
        if price["active"] != true {
            return Err(bad_param(
                &param("price"),
                "The price specified is inactive. This field only accepts active prices.",
            ));
        }
        let quantity = match field("quantity") {
            None => None,
            Some(text) => match text.parse::<u64>() {
                Ok(quantity) => Some(quantity),
                Err(_) => {
                    return Err(invalid_request(
                        StatusCode::BAD_REQUEST,
                        Some("parameter_invalid_integer"),
                        Some(&param("quantity")),
                        &format!("Invalid integer: {text}"),
                    ));
                }
            },
        };
        let item = LineItem {
            price: price.clone(),
            quantity,
        };
        if item.metered() && quantity.is_some() {
            return Err(bad_param(
                &param("quantity"),
                &format!(
                    "Quantity should not be specified where usage_type is `metered`. Remove \
                     quantity from `line_items[{index}]`."
                ),
            ));
        }
        if !item.metered() && quantity.is_none() {
            return Err(invalid_request(
                StatusCode::BAD_REQUEST,
                Some("parameter_missing"),
                Some(&param("quantity")),
                &format!("Quantity is required. Add `quantity` to `line_items[{index}]`."),
            ));
        }
        if quantity == Some(0) {
            return Err(bad_param(
                &param("quantity"),
                "This value must be greater than or equal to 1.",
            ));
        }
        if payment && price["type"] == "recurring" {
            return Err(bad_param(
                "mode",
                "You specified `payment` mode but passed a recurring price. Either switch to \
                 `subscription` mode or use only one-time prices.",
            ));
        }
        items.push(item);
    }
    if !payment && !items.iter().any(|item| item.price["type"] == "recurring") {
        return Err(bad_param(
            "mode",
            "You must provide at least one recurring price in `subscription` mode when using \
             prices.",
        ));
    }
    Ok(items)
}

pub(super) fn is_web_url(text: &str) -> bool {
    url::Url::parse(text).is_ok_and(|url| matches!(url.scheme(), "http" | "https"))
}

pub(super) fn session_object(
    shared: &Shared,
    id: &str,
    form: &Form<'_>,
    items: &[LineItem],
    now: i64,
    expires_at: i64,
) -> Value {
    let mode = form.get("mode").unwrap_or("payment");
    let payment = mode == "payment";
    let ui_mode = form.get("ui_mode").unwrap_or("hosted_page");
    let hosted = ui_mode == "hosted_page";
    let customer = form.get("customer");
    let amount: i64 = items.iter().map(LineItem::amount).sum();
    let currency = items
        .first()
        .map_or(Value::Null, |item| item.price["currency"].clone());
    let customer_creation = match customer {
        Some(_) => Value::Null,
        None => json!(form.get("customer_creation").unwrap_or(if payment {
            "if_required"
        } else {
            "always"
        })),
    };
    let invoice_creation = payment.then(|| {
        json!({
            "enabled": form.get("invoice_creation[enabled]") == Some("true"),
            "invoice_data": {
                "account_tax_ids": null,
                "custom_fields": null,
                "description": null,
                "footer": null,
                "issuer": null,
                "metadata": {},
                "rendering_options": null,
            },
        })
    });
    let saved_payment_method_options = customer.map(|_| {
        json!({
            "allow_redisplay_filters": ["always"],
            "payment_method_remove": null,
            "payment_method_save": null,
        })
    });
    let object = json!({
        "id": id,
        "object": "checkout.session",
        "adaptive_pricing": {"enabled": false},
        "after_expiration": null,
        "allow_promotion_codes": null,
        "amount_subtotal": amount,
        "amount_total": amount,
        "automatic_tax": {"enabled": false, "liability": null, "provider": null, "status": null},
        "billing_address_collection": null,
        "cancel_url": form.get("cancel_url"),
        "client_reference_id": form.get("client_reference_id"),
        "client_secret": (!hosted).then(|| format!("{id}_secret_{}", random_base62(24))),
        "collected_information": null,
        "consent": null,
        "consent_collection": null,
        "created": now,
        "currency": currency,
        "currency_conversion": null,
        "custom_fields": [],
        "custom_text": {
            "after_submit": null,
            "shipping_address": null,
            "submit": null,
            "terms_of_service_acceptance": null,
        },
        "customer": customer,
        "customer_account": null,
        "customer_creation": customer_creation,
        "customer_details": null,
        "customer_email": form.get("customer_email"),
        "discounts": [],
        "expires_at": expires_at,
        "invoice": null,
        "invoice_creation": invoice_creation,
        "livemode": false,
        "locale": form.get("locale"),
    });
    let rest = json!({
        "metadata": form.map("metadata"),
        "mode": mode,
        "origin_context": null,
        "payment_intent": null,
        "payment_link": null,
        "payment_method_collection": form
            .get("payment_method_collection")
            .unwrap_or(if payment { "if_required" } else { "always" }),
        "payment_method_configuration_details": null,
        "payment_method_options": {"card": {"request_three_d_secure": "automatic"}},
        "payment_method_types": ["card"],
        "payment_status": "unpaid",
        "permissions": null,
        "phone_number_collection": {"enabled": false},
        "recovered_from": null,
        "return_url": form.get("return_url"),
        "saved_payment_method_options": saved_payment_method_options,
        "setup_intent": null,
        "shipping_address_collection": null,
        "shipping_cost": null,
        "shipping_options": [],
        "status": "open",
        "submit_type": null,
        "subscription": null,
        "success_url": form.get("success_url"),
        "tax_id_collection": {"enabled": false, "required": "never"},
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "ui_mode": ui_mode,
        "url": hosted.then(|| format!("{}/c/pay/{id}", shared.url)),
        "wallet_options": null,
    });
    merged(object, rest)
}

/// A Checkout Session's line items (`checkout.session.line_item` list).
pub(super) fn session_line_items(account: &Account, form: &Form<'_>, id: &str) -> Reply {
    if let Some(refusal) = form.reject_unknown(LIST_PARAMS) {
        return refusal;
    }
    let Some(session) = account.session(id) else {
        return no_such(StatusCode::NOT_FOUND, "checkout.session", id, "session");
    };
    let data: Vec<Value> = session
        .items
        .iter()
        .map(|item| {
            let amount = item.amount();
            json!({
                "id": format!("li_1{}", random_base62(23)),
                "object": "item",
                "adjustable_quantity": null,
                "amount_discount": 0,
                "amount_subtotal": amount,
                "amount_tax": 0,
                "amount_total": amount,
                "currency": item.price["currency"],
                "description": null,
                "discounts": [],
                "metadata": {},
                "price": item.price,
                "quantity": item.quantity,
                "taxes": [],
            })
        })
        .collect();
    Reply::ok(&json!({
        "object": "list",
        "data": data,
        "has_more": false,
        "url": format!("/v1/checkout/sessions/{id}/line_items"),
    }))
}

pub(super) fn expire_session(account: &mut Account, form: &Form<'_>, id: &str) -> Reply {
    if let Some(refusal) = form.reject_unknown(&["expand"]) {
        return refusal;
    }
    let Some(session) = account.session_mut(id) else {
        return no_such(StatusCode::NOT_FOUND, "checkout.session", id, "session");
    };
    if session.object["status"] != "open" {
        return bad_param(
            "session",
            &format!(
                "Only Checkout Sessions with a status in [\"open\"] can be expired. This \
                 Checkout Session has a status of \"{}\".",
                session.object["status"].as_str().unwrap_or_default()
            ),
        );
    }
    session.object["status"] = json!("expired");
    session.object["url"] = Value::Null;
    Reply::ok(&session.object)
}
