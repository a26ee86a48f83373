//! Account administration over the API: an administrator deactivates a user, resets a
//! password, replaces roles or revokes sessions; a signed-in user changes their own password
//! (the current one required). Passwords are never echoed in answers or errors.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use infusio_app::accounts::{PasswordChange, PasswordReset, RoleSet};
use infusio_app::{Action, AppError};
use serde_json::Value;

use crate::{ApiError, AppState, Authed};

type ApiResult = Result<Response, ApiError>;

/// Reads a strict JSON object body (duplicate keys refused).
fn object(bytes: &Bytes) -> Result<Value, ApiError> {
    let v = crate::json::parse_strict(bytes).map_err(|e| {
        // The body may hold a password: the error names the place, never the text.
        AppError::invalid(e.path, "(body)", format!("a JSON object: {}", e.message))
    })?;
    if !v.is_object() {
        return Err(AppError::invalid("(body)", "(not an object)", "a JSON object").into());
    }
    Ok(v)
}

/// Reads a typed body (an empty body reads as `{}`).
fn read<T>(bytes: &Bytes) -> Result<T, ApiError>
where
    T: for<'a> TryFrom<&'a Value, Error = AppError>,
{
    let v = if bytes.is_empty() {
        Value::Object(serde_json::Map::new())
    } else {
        object(bytes)?
    };
    Ok(T::try_from(&v)?)
}

fn json_of<T: serde::Serialize>(v: &T) -> ApiResult {
    let v = serde_json::to_value(v)
        .map_err(|e| AppError::Internal(format!("serialising a response: {e}")))?;
    Ok(Json(v).into_response())
}

/// `POST /api/users/{id}/deactivate`.
pub(crate) async fn deactivate(
    State(s): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
) -> ApiResult {
    json_of(&s.app.deactivate_user(Some(auth.actor()), &id).await?)
}

/// `POST /api/users/{id}/password`: `{"password": "…"}`.
pub(crate) async fn reset_password(
    State(s): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult {
    auth.actor().permit(Action::ManageUsers)?;
    let input = read::<PasswordReset>(&bytes)?;
    json_of(
        &s.app
            .reset_password(Some(auth.actor()), &id, &input.password)
            .await?,
    )
}

/// `PUT /api/users/{id}/roles`: `{"roles": ["nurse", …]}`.
pub(crate) async fn set_roles(
    State(s): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult {
    auth.actor().permit(Action::ManageUsers)?;
    let input = read::<RoleSet>(&bytes)?;
    json_of(
        &s.app
            .set_roles(Some(auth.actor()), &id, &input.roles)
            .await?,
    )
}

/// `POST /api/users/{id}/revoke-sessions`.
pub(crate) async fn revoke_sessions(
    State(s): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
) -> ApiResult {
    json_of(&s.app.revoke_sessions(Some(auth.actor()), &id).await?)
}

/// `POST /api/auth/password`: `{"current_password": "…", "new_password": "…"}`. Every
/// session of the user ends, this one included: the client signs in again.
pub(crate) async fn change_password(
    State(s): State<AppState>,
    auth: Authed,
    bytes: Bytes,
) -> ApiResult {
    let input = read::<PasswordChange>(&bytes)?;
    json_of(
        &s.app
            .change_password(auth.actor(), &input.current_password, &input.new_password)
            .await?,
    )
}

#[derive(serde::Deserialize)]
pub(crate) struct AccessQuery {
    patient: String,
}

/// `GET /api/audit/access?patient=ID`: who read the patient's data, through which view,
/// when (administrators and pharmacists).
pub(crate) async fn access_log(
    State(s): State<AppState>,
    auth: Authed,
    axum::extract::Query(q): axum::extract::Query<AccessQuery>,
) -> ApiResult {
    json_of(&s.app.access_log(auth.actor(), &q.patient).await?)
}
