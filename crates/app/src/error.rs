//! The application's one error type. Each variant is a kind of answer a caller can act on;
//! the HTTP layer maps each to one status code and never shows `Internal` details.

use infusio_core::input::InputError;
use infusio_store::StoreError;
use serde_json::Value as Json;

/// Why a workflow step did not happen.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// No valid session or token.
    #[error("sign-in required")]
    Unauthenticated,
    /// Wrong user name or password (which one is deliberately not said).
    #[error("user name or password not recognised")]
    BadCredentials,
    /// Too many failed sign-ins: the account is locked until the given time.
    #[error("account locked after repeated failed sign-ins; try again in {retry_after_s} s")]
    Locked { retry_after_s: i64 },
    /// The actor's roles do not permit the action, or separation of duties forbids it.
    #[error("{action} refused: {reason}")]
    Forbidden {
        action: &'static str,
        reason: String,
    },
    #[error("{entity} {id} not found")]
    NotFound { entity: &'static str, id: String },
    /// Input refused: the field, the value as given, what is accepted.
    #[error("{0}")]
    Invalid(InputError),
    /// Optimistic concurrency: the caller's copy is stale.
    #[error(
        "{entity} {id} has changed: it is at version {current}, the change was based on version {expected}"
    )]
    Stale {
        entity: &'static str,
        id: String,
        expected: i64,
        current: i64,
    },
    /// A change to an existing record needs the version the caller read (If-Match).
    #[error("this change needs the version you read (If-Match)")]
    VersionRequired,
    /// The step is not allowed from the record's current state (e.g. sign a cancelled order).
    #[error("{message}")]
    InvalidState { code: &'static str, message: String },
    /// A clinical rule blocks the step: a hard stop, a warning without an override reason, a
    /// five-rights mismatch. `findings` carry the numbers.
    #[error("{message}")]
    Blocked {
        code: &'static str,
        message: String,
        findings: Json,
    },
    /// The same idempotency key was used for a different request.
    #[error("{0}")]
    Conflict(String),
    /// An operating failure (database down, corrupt row). Logged; never shown in detail.
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    pub fn invalid(
        field: impl Into<String>,
        value: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        AppError::Invalid(InputError::new(field, value, message))
    }

    pub fn forbidden(action: &'static str, reason: impl Into<String>) -> Self {
        AppError::Forbidden {
            action,
            reason: reason.into(),
        }
    }

    pub fn state(code: &'static str, message: impl Into<String>) -> Self {
        AppError::InvalidState {
            code,
            message: message.into(),
        }
    }
}

impl From<InputError> for AppError {
    fn from(e: InputError) -> Self {
        AppError::Invalid(e)
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::StaleVersion {
                table,
                id,
                expected,
                current,
            } => AppError::Stale {
                entity: table,
                id,
                expected,
                current,
            },
            StoreError::NotFound { table, id } => AppError::NotFound { entity: table, id },
            StoreError::Invalid {
                field,
                value,
                message,
            } => AppError::invalid(field, value, message),
            StoreError::Conflict { table, message } => {
                AppError::Conflict(format!("refused by the record ({table}): {message}"))
            }
            other => AppError::Internal(other.to_string()),
        }
    }
}
