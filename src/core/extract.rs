//! Plain text from uploaded documents: text, Markdown, HTML, JSON, CSV and (best effort)
//! PDF, without heavy parsing libraries.

use crate::core::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocFormat {
    Text,
    Markdown,
    Html,
    Json,
    Csv,
    Pdf,
}

impl DocFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            DocFormat::Text => "text",
            DocFormat::Markdown => "markdown",
            DocFormat::Html => "html",
            DocFormat::Json => "json",
            DocFormat::Csv => "csv",
            DocFormat::Pdf => "pdf",
        }
    }
}

pub fn detect_format(
    filename: Option<&str>,
    content_type: Option<&str>,
    bytes: &[u8],
) -> Option<DocFormat> {
    let ext = filename
        .and_then(|f| f.rsplit_once('.'))
        .map(|(_, e)| e.to_ascii_lowercase());
    if let Some(e) = ext.as_deref() {
        let f = match e {
            "txt" | "text" | "log" => Some(DocFormat::Text),
            "md" | "markdown" => Some(DocFormat::Markdown),
            "html" | "htm" => Some(DocFormat::Html),
            "json" | "ndjson" | "jsonl" => Some(DocFormat::Json),
            "csv" | "tsv" => Some(DocFormat::Csv),
            "pdf" => Some(DocFormat::Pdf),
            _ => None,
        };
        if f.is_some() {
            return f;
        }
    }
    let ct = content_type
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let by_type = match ct.as_str() {
        "text/plain" => Some(DocFormat::Text),
        "text/markdown" => Some(DocFormat::Markdown),
        "text/html" => Some(DocFormat::Html),
        "application/json" => Some(DocFormat::Json),
        "text/csv" => Some(DocFormat::Csv),
        "application/pdf" => Some(DocFormat::Pdf),
        _ => None,
    };
    if by_type.is_some() {
        return by_type;
    }
    if bytes.starts_with(b"%PDF-") {
        return Some(DocFormat::Pdf);
    }
    let text = std::str::from_utf8(bytes).ok()?;
    let head = text
        .trim_start()
        .get(..15.min(text.trim_start().len()))
        .unwrap_or("")
        .to_ascii_lowercase();
    if head.starts_with("<!doctype html") || head.starts_with("<html") {
        return Some(DocFormat::Html);
    }
    if serde_json::from_str::<serde_json::Value>(text).is_ok() {
        return Some(DocFormat::Json);
    }
    if text.chars().any(|c| c.is_control() && !c.is_whitespace()) {
        return None;
    }
    Some(DocFormat::Text)
}

fn utf8(bytes: &[u8]) -> Result<String> {
    let b = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    String::from_utf8(b.to_vec())
        .map_err(|_| Error::invalid("the document is not valid UTF-8 text"))
}

pub fn extract_text(format: DocFormat, bytes: &[u8]) -> Result<String> {
    let text = match format {
        DocFormat::Text | DocFormat::Markdown => utf8(bytes)?,
        DocFormat::Html => html_text(&utf8(bytes)?),
        DocFormat::Json => json_text(&utf8(bytes)?)?,
        DocFormat::Csv => csv_text(&utf8(bytes)?),
        DocFormat::Pdf => pdf_text(bytes)?,
    };
    let t = text.trim();
    if t.is_empty() {
        return Err(Error::invalid("the document has no text"));
    }
    Ok(t.to_string())
}

fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let end = rest[..rest.len().min(12)].find(';');
        let decoded = end.and_then(|e| {
            let name = &rest[1..e];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" | "#39" => Some('\''),
                "nbsp" => Some(' '),
                _ if name.starts_with("#x") || name.starts_with("#X") => {
                    u32::from_str_radix(&name[2..], 16)
                        .ok()
                        .and_then(char::from_u32)
                }
                _ if name.starts_with('#') => name[1..].parse().ok().and_then(char::from_u32),
                _ => None,
            };
            c.map(|c| (c, e + 1))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn html_text(html: &str) -> String {
    let lower = html.to_ascii_lowercase();
    let mut out = String::new();
    if let (Some(s), Some(e)) = (lower.find("<title>"), lower.find("</title>")) {
        if e > s + 7 {
            out.push_str(html[s + 7..e].trim());
            out.push_str("\n\n");
        }
    }
    let mut i = 0;
    let bytes = html.as_bytes();
    while i < html.len() {
        if bytes[i] == b'<' {
            let rest = &lower[i..];
            let skip_to = |tag: &str| rest.find(&format!("</{tag}")).map(|p| i + p);
            let skipped = if rest.starts_with("<!--") {
                Some(rest.find("-->").map_or(html.len(), |p| i + p + 3))
            } else {
                ["script", "style", "noscript", "head", "title"]
                    .iter()
                    .find(|t| rest.starts_with(&format!("<{t}")))
                    .map(|t| {
                        skip_to(t).map_or(html.len(), |p| {
                            lower[p..].find('>').map_or(html.len(), |q| p + q + 1)
                        })
                    })
            };
            if let Some(next) = skipped {
                i = next;
                continue;
            }
            let close = rest.find('>').map_or(html.len(), |p| i + p + 1);
            let tag = rest
                .trim_start_matches(['<', '/'])
                .split(|c: char| !c.is_ascii_alphanumeric())
                .next()
                .unwrap_or("");
            if [
                "p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "section",
                "article", "pre", "ul", "ol", "table",
            ]
            .contains(&tag)
            {
                out.push('\n');
            }
            i = close;
        } else {
            let next = lower[i..].find('<').map_or(html.len(), |p| i + p);
            out.push_str(&decode_entities(&html[i..next]));
            i = next;
        }
    }
    let lines: Vec<String> = out
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    let mut res = String::new();
    let mut blank = false;
    for l in lines {
        if l.is_empty() {
            blank = true;
            continue;
        }
        if !res.is_empty() {
            res.push_str(if blank { "\n\n" } else { "\n" });
        }
        blank = false;
        res.push_str(&l);
    }
    res
}

fn flatten(v: &serde_json::Value, path: &str, out: &mut Vec<String>, depth: usize) {
    if depth > 64 {
        return;
    }
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                flatten(x, &p, out, depth + 1);
            }
        }
        serde_json::Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                flatten(x, &format!("{path}[{i}]"), out, depth + 1);
            }
        }
        serde_json::Value::String(s) => out.push(format!("{path}: {s}")),
        other => out.push(format!("{path}: {other}")),
    }
}

fn json_text(s: &str) -> Result<String> {
    let mut out = Vec::new();
    match serde_json::from_str::<serde_json::Value>(s) {
        Ok(v) => flatten(&v, "", &mut out, 0),
        Err(_) => {
            for (i, line) in s.lines().filter(|l| !l.trim().is_empty()).enumerate() {
                let v: serde_json::Value = serde_json::from_str(line).map_err(|e| {
                    Error::invalid(format!("invalid JSON document (line {}): {e}", i + 1))
                })?;
                flatten(&v, &format!("[{i}]"), &mut out, 0);
            }
        }
    }
    Ok(out.join("\n"))
}

fn csv_rows(s: &str, sep: char) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if quoted {
            if c == '"' {
                if it.peek() == Some(&'"') {
                    field.push('"');
                    it.next();
                } else {
                    quoted = false;
                }
            } else {
                field.push(c);
            }
        } else if c == '"' && field.is_empty() {
            quoted = true;
        } else if c == sep {
            row.push(std::mem::take(&mut field));
        } else if c == '\n' {
            row.push(std::mem::take(&mut field));
            rows.push(std::mem::take(&mut row));
        } else if c != '\r' {
            field.push(c);
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

fn csv_text(s: &str) -> String {
    let first = s.lines().next().unwrap_or("");
    let sep = if first.contains('\t') && !first.contains(',') {
        '\t'
    } else {
        ','
    };
    let rows = csv_rows(s, sep);
    let Some((header, body)) = rows.split_first() else {
        return String::new();
    };
    body.iter()
        .filter(|r| r.iter().any(|f| !f.trim().is_empty()))
        .map(|r| {
            r.iter()
                .enumerate()
                .map(|(i, v)| format!("{}: {}", header.get(i).map_or("", |h| h.trim()), v.trim()))
                .collect::<Vec<_>>()
                .join("; ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

const MAX_PDF_INFLATED: usize = 50 * 1024 * 1024;

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

fn pdf_text(bytes: &[u8]) -> Result<String> {
    let mut out = String::new();
    let mut pos = 0;
    let mut inflated_total = 0;
    while let Some(s) = find(bytes, b"stream", pos) {
        let dict_start = bytes[..s].windows(2).rposition(|w| w == b"<<").unwrap_or(0);
        let dict = &bytes[dict_start..s];
        let mut data_start = s + 6;
        if bytes.get(data_start) == Some(&b'\r') {
            data_start += 1;
        }
        if bytes.get(data_start) == Some(&b'\n') {
            data_start += 1;
        }
        let Some(end) = find(bytes, b"endstream", data_start) else {
            break;
        };
        pos = end + 9;
        if s >= 3 && &bytes[s - 3..s] == b"end" {
            continue;
        }
        let raw = &bytes[data_start..end];
        let data = if find(dict, b"/FlateDecode", 0).is_some() {
            match miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(
                raw,
                MAX_PDF_INFLATED - inflated_total,
            ) {
                Ok(d) => d,
                Err(_) => continue,
            }
        } else if find(dict, b"/Filter", 0).is_some() {
            continue;
        } else {
            raw.to_vec()
        };
        inflated_total += data.len();
        if inflated_total >= MAX_PDF_INFLATED {
            return Err(Error::PayloadTooLarge(
                "the PDF expands to more than 50 MB".into(),
            ));
        }
        content_stream_text(&data, &mut out);
    }
    if out.trim().is_empty() {
        return Err(Error::invalid(
            "the PDF has no extractable text (scanned images are not supported)",
        ));
    }
    Ok(out)
}

fn content_stream_text(data: &[u8], out: &mut String) {
    let mut i = 0;
    let mut pending = String::new();
    while i < data.len() {
        match data[i] {
            b'(' => {
                let mut depth = 1;
                let mut s = Vec::new();
                i += 1;
                while i < data.len() && depth > 0 {
                    let c = data[i];
                    match c {
                        b'\\' if i + 1 < data.len() => {
                            i += 1;
                            let e = data[i];
                            match e {
                                b'n' => s.push(b'\n'),
                                b'r' => s.push(b'\r'),
                                b't' => s.push(b'\t'),
                                b'b' | b'f' => {}
                                b'0'..=b'7' => {
                                    let mut v = u32::from(e - b'0');
                                    for _ in 0..2 {
                                        if i + 1 < data.len()
                                            && (b'0'..=b'7').contains(&data[i + 1])
                                        {
                                            i += 1;
                                            v = v * 8 + u32::from(data[i] - b'0');
                                        }
                                    }
                                    s.push((v & 0xff) as u8);
                                }
                                other => s.push(other),
                            }
                        }
                        b'(' => {
                            depth += 1;
                            s.push(c);
                        }
                        b')' => {
                            depth -= 1;
                            if depth > 0 {
                                s.push(c);
                            }
                        }
                        _ => s.push(c),
                    }
                    i += 1;
                }
                pending.extend(s.iter().map(|b| char::from(*b)));
            }
            b'<' if data.get(i + 1) != Some(&b'<') => {
                let end = data[i..]
                    .iter()
                    .position(|b| *b == b'>')
                    .map_or(data.len(), |p| i + p);
                let hex: Vec<u8> = data[i + 1..end]
                    .iter()
                    .copied()
                    .filter(u8::is_ascii_hexdigit)
                    .collect();
                let bytes: Vec<u8> = hex
                    .chunks(2)
                    .filter_map(|p| u8::from_str_radix(std::str::from_utf8(p).ok()?, 16).ok())
                    .collect();
                if bytes.len() >= 2 && (bytes[0] == 0 || bytes.starts_with(&[0xFE, 0xFF])) {
                    let units: Vec<u16> = bytes
                        .chunks(2)
                        .filter(|c| c.len() == 2)
                        .map(|c| u16::from_be_bytes([c[0], c[1]]))
                        .collect();
                    pending.push_str(&String::from_utf16_lossy(&units).replace('\u{feff}', ""));
                } else {
                    pending.extend(bytes.iter().map(|b| char::from(*b)));
                }
                i = end + 1;
            }
            b'-' | b'0'..=b'9' if !pending.is_empty() => {
                let end = data[i..]
                    .iter()
                    .position(|b| !(b.is_ascii_digit() || *b == b'.' || *b == b'-'))
                    .map_or(data.len(), |p| i + p);
                if let Ok(n) = std::str::from_utf8(&data[i..end])
                    .unwrap_or("0")
                    .parse::<f64>()
                {
                    if n < -200.0 {
                        pending.push(' ');
                    }
                }
                i = end.max(i + 1);
            }
            b'T' | b'\'' | b'"' | b'E' => {
                let op: Vec<u8> = data[i..]
                    .iter()
                    .take_while(|b| {
                        b.is_ascii_alphabetic() || **b == b'*' || **b == b'\'' || **b == b'"'
                    })
                    .copied()
                    .collect();
                match op.as_slice() {
                    b"Tj" | b"TJ" | b"'" | b"\"" => {
                        out.push_str(&pending);
                        pending.clear();
                        if op != b"Tj" && op != b"TJ" {
                            out.push('\n');
                        }
                    }
                    b"Td" | b"TD" | b"T*" | b"Tm" | b"ET"
                        if !out.ends_with('\n') && !out.is_empty() =>
                    {
                        out.push('\n');
                    }
                    _ => {}
                }
                i += op.len().max(1);
            }
            _ => i += 1,
        }
    }
    if !pending.is_empty() {
        out.push_str(&pending);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extracts_each_format() {
        assert_eq!(
            detect_format(Some("a.md"), None, b"x"),
            Some(DocFormat::Markdown)
        );
        assert_eq!(
            detect_format(None, Some("text/html; charset=utf-8"), b"x"),
            Some(DocFormat::Html)
        );
        assert_eq!(
            detect_format(Some("a.png"), Some("image/png"), b"\x89PNG\x00\x01"),
            None
        );
        let h = extract_text(DocFormat::Html, b"<html><head><title>T</title><script>bad()</script></head><body><p>A &amp; B</p><!-- c --><p>C&#33;</p></body></html>").unwrap();
        assert_eq!(h, "T\n\nA & B\n\nC!");
        let c = extract_text(DocFormat::Csv, b"name,pet\n\"Tom, Jr\",cat\n").unwrap();
        assert_eq!(c, "name: Tom, Jr; pet: cat");
        let j = extract_text(DocFormat::Json, br#"{"a": {"b": [1, "x"]}}"#).unwrap();
        assert_eq!(j, "a.b[0]: 1\na.b[1]: x");
        let stream = b"BT /F1 12 Tf 72 712 Td (Hello PDF world) Tj ET";
        let pdf = [
            b"%PDF-1.4\n1 0 obj << /Length 44 >>\nstream\n".as_slice(),
            stream,
            b"\nendstream endobj",
        ]
        .concat();
        assert!(extract_text(DocFormat::Pdf, &pdf)
            .unwrap()
            .contains("Hello PDF world"));
        let z = miniz_oxide::deflate::compress_to_vec_zlib(b"BT [(Kern)-300(ed)] TJ ET", 6);
        let pdf = [
            b"%PDF-1.4\n1 0 obj << /Filter /FlateDecode >>\nstream\n".as_slice(),
            &z,
            b"\nendstream",
        ]
        .concat();
        assert!(extract_text(DocFormat::Pdf, &pdf)
            .unwrap()
            .contains("Kern ed"));
        assert!(extract_text(DocFormat::Pdf, b"%PDF-1.4 garbage stream \x00\x01").is_err());
        assert!(extract_text(DocFormat::Text, b"\xff\xfe").is_err());
    }
}
