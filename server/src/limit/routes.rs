//! The HTTP side of limits: the client address of a request (the socket peer, or
//! `X-Forwarded-For` behind a trusted proxy) and the `Retry-After` header of a 429.

use crate::app::AppState;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap, HeaderValue, header};
use axum::response::Response;
use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// The address a request comes from, as the limits count it.
#[derive(Clone, Copy, Debug)]
pub struct ClientAddress(pub IpAddr);

impl ClientAddress {
    /// The address of a request, from its headers and extensions (for handlers that take the
    /// whole request).
    pub fn of(state: &AppState, headers: &HeaderMap, extensions: &Extensions) -> Self {
        // Without connection info (a router driven in-process) there is no peer: every such
        // request shares one bucket.
        let peer = extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |info| info.0.ip());
        let forwarded = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok());
        Self(super::client_address(
            peer,
            forwarded,
            &state.config.trusted_proxies,
        ))
    }

    /// How the limits name this address (IPv6 by its /64).
    pub fn key(&self) -> String {
        super::address_key(self.0)
    }
}

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self::of(state, &parts.headers, &parts.extensions))
    }
}

/// Adds `Retry-After: secs` to a response.
pub fn with_retry_after(mut response: Response, secs: u64) -> Response {
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
    response
}
