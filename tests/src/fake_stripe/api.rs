//! The API's front: request logging, injected failures, authentication, idempotency, and dispatch to the endpoints.

use super::*;

pub(super) async fn handle(
    State(shared): State<Arc<Shared>>,
    axum::extract::ConnectInfo(switch): axum::extract::ConnectInfo<CutSwitch>,
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
    let (failure, fault, mut released) = {
        let mut account = shared.account();
        account.log.push(Logged {
            route: route.clone(),
            form: form.clone(),
            idempotency_key: idempotency_key.clone(),
            headers: headers.clone(),
        });
        let failure = take_failure(&mut account.failures, &route);
        // A test's own failure for this route comes first; random faults touch only the API.
        let fault = if failure.is_none() && path.starts_with("/v1/") {
            faults::draw(&mut account)
        } else {
            None
        };
        // Subscribed under the lock `release_held` takes too, so no release is missed.
        (failure, fault, shared.release.subscribe())
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
    if let Some((fault, hold)) = fault {
        return match fault {
            Fault::ServerError => respond(&request, injected(500), &request_id()),
            Fault::RateLimited => respond(&request, injected(429), &request_id()),
            Fault::Timeout => {
                // The client gives up first (and its connection with it); the work is done
                // when the hold ends all the same, in a task of its own.
                let mut stop = shared.stop.clone();
                let held = tokio::spawn(async move {
                    tokio::select! {
                        _ = stop.changed() => respond(&request, injected(503), &request_id()),
                        () = tokio::time::sleep(hold) => serve(&shared, &request),
                    }
                });
                held.await
                    .unwrap_or_else(|_| StatusCode::SERVICE_UNAVAILABLE.into_response())
            }
            Fault::Dropped => {
                let done = serve(&shared, &request);
                switch.cut();
                done
            }
        };
    }
    match failure {
        None => serve(&shared, &request),
        Some(Failure::Status(status) | Failure::FailTimes(status, _)) => {
            respond(&request, injected(status), &request_id())
        }
        Some(Failure::CommitThenFail(status)) => {
            let _lost = serve(&shared, &request);
            respond(&request, injected(status), &request_id())
        }
        Some(Failure::Hold) => {
            let mut stop = shared.stop.clone();
            tokio::select! {
                _ = released.changed() => serve(&shared, &request),
                _ = stop.changed() => respond(&request, injected(503), &request_id()),
            }
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
pub(super) fn take_failure(failures: &mut Vec<(String, Failure)>, route: &str) -> Option<Failure> {
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

pub(super) fn serve(shared: &Shared, request: &Request) -> Response {
    if !request.path.starts_with("/v1/") {
        return page(shared, request);
    }
    let request_id = request_id();
    let reply = api(shared, request, &request_id);
    respond(request, reply, &request_id)
}

/// Adds the headers every API answer carries.
pub(super) fn respond(request: &Request, reply: Reply, request_id: &str) -> Response {
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
pub(super) fn api(shared: &Shared, request: &Request, request_id: &str) -> Reply {
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
        let replay = Reply {
            status: saved.status,
            body: saved.body.clone(),
            headers: vec![
                ("idempotent-replayed", "true".to_owned()),
                ("original-request", saved.request_id.clone()),
            ],
        };
        account.counts.idempotent_replays += 1;
        return replay;
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

pub(super) fn authenticate(shared: &Shared, headers: &HeaderMap) -> Result<(), Reply> {
    let value = headers
        .get(header::AUTHORIZATION)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
        .unwrap_or_default();
    let key = value
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, key)| key.trim())
        .unwrap_or_default();
    if key == shared.secret_key || shared.account().rolled_keys.iter().any(|k| k == key) {
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
pub(super) fn redact(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= 12 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..8].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 12))
}

pub(super) fn endpoint(
    shared: &Shared,
    account: &mut Account,
    request: &Request,
    now: i64,
) -> Reply {
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
        ("GET", ["events"]) => list_events(account, &form),
        ("GET", ["events", id]) => {
            let event = account.events.iter().find(|e| e["id"] == *id);
            retrieve(&form, event, "event", id)
        }
        ("GET", ["subscriptions", id]) => {
            let subscription = account.subscriptions.iter().find(|s| s["id"] == *id);
            retrieve(&form, subscription, "subscription", id)
        }
        ("DELETE", ["subscriptions", id]) => cancel_subscription(account, &form, id, now),
        ("POST", ["refunds"]) => create_refund(account, &form, now),
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

pub(super) fn retrieve(form: &Form<'_>, object: Option<&Value>, kind: &str, id: &str) -> Reply {
    if let Some(refusal) = form.reject_unknown(&["expand"]) {
        return refusal;
    }
    match object {
        Some(object) => Reply::ok(object),
        None => no_such(StatusCode::NOT_FOUND, kind, id, "id"),
    }
}
