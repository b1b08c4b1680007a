//! Stripe events: envelopes, `Stripe-Signature` headers, and delivery to a webhook endpoint.

use super::*;

impl FakeStripe {
    /// A Stripe event envelope around `object`, created now.
    pub fn event(&self, event_type: &str, object: Value) -> Value {
        self.event_at(event_type, object, self.shared.now())
    }

    /// A Stripe event envelope around `object`, created at `created` (Unix seconds).
    pub fn event_at(&self, event_type: &str, object: Value, created: i64) -> Value {
        let mut data = Map::new();
        data.insert("object".to_owned(), object);
        json!({
            "id": format!("evt_1{}", random_base62(23)),
            "object": "event",
            "api_version": API_VERSION,
            "created": created,
            "data": data,
            "livemode": false,
            "pending_webhooks": 1,
            "request": {"id": null, "idempotency_key": null},
            "type": event_type,
        })
    }

    /// The `Stripe-Signature` header Stripe sends with `payload`:
    /// `t={timestamp},v1={hex HMAC-SHA256 under the whole secret "whsec_…", of "{timestamp}.{payload}"}`.
    pub fn sign(payload: &str, secret: &str, timestamp: i64) -> String {
        let signed = format!("{timestamp}.{payload}");
        let v1 = tollgate::crypto::hmac_sha256_hex(secret.as_bytes(), signed.as_bytes());
        format!("t={timestamp},v1={v1}")
    }

    /// Delivers `event` to a webhook endpoint as Stripe does: the JSON text (pretty-printed,
    /// as Stripe sends it) with `Content-Type: application/json` and a signature made now.
    pub async fn deliver(
        &self,
        webhook_url: &str,
        event: &Value,
        secret: &str,
    ) -> reqwest::Response {
        self.try_deliver(webhook_url, event, secret)
            .await
            .expect("the webhook endpoint answers")
    }

    /// [`deliver`](Self::deliver), or the transport error when the endpoint cannot be reached
    /// (Stripe would try again later).
    pub async fn try_deliver(
        &self,
        webhook_url: &str,
        event: &Value,
        secret: &str,
    ) -> reqwest::Result<reqwest::Response> {
        let payload = pretty(event);
        let signature = Self::sign(&payload, secret, self.shared.now());
        self.shared
            .http
            .post(webhook_url)
            .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
            .header(
                header::USER_AGENT,
                "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            )
            .header(header::ACCEPT, "*/*; q=0.5, application/xml")
            .header(header::CACHE_CONTROL, "no-cache")
            .header("stripe-signature", signature)
            .body(payload)
            .send()
            .await
    }
}
