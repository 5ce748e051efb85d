//! `/api/documents`: upload (multipart file or JSON text), list, delete.

use serde::Deserialize;
use serde_json::json;
use worker::{FormEntry, Request};

use crate::app::documents::Upload;
use crate::core::auth::Scope;
use crate::core::extract::{detect_format, DocFormat};
use crate::core::memory::{normalise_tags, validate_tags, TagsInput};
use crate::core::{Error, Result};
use crate::http::auth::require;
use crate::http::body::read_json;
use crate::http::respond::{json, HttpResult};
use crate::http::Ctx;

pub const MAX_DOCUMENT_BYTES: usize = 10 * 1024 * 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TextDocument {
    title: String,
    text: String,
    #[serde(default)]
    tags: Option<TagsInput>,
    #[serde(default)]
    format: Option<String>,
}

fn check_title(t: &str) -> Result<String> {
    let t = t.trim();
    if t.is_empty() || t.chars().count() > 300 {
        return Err(Error::invalid_param(
            "title",
            "title must be 1-300 characters",
        ));
    }
    if t.chars().any(char::is_control) {
        return Err(Error::invalid_param(
            "title",
            "title must not contain control characters",
        ));
    }
    Ok(t.to_string())
}

/// The last path component of an uploaded file's name, without control characters.
fn clean_filename(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = base.chars().filter(|c| !c.is_control()).take(255).collect();
    match cleaned.trim() {
        "" => "upload".to_string(),
        t => t.to_string(),
    }
}

async fn read_upload(req: &mut Request) -> Result<Upload> {
    let ctype = req
        .headers()
        .get("content-type")
        .ok()
        .flatten()
        .unwrap_or_default();
    if let Ok(Some(len)) = req.headers().get("content-length") {
        if len
            .parse::<usize>()
            .is_ok_and(|n| n > MAX_DOCUMENT_BYTES + 64 * 1024)
        {
            return Err(Error::PayloadTooLarge(format!(
                "documents are limited to {MAX_DOCUMENT_BYTES} bytes"
            )));
        }
    }
    if ctype
        .to_ascii_lowercase()
        .starts_with("multipart/form-data")
    {
        let form = req
            .form_data()
            .await
            .map_err(|e| Error::invalid(format!("unreadable multipart body: {e}")))?;
        let Some(FormEntry::File(file)) = form.get("file") else {
            return Err(Error::invalid_param(
                "file",
                "send the document as a multipart field named 'file'",
            ));
        };
        let bytes = file
            .bytes()
            .await
            .map_err(|e| Error::invalid(format!("unreadable file: {e}")))?;
        if bytes.len() > MAX_DOCUMENT_BYTES {
            return Err(Error::PayloadTooLarge(format!(
                "documents are limited to {MAX_DOCUMENT_BYTES} bytes"
            )));
        }
        if bytes.is_empty() {
            return Err(Error::invalid_param("file", "the file is empty"));
        }
        let filename = clean_filename(&file.name());
        let format =
            detect_format(Some(&filename), Some(&file.type_()), &bytes).ok_or_else(|| {
                Error::invalid_param(
                    "file",
                    "unsupported file type: send text, Markdown, HTML, JSON, CSV or PDF",
                )
            })?;
        let tags = match form.get("tags") {
            Some(FormEntry::Field(t)) => {
                normalise_tags(t.split(',').map(str::to_string).collect())?
            }
            _ => Vec::new(),
        };
        let title = match form.get("title") {
            Some(FormEntry::Field(t)) if !t.trim().is_empty() => check_title(&t)?,
            _ => check_title(if filename.is_empty() {
                "untitled"
            } else {
                &filename
            })?,
        };
        return Ok(Upload {
            title,
            filename: Some(filename),
            format,
            bytes,
            tags,
        });
    }
    let body: TextDocument = read_json(req, MAX_DOCUMENT_BYTES + 64 * 1024).await?;
    let format = match body.format.as_deref() {
        None | Some("text") => DocFormat::Text,
        Some("markdown") => DocFormat::Markdown,
        Some("html") => DocFormat::Html,
        Some("json") => DocFormat::Json,
        Some("csv") => DocFormat::Csv,
        Some(other) => {
            return Err(Error::invalid_param(
                "format",
                format!("unsupported format '{other}'"),
            ))
        }
    };
    if body.text.trim().is_empty() {
        return Err(Error::invalid_param("text", "text must not be empty"));
    }
    Ok(Upload {
        title: check_title(&body.title)?,
        filename: None,
        format,
        bytes: body.text.into_bytes(),
        tags: validate_tags(body.tags.as_ref())?,
    })
}

pub async fn upload(ctx: &Ctx, req: &mut Request) -> HttpResult {
    let caller = require(ctx, req, Scope::MemoryWrite).await?;
    let up = read_upload(req).await?;
    let app = ctx.app().await?;
    let doc = app.ingest_document(caller.owner(), up).await?;
    ctx.flush_events(&app);
    json(
        201,
        &json!({"success": true, "message": format!("Document stored as {} chunks", doc.chunk_count), "document": doc}),
    )
}

pub async fn list(ctx: &Ctx, req: &mut Request) -> HttpResult {
    let caller = require(ctx, req, Scope::MemoryRead).await?;
    let app = ctx.app().await?;
    let docs = app.list_documents(caller.owner()).await?;
    json(200, &json!({"documents": docs, "total": docs.len()}))
}

pub async fn delete(ctx: &Ctx, req: &mut Request, id: &str) -> HttpResult {
    let caller = require(ctx, req, Scope::MemoryWrite).await?;
    if id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(Error::not_found("document not found"));
    }
    let app = ctx.app().await?;
    if !app.delete_document(caller.owner(), id).await? {
        return Err(Error::not_found("document not found"));
    }
    json(
        200,
        &json!({"success": true, "message": "Document and its chunks deleted", "document_id": id}),
    )
}
