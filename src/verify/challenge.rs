//! Provider handshakes, the pure part: the kinds a catalogue row names (`handshake:`), how
//! each provider's challenge is recognised in a request (method, path and query, headers,
//! body). The answers are `reply`'s; whether a challenge is trusted is `handshake`'s. Pure:
//! this file only reads bytes.

use http::{HeaderMap, HeaderName};
use serde_json::Value;

use crate::verify::extract;
use crate::verify::secret::{digest_matches, Key};

/// A handshake a catalogue row names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Slack Events API `url_verification` (signed POST).
    Slack,
    /// Zoom `endpoint.url_validation` (signed POST).
    Zoom,
    /// X (Twitter) CRC: `GET ?crc_token=` (unsigned).
    TwitterCrc,
    /// Meta (Facebook, Messenger, Instagram, WhatsApp): `GET ?hub.mode=subscribe&...`.
    Facebook,
    /// Okta event hook verification: `GET` with `x-okta-verification-challenge`.
    Okta,
    /// Dropbox: `GET ?challenge=` (unsigned).
    Dropbox,
    /// Microsoft Graph: `?validationToken=` (unsigned).
    MicrosoftGraph,
    /// Discord PING: interactions `{"type":1}`, webhook events `{"type":0}` (signed POST).
    Discord,
    /// Xero "intent to receive": signed POSTs with an empty `events` list.
    Xero,
    /// Worldline: `GET` with `X-GCS-Webhooks-Endpoint-Verification` (unsigned).
    Worldline,
    /// Twitch EventSub `webhook_callback_verification` (signed POST).
    Twitch,
    /// Oura: `GET ?verification_token=&challenge=`.
    Oura,
    /// Airship Open Channels: signed `GET <root>/validate`.
    Airship,
    /// Notion's one-time `verification_token` POST: only the receiver can complete it.
    Notion,
    /// Salesforce Marketing Cloud ENS `callbackId`/`verificationKey` POST: likewise.
    SfmcEns,
}

/// Every kind, for tests and documentation.
pub const KINDS: [Kind; 15] = [
    Kind::Slack,
    Kind::Zoom,
    Kind::TwitterCrc,
    Kind::Facebook,
    Kind::Okta,
    Kind::Dropbox,
    Kind::MicrosoftGraph,
    Kind::Discord,
    Kind::Xero,
    Kind::Worldline,
    Kind::Twitch,
    Kind::Oura,
    Kind::Airship,
    Kind::Notion,
    Kind::SfmcEns,
];

/// How hookguard decides whether a challenge is genuine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trust {
    /// Signed (or authenticated) like any delivery: the route's checks decide.
    Signed,
    /// The provider does not sign it; answering proves control of the URL and nothing more.
    Unsigned,
    /// It carries the operator's verify token, compared in constant time.
    Token,
    /// Unauthenticated by design and only the receiver can complete it: always forwarded.
    Forwarded,
}

impl Kind {
    /// Reads a row's `handshake:` value.
    pub fn parse(s: &str) -> Option<Kind> {
        KINDS.into_iter().find(|k| k.as_str() == s)
    }

    /// The spelling in the catalogue.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Slack => "slack",
            Kind::Zoom => "zoom",
            Kind::TwitterCrc => "twitter-crc",
            Kind::Facebook => "facebook",
            Kind::Okta => "okta",
            Kind::Dropbox => "dropbox",
            Kind::MicrosoftGraph => "microsoft-graph",
            Kind::Discord => "discord",
            Kind::Xero => "xero",
            Kind::Worldline => "worldline",
            Kind::Twitch => "twitch",
            Kind::Oura => "oura",
            Kind::Airship => "airship",
            Kind::Notion => "notion",
            Kind::SfmcEns => "sfmc-ens",
        }
    }

    /// How a challenge of this kind is trusted.
    pub fn trust(self) -> Trust {
        match self {
            Kind::Slack | Kind::Zoom | Kind::Okta | Kind::Discord => Trust::Signed,
            Kind::Xero | Kind::Twitch | Kind::Airship => Trust::Signed,
            Kind::TwitterCrc | Kind::Dropbox | Kind::MicrosoftGraph | Kind::Worldline => {
                Trust::Unsigned
            }
            Kind::Facebook | Kind::Oura => Trust::Token,
            Kind::Notion | Kind::SfmcEns => Trust::Forwarded,
        }
    }

    /// Whether answering needs the check's `verify_token:` (a value only the operator knows).
    pub fn needs_token(self) -> bool {
        matches!(self, Kind::Facebook | Kind::Oura | Kind::Airship)
    }
}

/// A handshake as one check configures it.
#[derive(Clone, Debug)]
pub struct Handshake {
    /// What the provider sends.
    pub kind: Kind,
    /// `handshake: forward`: hand the challenge to the upstream instead of answering it.
    pub forward: bool,
    /// The check's `verify_token:` (redacted in `Debug`).
    pub verify_token: Option<Key>,
}

/// A recognised challenge: what the reply needs from the request. `Debug` never shows the
/// presented verify token.
#[derive(Clone, PartialEq, Eq)]
pub struct Challenge {
    /// Which handshake.
    pub kind: Kind,
    /// The value to echo or sign (empty where the reply needs none).
    pub value: String,
    /// The verify token the request presented (Facebook, Oura).
    pub presented_token: Option<Vec<u8>>,
}

impl std::fmt::Debug for Challenge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Challenge")
            .field("kind", &self.kind)
            .field("value", &self.value)
            .field(
                "presented_token",
                &self.presented_token.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

/// The parts of a request a challenge is recognised from.
#[derive(Clone, Copy, Debug)]
pub struct Incoming<'a> {
    /// The method, e.g. `GET`.
    pub method: &'a str,
    /// Path and query as sent.
    pub path: &'a str,
    /// All request headers.
    pub headers: &'a HeaderMap,
    /// The raw body (empty for a bodiless GET).
    pub body: &'a [u8],
}

/// Recognises `kind`'s challenge in a request; `None` when the request is not one (it is then
/// an ordinary delivery). Ambiguous requests (a parameter or header given twice) are not.
pub fn recognise(kind: Kind, req: &Incoming<'_>) -> Option<Challenge> {
    let get = req.method == "GET";
    let post = req.method == "POST";
    let value = match kind {
        Kind::TwitterCrc if get => crc_token(query(req.path, "crc_token")?)?,
        Kind::Dropbox if get => query(req.path, "challenge")?,
        Kind::MicrosoftGraph if get || post => query(req.path, "validationToken")?,
        Kind::Facebook if get => return facebook(req.path),
        Kind::Oura if get => return oura(req.path),
        Kind::Okta if get => header(req.headers, "x-okta-verification-challenge")?,
        Kind::Worldline if get => header(req.headers, "x-gcs-webhooks-endpoint-verification")?,
        Kind::Airship if get && path_only(req.path).ends_with("/validate") => String::new(),
        Kind::Slack if post && mentions(req.body, b"url_verification") => {
            let body = json(req.body)?;
            (body.get("type")?.as_str()? == "url_verification").then_some(())?;
            body.get("challenge")?.as_str()?.to_owned()
        }
        Kind::Zoom if post && mentions(req.body, b"endpoint.url_validation") => {
            let body = json(req.body)?;
            (body.get("event")?.as_str()? == "endpoint.url_validation").then_some(())?;
            body.get("payload")?.get("plainToken")?.as_str()?.to_owned()
        }
        Kind::Twitch if post => {
            let kind = header(req.headers, "twitch-eventsub-message-type")?;
            (kind == "webhook_callback_verification").then_some(())?;
            json(req.body)?.get("challenge")?.as_str()?.to_owned()
        }
        Kind::Discord if post => discord(req.body)?,
        Kind::Xero if post && mentions(req.body, b"events") => {
            let events = json(req.body)?.get("events")?.as_array()?.len();
            (events == 0).then_some(())?;
            String::new()
        }
        Kind::Notion if post && mentions(req.body, b"verification_token") => {
            exactly(req.body, &["verification_token"])?
        }
        Kind::SfmcEns if post && mentions(req.body, b"verificationKey") => {
            exactly(req.body, &["callbackId", "verificationKey"])?
        }
        _ => return None,
    };
    Some(Challenge {
        kind,
        value,
        presented_token: None,
    })
}

/// Discord's two PINGs: an interactions endpoint's `{"type":1}` (no `event`: a webhook-events
/// EVENT is type 1 too, with one) as `"1"`, a webhook-events endpoint's `{"type":0}` as `"0"`.
fn discord(body: &[u8]) -> Option<String> {
    let body = json(body)?;
    match body.get("type")?.as_u64()? {
        1 if !body.contains_key("event") => Some("1".into()),
        0 => Some("0".into()),
        _ => None,
    }
}

/// X's CRC is unsigned and its answer is the HMAC its POST signatures use, so answering any
/// token would sign anything an attacker asks for. Only tokens in the shape X sends (short,
/// base64, hex or UUID characters) are answered: no JSON event body can be one.
fn crc_token(token: String) -> Option<String> {
    let shaped = token
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_=+/.".contains(&b));
    (shaped && token.len() <= 256).then_some(token)
}

fn facebook(path: &str) -> Option<Challenge> {
    (query(path, "hub.mode")? == "subscribe").then_some(())?;
    Some(Challenge {
        kind: Kind::Facebook,
        value: query(path, "hub.challenge")?,
        presented_token: query(path, "hub.verify_token").map(String::into_bytes),
    })
}

fn oura(path: &str) -> Option<Challenge> {
    Some(Challenge {
        kind: Kind::Oura,
        value: query(path, "challenge")?,
        presented_token: query(path, "verification_token").map(String::into_bytes),
    })
}

/// Whether the presented verify token equals the configured one (constant time); no token on
/// either side never matches.
pub fn token_matches(challenge: &Challenge, configured: Option<&Key>) -> bool {
    match (&challenge.presented_token, configured) {
        (Some(presented), Some(key)) => digest_matches(presented, &key.digest()),
        _ => false,
    }
}

/// One query parameter, percent-decoded; `None` when absent or given more than once.
fn query(path: &str, name: &str) -> Option<String> {
    let (_, q) = path.split_once('?')?;
    let mut found = form_urlencoded::parse(q.as_bytes()).filter(|(k, _)| k == name);
    let (_, value) = found.next()?;
    found.next().is_none().then(|| value.into_owned())
}

fn path_only(path: &str) -> &str {
    path.split_once('?').map_or(path, |(p, _)| p)
}

/// One header line as UTF-8, trimmed; absent, empty or repeated headers are not a challenge.
fn header(headers: &HeaderMap, name: &'static str) -> Option<String> {
    let value = extract::single(headers, &HeaderName::from_static(name)).ok()??;
    let value = std::str::from_utf8(value).ok()?;
    (!value.is_empty()).then(|| value.to_owned())
}

/// A cheap look before parsing JSON, so ordinary deliveries are not parsed twice.
fn mentions(body: &[u8], needle: &[u8]) -> bool {
    body.windows(needle.len()).any(|w| w == needle)
}

fn json(body: &[u8]) -> Option<serde_json::Map<String, Value>> {
    match serde_json::from_slice(body).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// A JSON object whose keys are exactly `keys`, each a string; its value is never kept.
fn exactly(body: &[u8], keys: &[&str]) -> Option<String> {
    let map = json(body)?;
    let same = map.len() == keys.len()
        && keys
            .iter()
            .all(|k| map.get(*k).is_some_and(Value::is_string));
    same.then(String::new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn req<'a>(
        method: &'a str,
        path: &'a str,
        headers: &'a HeaderMap,
        body: &'a [u8],
    ) -> Incoming<'a> {
        Incoming {
            method,
            path,
            headers,
            body,
        }
    }

    fn value(
        kind: Kind,
        method: &str,
        path: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Option<String> {
        recognise(kind, &req(method, path, headers, body)).map(|c| c.value)
    }

    fn with(name: &'static str, values: &[&'static str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(name, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn every_kind_reads_back_from_its_catalogue_spelling() {
        for kind in KINDS {
            assert_eq!(Kind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(Kind::parse("facebook-graph-api"), None);
    }

    #[test]
    fn query_challenges_are_percent_decoded_and_refused_when_repeated_or_absent() {
        let none = HeaderMap::new();
        let got = |kind, method, path| value(kind, method, path, &none, b"");
        assert_eq!(
            got(Kind::Dropbox, "GET", "/h?challenge=Zm9vYmFyMTIz").as_deref(),
            Some("Zm9vYmFyMTIz")
        );
        assert_eq!(
            got(Kind::Dropbox, "GET", "/h?challenge=a%20b+c%2B").as_deref(),
            Some("a b c+")
        );
        assert_eq!(
            got(Kind::Dropbox, "GET", "/h?challenge=a&challenge=b"),
            None
        );
        assert_eq!(got(Kind::Dropbox, "POST", "/h?challenge=a"), None);
        assert_eq!(got(Kind::Dropbox, "GET", "/h"), None);
        assert_eq!(
            got(Kind::TwitterCrc, "GET", "/h?x=1&crc_token=9b45").as_deref(),
            Some("9b45")
        );
        let event = "/h?crc_token=%7B%22for_user_id%22%3A%2212%22%7D";
        assert_eq!(
            got(Kind::TwitterCrc, "GET", event),
            None,
            "a JSON body is never signed"
        );
        let long = format!("/h?crc_token={}", "a".repeat(257));
        assert_eq!(got(Kind::TwitterCrc, "GET", &long), None);
        let graph = "/h?validationToken=Validation%3a+Testing+client+application+reachability";
        let expect = Some("Validation: Testing client application reachability");
        assert_eq!(got(Kind::MicrosoftGraph, "POST", graph).as_deref(), expect);
        assert_eq!(got(Kind::MicrosoftGraph, "GET", graph).as_deref(), expect);
        assert_eq!(got(Kind::MicrosoftGraph, "POST", "/h"), None);
    }

    #[test]
    fn meta_challenges_need_mode_subscribe_and_keep_the_presented_token() {
        let none = HeaderMap::new();
        let path = "/h?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=meatyhamhock";
        let found = recognise(Kind::Facebook, &req("GET", path, &none, b"")).expect("challenge");
        assert_eq!(found.value, "1158201444");
        assert_eq!(found.presented_token.as_deref(), Some(&b"meatyhamhock"[..]));
        assert!(!format!("{found:?}").contains("meatyhamhock"));
        let wrong_mode = "/h?hub.mode=unsubscribe&hub.challenge=1";
        assert!(recognise(Kind::Facebook, &req("GET", wrong_mode, &none, b"")).is_none());
        let no_token = recognise(
            Kind::Facebook,
            &req("GET", "/h?hub.mode=subscribe&hub.challenge=1", &none, b""),
        );
        assert_eq!(no_token.map(|c| c.presented_token), Some(None));
        let key = Key::new(b"meatyhamhock".to_vec());
        assert!(token_matches(&found, Some(&key)));
        assert!(!token_matches(
            &found,
            Some(&Key::new(b"meatyhamhocK".to_vec()))
        ));
        assert!(!token_matches(&found, None));
        let oura = recognise(
            Kind::Oura,
            &req("GET", "/o?verification_token=t&challenge=c1", &none, b""),
        );
        assert_eq!(
            oura.map(|c| (c.value, c.presented_token)),
            Some(("c1".into(), Some(b"t".to_vec())))
        );
    }

    #[test]
    fn header_challenges_need_exactly_one_non_empty_line() {
        let okta = with(
            "x-okta-verification-challenge",
            &["2AFBYTvSp0bU4hzIsGt3Avu5GEUwo_rByD5ZZJEH"],
        );
        assert_eq!(
            value(Kind::Okta, "GET", "/o", &okta, b"").as_deref(),
            Some("2AFBYTvSp0bU4hzIsGt3Avu5GEUwo_rByD5ZZJEH")
        );
        assert_eq!(value(Kind::Okta, "POST", "/o", &okta, b""), None);
        let twice = with("x-gcs-webhooks-endpoint-verification", &["a", "b"]);
        assert_eq!(value(Kind::Worldline, "GET", "/w", &twice, b""), None);
        let once = with("x-gcs-webhooks-endpoint-verification", &[" 1234-abc "]);
        assert_eq!(
            value(Kind::Worldline, "GET", "/w", &once, b"").as_deref(),
            Some("1234-abc")
        );
        let empty = with("x-gcs-webhooks-endpoint-verification", &[""]);
        assert_eq!(value(Kind::Worldline, "GET", "/w", &empty, b""), None);
    }

    #[test]
    fn body_challenges_are_recognised_by_their_documented_fields_only() {
        let none = HeaderMap::new();
        let slack = br#"{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
        assert_eq!(
            value(Kind::Slack, "POST", "/s", &none, slack).as_deref(),
            Some("3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P")
        );
        let event =
            br#"{"type":"event_callback","challenge":"x","event":{"text":"url_verification"}}"#;
        assert_eq!(value(Kind::Slack, "POST", "/s", &none, event), None);
        let zoom = br#"{"payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},"event_ts":1654503849680,"event":"endpoint.url_validation"}"#;
        assert_eq!(
            value(Kind::Zoom, "POST", "/z", &none, zoom).as_deref(),
            Some("qgg8vlvZRS6UYooatFL8Aw")
        );
        assert_eq!(
            value(
                Kind::Zoom,
                "POST",
                "/z",
                &none,
                b"{\"event\":\"endpoint.url_validation\"}"
            ),
            None
        );
        let discord = |body: &[u8]| value(Kind::Discord, "POST", "/d", &none, body);
        let ping = br#"{"id":"1","type":1,"version":1}"#;
        assert_eq!(discord(ping).as_deref(), Some("1"));
        let events_ping = br#"{"version":1,"application_id":"11","type":0}"#;
        assert_eq!(discord(events_ping).as_deref(), Some("0"));
        let event = br#"{"version":1,"application_id":"11","type":1,"event":{"type":"APPLICATION_AUTHORIZED"}}"#;
        assert_eq!(discord(event), None, "a webhook event is a delivery");
        assert_eq!(discord(br#"{"type":2}"#), None);
        let itr = br#"{"events":[],"firstEventSequence":0,"lastEventSequence":0,"entropy":"S0m3r4Nd0mt3xt"}"#;
        assert!(recognise(Kind::Xero, &req("POST", "/x", &none, itr)).is_some());
        assert!(recognise(
            Kind::Xero,
            &req(
                "POST",
                "/x",
                &none,
                br#"{"events":[{"eventType":"UPDATE"}]}"#
            )
        )
        .is_none());
        assert!(recognise(Kind::Airship, &req("GET", "/a/validate?x=1", &none, b"")).is_some());
        assert!(recognise(Kind::Airship, &req("GET", "/a/push", &none, b"")).is_none());
    }

    #[test]
    fn twitch_verification_needs_its_message_type_and_revocations_are_deliveries() {
        let body = br#"{"challenge":"pogchamp-kappa-360noscope-vohiyo","subscription":{"type":"channel.follow"}}"#;
        let verification = with(
            "twitch-eventsub-message-type",
            &["webhook_callback_verification"],
        );
        assert_eq!(
            value(Kind::Twitch, "POST", "/t", &verification, body).as_deref(),
            Some("pogchamp-kappa-360noscope-vohiyo")
        );
        let revocation = with("twitch-eventsub-message-type", &["revocation"]);
        assert_eq!(value(Kind::Twitch, "POST", "/t", &revocation, body), None);
        assert_eq!(
            value(Kind::Twitch, "POST", "/t", &HeaderMap::new(), body),
            None
        );
    }

    #[test]
    fn one_time_token_posts_are_recognised_only_in_their_exact_shape() {
        let none = HeaderMap::new();
        let notion =
            br#"{"verification_token":"secret_tMrlL1qK5vuQAh1b6cZGhFChZTSYJlce98V0pYn7yBl"}"#;
        let found = recognise(Kind::Notion, &req("POST", "/n", &none, notion)).expect("notion");
        assert!(!format!("{found:?}").contains("secret_"), "{found:?}");
        let extra = br#"{"verification_token":"secret_x","type":"page.created"}"#;
        assert!(recognise(Kind::Notion, &req("POST", "/n", &none, extra)).is_none());
        let sfmc = br#"{"callbackId":"a8a3e7b6","verificationKey":"0b9e1a"}"#;
        assert!(recognise(Kind::SfmcEns, &req("POST", "/e", &none, sfmc)).is_some());
        let sfmc_event = br#"[{"callbackId":"a8a3e7b6","verificationKey":"0b9e1a"}]"#;
        assert!(recognise(Kind::SfmcEns, &req("POST", "/e", &none, sfmc_event)).is_none());
    }
}
