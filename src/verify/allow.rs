//! Where a fetched certificate or key set may come from: `https`, on a host the catalogue
//! names for the provider, or on one of the check's `fetch_allow` hosts instead. A URL is
//! checked here, purely, before anything is fetched; a refused URL is never requested.
//!
//! Host rules: an exact name (`api.paypal.com`), or a pattern whose labels may be `*` (any one
//! DNS label) or `{region}` (one label shaped like an AWS region, `us-east-1`,
//! `us-gov-west-1`, `cn-north-1`: letters, dash-separated words, a number). The catalogue's
//! hosts are reached on port 443 only; a `fetch_allow` entry `host` allows any port of that
//! host and `host:port` that port only.

/// One label of a host pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Label {
    Lit(String),
    Any,
    Region,
}

/// One allowed host.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Rule {
    labels: Vec<Label>,
    /// `None`: any port (a `fetch_allow` entry without one).
    port: Option<u16>,
}

/// The hosts a check may fetch from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Allow {
    rules: Vec<Rule>,
    /// Whether the list is the check's own `fetch_allow` (the provider's path rules, such as
    /// SNS's `.pem`, then no longer apply: the operator named the server).
    pub custom: bool,
}

/// A URL that passed the host rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Located {
    /// The host, lowercase.
    pub host: String,
    /// The path (without the query).
    pub path: String,
}

impl Allow {
    /// The catalogue's hosts for a provider (port 443 only).
    pub fn catalogue(hosts: &[String]) -> Result<Allow, String> {
        Self::parse(hosts, false)
    }

    /// A check's `fetch_allow` list, which replaces the catalogue's.
    pub fn custom(hosts: &[String]) -> Result<Allow, String> {
        if hosts.is_empty() {
            return Err("`fetch_allow` is empty: list at least one host".into());
        }
        Self::parse(hosts, true)
    }

    fn parse(hosts: &[String], custom: bool) -> Result<Allow, String> {
        let rules = hosts
            .iter()
            .map(|h| rule(h, custom))
            .collect::<Result<_, _>>()?;
        Ok(Allow { rules, custom })
    }

    /// The URL's host and path when it is `https` on an allowed host and port, without
    /// credentials or fragment; `None` otherwise.
    pub fn check(&self, url: &str) -> Option<Located> {
        if url.len() > 2048 || url.contains(['@', '#', '\\']) {
            return None;
        }
        let uri: http::Uri = url.parse().ok()?;
        if uri.scheme_str() != Some("https") {
            return None;
        }
        let authority = uri.authority()?;
        let host = authority.host().to_ascii_lowercase();
        let port = authority.port_u16().unwrap_or(443);
        let ok = self
            .rules
            .iter()
            .any(|r| r.port.is_none_or(|p| p == port) && matches(&r.labels, &host));
        ok.then(|| Located {
            host,
            path: uri.path().to_owned(),
        })
    }

    /// The first allowed host as written (`host[:port]`), for a provider whose key URL is
    /// fixed (Google's JWKS) and moves to the first `fetch_allow` host.
    pub fn first_authority(&self) -> Option<String> {
        let rule = self.rules.first()?;
        let host = rule
            .labels
            .iter()
            .map(|l| match l {
                Label::Lit(s) => Some(s.as_str()),
                _ => None,
            })
            .collect::<Option<Vec<&str>>>()?
            .join(".");
        Some(match rule.port {
            Some(p) if p != 443 => format!("{host}:{p}"),
            _ => host,
        })
    }
}

fn rule(entry: &str, custom: bool) -> Result<Rule, String> {
    let entry = entry.trim().to_ascii_lowercase();
    let bad = || format!("`{entry}` is not a host name, `host:port`, or a pattern of labels");
    let (host, port) = match entry.rsplit_once(':') {
        Some((h, p)) if custom => (h, Some(p.parse::<u16>().map_err(|_| bad())?)),
        Some(_) => return Err(bad()),
        None => (entry.as_str(), if custom { None } else { Some(443) }),
    };
    let labels = host
        .split('.')
        .map(|l| match l {
            "*" => Ok(Label::Any),
            "{region}" => Ok(Label::Region),
            l if is_label(l) => Ok(Label::Lit(l.to_owned())),
            _ => Err(bad()),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Rule { labels, port })
}

fn is_label(l: &str) -> bool {
    !l.is_empty()
        && l.len() <= 63
        && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !l.starts_with('-')
        && !l.ends_with('-')
}

fn matches(rule: &[Label], host: &str) -> bool {
    let labels: Vec<&str> = host.split('.').collect();
    labels.len() == rule.len()
        && rule.iter().zip(&labels).all(|(r, l)| match r {
            Label::Lit(want) => want == l,
            Label::Any => is_label(l),
            Label::Region => is_region(l),
        })
}

/// `us-east-1`, `us-gov-west-1`, `cn-northwest-1`, `eusc-de-east-1`: a 2-4 letter prefix,
/// one or more dash-separated words, and a 1-2 digit number. `s3-external-1` is not one.
fn is_region(label: &str) -> bool {
    let parts: Vec<&str> = label.split('-').collect();
    let word = |p: &&str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase());
    let (Some(first), Some(last)) = (parts.first(), parts.last()) else {
        return false;
    };
    parts.len() >= 3
        && (2..=4).contains(&first.len())
        && word(first)
        && parts[1..parts.len() - 1].iter().all(word)
        && (1..=2).contains(&last.len())
        && last.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sns() -> Allow {
        let hosts = [
            "sns.{region}.amazonaws.com",
            "sns.{region}.amazonaws.com.cn",
        ];
        Allow::catalogue(&hosts.map(String::from)).expect("patterns")
    }

    #[test]
    fn sns_hosts_of_every_partition_match_and_look_alikes_do_not() {
        let allow = sns();
        for ok in [
            "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
            "https://SNS.eu-west-2.amazonaws.com/x.pem",
            "https://sns.us-gov-west-1.amazonaws.com/x.pem",
            "https://sns.cn-north-1.amazonaws.com.cn/x.pem",
            "https://sns.us-east-1.amazonaws.com:443/x.pem",
        ] {
            assert!(allow.check(ok).is_some(), "{ok}");
        }
        for bad in [
            "http://sns.us-east-1.amazonaws.com/x.pem",
            "https://sns.s3-external-1.amazonaws.com/x.pem",
            "https://sns.us-east-1.amazonaws.com.attacker.example/x.pem",
            "https://evil.com/sns.us-east-1.amazonaws.com/x.pem",
            "https://sns.us-east-1.amazonaws.com:8443/x.pem",
            "https://user@sns.us-east-1.amazonaws.com/x.pem",
            "https://sns.us-east-1.amazonaws.com/x.pem#frag",
            "https://sns.amazonaws.com/x.pem",
            "sns.us-east-1.amazonaws.com/x.pem",
            "",
        ] {
            assert!(allow.check(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn a_fetch_allow_host_allows_any_port_and_host_port_only_that_port() {
        let allow = Allow::custom(&["127.0.0.1".into(), "keys.internal:8443".into()]).expect("ok");
        assert!(allow.custom);
        assert!(allow.check("https://127.0.0.1:40123/cert.pem").is_some());
        assert!(allow.check("https://keys.internal:8443/k").is_some());
        assert!(allow.check("https://keys.internal/k").is_none());
        assert!(allow.check("http://127.0.0.1:40123/cert.pem").is_none());
        assert_eq!(allow.first_authority().as_deref(), Some("127.0.0.1"));
        let located = allow
            .check("https://127.0.0.1:1/a/b.pem?x=1")
            .expect("allowed");
        assert_eq!(located.path, "/a/b.pem");
    }

    #[test]
    fn malformed_entries_are_refused() {
        assert!(Allow::custom(&[]).is_err());
        assert!(Allow::custom(&["https://x.com".into()]).is_err());
        assert!(Allow::custom(&["x.com:99999".into()]).is_err());
        assert!(Allow::catalogue(&["x.com:8443".into()]).is_err());
        assert!(Allow::custom(&["bad_host".into()]).is_err());
    }

    #[test]
    fn region_labels_have_the_aws_shape() {
        for ok in [
            "us-east-1",
            "ap-southeast-7",
            "us-iso-east-1",
            "eusc-de-east-1",
            "me-central-1",
        ] {
            assert!(is_region(ok), "{ok}");
        }
        for bad in [
            "s3-external-1",
            "us-east",
            "east-1",
            "us--1",
            "us-east-123",
            "US-EAST-1",
        ] {
            assert!(!is_region(bad), "{bad}");
        }
    }
}
