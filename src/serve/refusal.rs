//! Why the framing layer refused a head or a chunked body, and what the client is answered:
//! the vocabulary `framing`, `chunked`, `framer` and the log share.

/// Why a head (or a chunked body) was refused; `status` is the answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// A line ends in LF without CR before it.
    BareLf,
    /// A header line starts with whitespace (obsolete line folding).
    ObsFold,
    /// NUL, or CR not followed by LF, in the head.
    ControlByte,
    /// httparse refused the request line or a header line.
    Malformed,
    /// `Content-Length` and `Transfer-Encoding` together.
    LengthAndChunked,
    /// More than one `Content-Length` line, or a list in one.
    SeveralLengths,
    /// `Content-Length` that is not 1 to 19 digits.
    BadLength,
    /// `Transfer-Encoding` other than exactly `chunked` on one line, or in HTTP/1.0.
    BadTransferEncoding,
    /// HTTP/1.1 without `Host`.
    MissingHost,
    /// More than one `Host` line.
    RepeatedHost,
    /// A `Host` that is not a host and optional port.
    BadHost,
    /// An absolute-form target whose authority is not the `Host`, or not http(s).
    ForeignTarget,
    /// A chunked body whose framing is malformed.
    BadChunk,
    /// More header lines than `limits.max_headers`.
    TooManyHeaders,
    /// A head longer than `limits.max_header_bytes`.
    HeadTooLarge,
    /// A request line longer than `limits.max_header_bytes`.
    TargetTooLong,
}

impl Refusal {
    /// Every refusal, in a fixed order (their codes are their indices).
    pub const ALL: [Refusal; 16] = [
        Refusal::BareLf,
        Refusal::ObsFold,
        Refusal::ControlByte,
        Refusal::Malformed,
        Refusal::LengthAndChunked,
        Refusal::SeveralLengths,
        Refusal::BadLength,
        Refusal::BadTransferEncoding,
        Refusal::MissingHost,
        Refusal::RepeatedHost,
        Refusal::BadHost,
        Refusal::ForeignTarget,
        Refusal::BadChunk,
        Refusal::TooManyHeaders,
        Refusal::HeadTooLarge,
        Refusal::TargetTooLong,
    ];

    /// The answer: 431 for a too large header section, 414 for a too long target, else 400.
    pub fn status(self) -> http::StatusCode {
        match self {
            Refusal::TooManyHeaders | Refusal::HeadTooLarge => {
                http::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
            }
            Refusal::TargetTooLong => http::StatusCode::URI_TOO_LONG,
            _ => http::StatusCode::BAD_REQUEST,
        }
    }

    /// The client's phrase (fixed, like every error body).
    pub fn phrase(self) -> &'static str {
        match self.status() {
            http::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => "header section too large",
            http::StatusCode::URI_TOO_LONG => "uri too long",
            _ => "bad request",
        }
    }

    /// The log's reason.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::BareLf => "bare LF line end",
            Refusal::ObsFold => "obsolete line folding",
            Refusal::ControlByte => "NUL or bare CR in the head",
            Refusal::Malformed => "malformed request line or header",
            Refusal::LengthAndChunked => "Content-Length with Transfer-Encoding",
            Refusal::SeveralLengths => "several Content-Length values",
            Refusal::BadLength => "malformed Content-Length",
            Refusal::BadTransferEncoding => "Transfer-Encoding other than chunked",
            Refusal::MissingHost => "missing Host",
            Refusal::RepeatedHost => "repeated Host",
            Refusal::BadHost => "invalid Host",
            Refusal::ForeignTarget => "absolute-form target naming another host",
            Refusal::BadChunk => "malformed chunked body",
            Refusal::TooManyHeaders => "too many header lines",
            Refusal::HeadTooLarge => "header section too large",
            Refusal::TargetTooLong => "request line too long",
        }
    }

    /// Its index in [`Refusal::ALL`].
    pub fn code(self) -> u8 {
        Self::ALL.iter().position(|r| *r == self).unwrap_or(0) as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_indices_and_statuses_follow_the_contract() {
        for (i, r) in Refusal::ALL.iter().enumerate() {
            assert_eq!(usize::from(r.code()), i);
        }
        assert_eq!(Refusal::TooManyHeaders.status(), 431);
        assert_eq!(Refusal::HeadTooLarge.status(), 431);
        assert_eq!(Refusal::TargetTooLong.status(), 414);
        assert_eq!(Refusal::BareLf.status(), 400);
        assert_eq!(Refusal::BadChunk.phrase(), "bad request");
    }
}
