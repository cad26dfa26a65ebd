//! What is sent: the JSON bodies, their GitHub-style signatures, the TLS certificate every
//! TLS listener shares, and the raw HMAC-SHA256 speed the 1 MiB figures are judged against.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use base64::Engine as _;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The one secret every verifier is configured with (a benchmark value, not a real secret).
pub const SECRET: &str = "bench-secret-not-real";
/// Signs the "invalid" scenario: a well-formed signature under the wrong key.
const WRONG_SECRET: &str = "some-other-secret-value";

/// A request body together with the `X-Hub-Signature-256` value sent with it.
#[derive(Clone)]
pub struct Payload {
    /// The body bytes, sent unchanged on every request.
    pub body: Bytes,
    /// `sha256=<hex>`, valid or not depending on how the payload was made.
    pub signature: String,
    /// Whether the signature is made with the configured secret.
    pub valid: bool,
}

impl Payload {
    /// A JSON body of exactly `len` bytes, signed with the bench secret or, when `valid` is
    /// false, with another key (the attack case: well-formed, wrong MAC).
    pub fn new(len: usize, valid: bool) -> Result<Self> {
        let body = json_body(len);
        let key = if valid { SECRET } else { WRONG_SECRET };
        let signature = sign(key, &body)?;
        Ok(Self {
            body: Bytes::from(body),
            signature,
            valid,
        })
    }
}

fn json_body(len: usize) -> Vec<u8> {
    let head = br#"{"action":"bench","delivery":1,"pad":""#;
    let tail = br#""}"#;
    let mut body = head.to_vec();
    body.resize(len.max(head.len() + tail.len()) - tail.len(), b'x');
    body.extend_from_slice(tail);
    body
}

fn sign(key: &str, body: &[u8]) -> Result<String> {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(key.as_bytes()).map_err(|e| anyhow!("hmac key: {e}"))?;
    mac.update(body);
    Ok(format!(
        "sha256={}",
        hex::encode(mac.finalize().into_bytes())
    ))
}

/// The secret as haproxy's `hmac()` converter wants it: base64.
pub fn secret_base64() -> String {
    base64::engine::general_purpose::STANDARD.encode(SECRET)
}

/// CPU microseconds one core needs for HMAC-SHA256 over 1 MiB (sha2 crate, this process),
/// measured for about `budget`: the ceiling a verifying proxy can approach.
pub fn hmac_us_per_mib(budget: Duration) -> Result<f64> {
    let body = vec![b'x'; 1 << 20];
    let start = Instant::now();
    let mut rounds = 0u32;
    while start.elapsed() < budget || rounds < 3 {
        std::hint::black_box(sign(SECRET, std::hint::black_box(&body))?);
        rounds += 1;
    }
    Ok(start.elapsed().as_secs_f64() * 1e6 / f64::from(rounds))
}

/// PEM files of one self-signed certificate for `localhost` and `127.0.0.1`.
pub struct Cert {
    /// The certificate, PEM.
    pub cert: PathBuf,
    /// The private key, PEM (PKCS#8).
    pub key: PathBuf,
    /// Certificate followed by key, as haproxy's `crt` wants it.
    pub combined: PathBuf,
    /// The certificate, DER, for the built-in client's trust store.
    pub der: Vec<u8>,
}

/// Make the certificate with rcgen and write its files into `dir`.
pub fn write_cert(dir: &Path) -> Result<Cert> {
    let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    let made = rcgen::generate_simple_self_signed(names).context("rcgen")?;
    let (cert_pem, key_pem) = (made.cert.pem(), made.signing_key.serialize_pem());
    let cert = Cert {
        cert: dir.join("server.crt"),
        key: dir.join("server.key"),
        combined: dir.join("server.pem"),
        der: made.cert.der().to_vec(),
    };
    std::fs::write(&cert.cert, &cert_pem)?;
    std::fs::write(&cert.key, &key_pem)?;
    std::fs::write(&cert.combined, format!("{cert_pem}{key_pem}"))?;
    Ok(cert)
}
