//! `hookguard sign` and `gen-secret` for the schemes implemented in code: URL-signed ones
//! (Twilio, Plivo, HubSpot, Mandrill, Favro) print their headers; body-embedded ones (Mailgun,
//! Adyen, Braintree, Treezor) also hand back the body with its signature filled in, which
//! `sign` prints after a blank line, as an HTTP message is written.

use base64::Engine;

use crate::verify::keyed::Signed;
use crate::verify::secret::UnixMillis;
use crate::verify::{embedded, urlsign, Check, CheckKind, CompiledSecret};

/// What signing one such check needs.
#[derive(Clone, Copy, Debug)]
pub struct Input<'a> {
    /// `--secret`, or the first secret active at `now`.
    pub secret: Option<&'a str>,
    /// The clock for choosing the secret.
    pub now: UnixMillis,
    /// The request method.
    pub method: &'a str,
    /// Path and query the sender calls (after the check's `public_url`).
    pub path: &'a str,
    /// The body as it stands (a previous check may have filled in its fields).
    pub body: &'a [u8],
    /// Unix seconds (milliseconds for HubSpot when 13+ digits).
    pub timestamp: &'a str,
    /// Nonce or token (Plivo's nonce, Mailgun's token).
    pub id: &'a str,
}

/// Whether `check` is signed here rather than by the generic engine.
pub fn applies(check: &Check) -> bool {
    matches!(check.kind, CheckKind::UrlSigned(_) | CheckKind::Embedded(_))
}

/// What the sender attaches for `check`.
pub fn sign(check: &Check, input: &Input<'_>) -> Result<Signed, String> {
    let secret = chosen(check, input)?;
    let key = secret.secret.key.expose();
    match &check.kind {
        CheckKind::UrlSigned(spec) => {
            let url = format!("{}{}", spec.public_url, input.path);
            let signing = urlsign::SignInput {
                method: input.method,
                url: &url,
                body: input.body,
                timestamp: input.timestamp,
                id: input.id,
            };
            urlsign::sign(spec.mechanism, key, &signing)
        }
        CheckKind::Embedded(mechanism) => {
            embedded::sign(*mechanism, key, input.body, input.timestamp, input.id)
        }
        _ => Err(format!("the {} check is not signed here", check.scheme)),
    }
}

fn chosen<'a>(check: &'a Check, input: &Input<'_>) -> Result<&'a CompiledSecret, String> {
    let found = match input.secret {
        Some(id) => check.secrets.iter().find(|s| &*s.secret.id == id),
        None => check
            .secrets
            .iter()
            .find(|s| s.secret.window.contains(input.now)),
    };
    found.ok_or_else(|| match input.secret {
        Some(id) => format!("no secret `{id}` in its {} check", check.scheme),
        None => format!(
            "no secret of its {} check is active now; pass --secret",
            check.scheme
        ),
    })
}

/// A fresh random secret in the form these providers hand out; `None` for the schemes that
/// take the generic forms.
pub fn native_secret(scheme: &str) -> Option<String> {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use rand::{Rng, RngCore};
    let mut rng = rand::rng();
    let mut bytes = [0u8; 32];
    rng.fill_bytes(&mut bytes);
    let alnum = |n: usize| -> String {
        let chars = rand::rng().sample_iter(rand::distr::Alphanumeric).take(n);
        chars.map(char::from).collect()
    };
    Some(match scheme {
        // An auth token: 32 lowercase hex digits.
        "twilio" => hex::encode(&bytes[..16]),
        // A signature key or webhook key: 22 URL-safe base64 characters.
        "square" | "mailchimp" => URL_SAFE_NO_PAD.encode(&bytes[..16]),
        // A client secret: a UUID.
        "hubspot" => {
            let h = hex::encode(&bytes[..16]);
            format!(
                "{}-{}-{}-{}-{}",
                &h[..8],
                &h[8..12],
                &h[12..16],
                &h[16..20],
                &h[20..]
            )
        }
        // An auth token: 40 letters and digits.
        "plivo" => alnum(40),
        // An HMAC key: 64 uppercase hex digits.
        "adyen-notification" => hex::encode_upper(bytes),
        // `public_key:private_key`: 16 lowercase letters and digits, then 32 hex digits.
        "braintree" => format!(
            "{}:{}",
            alnum(16).to_ascii_lowercase(),
            hex::encode(&bytes[16..])
        ),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn native_secrets_have_the_providers_shapes() {
        let twilio = native_secret("twilio").expect("twilio");
        assert_eq!(twilio.len(), 32);
        assert!(twilio.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(native_secret("square").map(|s| s.len()), Some(22));
        let hubspot = native_secret("hubspot").expect("hubspot");
        assert_eq!(
            hubspot.split('-').map(str::len).collect::<Vec<_>>(),
            vec![8, 4, 4, 4, 12]
        );
        assert_eq!(native_secret("plivo").map(|s| s.len()), Some(40));
        let adyen = native_secret("adyen-notification").expect("adyen");
        assert_eq!(adyen.len(), 64);
        let braintree = native_secret("braintree").expect("braintree");
        assert!(crate::verify::braintree::keys(braintree.as_bytes()).is_some());
        assert_eq!(native_secret("github"), None);
    }
}
