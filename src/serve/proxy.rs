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

use crate::config::replay::OnStoreError;
use crate::config::snapshot::{Route, Snapshot};
use crate::serve::admit::{self, Denied};
use crate::serve::app::App;
use crate::serve::forward::{self, ForwardError, Marks, Peer, RespBody};
use crate::serve::handshake::{self, Answered, Next};
use crate::serve::hangup::Hangup;
use crate::serve::replay::{self, KeyMissing};
use crate::serve::replay_redis::{StoreError, STORE_BOUND};
use crate::serve::sns_confirm;
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
    /// Replay protection: delivered within the window; answered 200, not forwarded.
    #[error("duplicate delivery")]
    Duplicate,
    /// Replay protection: the same delivery is still in flight.
    #[error("duplicate delivery still in flight")]
    InFlight,
    /// Replay protection: the store failed and `on_store_error: reject`.
    #[error(transparent)]
    ReplayStore(#[from] StoreError),
    /// Replay protection: the verified request carries nothing to key on.
    #[error(transparent)]
    ReplayKey(#[from] KeyMissing),
    /// Shutdown's drain limit cut off a request waiting on the upstream with a replay claim.
    #[error("cut off by shutdown")]
    CutOff,
    /// The client closed the connection while its delivery, holding a replay claim, waited
    /// on the upstream: the forward was cancelled and the claim released.
    #[error("client closed the connection")]
    ClientClosed,
    /// Turned away before the body was read (`admit`).
    #[error(transparent)]
    Denied(#[from] Denied),
}

/// nginx's "client closed request": the status logged for a delivery whose client left.
const CLIENT_CLOSED: StatusCode = match StatusCode::from_u16(499) {
    Ok(status) => status,
    Err(_) => StatusCode::BAD_REQUEST,
};

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
        ProxyError::Duplicate => (StatusCode::OK, "duplicate", "duplicate"),
        ProxyError::InFlight => (StatusCode::CONFLICT, "duplicate", "duplicate in flight"),
        ProxyError::ReplayStore(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "replay_unavailable",
            "replay store unavailable",
        ),
        ProxyError::ReplayKey(_) => (StatusCode::BAD_REQUEST, "rejected", "replay key missing"),
        ProxyError::CutOff => (StatusCode::SERVICE_UNAVAILABLE, "cut_off", "shutting down"),
        // nginx's 499: logged and counted, never seen by the client that left.
        ProxyError::ClientClosed => (CLIENT_CLOSED, "client_closed", "client closed"),
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
    if let ProxyError::Duplicate = e {
        let body = Bytes::from_static(b"{\"status\":\"duplicate\"}");
        let mut resp = json(StatusCode::OK, body, false);
        let yes = HeaderValue::from_static("true");
        resp.headers_mut().insert("x-hookguard-duplicate", yes);
        return resp;
    }
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
    /// Set when hookguard answered in the upstream's place (a handshake).
    label: Option<&'static str>,
    delivery_id: String,
    reason: &'static str,
    secret_ids: String,
    upstream: Option<Duration>,
    /// What replay protection did: claimed, duplicate, in_flight, store_error, unrecorded.
    replay: Option<&'static str>,
    /// Where the replay key came from (never the key itself).
    replay_key: Option<&'static str>,
}

/// Serves one request. Never fails: every error is a response.
pub async fn handle(
    app: Arc<App>,
    peer: Peer,
    req: Request<Incoming>,
    hangup: &Hangup,
) -> Result<Response<RespBody>, Infallible> {
    let start = Instant::now();
    let snap = app.shared.load_full();
    let request_id = client_request_id(req.headers()).unwrap_or_else(|| app.next_request_id());
    // The Uri's clone shares its bytes: no copy of the path for the log line.
    let (method, uri) = (req.method().clone(), req.uri().clone());
    let mut outcome = Outcome::default();
    let result = serve(&app, &snap, peer, req, &request_id, &mut outcome, hangup).await;
    let (resp, label, error) = match result {
        Ok(resp) => (resp, outcome.label.unwrap_or("forwarded"), None),
        Err(e) => (error_response(&e), classify(&e).1, Some(e.to_string())),
    };
    let took = start.elapsed();
    if outcome.reason != "probe" {
        app.metrics.request(&outcome.route, label, took);
    }
    tracing::info!(
        request_id = %request_id, %method, path = %uri.path(), route = %outcome.route, outcome = label,
        reason = outcome.reason, delivery_id = %outcome.delivery_id, secret_id = %outcome.secret_ids, status = resp.status().as_u16(),
        upstream_ms = outcome.upstream.map(|d| d.as_secs_f64() * 1e3), total_ms = took.as_secs_f64() * 1e3,
        replay = outcome.replay, replay_key = outcome.replay_key,
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
    hangup: &Hangup,
) -> Result<Response<RespBody>, ProxyError> {
    admit::check_head(&req)?;
    let host = request_host(&req);
    let route = snap
        .route(host.as_deref(), req.uri().path())
        .ok_or(ProxyError::NoRoute)?;
    outcome.route = route.name.to_string();
    outcome.delivery_id = delivery_id(route, req.headers());
    // Held until the answer: `max_in_flight` counts from the head to the answer.
    let _in_flight = admit::admit(route, &snap.trusted_proxies, peer.addr, req.headers())?;
    if route.probe_methods.contains(req.method()) {
        outcome.reason = "probe";
        return Ok(json_ok());
    }
    if let Some(done) = handshake::before_body(app, route, &req) {
        return Ok(answered(app, route, outcome, done));
    }
    if let Err(rejected) = admit::unsigned(route, req.headers()) {
        let now = app.now();
        outcome.reason = rejected.reason.as_str();
        record(app, route, &Err(rejected.clone()), now);
        return Err(Denied::Unsigned(rejected).into());
    }
    let (parts, body) = req.into_parts();
    let chunks = read_body(route, snap, &parts.headers, body).await?;
    // A route whose checks only feed the body to an HMAC keeps it as the chunks it came in;
    // any other gets it whole, copied once when it came in pieces.
    let (body, chunks) = if route.body_in_chunks {
        (Bytes::new(), chunks)
    } else {
        (joined(chunks), Vec::new())
    };
    let now = app.now();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let request = verify::Request {
        method: parts.method.as_str(),
        path,
        headers: &parts.headers,
        body: &body,
        chunks: &chunks,
    };
    let keys = app.keys.resolve(&route.checks, &request).await;
    let verdict = verify::verify_keyed(&route.checks, &request, &keys, now);
    record(app, route, &verdict, now);
    outcome.reason = match &verdict {
        Ok(_) => "valid",
        Err(rejected) => rejected.reason.as_str(),
    };
    if let Some(done) = sns_confirm::answer(app, route, &verdict, &request).await {
        return Ok(answered(app, route, outcome, done));
    }
    let key = replay_key(route, &verdict, &request, outcome)?;
    let permit = match handshake::after_verify(app, route, &request, verdict, now) {
        Next::Forward(permit) => permit,
        Next::Rejected(rejected) => return Err(ProxyError::Rejected(rejected)),
        Next::Answered(done) => return Ok(answered(app, route, outcome, done)),
    };
    outcome.secret_ids = permit.secret_ids().to_owned();
    let guard = match key {
        Some(key) => claim(app, snap, route, &key, outcome).await?,
        None => None,
    };
    let marks = Marks {
        permit: &permit,
        route: &route.name,
        request_id,
        peer,
        host: host.as_deref(),
    };
    let timeout = snap.limits.upstream_timeout;
    let started = Instant::now();
    let body = forward::UpBody::new(std::iter::once(body).chain(chunks));
    let forwarding = forward::forward(&route.upstream, &marks, parts, body, timeout);
    let result = match &guard {
        // Shutdown's drain limit, or the client leaving, ends the wait: the claim is
        // released, so the sender's retry is delivered rather than met as in flight.
        Some(_) => tokio::select! {
            r = forwarding => r.map_err(ProxyError::from),
            () = app.cut_off_signal() => Err(ProxyError::CutOff),
            () = hangup.gone() => Err(ProxyError::ClientClosed),
        },
        None => forwarding.await.map_err(ProxyError::from),
    };
    let took = started.elapsed();
    outcome.upstream = Some(took);
    app.metrics.upstream(&route.name, took);
    if let Some(guard) = guard {
        match &result {
            Ok(resp) if resp.status().is_success() => guard.keep().await,
            _ => guard.release().await,
        }
    }
    result
}

/// The replay key of a verified request on a route with `replay:`; `None` otherwise (a
/// failed verification, also in report-only mode, never touches the store).
fn replay_key(
    route: &Route,
    verdict: &Result<Verified, Rejected>,
    request: &verify::Request<'_>,
    outcome: &mut Outcome,
) -> Result<Option<replay::Key>, ProxyError> {
    let (Some(cfg), Ok(_)) = (&route.replay, verdict) else {
        return Ok(None);
    };
    let key = replay::key(cfg, &route.checks, request)?;
    outcome.replay_key = Some(key.kind.as_str());
    if let Some(id) = &key.id {
        outcome.delivery_id = id.clone();
    }
    Ok(Some(key))
}

/// Claims the key before forwarding: `Some(guard)` to forward and settle, `None` to forward
/// unrecorded (`on_store_error: allow`), or the error that answers instead.
async fn claim(
    app: &App,
    snap: &Snapshot,
    route: &Route,
    key: &replay::Key,
    outcome: &mut Outcome,
) -> Result<Option<replay::Guard>, ProxyError> {
    let Some(cfg) = &route.replay else {
        return Ok(None);
    };
    let (store, health) = app.replay.get(route, cfg, &app.metrics);
    // In flight at most as long as the upstream may take, plus the store calls around it.
    let ttl = snap.limits.upstream_timeout + STORE_BOUND * 2 + Duration::from_secs(1);
    let (seen, result) = match replay::claim(store, route, key, ttl, health).await {
        replay::Claim::Claimed(guard) => ("claimed", Ok(Some(guard))),
        replay::Claim::Duplicate => ("duplicate", Err(ProxyError::Duplicate)),
        replay::Claim::InFlight => ("in_flight", Err(ProxyError::InFlight)),
        replay::Claim::Failed(_) if cfg.on_store_error == OnStoreError::Allow => {
            ("unrecorded", Ok(None))
        }
        replay::Claim::Failed(e) => ("store_error", Err(ProxyError::ReplayStore(e))),
    };
    outcome.replay = Some(seen);
    result
}

/// A handshake's answer or refusal: counted and logged like every answer.
fn answered(app: &App, route: &Route, outcome: &mut Outcome, done: Answered) -> Response<RespBody> {
    if let Some(verdict) = &done.verdict {
        record(app, route, verdict, app.now());
    }
    outcome.label = Some(done.outcome);
    outcome.reason = done.reason;
    done.resp
}

/// Metrics for every check that ran (each option of an `any:` included): valid ones with
/// their secret id.
fn record(app: &App, route: &Route, verdict: &Result<Verified, Rejected>, now: i64) {
    let tried = match verdict {
        Ok(v) => &v.tried,
        Err(r) => &r.tried,
    };
    for t in tried {
        match &t.result {
            Ok(id) => app.metrics.verification(&route.name, "valid", id, now),
            Err(reason) => {
                app.metrics
                    .verification(&route.name, reason.as_str(), "", now);
                if *reason == verify::Reason::NoActiveSecret {
                    tracing::error!(route = %route.name, scheme = t.scheme, "no secret is active for this check: it rejects every request");
                }
            }
        }
    }
}

/// Reads the whole body within the route's size limit and `body_timeout`, as the chunks it
/// arrived in (trailers are dropped, as before).
async fn read_body(
    route: &Route,
    snap: &Snapshot,
    headers: &http::HeaderMap,
    body: Incoming,
) -> Result<Vec<Bytes>, ProxyError> {
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
    let collect = async {
        let mut body = Limited::new(body, limit);
        let mut chunks = Vec::new();
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame?.into_data() {
                chunks.push(data);
            }
        }
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(chunks)
    };
    match tokio::time::timeout(timeout, collect).await {
        Err(_) => Err(ProxyError::BodyTimeout(timeout)),
        Ok(Ok(chunks)) => Ok(chunks),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(ProxyError::TooLarge(max)),
        Ok(Err(e)) => Err(ProxyError::BodyRead(e.to_string())),
    }
}

/// The body in one buffer: the one chunk as it is, several copied together.
fn joined(mut chunks: Vec<Bytes>) -> Bytes {
    if chunks.len() <= 1 {
        return chunks.pop().unwrap_or_default();
    }
    let mut whole = bytes::BytesMut::with_capacity(chunks.iter().map(Bytes::len).sum());
    for chunk in &chunks {
        whole.extend_from_slice(chunk);
    }
    whole.freeze()
}

/// The provider's delivery id (the first header its catalogue row names that the request
/// carries), printable ASCII only, for the request log line.
fn delivery_id(route: &Route, headers: &http::HeaderMap) -> String {
    let value = route
        .checks
        .iter()
        .flat_map(|c| &c.delivery_id)
        .find_map(|name| headers.get(name));
    value
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.len() <= 256 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_default()
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
