//! The framing of one connection as its bytes arrive: every request head is held until it is
//! complete and has passed `framing::check_head`, then handed on with its body, whose end
//! (by `Content-Length`, or `chunked`) says where the next head starts. hyper therefore never
//! parses a head this layer has not checked, the first on the connection or any later one.
//!
//! A refused head ends the stream for hyper at its first byte: hyper finishes the requests
//! before it and closes, and [`Status`] tells the connection's owner which answer to write.
//! A refused chunked body is an error in the middle of that request's body, which the
//! request's own handler answers.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;

use crate::serve::chunked::Chunked;
use crate::serve::framing::{check_head, Body, HeadLimits, HeadScan, Refusal};

/// The first bytes of every HTTP/2 connection (RFC 9113 section 3.4).
pub const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// What the connection's owner can read while hyper owns the stream.
#[derive(Debug, Default)]
pub struct Status {
    /// Part of a head has arrived and is held (a slow head, when hyper times out).
    partial: AtomicBool,
    /// 0, or the refused head's `Refusal::code() + 1`.
    refused: AtomicU8,
    /// The refusal came inside a body: that request's handler answers it.
    in_body: AtomicBool,
    /// The refusal's answer has been written (on the stream's shutdown).
    answered: AtomicBool,
}

impl Status {
    /// Whether an incomplete head is being held.
    pub fn partial(&self) -> bool {
        self.partial.load(Ordering::Relaxed)
    }

    /// The refusal of a head on this connection (`None` for one inside a body).
    pub fn refused_head(&self) -> Option<Refusal> {
        let code = self.refused.load(Ordering::Relaxed);
        let head = !self.in_body.load(Ordering::Relaxed);
        let refusal = Refusal::ALL.get(usize::from(code.checked_sub(1)?)).copied();
        refusal.filter(|_| head)
    }

    /// Whether the refusal's answer was written.
    pub fn answered(&self) -> bool {
        self.answered.load(Ordering::Relaxed)
    }

    /// Marks the refusal's answer written.
    pub fn set_answered(&self) {
        self.answered.store(true, Ordering::Relaxed);
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Waiting for a head; `first` on a fresh connection (where an HTTP/2 preface may come).
    Head {
        first: bool,
    },
    /// Body bytes still to hand on.
    Length(u64),
    Chunked(Chunked),
    /// HTTP/2: everything is handed on unchecked (hyper's h2 is not a line parser).
    Passthrough,
    /// A head or body was refused: nothing after it is handed on.
    Refused,
}

/// One connection's framing state.
#[derive(Debug)]
pub struct Framer {
    limits: HeadLimits,
    /// Read from the socket, not yet handed on; `held[..ready]` has passed.
    held: Vec<u8>,
    ready: usize,
    scan: HeadScan,
    state: State,
    status: Arc<Status>,
}

impl Framer {
    /// A fresh HTTP/1 connection (or one that may start with the HTTP/2 preface).
    pub fn new(limits: HeadLimits) -> Self {
        Self::with_state(limits, State::Head { first: true })
    }

    /// A connection whose protocol needs no framing checks (HTTP/2 chosen by ALPN).
    pub fn passthrough() -> Self {
        let limits = HeadLimits {
            max_header_bytes: 0,
            max_headers: 0,
        };
        Self::with_state(limits, State::Passthrough)
    }

    fn with_state(limits: HeadLimits, state: State) -> Self {
        Framer {
            limits,
            held: Vec::new(),
            ready: 0,
            scan: HeadScan::default(),
            state,
            status: Arc::default(),
        }
    }

    /// The status the connection's owner reads.
    pub fn status(&self) -> Arc<Status> {
        self.status.clone()
    }

    /// The refusal that ended the stream, if one did.
    pub fn refusal(&self) -> Option<Refusal> {
        self.status.refused_head()
    }

    /// Whether the first head has passed (or the HTTP/2 preface arrived).
    pub fn head_ready(&self) -> bool {
        self.ready > 0 || (self.state == State::Passthrough && !self.held.is_empty())
    }

    /// Whether the bytes still to hand on start with `bytes`.
    pub fn starts_with(&self, bytes: &[u8]) -> bool {
        self.held.starts_with(bytes)
    }

    /// Whether the stream is over for hyper after what is ready: a refusal.
    pub fn ended(&self) -> bool {
        self.state == State::Refused && self.ready == 0
    }

    /// Whether the refusal came inside a body (hand hyper an error, not an end).
    pub fn refused_in_body(&self) -> bool {
        self.status.in_body.load(Ordering::Relaxed)
    }

    /// Bytes read from the socket, then checked as far as they go.
    pub fn push(&mut self, bytes: &[u8]) {
        self.held.extend_from_slice(bytes);
        self.advance();
    }

    /// Bytes read straight into hyper's buffer while a body is being read (no copy): how many
    /// of them hyper may have. The rest belongs to the next head and is kept here.
    pub fn body_prefix(&mut self, bytes: &[u8]) -> usize {
        if !self.held.is_empty() || !self.in_body() {
            self.push(bytes);
            return 0;
        }
        let (n, ended) = self.body(bytes);
        if ended || n < bytes.len() {
            self.held.extend_from_slice(&bytes[n..]);
            self.advance();
        }
        n
    }

    /// Checked bytes ready to hand on.
    pub fn ready(&self) -> &[u8] {
        &self.held[..self.ready]
    }

    /// Marks `n` ready bytes handed on.
    pub fn consume(&mut self, n: usize) {
        let n = n.min(self.ready);
        self.held.drain(..n);
        self.ready -= n;
        // An idle keep-alive connection holds nothing here: the few KiB a head took are
        // given back rather than kept for the next one (one allocation per head instead).
        if self.held.is_empty() {
            self.held = Vec::new();
        }
    }

    /// Whether body bytes (or passthrough bytes) may go straight to hyper.
    pub fn in_body(&self) -> bool {
        matches!(
            self.state,
            State::Length(_) | State::Chunked(_) | State::Passthrough
        )
    }

    /// Checks `held[ready..]` as far as it goes.
    fn advance(&mut self) {
        while self.ready < self.held.len() {
            match self.state {
                State::Refused => break,
                State::Passthrough => self.ready = self.held.len(),
                State::Head { first } => {
                    if !self.head(first) {
                        break;
                    }
                }
                State::Length(_) | State::Chunked(_) => {
                    let (n, _) = self.body_at(self.ready);
                    self.ready += n;
                }
            }
        }
        self.update_partial();
    }

    /// Scans the held head; `false` when more bytes are needed or it was refused.
    fn head(&mut self, first: bool) -> bool {
        let window = &self.held[self.ready..];
        if first && self.ready == 0 {
            let n = window.len().min(H2_PREFACE.len());
            if window[..n] == H2_PREFACE[..n] {
                if n == H2_PREFACE.len() {
                    self.state = State::Passthrough;
                    return true;
                }
                return false;
            }
        }
        let end = match self.scan.scan(window, self.limits) {
            Ok(Some(end)) => end,
            Ok(None) => return false,
            Err(r) => return self.refuse(r, false),
        };
        match check_head(&window[..end], self.limits) {
            Ok(body) => {
                self.ready += end;
                self.scan = HeadScan::default();
                self.state = match body {
                    Body::Length(0) => State::Head { first: false },
                    Body::Length(n) => State::Length(n),
                    Body::Chunked => State::Chunked(Chunked::default()),
                };
                true
            }
            Err(r) => self.refuse(r, false),
        }
    }

    /// Body bytes in `held[from..]`: how many belong to the body, and whether it ended.
    fn body_at(&mut self, from: usize) -> (usize, bool) {
        let bytes = std::mem::take(&mut self.held);
        let result = self.body(&bytes[from..]);
        self.held = bytes;
        result
    }

    /// The body's share of `bytes`; at its end the next head is awaited.
    fn body(&mut self, bytes: &[u8]) -> (usize, bool) {
        let (n, ended) = match &mut self.state {
            State::Passthrough => return (bytes.len(), false),
            State::Length(left) => {
                let n = (*left).min(bytes.len() as u64);
                *left -= n;
                (n as usize, *left == 0)
            }
            // The bytes before a refused one are still the body's: handed on, then the end.
            State::Chunked(chunked) => match chunked.advance(bytes) {
                Ok(step) => step,
                Err((n, r)) => {
                    self.refuse(r, true);
                    return (n, false);
                }
            },
            State::Head { .. } | State::Refused => return (0, false),
        };
        if ended {
            self.state = State::Head { first: false };
        }
        (n, ended)
    }

    fn refuse(&mut self, refusal: Refusal, in_body: bool) -> bool {
        self.state = State::Refused;
        self.status.in_body.store(in_body, Ordering::Relaxed);
        self.status
            .refused
            .store(refusal.code() + 1, Ordering::Relaxed);
        self.update_partial();
        false
    }

    fn update_partial(&self) {
        let partial = matches!(self.state, State::Head { .. })
            && self.scan.started(self.held.len() - self.ready);
        self.status.partial.store(partial, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: HeadLimits = HeadLimits {
        max_header_bytes: 1024,
        max_headers: 10,
    };

    #[test]
    fn pipelined_heads_are_each_checked_and_a_bad_one_ends_the_stream_at_its_first_byte() {
        let good = b"POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc";
        let chunked = b"POST /b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nxyz\r\n0\r\n\r\n";
        let bad = b"POST /c HTTP/1.1\r\nHost: h\r\nHost: i\r\n\r\n";
        let stream = [&good[..], chunked, bad].concat();
        for split in [1, 7, 64, stream.len()] {
            let mut framer = Framer::new(LIMITS);
            let mut handed = Vec::new();
            for piece in stream.chunks(split) {
                framer.push(piece);
                let n = framer.ready().len();
                handed.extend_from_slice(framer.ready());
                framer.consume(n);
            }
            assert_eq!(handed, [&good[..], chunked].concat(), "split {split}");
            assert!(framer.ended());
            assert_eq!(framer.refusal(), Some(Refusal::RepeatedHost));
        }
    }

    /// Fuzzing found (fuzz target `head`) that a chunked body refused mid-way handed hyper
    /// a different prefix depending on how the bytes were cut: whole, none of the body;
    /// piecewise, the part before the bad byte. Now both hand on what came before it.
    #[test]
    fn a_body_refused_mid_way_hands_on_the_same_bytes_however_it_is_cut() {
        let stream = b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcdX\r\n0\r\n\r\n";
        let before_bad = stream.iter().position(|&b| b == b'X').expect("X");
        for cut in 1..=stream.len() {
            let mut framer = Framer::new(LIMITS);
            let mut handed = Vec::new();
            for piece in stream.chunks(cut) {
                if framer.in_body() && framer.ready().is_empty() {
                    let n = framer.body_prefix(piece);
                    handed.extend_from_slice(&piece[..n]);
                } else {
                    framer.push(piece);
                }
                handed.extend_from_slice(framer.ready());
                framer.consume(framer.ready().len());
            }
            assert_eq!(handed, &stream[..before_bad], "cut {cut}");
            assert!(framer.ended() && framer.refused_in_body(), "cut {cut}");
        }
    }

    #[test]
    fn body_bytes_read_straight_through_stop_at_the_next_head() {
        let mut framer = Framer::new(LIMITS);
        framer.push(b"POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n");
        let n = framer.ready().len();
        framer.consume(n);
        assert!(framer.in_body());
        assert_eq!(framer.body_prefix(b"ab"), 2);
        assert_eq!(
            framer.body_prefix(b"cdeGET / HTTP/1.1\r\nHost: h\r\n\r\n"),
            3
        );
        assert_eq!(framer.ready(), b"GET / HTTP/1.1\r\nHost: h\r\n\r\n");
        assert!(!framer.status().partial());
        framer.consume(framer.ready().len());
        framer.push(b"GET / HT");
        assert!(framer.status().partial());
    }

    #[test]
    fn the_http2_preface_switches_to_passthrough_and_a_bad_chunk_is_an_error_in_the_body() {
        let mut h2 = Framer::new(LIMITS);
        h2.push(&H2_PREFACE[..10]);
        assert!(!h2.head_ready());
        h2.push(&H2_PREFACE[10..]);
        assert!(h2.head_ready() && h2.in_body());
        let mut framer = Framer::new(LIMITS);
        framer.push(b"POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc");
        assert!(framer.ended() || !framer.ready().is_empty());
        framer.consume(framer.ready().len());
        assert!(framer.ended() && framer.refused_in_body());
        assert_eq!(framer.refusal(), None);
    }
}
