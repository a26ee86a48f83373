//! What the server takes from the network edge, and how far it trusts it: the client's
//! source address (used by the sign-in lockout), forwarded headers (trusted only from
//! configured proxies), and the public base URL used for absolute links.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;

use crate::AppState;

/// Edge settings of `infusio serve`. Every field documents its default.
#[derive(Debug, Clone, Default)]
pub struct EdgeConfig {
    /// Addresses of reverse proxies whose `X-Forwarded-For` / `X-Forwarded-Proto` headers are
    /// believed. Default empty: forwarded headers are ignored from everyone, and the client
    /// is the socket's peer.
    pub trusted_proxies: Vec<IpAddr>,
}

/// The client's address as the server trusts it: the socket's peer, or, when the peer is a
/// trusted proxy, the nearest address in `X-Forwarded-For` that is not a trusted proxy.
/// `None` when the request came without a socket (in-process tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSource(pub Option<IpAddr>);

impl ClientSource {
    /// The address as text (for the lockout key), if known.
    pub fn as_text(&self) -> Option<String> {
        self.0.map(|ip| ip.to_string())
    }
}

/// Resolves the client address from the peer and the headers under `cfg`.
pub fn client_address(
    peer: Option<IpAddr>,
    headers: &HeaderMap,
    cfg: &EdgeConfig,
) -> Option<IpAddr> {
    let peer = peer?;
    if !cfg.trusted_proxies.contains(&peer) {
        return Some(peer);
    }
    // Read the chain from the nearest hop outwards; the first address that is not one of our
    // proxies is the client (anything further left was written by the client itself).
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse::<IpAddr>().ok())
        .collect();
    Some(
        forwarded
            .into_iter()
            .rev()
            .find(|a| !cfg.trusted_proxies.contains(a))
            .unwrap_or(peer),
    )
}

/// The socket peer of a request served by [`crate::serve_on`], if any.
pub fn peer_address(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

impl FromRequestParts<AppState> for ClientSource {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientSource(client_address(
            peer_address(parts),
            &parts.headers,
            &state.edge,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(xff: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_str(xff).expect("header"),
        );
        h
    }

    #[test]
    fn forwarded_for_is_ignored_from_an_untrusted_peer() {
        let peer: IpAddr = "203.0.113.9".parse().expect("ip");
        let got = client_address(Some(peer), &headers("10.0.0.1"), &EdgeConfig::default());
        assert_eq!(got, Some(peer));
    }

    #[test]
    fn a_trusted_proxy_names_the_client_and_a_spoofed_left_part_is_ignored() {
        let proxy: IpAddr = "10.0.0.2".parse().expect("ip");
        let cfg = EdgeConfig {
            trusted_proxies: vec![proxy],
        };
        // The client wrote "1.1.1.1" itself; the proxy appended the real peer 198.51.100.7.
        let got = client_address(Some(proxy), &headers("1.1.1.1, 198.51.100.7"), &cfg);
        assert_eq!(got, Some("198.51.100.7".parse().expect("ip")));
    }
}
