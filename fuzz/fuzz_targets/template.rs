//! The generic `hmac` payload template parser: any string parses or fails with a message, and
//! a parsed template always yields the signed bytes of a request.

#![no_main]

use hookguard::verify::mac::Algorithm;
use hookguard::verify::scheme::{parse_template, Encoding, Part, PrefixRule, SigFormat, SigSpec};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let Ok(template) = std::str::from_utf8(&data[..split]) else {
        return;
    };
    let Ok(payload) = parse_template(template) else {
        return;
    };
    let rest = data.get(split + 1..).unwrap_or(&[]);
    let (headers, body) = common::request(rest);
    let spec = SigSpec {
        algorithm: Algorithm::Sha256,
        encoding: Encoding::Hex,
        sig: SigFormat::List {
            headers: vec![http::HeaderName::from_static("x-signature")],
            separator: None,
            prefix: None,
            prefix_rule: PrefixRule::Optional,
        },
        timestamp: None,
        id_header: None,
        payload,
        public_url: "https://hooks.example.com".into(),
    };
    let req = hookguard::verify::Request {
        chunks: &[],
        method: "POST",
        path: "/p?q",
        headers: &headers,
        body,
    };
    let signed = hookguard::verify::payload(&spec, &req, "1", "id");
    if let Ok(parts) = signed {
        // `{url}` is two slices (public_url, then path and query).
        let urls = spec.payload.iter().filter(|p| **p == Part::Url).count();
        assert_eq!(parts.len(), spec.payload.len() + urls);
    }
    // Rendering the parsed template and parsing it again gives the same parts.
    if let Some(text) = render(&spec.payload) {
        let again = parse_template(&text).expect("a rendered template parses");
        assert_eq!(again, spec.payload);
    }
});

/// The template text of `parts`; `None` for a part this target does not know (a placeholder
/// added since), so a new variant never breaks the build.
fn render(parts: &[Part]) -> Option<String> {
    let mut out = String::new();
    for part in parts {
        match part {
            Part::Lit(bytes) => out.push_str(std::str::from_utf8(bytes).expect("from a str")),
            Part::Body => out.push_str("{body}"),
            Part::Timestamp => out.push_str("{timestamp}"),
            Part::Id => out.push_str("{id}"),
            Part::Method => out.push_str("{method}"),
            Part::Path => out.push_str("{path}"),
            Part::Header(name) => out.push_str(&format!("{{header:{name}}}")),
            #[allow(unreachable_patterns)]
            _ => return None,
        }
    }
    Some(out)
}
