//! `hookguard schemes`: the catalogue as a user reads it (one line per scheme: id, kind, the
//! headers it reads, its documentation URL) or as a tool reads it (`--json`).

use std::io::Write;

use crate::cmd::cli::EXIT_OK;
use crate::cmd::commands::Failure;
use crate::verify::catalogue::{self, Row};

/// Prints every scheme; `json` prints one JSON array instead of aligned lines.
pub fn list(json: bool, out: &mut dyn Write) -> Result<u8, Failure> {
    let rows = catalogue::rows();
    let text = if json { as_json(rows) } else { as_lines(rows) };
    out.write_all(text.as_bytes()).map_err(|e| Failure {
        message: format!("cannot write: {e}"),
        code: crate::cmd::cli::EXIT_RUNTIME,
    })?;
    Ok(EXIT_OK)
}

fn as_lines(rows: &[Row]) -> String {
    let width = |f: fn(&Row) -> usize| rows.iter().map(f).max().unwrap_or(0);
    let id_w = width(|r| r.id.len());
    let kind_w = width(|r| r.kind.as_str().len());
    let headers: Vec<String> = rows.iter().map(headers_text).collect();
    let head_w = headers.iter().map(String::len).max().unwrap_or(0);
    let mut out = String::new();
    for (row, headers) in rows.iter().zip(&headers) {
        let line = format!(
            "{:id_w$}  {:kind_w$}  {:head_w$}  {}",
            row.id,
            row.kind.as_str(),
            headers,
            row.docs
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn headers_text(row: &Row) -> String {
    let headers = row.headers_read();
    if headers.is_empty() {
        "-".into()
    } else {
        headers.join(",")
    }
}

fn as_json(rows: &[Row]) -> String {
    let items: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            serde_json::json!({
                "id": r.id,
                "name": r.name,
                "kind": r.kind.as_str(),
                "headers": r.headers_read(),
                "docs": r.docs,
                "delivery_id": r.delivery_id,
                "handshake": r.handshake,
            })
        })
        .collect();
    let mut text = serde_json::to_string_pretty(&items).unwrap_or_else(|_| "[]".into());
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_is_one_line_with_its_docs() {
        let text = as_lines(catalogue::rows());
        assert_eq!(text.lines().count(), catalogue::rows().len());
        let github = text
            .lines()
            .find(|l| l.starts_with("github "))
            .expect("github listed");
        assert!(github.contains("x-hub-signature-256"), "{github}");
        assert!(
            github.ends_with("validating-webhook-deliveries"),
            "{github}"
        );
    }

    #[test]
    fn json_lists_every_row_with_its_fields() {
        let parsed: serde_json::Value =
            serde_json::from_str(&as_json(catalogue::rows())).expect("json");
        let items = parsed.as_array().expect("array");
        assert_eq!(items.len(), catalogue::rows().len());
        let svix = items
            .iter()
            .find(|i| i["id"] == "svix")
            .expect("svix listed");
        assert_eq!(svix["kind"], "standard-webhooks");
        assert_eq!(svix["headers"][0], "svix-id");
    }
}
