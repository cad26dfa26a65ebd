//! Why a check rejected a request: the verdict vocabulary shared by header extraction,
//! verification, metrics and logs.

/// Why a check rejected a request. The names are the `result` label of
/// `hookguard_verifications_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    /// A signature, timestamp, id or key header is absent.
    Missing,
    /// A header is present but cannot be read (bad encoding, duplicated line, bad timestamp).
    Malformed,
    /// Well-formed, but no signature matches any active secret.
    Invalid,
    /// The signed timestamp is outside the route's tolerance.
    Stale,
    /// No secret of the check is active now: every request is rejected.
    NoActiveSecret,
}

impl Reason {
    /// The metric label and log word.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Missing => "missing",
            Reason::Malformed => "malformed",
            Reason::Invalid => "invalid",
            Reason::Stale => "stale",
            Reason::NoActiveSecret => "no_active_secret",
        }
    }

    /// Of two failures, the one that got further (a signature that did not match says more
    /// than a header that was absent): what an `any:` check reports when every option failed.
    pub fn closer(self, other: Reason) -> Reason {
        let rank = |r: Reason| match r {
            Reason::Invalid => 4,
            Reason::Stale => 3,
            Reason::Malformed => 2,
            Reason::Missing => 1,
            Reason::NoActiveSecret => 0,
        };
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }
}
