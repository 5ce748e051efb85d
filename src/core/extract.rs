//! Plain text from uploaded documents: text, Markdown, HTML, JSON, CSV and (best effort) PDF.
//!
//! The text is what gets chunked and embedded, so each format is reduced to what a reader
//! would see, laid out in lines and paragraphs that the chunker can split on: HTML loses its
//! markup, scripts and styles; JSON becomes `path.to.key: value` lines; CSV becomes one
//! `header: value; …` line per row; PDF content streams are decoded for their text operators.
//!
//! Everything runs inside a Worker on untrusted uploads, without parsing libraries, so every
//! parser here is a forward pass in linear time that tolerates malformed input, never panics,
//! recurses no deeper than serde_json's nesting limit, and caps how much text (or inflated
//! data) a small input can expand into.

use std::borrow::Cow;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::core::error::{Error, Result};

/// Text produced from JSON or CSV, which repeat keys and headers on every line and so can
/// expand a small upload many times over.
const MAX_TEXT_BYTES: usize = 32 << 20;
/// Total decompressed size of a PDF's streams: a zip bomb must not exhaust the Worker.
const MAX_PDF_INFLATED: usize = 50 << 20;
/// Deeper JSON is written out as compact JSON on one line rather than flattened.
const MAX_JSON_DEPTH: usize = 64;

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

/// What a file name or content type says about a document.
enum Hint {
    Format(DocFormat),
    /// A format we know and cannot read (images, archives, office files).
    Unsupported,
    /// Says nothing useful: look at the bytes.
    Unknown,
}

/// Decides how to read an upload: by file extension, else by content type, else by sniffing
/// the bytes. `None` when the document is not something we can extract text from.
pub fn detect_format(
    filename: Option<&str>,
    content_type: Option<&str>,
    bytes: &[u8],
) -> Option<DocFormat> {
    let hints = [
        filename.map_or(Hint::Unknown, hint_from_filename),
        content_type.map_or(Hint::Unknown, hint_from_content_type),
    ];
    for hint in hints {
        match hint {
            Hint::Format(f) => return Some(f),
            Hint::Unsupported => return None,
            Hint::Unknown => {}
        }
    }
    sniff(bytes)
}

fn hint_from_filename(name: &str) -> Hint {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let Some((stem, ext)) = base.rsplit_once('.') else {
        return Hint::Unknown;
    };
    if stem.is_empty() || ext.len() > 10 {
        return Hint::Unknown;
    }
    let ext = ext.to_ascii_lowercase();
    let format = match ext.as_str() {
        "txt" | "text" | "log" => DocFormat::Text,
        "md" | "markdown" | "mdown" | "mkd" => DocFormat::Markdown,
        "html" | "htm" | "xhtml" => DocFormat::Html,
        "json" | "ndjson" | "jsonl" => DocFormat::Json,
        "csv" | "tsv" => DocFormat::Csv,
        "pdf" => DocFormat::Pdf,
        "png" | "jpg" | "jpeg" | "gif" | "webp" | "bmp" | "ico" | "tif" | "tiff" | "heic"
        | "avif" | "zip" | "gz" | "tgz" | "bz2" | "xz" | "7z" | "rar" | "tar" | "exe" | "dll"
        | "so" | "dylib" | "bin" | "wasm" | "mp3" | "mp4" | "m4a" | "wav" | "ogg" | "flac"
        | "mov" | "avi" | "mkv" | "webm" | "doc" | "docx" | "xls" | "xlsx" | "ppt" | "pptx"
        | "odt" | "ods" | "odp" | "epub" | "woff" | "woff2" | "ttf" | "otf" | "sqlite" | "db"
        | "class" | "jar" => return Hint::Unsupported,
        _ => return Hint::Unknown,
    };
    Hint::Format(format)
}

fn hint_from_content_type(content_type: &str) -> Hint {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    let essence = essence.to_ascii_lowercase();
    let format = match essence.as_str() {
        "text/plain" => DocFormat::Text,
        "text/markdown" | "text/x-markdown" => DocFormat::Markdown,
        "text/html" | "application/xhtml+xml" => DocFormat::Html,
        "application/json"
        | "text/json"
        | "application/x-ndjson"
        | "application/ndjson"
        | "application/jsonl"
        | "application/x-jsonlines" => DocFormat::Json,
        "text/csv" | "application/csv" | "text/tab-separated-values" => DocFormat::Csv,
        "application/pdf" | "application/x-pdf" => DocFormat::Pdf,
        t if t.ends_with("+json") => DocFormat::Json,
        t if ["image/", "audio/", "video/", "font/"]
            .iter()
            .any(|p| t.starts_with(p)) =>
        {
            return Hint::Unsupported
        }
        "application/zip"
        | "application/gzip"
        | "application/x-tar"
        | "application/msword"
        | "application/x-7z-compressed"
        | "application/vnd.rar" => return Hint::Unsupported,
        t if t.starts_with("application/vnd.openxmlformats")
            || t.starts_with("application/vnd.ms-")
            || t.starts_with("application/vnd.oasis.opendocument") =>
        {
            return Hint::Unsupported
        }
        _ => return Hint::Unknown,
    };
    Hint::Format(format)
}

fn sniff(bytes: &[u8]) -> Option<DocFormat> {
    if bytes.starts_with(b"%PDF-") {
        return Some(DocFormat::Pdf);
    }
    let text = std::str::from_utf8(strip_bom(bytes)).ok()?;
    if looks_binary(text) {
        return None;
    }
    let t = text.trim_start();
    if t.starts_with('<') {
        let head: String = t
            .chars()
            .take(1024)
            .collect::<String>()
            .to_ascii_lowercase();
        if head.contains("<html") || head.contains("<!doctype html") {
            return Some(DocFormat::Html);
        }
    }
    if (t.starts_with('{') || t.starts_with('['))
        && (serde_json::from_str::<de::IgnoredAny>(t).is_ok() || is_json_lines(t))
    {
        return Some(DocFormat::Json);
    }
    Some(DocFormat::Text)
}

/// Valid UTF-8 can still be binary (NULs, or mostly control characters).
fn looks_binary(text: &str) -> bool {
    let mut controls = 0usize;
    let mut total = 0usize;
    for c in text.chars() {
        if c == '\0' {
            return true;
        }
        total += 1;
        if c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\x0c' | '\x1b') {
            controls += 1;
        }
    }
    controls * 100 > total
}

/// JSON Lines: one JSON object per line (blank lines allowed).
fn is_json_lines(t: &str) -> bool {
    let mut lines = t
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .peekable();
    lines.peek().is_some_and(|l| l.starts_with('{'))
        && lines.all(|l| serde_json::from_str::<de::IgnoredAny>(l).is_ok())
}

fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
}

fn utf8(bytes: &[u8]) -> Result<&str> {
    std::str::from_utf8(strip_bom(bytes))
        .map_err(|_| Error::invalid("the document is not valid UTF-8 text"))
}

/// Extracts the readable text of a document, trimmed. A document with no text is an error.
pub fn extract_text(format: DocFormat, bytes: &[u8]) -> Result<String> {
    let text: Cow<'_, str> = match format {
        // Markdown is already readable; its markup helps more than it hurts.
        DocFormat::Text | DocFormat::Markdown => Cow::Borrowed(utf8(bytes)?),
        DocFormat::Html => Cow::Owned(html_to_text(utf8(bytes)?)),
        DocFormat::Json => Cow::Owned(json_to_text(utf8(bytes)?)?),
        DocFormat::Csv => Cow::Owned(csv_to_text(utf8(bytes)?)?),
        DocFormat::Pdf => Cow::Owned(pdf_to_text(bytes)?),
    };
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(Error::invalid("the document has no text"));
    }
    if trimmed.len() == text.len() {
        return Ok(text.into_owned());
    }
    Ok(trimmed.to_owned())
}

// ---------------------------------------------------------------------------------------------
// Layout shared by HTML and PDF

/// The whitespace owed before the next visible character. Runs of whitespace and breaks
/// collapse into the strongest one, so output never has runs of spaces or blank lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Gap {
    Tight,
    Space,
    Line,
    Para,
}

struct TextSink {
    out: String,
    gap: Gap,
}

impl TextSink {
    fn new() -> Self {
        TextSink {
            out: String::new(),
            gap: Gap::Tight,
        }
    }

    fn gap(&mut self, gap: Gap) {
        self.gap = self.gap.max(gap);
    }

    fn char(&mut self, c: char) {
        if c.is_whitespace() {
            self.gap(Gap::Space);
        } else if !c.is_control() {
            self.flush_gap();
            self.out.push(c);
        }
    }

    fn str(&mut self, s: &str) {
        s.chars().for_each(|c| self.char(c));
    }

    /// Appends preformatted text as is, whitespace included.
    fn verbatim(&mut self, c: char) {
        if c == '\n' || c == '\t' || !c.is_control() {
            self.flush_gap();
            self.out.push(c);
        }
    }

    fn flush_gap(&mut self) {
        if !self.out.is_empty() {
            self.out.push_str(match self.gap {
                Gap::Tight => "",
                Gap::Space => " ",
                Gap::Line => "\n",
                Gap::Para => "\n\n",
            });
        }
        self.gap = Gap::Tight;
    }

    fn trim_end(&mut self) {
        let len = self.out.trim_end().len();
        self.out.truncate(len);
    }
}

/// Position of `needle` in `hay` at or after `from`.
fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let first = *needle.first()?;
    let mut i = from;
    while i < hay.len() {
        let p = i + hay.get(i..)?.iter().position(|&b| b == first)?;
        if hay.get(p..p + needle.len()) == Some(needle) {
            return Some(p);
        }
        i = p + 1;
    }
    None
}

/// Like [`find`], ignoring ASCII case; `needle` must be lower case.
fn find_ci(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let first = *needle.first()?;
    let mut i = from;
    while i < hay.len() {
        let p = i + hay
            .get(i..)?
            .iter()
            .position(|b| b.to_ascii_lowercase() == first)?;
        if hay
            .get(p..p + needle.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(needle))
        {
            return Some(p);
        }
        i = p + 1;
    }
    None
}

// ---------------------------------------------------------------------------------------------
// HTML

/// Elements whose content is not document text.
const HTML_SKIPPED: &[&str] = &[
    "script", "style", "noscript", "template", "title", "svg", "math", "iframe", "object",
];
/// Elements that start a new paragraph.
const HTML_PARAGRAPHS: &[&str] = &[
    "p",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "section",
    "article",
    "blockquote",
    "ul",
    "ol",
    "dl",
    "table",
    "header",
    "footer",
    "nav",
    "aside",
    "main",
    "figure",
    "form",
    "hr",
    "address",
    "fieldset",
    "details",
    "body",
];
/// Elements that start a new line.
const HTML_LINES: &[&str] = &[
    "br",
    "div",
    "li",
    "tr",
    "dt",
    "dd",
    "figcaption",
    "caption",
    "summary",
    "legend",
    "option",
    "thead",
    "tbody",
    "tfoot",
];

fn html_is(name: &str, set: &[&str]) -> bool {
    set.iter().any(|t| t.eq_ignore_ascii_case(name))
}

/// Reduces HTML to its visible text, one pass over the input. The `<title>` comes first, as
/// its own paragraph, unless the body already starts with it.
fn html_to_text(html: &str) -> String {
    let b = html.as_bytes();
    let n = b.len();
    let mut sink = TextSink::new();
    let mut title: Option<String> = None;
    let mut in_head = false;
    let mut pre_depth = 0usize;
    // Right after `<pre>`, whose first line break is not content.
    let mut pre_start = false;
    let mut i = 0;
    while i < n {
        if b[i] != b'<' {
            let end = b[i..].iter().position(|&c| c == b'<').map_or(n, |p| i + p);
            if !in_head {
                html_text(&html[i..end], &mut sink, pre_depth > 0, &mut pre_start);
            }
            i = end;
            continue;
        }
        let rest = &b[i..];
        if rest.starts_with(b"<!--") {
            i = find(b, b"-->", i + 4).map_or(n, |p| p + 3);
            continue;
        }
        if rest.len() >= 9 && rest[..9].eq_ignore_ascii_case(b"<![cdata[") {
            let end = find(b, b"]]>", i + 9).unwrap_or(n);
            if !in_head {
                sink.str(&html[i + 9..end]);
            }
            i = (end + 3).min(n);
            continue;
        }
        if matches!(rest.get(1), Some(b'!' | b'?')) {
            i = find(b, b">", i).map_or(n, |p| p + 1);
            continue;
        }
        let closing = rest.get(1) == Some(&b'/');
        let name_start = i + 1 + usize::from(closing);
        if !b.get(name_start).is_some_and(u8::is_ascii_alphabetic) {
            // "a < b": a literal angle bracket.
            if !in_head {
                sink.char('<');
            }
            i += 1;
            continue;
        }
        let name_end = b[name_start..]
            .iter()
            .position(|c| !(c.is_ascii_alphanumeric() || *c == b'-' || *c == b':'))
            .map_or(n, |p| name_start + p);
        let Some(tag_end) = html_tag_end(b, name_end) else {
            // An unterminated tag: browsers drop the rest of the document.
            break;
        };
        let name = &html[name_start..name_end];
        let self_closing = tag_end > name_end && b[tag_end - 1] == b'/';
        i = tag_end + 1;

        if !closing && !self_closing && html_is(name, HTML_SKIPPED) {
            let close = find_ci(b, format!("</{}", name.to_ascii_lowercase()).as_bytes(), i);
            let content_end = close.unwrap_or(n);
            if name.eq_ignore_ascii_case("title") && title.is_none() {
                let mut t = TextSink::new();
                html_text(&html[i..content_end], &mut t, false, &mut false);
                title = Some(t.out);
            }
            i = close.map_or(n, |c| find(b, b">", c).map_or(n, |p| p + 1));
            continue;
        }
        if name.eq_ignore_ascii_case("head") {
            in_head = !closing;
            continue;
        }
        if name.eq_ignore_ascii_case("pre") {
            sink.gap(Gap::Para);
            if closing {
                pre_depth = pre_depth.saturating_sub(1);
                sink.trim_end();
            } else if !self_closing {
                pre_depth += 1;
                pre_start = true;
            }
            continue;
        }
        if html_is(name, HTML_PARAGRAPHS) {
            // A page without `</head>` has surely left the head by now.
            in_head &= closing;
            sink.gap(Gap::Para);
        } else if html_is(name, HTML_LINES) {
            in_head &= closing;
            sink.gap(Gap::Line);
        } else if name.eq_ignore_ascii_case("td") || name.eq_ignore_ascii_case("th") {
            sink.gap(Gap::Space);
        }
    }
    let body = sink.out;
    match title {
        Some(t) if !t.is_empty() && !body.starts_with(t.as_str()) => {
            if body.is_empty() {
                t
            } else {
                format!("{t}\n\n{body}")
            }
        }
        _ => body,
    }
}

/// The `>` closing a tag whose name ends at `from`, skipping quoted attribute values (which
/// may contain `>`). A quote without its pair is taken literally.
fn html_tag_end(b: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    let mut after_eq = false;
    while i < b.len() {
        match b[i] {
            b'>' => return Some(i),
            b'=' => after_eq = true,
            q @ (b'"' | b'\'') if after_eq => {
                if let Some(p) = b[i + 1..].iter().position(|&c| c == q) {
                    i += p + 1;
                }
                after_eq = false;
            }
            c if c.is_ascii_whitespace() => {}
            _ => after_eq = false,
        }
        i += 1;
    }
    None
}

/// Writes an HTML text node, decoding character references.
fn html_text(text: &str, sink: &mut TextSink, pre: bool, pre_start: &mut bool) {
    let mut rest = text;
    while !rest.is_empty() {
        let (c, len) = if rest.starts_with('&') {
            decode_entity(rest).unwrap_or(('&', 1))
        } else {
            let c = rest.chars().next().unwrap_or('\u{FFFD}');
            (c, c.len_utf8())
        };
        rest = rest.get(len..).unwrap_or("");
        if pre {
            if std::mem::take(pre_start) && c == '\n' {
                continue;
            }
            if c != '\r' {
                sink.verbatim(c);
            }
        } else {
            sink.char(c);
        }
    }
}

/// Decodes the character reference at the start of `s` (which starts with `&`): the
/// character and the number of bytes it spans.
fn decode_entity(s: &str) -> Option<(char, usize)> {
    let semi = s.bytes().take(34).position(|b| b == b';')?;
    let name = s.get(1..semi)?;
    let c = if let Some(num) = name.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
                u32::from_str_radix(hex, 16).ok()?
            }
            None if !num.is_empty() && num.bytes().all(|b| b.is_ascii_digit()) => {
                num.parse().ok()?
            }
            _ => return None,
        };
        // NUL and surrogates are not characters; browsers show the replacement character.
        char::from_u32(code)
            .filter(|&c| c != '\0')
            .unwrap_or('\u{FFFD}')
    } else {
        match name {
            "amp" | "AMP" => '&',
            "lt" | "LT" => '<',
            "gt" | "GT" => '>',
            "quot" | "QUOT" => '"',
            "apos" => '\'',
            "nbsp" | "ensp" | "emsp" | "thinsp" => ' ',
            "copy" => '©',
            "reg" => '®',
            "trade" => '™',
            "hellip" => '…',
            "mdash" => '—',
            "ndash" => '–',
            "lsquo" => '‘',
            "rsquo" => '’',
            "ldquo" => '“',
            "rdquo" => '”',
            "laquo" => '«',
            "raquo" => '»',
            "bull" => '•',
            "middot" => '·',
            "deg" => '°',
            "times" => '×',
            "divide" => '÷',
            "euro" => '€',
            "pound" => '£',
            "yen" => '¥',
            "cent" => '¢',
            "sect" => '§',
            "para" => '¶',
            _ => return None,
        }
    };
    Some((c, semi + 1))
}

// ---------------------------------------------------------------------------------------------
// JSON

/// Flattens JSON into `path.to.key: value` lines (`key[0]` for arrays). A document that is
/// not one JSON value is read as JSON Lines: a sequence of values, one paragraph each.
///
/// Each value is flattened while it is parsed, never held as a tree, so memory stays close
/// to the size of the text produced. serde_json refuses nesting deeper than 128, which bounds
/// the recursion of the visitor below.
fn json_to_text(text: &str) -> Result<String> {
    let mut out = String::new();
    let values = serde_json::Deserializer::from_str(text).into_iter::<JsonRecord>();
    let mut any = false;
    for value in values {
        let record = value.map_err(|e| {
            if e.is_data() {
                // The visitor accepts any JSON, so its only error is running over the cap.
                too_large_text()
            } else {
                Error::invalid(format!("invalid JSON: {e}"))
            }
        })?;
        any = true;
        if !out.is_empty() && !record.0.is_empty() {
            out.push_str("\n\n");
        }
        out.push_str(&record.0);
        if out.len() > MAX_TEXT_BYTES {
            return Err(too_large_text());
        }
    }
    if !any {
        return Err(Error::invalid("invalid JSON: the document is empty"));
    }
    Ok(out)
}

fn too_large_text() -> Error {
    Error::PayloadTooLarge(format!(
        "the document expands to more than {} MB of text",
        MAX_TEXT_BYTES >> 20
    ))
}

/// The flattened text of one top-level JSON value.
struct JsonRecord(String);

impl<'de> serde::Deserialize<'de> for JsonRecord {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut st = JsonState {
            path: String::new(),
            out: String::new(),
            blank_line: false,
        };
        JsonFlattener {
            st: &mut st,
            depth: 0,
        }
        .deserialize(d)?;
        Ok(JsonRecord(st.out))
    }
}

struct JsonState {
    path: String,
    out: String,
    /// Separate the next line from the previous record by a blank line.
    blank_line: bool,
}

impl JsonState {
    fn line<E: de::Error>(&mut self, value: &str) -> Result<(), E> {
        if !self.out.is_empty() {
            self.out
                .push_str(if self.blank_line { "\n\n" } else { "\n" });
        }
        self.blank_line = false;
        if !self.path.is_empty() {
            self.out.push_str(&self.path);
            self.out.push_str(": ");
        }
        self.out.push_str(value);
        if self.out.len() > MAX_TEXT_BYTES {
            return Err(E::custom("too much text"));
        }
        Ok(())
    }
}

struct JsonFlattener<'s> {
    st: &'s mut JsonState,
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for JsonFlattener<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        if self.depth >= MAX_JSON_DEPTH {
            let value = <serde_json::Value as serde::Deserialize>::deserialize(d)?;
            return self.st.line(&value.to_string());
        }
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for JsonFlattener<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.st.line(if v { "true" } else { "false" })
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.st.line(&v.to_string())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.st.line(&v.to_string())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        let n = serde_json::Number::from_f64(v).map_or_else(|| v.to_string(), |n| n.to_string());
        self.st.line(&n)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.st.line(v)
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.st.line("null")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let base = self.st.path.len();
        let mut index = 0usize;
        loop {
            self.st.path.truncate(base);
            self.st.path.push('[');
            self.st.path.push_str(&index.to_string());
            self.st.path.push(']');
            // Records in a top-level array read best as separate paragraphs.
            if self.depth == 0 && index > 0 {
                self.st.blank_line = true;
            }
            let child = JsonFlattener {
                st: &mut *self.st,
                depth: self.depth + 1,
            };
            if seq.next_element_seed(child)?.is_none() {
                break;
            }
            index += 1;
        }
        self.st.path.truncate(base);
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let base = self.st.path.len();
        loop {
            self.st.path.truncate(base);
            if base > 0 {
                self.st.path.push('.');
            }
            if map.next_key_seed(JsonKey(&mut self.st.path))?.is_none() {
                break;
            }
            map.next_value_seed(JsonFlattener {
                st: &mut *self.st,
                depth: self.depth + 1,
            })?;
        }
        self.st.path.truncate(base);
        Ok(())
    }
}

/// Appends an object key to the current path without allocating it.
struct JsonKey<'p>(&'p mut String);

impl<'de> DeserializeSeed<'de> for JsonKey<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for JsonKey<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.0.push_str(v);
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// CSV

/// One `header: value; header: value` line per row, the first row giving the headers. Empty
/// values are left out; a file with only a header row yields the header names.
fn csv_to_text(text: &str) -> Result<String> {
    let first_line = text.lines().next().unwrap_or("");
    let has = |c: char| first_line.contains(c);
    let sep = if has('\t') && !has(',') {
        b'\t'
    } else if has(';') && !has(',') && !has('\t') {
        b';'
    } else {
        b','
    };
    let mut rows = CsvReader {
        s: text,
        pos: 0,
        sep,
    };
    // The first row with any content holds the headers.
    let mut headers: Vec<String> = Vec::new();
    while headers.iter().all(String::is_empty) {
        let Some(row) = rows.next_row() else { break };
        headers = row.iter().map(|h| collapse_whitespace(h)).collect();
    }
    let mut out = String::new();
    let mut data_rows = 0usize;
    while let Some(row) = rows.next_row() {
        data_rows += 1;
        let mut first = true;
        for (i, value) in row.iter().enumerate() {
            let value = collapse_whitespace(value);
            if value.is_empty() {
                continue;
            }
            out.push_str(if first {
                if out.is_empty() {
                    ""
                } else {
                    "\n"
                }
            } else {
                "; "
            });
            first = false;
            match headers.get(i).filter(|h| !h.is_empty()) {
                Some(h) => out.push_str(h),
                None => out.push_str(&format!("column {}", i + 1)),
            }
            out.push_str(": ");
            out.push_str(&value);
        }
        if out.len() > MAX_TEXT_BYTES {
            return Err(too_large_text());
        }
    }
    if data_rows == 0 {
        let names: Vec<&str> = headers
            .iter()
            .map(String::as_str)
            .filter(|h| !h.is_empty())
            .collect();
        return Ok(names.join("; "));
    }
    Ok(out)
}

fn collapse_whitespace(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for w in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    out
}

/// An RFC 4180 reader that tolerates what spreadsheets produce: CR, LF or CRLF line ends,
/// quotes in the middle of unquoted fields, text after a closing quote, and a quote left open
/// (which runs to the end of the file).
struct CsvReader<'a> {
    s: &'a str,
    pos: usize,
    sep: u8,
}

impl<'a> CsvReader<'a> {
    fn next_row(&mut self) -> Option<Vec<Cow<'a, str>>> {
        let b = self.s.as_bytes();
        if self.pos >= b.len() {
            return None;
        }
        let mut row = Vec::new();
        loop {
            let (field, end_of_row) = self.next_field();
            row.push(field);
            if end_of_row {
                break;
            }
        }
        Some(row)
    }

    /// The next field and whether it ended its row. Separators, quotes and line ends are
    /// ASCII, so every slice taken here falls on a char boundary.
    fn next_field(&mut self) -> (Cow<'a, str>, bool) {
        let s: &'a str = self.s;
        let b = s.as_bytes();
        let mut field: Cow<'a, str> = Cow::Borrowed("");
        let mut i = self.pos;
        if b.get(i) == Some(&b'"') {
            let mut owned = String::new();
            i += 1;
            loop {
                match b[i..].iter().position(|&c| c == b'"') {
                    Some(p) => {
                        owned.push_str(&s[i..i + p]);
                        i += p + 1;
                        if b.get(i) == Some(&b'"') {
                            owned.push('"');
                            i += 1;
                        } else {
                            break;
                        }
                    }
                    None => {
                        owned.push_str(&s[i..]);
                        i = b.len();
                        break;
                    }
                }
            }
            field = Cow::Owned(owned);
        }
        let start = i;
        let end = b[i..]
            .iter()
            .position(|&c| c == self.sep || c == b'\n' || c == b'\r')
            .map_or(b.len(), |p| i + p);
        if end > start {
            field = match field {
                Cow::Borrowed(_) => Cow::Borrowed(&s[start..end]),
                Cow::Owned(mut o) => {
                    o.push_str(&s[start..end]);
                    Cow::Owned(o)
                }
            };
        }
        let end_of_row = match b.get(end) {
            Some(&c) if c == self.sep => {
                self.pos = end + 1;
                false
            }
            Some(b'\r') => {
                self.pos = end + if b.get(end + 1) == Some(&b'\n') { 2 } else { 1 };
                true
            }
            Some(_) => {
                self.pos = end + 1;
                true
            }
            None => {
                self.pos = b.len();
                true
            }
        };
        (field, end_of_row)
    }
}

// ---------------------------------------------------------------------------------------------
// PDF

/// Best-effort text of a PDF without a PDF library: every stream is located by its
/// `stream … endstream` keywords (no cross-reference table needed, so damaged files work
/// too), Flate-compressed ones are inflated, and content streams are scanned for their
/// text-showing operators. Fonts whose codes are not (close to) Latin-1 or UTF-16 come out
/// garbled; scanned pages have no text at all.
fn pdf_to_text(bytes: &[u8]) -> Result<String> {
    pdf_to_text_capped(bytes, MAX_PDF_INFLATED)
}

fn pdf_to_text_capped(bytes: &[u8], max_inflated: usize) -> Result<String> {
    let head = &bytes[..bytes.len().min(1024)];
    if find(head, b"%PDF-", 0).is_none() {
        return Err(Error::invalid("the document is not a PDF file"));
    }
    if is_encrypted_pdf(bytes) {
        return Err(Error::invalid("encrypted PDFs are not supported"));
    }
    let mut sink = TextSink::new();
    let mut parser = ContentParser::default();
    let mut budget = max_inflated;
    let mut pos = 0;
    while let Some(kw) = find(bytes, b"stream", pos) {
        let searched_from = pos;
        pos = kw + 6;
        let Some(stream) = locate_stream(bytes, kw, searched_from) else {
            continue;
        };
        pos = stream.next;
        let dict = StreamDict::parse(&bytes[stream.dict_start..kw]);
        if dict.skip || dict.other_filter {
            continue;
        }
        let raw = &bytes[stream.start..stream.end];
        let data: Cow<'_, [u8]> = if dict.flate {
            match inflate(raw, budget)? {
                Some(data) => {
                    budget -= data.len().min(budget);
                    Cow::Owned(data)
                }
                None => continue,
            }
        } else {
            Cow::Borrowed(raw)
        };
        let before = sink.out.len();
        parser.run(&data, &mut sink);
        if sink.out.len() > before {
            // Separate streams are usually separate pages.
            sink.gap(Gap::Para);
        }
    }
    if sink.out.trim().is_empty() {
        return Err(Error::invalid(
            "the PDF has no extractable text (scanned images are not supported)",
        ));
    }
    Ok(sink.out)
}

/// Encrypted documents have an `/Encrypt` entry in their trailer; their strings and streams
/// are ciphertext.
fn is_encrypted_pdf(bytes: &[u8]) -> bool {
    let mut from = 0;
    while let Some(p) = find(bytes, b"/Encrypt", from) {
        match bytes.get(p + 8) {
            Some(c) if c.is_ascii_alphanumeric() => from = p + 8,
            _ => return true,
        }
    }
    false
}

struct StreamSpan {
    /// Where the stream's dictionary starts (`<<`).
    dict_start: usize,
    start: usize,
    end: usize,
    /// Where to continue searching.
    next: usize,
}

/// Given the offset of a `stream` keyword, the stream's dictionary and data, or `None` when
/// the keyword is not a real one (part of `endstream`, or inside some text). The dictionary
/// is not looked for before `floor`, the end of what was already read.
fn locate_stream(b: &[u8], kw: usize, floor: usize) -> Option<StreamSpan> {
    if kw >= 3 && &b[kw - 3..kw] == b"end" {
        return None;
    }
    // The keyword directly follows the stream's dictionary, and is followed by a line end.
    let mut j = kw;
    while j > floor && is_pdf_space(b[j - 1]) {
        j -= 1;
    }
    if j < floor + 2 || &b[j - 2..j] != b">>" {
        return None;
    }
    let mut start = kw + 6;
    match b.get(start) {
        Some(b'\r') => {
            start += 1;
            if b.get(start) == Some(&b'\n') {
                start += 1;
            }
        }
        Some(b'\n') => start += 1,
        Some(b' ') if b.get(start + 1) == Some(&b'\n') => start += 2,
        None => {}
        _ => return None,
    }
    let dict_start = dict_start(b, j - 2, floor);
    let length = StreamDict::direct_length(&b[dict_start..j]);
    let by_length = length.and_then(|len| {
        let end = start.checked_add(len)?;
        let after = b.get(end..)?;
        let ws = after.iter().take_while(|&&c| is_pdf_space(c)).count();
        after[ws..]
            .starts_with(b"endstream")
            .then_some((end, end + ws + 9))
    });
    let (end, next) = by_length.unwrap_or_else(|| match find(b, b"endstream", start) {
        Some(p) => {
            let mut end = p;
            if end > start && b[end - 1] == b'\n' {
                end -= 1;
            }
            if end > start && b[end - 1] == b'\r' {
                end -= 1;
            }
            (end, p + 9)
        }
        // A truncated file: take what there is.
        None => (b.len(), b.len()),
    });
    Some(StreamSpan {
        dict_start,
        start,
        end,
        next,
    })
}

/// The start of the dictionary whose closing `>>` is at `close`, matching nested `<< >>`.
/// Never looks before `floor` (nor further back than any real dictionary is long), so that
/// a hostile file cannot make each stream rescan what came before.
fn dict_start(b: &[u8], close: usize, floor: usize) -> usize {
    let floor = floor.max(close.saturating_sub(16 * 1024)).min(close);
    let mut depth = 0usize;
    let mut j = close + 2;
    while j >= floor + 2 {
        let pair = &b[j - 2..j];
        if pair == b">>" {
            depth += 1;
            j -= 2;
        } else if pair == b"<<" {
            depth = depth.saturating_sub(1);
            if depth == 0 {
                return j - 2;
            }
            j -= 2;
        } else {
            j -= 1;
        }
    }
    floor
}

fn is_pdf_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' | b'\0')
}

fn is_pdf_delimiter(c: u8) -> bool {
    matches!(
        c,
        b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%'
    )
}

/// What a stream's dictionary says about how to read it.
#[derive(Default)]
struct StreamDict {
    flate: bool,
    /// Encoded some way we do not decode.
    other_filter: bool,
    /// Not a content stream (images, fonts, metadata, cross-reference tables).
    skip: bool,
}

impl StreamDict {
    fn parse(dict: &[u8]) -> Self {
        let mut d = StreamDict::default();
        for name in pdf_names(dict) {
            match name {
                b"FlateDecode" | b"Fl" => d.flate = true,
                b"ASCIIHexDecode" | b"AHx" | b"ASCII85Decode" | b"A85" | b"LZWDecode" | b"LZW"
                | b"RunLengthDecode" | b"RL" | b"DCTDecode" | b"DCT" | b"JPXDecode"
                | b"CCITTFaxDecode" | b"CCF" | b"JBIG2Decode" | b"Crypt" => d.other_filter = true,
                b"Image" | b"XRef" | b"ObjStm" | b"Metadata" | b"Length1" | b"Length2"
                | b"Length3" | b"EmbeddedFile" | b"Type1C" | b"CIDFontType0C" | b"OpenType" => {
                    d.skip = true
                }
                _ => {}
            }
        }
        d
    }

    /// `/Length n` when it is a number rather than a reference to an object.
    fn direct_length(dict: &[u8]) -> Option<usize> {
        let p = find(dict, b"/Length", 0)?;
        let rest = dict.get(p + 7..)?;
        if rest.first().is_some_and(|c| !is_pdf_space(*c)) {
            return None;
        }
        let mut tokens = rest
            .split(|&c| is_pdf_space(c) || is_pdf_delimiter(c))
            .filter(|t| !t.is_empty());
        let len = tokens.next()?;
        if !len.iter().all(u8::is_ascii_digit) || len.len() > 12 {
            return None;
        }
        // "12 0 R" is a reference.
        let mut ahead = tokens.clone();
        if ahead
            .next()
            .is_some_and(|t| t.iter().all(u8::is_ascii_digit))
            && ahead.next() == Some(b"R")
        {
            return None;
        }
        std::str::from_utf8(len).ok()?.parse().ok()
    }
}

fn pdf_names(dict: &[u8]) -> impl Iterator<Item = &[u8]> {
    dict.split(|&c| c == b'/').skip(1).map(|s| {
        let end = s
            .iter()
            .position(|&c| is_pdf_space(c) || is_pdf_delimiter(c))
            .unwrap_or(s.len());
        &s[..end]
    })
}

/// Inflates a Flate stream within what is left of the budget. `None` for a stream too broken
/// to yield anything; an error when the document as a whole inflates beyond the cap.
fn inflate(raw: &[u8], budget: usize) -> Result<Option<Vec<u8>>> {
    use miniz_oxide::inflate::{
        decompress_to_vec_with_limit, decompress_to_vec_zlib_with_limit, TINFLStatus,
    };
    let too_large = || {
        Error::PayloadTooLarge(format!(
            "the PDF expands to more than {} MB",
            MAX_PDF_INFLATED >> 20
        ))
    };
    match decompress_to_vec_zlib_with_limit(raw, budget) {
        Ok(data) => Ok(Some(data)),
        Err(e) if e.status == TINFLStatus::HasMoreOutput => Err(too_large()),
        // A damaged or truncated stream still holds text up to the damage.
        Err(e) if !e.output.iter().all(|&b| b == 0) => Ok(Some(e.output)),
        // Some writers omit the zlib header.
        Err(_) => match decompress_to_vec_with_limit(raw, budget) {
            Ok(data) => Ok(Some(data)),
            Err(e) if e.status == TINFLStatus::HasMoreOutput => Err(too_large()),
            Err(_) => Ok(None),
        },
    }
}

#[derive(Debug, Clone, Copy)]
enum Operand {
    Number(f64),
    /// A literal `( … )` string, by the offset of its `(`.
    Literal(usize),
    /// A hex `< … >` string, by the offset of its `<`.
    Hex(usize),
    ArrayStart,
    ArrayEnd,
    Other,
}

/// Reads content streams: a flat sequence of operands followed by an operator.
#[derive(Default)]
struct ContentParser {
    operands: Vec<Operand>,
    /// Decoded bytes of the string being shown, reused across strings.
    buf: Vec<u8>,
    /// Baseline of the text position, in text space, when known.
    y: Option<f64>,
    /// Baseline of the text shown last.
    shown_y: Option<f64>,
}

/// Operands kept before an operator; more means the stream is not really content.
const MAX_OPERANDS: usize = 1 << 16;

impl ContentParser {
    fn run(&mut self, data: &[u8], sink: &mut TextSink) {
        self.operands.clear();
        self.y = None;
        self.shown_y = None;
        let n = data.len();
        let mut i = 0;
        while i < n {
            let c = data[i];
            if self.operands.len() >= MAX_OPERANDS {
                self.operands.clear();
            }
            match c {
                _ if is_pdf_space(c) => i += 1,
                b'%' => {
                    i = data[i..]
                        .iter()
                        .position(|&c| c == b'\n' || c == b'\r')
                        .map_or(n, |p| i + p);
                }
                b'(' => {
                    self.operands.push(Operand::Literal(i));
                    i = literal_string(data, i, None);
                }
                b'<' if data.get(i + 1) == Some(&b'<') => {
                    self.operands.push(Operand::Other);
                    i += 2;
                }
                b'<' => {
                    self.operands.push(Operand::Hex(i));
                    i = hex_string(data, i, None);
                }
                b'[' => {
                    self.operands.push(Operand::ArrayStart);
                    i += 1;
                }
                b']' => {
                    self.operands.push(Operand::ArrayEnd);
                    i += 1;
                }
                b'/' => {
                    i += 1;
                    while i < n && !is_pdf_space(data[i]) && !is_pdf_delimiter(data[i]) {
                        i += 1;
                    }
                    self.operands.push(Operand::Other);
                }
                b'>' | b')' | b'{' | b'}' => i += 1,
                _ => {
                    let start = i;
                    while i < n && !is_pdf_space(data[i]) && !is_pdf_delimiter(data[i]) {
                        i += 1;
                    }
                    let token = &data[start..i];
                    if matches!(token[0], b'0'..=b'9' | b'+' | b'-' | b'.') {
                        let number = std::str::from_utf8(token)
                            .ok()
                            .and_then(|t| t.parse::<f64>().ok())
                            .filter(|v| v.is_finite());
                        self.operands
                            .push(number.map_or(Operand::Other, Operand::Number));
                        continue;
                    }
                    if token == b"ID" {
                        i = skip_inline_image(data, i);
                    } else {
                        self.operator(token, data, sink);
                    }
                    self.operands.clear();
                }
            }
        }
    }

    fn number(&self, back: usize) -> Option<f64> {
        let idx = self.operands.len().checked_sub(back)?;
        match self.operands.get(idx) {
            Some(Operand::Number(v)) => Some(*v),
            _ => None,
        }
    }

    fn operator(&mut self, op: &[u8], data: &[u8], sink: &mut TextSink) {
        match op {
            b"BT" => self.y = Some(0.0),
            b"ET" => sink.gap(Gap::Space),
            b"Td" | b"TD" => {
                let (tx, ty) = (self.number(2).unwrap_or(0.0), self.number(1).unwrap_or(0.0));
                match self.y {
                    Some(y) => self.y = Some(y + ty),
                    None if ty != 0.0 => sink.gap(Gap::Line),
                    None => {}
                }
                if ty == 0.0 && tx != 0.0 {
                    sink.gap(Gap::Space);
                }
            }
            b"Tm" => {
                self.y = self.number(1);
                sink.gap(Gap::Space);
            }
            b"T*" => {
                self.y = None;
                self.shown_y = None;
                sink.gap(Gap::Line);
            }
            b"Tj" | b"'" | b"\"" => {
                if op != b"Tj" {
                    self.y = None;
                    self.shown_y = None;
                    sink.gap(Gap::Line);
                }
                if let Some(s) = self.operands.iter().rev().find(|o| is_string(o)).copied() {
                    self.show(s, data, sink);
                }
            }
            b"TJ" => {
                let start = self
                    .operands
                    .iter()
                    .rposition(|o| matches!(o, Operand::ArrayStart))
                    .map_or(0, |p| p + 1);
                for k in start..self.operands.len() {
                    match self.operands[k] {
                        // Thousandths of an em: a big move to the right is a word space.
                        Operand::Number(v) if v < -200.0 => sink.gap(Gap::Space),
                        o if is_string(&o) => self.show(o, data, sink),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }

    fn show(&mut self, s: Operand, data: &[u8], sink: &mut TextSink) {
        if let (Some(prev), Some(y)) = (self.shown_y, self.y) {
            if (prev - y).abs() > 0.01 {
                sink.gap(Gap::Line);
            }
        }
        self.shown_y = self.y;
        self.buf.clear();
        let mut hex = false;
        match s {
            Operand::Literal(at) => {
                literal_string(data, at, Some(&mut self.buf));
            }
            Operand::Hex(at) => {
                hex_string(data, at, Some(&mut self.buf));
                hex = true;
            }
            _ => return,
        }
        decode_pdf_string(&self.buf, hex, sink);
    }
}

fn is_string(o: &Operand) -> bool {
    matches!(o, Operand::Literal(_) | Operand::Hex(_))
}

/// Scans the literal string whose `(` is at `at`, returning the offset after its `)`, and
/// decodes its bytes into `out` when given.
fn literal_string(data: &[u8], at: usize, mut out: Option<&mut Vec<u8>>) -> usize {
    let mut push = |b: u8| {
        if let Some(o) = out.as_deref_mut() {
            o.push(b);
        }
    };
    let n = data.len();
    let mut depth = 1usize;
    let mut i = at + 1;
    while i < n {
        let c = data[i];
        i += 1;
        match c {
            b'\\' => {
                let Some(&e) = data.get(i) else { break };
                i += 1;
                match e {
                    b'n' => push(b'\n'),
                    b'r' => push(b'\r'),
                    b't' => push(b'\t'),
                    b'b' => push(0x08),
                    b'f' => push(0x0c),
                    b'0'..=b'7' => {
                        let mut v = u32::from(e - b'0');
                        for _ in 0..2 {
                            match data.get(i) {
                                Some(&d @ b'0'..=b'7') => {
                                    v = v * 8 + u32::from(d - b'0');
                                    i += 1;
                                }
                                _ => break,
                            }
                        }
                        push((v & 0xff) as u8);
                    }
                    // A backslash at the end of a line continues the string on the next.
                    b'\r' => {
                        if data.get(i) == Some(&b'\n') {
                            i += 1;
                        }
                    }
                    b'\n' => {}
                    other => push(other),
                }
            }
            b'(' => {
                depth += 1;
                push(c);
            }
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return i;
                }
                push(c);
            }
            _ => push(c),
        }
    }
    n
}

/// Scans the hex string whose `<` is at `at`, like [`literal_string`].
fn hex_string(data: &[u8], at: usize, out: Option<&mut Vec<u8>>) -> usize {
    let end = data[at..]
        .iter()
        .position(|&c| c == b'>')
        .map_or(data.len(), |p| at + p);
    if let Some(o) = out {
        let mut high: Option<u8> = None;
        for &c in &data[at + 1..end] {
            let v = match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'f' => c - b'a' + 10,
                b'A'..=b'F' => c - b'A' + 10,
                _ => continue,
            };
            match high.take() {
                Some(h) => o.push(h << 4 | v),
                None => high = Some(v),
            }
        }
        // An odd final digit is followed by an implied 0.
        if let Some(h) = high {
            o.push(h << 4);
        }
    }
    (end + 1).min(data.len())
}

/// Skips the data of an inline image (`ID … EI`), which is binary and would otherwise be
/// misread as operators and strings.
fn skip_inline_image(data: &[u8], from: usize) -> usize {
    let mut i = from;
    while let Some(p) = find(data, b"EI", i) {
        let before = p == 0 || is_pdf_space(data[p - 1]);
        let after = data.get(p + 2).is_none_or(|&c| is_pdf_space(c));
        if before && after {
            return p + 2;
        }
        i = p + 2;
    }
    data.len()
}

/// Decodes the bytes of a shown string: UTF-16BE when marked by a byte order mark (or, for
/// hex strings, when it looks like two-byte codes starting with 0x00), else one byte per
/// character. Simple fonts mostly use WinAnsiEncoding, which is Latin-1 except for the
/// punctuation in 0x80–0x9F.
fn decode_pdf_string(bytes: &[u8], hex: bool, sink: &mut TextSink) {
    let utf16 = bytes.starts_with(&[0xFE, 0xFF])
        || (hex && bytes.len() >= 2 && bytes.len().is_multiple_of(2) && bytes[0] == 0);
    if utf16 {
        let body = bytes.strip_prefix(&[0xFE, 0xFF]).unwrap_or(bytes);
        let units = body
            .chunks_exact(2)
            .map(|p| u16::from_be_bytes([p[0], p[1]]));
        for c in char::decode_utf16(units) {
            sink.char(c.unwrap_or('\u{FFFD}'));
        }
        return;
    }
    for &b in bytes {
        sink.char(win_ansi(b));
    }
}

fn win_ansi(b: u8) -> char {
    const HIGH: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8d}', 'Ž',
        '\u{8f}', '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9d}',
        'ž', 'Ÿ',
    ];
    match b {
        0x80..=0x9F => HIGH[usize::from(b - 0x80)],
        _ => char::from(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(format: DocFormat, bytes: &[u8]) -> String {
        extract_text(format, bytes).unwrap()
    }

    fn invalid_message(r: Result<String>) -> String {
        match r {
            Err(Error::Invalid { message, .. }) => message,
            other => panic!("expected Error::Invalid, got {other:?}"),
        }
    }

    /// Wraps content streams into a PDF with the usual objects around them.
    fn pdf(streams: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out =
            b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
                .to_vec();
        for (k, (dict, data)) in streams.iter().enumerate() {
            out.extend_from_slice(
                format!(
                    "{} 0 obj\n<< /Length {} {dict} >>\nstream\n",
                    k + 3,
                    data.len()
                )
                .as_bytes(),
            );
            out.extend_from_slice(data);
            out.extend_from_slice(b"\nendstream\nendobj\n");
        }
        out.extend_from_slice(b"trailer\n<< /Root 1 0 R >>\n%%EOF\n");
        out
    }

    #[test]
    fn format_names() {
        let all = [
            DocFormat::Text,
            DocFormat::Markdown,
            DocFormat::Html,
            DocFormat::Json,
            DocFormat::Csv,
            DocFormat::Pdf,
        ];
        let names: Vec<&str> = all.iter().map(|f| f.as_str()).collect();
        assert_eq!(names, ["text", "markdown", "html", "json", "csv", "pdf"]);
    }

    #[test]
    fn detects_by_extension_first() {
        let cases = [
            ("notes.txt", DocFormat::Text),
            ("server.LOG", DocFormat::Text),
            ("README.md", DocFormat::Markdown),
            ("a.markdown", DocFormat::Markdown),
            ("page.HTM", DocFormat::Html),
            ("dir/page.html", DocFormat::Html),
            ("data.json", DocFormat::Json),
            ("events.ndjson", DocFormat::Json),
            ("events.jsonl", DocFormat::Json),
            ("t.csv", DocFormat::Csv),
            ("t.tsv", DocFormat::Csv),
            ("C:\\docs\\paper.pdf", DocFormat::Pdf),
        ];
        for (name, f) in cases {
            assert_eq!(
                detect_format(Some(name), Some("text/plain"), b"{}"),
                Some(f),
                "{name}"
            );
        }
        assert_eq!(detect_format(Some("photo.png"), None, b"hello"), None);
        assert_eq!(
            detect_format(Some("a.zip"), Some("text/plain"), b"PK\x03\x04"),
            None
        );
        assert_eq!(detect_format(Some("report.docx"), None, b"PK"), None);
    }

    #[test]
    fn detects_by_content_type_ignoring_parameters() {
        let cases = [
            ("text/plain; charset=utf-8", DocFormat::Text),
            ("text/markdown", DocFormat::Markdown),
            ("TEXT/HTML; charset=ISO-8859-1", DocFormat::Html),
            ("application/json", DocFormat::Json),
            ("application/ld+json", DocFormat::Json),
            ("application/x-ndjson", DocFormat::Json),
            ("text/csv;header=present", DocFormat::Csv),
            ("application/pdf", DocFormat::Pdf),
        ];
        for (ct, f) in cases {
            assert_eq!(
                detect_format(Some("upload"), Some(ct), b"x"),
                Some(f),
                "{ct}"
            );
        }
        assert_eq!(detect_format(None, Some("image/png"), b"text"), None);
        assert_eq!(
            detect_format(Some("file.bin2"), Some("application/zip"), b"x"),
            None
        );
    }

    #[test]
    fn sniffs_the_bytes_last() {
        let octet = Some("application/octet-stream");
        assert_eq!(
            detect_format(None, octet, b"%PDF-1.7\n..."),
            Some(DocFormat::Pdf)
        );
        assert_eq!(
            detect_format(None, None, b"  <!DOCTYPE html><html><body>x</body></html>"),
            Some(DocFormat::Html)
        );
        assert_eq!(
            detect_format(None, None, b"<HTML><p>x</p></HTML>"),
            Some(DocFormat::Html)
        );
        assert_eq!(
            detect_format(None, None, br#"{"a": [1, 2]}"#),
            Some(DocFormat::Json)
        );
        assert_eq!(
            detect_format(None, None, b"{\"a\": 1}\n{\"a\": 2}\n"),
            Some(DocFormat::Json)
        );
        assert_eq!(
            detect_format(Some("noext"), octet, "\u{feff}plain words".as_bytes()),
            Some(DocFormat::Text)
        );
        assert_eq!(
            detect_format(None, None, b"{not json}"),
            Some(DocFormat::Text)
        );
        assert_eq!(
            detect_format(None, None, b"<b>bold</b> is not a page"),
            Some(DocFormat::Text)
        );
        assert_eq!(detect_format(None, None, b"\x89PNG\r\n\x1a\n\0\0"), None);
        assert_eq!(detect_format(None, octet, b"\xff\xfe\xfd"), None);
        assert_eq!(detect_format(None, None, b"PK\x03\x04\x14\0\0\0"), None);
        assert_eq!(
            detect_format(None, None, b"\x01\x02\x03\x04\x05 mostly control"),
            None
        );
    }

    #[test]
    fn text_and_markdown() {
        assert_eq!(text(DocFormat::Text, b"  hello\nworld \n"), "hello\nworld");
        assert_eq!(
            text(DocFormat::Text, "\u{feff}caf\u{e9}".as_bytes()),
            "café"
        );
        let md = "# Title\n\n* item **bold**\n\n```\ncode\n```";
        assert_eq!(text(DocFormat::Markdown, md.as_bytes()), md);
        assert!(invalid_message(extract_text(DocFormat::Text, b"ok \xff\xfe")).contains("UTF-8"));
        assert_eq!(
            invalid_message(extract_text(DocFormat::Text, b" \n\t ")),
            "the document has no text"
        );
        assert_eq!(
            invalid_message(extract_text(DocFormat::Markdown, b"")),
            "the document has no text"
        );
    }

    #[test]
    fn html_drops_scripts_styles_comments_and_head() {
        let html = br#"<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>My  Page</title>
<style>p { color: red; }</style><script>var x = "<p>not text</p>";</script>
<link rel="stylesheet" href="a.css"></head>
<body><noscript>Enable JS</noscript><!-- a comment <p>hidden</p> -->
<h1>Heading</h1><p>First <b>bold</b> paragraph.</p>
<SCRIPT type="text/javascript">alert(1)</SCRIPT>
<div>Line one<br>Line two</div><ul><li>a</li><li>b</li></ul>
</body></html>"#;
        assert_eq!(
            text(DocFormat::Html, html),
            "My Page\n\nHeading\n\nFirst bold paragraph.\n\nLine one\nLine two\n\na\nb"
        );
    }

    #[test]
    fn html_entities_and_whitespace() {
        let html = b"<p>Fish &amp; chips &lt;3 &quot;yum&quot; &#39;ok&#39; &apos;a&apos;</p>\
<p>A&nbsp;B   C\n\n  D &#233;t&#xE9; &#X1F600; &copy; &bogus; & alone &#0; &#xD800;</p>";
        assert_eq!(
            text(DocFormat::Html, html),
            "Fish & chips <3 \"yum\" 'ok' 'a'\n\nA B C D été 😀 © &bogus; & alone \u{FFFD} \u{FFFD}"
        );
    }

    #[test]
    fn html_title_first_and_not_repeated() {
        assert_eq!(
            text(DocFormat::Html, b"<title>Doc &amp; Co</title><p>Body</p>"),
            "Doc & Co\n\nBody"
        );
        assert_eq!(
            text(
                DocFormat::Html,
                b"<title>Same</title><h1>Same</h1><p>Body</p>"
            ),
            "Same\n\nBody"
        );
        assert_eq!(
            text(DocFormat::Html, b"<html><title>Only a title</title></html>"),
            "Only a title"
        );
    }

    #[test]
    fn html_pre_tables_and_quoted_attributes() {
        let html = b"<p>Code:</p><pre>\nfn main() {\n    run();\n}\n</pre><p>After</p>\
<table><tr><td>a</td><td>b</td></tr><tr><th>c</th><td>d</td></tr></table>\
<a href=\"x?a=1&b=2>3\" title='it''s'>link</a>";
        assert_eq!(
            text(DocFormat::Html, html),
            "Code:\n\nfn main() {\n    run();\n}\n\nAfter\n\na b\nc d\n\nlink"
        );
    }

    #[test]
    fn html_tolerates_malformed_markup() {
        assert_eq!(
            text(DocFormat::Html, b"<p>1 < 2 and 3 > 2<p>unclosed <b>bold"),
            "1 < 2 and 3 > 2\n\nunclosed bold"
        );
        assert_eq!(text(DocFormat::Html, b"text <!-- never closed"), "text");
        assert_eq!(
            text(DocFormat::Html, b"before <script>never closed"),
            "before"
        );
        assert_eq!(text(DocFormat::Html, b"cut <a href=\"x"), "cut");
        assert_eq!(text(DocFormat::Html, b"x<![CDATA[raw <b>]]>y"), "xraw <b>y");
        assert_eq!(
            text(DocFormat::Html, b"&#99999999999;&#x;&"),
            "&#99999999999;&#x;&"
        );
        assert_eq!(
            invalid_message(extract_text(DocFormat::Html, b"<script>x</script><p> </p>")),
            "the document has no text"
        );
        // Hostile shapes finish quickly and do not panic.
        let many = "<a b=\"".repeat(20_000) + &"<p>&#".repeat(20_000) + "é<";
        let _ = extract_text(DocFormat::Html, many.as_bytes());
        let tags = "<div><span>é</span>".repeat(50_000);
        assert_eq!(text(DocFormat::Html, tags.as_bytes()).len(), 50_000 * 3 - 1);
    }

    #[test]
    fn json_flattens_to_paths() {
        let json = br#"{"name": "Ada", "age": 36, "tags": ["math", "code"],
            "address": {"city": "London", "zip": null}, "ok": true, "pi": 3.14, "empty": {}}"#;
        assert_eq!(
            text(DocFormat::Json, json),
            "name: Ada\nage: 36\ntags[0]: math\ntags[1]: code\naddress.city: London\n\
             address.zip: null\nok: true\npi: 3.14"
        );
        assert_eq!(text(DocFormat::Json, b"\"just a string\""), "just a string");
        assert_eq!(
            text(DocFormat::Json, br#"[{"a": 1}, {"a": 2}]"#),
            "[0].a: 1\n\n[1].a: 2"
        );
        assert_eq!(
            text(DocFormat::Json, br#"{"a": [[1, 2], [3]]}"#),
            "a[0][0]: 1\na[0][1]: 2\na[1][0]: 3"
        );
    }

    #[test]
    fn json_lines() {
        let jsonl = b"{\"id\": 1, \"msg\": \"hi\"}\n\n{\"id\": 2, \"msg\": \"there\"}\r\n";
        assert_eq!(
            text(DocFormat::Json, jsonl),
            "id: 1\nmsg: hi\n\nid: 2\nmsg: there"
        );
        let err = invalid_message(extract_text(DocFormat::Json, b"{\"a\": 1}\n{broken\n"));
        assert!(err.starts_with("invalid JSON"), "{err}");
    }

    #[test]
    fn json_errors_and_depth() {
        for bad in [&b"{\"a\": "[..], b"", b"   ", b"[1, 2", b"nul"] {
            let err = invalid_message(extract_text(DocFormat::Json, bad));
            assert!(err.starts_with("invalid JSON"), "{err}");
        }
        assert_eq!(
            invalid_message(extract_text(DocFormat::Json, b"{}")),
            "the document has no text"
        );
        // Nesting past serde_json's limit is refused instead of overflowing the stack.
        let deep = "[".repeat(100_000) + &"]".repeat(100_000);
        let err = invalid_message(extract_text(DocFormat::Json, deep.as_bytes()));
        assert!(err.contains("recursion limit"), "{err}");
        // Nesting past our own limit is kept, compactly, on one line.
        let deep = "{\"k\":".repeat(100) + "\"v\"" + &"}".repeat(100);
        let out = text(DocFormat::Json, deep.as_bytes());
        let path = vec!["k"; MAX_JSON_DEPTH].join(".");
        assert!(out.starts_with(&format!("{path}: {{\"k\":")), "{out}");
        assert_eq!(out.matches("{\"k\":").count(), 100 - MAX_JSON_DEPTH);
        assert!(out.ends_with(&format!("\"v\"{}", "}".repeat(100 - MAX_JSON_DEPTH))));
        assert_eq!(out.lines().count(), 1);
    }

    #[test]
    fn json_output_is_capped() {
        // Long keys repeated on every line would expand a small upload enormously.
        let key = "k".repeat(60_000);
        let doc = format!("{{\"{key}\": [{}0]}}", "0,".repeat(600));
        match extract_text(DocFormat::Json, doc.as_bytes()) {
            Err(Error::PayloadTooLarge(_)) => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn csv_rows_with_headers() {
        let csv = b"name,pet,notes\r\n\"Tom, Jr\",cat,\"said \"\"hi\"\"\"\r\nAnn,,\"two\nlines\"\r\n,,\r\n";
        assert_eq!(
            text(DocFormat::Csv, csv),
            "name: Tom, Jr; pet: cat; notes: said \"hi\"\nname: Ann; notes: two lines"
        );
    }

    #[test]
    fn csv_separators_and_ragged_rows() {
        assert_eq!(text(DocFormat::Csv, b"a\tb\n1,5\t2\n"), "a: 1,5; b: 2");
        assert_eq!(text(DocFormat::Csv, b"a;b\n1;2"), "a: 1; b: 2");
        assert_eq!(
            text(DocFormat::Csv, b"a,b\n1,2,3\n4"),
            "a: 1; b: 2; column 3: 3\na: 4"
        );
        assert_eq!(text(DocFormat::Csv, b"only,headers\n"), "only; headers");
        assert_eq!(text(DocFormat::Csv, b"\n,\nh\nv"), "h: v");
        assert_eq!(
            text(DocFormat::Csv, b"a,b\n\"open quote,2\nnever closed"),
            "a: open quote,2 never closed"
        );
        assert_eq!(
            text(DocFormat::Csv, b"q\nx\"y\"z\n\"a\"b"),
            "q: x\"y\"z\nq: ab"
        );
        assert_eq!(
            invalid_message(extract_text(DocFormat::Csv, b"")),
            "the document has no text"
        );
    }

    #[test]
    fn pdf_uncompressed_content_stream() {
        let doc = pdf(&[("", b"BT /F1 12 Tf 72 712 Td (Hello PDF world) Tj ET")]);
        assert_eq!(text(DocFormat::Pdf, &doc), "Hello PDF world");
    }

    #[test]
    fn pdf_flate_compressed_stream() {
        let content = b"BT /F1 12 Tf 72 712 Td (Compressed line one) Tj 0 -14 Td (line two) Tj ET";
        let z = miniz_oxide::deflate::compress_to_vec_zlib(content, 6);
        let doc = pdf(&[("/Filter /FlateDecode", &z)]);
        assert_eq!(text(DocFormat::Pdf, &doc), "Compressed line one\nline two");
        // Without a usable /Length, the stream ends at `endstream`.
        let mut doc =
            b"%PDF-1.5\n4 0 obj << /Filter [/FlateDecode] /Length 9 0 R >>\nstream\r\n".to_vec();
        doc.extend_from_slice(&z);
        doc.extend_from_slice(b"\r\nendstream\nendobj\n");
        assert_eq!(text(DocFormat::Pdf, &doc), "Compressed line one\nline two");
    }

    #[test]
    fn pdf_tj_arrays_with_kerning() {
        let doc = pdf(&[(
            "",
            b"BT /F1 10 Tf 50 700 Td [(Ke)20(rn)-30(ing) -500 (works)] TJ T* [(next)-250(line)]TJ ET",
        )]);
        assert_eq!(text(DocFormat::Pdf, &doc), "Kerning works\nnext line");
    }

    #[test]
    fn pdf_hex_strings() {
        let doc = pdf(&[(
            "",
            b"BT <48656C6C6F> Tj ( ) Tj <776F726C64 21> Tj 0 -12 Td <FEFF00E90074> Tj \
              0 -12 Td <004800690021> Tj 0 -12 Td <4> Tj ET",
        )]);
        assert_eq!(text(DocFormat::Pdf, &doc), "Hello world!\nét\nHi!\n@");
    }

    #[test]
    fn pdf_literal_escapes_and_quote_operators() {
        let doc = pdf(&[(
            "",
            b"BT (a\\(b\\)c \\\\ d\\101\\1022) Tj (nested (parens) ok) ' (caf\\351 \\223q\\224) ' \
              1 2 (spaced) \" (line\\\n joined) ' ET",
        )]);
        assert_eq!(
            text(DocFormat::Pdf, &doc),
            "a(b)c \\ dAB2\nnested (parens) ok\ncafé \u{201c}q\u{201d}\nspaced\nline joined"
        );
    }

    #[test]
    fn pdf_text_positioning() {
        // Same baseline via Tm: one line; new baseline: a new line; pages: paragraphs.
        let page1 = b"BT 1 0 0 1 72 700 Tm (left) Tj 1 0 0 1 300 700 Tm (right) Tj \
                      1 0 0 1 72 680 Tm (below) Tj ET BT 72 660 Td (word) Tj 40 0 Td (gap) Tj ET";
        let page2 = b"BT 72 700 Td (Page two) Tj ET";
        let doc = pdf(&[("", page1), ("", page2)]);
        assert_eq!(
            text(DocFormat::Pdf, &doc),
            "left right\nbelow\nword gap\n\nPage two"
        );
    }

    #[test]
    fn pdf_skips_images_fonts_and_inline_images() {
        let image = b"(not text) Tj BT (fake) Tj ET";
        let content = b"BT (before) Tj ET BI /W 4 /H 4 ID \x00(Tj)\xff) Tj EI BT (after) Tj ET";
        let doc = pdf(&[
            ("/Type /XObject /Subtype /Image /Width 1", image),
            ("/Length1 100", image),
            ("", content),
        ]);
        assert_eq!(text(DocFormat::Pdf, &doc), "before after");
    }

    #[test]
    fn pdf_without_text_or_garbage_is_invalid() {
        let no_text = "the PDF has no extractable text (scanned images are not supported)";
        let doc = pdf(&[("", b"q 100 0 0 100 0 0 cm /Im1 Do Q")]);
        assert_eq!(invalid_message(extract_text(DocFormat::Pdf, &doc)), no_text);
        assert_eq!(
            invalid_message(extract_text(
                DocFormat::Pdf,
                b"%PDF-1.4 garbage stream \x00\x01"
            )),
            no_text
        );
        let doc = pdf(&[("/Filter /FlateDecode", b"\x78\x9cnot really zlib")]);
        assert_eq!(invalid_message(extract_text(DocFormat::Pdf, &doc)), no_text);
        assert!(invalid_message(extract_text(DocFormat::Pdf, b"hello")).contains("not a PDF"));
        let encrypted = [
            pdf(&[("", b"BT (x) Tj ET")]),
            b"trailer << /Encrypt 5 0 R >>".to_vec(),
        ]
        .concat();
        assert!(invalid_message(extract_text(DocFormat::Pdf, &encrypted)).contains("encrypted"));
    }

    #[test]
    fn pdf_truncated_and_hostile_inputs_do_not_panic() {
        let doc = pdf(&[("", b"BT (Hello PDF world) Tj ET")]);
        for cut in 0..doc.len() {
            let _ = extract_text(DocFormat::Pdf, &doc[..cut]);
        }
        let z = miniz_oxide::deflate::compress_to_vec_zlib(b"BT (zipped text) Tj ET", 6);
        let doc = pdf(&[("/Filter /FlateDecode", &z)]);
        for cut in 0..doc.len() {
            let _ = extract_text(DocFormat::Pdf, &doc[..cut]);
        }
        let mut seed = 99u64;
        let mut noise = b"%PDF-1.4\n".to_vec();
        for _ in 0..200_000 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let pieces: [&[u8]; 8] = [b">>stream\n", b"(", b")", b"<", b"[", b"Tj", b" ", b"\\"];
            noise.extend_from_slice(pieces[(seed >> 60) as usize % 8]);
            noise.push((seed >> 33) as u8);
        }
        let _ = extract_text(DocFormat::Pdf, &noise);
        let opens = [b"%PDF-1.4\n".as_slice(), &b"<< >>stream\n(".repeat(50_000)].concat();
        let _ = extract_text(DocFormat::Pdf, &opens);
    }

    #[test]
    fn pdf_inflation_is_capped() {
        assert_eq!(MAX_PDF_INFLATED, 50 << 20);
        let cap = 1 << 20;
        let bomb = miniz_oxide::deflate::compress_to_vec_zlib(&vec![b' '; cap + 1], 9);
        let doc = pdf(&[("/Filter /FlateDecode", &bomb)]);
        assert!(matches!(
            pdf_to_text_capped(&doc, cap),
            Err(Error::PayloadTooLarge(_))
        ));
        // The cap is on the total, not per stream.
        let part = miniz_oxide::deflate::compress_to_vec_zlib(&vec![b' '; cap / 3 + 1], 9);
        let text = miniz_oxide::deflate::compress_to_vec_zlib(b"BT (x) Tj ET", 9);
        let doc = pdf(&[
            ("/Filter /FlateDecode", &text),
            ("/Filter /FlateDecode", &part),
            ("/Filter /FlateDecode", &part),
        ]);
        assert_eq!(pdf_to_text_capped(&doc, cap).unwrap(), "x");
        let doc = pdf(&[
            ("/Filter /FlateDecode", &part),
            ("/Filter /FlateDecode", &part),
            ("/Filter /FlateDecode", &part),
        ]);
        assert!(matches!(
            pdf_to_text_capped(&doc, cap),
            Err(Error::PayloadTooLarge(_))
        ));
    }
}
