//! Hybrid search: request validation, keyword query building for FTS5, and reciprocal
//! rank fusion of the vector and keyword rankings.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::core::error::{Error, Result};
use crate::core::memory::{normalise_tags, Memory};

pub const MAX_QUERY_CHARS: usize = 2000;
pub const MAX_RESULTS: u32 = 100;
/// The constant of reciprocal rank fusion (Cormack et al.): dampens the top ranks.
pub const RRF_K: f64 = 60.0;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    pub query: Value,
    #[serde(default)]
    pub n_results: Option<Value>,
    #[serde(default)]
    pub similarity_threshold: Option<Value>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// A time phrase ("last week") restricting results to that range.
    #[serde(default)]
    pub time_filter: Option<String>,
    #[serde(default)]
    pub memory_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SearchParams {
    pub query: String,
    pub n_results: u32,
    pub similarity_threshold: Option<f64>,
    pub tags: Vec<String>,
    pub time_filter: Option<String>,
    pub memory_type: Option<String>,
}

pub fn validate_query(v: &Value) -> Result<String> {
    let Value::String(q) = v else {
        return Err(Error::invalid_param("query", "query must be a string"));
    };
    let q = q.trim();
    if q.is_empty() {
        return Err(Error::invalid_param("query", "query must not be empty"));
    }
    if q.chars().count() > MAX_QUERY_CHARS {
        return Err(Error::invalid_param(
            "query",
            format!("query is longer than {MAX_QUERY_CHARS} characters"),
        ));
    }
    Ok(q.to_string())
}

pub fn validate_n_results(v: Option<&Value>, default: u32) -> Result<u32> {
    match v {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Number(n)) => n
            .as_u64()
            .filter(|n| (1..=MAX_RESULTS as u64).contains(n))
            .map(|n| n as u32)
            .ok_or_else(|| {
                Error::invalid_param(
                    "n_results",
                    format!("n_results must be an integer from 1 to {MAX_RESULTS}"),
                )
            }),
        Some(_) => Err(Error::invalid_param(
            "n_results",
            "n_results must be an integer",
        )),
    }
}

impl SearchRequest {
    pub fn validate(&self) -> Result<SearchParams> {
        let similarity_threshold = match &self.similarity_threshold {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => {
                let t = n.as_f64().unwrap_or(f64::NAN);
                if !(0.0..=1.0).contains(&t) {
                    return Err(Error::invalid_param(
                        "similarity_threshold",
                        "similarity_threshold must be between 0 and 1",
                    ));
                }
                Some(t)
            }
            Some(_) => {
                return Err(Error::invalid_param(
                    "similarity_threshold",
                    "similarity_threshold must be a number",
                ))
            }
        };
        Ok(SearchParams {
            query: validate_query(&self.query)?,
            n_results: validate_n_results(self.n_results.as_ref(), 10)?,
            similarity_threshold,
            tags: normalise_tags(self.tags.clone().unwrap_or_default())?,
            time_filter: self
                .time_filter
                .as_ref()
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty()),
            memory_type: self
                .memory_type
                .as_ref()
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty()),
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagSearchRequest {
    pub tags: crate::core::memory::TagsInput,
    #[serde(default)]
    pub match_all: Option<bool>,
    /// mcp-memory-service's older name for `match_all`.
    #[serde(default)]
    pub operation: Option<String>,
    #[serde(default)]
    pub n_results: Option<Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeSearchRequest {
    pub query: Value,
    #[serde(default)]
    pub n_results: Option<Value>,
}

/// One search hit as the REST API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct SearchResult {
    pub memory: Memory,
    pub similarity_score: f64,
    pub relevance_reason: String,
}

/// Turns free text into a safe FTS5 query: each word becomes a quoted term, OR-ed, so that
/// FTS5 syntax in user text (`AND`, `NEAR(`, `*`, `"`, `:`) is never interpreted.
pub fn fts_query(text: &str) -> Option<String> {
    let mut terms: Vec<String> = Vec::new();
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let w = word.to_lowercase();
        if w.chars().count() > 64 || terms.iter().any(|t| t == &w) {
            continue;
        }
        terms.push(w);
        if terms.len() >= 32 {
            break;
        }
    }
    if terms.is_empty() {
        return None;
    }
    Some(
        terms
            .iter()
            .map(|t| format!("\"{}\"", t.replace('"', "\"\"")))
            .collect::<Vec<_>>()
            .join(" OR "),
    )
}

/// Reciprocal rank fusion of several rankings (best first); returns ids by fused score.
pub fn rrf_fuse(rankings: &[&[i64]]) -> Vec<(i64, f64)> {
    let mut scores: Vec<(i64, f64)> = Vec::new();
    for ranking in rankings {
        for (rank, id) in ranking.iter().enumerate() {
            let s = 1.0 / (RRF_K + rank as f64 + 1.0);
            match scores.iter_mut().find(|(i, _)| i == id) {
                Some((_, total)) => *total += s,
                None => scores.push((*id, s)),
            }
        }
    }
    scores.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    scores
}

/// Why a hit was returned, in words.
pub fn relevance_reason(
    vector_rank: Option<usize>,
    keyword_rank: Option<usize>,
    cosine: f64,
) -> String {
    match (vector_rank, keyword_rank) {
        (Some(v), Some(k)) => format!(
            "semantic similarity {cosine:.2} (rank {}) and keyword match (rank {})",
            v + 1,
            k + 1
        ),
        (Some(v), None) => format!("semantic similarity {cosine:.2} (rank {})", v + 1),
        (None, Some(k)) => format!("keyword match (rank {}), similarity {cosine:.2}", k + 1),
        (None, None) => format!("similarity {cosine:.2}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fts_queries_neutralise_syntax() {
        assert_eq!(
            fts_query("deploy key").as_deref(),
            Some("\"deploy\" OR \"key\"")
        );
        assert_eq!(
            fts_query("a\" OR NEAR(x*) : -y").as_deref(),
            Some("\"a\" OR \"or\" OR \"near\" OR \"x\" OR \"y\"")
        );
        assert_eq!(fts_query("  ** \"\" "), None);
        assert_eq!(
            fts_query("SELECT * FROM memories; --").as_deref(),
            Some("\"select\" OR \"from\" OR \"memories\"")
        );
    }

    #[test]
    fn fuses_rankings() {
        let fused = rrf_fuse(&[&[1, 2, 3], &[3, 1]]);
        assert_eq!(fused[0].0, 1);
        assert_eq!(fused[1].0, 3);
        assert_eq!(fused[2].0, 2);
    }

    #[test]
    fn validates_search() {
        let ok: SearchRequest =
            serde_json::from_value(json!({"query": "x", "n_results": 5})).unwrap();
        assert_eq!(ok.validate().unwrap().n_results, 5);
        for bad in [
            json!({"query": ""}),
            json!({"query": 1}),
            json!({"query": "x", "n_results": 0}),
            json!({"query": "x", "n_results": 1000}),
            json!({"query": "x", "n_results": "5"}),
            json!({"query": "x", "similarity_threshold": 2}),
        ] {
            let r: SearchRequest = serde_json::from_value(bad.clone()).unwrap();
            assert!(r.validate().is_err(), "{bad}");
        }
    }
}
