//! Handlers of the treatment-day and model-informed dosing routes (declared in `routes.rs`
//! with the others): each reads the request, calls one `App` method and writes the answer.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use infusio_app::model_dosing::{RegimenOrder, VancomycinLevels};
use infusio_app::treatment_day::{PlanStatusChange, PlanStep, ReleaseDay, SignDay};
use infusio_app::{Action, AppError};

use crate::routes::{Authed, if_match, read_as, to_json, with_etag};
use crate::{ApiError, AppState};

type ApiResult = Result<Response, ApiError>;

fn day_index(text: &str) -> Result<usize, ApiError> {
    text.parse::<usize>().map_err(|_| {
        AppError::invalid(
            "index",
            text,
            "a planned day's index, a whole number from 0",
        )
        .into()
    })
}

pub(crate) async fn treatment_day(
    State(s): State<AppState>,
    auth: Authed,
    Path((id, index)): Path<(String, String)>,
) -> ApiResult {
    let v = s
        .app
        .treatment_day(auth.actor(), &id, day_index(&index)?)
        .await?;
    Ok(with_etag(StatusCode::OK, v.plan_version, to_json(&v)?))
}

pub(crate) async fn release_day(
    State(s): State<AppState>,
    auth: Authed,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult {
    let input = read_as::<ReleaseDay>(auth.actor(), Action::CreateOrder, &bytes)?;
    let v = s
        .app
        .release_treatment_day(auth.actor(), &id, if_match(&headers)?, &input)
        .await?;
    Ok(with_etag(StatusCode::CREATED, v.plan_version, to_json(&v)?))
}

pub(crate) async fn sign_day(
    State(s): State<AppState>,
    auth: Authed,
    Path((id, index)): Path<(String, String)>,
    bytes: Bytes,
) -> ApiResult {
    let input = read_as::<SignDay>(auth.actor(), Action::SignOrder, &bytes)?;
    let v = s
        .app
        .sign_treatment_day(auth.actor(), &id, day_index(&index)?, &input)
        .await?;
    Ok(with_etag(StatusCode::OK, v.plan_version, to_json(&v)?))
}

async fn plan_step(
    s: &AppState,
    auth: &Authed,
    headers: &HeaderMap,
    id: &str,
    bytes: &Bytes,
    step: PlanStep,
) -> ApiResult {
    let input = read_as::<PlanStatusChange>(auth.actor(), Action::CreateOrder, bytes)?;
    let p = s
        .app
        .change_plan_status(auth.actor(), id, if_match(headers)?, step, &input)
        .await?;
    Ok(with_etag(StatusCode::OK, p.version, to_json(&p)?))
}

pub(crate) async fn hold_plan(
    State(s): State<AppState>,
    auth: Authed,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult {
    plan_step(&s, &auth, &headers, &id, &bytes, PlanStep::Hold).await
}

pub(crate) async fn resume_plan(
    State(s): State<AppState>,
    auth: Authed,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult {
    plan_step(&s, &auth, &headers, &id, &bytes, PlanStep::Resume).await
}

pub(crate) async fn stop_plan(
    State(s): State<AppState>,
    auth: Authed,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult {
    plan_step(&s, &auth, &headers, &id, &bytes, PlanStep::Stop).await
}

pub(crate) async fn vancomycin_assessment(
    State(s): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult {
    let input = read_as::<VancomycinLevels>(auth.actor(), Action::ReadClinical, &bytes)?;
    let a = s
        .app
        .vancomycin_assessment(auth.actor(), &id, &input)
        .await?;
    Ok(Json(to_json(&a)?).into_response())
}

pub(crate) async fn vancomycin_order(
    State(s): State<AppState>,
    auth: Authed,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult {
    let key = crate::routes::idempotency_key(&headers);
    let input = read_as::<RegimenOrder>(auth.actor(), Action::CreateOrder, &bytes)?;
    let created = s
        .app
        .order_vancomycin_regimen(auth.actor(), &id, &input, key.as_deref())
        .await?;
    crate::routes::created_order(&created)
}
