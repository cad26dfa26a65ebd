//! The exact answer each provider requires to its challenge (status, content type, body
//! bytes, headers), and the refusals providers document for a challenge that failed.
//!
//! JSON goes through serde (never string concatenation), so a challenge value is always
//! escaped; echoed text is `text/plain` with `X-Content-Type-Options: nosniff`, so a reflected
//! value can never be rendered as markup.

use base64::Engine;
use serde::Serialize;

use crate::verify::challenge::{Challenge, Handshake, Kind};
use crate::verify::mac::{Algorithm, PreparedMac};
use crate::verify::secret::Key;

/// An answer hookguard sends itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type`, when there is a body.
    pub content_type: Option<&'static str>,
    /// Whether to send `X-Content-Type-Options: nosniff`.
    pub nosniff: bool,
    /// The body bytes.
    pub body: Vec<u8>,
}

impl Reply {
    fn text(value: &str) -> Reply {
        Reply {
            status: 200,
            content_type: Some("text/plain"),
            nosniff: true,
            body: value.as_bytes().to_vec(),
        }
    }

    fn json(value: &impl Serialize) -> Option<Reply> {
        Some(Reply {
            status: 200,
            content_type: Some("application/json"),
            nosniff: false,
            body: serde_json::to_vec(value).ok()?,
        })
    }

    fn empty(status: u16) -> Reply {
        Reply {
            status,
            content_type: None,
            nosniff: false,
            body: Vec::new(),
        }
    }
}

#[derive(Serialize)]
struct ZoomReply<'a> {
    #[serde(rename = "plainToken")]
    plain_token: &'a str,
    #[serde(rename = "encryptedToken")]
    encrypted_token: String,
}

/// The answer to a genuine challenge. `key` is the secret Zoom's and X's answers are signed
/// with; `None` where the kind needs one means there is no answer (the request then goes the
/// ordinary way). Notion's and Salesforce's have no answer: they are forwarded.
pub fn reply(challenge: &Challenge, handshake: &Handshake, key: Option<&Key>) -> Option<Reply> {
    let value = challenge.value.as_str();
    let hmac =
        |key: &Key| PreparedMac::new(Algorithm::Sha256, key.expose()).compute(&[value.as_bytes()]);
    match challenge.kind {
        Kind::Slack | Kind::Dropbox | Kind::MicrosoftGraph | Kind::Worldline => {
            Some(Reply::text(value))
        }
        Kind::Twitch | Kind::Facebook => Some(Reply::text(value)),
        Kind::Zoom => Reply::json(&ZoomReply {
            plain_token: value,
            encrypted_token: hex::encode(hmac(key?).as_bytes()),
        }),
        Kind::TwitterCrc => {
            let tag = base64::engine::general_purpose::STANDARD.encode(hmac(key?).as_bytes());
            Reply::json(&serde_json::json!({ "response_token": format!("sha256={tag}") }))
        }
        Kind::Okta => Reply::json(&serde_json::json!({ "verification": value })),
        Kind::Oura => Reply::json(&serde_json::json!({ "challenge": value })),
        Kind::Discord if value == "0" => Some(Reply::empty(204)),
        Kind::Discord => Reply::json(&serde_json::json!({ "type": 1 })),
        Kind::Airship => {
            let code = std::str::from_utf8(handshake.verify_token.as_ref()?.expose()).ok()?;
            Reply::json(&serde_json::json!({ "confirmation_code": code }))
        }
        Kind::Xero => Some(Reply::empty(200)),
        Kind::Notion | Kind::SfmcEns => None,
    }
}

/// A provider's own refusal of a challenge that failed verification (enforce mode), where it
/// documents one: Meta's and Oura's wrong verify token 403, Xero's empty-bodied 401. `None`:
/// hookguard's ordinary 401.
pub fn refusal(kind: Kind) -> Option<Reply> {
    match kind {
        Kind::Facebook | Kind::Oura => Some(Reply {
            status: 403,
            content_type: Some("application/json"),
            nosniff: false,
            body: b"{\"error\":\"forbidden\"}".to_vec(),
        }),
        Kind::Xero => Some(Reply::empty(401)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn challenge(kind: Kind, value: &str) -> Challenge {
        Challenge {
            kind,
            value: value.to_owned(),
            presented_token: None,
        }
    }

    fn answer(kind: Kind, value: &str, token: Option<&str>, key: Option<&str>) -> Reply {
        let hs = Handshake {
            kind,
            forward: false,
            verify_token: token.map(|t| Key::new(t.as_bytes().to_vec())),
        };
        let key = key.map(|k| Key::new(k.as_bytes().to_vec()));
        reply(&challenge(kind, value), &hs, key.as_ref()).expect("an answer")
    }

    fn text(body: &str) -> Reply {
        Reply {
            status: 200,
            content_type: Some("text/plain"),
            nosniff: true,
            body: body.as_bytes().to_vec(),
        }
    }

    fn json(body: &str) -> Reply {
        Reply {
            status: 200,
            content_type: Some("application/json"),
            nosniff: false,
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn x_crc_answers_the_response_token_of_x_devrels_published_example() {
        // X DevRel's CRC sample (gist jcipriano/46c4b3f3, linked from the securing-webhooks page).
        let got = answer(
            Kind::TwitterCrc,
            "9b4507b3-9040-4669-9ca3-6b94edb50553",
            None,
            Some("z3ZX4v7mAAUGykl3EcmkqbartmuW8VFOOzCloLx9Q45P0hLrFu"),
        );
        assert_eq!(
            got,
            json(r#"{"response_token":"sha256=Cytd4Sq+NvEcV3MMrXxWJGJx5A+y/lXzzU2Maartkx8="}"#)
        );
    }

    #[test]
    fn zoom_answers_plain_token_then_its_hex_hmac_under_the_secret_token() {
        // Zoom's docs example plainToken; encryptedToken computed with Python's hmac, as in
        // zoom/webhook-sample index.js (createHmac('sha256', secret).update(plainToken).digest('hex')).
        let got = answer(
            Kind::Zoom,
            "qgg8vlvZRS6UYooatFL8Aw",
            None,
            Some("zoom_secret_token_Wq3Lx9Pk"),
        );
        assert_eq!(
            got,
            json(
                r#"{"plainToken":"qgg8vlvZRS6UYooatFL8Aw","encryptedToken":"3c7e2504ab09a6fff65ad77f5a25428a8f01375159a32e9a244e2468e3383ea3"}"#
            )
        );
    }

    #[test]
    fn signed_answers_without_a_key_are_not_given() {
        let hs = Handshake {
            kind: Kind::Zoom,
            forward: false,
            verify_token: None,
        };
        assert_eq!(reply(&challenge(Kind::Zoom, "t"), &hs, None), None);
        let hs = Handshake {
            kind: Kind::Airship,
            ..hs
        };
        assert_eq!(reply(&challenge(Kind::Airship, ""), &hs, None), None);
    }

    #[test]
    fn echoed_challenges_are_the_bytes_alone_as_plain_text() {
        // Slack's url_verification page, Meta's getting-started page, Dropbox's mdwebhook,
        // Twitch's EventSub docs example, Microsoft's validation token, Worldline's header.
        let slack = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P";
        assert_eq!(answer(Kind::Slack, slack, None, None), text(slack));
        assert_eq!(
            answer(Kind::Facebook, "1158201444", Some("meatyhamhock"), None),
            text("1158201444")
        );
        assert_eq!(
            answer(Kind::Dropbox, "Zm9vYmFyMTIz", None, None),
            text("Zm9vYmFyMTIz")
        );
        let twitch = "pogchamp-kappa-360noscope-vohiyo";
        assert_eq!(answer(Kind::Twitch, twitch, None, None), text(twitch));
        let graph = "Validation: Testing client application reachability <script>";
        assert_eq!(answer(Kind::MicrosoftGraph, graph, None, None), text(graph));
        assert_eq!(
            answer(Kind::Worldline, "a2f5-77", None, None),
            text("a2f5-77")
        );
    }

    #[test]
    fn json_answers_escape_the_challenge_and_match_the_documented_shapes() {
        // Okta's event-hooks concept page: {"verification": "<header value>"}.
        let okta = answer(
            Kind::Okta,
            "2AFBYTvSp0bU4hzIsGt3Avu5GEUwo_rByD5ZZJEH",
            None,
            None,
        );
        assert_eq!(
            okta,
            json(r#"{"verification":"2AFBYTvSp0bU4hzIsGt3Avu5GEUwo_rByD5ZZJEH"}"#)
        );
        let quoted = answer(Kind::Okta, "a\"b\\c", None, None);
        assert_eq!(quoted, json(r#"{"verification":"a\"b\\c"}"#));
        assert_eq!(
            answer(Kind::Oura, "c1", Some("t"), None),
            json(r#"{"challenge":"c1"}"#)
        );
        assert_eq!(
            answer(Kind::Discord, "1", None, None),
            json(r#"{"type":1}"#)
        );
        // discord-interactions-js verifyWebhookEventMiddleware: 204, no body, no content type.
        assert_eq!(answer(Kind::Discord, "0", None, None), Reply::empty(204));
        // Airship's Open Channels getting-started page: the validation code from the dashboard.
        let airship = answer(
            Kind::Airship,
            "",
            Some("559384cd-6284-4e3e-9e4e-7c260019a251"),
            None,
        );
        assert_eq!(
            airship,
            json(r#"{"confirmation_code":"559384cd-6284-4e3e-9e4e-7c260019a251"}"#)
        );
    }

    #[test]
    fn xero_intent_to_receive_gets_empty_bodies_both_ways() {
        let ok = answer(Kind::Xero, "", None, None);
        assert_eq!((ok.status, ok.content_type, ok.body.len()), (200, None, 0));
        let refused = refusal(Kind::Xero).expect("xero refusal");
        assert_eq!(
            (refused.status, refused.content_type, refused.body.len()),
            (401, None, 0)
        );
    }

    #[test]
    fn only_meta_oura_and_xero_document_their_own_refusal() {
        assert_eq!(refusal(Kind::Facebook).map(|r| r.status), Some(403));
        assert_eq!(refusal(Kind::Oura).map(|r| r.status), Some(403));
        for kind in [
            Kind::Slack,
            Kind::Zoom,
            Kind::Okta,
            Kind::Twitch,
            Kind::Discord,
        ] {
            assert_eq!(refusal(kind), None, "{kind:?}");
        }
    }

    #[test]
    fn challenges_only_the_receiver_can_complete_have_no_answer() {
        for kind in [Kind::Notion, Kind::SfmcEns] {
            let hs = Handshake {
                kind,
                forward: false,
                verify_token: None,
            };
            assert_eq!(reply(&challenge(kind, ""), &hs, None), None);
        }
    }
}
