//! TLS termination with rcgen-made certificates: HTTP/1.1 and HTTP/2 (ALPN) both forward,
//! the upstream learns `x-forwarded-proto: https`, mTLS turns away a client without a
//! certificate, and plain HTTP on the TLS port fails at once without harming the server.

// Helpers unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode, Version};
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::net::*;

type TlsClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Serves a GitHub route `gh` at `/hook` over TLS (with mTLS when `mtls`), certificates
/// made fresh for this proxy.
async fn tls_proxy(upstream: &str, mtls: bool) -> (Proxy, tempfile::TempDir) {
    let certs = tempfile::tempdir().unwrap();
    write_certs(certs.path());
    let read = |name: &str| std::fs::read(certs.path().join(name)).unwrap();
    let files = [
        ("certs/server.crt", read("server.crt")),
        ("certs/server.key", read("server.key")),
        ("certs/ca.crt", read("ca.crt")),
    ];
    let client_ca = if mtls {
        "  client_ca: certs/ca.crt\n"
    } else {
        ""
    };
    let yaml = format!(
        "listen: \"127.0.0.1:0\"\ntls:\n  cert: certs/server.crt\n  key: certs/server.key\n{client_ca}routes:\n  - name: gh\n    path: /hook\n    upstream: {upstream}\n    verify:\n      scheme: github\n      secrets: [{{id: k1, value: s3cr3t-value}}]\n"
    );
    let extra: Vec<(&str, &[u8])> = files.iter().map(|(n, b)| (*n, b.as_slice())).collect();
    (Proxy::start(&yaml, &extra).await, certs)
}

/// A client trusting `ca.crt` in `certs`, offering only `h2` or only `http/1.1`, presenting
/// `client.crt` when `with_cert`.
fn client(certs: &Path, h2: bool, with_cert: bool) -> TlsClient {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(certs.join("ca.crt")).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let builder = rustls::ClientConfig::builder().with_root_certificates(roots);
    let config = if with_cert {
        let chain = CertificateDer::pem_file_iter(certs.join("client.crt"))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let key = PrivateKeyDer::from_pem_file(certs.join("client.key")).unwrap();
        builder.with_client_auth_cert(chain, key).unwrap()
    } else {
        builder.with_no_client_auth()
    };
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_only();
    let connector = if h2 {
        connector.enable_http2().build()
    } else {
        connector.enable_http1().build()
    };
    Client::builder(TokioExecutor::new())
        .http2_only(h2)
        .build(connector)
}

/// POSTs a signed `{}` to `https://127.0.0.1:PORT/hook` with `extra` headers.
async fn signed_post(
    client: &TlsClient,
    proxy: &Proxy,
    extra: &[(&str, &str)],
) -> Result<(StatusCode, Version, Bytes), String> {
    let mut req = Request::post(format!("https://127.0.0.1:{}/hook", proxy.addr.port()));
    for (name, value) in proxy.sign("gh", None, b"{}", now_s()).iter() {
        req = req.header(name.as_str(), value.as_str());
    }
    for (name, value) in extra {
        req = req.header(*name, *value);
    }
    let resp = client
        .request(req.body(Full::new(Bytes::from_static(b"{}"))).unwrap())
        .await
        .map_err(|e| format!("{e:?}"))?;
    let (status, version) = (resp.status(), resp.version());
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((status, version, body))
}

#[tokio::test]
async fn forwards_over_tls_with_http1_and_marks_the_request_https() {
    let up = Upstream::start().await;
    let (proxy, certs) = tls_proxy(&up.url(), false).await;
    let client = client(certs.path(), false, false);
    let (status, version, body) = signed_post(&client, &proxy, &[("x-forwarded-proto", "http")])
        .await
        .unwrap();
    assert_eq!((status, version), (StatusCode::OK, Version::HTTP_11));
    assert_eq!(&body[..], b"upstream-ok");
    let got = up.last().unwrap();
    let protos: Vec<_> = got.headers.get_all("x-forwarded-proto").iter().collect();
    assert_eq!(protos, ["https"]);
    assert_eq!(&got.body[..], b"{}");
}

#[tokio::test]
async fn forwards_over_tls_with_http2() {
    let up = Upstream::start().await;
    let (proxy, certs) = tls_proxy(&up.url(), false).await;
    let client = client(certs.path(), true, false);
    for _ in 0..2 {
        let (status, version, body) = signed_post(&client, &proxy, &[]).await.unwrap();
        assert_eq!((status, version), (StatusCode::OK, Version::HTTP_2));
        assert_eq!(&body[..], b"upstream-ok");
    }
    assert_eq!(up.count(), 2);
    let got = up.last().unwrap();
    assert_eq!(got.headers.get("x-forwarded-proto").unwrap(), "https");
    assert_eq!(
        got.headers
            .get("x-forwarded-host")
            .unwrap()
            .to_str()
            .unwrap(),
        format!("127.0.0.1:{}", proxy.addr.port())
    );
    assert_eq!(got.headers.get("x-hookguard-secret-id").unwrap(), "k1");
    assert_eq!(&got.body[..], b"{}");
}

#[tokio::test]
async fn rejects_a_client_without_a_certificate_when_client_ca_is_set() {
    let up = Upstream::start().await;
    let (proxy, certs) = tls_proxy(&up.url(), true).await;
    for h2 in [false, true] {
        let anonymous = client(certs.path(), h2, false);
        let result = signed_post(&anonymous, &proxy, &[]).await;
        assert!(
            result.is_err(),
            "served without a client certificate: {result:?}"
        );
    }
    assert_eq!(up.count(), 0);
    for h2 in [false, true] {
        let known = client(certs.path(), h2, true);
        let (status, _, _) = signed_post(&known, &proxy, &[]).await.unwrap();
        assert_eq!(status, StatusCode::OK);
    }
    assert_eq!(up.count(), 2);
}

#[tokio::test]
async fn plain_http_to_the_tls_port_fails_at_once_and_serving_continues() {
    let up = Upstream::start().await;
    let (proxy, certs) = tls_proxy(&up.url(), false).await;
    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    stream
        .write_all(b"POST /hook HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n{}")
        .await
        .unwrap();
    let got = read_until_close(&mut stream, Duration::from_secs(2))
        .await
        .expect("the connection is closed, not left hanging");
    assert!(
        !got.starts_with(b"HTTP/1.1 2"),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
    assert_eq!(up.count(), 0);
    let (status, _, _) = signed_post(&client(certs.path(), false, false), &proxy, &[])
        .await
        .unwrap();
    assert_eq!(status, StatusCode::OK);
}

/// A raw TLS connection (ALPN `http/1.1`) trusting the test CA in `certs`.
async fn raw_tls(certs: &Path, proxy: &Proxy) -> tokio_rustls::client::TlsStream<TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(certs.join("ca.crt")).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let mut config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let tcp = TcpStream::connect(proxy.addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    connector.connect(name, tcp).await.unwrap()
}

#[tokio::test]
async fn over_tls_a_smuggled_second_head_is_refused_after_the_first_answer() {
    use tokio::io::AsyncReadExt;
    let up = Upstream::start().await;
    let (proxy, certs) = tls_proxy(&up.url(), false).await;
    let sig: String = proxy
        .sign("gh", None, b"{}", now_s())
        .iter()
        .map(|(n, v)| format!("{n}: {v}\r\n"))
        .collect();
    let good = format!("POST /hook HTTP/1.1\r\nHost: h\r\n{sig}Content-Length: 2\r\n\r\n{{}}");
    let smuggled = format!("POST /hook HTTP/1.1\r\nHost: h\r\n{sig}Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
    let mut tls = raw_tls(certs.path(), &proxy).await;
    tls.write_all(format!("{good}{smuggled}").as_bytes())
        .await
        .unwrap();
    let mut got = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), tls.read_to_end(&mut got)).await;
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("HTTP/1.1 400 Bad Request"), "{text}");
    assert!(text.ends_with(r#"{"error":"bad request"}"#), "{text}");
    assert_eq!(up.count(), 1);
    // And as the first head on a TLS connection.
    let mut tls = raw_tls(certs.path(), &proxy).await;
    tls.write_all(b"POST /hook HTTP/1.1\nHost: h\n\n")
        .await
        .unwrap();
    let mut got = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), tls.read_to_end(&mut got)).await;
    assert!(
        got.starts_with(b"HTTP/1.1 400"),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
    assert_eq!(up.count(), 1);
}
