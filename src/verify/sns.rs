//! AWS SNS HTTP(S) deliveries: a JSON body signed with the key of the certificate at its
//! `SigningCertURL`, as AWS documents (sns-verify-signature-of-message) and its official
//! validators implement (aws-php-sns-message-validator `MessageValidator`,
//! aws-js-sns-message-validator).
//!
//! - `SigningCertURL` must be `https` on an SNS host (`sns.<region>.amazonaws.com[.cn]`) and
//!   end in `.pem`; checked before anything is fetched.
//! - String to sign: for each of `Message, MessageId, Subject, SubscribeURL, Timestamp, Token,
//!   TopicArn, Type`, in that order, that the message carries (a JSON `null` Subject is
//!   absent): `key\nvalue\n`. That is the documented Notification set and the
//!   SubscriptionConfirmation/UnsubscribeConfirmation set.
//! - `SignatureVersion` 1 is RSA-SHA1, 2 is RSA-SHA256; `Signature` is base64.
//! - `TopicArn` must be one of the check's `topic_arn:` when it lists any.
//! - The unsigned `x-amz-sns-message-type`, `-message-id` and `-topic-arn` headers, when
//!   sent, must agree with the signed body (an upstream or replay protection may read them).
//!
//! SNS resends the same signed message on retries, so there is no timestamp window.

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::Deserialize;

use http::HeaderMap;

use crate::verify::certs::Algo;
use crate::verify::extract;
use crate::verify::fetched::{self, Delivery, FetchedCheck, KeyKind, KeyWant};
use crate::verify::reason::Reason;

/// The SNS message fields verification reads. A key given twice makes the body malformed
/// (serde refuses duplicate fields), so hookguard and the upstream cannot read different
/// values.
#[derive(Deserialize)]
#[allow(non_snake_case)]
struct Message {
    Type: String,
    MessageId: String,
    TopicArn: String,
    Message: String,
    Timestamp: String,
    SignatureVersion: String,
    Signature: String,
    SigningCertURL: String,
    #[serde(default)]
    Subject: Option<String>,
    #[serde(default)]
    SubscribeURL: Option<String>,
    #[serde(default)]
    Token: Option<String>,
}

impl Message {
    fn parse(body: &[u8]) -> Result<Message, Reason> {
        let msg: Message = serde_json::from_slice(body).map_err(|_| Reason::Malformed)?;
        let confirmation = matches!(
            msg.Type.as_str(),
            "SubscriptionConfirmation" | "UnsubscribeConfirmation"
        );
        if confirmation && (msg.SubscribeURL.is_none() || msg.Token.is_none()) {
            return Err(Reason::Malformed);
        }
        if !confirmation && msg.Type != "Notification" {
            return Err(Reason::Malformed);
        }
        Ok(msg)
    }

    /// The bytes SNS signed.
    fn string_to_sign(&self) -> Vec<u8> {
        let fields = [
            ("Message", Some(&self.Message)),
            ("MessageId", Some(&self.MessageId)),
            ("Subject", self.Subject.as_ref()),
            ("SubscribeURL", self.SubscribeURL.as_ref()),
            ("Timestamp", Some(&self.Timestamp)),
            ("Token", self.Token.as_ref()),
            ("TopicArn", Some(&self.TopicArn)),
            ("Type", Some(&self.Type)),
        ];
        let mut out = Vec::with_capacity(512);
        for (key, value) in fields {
            if let Some(value) = value {
                for piece in [key.as_bytes(), b"\n", value.as_bytes(), b"\n"] {
                    out.extend_from_slice(piece);
                }
            }
        }
        out
    }
}

/// The message parsed and every check that needs no key: certificate URL, topic, headers.
fn prechecked(f: &FetchedCheck, headers: &HeaderMap, body: &[u8]) -> Result<Message, Reason> {
    let msg = Message::parse(body)?;
    let located = f.allow.check(&msg.SigningCertURL).ok_or(Reason::Invalid)?;
    if !f.allow.custom && !located.path.ends_with(".pem") {
        return Err(Reason::Invalid);
    }
    if !f.topic_arn.is_empty() && !f.topic_arn.contains(&msg.TopicArn) {
        return Err(Reason::Invalid);
    }
    for (header, signed) in [
        ("x-amz-sns-message-type", &msg.Type),
        ("x-amz-sns-message-id", &msg.MessageId),
        ("x-amz-sns-topic-arn", &msg.TopicArn),
    ] {
        let name = http::HeaderName::from_static(header);
        if let Some(sent) = extract::single(headers, &name)? {
            if sent != signed.as_bytes() {
                return Err(Reason::Invalid);
            }
        }
    }
    Ok(msg)
}

fn cert_want(msg: &Message) -> KeyWant {
    KeyWant {
        kind: KeyKind::Certificate,
        url: msg.SigningCertURL.clone(),
        kid: None,
    }
}

/// The certificate a delivery needs, when it passes every check that needs no key.
pub fn want(f: &FetchedCheck, headers: &HeaderMap, body: &[u8]) -> Option<KeyWant> {
    prechecked(f, headers, body).ok().map(|msg| cert_want(&msg))
}

/// Verifies one SNS delivery.
pub fn verify(f: &FetchedCheck, d: &Delivery<'_>) -> Result<Arc<str>, Reason> {
    let msg = prechecked(f, d.headers, d.body)?;
    let algo = match msg.SignatureVersion.as_str() {
        "1" => Algo::RsaSha1,
        "2" => Algo::RsaSha256,
        _ => return Err(Reason::Malformed),
    };
    let signature = STANDARD
        .decode(msg.Signature.trim())
        .map_err(|_| Reason::Malformed)?;
    let want = cert_want(&msg);
    let candidates = fetched::candidates(f, d, Some(&want), None)?;
    fetched::first_match(&candidates, algo, &msg.string_to_sign(), &signature, d.now)
}

/// The `SubscribeURL` of a `SubscriptionConfirmation` that hookguard should visit to confirm
/// the subscription itself: the check confirms (no `handshake: forward`) and the URL is
/// `https` on the same allowed hosts as certificates. Call only for a verified delivery.
pub fn subscribe_url(f: &FetchedCheck, body: &[u8]) -> Option<String> {
    let msg = Message::parse(body).ok()?;
    if !f.confirm || msg.Type != "SubscriptionConfirmation" {
        return None;
    }
    let url = msg.SubscribeURL?;
    f.allow.check(&url).map(|_| url)
}

/// The string SNS signs for a message body (tests and senders).
pub fn string_to_sign(body: &[u8]) -> Option<Vec<u8>> {
    Message::parse(body).ok().map(|m| m.string_to_sign())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOTE: &str = r#"{"Type":"Notification","MessageId":"m1","TopicArn":"arn:aws:sns:us-west-2:1:T","Subject":"Hi","Message":"a\nb","Timestamp":"2026-01-01T00:00:00.000Z","SignatureVersion":"1","Signature":"AA==","SigningCertURL":"https://sns.us-west-2.amazonaws.com/c.pem","UnsubscribeURL":"https://x"}"#;

    #[test]
    fn the_notification_string_to_sign_is_the_documented_fields_in_order() {
        let got = string_to_sign(NOTE.as_bytes()).expect("parses");
        let want = "Message\na\nb\nMessageId\nm1\nSubject\nHi\nTimestamp\n2026-01-01T00:00:00.000Z\nTopicArn\narn:aws:sns:us-west-2:1:T\nType\nNotification\n";
        assert_eq!(String::from_utf8(got).expect("utf8"), want);
    }

    #[test]
    fn a_null_subject_is_left_out_and_confirmations_sign_their_url_and_token() {
        let note = NOTE.replace(r#""Subject":"Hi""#, r#""Subject":null"#);
        let got =
            String::from_utf8(string_to_sign(note.as_bytes()).expect("parses")).expect("utf8");
        assert!(!got.contains("Subject"));
        let conf = NOTE
            .replace("\"Notification\"", "\"UnsubscribeConfirmation\"")
            .replace(
                r#""Subject":"Hi","#,
                r#""SubscribeURL":"https://s/?a","Token":"tok","#,
            );
        let got =
            String::from_utf8(string_to_sign(conf.as_bytes()).expect("parses")).expect("utf8");
        assert!(
            got.contains("SubscribeURL\nhttps://s/?a\nTimestamp\n"),
            "{got}"
        );
        assert!(got.contains("Token\ntok\nTopicArn\n"), "{got}");
    }

    #[test]
    fn duplicate_fields_unknown_types_and_missing_fields_are_malformed() {
        let dup = NOTE.replace(r#""Message":"a\nb","#, r#""Message":"a","Message":"b","#);
        assert!(string_to_sign(dup.as_bytes()).is_none());
        let other = NOTE.replace("\"Notification\"", "\"Other\"");
        assert!(string_to_sign(other.as_bytes()).is_none());
        let conf = NOTE.replace("\"Notification\"", "\"SubscriptionConfirmation\"");
        assert!(
            string_to_sign(conf.as_bytes()).is_none(),
            "no SubscribeURL/Token"
        );
        assert!(string_to_sign(b"not json").is_none());
    }
}
