//! Provider handshakes on the request path: the two hooks `proxy` calls, one before the body
//! is read (a bodiless GET challenge needs no body) and one after verification, which carry
//! out what `verify::handshake::decide` says: answer (never forwarded, counted in
//! `hookguard_handshakes_total` and as outcome `handshake`), refuse, or forward.

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};
use http_body_util::{BodyExt, Full};

use crate::config::snapshot::Route;
use crate::config::Mode;
use crate::serve::app::App;
use crate::serve::forward::{Permit, RespBody};
use crate::verify::challenge::Trust;
use crate::verify::handshake::{self, Found, Step};
use crate::verify::reply::Reply;
use crate::verify::{self, Rejected, Verified};

/// A response hookguard gives in place of the upstream's.
pub struct Answered {
    /// The response.
    pub resp: Response<RespBody>,
    /// The `outcome` of the request metric and log line: `handshake` or `rejected`.
    pub outcome: &'static str,
    /// The log line's `reason`.
    pub reason: &'static str,
    /// A verification that ran here and is still to be counted (before the body only).
    pub verdict: Option<Result<Verified, Rejected>>,
}

/// What the proxy does after verification.
pub enum Next {
    /// Answer with this; never forward.
    Answered(Answered),
    /// Forward with this permit.
    Forward(Permit),
    /// The ordinary rejection.
    Rejected(Rejected),
}

/// Before the body is read: answers (or refuses) a challenge that arrives without a body,
/// such as Meta's, Dropbox's, X's, Okta's or Worldline's GET. `None`: carry on as usual (the
/// same decision is then made again after verification, with the body read).
pub fn before_body<B: hyper::body::Body>(
    app: &App,
    route: &Route,
    req: &http::Request<B>,
) -> Option<Answered> {
    if !req.body().is_end_stream() {
        return None;
    }
    let request = verify::Request {
        chunks: &[],
        method: req.method().as_str(),
        path: req.uri().path_and_query().map_or("/", |p| p.as_str()),
        headers: req.headers(),
        body: &[],
    };
    let found = handshake::find(&route.checks, &request)?;
    let now = app.now();
    let signed = found.handshake.kind.trust() == Trust::Signed;
    let verdict = signed.then(|| verify::verify(&route.checks, &request, now));
    let report_only = route.mode == Mode::ReportOnly;
    match handshake::decide(&found, verdict.as_ref(), report_only, now) {
        Step::Answer(reply) => Some(answer(app, route, &found, reply, verdict)),
        Step::Refuse(Some(reply)) => {
            let reason = refusal_reason(&found, verdict.as_ref());
            Some(refuse(reply, reason, verdict))
        }
        Step::Refuse(None) | Step::Forward { .. } | Step::Ordinary => None,
    }
}

/// After verification (whose verdict the proxy has already counted): the handshake's answer
/// or refusal, a handshake's permit, or the ordinary permit or rejection.
pub fn after_verify(
    app: &App,
    route: &Route,
    request: &verify::Request<'_>,
    verdict: Result<Verified, Rejected>,
    now: i64,
) -> Next {
    let report_only = route.mode == Mode::ReportOnly;
    let found = handshake::find(&route.checks, request);
    let step = found.as_ref().map_or(Step::Ordinary, |f| {
        handshake::decide(f, Some(&verdict), report_only, now)
    });
    match (step, found) {
        (Step::Answer(reply), Some(found)) => {
            Next::Answered(answer(app, route, &found, reply, None))
        }
        (Step::Refuse(Some(reply)), Some(found)) => {
            let reason = refusal_reason(&found, Some(&verdict));
            Next::Answered(refuse(reply, reason, None))
        }
        (Step::Forward { .. }, Some(found)) => {
            app.metrics.handshake(&route.name, found.check.scheme);
            Next::Forward(Permit::handshake(found.check.scheme, verdict.ok()))
        }
        _ => match Permit::new(route.mode, verdict) {
            Ok(permit) => Next::Forward(permit),
            Err(rejected) => Next::Rejected(rejected),
        },
    }
}

fn answer(
    app: &App,
    route: &Route,
    found: &Found<'_>,
    reply: Reply,
    verdict: Option<Result<Verified, Rejected>>,
) -> Answered {
    app.metrics.handshake(&route.name, found.check.scheme);
    let reason = match found.handshake.kind.trust() {
        Trust::Signed => "valid",
        Trust::Token => "verify_token",
        Trust::Unsigned | Trust::Forwarded => "unsigned",
    };
    Answered {
        resp: response(reply),
        outcome: "handshake",
        reason,
        verdict,
    }
}

/// Why a challenge was refused, for the log: the verification's reason where it is signed,
/// else whether the verify token was absent or wrong.
fn refusal_reason(found: &Found<'_>, verdict: Option<&Result<Verified, Rejected>>) -> &'static str {
    match (found.handshake.kind.trust(), verdict) {
        (Trust::Signed, Some(Err(r))) => r.reason.as_str(),
        (Trust::Token, _) if found.challenge.presented_token.is_none() => "missing",
        _ => "invalid",
    }
}

fn refuse(
    reply: Reply,
    reason: &'static str,
    verdict: Option<Result<Verified, Rejected>>,
) -> Answered {
    Answered {
        resp: response(reply),
        outcome: "rejected",
        reason,
        verdict,
    }
}

/// The reply as a response: its status, content type, `nosniff` and body, nothing else.
fn response(reply: Reply) -> Response<RespBody> {
    let full = Full::new(Bytes::from(reply.body)).map_err(|never| match never {});
    let mut resp = Response::new(full.boxed());
    *resp.status_mut() = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK);
    let headers = resp.headers_mut();
    if let Some(ct) = reply.content_type {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    }
    if reply.nosniff {
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
    }
    resp
}
