//! Handshakes, the decision: which of a route's checks names a handshake that this request
//! is, whether it is genuine (the route's own verification where the provider signs it, the
//! verify token where it carries one), and what to do: answer it, refuse it, forward it, or
//! treat it as an ordinary delivery. Pure: the verdict and `now` come from the caller.
//!
//! The rules (contract 9.2): a genuine challenge is answered by hookguard, in either mode,
//! unless the check says `handshake: forward`, in which case it is forwarded marked as a
//! handshake. One that fails is refused in enforce mode (with the provider's own refusal where
//! it documents one) and forwarded as an ordinary, unverified delivery in report-only mode.
//! Challenges only the receiver can complete (Notion, Salesforce) are always forwarded.

use std::sync::Arc;

use crate::verify::challenge::{self, Challenge, Handshake, Incoming, Kind, Trust};
use crate::verify::check::{Check, CheckKind, Rejected, Request, Verified};
use crate::verify::reply::{self, Reply};
use crate::verify::secret::{Key, UnixMillis};

/// A check whose handshake this request is.
#[derive(Clone, Debug)]
pub struct Found<'a> {
    /// The check (a top-level check or an option of an `any:`).
    pub check: &'a Check,
    /// Its handshake configuration.
    pub handshake: &'a Handshake,
    /// What the request carries.
    pub challenge: Challenge,
}

/// What to do with a request, as far as handshakes go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Not a handshake hookguard acts on: verify and forward it as any delivery.
    Ordinary,
    /// Answer it with this, never forward it.
    Answer(Reply),
    /// Refuse it: with the provider's documented refusal, or (`None`) the ordinary 401.
    Refuse(Option<Reply>),
    /// Forward it marked as a handshake; `verified` when the route's checks passed.
    Forward {
        /// Whether the route's checks passed.
        verified: bool,
    },
}

/// The first check (in config order, `any:` options included) whose handshake `req` is.
pub fn find<'a>(checks: &'a [Check], req: &Request<'_>) -> Option<Found<'a>> {
    let incoming = Incoming {
        method: req.method,
        path: req.path,
        headers: req.headers,
        body: req.body,
    };
    checks.iter().find_map(|check| found_in(check, &incoming))
}

fn found_in<'a>(check: &'a Check, req: &Incoming<'_>) -> Option<Found<'a>> {
    if let CheckKind::Any(options) = &check.kind {
        return options.iter().find_map(|o| found_in(o, req));
    }
    let handshake = check.handshake.as_ref()?;
    let challenge = challenge::recognise(handshake.kind, req)?;
    Some(Found {
        check,
        handshake,
        challenge,
    })
}

/// Decides what to do with a recognised challenge. `verdict` is the route's verification of
/// this request; it may be `None` for kinds that are not signed (nothing was verified).
pub fn decide(
    found: &Found<'_>,
    verdict: Option<&Result<Verified, Rejected>>,
    report_only: bool,
    now: UnixMillis,
) -> Step {
    let hs = found.handshake;
    let verified = verdict.is_some_and(Result::is_ok);
    let genuine = match hs.kind.trust() {
        Trust::Forwarded => return Step::Forward { verified },
        Trust::Signed => verified,
        Trust::Unsigned => true,
        // With `handshake: forward` and no token configured, the upstream checks it; with
        // neither, hookguard cannot tell, and the request goes the ordinary way.
        Trust::Token => match &hs.verify_token {
            Some(token) => challenge::token_matches(&found.challenge, Some(token)),
            None if hs.forward => true,
            None => return Step::Ordinary,
        },
    };
    if !genuine {
        return match (report_only, reply::refusal(hs.kind)) {
            (true, _) => Step::Ordinary,
            (false, Some(refusal)) => Step::Refuse(Some(refusal)),
            (false, None) if verdict.is_some_and(Result::is_err) => Step::Refuse(None),
            (false, None) => Step::Ordinary,
        };
    }
    if hs.forward {
        return Step::Forward { verified };
    }
    let key = signing_key(found, verdict, now);
    match reply::reply(&found.challenge, hs, key) {
        Some(answer) => Step::Answer(answer),
        None => Step::Ordinary,
    }
}

/// The secret an answer is signed with: for Zoom the one that verified the challenge, for X
/// the first secret of the check active now (X has one consumer secret at a time).
fn signing_key<'a>(
    found: &Found<'a>,
    verdict: Option<&Result<Verified, Rejected>>,
    now: UnixMillis,
) -> Option<&'a Key> {
    let check = found.check;
    let by_id = |id: &Arc<str>| {
        check
            .secrets
            .iter()
            .find(|s| s.secret.id == *id)
            .map(|s| &s.secret.key)
    };
    match found.handshake.kind {
        Kind::Zoom => {
            let tried = &verdict?.as_ref().ok()?.tried;
            let matched = tried
                .iter()
                .filter(|t| t.scheme == check.scheme)
                .find_map(|t| t.result.as_ref().ok())?;
            by_id(matched)
        }
        Kind::TwitterCrc => check
            .secrets
            .iter()
            .find(|s| s.secret.window.contains(now))
            .map(|s| &s.secret.key),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::catalogue;
    use crate::verify::check::{verify, CompiledSecret};
    use crate::verify::mac::PreparedMac;
    use crate::verify::secret::{Secret, Window};
    use crate::verify::sign::{sign, Delivery};
    use http::{HeaderMap, HeaderName, HeaderValue};

    const NOW: UnixMillis = 1_767_225_600_000;
    const ZOOM_BODY: &[u8] = br#"{"payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},"event_ts":1767225597000,"event":"endpoint.url_validation"}"#;

    /// A check of catalogue row `id` with secrets `k0`, `k1`, ... and its handshake.
    fn check(id: &str, secrets: &[(&str, Window)], forward: bool, token: Option<&str>) -> Check {
        let row = catalogue::find(id).expect("row");
        let spec = row.spec().expect("spec");
        let secrets = secrets
            .iter()
            .enumerate()
            .map(|(i, (s, window))| {
                let key = Key::new(s.as_bytes().to_vec());
                CompiledSecret {
                    mac: Some(PreparedMac::new(spec.algorithm, s.as_bytes())),
                    digest: key.digest(),
                    public: None,
                    secret: Secret::new(&format!("k{i}"), key, *window),
                }
            })
            .collect();
        let kind = challenge::Kind::parse(row.handshake.as_deref().expect("handshake"));
        Check {
            scheme: row.id.as_str(),
            kind: CheckKind::Hmac(spec),
            secrets,
            tolerance_ms: 300_000,
            delivery_id: Vec::new(),
            handshake: Some(Handshake {
                kind: kind.expect("known kind"),
                forward,
                verify_token: token.map(|t| Key::new(t.as_bytes().to_vec())),
            }),
        }
    }

    fn open(secret: &str) -> (&str, Window) {
        (secret, Window::default())
    }

    /// Headers signing `body` with secret `which` of `check`.
    fn signed(check: &Check, which: usize, body: &[u8]) -> HeaderMap {
        let CheckKind::Hmac(spec) = &check.kind else {
            panic!("hmac check")
        };
        let empty = HeaderMap::new();
        let delivery = Delivery {
            method: "POST",
            path: "/hook",
            headers: &empty,
            body,
            timestamp: "1767225597",
            id: "msg_1",
        };
        let mac = check.secrets[which].mac.as_ref().expect("mac");
        let mut headers = HeaderMap::new();
        for (name, value) in sign(spec, mac, &delivery) {
            let name = HeaderName::from_bytes(name.as_bytes()).expect("name");
            headers.insert(name, HeaderValue::from_str(&value).expect("value"));
        }
        headers
    }

    fn run(
        checks: &[Check],
        method: &str,
        path: &str,
        headers: &HeaderMap,
        body: &[u8],
        report_only: bool,
    ) -> Step {
        let req = Request {
            chunks: &[],
            method,
            path,
            headers,
            body,
        };
        let Some(found) = find(checks, &req) else {
            return Step::Ordinary;
        };
        let verdict = verify(checks, &req, NOW);
        decide(&found, Some(&verdict), report_only, NOW)
    }

    fn body_of(step: &Step) -> String {
        match step {
            Step::Answer(reply) => String::from_utf8_lossy(&reply.body).into_owned(),
            other => panic!("not an answer: {other:?}"),
        }
    }

    #[test]
    fn a_signed_zoom_validation_is_answered_under_the_secret_that_verified_it() {
        let zoom = [check(
            "zoom",
            &[open("new-secret"), open("zoom_secret_token_Wq3Lx9Pk")],
            false,
            None,
        )];
        let headers = signed(&zoom[0], 1, ZOOM_BODY);
        let step = run(&zoom, "POST", "/hook", &headers, ZOOM_BODY, false);
        assert_eq!(
            body_of(&step),
            r#"{"plainToken":"qgg8vlvZRS6UYooatFL8Aw","encryptedToken":"3c7e2504ab09a6fff65ad77f5a25428a8f01375159a32e9a244e2468e3383ea3"}"#
        );
    }

    #[test]
    fn a_challenge_that_fails_verification_is_refused_in_enforce_and_ordinary_in_report_only() {
        let zoom = [check(
            "zoom",
            &[open("zoom_secret_token_Wq3Lx9Pk")],
            false,
            None,
        )];
        let headers = signed(&zoom[0], 0, ZOOM_BODY);
        let tampered = String::from_utf8_lossy(ZOOM_BODY)
            .replace("qgg8", "qgg9")
            .into_bytes();
        assert_eq!(
            run(&zoom, "POST", "/hook", &headers, &tampered, false),
            Step::Refuse(None)
        );
        assert_eq!(
            run(&zoom, "POST", "/hook", &headers, &tampered, true),
            Step::Ordinary
        );
        let genuine = run(&zoom, "POST", "/hook", &headers, ZOOM_BODY, true);
        assert!(matches!(genuine, Step::Answer(_)), "{genuine:?}");
    }

    #[test]
    fn handshake_forward_forwards_a_genuine_challenge_and_still_refuses_a_forged_one() {
        let zoom = [check(
            "zoom",
            &[open("zoom_secret_token_Wq3Lx9Pk")],
            true,
            None,
        )];
        let headers = signed(&zoom[0], 0, ZOOM_BODY);
        assert_eq!(
            run(&zoom, "POST", "/hook", &headers, ZOOM_BODY, false),
            Step::Forward { verified: true }
        );
        let forged = HeaderMap::new();
        assert_eq!(
            run(&zoom, "POST", "/hook", &forged, ZOOM_BODY, false),
            Step::Refuse(None)
        );
        let dropbox = [check("dropbox", &[open("app-secret")], true, None)];
        let step = run(
            &dropbox,
            "GET",
            "/hook?challenge=abc",
            &HeaderMap::new(),
            b"",
            false,
        );
        assert_eq!(step, Step::Forward { verified: false });
    }

    #[test]
    fn a_meta_challenge_is_answered_only_with_the_configured_verify_token() {
        let meta = [check(
            "whatsapp",
            &[open("app-secret")],
            false,
            Some("meatyhamhock"),
        )];
        let none = HeaderMap::new();
        let good =
            "/hook?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=meatyhamhock";
        assert_eq!(
            body_of(&run(&meta, "GET", good, &none, b"", false)),
            "1158201444"
        );
        let bad = "/hook?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=wrong";
        let refused = run(&meta, "GET", bad, &none, b"", false);
        assert!(
            matches!(&refused, Step::Refuse(Some(r)) if r.status == 403),
            "{refused:?}"
        );
        assert_eq!(run(&meta, "GET", bad, &none, b"", true), Step::Ordinary);
        let no_token = [check("whatsapp", &[open("app-secret")], false, None)];
        assert_eq!(
            run(&no_token, "GET", good, &none, b"", false),
            Step::Ordinary
        );
        let upstream_checks = [check("whatsapp", &[open("app-secret")], true, None)];
        assert_eq!(
            run(&upstream_checks, "GET", bad, &none, b"", false),
            Step::Forward { verified: false }
        );
    }

    #[test]
    fn x_crc_is_signed_with_the_first_secret_active_now_and_left_alone_without_one() {
        let expired = Window {
            not_before: None,
            expires: Some(NOW - 1),
        };
        let crc = "/hook?crc_token=9b4507b3-9040-4669-9ca3-6b94edb50553";
        let secret = "z3ZX4v7mAAUGykl3EcmkqbartmuW8VFOOzCloLx9Q45P0hLrFu";
        let x = [check(
            "twitter",
            &[("old-expired-secret", expired), open(secret)],
            false,
            None,
        )];
        let step = run(&x, "GET", crc, &HeaderMap::new(), b"", false);
        assert_eq!(
            body_of(&step),
            r#"{"response_token":"sha256=Cytd4Sq+NvEcV3MMrXxWJGJx5A+y/lXzzU2Maartkx8="}"#
        );
        let none_active = [check(
            "twitter",
            &[("old-expired-secret", expired)],
            false,
            None,
        )];
        assert_eq!(
            run(&none_active, "GET", crc, &HeaderMap::new(), b"", false),
            Step::Ordinary
        );
    }

    #[test]
    fn a_notion_token_post_is_always_forwarded_and_verified_only_when_signed() {
        let notion = [check("notion", &[open("secret_configured")], false, None)];
        let body = br#"{"verification_token":"secret_configured"}"#;
        let none = HeaderMap::new();
        assert_eq!(
            run(&notion, "POST", "/hook", &none, body, false),
            Step::Forward { verified: false }
        );
        let headers = signed(&notion[0], 0, body);
        assert_eq!(
            run(&notion, "POST", "/hook", &headers, body, false),
            Step::Forward { verified: true }
        );
    }

    #[test]
    fn a_handshake_is_found_inside_any_and_ordinary_deliveries_are_not_handshakes() {
        let basic = Check {
            scheme: "basic",
            kind: CheckKind::Basic,
            secrets: Vec::new(),
            tolerance_ms: 0,
            delivery_id: Vec::new(),
            handshake: None,
        };
        let any = Check {
            scheme: "any",
            kind: CheckKind::Any(vec![basic, check("dropbox", &[open("s")], false, None)]),
            secrets: Vec::new(),
            tolerance_ms: 0,
            delivery_id: Vec::new(),
            handshake: None,
        };
        let none = HeaderMap::new();
        let req = |path| Request {
            chunks: &[],
            method: "GET",
            path,
            headers: &none,
            body: b"",
        };
        let found = find(std::slice::from_ref(&any), &req("/hook?challenge=c")).expect("found");
        assert_eq!(found.check.scheme, "dropbox");
        assert!(find(std::slice::from_ref(&any), &req("/hook?other=c")).is_none());
    }

    #[test]
    fn a_discord_ping_is_answered_only_after_the_routes_verification_passes() {
        // Discord's row (Ed25519) comes from another change; any signed check stands in here,
        // since the decision only asks whether the route's verification passed.
        let mut ping = check("zoom", &[open("stand-in")], false, None);
        if let Some(hs) = ping.handshake.as_mut() {
            hs.kind = Kind::Discord;
        }
        let checks = [ping];
        let body = br#"{"application_id":"1","id":"2","token":"t","type":1,"version":1}"#;
        let headers = signed(&checks[0], 0, body);
        assert_eq!(
            body_of(&run(&checks, "POST", "/hook", &headers, body, false)),
            r#"{"type":1}"#
        );
        let forged = HeaderMap::new();
        assert_eq!(
            run(&checks, "POST", "/hook", &forged, body, false),
            Step::Refuse(None)
        );
        let command = br#"{"type":2,"data":{"name":"ping"}}"#;
        let headers = signed(&checks[0], 0, command);
        assert_eq!(
            run(&checks, "POST", "/hook", &headers, command, false),
            Step::Ordinary
        );
    }
}
