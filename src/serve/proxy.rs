//! The request path: route, bound and read the body, verify, forward. Every failure becomes a
//! response in one place, [`error_response`]: the client gets a short fixed phrase, the log and
//! the metrics get the reason.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{header, HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;

use crate::config::snapshot::{Route, Snapshot};
use crate::serve::admit::{self, Denied};
use crate::serve::app::App;
use crate::serve::forward::{self, ForwardError, Marks, Peer, Permit, RespBody};
use crate::verify::{self, Rejected, Verified};

/// Everything that ends a request before or instead of the upstream's answer.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// No route for this host and path.
    #[error("no route matches")]
    NoRoute,
    /// Verification failed in enforce mode.
    #[error("verification failed: {}", .0.reason.as_str())]
    Rejected(Rejected),
    /// Body above the route's limit.
    #[error("body larger than {0} bytes")]
    TooLarge(u64),
    /// Body slower than `body_timeout`.
    #[error("body not received within {0:?}")]
    BodyTimeout(Duration),
    /// The client broke off the body.
    #[error("body read failed: {0}")]
    BodyRead(String),
    /// Upstream unreachable or timed out.
    #[error(transparent)]
    Upstream(#[from] ForwardError),
    /// Turned away before the body was read (`admit`).
    #[error(transparent)]
    Denied(#[from] Denied),
}

/// The one status map: error → status, metric outcome, client phrase.
pub fn classify(e: &ProxyError) -> (StatusCode, &'static str, &'static str) {
    match e {
        ProxyError::NoRoute => (StatusCode::NOT_FOUND, "no_route", "no route"),
        ProxyError::Rejected(_) => (StatusCode::UNAUTHORIZED, "rejected", "unauthorized"),
        ProxyError::TooLarge(_) => (
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            "payload too large",
        ),
        ProxyError::BodyTimeout(_) => (StatusCode::REQUEST_TIMEOUT, "timeout", "request timeout"),
        ProxyError::BodyRead(_) => (StatusCode::BAD_REQUEST, "bad_request", "bad request"),
        ProxyError::Denied(d) => match d {
            Denied::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request", "bad request"),
            Denied::Forbidden(_) | Denied::BadForwardedFor => {
                (StatusCode::FORBIDDEN, "forbidden", "forbidden")
            }
            Denied::Overloaded => (StatusCode::SERVICE_UNAVAILABLE, "overloaded", "overloaded"),
            Denied::Unsigned(_) => (StatusCode::UNAUTHORIZED, "rejected", "unauthorized"),
        },
        ProxyError::Upstream(ForwardError::Connect(_)) => {
            (StatusCode::BAD_GATEWAY, "upstream_error", "bad gateway")
        }
        ProxyError::Upstream(ForwardError::Timeout(_)) => (
            StatusCode::GATEWAY_TIMEOUT,
            "upstream_timeout",
            "gateway timeout",
        ),
    }
}

/// The JSON body of every error response, `{"error":"<phrase>"}`: the hand-written raw
/// responses in `rewind` use it too.
pub fn error_body(phrase: &str) -> String {
    format!("{{\"error\":\"{phrase}\"}}")
}

/// A JSON response; `close` asks the client to open a new connection.
fn json(status: StatusCode, body: impl Into<Bytes>, close: bool) -> Response<RespBody> {
    let full = Full::new(body.into()).map_err(|never| match never {});
    let mut resp = Response::new(full.boxed());
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if close {
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}

/// A short JSON error body; `close` asks the client to open a new connection.
pub fn json_error(status: StatusCode, phrase: &str, close: bool) -> Response<RespBody> {
    json(status, error_body(phrase), close)
}

/// The response for a failure: the client learns the phrase only.
pub fn error_response(e: &ProxyError) -> Response<RespBody> {
    let (status, _, phrase) = classify(e);
    // Also when the body was never read: the connection cannot carry another request.
    let close = matches!(
        e,
        ProxyError::TooLarge(_)
            | ProxyError::BodyTimeout(_)
            | ProxyError::BodyRead(_)
            | ProxyError::Denied(_)
    );
    let mut resp = json_error(status, phrase, close);
    if matches!(e, ProxyError::Denied(Denied::Overloaded)) {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    resp
}

/// What the request log line and metrics need to know about one request.
#[derive(Default)]
struct Outcome {
    route: String,
    reason: &'static str,
    secret_ids: String,
    upstream: Option<Duration>,
}

/// Serves one request. Never fails: every error is a response.
pub async fn handle(
    app: Arc<App>,
    peer: Peer,
    req: Request<Incoming>,
) -> Result<Response<RespBody>, Infallible> {
    let start = Instant::now();
    let snap = app.shared.load_full();
    let request_id = client_request_id(req.headers()).unwrap_or_else(|| app.next_request_id());
    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
    let mut outcome = Outcome::default();
    let result = serve(&app, &snap, peer, req, &request_id, &mut outcome).await;
    let (resp, label, error) = match result {
        Ok(resp) => (resp, "forwarded", None),
        Err(e) => (error_response(&e), classify(&e).1, Some(e.to_string())),
    };
    let took = start.elapsed();
    if outcome.reason != "probe" {
        app.metrics.request(&outcome.route, label, took);
    }
    tracing::info!(
        request_id = %request_id, %method, %path, route = %outcome.route, outcome = label,
        reason = outcome.reason, secret_id = %outcome.secret_ids, status = resp.status().as_u16(),
        upstream_ms = outcome.upstream.map(|d| d.as_secs_f64() * 1e3), total_ms = took.as_secs_f64() * 1e3,
        error, "request"
    );
    Ok(resp)
}

async fn serve(
    app: &App,
    snap: &Snapshot,
    peer: Peer,
    req: Request<Incoming>,
    request_id: &str,
    outcome: &mut Outcome,
) -> Result<Response<RespBody>, ProxyError> {
    admit::check_head(&req)?;
    let host = request_host(&req);
    let route = snap
        .route(host.as_deref(), req.uri().path())
        .ok_or(ProxyError::NoRoute)?;
    outcome.route = route.name.to_string();
    // Held until the answer: `max_in_flight` counts from the head to the answer.
    let _in_flight = admit::admit(route, &snap.trusted_proxies, peer.addr, req.headers())?;
    if route.probe_methods.contains(req.method()) {
        outcome.reason = "probe";
        return Ok(json_ok());
    }
    if let Err(rejected) = admit::unsigned(route, req.headers()) {
        let now = app.now();
        outcome.reason = rejected.reason.as_str();
        record(app, route, &Err(rejected.clone()), now);
        return Err(Denied::Unsigned(rejected).into());
    }
    let (parts, body) = req.into_parts();
    let body = read_body(route, snap, &parts.headers, body).await?;
    let now = app.now();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let request = verify::Request {
        method: parts.method.as_str(),
        path,
        headers: &parts.headers,
        body: &body,
    };
    let verdict = verify::verify(&route.checks, &request, route.tolerance_ms, now);
    record(app, route, &verdict, now);
    outcome.reason = match &verdict {
        Ok(_) => "valid",
        Err(rejected) => rejected.reason.as_str(),
    };
    let permit = Permit::new(route.mode, verdict).map_err(ProxyError::Rejected)?;
    outcome.secret_ids = permit.secret_ids().to_owned();
    let marks = Marks {
        permit: &permit,
        route: &route.name,
        request_id,
        peer,
        host: host.as_deref(),
    };
    let timeout = snap.limits.upstream_timeout;
    let started = Instant::now();
    let result = forward::forward(&route.upstream, &marks, parts, body, timeout).await;
    let took = started.elapsed();
    outcome.upstream = Some(took);
    app.metrics.upstream(&route.name, took);
    Ok(result?)
}

/// Metrics for every check that ran: valid ones with their secret id.
fn record(app: &App, route: &Route, verdict: &Result<Verified, Rejected>, now: i64) {
    let (passed, failed) = match verdict {
        Ok(v) => (&v.secret_ids, None),
        Err(r) => (&r.passed, Some(r.reason)),
    };
    for id in passed {
        app.metrics.verification(&route.name, "valid", id, now);
    }
    if let Some(reason) = failed {
        app.metrics
            .verification(&route.name, reason.as_str(), "", now);
        if reason == verify::Reason::NoActiveSecret {
            tracing::error!(route = %route.name, "no secret is active for this route: every request is rejected");
        }
    }
}

/// Reads the whole body within the route's size limit and `body_timeout`.
async fn read_body(
    route: &Route,
    snap: &Snapshot,
    headers: &http::HeaderMap,
    body: Incoming,
) -> Result<Bytes, ProxyError> {
    let max = route.max_body_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > max) {
        return Err(ProxyError::TooLarge(max));
    }
    let limit = usize::try_from(max).unwrap_or(usize::MAX);
    let timeout = snap.limits.body_timeout;
    match tokio::time::timeout(timeout, Limited::new(body, limit).collect()).await {
        Err(_) => Err(ProxyError::BodyTimeout(timeout)),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(ProxyError::TooLarge(max)),
        Ok(Err(e)) => Err(ProxyError::BodyRead(e.to_string())),
    }
}

/// The sender's own `x-request-id`, adopted when it is short printable ASCII, so the log line
/// and the receiver's logs share one id.
fn client_request_id(headers: &http::HeaderMap) -> Option<String> {
    let mut values = headers.get_all("x-request-id").iter();
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    let id = value.to_str().ok()?.trim();
    let printable = id.bytes().all(|b| b.is_ascii_graphic());
    (!id.is_empty() && id.len() <= 128 && printable).then(|| id.to_owned())
}

/// The host the client addressed: the target's authority (HTTP/2 `:authority`, or an
/// HTTP/1.1 absolute-form target, which RFC 9112 says wins), else the `Host` header.
fn request_host<B>(req: &Request<B>) -> Option<String> {
    req.uri().authority().map(|a| a.to_string()).or_else(|| {
        req.headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_owned)
    })
}

fn json_ok() -> Response<RespBody> {
    json(
        StatusCode::OK,
        Bytes::from_static(b"{\"status\":\"ok\"}"),
        false,
    )
}
