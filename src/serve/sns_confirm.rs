//! AWS SNS subscription confirmation, answered by hookguard (contract 9.2, handshakes). SNS
//! delivers nothing to an endpoint until someone visits the `SubscribeURL` of its signed
//! `SubscriptionConfirmation`; a receiver behind hookguard would otherwise have to parse SNS
//! messages itself. So once the confirmation has verified (signature, certificate host and,
//! when configured, `topic_arn`), hookguard `GET`s the `SubscribeURL` itself, only when it is
//! `https` on the same hosts certificates may come from, bounded in time and size, and
//! answers SNS 200 `{"status":"confirmed"}` without forwarding; 502 when the visit fails (SNS
//! then retries the confirmation). `handshake: forward` on the check forwards the verified
//! confirmation instead. `UnsubscribeConfirmation` is verified and forwarded, never acted on.

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};
use http_body_util::{BodyExt, Full};

use crate::config::snapshot::Route;
use crate::serve::app::App;
use crate::serve::forward::RespBody;
use crate::serve::handshake::Answered;
use crate::verify::{sns, Rejected, Request, Verified};

/// The answer to a verified SNS `SubscriptionConfirmation` on `route`, after visiting its
/// `SubscribeURL` (counted in `hookguard_handshakes_total`, outcome `handshake`); `None` for
/// anything else, which goes on as usual.
pub async fn answer(
    app: &App,
    route: &Route,
    verdict: &Result<Verified, Rejected>,
    req: &Request<'_>,
) -> Option<Answered> {
    verdict.as_ref().ok()?;
    let url = route
        .checks
        .iter()
        .find_map(|c| c.fetched().and_then(|f| sns::subscribe_url(f, req.body)))?;
    let host = url
        .parse::<http::Uri>()
        .ok()
        .and_then(|u| u.host().map(str::to_owned))
        .unwrap_or_default();
    app.metrics.handshake(&route.name, "sns");
    // The URL carries the subscription's token: log its host only.
    let resp = match app.keys.get_url(&url).await {
        Ok(_) => {
            tracing::info!(route = %route.name, %host, "SNS subscription confirmed");
            json(StatusCode::OK, "{\"status\":\"confirmed\"}")
        }
        Err(e) => {
            tracing::warn!(route = %route.name, %host, error = %e, "SNS subscription not confirmed");
            json(StatusCode::BAD_GATEWAY, "{\"error\":\"bad gateway\"}")
        }
    };
    Some(Answered {
        resp,
        outcome: "handshake",
        reason: "valid",
        verdict: None,
    })
}

fn json(status: StatusCode, body: &'static str) -> Response<RespBody> {
    let full = Full::new(Bytes::from_static(body.as_bytes())).map_err(|never| match never {});
    let mut resp = Response::new(full.boxed());
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}
