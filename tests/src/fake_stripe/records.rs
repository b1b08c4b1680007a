//! What the fake saw (requests, idempotency keys, objects) and how tests make it misbehave.

use super::*;

impl FakeStripe {
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

    /// The Checkout Session whose `metadata[key]` is `value`, as it is now.
    pub fn checkout_session_with(&self, key: &str, value: &str) -> Option<Value> {
        self.shared
            .account()
            .sessions
            .iter()
            .find(|session| session.object["metadata"][key] == value)
            .map(|session| session.object.clone())
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

    /// The refunds made through the API (`POST /v1/refunds`), oldest first.
    pub fn refunds(&self) -> Vec<Value> {
        self.shared.account().refunds.clone()
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

    /// Lets every request held by [`Failure::Hold`] go on (served normally), and holds no
    /// more.
    pub fn release_held(&self) {
        let mut account = self.shared.account();
        account
            .failures
            .retain(|(_, failure)| *failure != Failure::Hold);
        self.shared.release.send_modify(|n| *n += 1);
    }
}
