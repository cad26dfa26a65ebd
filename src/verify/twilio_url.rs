//! The URLs Twilio may have signed for the one a delivery arrived at. Like both SDKs, the URL
//! is tried with its port removed and with the default port added (Twilio's back end signs
//! either); like twilio-node 6.3, also as WHATWG `new URL()` rewrites it and with its query
//! re-encoded by Node's legacy `querystring` (for back ends that signed `%27` for `'`).

use crate::verify::form;

/// Every URL Twilio may have signed for `url`, each once, in twilio-node 6.3's order.
pub fn candidates(url: &str) -> Vec<String> {
    let normal = normalized(url);
    let tries = [
        remove_port(url),
        add_port(url),
        remove_port(&normal),
        add_port(&normal),
        legacy_query(&remove_port(&normal)),
        legacy_query(&add_port(&normal)),
    ];
    let mut out: Vec<String> = Vec::with_capacity(tries.len());
    for url in tries {
        if !out.contains(&url) {
            out.push(url);
        }
    }
    out
}

/// `(scheme://, host, :port, rest)`, splitting as twilio-node's `splitUrl` (an IPv6 literal's
/// colons are not a port).
fn split(url: &str) -> Option<(&str, &str, &str, &str)> {
    let scheme_end = url.find("://")? + 3;
    let (scheme, after) = url.split_at(scheme_end);
    let authority_end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let (authority, rest) = after.split_at(authority_end);
    let host_start = authority.rfind('@').map_or(0, |i| i + 1);
    let bracket = authority[host_start..]
        .rfind(']')
        .map_or(host_start, |i| host_start + i);
    match authority[bracket..].find(':') {
        Some(i) => {
            let (host, port) = authority.split_at(bracket + i);
            Some((scheme, host, port, rest))
        }
        None => Some((scheme, authority, "", rest)),
    }
}

fn remove_port(url: &str) -> String {
    split(url).map_or_else(|| url.to_owned(), |(s, h, _, r)| format!("{s}{h}{r}"))
}

fn add_port(url: &str) -> String {
    match split(url) {
        Some((s, h, "", r)) => {
            let port = if s.eq_ignore_ascii_case("https://") {
                ":443"
            } else {
                ":80"
            };
            format!("{s}{h}{port}{r}")
        }
        _ => url.to_owned(),
    }
}

/// `url` as WHATWG `new URL(url).toString()` writes it: scheme and host lowercase, the default
/// port dropped, and the bytes the URL standard percent-encodes in a path or a special URL's
/// query encoded.
fn normalized(url: &str) -> String {
    let Some((scheme, host, port, rest)) = split(url) else {
        return url.to_owned();
    };
    let scheme = scheme.to_ascii_lowercase();
    let default = matches!(
        (scheme.as_str(), port),
        ("https://", ":443") | ("http://", ":80")
    );
    let port = if default { "" } else { port };
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    let mut out = format!("{scheme}{}{port}", host.to_ascii_lowercase());
    encode_into(
        &mut out,
        if path.is_empty() { "/" } else { path },
        b"\"#<>?`{}",
    );
    if let Some(q) = query {
        out.push('?');
        encode_into(&mut out, q, b"\"#<>'");
    }
    out
}

fn encode_into(out: &mut String, text: &str, extra: &[u8]) {
    for &b in text.as_bytes() {
        if b <= 0x20 || b >= 0x7f || extra.contains(&b) {
            out.push_str(&format!("%{b:02X}"));
        } else {
            out.push(char::from(b));
        }
    }
}

/// The query re-encoded as Node's `querystring.stringify(querystring.parse(q))`: names grouped
/// in first-seen order (array-index names first, ascending, as JavaScript objects order them),
/// every byte outside `A-Za-z0-9-_.!~*'()` percent-encoded.
fn legacy_query(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_owned();
    };
    if query.is_empty() {
        return url.to_owned();
    }
    let mut names: Vec<(String, Vec<String>)> = Vec::new();
    for (name, value) in form::pairs(query.as_bytes()) {
        match names.iter_mut().find(|(n, _)| *n == name) {
            Some((_, values)) => values.push(value),
            None => names.push((name, vec![value])),
        }
    }
    let index = |n: &str| {
        (n == "0" || !n.starts_with('0'))
            .then(|| n.parse::<u32>().ok())
            .flatten()
    };
    names.sort_by_key(|(n, _)| index(n).map_or((1, 0), |i| (0, i)));
    let escape = |s: &str| -> String {
        let keep = |b: u8| b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b);
        s.bytes()
            .map(|b| {
                if keep(b) {
                    char::from(b).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    };
    let pairs: Vec<String> = names
        .iter()
        .flat_map(|(n, values)| values.iter().map(move |v| (n, v)))
        .map(|(n, v)| format!("{}={}", escape(n), escape(v)))
        .collect();
    format!("{base}?{}", pairs.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_removed_and_added_as_the_sdks_do() {
        let url = "https://mycompany.com:1234/myapp.php?foo=1&bar=2";
        assert_eq!(
            remove_port(url),
            "https://mycompany.com/myapp.php?foo=1&bar=2"
        );
        assert_eq!(add_port(url), url);
        let bare = "http://mycompany.com/x";
        assert_eq!(add_port(bare), "http://mycompany.com:80/x");
        assert_eq!(add_port("https://h?q"), "https://h:443?q");
        assert_eq!(remove_port("https://[::1]:8443/x"), "https://[::1]/x");
        assert_eq!(add_port("https://[::1]/x"), "https://[::1]:443/x");
    }

    #[test]
    fn whatwg_and_legacy_querystring_variants_match_node() {
        // new URL("HTTPS://H.example:443/a b?x='y'&z=<>").toString()
        let url = "HTTPS://H.example:443/a\"b?x='y'&z=<>";
        assert_eq!(
            normalized(url),
            "https://h.example/a%22b?x=%27y%27&z=%3C%3E"
        );
        // querystring.stringify(querystring.parse("b=1&2=x&a=%27&b=+&1=y"))
        let legacy = legacy_query("https://h/p?b=1&2=x&a=%27&b=+&1=y");
        assert_eq!(legacy, "https://h/p?1=y&2=x&b=1&b=%20&a='");
        assert_eq!(legacy_query("https://h/p?"), "https://h/p?");
    }
}
