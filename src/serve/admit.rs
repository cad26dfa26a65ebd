//! What a request must pass before its body is read, in this order: a head that names one
//! host (the HTTP/2 checks `framing` cannot make), the route's `allow_ips` (the client taken
//! from `X-Forwarded-For` only when the peer is a trusted proxy), its `max_in_flight`, and a
//! signature that could verify at all (`verify::precheck`).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use http::{header, HeaderMap, Request};
use ipnet::IpNet;
use tokio::sync::OwnedSemaphorePermit;

use crate::config::snapshot::Route;
use crate::config::Mode;
use crate::verify::Rejected;

/// Why a request was turned away before its body was read.
#[derive(Debug, thiserror::Error)]
pub enum Denied {
    /// A head two readers could route differently (HTTP/2: several `Host`s, or a `Host`
    /// naming another host than `:authority`).
    #[error("malformed request: {0}")]
    BadRequest(&'static str),
    /// The client is not in the route's `allow_ips`.
    #[error("client {0} not in allow_ips")]
    Forbidden(String),
    /// `X-Forwarded-For` from a trusted proxy holds something that is not an address.
    #[error("X-Forwarded-For from a trusted proxy holds a non-address entry")]
    BadForwardedFor,
    /// The route has `max_in_flight` requests in flight.
    #[error("max_in_flight reached")]
    Overloaded,
    /// Every check's signature, key or timestamp header is missing or malformed.
    #[error("verification failed before the body: {}", .0.reason.as_str())]
    Unsigned(Rejected),
}

/// The head checks of any HTTP version: at most one `Host`, agreeing with the target's
/// authority (`:authority` in HTTP/2, an absolute-form target in HTTP/1.1, where `framing`
/// has refused a mismatch already).
pub fn check_head<B>(req: &Request<B>) -> Result<(), Denied> {
    let mut hosts = req.headers().get_all(header::HOST).iter();
    let host = hosts.next();
    if hosts.next().is_some() {
        return Err(Denied::BadRequest("repeated Host"));
    }
    if req.headers().get_all(header::CONTENT_LENGTH).iter().count() > 1 {
        return Err(Denied::BadRequest("several Content-Length values"));
    }
    if let (Some(authority), Some(host)) = (req.uri().authority(), host) {
        let same = host
            .to_str()
            .ok()
            .and_then(|h| h.trim().parse::<http::uri::Authority>().ok())
            .is_some_and(|h| h.host().eq_ignore_ascii_case(authority.host()));
        if !same {
            return Err(Denied::BadRequest(
                "Host naming another host than the target",
            ));
        }
    }
    Ok(())
}

/// Admits a request to `route`: `allow_ips`, then `max_in_flight` (the permit is to be held
/// until the answer).
pub fn admit(
    route: &Route,
    trusted: &[IpNet],
    peer: SocketAddr,
    headers: &HeaderMap,
) -> Result<Option<OwnedSemaphorePermit>, Denied> {
    if let Some(allowed) = &route.allow_ips {
        let client = client_ip(peer.ip(), headers, trusted)?;
        if !allowed.iter().any(|net| net.contains(&client)) {
            return Err(Denied::Forbidden(client.to_string()));
        }
    }
    let permit = match &route.in_flight {
        Some((_, slots)) => Some(
            Arc::clone(slots)
                .try_acquire_owned()
                .map_err(|_| Denied::Overloaded)?,
        ),
        None => None,
    };
    Ok(permit)
}

/// The header-only verdict of an enforcing route (a report-only route forwards whatever the
/// verdict, so it reads the body): `Err` when no body could make the request pass.
pub fn unsigned(route: &Route, headers: &HeaderMap) -> Result<(), Rejected> {
    if route.mode != Mode::Enforce {
        return Ok(());
    }
    crate::verify::precheck::precheck(&route.checks, headers)
}

/// The client address: the peer, or, when the peer is a trusted proxy, the right-most
/// `X-Forwarded-For` entry that is not itself a trusted proxy (every line, in order; the
/// left-most when all are trusted). Entries left of the one chosen were written by the
/// client and are never read; a non-address entry on the way is refused.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> Result<IpAddr, Denied> {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return Ok(peer);
    }
    let lines: Vec<&[u8]> = headers
        .get_all("x-forwarded-for")
        .iter()
        .map(|v| v.as_bytes())
        .collect();
    let mut client = peer;
    for entry in lines.iter().rev().flat_map(|l| l.rsplit(|&b| b == b',')) {
        let ip = forwarded_addr(entry).ok_or(Denied::BadForwardedFor)?;
        client = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    Ok(client)
}

/// One `X-Forwarded-For` entry: an address, or an address with a port (`1.2.3.4:5`,
/// `[v6]:5`), as some proxies write it.
fn forwarded_addr(entry: &[u8]) -> Option<IpAddr> {
    let text = std::str::from_utf8(entry).ok()?.trim();
    text.parse::<IpAddr>()
        .ok()
        .or_else(|| text.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xff(lines: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for l in lines {
            h.append("x-forwarded-for", l.parse().expect("value"));
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn the_client_is_the_right_most_untrusted_forwarded_entry() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().expect("net")];
        let headers = xff(&["6.6.6.6, 1.2.3.4", "10.1.1.1"]);
        assert_eq!(
            client_ip(ip("10.0.0.2"), &headers, &trusted).ok(),
            Some(ip("1.2.3.4"))
        );
        // From an untrusted peer the header is never read.
        assert_eq!(
            client_ip(ip("8.8.8.8"), &headers, &trusted).ok(),
            Some(ip("8.8.8.8"))
        );
        // Trusted all the way: the left-most; none at all: the proxy itself.
        let all = xff(&["10.9.9.9, 10.1.1.1"]);
        assert_eq!(
            client_ip(ip("10.0.0.2"), &all, &trusted).ok(),
            Some(ip("10.9.9.9"))
        );
        assert_eq!(
            client_ip(ip("10.0.0.2"), &HeaderMap::new(), &trusted).ok(),
            Some(ip("10.0.0.2"))
        );
        let ported = xff(&["[2001:db8::1]:443, 1.2.3.4:80"]);
        assert_eq!(
            client_ip(ip("10.0.0.2"), &ported, &trusted).ok(),
            Some(ip("1.2.3.4"))
        );
    }

    #[test]
    fn a_non_address_on_the_way_is_refused_but_one_beyond_the_client_is_never_read() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().expect("net")];
        for bad in ["1.2.3.4, unknown", "1.2.3.4,", "garbage"] {
            let refused = client_ip(ip("10.0.0.2"), &xff(&[bad]), &trusted);
            assert!(matches!(refused, Err(Denied::BadForwardedFor)), "{bad}");
        }
        let beyond = xff(&["not-an-ip, 1.2.3.4"]);
        assert_eq!(
            client_ip(ip("10.0.0.2"), &beyond, &trusted).ok(),
            Some(ip("1.2.3.4"))
        );
    }
}
