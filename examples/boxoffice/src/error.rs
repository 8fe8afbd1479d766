//! Errors as HTTP answers.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use tokio_postgres::error::SqlState;

/// Why a request failed.
#[derive(Debug)]
pub enum ApiError {
    /// 400: the request asks for something impossible.
    BadRequest(String),
    /// 404: no such event, hold or order.
    NotFound(&'static str),
    /// 409: not enough seats, or a hold or order in the wrong state.
    Conflict(String),
    /// 410: the hold expired.
    Gone(String),
    /// 503: the database kept failing with serialization failures or
    /// deadlocks, or no connection could be had.
    Unavailable(String),
    /// 500: anything else the database said.
    Database(tokio_postgres::Error),
}

impl ApiError {
    /// Whether running the transaction again may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            ApiError::Database(err) => matches!(
                err.code(),
                Some(&SqlState::T_R_SERIALIZATION_FAILURE) | Some(&SqlState::T_R_DEADLOCK_DETECTED)
            ),
            _ => false,
        }
    }
}

impl From<tokio_postgres::Error> for ApiError {
    fn from(err: tokio_postgres::Error) -> Self {
        ApiError::Database(err)
    }
}

impl From<deadpool_postgres::PoolError> for ApiError {
    fn from(err: deadpool_postgres::PoolError) -> Self {
        ApiError::Unavailable(format!("no database connection: {err}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            ApiError::NotFound(what) => (StatusCode::NOT_FOUND, format!("no such {what}")),
            ApiError::Conflict(m) => (StatusCode::CONFLICT, m),
            ApiError::Gone(m) => (StatusCode::GONE, m),
            ApiError::Unavailable(m) => (StatusCode::SERVICE_UNAVAILABLE, m),
            ApiError::Database(err) => {
                tracing::error!(error = %err, "database error");
                let code = err.code().map_or("", |c| c.code()).to_string();
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("database error {code}"),
                )
            }
        };
        (status, Json(serde_json::json!({ "error": message }))).into_response()
    }
}
