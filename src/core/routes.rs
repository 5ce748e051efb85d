//! The route table: every endpoint memgate serves, as data. The HTTP layer dispatches on
//! `Route`; a test checks that `/openapi.json` documents exactly these routes.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    OpenApi,
    Health,
    AdminStatus,
    AdminInit,
    AdminLogin,
    AdminLogout,
    AdminKeysList,
    AdminKeysCreate,
    AdminKeysDelete,
    MemoriesCreate,
    MemoriesList,
    MemoryGet,
    MemoryUpdate,
    MemoryDelete,
    Search,
    SearchByTag,
    SearchByTime,
    Tags,
    Stats,
    HealthDetailed,
    Events,
    DocumentsUpload,
    DocumentsList,
    DocumentDelete,
    Export,
    Import,
    Models,
    Model,
    ChatCompletions,
    Embeddings,
    Images,
    ImageFile,
    AnalyzeError,
    AdminConfigGet,
    AdminConfigPut,
    AdminUsage,
    AdminConversations,
    AdminConversation,
    Mcp,
}

pub struct RouteDef {
    pub method: &'static str,
    /// Segments; `{name}` matches any one non-empty segment.
    pub pattern: &'static str,
    pub route: Route,
}

const fn r(method: &'static str, pattern: &'static str, route: Route) -> RouteDef {
    RouteDef {
        method,
        pattern,
        route,
    }
}

#[rustfmt::skip]
pub const ROUTES: &[RouteDef] = &[
    r("GET", "/openapi.json", Route::OpenApi),
    r("GET", "/api/health", Route::Health),
    r("GET", "/api/health/detailed", Route::HealthDetailed),
    r("GET", "/admin/status", Route::AdminStatus),
    r("POST", "/admin/init", Route::AdminInit),
    r("POST", "/admin/login", Route::AdminLogin),
    r("POST", "/admin/logout", Route::AdminLogout),
    r("GET", "/admin/keys", Route::AdminKeysList),
    r("POST", "/admin/keys", Route::AdminKeysCreate),
    r("DELETE", "/admin/keys/{id}", Route::AdminKeysDelete),
    r("POST", "/api/memories", Route::MemoriesCreate),
    r("GET", "/api/memories", Route::MemoriesList),
    r("GET", "/api/memories/{content_hash}", Route::MemoryGet),
    r("PUT", "/api/memories/{content_hash}", Route::MemoryUpdate),
    r("DELETE", "/api/memories/{content_hash}", Route::MemoryDelete),
    r("POST", "/api/search", Route::Search),
    r("POST", "/api/search/by-tag", Route::SearchByTag),
    r("POST", "/api/search/by-time", Route::SearchByTime),
    r("GET", "/api/tags", Route::Tags),
    r("GET", "/api/stats", Route::Stats),
    r("GET", "/api/events", Route::Events),
    r("GET", "/events", Route::Events),
    r("POST", "/api/documents", Route::DocumentsUpload),
    r("GET", "/api/documents", Route::DocumentsList),
    r("DELETE", "/api/documents/{id}", Route::DocumentDelete),
    r("GET", "/api/export", Route::Export),
    r("POST", "/api/import", Route::Import),
    r("GET", "/v1/models", Route::Models),
    r("GET", "/v1/models/{model}", Route::Model),
    r("POST", "/v1/chat/completions", Route::ChatCompletions),
    r("POST", "/v1/embeddings", Route::Embeddings),
    r("POST", "/v1/images/generations", Route::Images),
    r("GET", "/images/{id}", Route::ImageFile),
    r("POST", "/analyze_error", Route::AnalyzeError),
    r("GET", "/admin/config", Route::AdminConfigGet),
    r("PUT", "/admin/config", Route::AdminConfigPut),
    r("GET", "/admin/usage", Route::AdminUsage),
    r("GET", "/admin/conversations", Route::AdminConversations),
    r("GET", "/admin/conversations/{id}", Route::AdminConversation),
    r("POST", "/mcp", Route::Mcp),
    r("GET", "/mcp", Route::Mcp),
    r("DELETE", "/mcp", Route::Mcp),
];

#[derive(Debug, PartialEq)]
pub enum Resolution {
    Found(Route, Vec<String>),
    /// The path exists for other methods; these are allowed.
    MethodNotAllowed(Vec<&'static str>),
    NotFound,
}

fn matches(pattern: &str, path: &str) -> Option<Vec<String>> {
    let mut params = Vec::new();
    let mut p = pattern.trim_matches('/').split('/');
    let mut s = path
        .trim_end_matches('/')
        .trim_start_matches('/')
        .split('/');
    loop {
        match (p.next(), s.next()) {
            (None, None) => return Some(params),
            (Some(pat), Some(seg)) => {
                if pat.starts_with('{') {
                    if seg.is_empty() {
                        return None;
                    }
                    params.push(seg.to_string());
                } else if pat != seg {
                    return None;
                }
            }
            _ => return None,
        }
    }
}

pub fn resolve(method: &str, path: &str) -> Resolution {
    let mut allowed = Vec::new();
    for def in ROUTES {
        if let Some(params) = matches(def.pattern, path) {
            if def.method == method || (method == "HEAD" && def.method == "GET") {
                return Resolution::Found(def.route, params);
            }
            allowed.push(def.method);
        }
    }
    if allowed.is_empty() {
        Resolution::NotFound
    } else {
        Resolution::MethodNotAllowed(allowed)
    }
}

/// Which API a path belongs to decides the error body shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// `/v1/...` and `/analyze_error`: OpenAI's `{"error": {...}}`.
    OpenAi,
    /// `/mcp`: JSON-RPC errors.
    Mcp,
    /// Everything else: `{"detail": ...}` as mcp-memory-service (FastAPI) answers.
    Rest,
}

pub fn surface(path: &str) -> Surface {
    if path == "/v1" || path.starts_with("/v1/") || path == "/analyze_error" {
        Surface::OpenAi
    } else if path == "/mcp" || path.starts_with("/mcp/") {
        Surface::Mcp
    } else {
        Surface::Rest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_routes_and_params() {
        assert_eq!(
            resolve("GET", "/api/memories/abc"),
            Resolution::Found(Route::MemoryGet, vec!["abc".into()])
        );
        assert_eq!(
            resolve("GET", "/api/health/"),
            Resolution::Found(Route::Health, vec![])
        );
        assert_eq!(
            resolve("HEAD", "/api/health"),
            Resolution::Found(Route::Health, vec![])
        );
        assert_eq!(resolve("GET", "/api/nope"), Resolution::NotFound);
        assert_eq!(
            resolve("GET", "/api/memories/"),
            Resolution::Found(Route::MemoriesList, vec![])
        );
        assert!(matches!(
            resolve("PATCH", "/api/memories"),
            Resolution::MethodNotAllowed(_)
        ));
        assert_eq!(resolve("GET", "/api/memories/a/b"), Resolution::NotFound);
    }

    #[test]
    fn openapi_documents_every_route() {
        let doc: serde_json::Value =
            serde_json::from_str(include_str!("../http/openapi.json")).unwrap();
        assert_eq!(doc["openapi"].as_str().unwrap().get(..3), Some("3.1"));
        let paths = doc["paths"].as_object().unwrap();
        let mut documented = std::collections::BTreeSet::new();
        for (path, ops) in paths {
            for method in ops.as_object().unwrap().keys() {
                if ["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                    documented.insert((method.to_uppercase(), path.clone()));
                }
            }
        }
        let served: std::collections::BTreeSet<_> = ROUTES
            .iter()
            .map(|d| (d.method.to_string(), d.pattern.to_string()))
            .collect();
        assert_eq!(
            documented, served,
            "openapi.json and the route table differ"
        );
    }

    #[test]
    fn surfaces() {
        assert_eq!(surface("/v1/chat/completions"), Surface::OpenAi);
        assert_eq!(surface("/v1x"), Surface::Rest);
        assert_eq!(surface("/mcp"), Surface::Mcp);
        assert_eq!(surface("/api/memories"), Surface::Rest);
    }
}
