//! Verified requests reach the upstream exactly as sent (method, path, query, body bytes,
//! signature headers), with hop-by-hop headers removed and only hookguard's own marks and
//! `x-forwarded-*` values; the upstream's answer comes back unchanged.

// Helpers unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::net::*;

/// One GitHub-signed route `gh` at `/hook` to `upstream`; `route_extra` is more route keys,
/// each line indented by four spaces.
fn github(upstream: &str, route_extra: &str) -> String {
    format!(
        "listen: \"127.0.0.1:0\"\nroutes:\n  - name: gh\n    path: /hook\n    upstream: {upstream}\n{route_extra}    verify:\n      scheme: github\n      secrets:\n        - id: k1\n          value: s3cr3t-value\n"
    )
}

/// Posts `body` signed for route `gh` to `path` and returns what the upstream received.
async fn deliver(proxy: &Proxy, up: &Upstream, path: &str, body: &[u8]) -> Received {
    let before = up.count();
    let signed = proxy.sign("gh", None, body, now_s());
    let url = format!("{}{path}", proxy.url());
    let (status, _, resp) = post(&url, &signed, body.to_vec()).await;
    assert_eq!(status, StatusCode::OK, "{resp:?}");
    assert_eq!(up.count(), before + 1);
    up.last().unwrap()
}

#[tokio::test]
async fn passes_the_upstreams_status_headers_and_body_through_unchanged() {
    for status in [StatusCode::CREATED, StatusCode::INTERNAL_SERVER_ERROR] {
        let up = Upstream::start_with(status, Duration::ZERO).await;
        let proxy = Proxy::start(&github(&up.url(), ""), &[]).await;
        let signed = proxy.sign("gh", None, b"{}", now_s());
        let (got, headers, body) = post(&format!("{}/hook", proxy.url()), &signed, "{}").await;
        assert_eq!(got, status);
        assert_eq!(headers.get("x-upstream").unwrap(), "yes");
        assert_eq!(headers.get("content-length").unwrap(), "11");
        assert_eq!(&body[..], b"upstream-ok");
        assert_eq!(up.count(), 1);
    }
}

#[tokio::test]
async fn forwards_a_body_with_every_byte_value_byte_for_byte() {
    let up = Upstream::start().await;
    let proxy = Proxy::start(&github(&up.url(), ""), &[]).await;
    let body: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
    let got = deliver(&proxy, &up, "/hook", &body).await;
    assert_eq!(&got.body[..], &body[..]);
    assert_eq!(got.headers.get("content-length").unwrap(), "512");
}

#[tokio::test]
async fn forwards_a_one_mebibyte_body_when_the_route_allows_it() {
    let up = Upstream::start().await;
    let proxy = Proxy::start(&github(&up.url(), "    max_body_bytes: 2097152\n"), &[]).await;
    let body: Vec<u8> = (0..1024 * 1024)
        .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let got = deliver(&proxy, &up, "/hook", &body).await;
    assert_eq!(got.body.len(), body.len());
    assert!(got.body == body, "1 MiB body changed on the way");
}

#[tokio::test]
async fn forwards_an_empty_body() {
    let up = Upstream::start().await;
    let proxy = Proxy::start(&github(&up.url(), ""), &[]).await;
    let got = deliver(&proxy, &up, "/hook", b"").await;
    assert!(got.body.is_empty());
    assert_eq!(got.method, "POST");
}

#[tokio::test]
async fn keeps_method_path_query_and_signature_headers_unchanged() {
    let up = Upstream::start().await;
    let proxy = Proxy::start(&github(&up.url(), ""), &[]).await;
    let body = b"{\"event\":\"put\"}";
    let mut headers = proxy.sign("gh", None, body, now_s());
    let signature = headers[0].1.clone();
    headers.push(("X-Custom".into(), "  kept as is  ".into()));
    let url = format!("{}/hook/sub/item?b=2&a=%20x&a=1", proxy.url());
    let (status, _, _) = send("PUT", &url, &headers, &body[..]).await;
    assert_eq!(status, StatusCode::OK);
    let got = up.last().unwrap();
    assert_eq!(got.method, "PUT");
    assert_eq!(got.uri, "/hook/sub/item?b=2&a=%20x&a=1");
    assert_eq!(
        got.headers.get("x-hub-signature-256").unwrap(),
        signature.as_str()
    );
    assert_eq!(got.headers.get("x-custom").unwrap(), "kept as is");
    assert_eq!(&got.body[..], body);
}

#[tokio::test]
async fn replaces_every_forged_hookguard_and_forwarded_header() {
    let up = Upstream::start().await;
    let proxy = Proxy::start(&github(&up.url(), ""), &[]).await;
    let mut headers = proxy.sign("gh", None, b"{}", now_s());
    headers.extend(hdrs(&[
        ("x-hookguard-verified", "forged"),
        ("x-hookguard-route", "forged"),
        ("x-hookguard-secret-id", "forged"),
        ("x-hookguard-anything", "forged"),
        ("x-forwarded-for", "203.0.113.9"),
        ("X-Forwarded-Proto", "https"),
        ("x-forwarded-host", "evil.example"),
    ]));
    let (status, _, _) = post(&format!("{}/hook", proxy.url()), &headers, "{}").await;
    assert_eq!(status, StatusCode::OK);
    let got = up.last().unwrap();
    let only = |name: &str| {
        let values: Vec<_> = got
            .headers
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        assert_eq!(values.len(), 1, "{name}: {values:?}");
        values.into_iter().next().unwrap()
    };
    assert_eq!(only("x-hookguard-verified"), "true");
    assert_eq!(only("x-hookguard-route"), "gh");
    assert_eq!(only("x-hookguard-secret-id"), "k1");
    assert_eq!(only("x-forwarded-for"), "127.0.0.1");
    assert_eq!(only("x-forwarded-proto"), "http");
    assert_eq!(only("x-forwarded-host"), proxy.addr.to_string());
    assert!(got.headers.get("x-hookguard-anything").is_none());
    assert!(!format!("{:?}", got.headers).contains("forged"));
}

#[tokio::test]
async fn does_not_forward_hop_by_hop_headers() {
    let up = Upstream::start().await;
    let proxy = Proxy::start(&github(&up.url(), ""), &[]).await;
    let signed = proxy.sign("gh", None, b"{}", now_s());
    let (sig_name, sig) = &signed[0];
    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    let head = format!(
        "POST /hook HTTP/1.1\r\nHost: {}\r\n{sig_name}: {sig}\r\nConnection: close, x-foo\r\nx-foo: bar\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\nUpgrade: websocket\r\nProxy-Connection: keep-alive\r\nx-end-to-end: yes\r\nContent-Length: 2\r\n\r\n{{}}",
        proxy.addr
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let raw = read_until_close(&mut stream, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(RawResponse::parse(&raw).status, 200);
    let got = up.last().unwrap();
    for name in [
        "connection",
        "x-foo",
        "keep-alive",
        "te",
        "upgrade",
        "proxy-connection",
    ] {
        assert!(
            got.headers.get(name).is_none(),
            "{name} reached the upstream: {:?}",
            got.headers
        );
    }
    assert_eq!(got.headers.get("x-end-to-end").unwrap(), "yes");
    assert_eq!(&got.body[..], b"{}");
}

#[tokio::test]
async fn adds_a_request_id_when_absent_and_keeps_the_senders() {
    let up = Upstream::start().await;
    let proxy = Proxy::start(&github(&up.url(), ""), &[]).await;
    let added = deliver(&proxy, &up, "/hook", b"{}").await;
    assert!(!added.headers.get("x-request-id").unwrap().is_empty());
    let mut headers = proxy.sign("gh", None, b"{}", now_s());
    headers.push(("X-Request-Id".into(), "sender-42".into()));
    let (status, _, _) = post(&format!("{}/hook", proxy.url()), &headers, "{}").await;
    assert_eq!(status, StatusCode::OK);
    let kept = up.last().unwrap();
    let ids: Vec<_> = kept.headers.get_all("x-request-id").iter().collect();
    assert_eq!(ids, ["sender-42"]);
}

#[tokio::test]
async fn routes_to_the_longest_matching_prefix() {
    let (short, long) = (Upstream::start().await, Upstream::start().await);
    let yaml = format!(
        "listen: \"127.0.0.1:0\"\nroutes:\n  - name: all\n    path: /webhooks\n    upstream: {}\n    verify: {{scheme: api-key, secrets: [{{id: a, value: key-a}}]}}\n  - name: expedia\n    path: /webhooks/expedia\n    upstream: {}\n    verify: {{scheme: api-key, secrets: [{{id: e, value: key-e}}]}}\n",
        short.url(),
        long.url()
    );
    let proxy = Proxy::start(&yaml, &[]).await;
    let key = |k: &str| hdrs(&[("x-api-key", k)]);
    let url = |p: &str| format!("{}{p}", proxy.url());
    assert_eq!(
        post(&url("/webhooks/expedia/booking"), &key("key-e"), "")
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        post(&url("/webhooks/expedia"), &key("key-e"), "").await.0,
        StatusCode::OK
    );
    assert_eq!((short.count(), long.count()), (0, 2));
    // Not a segment of /webhooks/expedia: the shorter route takes it, with its own key.
    assert_eq!(
        post(&url("/webhooks/expediax"), &key("key-e"), "").await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        post(&url("/webhooks/expediax"), &key("key-a"), "").await.0,
        StatusCode::OK
    );
    assert_eq!((short.count(), long.count()), (1, 2));
    assert_eq!(
        short
            .last()
            .unwrap()
            .headers
            .get("x-hookguard-route")
            .unwrap(),
        "all"
    );
}

#[tokio::test]
async fn answers_probe_methods_itself_without_forwarding() {
    let up = Upstream::start().await;
    let proxy = Proxy::start(&github(&up.url(), "    probe_methods: [GET]\n"), &[]).await;
    let (status, _, body) = get(&format!("{}/hook", proxy.url())).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!body.is_empty());
    // Only the probe method is exempt: an unsigned POST is still rejected.
    let (status, _, _) = post(&format!("{}/hook", proxy.url()), &[], "{}").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(up.count(), 0);
}

#[tokio::test]
async fn report_only_forwards_a_bad_signature_marked_unverified() {
    let up = Upstream::start().await;
    let proxy = Proxy::start(&github(&up.url(), "    mode: report-only\n"), &[]).await;
    let mut headers = hdrs(&[("X-Hub-Signature-256", &format!("sha256={}", "0".repeat(64)))]);
    headers.push(("x-hookguard-secret-id".into(), "forged".into()));
    headers.push(("x-hookguard-verified".into(), "true".into()));
    let (status, headers_back, _) = post(&format!("{}/hook", proxy.url()), &headers, "{}").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers_back.get("x-upstream").unwrap(), "yes");
    let got = up.last().unwrap();
    assert_eq!(got.headers.get("x-hookguard-verified").unwrap(), "false");
    assert_eq!(got.headers.get("x-hookguard-route").unwrap(), "gh");
    assert!(got.headers.get("x-hookguard-secret-id").is_none());
    // A valid one in report-only mode is marked verified with its secret.
    let got = deliver(&proxy, &up, "/hook", b"{}").await;
    assert_eq!(got.headers.get("x-hookguard-verified").unwrap(), "true");
    assert_eq!(got.headers.get("x-hookguard-secret-id").unwrap(), "k1");
}

/// An Expedia route at `/webhooks/expedia` whose check holds `secrets` (id, value).
fn expedia(upstream: &str, secrets: &[(&str, &str)]) -> String {
    let secrets: String = secrets
        .iter()
        .map(|(id, value)| format!("        - {{id: \"{id}\", value: \"{value}\"}}\n"))
        .collect();
    format!(
        "listen: \"127.0.0.1:0\"\nroutes:\n  - name: expedia\n    path: /webhooks/expedia\n    upstream: {upstream}\n    verify:\n      scheme: expedia\n      secrets:\n{secrets}"
    )
}

#[tokio::test]
async fn accepts_the_expedia_rotation_header_while_either_secret_is_configured() {
    const NEW: (&str, &str) = ("2026-11", "new-expedia-secret");
    const OLD: (&str, &str) = ("2025-11", "old-expedia-secret");
    const OTHER: (&str, &str) = ("other", "unrelated-secret");
    let body = br#"{"notification":"booking.created"}"#;
    let ts = now_s();
    // Sign with each secret, then build the header Expedia sends during rotation.
    let signer = Proxy::start(&expedia("http://127.0.0.1:1", &[NEW, OLD]), &[]).await;
    let (new_sig, old_sig) = (
        signer.sign("expedia", Some(NEW.0), body, ts),
        signer.sign("expedia", Some(OLD.0), body, ts),
    );
    let header = |h: &[(String, String)]| {
        h.iter()
            .find(|(n, _)| n == "x-eg-notification-signature-v2")
            .unwrap()
            .1
            .clone()
    };
    let old_bare = header(&old_sig).strip_prefix("sha256=").unwrap().to_owned();
    let rotation = format!("{},{old_bare}", header(&new_sig));
    let headers = hdrs(&[
        ("x-eg-notification-timestamp", &ts.to_string()),
        ("x-eg-notification-signature-v2", &rotation),
    ]);
    for (secrets, want) in [
        (&[NEW][..], Some(&[NEW.0][..])),
        (&[OLD][..], Some(&[OLD.0][..])),
        (&[OLD, NEW][..], Some(&[OLD.0, NEW.0][..])),
        (&[OTHER][..], None),
    ] {
        let up = Upstream::start().await;
        let proxy = Proxy::start(&expedia(&up.url(), secrets), &[]).await;
        let (status, _, _) = post(
            &format!("{}/webhooks/expedia", proxy.url()),
            &headers,
            &body[..],
        )
        .await;
        match want {
            Some(ids) => {
                assert_eq!(status, StatusCode::OK, "secrets {secrets:?}");
                let id = up
                    .last()
                    .unwrap()
                    .headers
                    .get("x-hookguard-secret-id")
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .to_owned();
                assert!(ids.contains(&id.as_str()), "secret id {id} for {secrets:?}");
            }
            None => {
                assert_eq!(status, StatusCode::UNAUTHORIZED);
                assert_eq!(up.count(), 0);
            }
        }
    }
}

#[tokio::test]
async fn requires_every_check_and_joins_their_secret_ids() {
    let up = Upstream::start().await;
    let yaml = format!(
        "listen: \"127.0.0.1:0\"\nroutes:\n  - name: both\n    path: /hook\n    upstream: {}\n    verify:\n      - scheme: api-key\n        header: Authorization\n        secrets: [{{id: bearer-1, value: tok-123}}]\n      - scheme: expedia\n        secrets: [{{id: eg-1, value: eg-secret}}]\n",
        up.url()
    );
    let proxy = Proxy::start(&yaml, &[]).await;
    let body = b"{\"x\":1}";
    let signed = proxy.sign("both", None, body, now_s());
    let bearer = ("Authorization".to_owned(), "Bearer tok-123".to_owned());
    let url = format!("{}/hook", proxy.url());
    let with = |extra: &[(String, String)], auth: Option<&str>| {
        let mut h = extra.to_vec();
        if let Some(a) = auth {
            h.push(("Authorization".into(), a.into()));
        }
        h
    };
    assert_eq!(
        post(&url, &signed, &body[..]).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        post(&url, &[bearer], &body[..]).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        post(&url, &with(&signed, Some("Bearer wrong")), &body[..])
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(up.count(), 0);
    let (status, _, _) = post(
        &url,
        &with(&signed, Some("Bearer tok-123")),
        Bytes::from_static(body),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let got = up.last().unwrap();
    assert_eq!(
        got.headers.get("x-hookguard-secret-id").unwrap(),
        "bearer-1,eg-1"
    );
    assert_eq!(got.headers.get("authorization").unwrap(), "Bearer tok-123");
}

/// Sends `body` signed for route `route` in `pieces` writes with pauses between them, so
/// hyper hands it on as several frames; returns the status code.
async fn deliver_in_pieces(
    proxy: &Proxy,
    route: &str,
    path: &str,
    body: &[u8],
    pieces: usize,
) -> u16 {
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (name, value) in proxy.sign(route, None, body, now_s()) {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    for piece in body.chunks(body.len().div_ceil(pieces)) {
        stream.write_all(piece).await.unwrap();
        stream.flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    RawResponse::parse(
        &read_until_close(&mut stream, Duration::from_secs(5))
            .await
            .unwrap(),
    )
    .status
}

#[tokio::test]
async fn a_body_that_arrives_in_pieces_is_verified_and_forwarded_whole_on_every_kind_of_route() {
    let up = Upstream::start().await;
    // github only feeds the body to its HMAC (kept as its chunks); slack has a handshake
    // that reads the body, so its route joins the chunks first.
    let yaml = format!(
        "{}  - name: sl\n    path: /slack\n    upstream: {}\n    verify:\n      scheme: slack\n      \
         secrets:\n        - id: k1\n          value: s3cr3t-value\n",
        github(&up.url(), ""),
        up.url()
    );
    let proxy = Proxy::start(&yaml, &[]).await;
    let body: Vec<u8> = (0..48 * 1024).map(|i: u32| b'a' + (i % 26) as u8).collect();
    for (route, path) in [("gh", "/hook"), ("sl", "/slack")] {
        assert_eq!(
            deliver_in_pieces(&proxy, route, path, &body, 4).await,
            200,
            "{route}"
        );
        let got = up.last().unwrap();
        assert!(got.body == body, "{route}: body changed on the way");
        assert_eq!(got.headers.get("content-length").unwrap(), "49152");
    }
    // One byte changed in the last piece: refused on both.
    let mut bad = body.clone();
    for (route, path) in [("gh", "/hook"), ("sl", "/slack")] {
        let signed_for = proxy.sign(route, None, &body, now_s());
        let last = bad.len() - 1;
        bad[last] ^= 1;
        let mut head = format!(
            "POST {path} HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\nconnection: close\r\n",
            bad.len()
        );
        for (name, value) in signed_for {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(&bad[..bad.len() / 2]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(30)).await;
        stream.write_all(&bad[bad.len() / 2..]).await.unwrap();
        let status = RawResponse::parse(
            &read_until_close(&mut stream, Duration::from_secs(5))
                .await
                .unwrap(),
        )
        .status;
        assert_eq!(status, 401, "{route}");
        bad[last] ^= 1;
    }
    assert_eq!(up.count(), 2);
}
