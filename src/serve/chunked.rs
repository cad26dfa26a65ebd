//! Where a chunked body ends, so the next head on the connection is checked from its first
//! byte. The grammar is hyper's (hex size, optional whitespace and `;extensions`, CRLF, data,
//! CRLF, ..., `0`, trailer lines, CRLF), minus what two parsers could read differently: a
//! bare LF or a NUL anywhere is refused. Wherever hyper would accept, both find the same end;
//! wherever either refuses, the connection ends.

use crate::serve::framing::Refusal;

/// The position inside a chunked body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chunked {
    /// Reading a chunk size; `digits` so far.
    Size {
        /// Hex digits read.
        digits: u8,
        /// Their value.
        value: u64,
    },
    /// Whitespace after the size.
    SizeWs(u64),
    /// A chunk extension, up to CR.
    Ext(u64),
    /// The LF after a size line.
    SizeLf(u64),
    /// Chunk data still to come.
    Data(u64),
    /// The CR after chunk data.
    DataCr,
    /// The LF after chunk data.
    DataLf,
    /// The start of a trailer line, or the final CRLF.
    LineStart,
    /// Inside a trailer line.
    Trailer,
    /// The LF ending a trailer line.
    TrailerLf,
    /// The LF of the final CRLF.
    EndLf,
}

impl Default for Chunked {
    fn default() -> Self {
        Chunked::Size {
            digits: 0,
            value: 0,
        }
    }
}

impl Chunked {
    /// Reads `bytes` of the body: how many belong to it and whether it ended there (the
    /// rest belongs to the next head), or, when a byte is refused, how many came before it.
    pub fn advance(&mut self, bytes: &[u8]) -> Result<(usize, bool), (usize, Refusal)> {
        let mut i = 0;
        while i < bytes.len() {
            if let Chunked::Data(left) = *self {
                let take = left.min((bytes.len() - i) as u64);
                i += take as usize;
                *self = if take == left {
                    Chunked::DataCr
                } else {
                    Chunked::Data(left - take)
                };
                continue;
            }
            let done = self.step(bytes[i]).map_err(|r| (i, r))?;
            i += 1;
            if done {
                return Ok((i, true));
            }
        }
        Ok((i, false))
    }

    /// One byte outside chunk data; `true` when it was the body's last.
    fn step(&mut self, b: u8) -> Result<bool, Refusal> {
        use Chunked::*;
        if b == 0 {
            return Err(Refusal::BadChunk);
        }
        *self = match (*self, b) {
            (Size { digits, value }, _) if b.is_ascii_hexdigit() => {
                let digit = u64::from((b as char).to_digit(16).unwrap_or(0));
                let value = value
                    .checked_mul(16)
                    .and_then(|v| v.checked_add(digit))
                    .ok_or(Refusal::BadChunk)?;
                Size {
                    digits: digits.saturating_add(1),
                    value,
                }
            }
            (Size { digits: 0, .. }, _) => return Err(Refusal::BadChunk),
            (Size { value, .. } | SizeWs(value), b' ' | b'\t') => SizeWs(value),
            (Size { value, .. } | SizeWs(value), b';') => Ext(value),
            (Size { value, .. } | SizeWs(value) | Ext(value), b'\r') => SizeLf(value),
            (Ext(_), b'\n') => return Err(Refusal::BadChunk),
            (Ext(value), _) => Ext(value),
            (SizeLf(0), b'\n') => LineStart,
            (SizeLf(value), b'\n') => Data(value),
            (DataCr, b'\r') => DataLf,
            (DataLf, b'\n') => Chunked::default(),
            (LineStart, b'\r') => EndLf,
            (LineStart | Trailer, b'\n') => return Err(Refusal::BadChunk),
            (Trailer, b'\r') => TrailerLf,
            (LineStart | Trailer, _) => Trailer,
            (TrailerLf, b'\n') => LineStart,
            (EndLf, b'\n') => return Ok(true),
            _ => return Err(Refusal::BadChunk),
        };
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn end(body: &[u8]) -> Result<Option<usize>, Refusal> {
        let mut c = Chunked::default();
        let (n, done) = c.advance(body).map_err(|(_, r)| r)?;
        Ok(done.then_some(n))
    }

    #[test]
    fn finds_the_end_of_a_body_with_extensions_and_trailers() {
        let body = b"5;name=v\r\nhello\r\nA \r\n0123456789\r\n0\r\nx-t: 1\r\n\r\nGET /next";
        assert_eq!(end(body), Ok(Some(body.len() - 9)));
        assert_eq!(end(b"0\r\n\r\n"), Ok(Some(5)));
        assert_eq!(end(b"3\r\nab"), Ok(None));
    }

    #[test]
    fn the_end_is_found_whatever_the_split() {
        let body = b"3\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nt: v\r\n\r\n";
        for split in 0..body.len() {
            let mut c = Chunked::default();
            let (a, done) = c.advance(&body[..split]).expect("valid");
            assert!(!done && a == split);
            assert_eq!(c.advance(&body[split..]), Ok((body.len() - split, true)));
        }
    }

    #[test]
    fn a_refused_byte_says_how_many_came_before_it() {
        let mut c = Chunked::default();
        assert_eq!(c.advance(b"3\r\nabcX"), Err((6, Refusal::BadChunk)));
    }

    #[test]
    fn bare_lf_bad_sizes_and_nul_are_refused() {
        for bad in [
            &b"3\nabc\r\n0\r\n\r\n"[..],
            b"3\r\nabc\n0\r\n\r\n",
            b"x\r\n",
            b"\r\n",
            b"3 4\r\n",
            b"3;ext\nabc",
            b"0\r\nt: v\n\r\n",
            b"0\r\n\n",
            b"11111111111111111\r\n",
            b"3\r\nabcX",
            b"0\r\nt:\0\r\n\r\n",
        ] {
            assert_eq!(
                end(bad),
                Err(Refusal::BadChunk),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
