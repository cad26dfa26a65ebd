//! HTTP/1.1 framing that two parsers could read differently, refused before hyper (or the
//! upstream) reads a byte of it: every request head on a connection is scanned and checked
//! here first (see `framer`), and only a head that passes is handed on.
//!
//! What hyper 1 / httparse already refuse by themselves (differing or malformed
//! `Content-Length`, a last transfer coding other than `chunked`, obs-fold, NUL and bare CR,
//! a space before the colon) is refused here too, so every such 400 is ours: JSON, counted
//! and logged. What they accept and this refuses: `Content-Length` with `Transfer-Encoding`,
//! repeated equal `Content-Length`s, `Transfer-Encoding` other than exactly `chunked` on one
//! line (`gzip, chunked`, `Chunked`, two lines), bare LF line ends, a missing (HTTP/1.1),
//! repeated or invalid `Host`, and an absolute-form target naming another host than `Host`.
//!
//! A head that passes has exactly one reading of its body's length (`Body`), which is also
//! how `framer` finds where the next head starts.

use http::uri::Authority;

pub use crate::serve::refusal::Refusal;

/// The bounds of `limits:` a head is checked against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeadLimits {
    /// Request line and headers, in bytes.
    pub max_header_bytes: usize,
    /// Header lines.
    pub max_headers: usize,
}

/// How the body after a head that passed is delimited: the one reading both parsers share.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Body {
    /// `Content-Length` bytes (0 when neither header is sent).
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// Scans a head as its bytes arrive, refusing as soon as a byte shows it bad, and finds its
/// end. Each byte is looked at once, so a head sent a byte at a time costs linear time.
/// Empty lines before the request line are allowed (RFC 9112 section 2.2) and count towards
/// the size limit, so they cannot grow the held bytes without bound either.
#[derive(Clone, Debug, Default)]
pub struct HeadScan {
    pos: usize,
    line_start: usize,
    /// Where the request line starts and ends, once it has ended.
    request_line: Option<(usize, usize)>,
    lines: usize,
}

impl HeadScan {
    /// Looks at the bytes of `buf` not seen yet. `Ok(Some(end))`: the head is `buf[..end]`.
    /// `Ok(None)`: more bytes are needed.
    pub fn scan(&mut self, buf: &[u8], limits: HeadLimits) -> Result<Option<usize>, Refusal> {
        while self.pos < buf.len() {
            let at = self.pos;
            match buf[at] {
                0 => return Err(Refusal::ControlByte),
                b'\r' => match buf.get(at + 1) {
                    None => break,
                    Some(b'\n') => {}
                    Some(_) => return Err(Refusal::ControlByte),
                },
                b'\n' if at == 0 || buf[at - 1] != b'\r' => return Err(Refusal::BareLf),
                b'\n' if self.end_of_line(at + 1, limits)? => return Ok(Some(at + 1)),
                b'\n' => {}
                b' ' | b'\t' if at == self.line_start && self.request_line.is_some() => {
                    return Err(Refusal::ObsFold)
                }
                _ => {}
            }
            self.pos += 1;
        }
        self.check_size(buf.len(), limits)?;
        Ok(None)
    }

    /// Whether a request line has begun (anything but empty lines arrived).
    pub fn started(&self, held: usize) -> bool {
        self.request_line.is_some() || held > self.line_start
    }

    /// A line ended just before `next`; `true` when it was the empty line ending the head.
    fn end_of_line(&mut self, next: usize, limits: HeadLimits) -> Result<bool, Refusal> {
        let (start, empty) = (self.line_start, next - self.line_start == 2);
        self.line_start = next;
        match self.request_line {
            None if empty => {}
            None => self.request_line = Some((start, next)),
            Some(_) if empty => return Ok(true),
            Some(_) => {
                self.lines += 1;
                if self.lines > limits.max_headers {
                    return Err(Refusal::TooManyHeaders);
                }
            }
        }
        self.check_size(next, limits)?;
        Ok(false)
    }

    /// 414 when the request line alone passes the limit, 431 when the whole head does.
    fn check_size(&self, len: usize, limits: HeadLimits) -> Result<(), Refusal> {
        let max = limits.max_header_bytes;
        let (start, end) = self.request_line.unwrap_or((self.line_start, len));
        if end - start > max {
            return Err(Refusal::TargetTooLong);
        }
        if len > max {
            return Err(Refusal::HeadTooLarge);
        }
        Ok(())
    }
}

/// Checks a complete head (as [`HeadScan`] delimited it) and says how its body is framed.
pub fn check_head(head: &[u8], limits: HeadLimits) -> Result<Body, Refusal> {
    let lines = head.iter().filter(|&&b| b == b'\n').count();
    let mut slots = vec![httparse::EMPTY_HEADER; lines.min(limits.max_headers + 1)];
    let mut req = httparse::Request::new(&mut slots);
    match req.parse(head) {
        Ok(httparse::Status::Complete(n)) if n == head.len() => {}
        Err(httparse::Error::TooManyHeaders) => return Err(Refusal::TooManyHeaders),
        _ => return Err(Refusal::Malformed),
    }
    let http11 = req.version == Some(1);
    let (mut host, mut hosts, mut length, mut lengths, mut te) = (None, 0, None, 0, 0);
    for h in req.headers.iter() {
        let value = h.value.trim_ascii();
        if h.name.eq_ignore_ascii_case("host") {
            hosts += 1;
            host = Some(value);
        } else if h.name.eq_ignore_ascii_case("content-length") {
            lengths += 1;
            length = Some(value);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            te += 1;
            if value != b"chunked" || !http11 {
                return Err(Refusal::BadTransferEncoding);
            }
        }
    }
    if te > 1 {
        return Err(Refusal::BadTransferEncoding);
    }
    if te == 1 && lengths > 0 {
        return Err(Refusal::LengthAndChunked);
    }
    if lengths > 1 {
        return Err(Refusal::SeveralLengths);
    }
    let host = match (hosts, host) {
        (0, _) if http11 => return Err(Refusal::MissingHost),
        (0, _) => None,
        (1, Some(h)) => Some(authority(h).ok_or(Refusal::BadHost)?),
        _ => return Err(Refusal::RepeatedHost),
    };
    check_target(req.path.unwrap_or(""), host.as_ref())?;
    if te == 1 {
        return Ok(Body::Chunked);
    }
    match length {
        None => Ok(Body::Length(0)),
        Some(v) if v.contains(&b',') => Err(Refusal::SeveralLengths),
        Some(v) if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) => {
            Err(Refusal::BadLength)
        }
        Some(v) => std::str::from_utf8(v)
            .ok()
            .and_then(|s| s.parse().ok())
            .map(Body::Length)
            .ok_or(Refusal::BadLength),
    }
}

/// A `Host` value as an authority: a host and an optional port, no userinfo.
fn authority(value: &[u8]) -> Option<Authority> {
    if value.is_empty() || value.contains(&b'@') {
        return None;
    }
    Authority::try_from(value).ok()
}

/// An absolute-form target must be http(s) and name the `Host` (case-insensitive; ports must
/// agree where both give one). Origin, authority and asterisk forms pass unchanged.
fn check_target(target: &str, host: Option<&Authority>) -> Result<(), Refusal> {
    // Origin form (a query may well hold a URL) and asterisk form name no host.
    if target.starts_with('/') || target == "*" {
        return Ok(());
    }
    let lower = target.get(..8).map(str::to_ascii_lowercase);
    let absolute = lower
        .as_deref()
        .is_some_and(|p| p.starts_with("http://") || p == "https://");
    if !absolute {
        if target.contains("://") {
            return Err(Refusal::ForeignTarget);
        }
        return Ok(());
    }
    let uri: http::Uri = target.parse().map_err(|_| Refusal::ForeignTarget)?;
    let (Some(named), Some(host)) = (uri.authority(), host) else {
        return Err(Refusal::ForeignTarget);
    };
    let same_port = match (named.port_u16(), host.port_u16()) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    };
    if named.host().eq_ignore_ascii_case(host.host()) && same_port && !named.as_str().contains('@')
    {
        Ok(())
    } else {
        Err(Refusal::ForeignTarget)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: HeadLimits = HeadLimits {
        max_header_bytes: 256,
        max_headers: 4,
    };

    /// Scans `bytes` one byte at a time (the slowest client), then checks the head.
    fn verdict(bytes: &[u8]) -> Result<Option<Body>, Refusal> {
        let mut scan = HeadScan::default();
        for n in 1..=bytes.len() {
            if let Some(end) = scan.scan(&bytes[..n], LIMITS)? {
                return check_head(&bytes[..end], LIMITS).map(Some);
            }
        }
        Ok(None)
    }

    fn req(headers: &str) -> Vec<u8> {
        format!("POST /hook HTTP/1.1\r\n{headers}\r\n").into_bytes()
    }

    #[test]
    fn a_plain_head_passes_with_its_one_body_length() {
        assert_eq!(verdict(&req("Host: h\r\n")), Ok(Some(Body::Length(0))));
        let len = verdict(&req("Host: h\r\nContent-Length: 012\r\n"));
        assert_eq!(len, Ok(Some(Body::Length(12))));
        let chunked = verdict(&req("Host: h\r\nTransfer-Encoding:  chunked \r\n"));
        assert_eq!(chunked, Ok(Some(Body::Chunked)));
        let leading = [b"\r\n\r\n".as_slice(), &req("Host: h\r\n")].concat();
        assert_eq!(verdict(&leading), Ok(Some(Body::Length(0))));
        let http10 = b"GET / HTTP/1.0\r\n\r\n";
        assert_eq!(verdict(http10), Ok(Some(Body::Length(0))));
        let absolute = b"POST http://H:80/hook HTTP/1.1\r\nHost: h:80\r\n\r\n";
        assert_eq!(verdict(absolute), Ok(Some(Body::Length(0))));
        let url_in_query = b"POST /hook?next=http://other.example/ HTTP/1.1\r\nHost: h\r\n\r\n";
        assert_eq!(verdict(url_in_query), Ok(Some(Body::Length(0))));
        assert_eq!(verdict(b"POST /hook HTTP/1.1\r\nHost: h\r\n"), Ok(None));
    }

    #[test]
    fn every_ambiguous_framing_is_refused() {
        let cases: &[(&[u8], Refusal)] = &[
            (
                &req("Host: h\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n"),
                Refusal::LengthAndChunked,
            ),
            (
                &req("Host: h\r\nContent-Length: 1\r\nContent-Length: 1\r\n"),
                Refusal::SeveralLengths,
            ),
            (
                &req("Host: h\r\nContent-Length: 1, 1\r\n"),
                Refusal::SeveralLengths,
            ),
            (
                &req("Host: h\r\nContent-Length: +1\r\n"),
                Refusal::BadLength,
            ),
            (&req("Host: h\r\nContent-Length: \r\n"), Refusal::BadLength),
            (
                &req("Host: h\r\nContent-Length: 99999999999999999999\r\n"),
                Refusal::BadLength,
            ),
            (
                &req("Host: h\r\nTransfer-Encoding: gzip, chunked\r\n"),
                Refusal::BadTransferEncoding,
            ),
            (
                &req("Host: h\r\nTransfer-Encoding: Chunked\r\n"),
                Refusal::BadTransferEncoding,
            ),
            (
                &req("Host: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"),
                Refusal::BadTransferEncoding,
            ),
            (
                b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
                Refusal::BadTransferEncoding,
            ),
            (&req("Host: h\r\nX-A: b\r\n c\r\n"), Refusal::ObsFold),
            (b"POST /hook HTTP/1.1\nHost: h\n\n", Refusal::BareLf),
            (&req("Host: h\r\nX-A: b\n"), Refusal::BareLf),
            (&req("Host: h\r\nX-A: b\0\r\n"), Refusal::ControlByte),
            (&req("Host: h\r\nX-A: b\rc\r\n"), Refusal::ControlByte),
            (&req("X-A: b\r\n"), Refusal::MissingHost),
            (&req("Host: h\r\nHost: h\r\n"), Refusal::RepeatedHost),
            (&req("Host: a b\r\n"), Refusal::BadHost),
            (&req("Host: u@h\r\n"), Refusal::BadHost),
            (
                b"POST http://other/hook HTTP/1.1\r\nHost: h\r\n\r\n",
                Refusal::ForeignTarget,
            ),
            (
                b"POST http://h:81/hook HTTP/1.1\r\nHost: h:80\r\n\r\n",
                Refusal::ForeignTarget,
            ),
            (
                b"POST ftp://h/hook HTTP/1.1\r\nHost: h\r\n\r\n",
                Refusal::ForeignTarget,
            ),
            (
                &req("Host: h\r\nContent-Length : 1\r\n"),
                Refusal::Malformed,
            ),
            (
                b"POST /hook HTTP/2.0\r\nHost: h\r\n\r\n",
                Refusal::Malformed,
            ),
        ];
        for (bytes, want) in cases {
            assert_eq!(
                verdict(bytes),
                Err(*want),
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
        }
    }

    #[test]
    fn size_and_count_limits_answer_431_or_414_before_the_head_ends() {
        let many = req("Host: h\r\na: 1\r\nb: 1\r\nc: 1\r\nd: 1\r\n");
        assert_eq!(verdict(&many), Err(Refusal::TooManyHeaders));
        let long_value = format!("POST / HTTP/1.1\r\nHost: h\r\nX: {}", "v".repeat(300));
        assert_eq!(verdict(long_value.as_bytes()), Err(Refusal::HeadTooLarge));
        let long_target = format!("POST /{} HTTP/1.1", "t".repeat(300));
        assert_eq!(verdict(long_target.as_bytes()), Err(Refusal::TargetTooLong));
        let empties = "\r\n".repeat(200);
        assert_eq!(verdict(empties.as_bytes()), Err(Refusal::HeadTooLarge));
    }
}
