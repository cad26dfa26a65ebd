//! Forwarding a request to the upstream over this worker's pooled connections (`pool`):
//! path, query and body unchanged; hop-by-hop headers and client-sent copies of the headers
//! hookguard sets removed; hookguard's own headers added; the answer streamed back.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Request, Response, Uri};
use http_body_util::combinators::BoxBody;
use http_body_util::BodyExt;

use crate::config::snapshot::Upstream;
use crate::config::Mode;
use crate::serve::pool;
pub use crate::serve::pool::{error_chain, UpBody};
use crate::verify::{Rejected, Verified};

/// The body type of every response hookguard sends.
pub type RespBody = BoxBody<Bytes, hyper::Error>;

/// Why forwarding failed; mapped to 502 or 504 in one place (`proxy::error_response`).
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    /// Connection refused, reset, TLS failure, bad response.
    #[error("upstream connection failed: {0}")]
    Connect(String),
    /// No answer within `upstream_timeout`.
    #[error("upstream did not answer within {0:?}")]
    Timeout(Duration),
}

/// The connection hookguard accepted: the only source of `x-forwarded-*`.
#[derive(Clone, Copy, Debug)]
pub struct Peer {
    /// The client's address.
    pub addr: SocketAddr,
    /// Whether the connection was TLS.
    pub tls: bool,
}

/// Leave to forward: a verified request, or any request of a report-only route. Its one
/// constructor is [`Permit::new`], and [`forward`] takes one, so an unverified request cannot
/// reach the upstream of an enforcing route by construction.
#[derive(Debug)]
pub struct Permit {
    verified: bool,
    secret_ids: String,
    handshake: Option<&'static str>,
}

impl Permit {
    /// A permit for a verdict under `mode`; an enforcing route's rejection stays a rejection.
    pub fn new(mode: Mode, verdict: Result<Verified, Rejected>) -> Result<Permit, Rejected> {
        match verdict {
            Ok(v) => Ok(Permit {
                verified: true,
                secret_ids: v.secret_ids.join(","),
                handshake: None,
            }),
            Err(_) if mode == Mode::ReportOnly => Ok(Permit {
                verified: false,
                secret_ids: String::new(),
                handshake: None,
            }),
            Err(r) => Err(r),
        }
    }

    /// A permit for a provider's handshake challenge that the upstream answers (the check's
    /// `handshake: forward`, or one only the receiver can complete, such as Notion's token),
    /// marked `x-hookguard-handshake: <scheme>`; verified only when `verdict` passed.
    /// `verify::handshake::decide` is the only reason to call this.
    pub fn handshake(scheme: &'static str, verdict: Option<Verified>) -> Permit {
        Permit {
            verified: verdict.is_some(),
            secret_ids: verdict.map(|v| v.secret_ids.join(",")).unwrap_or_default(),
            handshake: Some(scheme),
        }
    }

    /// Whether every check passed (`false` only in report-only mode).
    pub fn verified(&self) -> bool {
        self.verified
    }

    /// Comma-joined matching secret ids; empty unless verified.
    pub fn secret_ids(&self) -> &str {
        &self.secret_ids
    }
}

/// What hookguard tells the upstream about the request.
pub struct Marks<'a> {
    /// The verdict's permit.
    pub permit: &'a Permit,
    /// The route name.
    pub route: &'a str,
    /// The request id, sent as `x-request-id` when the client sent none.
    pub request_id: &'a str,
    /// The accepted connection.
    pub peer: Peer,
    /// The Host the client addressed.
    pub host: Option<&'a str>,
}

const HOP_BY_HOP: [HeaderName; 7] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// Removes hop-by-hop headers, including any the `Connection` header names.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in HOP_BY_HOP.iter().chain(named.iter()) {
        headers.remove(name);
    }
}

/// Prepares the upstream request's headers: strips, then adds hookguard's own.
pub fn upstream_headers(headers: &mut HeaderMap, marks: &Marks<'_>) {
    let (peer, host) = (marks.peer, marks.host);
    strip_hop_by_hop(headers);
    headers.remove(header::CONTENT_LENGTH);
    let owned: Vec<HeaderName> = headers
        .keys()
        .filter(|n| n.as_str().starts_with("x-hookguard-"))
        .cloned()
        .collect();
    for name in owned {
        headers.remove(&name);
    }
    let set = |h: &mut HeaderMap, name: &'static str, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(HeaderName::from_static(name), v);
        }
    };
    // Fixed words as static values: no copy per request.
    let fixed = |h: &mut HeaderMap, name: &'static str, value: &'static str| {
        h.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    };
    let verified = if marks.permit.verified() {
        "true"
    } else {
        "false"
    };
    fixed(headers, "x-hookguard-verified", verified);
    set(headers, "x-hookguard-route", marks.route);
    if !marks.permit.secret_ids().is_empty() {
        set(headers, "x-hookguard-secret-id", marks.permit.secret_ids());
    }
    if let Some(scheme) = marks.permit.handshake {
        set(headers, "x-hookguard-handshake", scheme);
    }
    set(headers, "x-forwarded-for", &peer.addr.ip().to_string());
    let proto = if peer.tls { "https" } else { "http" };
    fixed(headers, "x-forwarded-proto", proto);
    match host {
        Some(h) => set(headers, "x-forwarded-host", h),
        None => {
            headers.remove("x-forwarded-host");
        }
    }
    if !headers.contains_key("x-request-id") {
        set(headers, "x-request-id", marks.request_id);
    }
}

/// Marks the headers (see [`upstream_headers`]), then sends `parts` + `body` to `upstream`,
/// within `timeout`, and returns its response with
/// hop-by-hop headers removed and the body streaming.
pub async fn forward(
    upstream: &Upstream,
    marks: &Marks<'_>,
    mut parts: http::request::Parts,
    body: UpBody,
    timeout: Duration,
) -> Result<Response<RespBody>, ForwardError> {
    upstream_headers(&mut parts.headers, marks);
    // Origin-form, as HTTP/1.1 to an origin server is sent; `Host` is the client's, or the
    // upstream's authority when the client sent none (HTTP/2's `:authority` is not a header).
    let path = match parts.uri.path_and_query() {
        Some(p) if p.as_str() != "/" => Uri::from(p.clone()),
        _ => Uri::from_static("/"),
    };
    parts.uri = path;
    if !parts.headers.contains_key(header::HOST) {
        if let Ok(host) = HeaderValue::from_str(upstream.authority.as_str()) {
            parts.headers.insert(header::HOST, host);
        }
    }
    parts.version = http::Version::HTTP_11;
    let req = Request::from_parts(parts, body);
    let resp = match tokio::time::timeout(timeout, pool::send(upstream, req)).await {
        Err(_) => return Err(ForwardError::Timeout(timeout)),
        Ok(Err(e)) => return Err(ForwardError::Connect(e.0)),
        Ok(Ok(resp)) => resp,
    };
    let (mut parts, body) = resp.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    Ok(Response::from_parts(parts, body.boxed()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::Reason;

    fn rejected() -> Rejected {
        Rejected {
            check: 0,
            reason: Reason::Invalid,
            passed: vec![],
            tried: vec![],
        }
    }

    #[test]
    fn only_a_verified_request_or_a_report_only_route_gets_a_permit() {
        let verified = Verified {
            secret_ids: vec!["a".into(), "b".into()],
            tried: vec![],
        };
        let permit = Permit::new(Mode::Enforce, Ok(verified)).expect("verified");
        assert!(permit.verified());
        assert_eq!(permit.secret_ids(), "a,b");
        assert!(Permit::new(Mode::Enforce, Err(rejected())).is_err());
        let permit = Permit::new(Mode::ReportOnly, Err(rejected())).expect("report-only");
        assert!(!permit.verified());
        assert_eq!(permit.secret_ids(), "");
    }

    #[test]
    fn hop_by_hop_headers_and_the_ones_connection_names_are_removed() {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONNECTION, HeaderValue::from_static("close, x-foo"));
        headers.insert("x-foo", HeaderValue::from_static("1"));
        headers.insert(header::TE, HeaderValue::from_static("trailers"));
        headers.insert("x-keep", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut headers);
        let left: Vec<&str> = headers.keys().map(|k| k.as_str()).collect();
        assert_eq!(left, vec!["x-keep"]);
    }
}
