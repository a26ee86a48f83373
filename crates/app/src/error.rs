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
    /// The server is at its limit for this kind of work (password hashing): nothing was done;
    /// try again after the given number of seconds.
    #[error("the server is busy checking other sign-ins; try again in {retry_after_s} s")]
    Busy { retry_after_s: i64 },
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

/// What kind of refusal an [`AppError`] is: the one thing a transport needs to choose its
/// answer. Each edge maps a kind once (the JSON API and the pages to an HTTP status, FHIR to an
/// OperationOutcome issue code, HL7 to an acknowledgement code), so the same refusal gets the
/// same answer everywhere — a stale write is always "precondition failed".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// No valid session or token.
    Unauthenticated,
    /// Wrong user name or password.
    BadCredentials,
    /// Too many failed sign-ins.
    Locked,
    /// The server is at a resource limit; retry later (nothing was done).
    Busy,
    /// Role or separation of duties forbids the step.
    Forbidden,
    NotFound,
    /// Input refused, naming field, value and what is accepted.
    Invalid,
    /// The caller's copy is stale (optimistic concurrency).
    Stale,
    /// A change needs the version the caller read.
    VersionRequired,
    /// The step is not allowed from the record's current state.
    InvalidState,
    /// A clinical rule blocks the step (findings attached).
    Blocked,
    /// A clash with the record (idempotency key reuse, a double booking).
    Conflict,
    /// An operating failure: logged, never detailed to the caller.
    Internal,
}

impl ErrorKind {
    /// Every kind, for transports' exhaustive tests.
    pub const ALL: &'static [ErrorKind] = &[
        ErrorKind::Unauthenticated,
        ErrorKind::BadCredentials,
        ErrorKind::Locked,
        ErrorKind::Busy,
        ErrorKind::Forbidden,
        ErrorKind::NotFound,
        ErrorKind::Invalid,
        ErrorKind::Stale,
        ErrorKind::VersionRequired,
        ErrorKind::InvalidState,
        ErrorKind::Blocked,
        ErrorKind::Conflict,
        ErrorKind::Internal,
    ];
}

impl AppError {
    /// The kind of refusal, for the transport's one mapping.
    pub fn kind(&self) -> ErrorKind {
        match self {
            AppError::Unauthenticated => ErrorKind::Unauthenticated,
            AppError::BadCredentials => ErrorKind::BadCredentials,
            AppError::Locked { .. } => ErrorKind::Locked,
            AppError::Busy { .. } => ErrorKind::Busy,
            AppError::Forbidden { .. } => ErrorKind::Forbidden,
            AppError::NotFound { .. } => ErrorKind::NotFound,
            AppError::Invalid(_) => ErrorKind::Invalid,
            AppError::Stale { .. } => ErrorKind::Stale,
            AppError::VersionRequired => ErrorKind::VersionRequired,
            AppError::InvalidState { .. } => ErrorKind::InvalidState,
            AppError::Blocked { .. } => ErrorKind::Blocked,
            AppError::Conflict(_) => ErrorKind::Conflict,
            AppError::Internal(_) => ErrorKind::Internal,
        }
    }

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
            e @ StoreError::RowTampered { .. } => AppError::InvalidState {
                code: "record.tampered",
                message: e.to_string(),
            },
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
