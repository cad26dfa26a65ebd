//! A request's parameters as the providers' SDKs see them: `application/x-www-form-urlencoded`
//! bodies and queries decoded the way web frameworks hand them over, the text fields of a
//! `multipart/form-data` body, and the body's media type. Reading them never changes the
//! bytes: the body is still forwarded exactly as it arrived.

use http::header::CONTENT_TYPE;
use http::HeaderMap;

use crate::verify::extract;
use crate::verify::reason::Reason;

/// How a body is encoded, from its `Content-Type`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BodyType {
    /// `application/x-www-form-urlencoded`.
    Form,
    /// `application/json` or any `+json` type.
    Json,
    /// `multipart/form-data`, with its boundary.
    Multipart(String),
    /// Anything else.
    Other,
    /// No `Content-Type`.
    Absent,
}

/// The body's media type; a `Content-Type` on two lines is `Malformed`, like every header a
/// verification reads.
pub fn body_type(headers: &HeaderMap) -> Result<BodyType, Reason> {
    let Some(value) = extract::single(headers, &CONTENT_TYPE)? else {
        return Ok(BodyType::Absent);
    };
    let value = String::from_utf8_lossy(value);
    let mut params = value.split(';');
    let media = params.next().unwrap_or("").trim().to_ascii_lowercase();
    Ok(match media.as_str() {
        "application/x-www-form-urlencoded" => BodyType::Form,
        "application/json" => BodyType::Json,
        m if m.starts_with("application/") && m.ends_with("+json") => BodyType::Json,
        "multipart/form-data" => {
            let boundary = params.find_map(|p| {
                let (name, v) = p.split_once('=')?;
                name.trim()
                    .eq_ignore_ascii_case("boundary")
                    .then(|| v.trim().trim_matches('"').to_owned())
            });
            match boundary {
                Some(b) if !b.is_empty() && b.len() <= 70 => BodyType::Multipart(b),
                _ => return Err(Reason::Malformed),
            }
        }
        _ => BodyType::Other,
    })
}

/// Decoded `name=value` pairs in order: `+` is a space, `%XX` a byte, invalid UTF-8 replaced,
/// a name without `=` has an empty value, as werkzeug, Django and Node's `querystring` decode.
pub fn pairs(bytes: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(bytes)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The query of a path-and-query (empty when there is none).
pub fn query(path: &str) -> &str {
    path.split_once('?').map_or("", |(_, q)| q)
}

/// The one value of `name` among `pairs`; a name given twice is `Malformed` (which one the
/// receiver would read is not ours to guess).
pub fn single<'a, V: AsRef<[u8]>>(
    pairs: &'a [(String, V)],
    name: &str,
) -> Result<Option<&'a [u8]>, Reason> {
    let mut found = pairs.iter().filter(|(k, _)| k == name);
    let first = found.next().map(|(_, v)| v.as_ref());
    if found.next().is_some() {
        return Err(Reason::Malformed);
    }
    Ok(first)
}

/// The text fields of a `multipart/form-data` body, `(name, bytes)` in order; file parts (with
/// a `filename`) are skipped. A body that does not follow RFC 7578's layout is `Malformed`.
pub fn multipart_fields(body: &[u8], boundary: &str) -> Result<Vec<(String, Vec<u8>)>, Reason> {
    let open = format!("--{boundary}");
    let between = format!("\r\n--{boundary}");
    let mut at = if body.starts_with(open.as_bytes()) {
        open.len()
    } else {
        find(body, between.as_bytes(), 0).ok_or(Reason::Malformed)? + between.len()
    };
    let mut fields = Vec::new();
    loop {
        let rest = &body[at..];
        if rest.starts_with(b"--") {
            return Ok(fields);
        }
        let rest = rest.strip_prefix(b"\r\n").ok_or(Reason::Malformed)?;
        let start = body.len() - rest.len();
        let head_end = find(body, b"\r\n\r\n", start).ok_or(Reason::Malformed)?;
        let content = head_end + 4;
        let end = find(body, between.as_bytes(), content).ok_or(Reason::Malformed)?;
        let head = String::from_utf8_lossy(&body[start..head_end]);
        if let Some(name) = field_name(&head) {
            fields.push((name, body[content..end].to_vec()));
        }
        at = end + between.len();
    }
}

/// The `name` of a part whose `Content-Disposition` is `form-data` without a `filename`.
fn field_name(head: &str) -> Option<String> {
    let disposition = head.split("\r\n").find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("content-disposition")
            .then_some(value)
    })?;
    let mut name = None;
    for param in disposition.split(';').skip(1) {
        let (key, value) = param.split_once('=')?;
        let value = value.trim().trim_matches('"');
        match key.trim().to_ascii_lowercase().as_str() {
            "name" => name = Some(value.to_owned()),
            "filename" | "filename*" => return None,
            _ => {}
        }
    }
    name
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    memchr::memmem::find(hay.get(from..)?, needle).map(|i| i + from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn with_type(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(CONTENT_TYPE, HeaderValue::from_str(value).expect("value"));
        h
    }

    #[test]
    fn media_types_are_read_case_insensitively_with_their_boundary() {
        let form = with_type("Application/X-WWW-Form-Urlencoded; charset=UTF-8");
        assert_eq!(body_type(&form), Ok(BodyType::Form));
        assert_eq!(
            body_type(&with_type("application/json")),
            Ok(BodyType::Json)
        );
        assert_eq!(
            body_type(&with_type("application/vnd.x+json")),
            Ok(BodyType::Json)
        );
        assert_eq!(body_type(&with_type("text/plain")), Ok(BodyType::Other));
        assert_eq!(body_type(&HeaderMap::new()), Ok(BodyType::Absent));
        let multi = with_type("multipart/form-data; boundary=\"abc\"");
        assert_eq!(body_type(&multi), Ok(BodyType::Multipart("abc".into())));
        let no_boundary = with_type("multipart/form-data");
        assert_eq!(body_type(&no_boundary), Err(Reason::Malformed));
        let mut twice = with_type("application/json");
        twice.append(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        assert_eq!(body_type(&twice), Err(Reason::Malformed));
    }

    #[test]
    fn pairs_decode_plus_percent_and_blank_values_in_order() {
        let got = pairs(b"b=%2B1+2&a&c=%E2%82%AC&&b=x");
        let want = [("b", "+1 2"), ("a", ""), ("c", "\u{20ac}"), ("b", "x")];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(got, want);
        assert_eq!(single(&got, "c"), Ok(Some("\u{20ac}".as_bytes())));
        assert_eq!(single(&got, "b"), Err(Reason::Malformed));
        assert_eq!(single(&got, "z"), Ok(None));
        assert_eq!(query("/p?x=1?y"), "x=1?y");
        assert_eq!(query("/p"), "");
    }

    #[test]
    fn multipart_text_fields_are_read_and_files_skipped() {
        let body = b"preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"token\"\r\n\r\nabc\r\n--XyZ\r\ncontent-disposition: form-data; name=\"attachment-1\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nfile\r\nbody\r\n--XyZ\r\nContent-Disposition: form-data; name=timestamp\r\n\r\n1767225600\r\n--XyZ--\r\n";
        let fields = multipart_fields(body, "XyZ").expect("parses");
        assert_eq!(
            fields,
            vec![
                ("token".to_string(), b"abc".to_vec()),
                ("timestamp".to_string(), b"1767225600".to_vec()),
            ]
        );
        assert_eq!(
            multipart_fields(
                b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nunterminated",
                "XyZ"
            ),
            Err(Reason::Malformed)
        );
        assert_eq!(
            multipart_fields(b"no boundary here", "XyZ"),
            Err(Reason::Malformed)
        );
    }
}
