//! Reading a connection's first request head ourselves, so a client that is slower than
//! `header_timeout` gets `408` before the connection closes (hyper's own header timeout only
//! closes). The bytes read are replayed to hyper through [`Rewind`].

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

/// A head larger than this is handed to hyper as is (which answers 431 when it is too big).
const MAX_HEAD: usize = 64 * 1024;

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
    /// The head (or the HTTP/2 preface) arrived; replay it to hyper.
    Ready(Rewind<S>),
    /// The client closed before sending a head.
    Closed,
    /// `header_timeout` passed: a 408 was written and the stream should be dropped.
    TimedOut,
}

/// Reads until the end of the first request head (`\r\n\r\n`) within `timeout`.
pub async fn read_head<S>(mut stream: S, timeout: Duration) -> io::Result<Head<S>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    // Read straight into the heap buffer: a stack array here would live in the connection
    // task's future for the connection's whole life.
    let mut buf: Vec<u8> = Vec::with_capacity(2048);
    let read = async {
        loop {
            if buf.capacity() == buf.len() {
                buf.reserve(buf.len());
            }
            let from = buf.len().saturating_sub(3);
            let n = stream.read_buf(&mut buf).await?;
            if n == 0 {
                return Ok::<bool, io::Error>(false);
            }
            if buf[from..].windows(4).any(|w| w == b"\r\n\r\n") || buf.len() >= MAX_HEAD {
                return Ok(true);
            }
        }
    };
    match tokio::time::timeout(timeout, read).await {
        Ok(Ok(true)) => Ok(Head::Ready(Rewind {
            prefix: buf,
            pos: 0,
            inner: stream,
            read: Arc::default(),
        })),
        Ok(Ok(false)) => Ok(Head::Closed),
        Ok(Err(e)) => Err(e),
        Err(_) => {
            // Best effort: the client may already be gone.
            let _ = tokio::time::timeout(Duration::from_secs(1), async {
                stream
                    .write_all(&raw_error(
                        http::StatusCode::REQUEST_TIMEOUT,
                        "request timeout",
                    ))
                    .await?;
                stream.shutdown().await
            })
            .await;
            Ok(Head::TimedOut)
        }
    }
}

/// A stream that first yields bytes already read from it.
pub struct Rewind<S> {
    prefix: Vec<u8>,
    pos: usize,
    inner: S,
    read: Arc<AtomicU64>,
}

impl<S> Rewind<S> {
    /// A counter of every byte handed to the reader so far (replayed ones included): compared
    /// with the count when the last request finished, it tells a half-sent request head from
    /// an idle keep-alive connection.
    pub fn bytes_read(&self) -> Arc<AtomicU64> {
        self.read.clone()
    }

    /// Whether the bytes still to replay start with `bytes` (e.g. the HTTP/2 preface).
    pub fn starts_with(&self, bytes: &[u8]) -> bool {
        self.prefix[self.pos..].starts_with(bytes)
    }

    /// A stream with nothing to replay.
    pub fn new(inner: S) -> Self {
        Rewind {
            prefix: Vec::new(),
            pos: 0,
            inner,
            read: Arc::default(),
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Rewind<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.pos < self.prefix.len() {
            let n = buf.remaining().min(self.prefix.len() - self.pos);
            let start = self.pos;
            buf.put_slice(&self.prefix[start..start + n]);
            self.pos += n;
            if self.pos == self.prefix.len() {
                self.prefix = Vec::new();
                self.pos = 0;
            }
            self.read.fetch_add(n as u64, Ordering::Relaxed);
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len().saturating_sub(before);
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        polled
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
        Pin::new(&mut self.inner).poll_shutdown(cx)
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
