//! A fake Stripe: a real HTTP server speaking Stripe's v1 wire format for customers, Checkout, the customer portal, meter events, prices and products, and the balance, and signing webhooks as Stripe does.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Months, TimeDelta};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tollgate::clock::{Clock, SystemClock};

/// The API version the fake speaks: the one async-stripe `=1.0.0-rc.10` sends.
pub const API_VERSION: &str = "2026-09-30.endive";

/// How long Stripe refuses a meter event identifier it has already recorded ("at least 24 hours").
const IDENTIFIER_WINDOW: i64 = 24 * 60 * 60;

/// How far back a meter event's timestamp may lie (35 days) and how far ahead (5 minutes).
const METER_PAST: i64 = 35 * 24 * 60 * 60;
const METER_FUTURE: i64 = 5 * 60;

/// What a Checkout Session's `expires_at` may be, counted from its creation.
const SESSION_MIN_LIFETIME: i64 = 30 * 60;
const SESSION_MAX_LIFETIME: i64 = 24 * 60 * 60;

/// Stripe's answer to a request it cannot process for its own reasons.
const SERVER_ERROR: &str = "Sorry, something went wrong. We've already been notified of the \
     problem, but if you need any help, you can reach us at support.stripe.com/contact.";

/// Stripe's answer to a request without credentials.
const NO_API_KEY: &str = "You did not provide an API key. You need to provide your API key in \
     the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). \
     See https://stripe.com/docs/api#authentication for details, or we can help at \
     https://support.stripe.com/.";

const CUSTOMER_PARAMS: &[&str] = &[
    "address",
    "balance",
    "business_name",
    "cash_balance",
    "description",
    "email",
    "expand",
    "individual_name",
    "invoice_prefix",
    "invoice_settings",
    "metadata",
    "name",
    "next_invoice_sequence",
    "payment_method",
    "phone",
    "preferred_locales",
    "shipping",
    "source",
    "tax",
    "tax_exempt",
    "tax_id_data",
    "test_clock",
    "validate",
];

const CHECKOUT_PARAMS: &[&str] = &[
    "adaptive_pricing",
    "after_expiration",
    "allow_promotion_codes",
    "allowed_payment_method_types",
    "automatic_tax",
    "billing_address_collection",
    "branding_settings",
    "cancel_url",
    "client_reference_id",
    "consent_collection",
    "currency",
    "custom_fields",
    "custom_text",
    "customer",
    "customer_account",
    "customer_creation",
    "customer_email",
    "customer_update",
    "discounts",
    "excluded_payment_method_types",
    "expand",
    "expires_at",
    "integration_identifier",
    "invoice_creation",
    "line_items",
    "locale",
    "managed_payments",
    "metadata",
    "mode",
    "name_collection",
    "optional_items",
    "origin_context",
    "payment_intent_data",
    "payment_method_collection",
    "payment_method_configuration",
    "payment_method_data",
    "payment_method_options",
    "permissions",
    "phone_number_collection",
    "redirect_on_completion",
    "return_url",
    "saved_payment_method_options",
    "setup_intent_data",
    "shipping_address_collection",
    "shipping_options",
    "submit_type",
    "subscription_data",
    "success_url",
    "tax_id_collection",
    "ui_mode",
    "wallet_options",
];

const LINE_ITEM_PARAMS: &[&str] = &[
    "adjustable_quantity",
    "dynamic_tax_rates",
    "metadata",
    "price",
    "price_data",
    "quantity",
    "tax_rates",
];

const PORTAL_PARAMS: &[&str] = &[
    "configuration",
    "customer",
    "customer_account",
    "expand",
    "flow_data",
    "locale",
    "on_behalf_of",
    "return_url",
];

const METER_EVENT_PARAMS: &[&str] = &["event_name", "expand", "identifier", "payload", "timestamp"];

const PRICE_LIST_PARAMS: &[&str] = &[
    "active",
    "created",
    "currency",
    "ending_before",
    "expand",
    "limit",
    "lookup_keys",
    "product",
    "recurring",
    "starting_after",
    "type",
];

const LIST_PARAMS: &[&str] = &["ending_before", "expand", "limit", "starting_after"];

/// How requests should misbehave, before or after the fake does its work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// Answer every request with this HTTP status and a Stripe-shaped error; nothing happens.
    Status(u16),
    /// Answer the next `n` requests with this status (nothing happens), then behave normally.
    FailTimes(u16, usize),
    /// Never answer: the request is held until the fake is dropped, then the connection is
    /// closed without a response. For time-outs.
    Hang,
    /// Do the work (create the object, record the meter event, remember the idempotent result)
    /// but answer this status with a Stripe-shaped error: a response lost on the way back.
    CommitThenFail(u16),
}

/// A running fake Stripe (API and hosted pages at [`url`](Self::url)). Clones share the
/// server and its records; the server stops when the last clone is dropped.
#[derive(Clone)]
pub struct FakeStripe {
    /// `http://127.0.0.1:<port>`: stands for `https://api.stripe.com` (and the hosted pages).
    pub url: String,
    /// The account's secret key, `sk_test_…`: the only credential the API accepts.
    pub secret_key: String,
    shared: Arc<Shared>,
    _running: Arc<Running>,
}

/// Stops the server when the last [`FakeStripe`] clone goes.
struct Running {
    stopped: Arc<AtomicBool>,
    _stop: watch::Sender<()>,
}

impl Drop for Running {
    fn drop(&mut self) {
        // Connections fail their next read or write; then `_stop` drops, which wakes the held
        // requests and starts the server's shutdown.
        self.stopped.store(true, Ordering::SeqCst);
    }
}

struct Shared {
    url: String,
    secret_key: String,
    portal_configuration: String,
    clock: Arc<dyn Clock>,
    http: reqwest::Client,
    stop: watch::Receiver<()>,
    arrivals: watch::Sender<usize>,
    account: Mutex<Account>,
}

impl Shared {
    fn account(&self) -> MutexGuard<'_, Account> {
        self.account.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn now(&self) -> i64 {
        self.clock.now().timestamp()
    }
}

/// Everything the account holds, and what the fake saw.
#[derive(Default)]
struct Account {
    log: Vec<Logged>,
    failures: Vec<(String, Failure)>,
    prices: Vec<Value>,
    products: Vec<Value>,
    customers: Vec<Value>,
    sessions: Vec<Session>,
    portal_sessions: Vec<Value>,
    subscriptions: Vec<Value>,
    meter_events: Vec<Value>,
    /// Meter event identifier → when it was recorded.
    identifiers: HashMap<String, i64>,
    /// Idempotency key → the first result under it.
    idempotent: HashMap<String, Saved>,
}

impl Account {
    fn price(&self, id: &str) -> Option<&Value> {
        self.prices.iter().find(|price| price["id"] == id)
    }

    fn product(&self, id: &str) -> Option<&Value> {
        self.products.iter().find(|product| product["id"] == id)
    }

    fn customer(&self, id: &str) -> Option<&Value> {
        self.customers.iter().find(|customer| customer["id"] == id)
    }

    fn session(&self, id: &str) -> Option<&Session> {
        self.sessions
            .iter()
            .find(|session| session.object["id"] == id)
    }

    fn session_mut(&mut self, id: &str) -> Option<&mut Session> {
        self.sessions
            .iter_mut()
            .find(|session| session.object["id"] == id)
    }
}

/// One request as it arrived.
struct Logged {
    route: String,
    form: Vec<(String, String)>,
    idempotency_key: Option<String>,
    headers: HeaderMap,
}

/// A Checkout Session and what it keeps for its completion.
struct Session {
    object: Value,
    items: Vec<LineItem>,
    subscription_metadata: Map<String, Value>,
    trial_period_days: Option<i64>,
}

struct LineItem {
    price: Value,
    quantity: Option<u64>,
}

impl LineItem {
    fn metered(&self) -> bool {
        self.price["recurring"]["usage_type"] == "metered"
    }

    fn amount(&self) -> i64 {
        if self.metered() {
            return 0;
        }
        let unit = self.price["unit_amount"].as_i64().unwrap_or_default();
        let quantity = i64::try_from(self.quantity.unwrap_or(1)).unwrap_or(i64::MAX);
        unit.saturating_mul(quantity)
    }
}

/// The first answer given under an idempotency key.
struct Saved {
    route: String,
    params: Vec<(String, String)>,
    status: StatusCode,
    body: String,
    request_id: String,
}

/// An API answer before the common headers.
struct Reply {
    status: StatusCode,
    body: String,
    headers: Vec<(&'static str, String)>,
}

impl Reply {
    fn json(status: StatusCode, value: &Value) -> Self {
        Self {
            status,
            body: pretty(value),
            headers: Vec::new(),
        }
    }

    fn ok(value: &Value) -> Self {
        Self::json(StatusCode::OK, value)
    }

    fn with_header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_owned()));
        self
    }
}

/// A request's method, path and parameters.
struct Request {
    method: Method,
    path: String,
    route: String,
    form: Vec<(String, String)>,
    idempotency_key: Option<String>,
    headers: HeaderMap,
}

impl FakeStripe {
    /// Starts the fake on `127.0.0.1:0` on the system clock, with no prices.
    pub async fn start() -> Self {
        Self::start_with_clock(Arc::new(SystemClock)).await
    }

    /// Starts the fake telling time by `clock`: creation times, expiries, periods, webhook
    /// signatures and the limits Stripe puts on timestamps follow it. Share the app's clock so
    /// that advancing it moves Stripe's time too.
    pub async fn start_with_clock(clock: Arc<dyn Clock>) -> Self {
        crate::install_crypto();
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("the fake Stripe binds a port");
        let addr = listener.local_addr().expect("a local address");
        let url = format!("http://{addr}");
        let secret_key = format!("sk_test_51{}", random_base62(97));
        let (stop, stopped_signal) = watch::channel(());
        let stopped = Arc::new(AtomicBool::new(false));
        let shared = Arc::new(Shared {
            url: url.clone(),
            secret_key: secret_key.clone(),
            portal_configuration: format!("bpc_1{}", random_base62(23)),
            clock,
            http: reqwest::Client::builder()
                .build()
                .expect("an HTTP client for webhooks"),
            stop: stopped_signal.clone(),
            arrivals: watch::Sender::new(0),
            account: Mutex::new(Account::default()),
        });
        let router = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&shared));
        let listener = StoppableListener {
            inner: listener,
            stopped: Arc::clone(&stopped),
        };
        let mut signal = stopped_signal;
        tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = signal.changed().await;
                })
                .await;
        });
        Self {
            url,
            secret_key,
            shared,
            _running: Arc::new(Running {
                stopped,
                _stop: stop,
            }),
        }
    }

    /// Adds (or replaces) an active price on a product of its own: one-time when
    /// `recurring_interval` is `None`, else recurring every `day`, `week`, `month` or `year`;
    /// `metered` makes it usage-based, billed through a meter (it must be recurring).
    pub fn add_price(
        &self,
        id: &str,
        unit_amount: i64,
        currency: &str,
        recurring_interval: Option<&str>,
        metered: bool,
    ) {
        self.add_product_price(
            id,
            &format!("Product of {id}"),
            unit_amount,
            currency,
            recurring_interval,
            metered,
        );
    }

    /// [`add_price`](Self::add_price) on a new product named `product_name` (what
    /// `expand[]=data.product` shows).
    pub fn add_product_price(
        &self,
        id: &str,
        product_name: &str,
        unit_amount: i64,
        currency: &str,
        recurring_interval: Option<&str>,
        metered: bool,
    ) {
        assert!(
            !metered || recurring_interval.is_some(),
            "a metered price is recurring: give it an interval"
        );
        if let Some(interval) = recurring_interval {
            assert!(
                matches!(interval, "day" | "week" | "month" | "year"),
                "Stripe's intervals are day, week, month and year, not {interval}"
            );
        }
        let recurring = recurring_interval.map(|interval| {
            let meter = metered.then(|| format!("mtr_test_61{}", random_base62(22)));
            json!({
                "interval": interval,
                "interval_count": 1,
                "meter": meter,
                "trial_period_days": null,
                "usage_type": if metered { "metered" } else { "licensed" },
            })
        });
        let now = self.shared.now();
        let product = format!("prod_{}", random_base62(14));
        let product_object = json!({
            "id": product,
            "object": "product",
            "active": true,
            "created": now,
            "default_price": id,
            "description": null,
            "images": [],
            "livemode": false,
            "marketing_features": [],
            "metadata": {},
            "name": product_name,
            "package_dimensions": null,
            "shippable": null,
            "statement_descriptor": null,
            "tax_code": null,
            "type": "service",
            "unit_label": null,
            "updated": now,
            "url": null,
        });
        let price = json!({
            "id": id,
            "object": "price",
            "active": true,
            "billing_scheme": "per_unit",
            "created": now,
            "currency": currency.to_ascii_lowercase(),
            "custom_unit_amount": null,
            "livemode": false,
            "lookup_key": null,
            "metadata": {},
            "nickname": null,
            "product": product,
            "recurring": recurring,
            "tax_behavior": "unspecified",
            "tiers_mode": null,
            "transform_quantity": null,
            "type": if recurring_interval.is_some() { "recurring" } else { "one_time" },
            "unit_amount": unit_amount,
            "unit_amount_decimal": unit_amount.to_string(),
        });
        let mut account = self.shared.account();
        account.prices.retain(|existing| existing["id"] != id);
        account.prices.push(price);
        account.products.push(product_object);
    }

    /// How many requests arrived whose `"{METHOD} {path}"` starts with the prefix (e.g.
    /// `"POST /v1/checkout/sessions"`), failed ones included.
    pub fn requests(&self, method_and_path_prefix: &str) -> usize {
        self.shared
            .account()
            .log
            .iter()
            .filter(|logged| logged.route.starts_with(method_and_path_prefix))
            .count()
    }

    /// Resolves once at least `n` such requests have arrived (held ones included).
    pub async fn wait_for_requests(&self, method_and_path_prefix: &str, n: usize) {
        let mut arrivals = self.shared.arrivals.subscribe();
        while self.requests(method_and_path_prefix) < n {
            if arrivals.changed().await.is_err() {
                return;
            }
        }
    }

    /// The `Idempotency-Key` headers of such requests, in order of arrival (retries repeat).
    pub fn idempotency_keys(&self, method_and_path_prefix: &str) -> Vec<String> {
        self.shared
            .account()
            .log
            .iter()
            .filter(|logged| logged.route.starts_with(method_and_path_prefix))
            .filter_map(|logged| logged.idempotency_key.clone())
            .collect()
    }

    /// The decoded form pairs (the query, for a `GET`) of the last such request.
    pub fn last_form(&self, method_and_path_prefix: &str) -> Option<Vec<(String, String)>> {
        self.last(method_and_path_prefix, |logged| logged.form.clone())
    }

    /// A header of the last such request (e.g. `stripe-version`).
    pub fn last_header(&self, method_and_path_prefix: &str, name: &str) -> Option<String> {
        self.last(method_and_path_prefix, |logged| {
            logged
                .headers
                .get(name)
                .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
        })
        .flatten()
    }

    fn last<T>(&self, prefix: &str, read: impl Fn(&Logged) -> T) -> Option<T> {
        self.shared
            .account()
            .log
            .iter()
            .rev()
            .find(|logged| logged.route.starts_with(prefix))
            .map(read)
    }

    /// The Checkout Sessions created so far, as they are now.
    pub fn checkout_sessions(&self) -> Vec<Value> {
        self.shared
            .account()
            .sessions
            .iter()
            .map(|session| session.object.clone())
            .collect()
    }

    /// The customers created so far (by the API or by a completed Checkout Session).
    pub fn customers(&self) -> Vec<Value> {
        self.shared.account().customers.clone()
    }

    /// The meter events recorded: one per identifier (within Stripe's 24-hour window).
    pub fn meter_events(&self) -> Vec<Value> {
        self.shared.account().meter_events.clone()
    }

    /// The customer portal sessions created so far.
    pub fn portal_sessions(&self) -> Vec<Value> {
        self.shared.account().portal_sessions.clone()
    }

    /// The subscriptions created so far (by completed Checkout Sessions), as they are now.
    pub fn subscriptions(&self) -> Vec<Value> {
        self.shared.account().subscriptions.clone()
    }

    /// Makes requests whose `"{METHOD} {path}"` starts with the prefix misbehave; `None`
    /// makes them normal again. The longest matching prefix wins.
    pub fn fail(&self, method_and_path_prefix: &str, failure: Option<Failure>) {
        let mut account = self.shared.account();
        account
            .failures
            .retain(|(prefix, _)| prefix != method_and_path_prefix);
        if let Some(failure) = failure {
            account
                .failures
                .push((method_and_path_prefix.to_owned(), failure));
        }
    }

    /// Plays the paying user: completes an open Checkout Session with `payment_status`
    /// (`paid`, `unpaid` or `no_payment_required`). Payment mode gets a PaymentIntent
    /// `pi_…` (unless no payment was required); subscription mode gets a customer if it had
    /// none and a subscription `sub_…` (`active`, or `incomplete` when unpaid, or `trialing`
    /// with `subscription_data[trial_period_days]`) carrying `subscription_data[metadata]`
    /// and the session's prices. Returns the session as it now is.
    pub fn complete_session(&self, session_id: &str, payment_status: &str) -> Value {
        assert!(
            matches!(payment_status, "paid" | "unpaid" | "no_payment_required"),
            "a Checkout Session's payment_status is paid, unpaid or no_payment_required"
        );
        let now = self.shared.now();
        let mut guard = self.shared.account();
        let account = &mut *guard;
        let session = account
            .sessions
            .iter_mut()
            .find(|session| session.object["id"] == session_id)
            .unwrap_or_else(|| panic!("the fake Stripe has no Checkout Session {session_id}"));
        assert_eq!(
            session.object["status"], "open",
            "only an open Checkout Session can be completed"
        );
        let subscription_mode = session.object["mode"] == "subscription";
        let mut customer_id = session.object["customer"].as_str().map(str::to_owned);
        let known = customer_id
            .as_deref()
            .and_then(|id| account.customers.iter().find(|c| c["id"] == id));
        let email = known
            .and_then(|customer| customer["email"].as_str())
            .or_else(|| session.object["customer_email"].as_str())
            .unwrap_or("jenny.rosen@example.com")
            .to_owned();
        let name = known
            .and_then(|customer| customer["name"].as_str())
            .unwrap_or("Jenny Rosen")
            .to_owned();
        if customer_id.is_none()
            && (subscription_mode || session.object["customer_creation"] == "always")
        {
            let customer = customer_object(&Form(&[]), now, Some(&email), Some(&name));
            customer_id = customer["id"].as_str().map(str::to_owned);
            account.customers.push(customer);
        }
        let object = &mut session.object;
        object["status"] = json!("complete");
        object["payment_status"] = json!(payment_status);
        object["customer"] = json!(customer_id);
        object["url"] = Value::Null;
        object["customer_details"] = json!({
            "address": {
                "city": null,
                "country": "US",
                "line1": null,
                "line2": null,
                "postal_code": "94103",
                "state": null,
            },
            "business_name": null,
            "email": email,
            "individual_name": null,
            "name": name,
            "phone": null,
            "tax_exempt": "none",
            "tax_ids": [],
        });
        object["collected_information"] = json!({
            "business_name": null,
            "individual_name": null,
            "shipping_details": null,
        });
        if subscription_mode {
            let customer = customer_id.unwrap_or_default();
            let subscription = subscription_object(session, &customer, payment_status, now);
            session.object["subscription"] = subscription["id"].clone();
            session.object["invoice"] = subscription["latest_invoice"].clone();
            account.subscriptions.push(subscription);
        } else if payment_status != "no_payment_required" {
            session.object["payment_intent"] = json!(format!("pi_3{}", random_base62(23)));
        }
        session.object.clone()
    }

    /// Where Checkout sends the browser after paying: the session's `success_url` with
    /// `{CHECKOUT_SESSION_ID}` replaced, as Stripe does.
    pub fn success_redirect(&self, session_id: &str) -> Option<String> {
        let account = self.shared.account();
        let url = account.session(session_id)?.object["success_url"].as_str()?;
        Some(url.replace("{CHECKOUT_SESSION_ID}", session_id))
    }

    /// Expires an open Checkout Session, as 24 hours passing would; returns it.
    pub fn expire_session(&self, session_id: &str) -> Value {
        let mut account = self.shared.account();
        let session = account
            .session_mut(session_id)
            .unwrap_or_else(|| panic!("the fake Stripe has no Checkout Session {session_id}"));
        assert_eq!(
            session.object["status"], "open",
            "only an open Checkout Session can expire"
        );
        session.object["status"] = json!("expired");
        session.object["url"] = Value::Null;
        session.object.clone()
    }

    /// A subscription as it is now.
    pub fn subscription(&self, id: &str) -> Option<Value> {
        self.shared
            .account()
            .subscriptions
            .iter()
            .find(|subscription| subscription["id"] == id)
            .cloned()
    }

    /// Changes a subscription as the customer (in the portal) or dunning would: its `status`
    /// and `cancel_at_period_end` (which sets `cancel_at` to the end of the current period).
    /// `canceled` ends it now.
    pub fn set_subscription(&self, id: &str, status: &str, cancel_at_period_end: bool) {
        let now = self.shared.now();
        let mut account = self.shared.account();
        let subscription = account
            .subscriptions
            .iter_mut()
            .find(|subscription| subscription["id"] == id)
            .unwrap_or_else(|| panic!("the fake Stripe has no subscription {id}"));
        let period_end = subscription["items"]["data"][0]["current_period_end"].clone();
        subscription["status"] = json!(status);
        subscription["cancel_at_period_end"] = json!(cancel_at_period_end);
        let canceling = cancel_at_period_end || status == "canceled";
        if canceling {
            if subscription["canceled_at"].is_null() {
                subscription["canceled_at"] = json!(now);
            }
            subscription["cancellation_details"]["reason"] = json!("cancellation_requested");
        } else {
            subscription["canceled_at"] = Value::Null;
            subscription["cancellation_details"]["reason"] = Value::Null;
        }
        subscription["cancel_at"] = if cancel_at_period_end {
            period_end
        } else {
            Value::Null
        };
        subscription["ended_at"] = if status == "canceled" {
            json!(now)
        } else {
            Value::Null
        };
    }

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
            .expect("the webhook endpoint answers")
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let route = format!("{method} {path}");
    let raw: &[u8] = if method == Method::POST {
        &body[..]
    } else {
        uri.query().unwrap_or_default().as_bytes()
    };
    let form: Vec<(String, String)> = url::form_urlencoded::parse(raw).into_owned().collect();
    let idempotency_key = headers
        .get("idempotency-key")
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
    let failure = {
        let mut account = shared.account();
        account.log.push(Logged {
            route: route.clone(),
            form: form.clone(),
            idempotency_key: idempotency_key.clone(),
            headers: headers.clone(),
        });
        take_failure(&mut account.failures, &route)
    };
    shared.arrivals.send_modify(|count| *count += 1);
    let request = Request {
        method,
        path,
        route,
        form,
        idempotency_key,
        headers,
    };
    match failure {
        None => serve(&shared, &request),
        Some(Failure::Status(status) | Failure::FailTimes(status, _)) => {
            respond(&request, injected(status), &request_id())
        }
        Some(Failure::CommitThenFail(status)) => {
            let _lost = serve(&shared, &request);
            respond(&request, injected(status), &request_id())
        }
        Some(Failure::Hang) => {
            let mut stop = shared.stop.clone();
            let _ = stop.changed().await;
            // The connection refuses to carry this: the client sees it close unanswered.
            respond(&request, injected(503), &request_id())
        }
    }
}

/// The failure for `route` (longest prefix), counting down a `FailTimes`.
fn take_failure(failures: &mut Vec<(String, Failure)>, route: &str) -> Option<Failure> {
    let index = failures
        .iter()
        .enumerate()
        .filter(|(_, (prefix, _))| route.starts_with(prefix.as_str()))
        .max_by_key(|(_, (prefix, _))| prefix.len())
        .map(|(index, _)| index)?;
    let failure = failures[index].1;
    if let Failure::FailTimes(status, left) = failure {
        if left <= 1 {
            failures.remove(index);
        } else {
            failures[index].1 = Failure::FailTimes(status, left - 1);
        }
        if left == 0 {
            return None;
        }
    }
    Some(failure)
}

fn serve(shared: &Shared, request: &Request) -> Response {
    if !request.path.starts_with("/v1/") {
        return page(shared, request);
    }
    let request_id = request_id();
    let reply = api(shared, request, &request_id);
    respond(request, reply, &request_id)
}

/// Adds the headers every API answer carries.
fn respond(request: &Request, reply: Reply, request_id: &str) -> Response {
    let mut response = (reply.status, reply.body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let version = request
        .headers
        .get("stripe-version")
        .cloned()
        .unwrap_or_else(|| HeaderValue::from_static(API_VERSION));
    headers.insert(HeaderName::from_static("stripe-version"), version);
    let mut extra = vec![("request-id", request_id.to_owned())];
    if request.method == Method::POST
        && let Some(key) = &request.idempotency_key
    {
        extra.push(("idempotency-key", key.clone()));
    }
    extra.extend(reply.headers);
    for (name, value) in extra {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
    response
}

/// Authentication, then idempotency, then the endpoint.
fn api(shared: &Shared, request: &Request, request_id: &str) -> Reply {
    if let Err(refusal) = authenticate(shared, &request.headers) {
        return refusal;
    }
    let now = shared.now();
    let mut account = shared.account();
    let key = request
        .idempotency_key
        .as_deref()
        .filter(|_| request.method == Method::POST);
    let Some(key) = key else {
        return endpoint(shared, &mut account, request, now);
    };
    if key.is_empty() || key.len() > 255 {
        return invalid_request(
            StatusCode::BAD_REQUEST,
            None,
            None,
            "Idempotency keys must be between 1 and 255 characters long.",
        );
    }
    let mut params = request.form.clone();
    params.sort();
    if let Some(saved) = account.idempotent.get(key) {
        if saved.route != request.route {
            let first = saved.route.split_once(' ').map_or("", |(_, path)| path);
            return stripe_error(
                StatusCode::BAD_REQUEST,
                "idempotency_error",
                None,
                None,
                &format!(
                    "Keys for idempotent requests can only be used for the same endpoint they \
                     were first used for ('{first}' vs '{}'). Try using a key other than \
                     '{key}' if you meant to execute a different request.",
                    request.path
                ),
            );
        }
        if saved.params != params {
            return stripe_error(
                StatusCode::BAD_REQUEST,
                "idempotency_error",
                None,
                None,
                &format!(
                    "Keys for idempotent requests can only be used with the same parameters \
                     they were first used with. Try using a key other than '{key}' if you \
                     meant to execute a different request."
                ),
            );
        }
        return Reply {
            status: saved.status,
            body: saved.body.clone(),
            headers: vec![
                ("idempotent-replayed", "true".to_owned()),
                ("original-request", saved.request_id.clone()),
            ],
        };
    }
    let reply = endpoint(shared, &mut account, request, now);
    // Refusals before the work began are not kept; a retry under the key runs again.
    if reply.status.is_success() {
        account.idempotent.insert(
            key.to_owned(),
            Saved {
                route: request.route.clone(),
                params,
                status: reply.status,
                body: reply.body.clone(),
                request_id: request_id.to_owned(),
            },
        );
    }
    reply
}

fn authenticate(shared: &Shared, headers: &HeaderMap) -> Result<(), Reply> {
    let value = headers
        .get(header::AUTHORIZATION)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
        .unwrap_or_default();
    let key = value
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, key)| key.trim())
        .unwrap_or_default();
    if key == shared.secret_key {
        return Ok(());
    }
    let message = if key.is_empty() {
        NO_API_KEY.to_owned()
    } else {
        format!("Invalid API Key provided: {}", redact(key))
    };
    Err(
        invalid_request(StatusCode::UNAUTHORIZED, None, None, &message)
            .with_header("www-authenticate", "Bearer realm=\"Stripe\""),
    )
}

/// `sk_test_****…1234`, as Stripe echoes a wrong key.
fn redact(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= 12 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..8].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 12))
}

fn endpoint(shared: &Shared, account: &mut Account, request: &Request, now: i64) -> Reply {
    let form = Form(&request.form);
    let segments: Vec<&str> = request.path["/v1/".len()..].split('/').collect();
    match (request.method.as_str(), segments.as_slice()) {
        ("POST", ["customers"]) => create_customer(account, &form, now),
        ("GET", ["customers", id]) => retrieve(&form, account.customer(id), "customer", id),
        ("POST", ["checkout", "sessions"]) => create_session(shared, account, &form, now),
        ("GET", ["checkout", "sessions", id]) => {
            let session = account.session(id).map(|session| &session.object);
            retrieve(&form, session, "checkout.session", id)
        }
        ("GET", ["checkout", "sessions", id, "line_items"]) => {
            session_line_items(account, &form, id)
        }
        ("POST", ["checkout", "sessions", id, "expire"]) => expire_session(account, &form, id),
        ("POST", ["billing_portal", "sessions"]) => {
            create_portal_session(shared, account, &form, now)
        }
        ("POST", ["billing", "meter_events"]) => create_meter_event(account, &form, now),
        ("GET", ["prices"]) => list_prices(account, &form),
        ("GET", ["prices", id]) => retrieve(&form, account.price(id), "price", id),
        ("GET", ["products", id]) => retrieve(&form, account.product(id), "product", id),
        ("GET", ["balance"]) => balance(&form),
        ("GET", ["subscriptions", id]) => {
            let subscription = account.subscriptions.iter().find(|s| s["id"] == *id);
            retrieve(&form, subscription, "subscription", id)
        }
        _ => invalid_request(
            StatusCode::NOT_FOUND,
            None,
            None,
            &format!(
                "Unrecognized request URL ({}: {}). Please see https://stripe.com/docs or we \
                 can help at https://support.stripe.com/.",
                request.method, request.path
            ),
        ),
    }
}

fn retrieve(form: &Form<'_>, object: Option<&Value>, kind: &str, id: &str) -> Reply {
    if let Some(refusal) = form.reject_unknown(&["expand"]) {
        return refusal;
    }
    match object {
        Some(object) => Reply::ok(object),
        None => no_such(StatusCode::NOT_FOUND, kind, id, "id"),
    }
}

// ----- customers -----

fn create_customer(account: &mut Account, form: &Form<'_>, now: i64) -> Reply {
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

fn customer_object(form: &Form<'_>, now: i64, email: Option<&str>, name: Option<&str>) -> Value {
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

fn looks_like_email(text: &str) -> bool {
    text.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && domain.contains('.') && !text.contains(char::is_whitespace)
    })
}

// ----- Checkout -----

fn create_session(shared: &Shared, account: &mut Account, form: &Form<'_>, now: i64) -> Reply {
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
fn line_items(account: &Account, form: &Form<'_>, payment: bool) -> Result<Vec<LineItem>, Reply> {
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

fn is_web_url(text: &str) -> bool {
    url::Url::parse(text).is_ok_and(|url| matches!(url.scheme(), "http" | "https"))
}

fn session_object(
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
fn session_line_items(account: &Account, form: &Form<'_>, id: &str) -> Reply {
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

fn expire_session(account: &mut Account, form: &Form<'_>, id: &str) -> Reply {
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

/// The subscription a completed subscription-mode session starts.
fn subscription_object(session: &Session, customer: &str, payment_status: &str, now: i64) -> Value {
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

/// `head` with the fields of `tail` (objects too big for one `json!`).
fn merged(mut head: Value, tail: Value) -> Value {
    if let (Some(head), Value::Object(tail)) = (head.as_object_mut(), tail) {
        head.extend(tail);
    }
    head
}

/// One billing interval after `start`.
fn period_end(start: i64, interval: &str) -> i64 {
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

// ----- the customer portal -----

fn create_portal_session(
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

// ----- meter events -----

fn create_meter_event(account: &mut Account, form: &Form<'_>, now: i64) -> Reply {
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

// ----- prices -----

fn list_prices(account: &Account, form: &Form<'_>) -> Reply {
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
fn balance(form: &Form<'_>) -> Reply {
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

// ----- hosted pages -----

/// `/c/pay/{session}` (Checkout) and `/p/session/{session}` (the portal), as plain pages.
fn page(shared: &Shared, request: &Request) -> Response {
    let account = shared.account();
    let body = match request.path.split('/').collect::<Vec<_>>().as_slice() {
        ["", "c", "pay", id] => account
            .sessions
            .iter()
            .find(|session| session.object["id"] == *id)
            .map(|session| {
                let object = &session.object;
                format!(
                    "<h1>Pay {} {}</h1><p>Checkout Session {id}: {}</p>",
                    object["amount_total"],
                    object["currency"].as_str().unwrap_or_default(),
                    object["status"].as_str().unwrap_or_default(),
                )
            }),
        ["", "p", "session", id] => account
            .portal_sessions
            .iter()
            .find(|session| session["id"] == *id)
            .map(|session| {
                format!(
                    "<h1>Billing for {}</h1><p><a href=\"{}\">Return</a></p>",
                    session["customer"].as_str().unwrap_or_default(),
                    session["return_url"].as_str().unwrap_or_default(),
                )
            }),
        _ => None,
    };
    let (status, body) = match body {
        Some(body) => (StatusCode::OK, body),
        None => (
            StatusCode::NOT_FOUND,
            "<h1>Something went wrong</h1>".into(),
        ),
    };
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        format!("<!DOCTYPE html>\n<html lang=\"en\"><body>{body}</body></html>\n"),
    )
        .into_response()
}

// ----- errors -----

fn stripe_error(
    status: StatusCode,
    kind: &str,
    code: Option<&str>,
    param: Option<&str>,
    message: &str,
) -> Reply {
    let mut error = Map::new();
    if let Some(code) = code {
        error.insert("code".into(), json!(code));
        error.insert(
            "doc_url".into(),
            json!(format!(
                "https://stripe.com/docs/error-codes/{}",
                code.replace('_', "-")
            )),
        );
    }
    error.insert("message".into(), json!(message));
    if let Some(param) = param {
        error.insert("param".into(), json!(param));
    }
    error.insert("type".into(), json!(kind));
    Reply::json(status, &json!({ "error": error }))
}

fn invalid_request(
    status: StatusCode,
    code: Option<&str>,
    param: Option<&str>,
    message: &str,
) -> Reply {
    stripe_error(status, "invalid_request_error", code, param, message)
}

fn bad_param(param: &str, message: &str) -> Reply {
    invalid_request(StatusCode::BAD_REQUEST, None, Some(param), message)
}

fn missing(param: &str) -> Reply {
    invalid_request(
        StatusCode::BAD_REQUEST,
        Some("parameter_missing"),
        Some(param),
        &format!("Missing required param: {param}."),
    )
}

fn unknown_parameter(param: &str) -> Reply {
    invalid_request(
        StatusCode::BAD_REQUEST,
        Some("parameter_unknown"),
        Some(param),
        &format!("Received unknown parameter: {param}"),
    )
}

fn no_such(status: StatusCode, kind: &str, id: &str, param: &str) -> Reply {
    invalid_request(
        status,
        Some("resource_missing"),
        Some(param),
        &format!("No such {kind}: '{id}'"),
    )
}

/// The error a [`Failure`] answers with: Stripe's shape for that status.
fn injected(status: u16) -> Reply {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match status.as_u16() {
        401 => invalid_request(status, None, None, NO_API_KEY),
        402 => stripe_error(
            status,
            "card_error",
            Some("card_declined"),
            None,
            "Your card was declined.",
        ),
        404 => invalid_request(
            status,
            Some("resource_missing"),
            Some("id"),
            "No such object",
        ),
        409 => invalid_request(
            status,
            Some("lock_timeout"),
            None,
            "This object cannot be accessed right now because another API request or Stripe \
             process is currently accessing it. If you see this error intermittently, retry \
             the request. If you see this error frequently and are making multiple concurrent \
             requests to a single object, make your requests serially or at a lower rate. See \
             https://stripe.com/docs/rate-limits#object-lock-timeouts for more details.",
        ),
        429 => invalid_request(
            status,
            Some("rate_limit"),
            None,
            "Request rate limit exceeded. You can learn more about rate limits here \
             https://stripe.com/docs/rate-limits.",
        ),
        500.. => stripe_error(status, "api_error", None, None, SERVER_ERROR),
        _ => invalid_request(
            status,
            None,
            None,
            &format!("Simulated failure ({})", status.as_u16()),
        ),
    }
}

// ----- form parameters -----

/// Form pairs in Stripe's bracket notation (`metadata[tenant]=x`, `line_items[0][price]=p`).
struct Form<'a>(&'a [(String, String)]);

impl Form<'_> {
    /// The last non-empty value of `key` (Stripe reads an empty string as unset).
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, v)| k == key && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// Whether any parameter is `name` or under it.
    fn has(&self, name: &str) -> bool {
        self.0
            .iter()
            .any(|(key, _)| key.split('[').next() == Some(name))
    }

    /// `prefix[key]=value` pairs as a JSON object of strings.
    fn map(&self, prefix: &str) -> Map<String, Value> {
        self.0
            .iter()
            .filter(|(_, value)| !value.is_empty())
            .filter_map(|(key, value)| {
                let inner = key
                    .strip_prefix(prefix)?
                    .strip_prefix('[')?
                    .strip_suffix(']')?;
                (!inner.contains(['[', ']'])).then(|| (inner.to_owned(), json!(value)))
            })
            .collect()
    }

    /// `prefix[]=a` or `prefix[0]=a`, in order.
    fn list(&self, prefix: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(key, _)| {
                key.strip_prefix(prefix)
                    .and_then(|rest| rest.strip_prefix('['))
                    .and_then(|rest| rest.strip_suffix(']'))
                    .is_some_and(|index| index.chars().all(|c| c.is_ascii_digit()))
            })
            .map(|(_, value)| value.clone())
            .collect()
    }

    /// `prefix[i][rest]=v` grouped by `i`, each as `(rest, v)` with `rest` like `price` or
    /// `price_data[currency]`.
    fn indexed(&self, prefix: &str) -> BTreeMap<usize, Vec<(String, String)>> {
        let mut groups: BTreeMap<usize, Vec<(String, String)>> = BTreeMap::new();
        for (key, value) in self.0 {
            let Some(rest) = key.strip_prefix(prefix).and_then(|r| r.strip_prefix('[')) else {
                continue;
            };
            let Some((index, rest)) = rest.split_once(']') else {
                continue;
            };
            let Ok(index) = index.parse::<usize>() else {
                continue;
            };
            let Some(rest) = rest.strip_prefix('[') else {
                continue;
            };
            let field = rest.replacen(']', "", 1);
            groups
                .entry(index)
                .or_default()
                .push((field, value.clone()));
        }
        groups
    }

    /// An integer parameter, or Stripe's refusal of a malformed one.
    fn integer(&self, key: &str) -> Result<Option<i64>, Reply> {
        match self.get(key) {
            None => Ok(None),
            Some(text) => text.parse().map(Some).map_err(|_| {
                invalid_request(
                    StatusCode::BAD_REQUEST,
                    Some("parameter_invalid_integer"),
                    Some(key),
                    &format!("Invalid integer: {text}"),
                )
            }),
        }
    }

    /// Stripe's refusal of the first top-level parameter the endpoint does not take.
    fn reject_unknown(&self, allowed: &[&str]) -> Option<Reply> {
        self.0.iter().find_map(|(key, _)| {
            let top = key.split('[').next().unwrap_or_default();
            (!allowed.contains(&top)).then(|| unknown_parameter(top))
        })
    }

    /// Stripe's limits on metadata: 50 keys, keys up to 40 characters without brackets,
    /// values up to 500 characters.
    fn check_metadata(&self, prefix: &str) -> Option<Reply> {
        let metadata = self.map(prefix);
        if metadata.len() > 50 {
            return Some(bad_param(
                prefix,
                "Invalid metadata: metadata can have up to 50 keys.",
            ));
        }
        metadata.iter().find_map(|(key, value)| {
            let param = format!("{prefix}[{key}]");
            if key.chars().count() > 40 {
                return Some(bad_param(
                    &param,
                    "Invalid metadata: keys can be up to 40 characters long.",
                ));
            }
            let long = value.as_str().is_some_and(|v| v.chars().count() > 500);
            long.then(|| {
                bad_param(
                    &param,
                    "Invalid metadata: values can be up to 500 characters long.",
                )
            })
        })
    }
}

// ----- the server's connections -----

/// Accepts connections that break once the fake is dropped, so held requests end unanswered.
struct StoppableListener {
    inner: TcpListener,
    stopped: Arc<AtomicBool>,
}

impl axum::serve::Listener for StoppableListener {
    type Io = Connection;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Connection, SocketAddr) {
        let (stream, addr) = axum::serve::Listener::accept(&mut self.inner).await;
        let stopped = Arc::clone(&self.stopped);
        (Connection { stream, stopped }, addr)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// A TCP connection that fails every read and write after the fake is dropped.
struct Connection {
    stream: TcpStream,
    stopped: Arc<AtomicBool>,
}

impl Connection {
    fn broken(&self) -> Option<io::Error> {
        self.stopped
            .load(Ordering::SeqCst)
            .then(|| io::Error::from(io::ErrorKind::ConnectionAborted))
    }
}

impl AsyncRead for Connection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if let Some(error) = self.broken() {
            return Poll::Ready(Err(error));
        }
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Connection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if let Some(error) = self.broken() {
            return Poll::Ready(Err(error));
        }
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(error) = self.broken() {
            return Poll::Ready(Err(error));
        }
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

// ----- small things -----

/// Stripe's JSON layout: pretty-printed, two spaces.
fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

fn request_id() -> String {
    format!("req_{}", random_base62(14))
}

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `len` random characters of `[0-9A-Za-z]`, as in Stripe's ids.
fn random_base62(len: usize) -> String {
    let mut out = String::with_capacity(len);
    while out.len() < len {
        for byte in uuid::Uuid::new_v4().into_bytes() {
            // 248 = 4 × 62: keeps every character equally likely.
            if byte < 248 && out.len() < len {
                out.push(char::from(BASE62[usize::from(byte % 62)]));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A webhook payload and its signature, computed once with Python's `hmac` and `hashlib`:
    /// `hmac.new(b"whsec_fake_0123456789", b"1700000000." + PAYLOAD, hashlib.sha256).hexdigest()`.
    const PAYLOAD: &str = r#"{"id":"evt_test","object":"event"}"#;
    const SIGNATURE: &str =
        "t=1700000000,v1=c05f36a9b20d7946520749cc3cd6f5b52fbd744a5a709e2eb4867a05c5b65f27";

    struct Answer {
        status: u16,
        headers: reqwest::header::HeaderMap,
        body: String,
    }

    impl Answer {
        fn json(&self) -> Value {
            serde_json::from_str(&self.body).expect("a JSON body")
        }

        fn header(&self, name: &str) -> Option<&str> {
            self.headers.get(name).and_then(|value| value.to_str().ok())
        }

        /// `(type, code, param)` of a Stripe error.
        fn error(&self) -> (String, String, String) {
            let error = &self.json()["error"];
            let text = |key: &str| error[key].as_str().unwrap_or_default().to_owned();
            (text("type"), text("code"), text("param"))
        }
    }

    fn client() -> reqwest::Client {
        crate::install_crypto();
        reqwest::Client::new()
    }

    async fn answer(request: reqwest::RequestBuilder) -> Answer {
        let response = request.send().await.expect("Stripe answers");
        Answer {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: response.text().await.expect("a body"),
        }
    }

    async fn post(
        stripe: &FakeStripe,
        path: &str,
        form: &[(&str, &str)],
        idempotency_key: Option<&str>,
    ) -> Answer {
        let mut request = client()
            .post(format!("{}{path}", stripe.url))
            .bearer_auth(&stripe.secret_key)
            .header("stripe-version", API_VERSION)
            .form(form);
        if let Some(key) = idempotency_key {
            request = request.header("idempotency-key", key);
        }
        answer(request).await
    }

    async fn get(stripe: &FakeStripe, path: &str, query: &[(&str, &str)]) -> Answer {
        let request = client()
            .get(format!("{}{path}", stripe.url))
            .bearer_auth(&stripe.secret_key)
            .query(query);
        answer(request).await
    }

    async fn customer(stripe: &FakeStripe) -> String {
        let created = post(stripe, "/v1/customers", &[("email", "a@example.com")], None).await;
        created.json()["id"]
            .as_str()
            .expect("a customer id")
            .to_owned()
    }

    #[tokio::test]
    async fn one_idempotency_key_creates_one_customer_and_replays_the_first_answer() {
        let stripe = FakeStripe::start().await;
        let form = [
            ("email", "ada@example.com"),
            ("name", "Ada"),
            ("metadata[tenant]", "acme"),
        ];
        let first = post(&stripe, "/v1/customers", &form, Some("key-1")).await;
        assert_eq!(first.status, 200, "{}", first.body);
        let customer = first.json();
        assert!(customer["id"].as_str().expect("an id").starts_with("cus_"));
        assert_eq!(customer["object"], "customer");
        assert_eq!(customer["email"], "ada@example.com");
        assert_eq!(customer["metadata"], json!({"tenant": "acme"}));
        assert_eq!(first.header("idempotency-key"), Some("key-1"));
        assert_eq!(first.header("stripe-version"), Some(API_VERSION));
        assert!(
            first
                .header("request-id")
                .expect("an id")
                .starts_with("req_")
        );

        let again = post(&stripe, "/v1/customers", &form, Some("key-1")).await;
        assert_eq!((again.status, &again.body), (200, &first.body));
        assert_eq!(again.header("idempotent-replayed"), Some("true"));
        assert_eq!(again.header("original-request"), first.header("request-id"));
        assert_eq!(stripe.customers().len(), 1);
        assert_eq!(stripe.requests("POST /v1/customers"), 2);
        assert_eq!(stripe.idempotency_keys("POST /v1/"), ["key-1", "key-1"]);
        assert_eq!(
            stripe.last_header("POST /v1/customers", "stripe-version"),
            Some(API_VERSION.to_owned())
        );

        let other_body = post(
            &stripe,
            "/v1/customers",
            &[("email", "b@x.io")],
            Some("key-1"),
        )
        .await;
        assert_eq!(other_body.status, 400);
        assert_eq!(other_body.error().0, "idempotency_error");
        let other_path = post(
            &stripe,
            "/v1/billing/meter_events",
            &[("event_name", "calls"), ("payload[value]", "1")],
            Some("key-1"),
        )
        .await;
        assert_eq!(other_path.status, 400);
        assert_eq!(other_path.error().0, "idempotency_error");
        assert!(stripe.meter_events().is_empty());

        let concurrent = futures::future::join_all(
            (0..8).map(|_| post(&stripe, "/v1/customers", &form, Some("key-2"))),
        )
        .await;
        assert!(concurrent.iter().all(|a| a.body == concurrent[0].body));
        assert_eq!(stripe.customers().len(), 2);
        assert_eq!(
            stripe.last_form("POST /v1/customers"),
            Some(form.map(|(k, v)| (k.to_owned(), v.to_owned())).to_vec())
        );
    }

    #[tokio::test]
    async fn the_api_wants_the_secret_key_and_known_urls() {
        let stripe = FakeStripe::start().await;
        let anonymous = answer(client().post(format!("{}/v1/customers", stripe.url))).await;
        assert_eq!(anonymous.status, 401);
        assert_eq!(anonymous.error().0, "invalid_request_error");
        assert!(
            anonymous.json()["error"]["message"]
                .as_str()
                .expect("a message")
                .starts_with("You did not provide an API key.")
        );
        let wrong = answer(
            client()
                .post(format!("{}/v1/customers", stripe.url))
                .bearer_auth("sk_test_51wrongwrongwrong1234"),
        )
        .await;
        assert_eq!(wrong.status, 401);
        assert_eq!(
            wrong.json()["error"]["message"],
            "Invalid API Key provided: sk_test_*****************1234"
        );
        assert!(stripe.customers().is_empty());
        let unknown = get(&stripe, "/v1/charges", &[]).await;
        assert_eq!(unknown.status, 404);
        assert!(
            unknown
                .body
                .contains("Unrecognized request URL (GET: /v1/charges)")
        );
        let strange = post(&stripe, "/v1/customers", &[("emial", "a@b.co")], None).await;
        assert_eq!(strange.status, 400);
        assert_eq!(
            strange.error(),
            (
                "invalid_request_error".into(),
                "parameter_unknown".into(),
                "emial".into()
            )
        );
    }

    #[tokio::test]
    async fn checkout_sessions_are_created_retrieved_and_completed_into_subscriptions() {
        let stripe = FakeStripe::start().await;
        stripe.add_price("price_pro", 2000, "usd", Some("month"), false);
        stripe.add_price("price_calls", 5, "usd", Some("month"), true);
        let customer = customer(&stripe).await;
        let form = [
            ("mode", "subscription"),
            ("customer", customer.as_str()),
            ("line_items[0][price]", "price_pro"),
            ("line_items[0][quantity]", "1"),
            ("line_items[1][price]", "price_calls"),
            (
                "success_url",
                "http://127.0.0.1:9/ok?session={CHECKOUT_SESSION_ID}",
            ),
            ("cancel_url", "http://127.0.0.1:9/cancel"),
            ("client_reference_id", "tenant-7"),
            ("metadata[tenant]", "acme"),
            ("subscription_data[metadata][tenant]", "acme"),
        ];
        let created = post(&stripe, "/v1/checkout/sessions", &form, Some("cs-1")).await;
        assert_eq!(created.status, 200, "{}", created.body);
        let session = created.json();
        let id = session["id"].as_str().expect("an id").to_owned();
        assert!(id.starts_with("cs_test_"), "{id}");
        assert_eq!(session["object"], "checkout.session");
        assert_eq!(session["status"], "open");
        assert_eq!(session["payment_status"], "unpaid");
        assert_eq!(session["url"], format!("{}/c/pay/{id}", stripe.url));
        assert_eq!(session["amount_total"], 2000);
        assert_eq!(session["customer"], customer.as_str());
        assert_eq!(session["client_reference_id"], "tenant-7");
        assert_eq!(session["metadata"], json!({"tenant": "acme"}));
        let retrieved = get(&stripe, &format!("/v1/checkout/sessions/{id}"), &[]).await;
        assert_eq!(retrieved.json(), session);
        let page = answer(client().get(format!("{}/c/pay/{id}", stripe.url))).await;
        assert_eq!(page.status, 200);

        assert_eq!(
            stripe.success_redirect(&id),
            Some(format!("http://127.0.0.1:9/ok?session={id}"))
        );
        let completed = stripe.complete_session(&id, "paid");
        assert_eq!(completed["status"], "complete");
        assert_eq!(completed["payment_status"], "paid");
        let subscription_id = completed["subscription"].as_str().expect("a subscription");
        let subscription = stripe
            .subscription(subscription_id)
            .expect("the subscription");
        assert_eq!(subscription["status"], "active");
        assert_eq!(subscription["customer"], customer.as_str());
        assert_eq!(subscription["metadata"], json!({"tenant": "acme"}));
        let items = &subscription["items"]["data"];
        assert_eq!(items[0]["price"]["id"], "price_pro");
        assert_eq!(items[0]["quantity"], 1);
        assert_eq!(items[1]["price"]["recurring"]["usage_type"], "metered");
        assert!(items[1].get("quantity").is_none());
        let start = items[0]["current_period_start"].as_i64().expect("a start");
        let end = items[0]["current_period_end"].as_i64().expect("an end");
        assert_eq!(end, period_end(start, "month"));
        assert!((28 * 86_400..=31 * 86_400).contains(&(end - start)));
        let now = get(&stripe, &format!("/v1/checkout/sessions/{id}"), &[]).await;
        assert_eq!(now.json()["status"], "complete");
        assert_eq!(now.json()["invoice"], subscription["latest_invoice"]);

        stripe.set_subscription(subscription_id, "active", true);
        let canceling = stripe
            .subscription(subscription_id)
            .expect("the subscription");
        assert_eq!(canceling["cancel_at_period_end"], true);
        assert_eq!(canceling["cancel_at"], end);
        stripe.set_subscription(subscription_id, "canceled", false);
        let canceled = stripe
            .subscription(subscription_id)
            .expect("the subscription");
        assert_eq!(canceled["status"], "canceled");
        assert!(canceled["ended_at"].is_i64());
        assert_eq!(stripe.checkout_sessions().len(), 1);
        assert_eq!(
            stripe
                .last_form("POST /v1/checkout/sessions")
                .expect("a form")
                .iter()
                .find(|(key, _)| key == "line_items[1][price]"),
            Some(&("line_items[1][price]".to_owned(), "price_calls".to_owned()))
        );
    }

    #[tokio::test]
    async fn checkout_refuses_what_stripe_refuses() {
        let stripe = FakeStripe::start().await;
        stripe.add_price("price_pro", 2000, "usd", Some("month"), false);
        stripe.add_price("price_calls", 5, "usd", Some("month"), true);
        stripe.add_price("price_once", 900, "eur", None, false);
        let refused = |form: &'static [(&'static str, &'static str)]| {
            let stripe = stripe.clone();
            async move { post(&stripe, "/v1/checkout/sessions", form, None).await }
        };
        let unknown_price = refused(&[
            ("mode", "subscription"),
            ("line_items[0][price]", "price_nope"),
            ("line_items[0][quantity]", "1"),
        ])
        .await;
        assert_eq!(unknown_price.status, 400);
        assert_eq!(
            unknown_price.error(),
            (
                "invalid_request_error".into(),
                "resource_missing".into(),
                "line_items[0][price]".into()
            )
        );
        assert_eq!(
            unknown_price.json()["error"]["message"],
            "No such price: 'price_nope'"
        );
        let no_mode = refused(&[("line_items[0][price]", "price_pro")]).await;
        assert_eq!(no_mode.error().1, "parameter_missing");
        let recurring_in_payment = refused(&[
            ("mode", "payment"),
            ("line_items[0][price]", "price_pro"),
            ("line_items[0][quantity]", "1"),
        ])
        .await;
        assert_eq!(recurring_in_payment.status, 400);
        let metered_quantity = refused(&[
            ("mode", "subscription"),
            ("line_items[0][price]", "price_calls"),
            ("line_items[0][quantity]", "1"),
        ])
        .await;
        assert_eq!(metered_quantity.error().2, "line_items[0][quantity]");
        let intent_data = refused(&[
            ("mode", "subscription"),
            ("line_items[0][price]", "price_pro"),
            ("line_items[0][quantity]", "1"),
            ("payment_intent_data[metadata][a]", "b"),
        ])
        .await;
        assert_eq!(intent_data.error().2, "payment_intent_data");
        let unknown_customer = refused(&[
            ("mode", "payment"),
            ("customer", "cus_nope"),
            ("line_items[0][price]", "price_once"),
            ("line_items[0][quantity]", "1"),
        ])
        .await;
        assert_eq!(unknown_customer.error().1, "resource_missing");
        let missing = get(&stripe, "/v1/checkout/sessions/cs_test_nope", &[]).await;
        assert_eq!(missing.status, 404);
        assert_eq!(missing.error().1, "resource_missing");
        assert!(stripe.checkout_sessions().is_empty());

        let paid = refused(&[
            ("mode", "payment"),
            ("line_items[0][price]", "price_once"),
            ("line_items[0][quantity]", "2"),
            ("payment_intent_data[metadata][tenant]", "acme"),
            ("customer_email", "buyer@example.com"),
        ])
        .await;
        assert_eq!(paid.status, 200, "{}", paid.body);
        let session = paid.json();
        assert_eq!(session["amount_total"], 1800);
        assert_eq!(session["currency"], "eur");
        assert_eq!(session["customer_creation"], "if_required");
        let id = session["id"].as_str().expect("an id");
        let completed = stripe.complete_session(id, "paid");
        assert!(
            completed["payment_intent"]
                .as_str()
                .expect("a payment intent")
                .starts_with("pi_")
        );
        assert_eq!(completed["customer"], Value::Null);
        assert_eq!(completed["customer_details"]["email"], "buyer@example.com");
        let expire = post(
            &stripe,
            &format!("/v1/checkout/sessions/{id}/expire"),
            &[],
            None,
        )
        .await;
        assert_eq!(expire.status, 400);
    }

    #[tokio::test]
    async fn meter_events_are_recorded_once_per_identifier() {
        let stripe = FakeStripe::start().await;
        let customer = customer(&stripe).await;
        let event = |identifier: &'static str| {
            [
                ("event_name", "tool_calls"),
                ("payload[stripe_customer_id]", customer.as_str()),
                ("payload[value]", "3"),
                ("identifier", identifier),
            ]
        };
        let first = post(&stripe, "/v1/billing/meter_events", &event("u1"), None).await;
        assert_eq!(first.status, 200, "{}", first.body);
        let recorded = first.json();
        assert_eq!(recorded["object"], "billing.meter_event");
        assert_eq!(recorded["identifier"], "u1");
        assert_eq!(recorded["payload"]["value"], "3");
        assert_eq!(recorded["payload"]["stripe_customer_id"], customer.as_str());
        let duplicate = post(&stripe, "/v1/billing/meter_events", &event("u1"), None).await;
        assert_eq!(duplicate.status, 400);
        assert_eq!(
            duplicate.json()["error"]["message"],
            "An event already exists with identifier u1."
        );
        assert_eq!(duplicate.header("stripe-should-retry"), Some("false"));
        assert_eq!(stripe.meter_events().len(), 1);

        // A lost response: the event is recorded, and a retry under the key replays success.
        stripe.fail(
            "POST /v1/billing/meter_events",
            Some(Failure::CommitThenFail(500)),
        );
        let lost = post(
            &stripe,
            "/v1/billing/meter_events",
            &event("u2"),
            Some("m2"),
        )
        .await;
        assert_eq!(lost.status, 500);
        assert_eq!(lost.error().0, "api_error");
        assert_eq!(stripe.meter_events().len(), 2);
        stripe.fail("POST /v1/billing/meter_events", None);
        let retried = post(
            &stripe,
            "/v1/billing/meter_events",
            &event("u2"),
            Some("m2"),
        )
        .await;
        assert_eq!(retried.status, 200);
        assert_eq!(retried.header("idempotent-replayed"), Some("true"));
        assert_eq!(stripe.meter_events().len(), 2);

        // Failures that happen before the work leave nothing behind.
        stripe.fail("POST /v1/billing", Some(Failure::FailTimes(503, 2)));
        for _ in 0..2 {
            let failed = post(
                &stripe,
                "/v1/billing/meter_events",
                &event("u3"),
                Some("m3"),
            )
            .await;
            assert_eq!(failed.status, 503);
        }
        let third = post(
            &stripe,
            "/v1/billing/meter_events",
            &event("u3"),
            Some("m3"),
        )
        .await;
        assert_eq!(third.status, 200);
        assert!(third.header("idempotent-replayed").is_none());
        assert_eq!(stripe.meter_events().len(), 3);
        assert_eq!(stripe.requests("POST /v1/billing/meter_events"), 7);
        assert_eq!(
            stripe.idempotency_keys("POST /v1/billing/meter_events"),
            ["m2", "m2", "m3", "m3", "m3"]
        );

        stripe.fail("POST /v1/billing/meter_events", Some(Failure::Status(429)));
        let limited = post(&stripe, "/v1/billing/meter_events", &event("u4"), None).await;
        assert_eq!(
            (limited.status, limited.error().1),
            (429, "rate_limit".into())
        );
        stripe.fail("POST /v1/billing/meter_events", None);
        let old = post(
            &stripe,
            "/v1/billing/meter_events",
            &[
                ("event_name", "tool_calls"),
                ("payload[value]", "1"),
                ("timestamp", "1000000000"),
            ],
            None,
        )
        .await;
        assert_eq!((old.status, old.error().2), (400, "timestamp".into()));
        assert_eq!(stripe.meter_events().len(), 3);
    }

    #[tokio::test]
    async fn prices_are_listed_newest_first_and_portals_open() {
        let stripe = FakeStripe::start().await;
        stripe.add_price("price_a", 100, "usd", None, false);
        stripe.add_price("price_b", 200, "usd", Some("month"), false);
        stripe.add_price("price_c", 300, "usd", Some("year"), false);
        let page = get(&stripe, "/v1/prices", &[("active", "true"), ("limit", "2")]).await;
        let list = page.json();
        assert_eq!(list["object"], "list");
        assert_eq!(list["url"], "/v1/prices");
        assert_eq!(list["has_more"], true);
        let ids: Vec<&str> = list["data"]
            .as_array()
            .expect("data")
            .iter()
            .filter_map(|price| price["id"].as_str())
            .collect();
        assert_eq!(ids, ["price_c", "price_b"]);
        let rest = get(&stripe, "/v1/prices", &[("starting_after", "price_b")]).await;
        assert_eq!(rest.json()["data"][0]["id"], "price_a");
        assert_eq!(rest.json()["has_more"], false);
        assert_eq!(
            get(&stripe, "/v1/prices", &[("active", "false")])
                .await
                .json()["data"],
            json!([])
        );

        let customer = customer(&stripe).await;
        let portal = post(
            &stripe,
            "/v1/billing_portal/sessions",
            &[
                ("customer", customer.as_str()),
                ("return_url", "http://127.0.0.1:9/account"),
            ],
            None,
        )
        .await;
        let session = portal.json();
        let id = session["id"].as_str().expect("an id");
        assert!(id.starts_with("bps_"));
        assert_eq!(session["object"], "billing_portal.session");
        assert_eq!(session["url"], format!("{}/p/session/{id}", stripe.url));
        assert_eq!(session["return_url"], "http://127.0.0.1:9/account");
        let unknown = post(
            &stripe,
            "/v1/billing_portal/sessions",
            &[("customer", "cus_nope")],
            None,
        )
        .await;
        assert_eq!(
            (unknown.status, unknown.error().2),
            (400, "customer".into())
        );
    }

    #[tokio::test]
    async fn prices_expand_their_product_and_the_balance_wants_the_key() {
        let stripe = FakeStripe::start().await;
        stripe.add_product_price("price_pro", "Pro", 500, "usd", Some("month"), false);
        let plain = get(&stripe, "/v1/prices", &[]).await.json();
        let product = plain["data"][0]["product"]
            .as_str()
            .expect("an id")
            .to_owned();
        assert!(product.starts_with("prod_"), "{product}");
        let expanded = get(&stripe, "/v1/prices", &[("expand[]", "data.product")]).await;
        let expanded = expanded.json();
        assert_eq!(expanded["data"][0]["product"]["id"], product.as_str());
        assert_eq!(expanded["data"][0]["product"]["object"], "product");
        assert_eq!(expanded["data"][0]["product"]["name"], "Pro");
        let retrieved = get(&stripe, &format!("/v1/products/{product}"), &[]).await;
        assert_eq!(retrieved.json()["name"], "Pro");
        let unknown = get(&stripe, "/v1/prices", &[("expand[]", "data.nope")]).await;
        assert_eq!((unknown.status, unknown.error().2), (400, "expand".into()));

        let balance = get(&stripe, "/v1/balance", &[]).await;
        assert_eq!(balance.status, 200);
        assert_eq!(balance.json()["object"], "balance");
        assert_eq!(balance.json()["livemode"], false);
        let key = "sk_test_51NotTheAccountsKeyAtAll1234";
        let wrong = answer(
            client()
                .get(format!("{}/v1/balance", stripe.url))
                .bearer_auth(key),
        )
        .await;
        assert_eq!(wrong.status, 401);
        let message = wrong.json()["error"]["message"]
            .as_str()
            .expect("a message")
            .to_owned();
        assert!(
            message.starts_with("Invalid API Key provided: sk_test_*") && message.ends_with("1234"),
            "{message}"
        );
        assert!(!message.contains(key), "{message}");
    }

    #[tokio::test]
    async fn a_held_request_ends_unanswered_when_the_fake_goes() {
        let stripe = FakeStripe::start().await;
        stripe.fail("POST /v1/customers", Some(Failure::Hang));
        let request = client()
            .post(format!("{}/v1/customers", stripe.url))
            .bearer_auth(&stripe.secret_key)
            .form(&[("email", "held@example.com")])
            .send();
        let held = tokio::spawn(request);
        stripe.wait_for_requests("POST /v1/customers", 1).await;
        assert!(!held.is_finished());
        drop(stripe);
        let outcome = tokio::time::timeout(Duration::from_secs(10), held)
            .await
            .expect("the held request ends with the fake")
            .expect("the task completes");
        assert!(outcome.is_err(), "no answer, only a closed connection");
    }

    #[test]
    fn signatures_match_an_independent_computation() {
        assert_eq!(
            FakeStripe::sign(PAYLOAD, "whsec_fake_0123456789", 1_700_000_000),
            SIGNATURE
        );
    }

    #[tokio::test]
    async fn webhooks_carry_the_exact_text_they_sign() {
        let stripe = FakeStripe::start().await;
        let (sender, mut received) = tokio::sync::mpsc::unbounded_channel();
        let receiver = Router::new().fallback(move |headers: HeaderMap, body: String| {
            let sender = sender.clone();
            async move {
                let _ = sender.send((headers, body));
                StatusCode::OK
            }
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let address = listener.local_addr().expect("an address");
        tokio::spawn(async move {
            let _ = axum::serve(listener, receiver).await;
        });

        let event = stripe.event_at(
            "checkout.session.completed",
            json!({"id": "cs_test_1", "object": "checkout.session"}),
            1_700_000_000,
        );
        assert!(event["id"].as_str().expect("an id").starts_with("evt_"));
        assert_eq!(event["api_version"], API_VERSION);
        assert_eq!(event["created"], 1_700_000_000);
        assert_eq!(event["data"]["object"]["id"], "cs_test_1");
        assert_eq!(
            event["request"],
            json!({"id": null, "idempotency_key": null})
        );
        let secret = "whsec_test_secret";
        let response = stripe
            .deliver(&format!("http://{address}/webhooks/stripe"), &event, secret)
            .await;
        assert_eq!(response.status(), 200);
        let (headers, body) = received.recv().await.expect("a delivery");
        assert_eq!(
            headers[header::CONTENT_TYPE],
            "application/json; charset=utf-8"
        );
        let signature = headers["stripe-signature"].to_str().expect("ascii");
        let timestamp: i64 = signature
            .strip_prefix("t=")
            .and_then(|rest| rest.split(',').next())
            .and_then(|t| t.parse().ok())
            .expect("a timestamp");
        assert!((chrono::Utc::now().timestamp() - timestamp).abs() < 60);
        assert_eq!(signature, FakeStripe::sign(&body, secret, timestamp));
        assert_eq!(serde_json::from_str::<Value>(&body).expect("JSON"), event);
        let now = stripe.event("customer.subscription.updated", json!({}));
        assert!((now["created"].as_i64().expect("a time") - timestamp).abs() < 60);
    }
}
