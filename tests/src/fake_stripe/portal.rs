//! Customer portal sessions (`/v1/billing_portal/sessions`).

use super::*;

pub(super) fn create_portal_session(
    shared: &Shared,
    account: &mut Account,
    form: &Form<'_>,
    now: i64,
) -> Reply {
    if let Some(refusal) = form.reject_unknown(PORTAL_PARAMS) {
        return refusal;
    }
    let Some(customer) = form.get("customer") else {
        return missing("customer");
    };
    if account.customer(customer).is_none() {
        return no_such(StatusCode::BAD_REQUEST, "customer", customer, "customer");
    }
    if let Some(url) = form.get("return_url")
        && !is_web_url(url)
    {
        return invalid_request(
            StatusCode::BAD_REQUEST,
            Some("url_invalid"),
            Some("return_url"),
            "Not a valid URL",
        );
    }
    let id = format!("bps_1{}", random_base62(23));
    let session = json!({
        "id": id,
        "object": "billing_portal.session",
        "configuration": form.get("configuration").unwrap_or(&shared.portal_configuration),
        "created": now,
        "customer": customer,
        "customer_account": null,
        "flow": null,
        "livemode": false,
        "locale": form.get("locale"),
        "on_behalf_of": form.get("on_behalf_of"),
        "return_url": form.get("return_url"),
        "url": format!("{}/p/session/{id}", shared.url),
    });
    account.portal_sessions.push(session.clone());
    Reply::ok(&session)
}
