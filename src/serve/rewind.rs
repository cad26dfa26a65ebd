//! Reading a connection's first request head ourselves, so a client that is slower than
//! `header_timeout` gets `408` before the connection closes (hyper's own header timeout only
//! closes), and a head that `framing` refuses gets its 400 (431, 414) without hyper ever
//! parsing it. The bytes read are then handed to hyper through [`Rewind`], which keeps
//! checking every later head on the connection the same way (`framer`).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

use crate::serve::framer::{Framer, Status};
use crate::serve::framing::{HeadLimits, Refusal};

/// A complete JSON error response that closes the connection, written by hand where hyper
/// is not serving the connection (yet): the 408 for a slow head, the 503 over
/// `max_connections`. `content-length` is computed, so it always matches the body.
pub fn raw_error(status: http::StatusCode, phrase: &str) -> Vec<u8> {
    let body = crate::serve::proxy::error_body(phrase);
    format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        status.as_str(),
        status.canonical_reason().unwrap_or(""),
        body.len()
    )
    .into_bytes()
}

/// How reading the first head ended.
pub enum Head<S> {
    /// The head (or the HTTP/2 preface) arrived and passed; hand the stream to hyper.
    Ready(Rewind<S>),
    /// The client closed before sending a head.
    Closed,
    /// `header_timeout` passed: a 408 was written and the stream should be dropped.
    TimedOut,
    /// The head was refused: its 400 (431, 414) was written and the stream should be dropped.
    Refused(Refusal),
}

/// Reads until the first request head is complete and checked, within `timeout`.
pub async fn read_head<S>(
    mut stream: S,
    timeout: Duration,
    limits: HeadLimits,
) -> io::Result<Head<S>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut framer = Framer::new(limits);
    let read = async {
        // Read into the heap: a stack array here would live in the connection task's future
        // for the connection's whole life.
        let mut chunk = Vec::with_capacity(2048);
        loop {
            chunk.clear();
            if stream.read_buf(&mut chunk).await? == 0 {
                return Ok::<bool, io::Error>(false);
            }
            framer.push(&chunk);
            if framer.head_ready() || framer.ended() {
                return Ok(true);
            }
        }
    };
    let answer = match tokio::time::timeout(timeout, read).await {
        Ok(Ok(true)) => match framer.refusal().filter(|_| !framer.head_ready()) {
            None => return Ok(Head::Ready(Rewind::framed(stream, framer))),
            Some(refusal) => Head::Refused(refusal),
        },
        Ok(Ok(false)) => return Ok(Head::Closed),
        Ok(Err(e)) => return Err(e),
        Err(_) => Head::TimedOut,
    };
    let (status, phrase) = match &answer {
        Head::Refused(r) => (r.status(), r.phrase()),
        _ => (http::StatusCode::REQUEST_TIMEOUT, "request timeout"),
    };
    // Best effort: the client may already be gone.
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        stream.write_all(&raw_error(status, phrase)).await?;
        stream.shutdown().await
    })
    .await;
    Ok(answer)
}

/// The stream hyper reads: the bytes already read first, then the socket, every head checked
/// by the [`Framer`] before hyper sees it. After a refused head hyper sees the stream end;
/// on its shutdown (after the answers to the requests before it) the refusal's answer is
/// written.
pub struct Rewind<S> {
    inner: S,
    framer: Framer,
    /// The refusal's answer still to write on shutdown, and how much of it is written.
    answer: Option<(Vec<u8>, usize)>,
}

impl<S> Rewind<S> {
    fn framed(inner: S, framer: Framer) -> Self {
        Rewind {
            inner,
            framer,
            answer: None,
        }
    }

    /// A stream with nothing to check (HTTP/2 chosen by ALPN).
    pub fn new(inner: S) -> Self {
        Self::framed(inner, Framer::passthrough())
    }

    /// What the connection's owner reads once hyper is done: a held partial head, a refusal.
    pub fn status(&self) -> Arc<Status> {
        self.framer.status()
    }

    /// Whether the bytes still to hand on start with `bytes` (e.g. the HTTP/2 preface).
    pub fn starts_with(&self, bytes: &[u8]) -> bool {
        self.framer.starts_with(bytes)
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Rewind<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            let ready = this.framer.ready();
            if !ready.is_empty() {
                let n = buf.remaining().min(ready.len());
                buf.put_slice(&ready[..n]);
                this.framer.consume(n);
                return Poll::Ready(Ok(()));
            }
            if this.framer.ended() {
                if this.framer.refused_in_body() {
                    let e = io::Error::new(io::ErrorKind::InvalidData, "malformed chunked body");
                    return Poll::Ready(Err(e));
                }
                return Poll::Ready(Ok(()));
            }
            // Read into hyper's own buffer; bytes the framer holds back are moved out again.
            let before = buf.filled().len();
            std::task::ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
            let after = buf.filled().len();
            if after == before {
                return Poll::Ready(Ok(()));
            }
            let passed = this.framer.body_prefix(&buf.filled()[before..after]);
            buf.set_filled(before + passed);
            if passed > 0 {
                return Poll::Ready(Ok(()));
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Rewind<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.answer.is_none() && !this.framer.status().answered() {
            if let Some(refusal) = this.framer.refusal() {
                this.answer = Some((raw_error(refusal.status(), refusal.phrase()), 0));
            }
        }
        if let Some((bytes, written)) = &mut this.answer {
            while *written < bytes.len() {
                let n = std::task::ready!(
                    Pin::new(&mut this.inner).poll_write(cx, &bytes[*written..])
                )?;
                if n == 0 {
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                *written += n;
            }
            this.framer.status().set_answered();
        }
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_error_content_length_matches_its_body() {
        let raw = raw_error(
            http::StatusCode::SERVICE_UNAVAILABLE,
            "too many connections",
        );
        let text = String::from_utf8(raw).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 503 Service Unavailable\r\n"));
        assert!(head.contains(&format!("content-length: {}\r\n", body.len())));
        assert_eq!(body, r#"{"error":"too many connections"}"#);
    }
}
