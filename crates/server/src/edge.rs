//! What the server takes from the network edge, and how far it trusts it: the client's
//! source address (used by the sign-in lockout), forwarded headers (trusted only from
//! configured proxies), and the public base URL used for absolute links.

use std::net::{IpAddr, SocketAddr};

use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::AppState;

/// Edge settings of `infusio serve`. Every field documents its default.
#[derive(Debug, Clone, Default)]
pub struct EdgeConfig {
    /// Addresses of reverse proxies whose `X-Forwarded-For` / `X-Forwarded-Proto` headers are
    /// believed. Default empty: forwarded headers are ignored from everyone, and the client
    /// is the socket's peer.
    pub trusted_proxies: Vec<IpAddr>,
    /// The URL clients use to reach this server (`--public-url`), e.g.
    /// `https://infusio.example.org`. When set, every absolute link (FHIR bundle links,
    /// `Location`) and the expected `Origin` of changes are built from it, whatever `Host`
    /// the request names; an `https` URL also makes the server send HSTS. Default none.
    pub public_url: Option<PublicUrl>,
    /// The listen address (`host:port`) used in place of the request's `Host` when no public
    /// URL is configured, so a foreign `Host` never reaches a response. Default none (the
    /// in-process router of the tests keeps the request's `Host`).
    pub listen_authority: Option<String>,
}

/// A public base URL: scheme (`http` or `https`) and authority (`host[:port]`), no path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl {
    pub scheme: String,
    pub authority: String,
}

impl PublicUrl {
    /// Reads `http(s)://host[:port]` (a trailing `/` is allowed; a path, query, user info or
    /// anything else is refused with what is accepted).
    pub fn parse(text: &str) -> Result<PublicUrl, String> {
        let bad =
            || format!("{text:?} is not a base URL such as https://infusio.example.org[:port]");
        let (scheme, rest) = text.split_once("://").ok_or_else(bad)?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(bad());
        }
        let authority = rest.strip_suffix('/').unwrap_or(rest).to_ascii_lowercase();
        let allowed =
            |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']');
        if authority.is_empty() || !authority.chars().all(allowed) {
            return Err(bad());
        }
        HeaderValue::from_str(&authority).map_err(|_| bad())?;
        Ok(PublicUrl { scheme, authority })
    }

    /// `scheme://authority`.
    pub fn origin(&self) -> String {
        format!("{}://{}", self.scheme, self.authority)
    }
}

/// Rewrites the headers a client could forge before any handler reads them: with a public
/// URL, `Host` and `X-Forwarded-Proto` become the URL's; otherwise `X-Forwarded-Proto` and
/// `X-Forwarded-Host` are dropped unless the peer is a trusted proxy, and `Host` becomes the
/// listen address when it is known. Handlers (FHIR links, `Location`, the Origin check) can
/// then use `Host` and `X-Forwarded-Proto` as trusted values.
pub async fn normalise_headers(
    State(edge): State<Arc<EdgeConfig>>,
    mut req: Request,
    next: Next,
) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let from_proxy = peer.is_some_and(|p| edge.trusted_proxies.contains(&p));
    let headers = req.headers_mut();
    headers.remove("x-forwarded-host");
    if let Some(url) = &edge.public_url {
        if let (Ok(host), Ok(proto)) = (
            HeaderValue::from_str(&url.authority),
            HeaderValue::from_str(&url.scheme),
        ) {
            headers.insert(header::HOST, host);
            headers.insert("x-forwarded-proto", proto);
        }
    } else {
        if !from_proxy {
            headers.remove("x-forwarded-proto");
        }
        if let Some(listen) = edge
            .listen_authority
            .as_deref()
            .and_then(|a| HeaderValue::from_str(a).ok())
        {
            headers.insert(header::HOST, listen);
        }
    }
    let mut res = next.run(req).await;
    if edge
        .public_url
        .as_ref()
        .is_some_and(|u| u.scheme == "https")
    {
        res.headers_mut().insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    res
}

/// The origin a same-site browser request carries: `scheme://host` from the (normalised)
/// `X-Forwarded-Proto` (default `http`) and `Host`.
pub fn expected_origin(headers: &HeaderMap) -> String {
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .filter(|p| p.eq_ignore_ascii_case("https"))
        .map_or("http", |_| "https");
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    format!("{scheme}://{host}")
}

/// Whether a request may change something as far as its origin goes: safe methods always;
/// otherwise a browser's `Sec-Fetch-Site: cross-site` is refused, and an `Origin`, when sent,
/// must equal [`expected_origin`] — scheme, host and port. (Non-browser clients send no
/// Origin; they authenticate with bearer tokens or the CSRF token.)
pub fn origin_allowed(method: &Method, headers: &HeaderMap) -> bool {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return true;
    }
    let fetch_site = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if fetch_site.eq_ignore_ascii_case("cross-site") {
        return false;
    }
    match headers.get(header::ORIGIN).map(|v| v.to_str()) {
        None => true,
        Some(Ok(origin)) => origin.eq_ignore_ascii_case(&expected_origin(headers)),
        Some(Err(_)) => false,
    }
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

    #[test]
    fn a_public_url_is_a_scheme_and_an_authority_only() {
        let u = PublicUrl::parse("https://Infusio.Example.org:8443/").expect("valid");
        assert_eq!(u.origin(), "https://infusio.example.org:8443");
        for bad in [
            "infusio.example.org",
            "ftp://x",
            "https://x/fhir",
            "https://u@x",
            "https://",
        ] {
            assert!(PublicUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_origin_check_compares_the_scheme() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("infusio.local"));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://infusio.local"),
        );
        assert!(
            !origin_allowed(&Method::POST, &h),
            "https origin, plain http server"
        );
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://infusio.local"),
        );
        assert!(origin_allowed(&Method::POST, &h));
        h.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        assert!(
            !origin_allowed(&Method::POST, &h),
            "http origin, https server"
        );
        h.remove(header::ORIGIN);
        h.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(!origin_allowed(&Method::POST, &h));
    }

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
            ..EdgeConfig::default()
        };
        // The client wrote "1.1.1.1" itself; the proxy appended the real peer 198.51.100.7.
        let got = client_address(Some(proxy), &headers("1.1.1.1, 198.51.100.7"), &cfg);
        assert_eq!(got, Some("198.51.100.7".parse().expect("ip")));
    }
}
