//! Deliveries authenticated by a JWT (JWS compact form): Google Pub/Sub push (`Authorization:
//! Bearer`, RS256 under Google's JWK set) and Plaid (`Plaid-Verification`, ES256 under the
//! key Plaid's API hands out). The algorithm is fixed per provider and the header's `alg`
//! must name it (no `none`, no HMAC keyed with a public key). Claims are checked against
//! the `now` passed in, with the check's tolerance both ways.
//!
//! Google (authenticate-push-subscriptions; google-auth `id_token.verify_oauth2_token`): `iss`
//! is `accounts.google.com` or `https://accounts.google.com`; `exp` not passed and `iat` not
//! ahead, with the tolerance (google-auth-library-nodejs allows 5 minutes of skew), and at
//! most a day apart; `aud` one of the check's `audience:` and `email` one of its `email:` with
//! `email_verified` true, each when the check lists any. Plaid (webhook-verification): `iat`
//! within the tolerance (Plaid: 5 minutes) and `request_body_sha256` the hex SHA-256 of the
//! raw body.

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use http::{HeaderMap, HeaderName};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::verify::certs::Algo;
use crate::verify::extract;
use crate::verify::fetched::{self, Delivery, FetchedCheck, KeyKind, KeyWant};
use crate::verify::reason::Reason;
use crate::verify::secret::UnixMillis;

const GOOGLE_ISSUERS: [&str; 2] = ["accounts.google.com", "https://accounts.google.com"];

/// google-auth-library-nodejs refuses a token whose `exp` is more than a day after `iat`.
const MAX_LIFETIME_MS: i64 = 86_400_000;

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
}

/// A token split and decoded, not yet verified.
struct Token<'a> {
    header: Header,
    signing_input: &'a [u8],
    signature: Vec<u8>,
    payload: Vec<u8>,
}

fn split(token: &str) -> Result<Token<'_>, Reason> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Reason::Malformed);
    };
    let decode = |s: &str| URL_SAFE_NO_PAD.decode(s).map_err(|_| Reason::Malformed);
    let header: Header = serde_json::from_slice(&decode(h)?).map_err(|_| Reason::Malformed)?;
    Ok(Token {
        header,
        signing_input: &token.as_bytes()[..h.len() + 1 + p.len()],
        signature: decode(s)?,
        payload: decode(p)?,
    })
}

/// A numeric date claim in Unix milliseconds.
fn millis(seconds: f64) -> Result<UnixMillis, Reason> {
    if !seconds.is_finite() || seconds.abs() > 1e12 {
        return Err(Reason::Malformed);
    }
    Ok((seconds * 1000.0) as i64)
}

fn bearer(headers: &HeaderMap) -> Result<&str, Reason> {
    let value = extract::single(headers, &http::header::AUTHORIZATION)?.ok_or(Reason::Missing)?;
    let value = std::str::from_utf8(value).map_err(|_| Reason::Malformed)?;
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => Ok(token.trim()),
        _ => Err(Reason::Malformed),
    }
}

/// The JWK set a Google push needs: the check's key URL, for the token's `kid`.
pub fn google_want(f: &FetchedCheck, headers: &HeaderMap) -> Option<KeyWant> {
    let token = split(bearer(headers).ok()?).ok()?;
    if token.header.alg != "RS256" {
        return None;
    }
    Some(KeyWant {
        kind: KeyKind::Jwks,
        url: f.key_url.clone()?,
        kid: Some(token.header.kid?),
    })
}

#[derive(Deserialize)]
struct GoogleClaims {
    iss: String,
    aud: Audience,
    exp: f64,
    iat: f64,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    email_verified: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn any_of(&self, allowed: &[String]) -> bool {
        match self {
            Audience::One(a) => allowed.contains(a),
            Audience::Many(list) => list.iter().any(|a| allowed.contains(a)),
        }
    }
}

/// Verifies a Google Pub/Sub push.
pub fn google(f: &FetchedCheck, d: &Delivery<'_>) -> Result<Arc<str>, Reason> {
    let (tolerance_ms, now) = (d.tolerance_ms, d.now);
    let token = split(bearer(d.headers)?)?;
    if token.header.alg != "RS256" {
        return Err(Reason::Invalid);
    }
    let want = google_want(f, d.headers);
    let kid = token.header.kid.as_deref();
    let candidates = fetched::candidates(f, d, want.as_ref(), kid)?;
    let id = fetched::first_match(
        &candidates,
        Algo::RsaSha256,
        token.signing_input,
        &token.signature,
        now,
    )?;
    let claims: GoogleClaims =
        serde_json::from_slice(&token.payload).map_err(|_| Reason::Malformed)?;
    let (exp, iat) = (millis(claims.exp)?, millis(claims.iat)?);
    if now > exp.saturating_add(tolerance_ms)
        || now < iat.saturating_sub(tolerance_ms)
        || exp.saturating_sub(iat) > MAX_LIFETIME_MS
    {
        return Err(Reason::Stale);
    }
    let verified = matches!(&claims.email_verified, Some(serde_json::Value::Bool(true)))
        || matches!(&claims.email_verified, Some(serde_json::Value::String(s)) if s == "true");
    let email_ok = f.email.is_empty()
        || (verified && claims.email.as_ref().is_some_and(|e| f.email.contains(e)));
    let aud_ok = f.audience.is_empty() || claims.aud.any_of(&f.audience);
    if !GOOGLE_ISSUERS.contains(&claims.iss.as_str()) || !aud_ok || !email_ok {
        return Err(Reason::Invalid);
    }
    Ok(id)
}

#[derive(Deserialize)]
struct PlaidClaims {
    iat: f64,
    request_body_sha256: String,
}

/// Verifies a Plaid webhook under the check's pinned keys.
pub fn plaid(f: &FetchedCheck, d: &Delivery<'_>) -> Result<Arc<str>, Reason> {
    let (tolerance_ms, now) = (d.tolerance_ms, d.now);
    let name = HeaderName::from_static("plaid-verification");
    let value = extract::single(d.headers, &name)?.ok_or(Reason::Missing)?;
    let token = split(std::str::from_utf8(value).map_err(|_| Reason::Malformed)?)?;
    if token.header.alg != "ES256" {
        return Err(Reason::Invalid);
    }
    let kid = token.header.kid.as_deref().ok_or(Reason::Malformed)?;
    let candidates = fetched::candidates(f, d, None, Some(kid))?;
    let id = fetched::first_match(
        &candidates,
        Algo::P256Sha256Fixed,
        token.signing_input,
        &token.signature,
        now,
    )?;
    let claims: PlaidClaims =
        serde_json::from_slice(&token.payload).map_err(|_| Reason::Malformed)?;
    if now.abs_diff(millis(claims.iat)?) > tolerance_ms.unsigned_abs() {
        return Err(Reason::Stale);
    }
    let body_hash = hex::encode(Sha256::digest(d.body));
    if !bool::from(
        body_hash
            .as_bytes()
            .ct_eq(claims.request_body_sha256.as_bytes()),
    ) {
        return Err(Reason::Invalid);
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_splits_into_three_parts_and_the_signed_input_is_the_first_two() {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","kid":"k"}"#);
        let token = format!("{header}.eyJ4IjoxfQ.c2ln");
        let t = split(&token).expect("splits");
        assert_eq!(t.header.kid.as_deref(), Some("k"));
        assert_eq!(t.signing_input, format!("{header}.eyJ4IjoxfQ").as_bytes());
        assert_eq!(t.signature, b"sig");
        assert_eq!(t.payload, br#"{"x":1}"#);
        for bad in ["a.b", "a.b.c.d", "!!.e30.c2ln", ""] {
            assert_eq!(split(bad).err(), Some(Reason::Malformed), "{bad}");
        }
    }

    #[test]
    fn numeric_dates_out_of_range_are_malformed() {
        assert_eq!(millis(1.5), Ok(1500));
        assert_eq!(millis(f64::NAN), Err(Reason::Malformed));
        assert_eq!(millis(1e300), Err(Reason::Malformed));
    }
}
