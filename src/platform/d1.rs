//! Small helpers over workers-rs's D1 API.

use serde::de::DeserializeOwned;
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement};

use crate::core::Result;
use crate::platform::error::storage;

/// A bound argument for a prepared statement.
pub enum Arg<'a> {
    Text(&'a str),
    Real(f64),
    Int(i64),
    Null,
}

impl From<&Arg<'_>> for JsValue {
    fn from(a: &Arg<'_>) -> Self {
        match a {
            Arg::Text(s) => JsValue::from_str(s),
            Arg::Real(f) => JsValue::from_f64(*f),
            Arg::Int(i) => JsValue::from_f64(*i as f64),
            Arg::Null => JsValue::NULL,
        }
    }
}

impl<'a> From<&'a str> for Arg<'a> {
    fn from(s: &'a str) -> Self {
        Arg::Text(s)
    }
}

impl<'a> From<&'a String> for Arg<'a> {
    fn from(s: &'a String) -> Self {
        Arg::Text(s)
    }
}

impl From<f64> for Arg<'_> {
    fn from(f: f64) -> Self {
        Arg::Real(f)
    }
}

impl From<i64> for Arg<'_> {
    fn from(i: i64) -> Self {
        Arg::Int(i)
    }
}

impl<'a> From<Option<&'a str>> for Arg<'a> {
    fn from(s: Option<&'a str>) -> Self {
        s.map_or(Arg::Null, Arg::Text)
    }
}

pub fn stmt(db: &D1Database, sql: &str, args: &[Arg<'_>]) -> Result<D1PreparedStatement> {
    let values: Vec<JsValue> = args.iter().map(JsValue::from).collect();
    db.prepare(sql).bind(&values).map_err(storage)
}

pub async fn all<T: DeserializeOwned>(
    db: &D1Database,
    sql: &str,
    args: &[Arg<'_>],
) -> Result<Vec<T>> {
    let result = stmt(db, sql, args)?.all().await.map_err(storage)?;
    if let Some(e) = result.error() {
        return Err(crate::core::Error::Storage(e));
    }
    result.results::<T>().map_err(storage)
}

pub async fn first<T: DeserializeOwned>(
    db: &D1Database,
    sql: &str,
    args: &[Arg<'_>],
) -> Result<Option<T>> {
    stmt(db, sql, args)?.first::<T>(None).await.map_err(storage)
}

/// Runs a statement and returns how many rows it changed.
pub async fn run(db: &D1Database, sql: &str, args: &[Arg<'_>]) -> Result<usize> {
    let result = stmt(db, sql, args)?.run().await.map_err(storage)?;
    Ok(result
        .meta()
        .map_err(storage)?
        .and_then(|m| m.changes)
        .unwrap_or(0))
}

/// Runs statements as one transaction: all or nothing.
pub async fn batch(db: &D1Database, statements: Vec<D1PreparedStatement>) -> Result<()> {
    batch_row_id(db, statements).await.map(|_| ())
}

/// Like `batch`; returns the row id the first statement inserted, if any.
pub async fn batch_row_id(
    db: &D1Database,
    statements: Vec<D1PreparedStatement>,
) -> Result<Option<i64>> {
    let results = db.batch(statements).await.map_err(storage)?;
    let mut first = None;
    for (i, r) in results.into_iter().enumerate() {
        if let Some(e) = r.error() {
            return Err(crate::core::Error::Storage(e));
        }
        if i == 0 {
            first = r.meta().ok().flatten().and_then(|m| m.last_row_id);
        }
    }
    Ok(first)
}

/// Whether a D1 error is a uniqueness violation (a concurrent duplicate insert).
pub fn is_unique_violation(e: &crate::core::Error) -> bool {
    matches!(e, crate::core::Error::Storage(m) if m.contains("UNIQUE constraint failed"))
}
