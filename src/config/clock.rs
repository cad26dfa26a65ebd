//! The wall clock and how instants are written. Verification never reads the clock: callers
//! take `now` from here and pass it in.

use crate::verify::secret::UnixMillis;

/// Current time in Unix milliseconds.
pub fn now_ms() -> UnixMillis {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    since.map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Formats Unix milliseconds as RFC 3339 (UTC).
pub fn rfc3339(ms: UnixMillis) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000);
    t.ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| ms.to_string())
}
