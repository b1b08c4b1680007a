//! Customers (`/v1/customers`).

use super::*;

pub(super) fn create_customer(account: &mut Account, form: &Form<'_>, now: i64) -> Reply {
    if let Some(refusal) = form
        .reject_unknown(CUSTOMER_PARAMS)
        .or_else(|| form.check_metadata("metadata"))
    {
        return refusal;
    }
    if let Some(email) = form.get("email")
        && !looks_like_email(email)
    {
        return invalid_request(
            StatusCode::BAD_REQUEST,
            Some("email_invalid"),
            Some("email"),
            &format!("Invalid email address: {email}"),
        );
    }
    let customer = customer_object(form, now, form.get("email"), form.get("name"));
    account.customers.push(customer.clone());
    Reply::ok(&customer)
}

pub(super) fn customer_object(
    form: &Form<'_>,
    now: i64,
    email: Option<&str>,
    name: Option<&str>,
) -> Value {
    let address = form.map("address");
    let address = (!address.is_empty()).then(|| {
        let field = |key: &str| address.get(key).cloned().unwrap_or(Value::Null);
        json!({
            "city": field("city"),
            "country": field("country"),
            "line1": field("line1"),
            "line2": field("line2"),
            "postal_code": field("postal_code"),
            "state": field("state"),
        })
    });
    json!({
        "id": format!("cus_{}", random_base62(14)),
        "object": "customer",
        "address": address,
        "balance": 0,
        "business_name": form.get("business_name"),
        "created": now,
        "currency": null,
        "customer_account": null,
        "default_source": null,
        "delinquent": false,
        "description": form.get("description"),
        "discount": null,
        "email": email,
        "individual_name": form.get("individual_name"),
        "invoice_prefix": random_base62(8).to_ascii_uppercase(),
        "invoice_settings": {
            "custom_fields": null,
            "default_payment_method": null,
            "footer": null,
            "rendering_options": null,
        },
        "livemode": false,
        "metadata": form.map("metadata"),
        "name": name,
        "next_invoice_sequence": 1,
        "phone": form.get("phone"),
        "preferred_locales": form.list("preferred_locales"),
        "shipping": null,
        "tax_exempt": form.get("tax_exempt").unwrap_or("none"),
        "test_clock": null,
    })
}

pub(super) fn looks_like_email(text: &str) -> bool {
    text.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && domain.contains('.') && !text.contains(char::is_whitespace)
    })
}
