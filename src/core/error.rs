//! The domain error: every failure the core can report, independent of transport.
//! The HTTP layer maps it once to a status code and the body shape of each API.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq)]
pub enum Error {
    /// The caller sent something malformed; `param` names the offending field when known.
    #[error("{message}")]
    Invalid {
        message: String,
        param: Option<String>,
    },
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{message}")]
    RateLimited {
        message: String,
        retry_after_secs: u64,
    },
    #[error("memgate is not initialised: POST /admin/init first")]
    NotInitialized,
    #[error("method not allowed")]
    MethodNotAllowed,
    /// An upstream service (LLM, embeddings) failed; `status` is what it answered, if anything.
    #[error("{message}")]
    Upstream {
        message: String,
        status: Option<u16>,
    },
    /// Our own storage failed. The message is for logs only and never reaches a client.
    #[error("storage failure: {0}")]
    Storage(String),
    #[error("internal error: {0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn invalid(message: impl Into<String>) -> Self {
        Error::Invalid {
            message: message.into(),
            param: None,
        }
    }

    pub fn invalid_param(param: &str, message: impl Into<String>) -> Self {
        Error::Invalid {
            message: message.into(),
            param: Some(param.to_string()),
        }
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        Error::NotFound(what.into())
    }

    /// The HTTP status this error answers with, whatever the API surface.
    pub fn status(&self) -> u16 {
        match self {
            Error::Invalid { .. } => 400,
            Error::Unauthorized(_) => 401,
            Error::Forbidden(_) => 403,
            Error::NotFound(_) => 404,
            Error::MethodNotAllowed => 405,
            Error::Conflict(_) => 409,
            Error::PayloadTooLarge(_) => 413,
            Error::RateLimited { .. } => 429,
            Error::Upstream { status, .. } => match status {
                Some(429) => 429,
                Some(s) if (400..500).contains(s) => 502,
                _ => 502,
            },
            Error::NotInitialized => 503,
            Error::Storage(_) => 503,
            Error::Internal(_) => 500,
        }
    }

    /// The same error with `name` replaced by `shown` in its message: an upstream's own error
    /// text may name its model, which the public model name stands in front of.
    pub fn hiding(self, name: &str, shown: &str) -> Self {
        if name.is_empty() {
            return self;
        }
        let hide = |m: String| m.replace(name, shown);
        match self {
            Error::Invalid { message, param } => Error::Invalid {
                message: hide(message),
                param,
            },
            Error::RateLimited {
                message,
                retry_after_secs,
            } => Error::RateLimited {
                message: hide(message),
                retry_after_secs,
            },
            Error::Upstream { message, status } => Error::Upstream {
                message: hide(message),
                status,
            },
            Error::NotFound(m) => Error::NotFound(hide(m)),
            other => other,
        }
    }

    /// A message safe to show a client: internal details are replaced by a generic text.
    pub fn public_message(&self) -> String {
        match self {
            Error::Storage(_) => "storage is temporarily unavailable; nothing was changed".into(),
            Error::Internal(_) => "internal error".into(),
            other => other.to_string(),
        }
    }

    /// OpenAI's `error.type` vocabulary.
    pub fn openai_type(&self) -> &'static str {
        match self {
            Error::Invalid { .. } | Error::PayloadTooLarge(_) | Error::MethodNotAllowed => {
                "invalid_request_error"
            }
            Error::Unauthorized(_) => "authentication_error",
            Error::Forbidden(_) => "permission_error",
            Error::NotFound(_) => "not_found_error",
            Error::Conflict(_) => "conflict_error",
            Error::RateLimited { .. } => "rate_limit_error",
            Error::Upstream { .. } => "upstream_error",
            Error::NotInitialized => "service_unavailable",
            Error::Storage(_) | Error::Internal(_) => "server_error",
        }
    }

    /// OpenAI's machine-readable `error.code`.
    pub fn openai_code(&self) -> Option<&'static str> {
        match self {
            Error::Unauthorized(_) => Some("invalid_api_key"),
            Error::RateLimited { .. } => Some("rate_limit_exceeded"),
            Error::PayloadTooLarge(_) => Some("payload_too_large"),
            Error::NotFound(_) => Some("not_found"),
            Error::NotInitialized => Some("not_initialized"),
            _ => None,
        }
    }

    pub fn param(&self) -> Option<&str> {
        match self {
            Error::Invalid { param, .. } => param.as_deref(),
            _ => None,
        }
    }

    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Error::RateLimited {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            _ => None,
        }
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::invalid(format!("invalid JSON body: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hiding_replaces_a_name_in_client_visible_messages() {
        let e = Error::invalid("upstream: The model `gpt-secret` does not exist");
        assert_eq!(
            e.hiding("gpt-secret", "the model").public_message(),
            "upstream: The model `the model` does not exist"
        );
        let e = Error::Upstream {
            message: "gpt-secret failed".into(),
            status: Some(500),
        };
        assert_eq!(e.hiding("gpt-secret", "x").to_string(), "x failed");
        assert_eq!(Error::invalid("a").hiding("", "b").to_string(), "a");
    }
}
