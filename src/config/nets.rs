//! `allow_ips` and `trusted_proxies`: CIDR lists (IPv4 and IPv6, a bare address meaning that
//! one host) parsed with `ipnet`, each entry's error located at its list.

use std::net::IpAddr;

use ipnet::IpNet;
use serde_saphyr::Spanned;

use crate::config::ctx::Ctx;
use crate::config::ConfigError;

/// Parses a CIDR list; `key` names it in errors. An empty list is an error: an `allow_ips`
/// that allows nobody is a typo more often than a wish, and absent already means "anyone".
pub fn networks(
    ctx: &Ctx<'_>,
    list: &Spanned<Vec<String>>,
    key: &str,
) -> Result<Vec<IpNet>, ConfigError> {
    if list.value.is_empty() {
        return Err(ctx.err(
            list.referenced,
            format!("`{key}` is empty: leave it out to allow every address"),
        ));
    }
    list.value
        .iter()
        .map(|entry| {
            network(entry).ok_or_else(|| {
                ctx.err(
                    list.referenced,
                    format!(
                        "`{key}`: `{entry}` is not an IP network like 192.30.252.0/22 or 2a0a:a440::/29"
                    ),
                )
            })
        })
        .collect()
}

/// `a.b.c.d/n`, `v6/n`, or a bare address (a single host); host bits are cleared.
fn network(entry: &str) -> Option<IpNet> {
    let entry = entry.trim();
    if let Ok(net) = entry.parse::<IpNet>() {
        return Some(net.trunc());
    }
    entry.parse::<IpAddr>().ok().map(IpNet::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_and_bare_addresses_parse_and_garbage_does_not() {
        let net = network("192.30.252.7/22").expect("v4 cidr");
        assert_eq!(net.to_string(), "192.30.252.0/22");
        assert!(net.contains(&"192.30.255.1".parse::<IpAddr>().expect("ip")));
        let v6 = network(" 2a0a:a440::/29 ").expect("v6 cidr");
        assert!(v6.contains(&"2a0a:a447::1".parse::<IpAddr>().expect("ip")));
        assert_eq!(network("10.1.2.3").map(|n| n.prefix_len()), Some(32));
        assert_eq!(network("::1").map(|n| n.prefix_len()), Some(128));
        for bad in ["", "10.0.0.0/33", "example.com", "10.0.0/8", "1.2.3.4/"] {
            assert!(network(bad).is_none(), "{bad}");
        }
    }
}
