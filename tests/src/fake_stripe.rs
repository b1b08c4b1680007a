//! A fake Stripe: a real HTTP server speaking Stripe's v1 wire format for customers, Checkout, the customer portal, meter events, prices and products, subscriptions, the balance and the event list; playing the payer (paying, refunds, disputes) and the customer portal; and recording events and delivering them signed as Stripe does (or not, while delivery is switched off).

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
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tollgate::clock::{Clock, SystemClock};

mod actions;
mod api;
mod charges;
mod checkout;
mod customers;
mod errors;
mod event_log;
mod events;
mod faults;
mod form;
mod meters;
mod pages;
mod portal;
mod prices;
mod records;
mod subscriptions;
#[cfg(test)]
mod tests;

use api::*;
use charges::*;
use checkout::*;
use customers::*;
use errors::*;
use event_log::*;
use faults::{Fault, FaultState};
pub use faults::{FaultCounts, Faults, Webhook};
use form::*;
use meters::*;
use pages::*;
use portal::*;
use prices::*;
use subscriptions::*;

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

const EVENT_LIST_PARAMS: &[&str] = &[
    "created",
    "delivery_success",
    "ending_before",
    "expand",
    "limit",
    "starting_after",
    "type",
    "types",
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
    /// Hold the request until [`FakeStripe::release_held`], then serve it normally: for work
    /// caught in the middle (two runs at once, a crash mid-run).
    Hold,
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
    /// Bumped by [`FakeStripe::release_held`]: held requests go on.
    release: watch::Sender<u64>,
    /// TCP connections accepted so far (clients that reuse connections open few).
    connections: Arc<AtomicUsize>,
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
    /// Charges (made when a refund or dispute first touches a payment) and disputes.
    charges: Vec<Value>,
    disputes: Vec<Value>,
    /// Every event the account made (`events.rs`), oldest first, delivered or not.
    events: Vec<Value>,
    /// Where and with which secret events are delivered (none: nowhere).
    webhook_endpoint: Option<(String, String)>,
    /// Delivery is switched off: events are still recorded, as when the endpoint is down.
    webhooks_off: bool,
    /// Refunds made through the API (`POST /v1/refunds`).
    refunds: Vec<Value>,
    /// Secret keys made by [`FakeStripe::roll_secret_key`], accepted as well as the first.
    rolled_keys: Vec<String>,
    /// Meter event identifier → when it was recorded.
    identifiers: HashMap<String, i64>,
    /// Idempotency key → the first result under it.
    idempotent: HashMap<String, Saved>,
    /// Random faults in force, if any ([`FakeStripe::set_faults`]).
    faults: Option<FaultState>,
    /// What the fault plan did, and replays and duplicates seen.
    counts: FaultCounts,
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
            release: watch::Sender::new(0),
            connections: Arc::default(),
            account: Mutex::new(Account::default()),
        });
        let router = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&shared))
            .into_make_service_with_connect_info::<CutSwitch>();
        let listener = StoppableListener {
            inner: listener,
            stopped: Arc::clone(&stopped),
            connections: Arc::clone(&shared.connections),
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

    /// A new secret key for the same account, as rolling a key in Stripe's dashboard makes;
    /// the first key keeps working too (Stripe lets the old one expire later).
    pub fn roll_secret_key(&self) -> String {
        let key = format!("sk_test_51{}", random_base62(97));
        self.shared.account().rolled_keys.push(key.clone());
        key
    }

    /// How many TCP connections the fake has accepted (API, pages and all).
    pub fn connections_accepted(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
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
}

// ----- the server's connections -----

/// Accepts connections that break once the fake is dropped, so held requests end unanswered.
struct StoppableListener {
    inner: TcpListener,
    stopped: Arc<AtomicBool>,
    connections: Arc<AtomicUsize>,
}

impl axum::serve::Listener for StoppableListener {
    type Io = Connection;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Connection, SocketAddr) {
        let (stream, addr) = axum::serve::Listener::accept(&mut self.inner).await;
        self.connections.fetch_add(1, Ordering::SeqCst);
        let stopped = Arc::clone(&self.stopped);
        let cut = CutSwitch(Arc::default());
        (
            Connection {
                stream,
                stopped,
                cut,
            },
            addr,
        )
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// A TCP connection that fails every read and write after the fake is dropped, or after a
/// request on it asked for it to be cut.
struct Connection {
    stream: TcpStream,
    stopped: Arc<AtomicBool>,
    cut: CutSwitch,
}

impl Connection {
    fn broken(&self) -> Option<io::Error> {
        (self.stopped.load(Ordering::SeqCst) || self.cut.0.load(Ordering::SeqCst))
            .then(|| io::Error::from(io::ErrorKind::ConnectionAborted))
    }
}

/// Cuts the connection a request arrived on: its answer is never written (a dropped response).
#[derive(Clone)]
struct CutSwitch(Arc<AtomicBool>);

impl CutSwitch {
    fn cut(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, StoppableListener>>
    for CutSwitch
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, StoppableListener>) -> Self {
        stream.io().cut.clone()
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
