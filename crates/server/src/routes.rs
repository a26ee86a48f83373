//! The routes: each handler reads the request, calls one workflow function and writes its
//! answer (with the ETag of the record it returns).

use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use infusio_app::OrderStep;
use infusio_app::auth::{NewUser, Session, SessionKind};
use infusio_app::bedside::BedsideScan;
use infusio_app::commands::{
    BlindVerification, FinishAdministration, NewAppointment, NewEvent, NewOrder, NewPreparation,
    OrderEdit, SignInput, TransitionInput,
};
use infusio_app::orders::{OrderSeen, OrderView};
use infusio_app::patients::{NewAllergy, NewLab, NewMeasurement, NewPatient};
use infusio_app::plans::NewTherapyPlan;
use infusio_app::{Action, Actor, AppError};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{ApiError, AppState, ClientSource, OPENAPI, SESSION_COOKIE};

type ApiResult = Result<Response, ApiError>;

/// Every route, in the order of the OpenAPI document (without the fallback).
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/api/openapi.json", get(openapi))
        .route("/api/auth/sign-in", post(sign_in))
        .route("/api/auth/sign-out", post(sign_out))
        .route("/api/auth/me", get(me))
        .route("/api/users", get(list_users).post(create_user))
        .route("/api/auth/password", post(crate::accounts::change_password))
        .route(
            "/api/users/{id}/deactivate",
            post(crate::accounts::deactivate),
        )
        .route(
            "/api/users/{id}/password",
            post(crate::accounts::reset_password),
        )
        .route("/api/users/{id}/roles", put(crate::accounts::set_roles))
        .route(
            "/api/users/{id}/revoke-sessions",
            post(crate::accounts::revoke_sessions),
        )
        .route("/api/patients", get(search_patients).post(create_patient))
        .route("/api/patients/{id}", get(chart))
        .route("/api/patients/{id}/measurements", post(add_measurement))
        .route("/api/patients/{id}/labs", post(add_lab))
        .route("/api/patients/{id}/allergies", post(add_allergy))
        .route(
            "/api/patients/{id}/plans",
            get(list_plans).post(create_plan),
        )
        .route("/api/protocols", get(list_protocols))
        .route("/api/protocols/{id}", get(get_protocol))
        .route("/api/orders", get(list_orders).post(create_order))
        .route("/api/orders/preview", post(preview_order))
        .route("/api/orders/{id}", get(get_order).put(edit_order))
        .route("/api/orders/{id}/sign", post(sign_order))
        .route("/api/orders/{id}/verify", post(verify_order))
        .route("/api/orders/{id}/hold", post(hold))
        .route("/api/orders/{id}/release", post(release))
        .route("/api/orders/{id}/cancel", post(cancel))
        .route("/api/orders/{id}/discontinue", post(discontinue))
        .route("/api/orders/{id}/preparations", post(prepare))
        .route("/api/preparations/{id}/release", post(release_preparation))
        .route("/api/recalls", get(list_recalls).post(record_recall))
        .route(
            "/api/orders/{id}/administrations",
            post(start_administration),
        )
        .route("/api/administrations/{id}/events", post(record_event))
        .route(
            "/api/administrations/{id}/finish",
            post(finish_administration),
        )
        .route(
            "/api/appointments",
            get(appointments).post(book_appointment),
        )
        .route(
            "/api/plans/{id}/days/{index}",
            get(crate::plan_routes::treatment_day),
        )
        .route(
            "/api/plans/{id}/days/{index}/sign",
            post(crate::plan_routes::sign_day),
        )
        .route(
            "/api/plans/{id}/release",
            post(crate::plan_routes::release_day),
        )
        .route("/api/plans/{id}/hold", post(crate::plan_routes::hold_plan))
        .route(
            "/api/plans/{id}/resume",
            post(crate::plan_routes::resume_plan),
        )
        .route("/api/plans/{id}/stop", post(crate::plan_routes::stop_plan))
        .route(
            "/api/patients/{id}/vancomycin/assessment",
            post(crate::plan_routes::vancomycin_assessment),
        )
        .route(
            "/api/patients/{id}/vancomycin/orders",
            post(crate::plan_routes::vancomycin_order),
        )
        .route("/api/lots/{lot}", get(lot_trace))
        .route("/api/audit/verify", get(audit_verify))
        .route("/api/audit/head", get(audit_head))
        .route("/api/audit/access", get(crate::accounts::access_log))
}

/// The answer to an unknown path: a JSON problem document.
pub(crate) async fn fallback() -> ApiError {
    not_found().await
}

/// The signed-in caller. Extracting it authenticates the request (cookie or bearer token)
/// and, for a cookie session making a change, checks the CSRF token and the Origin.
/// Other route sets (the web UI, FHIR) extract it the same way.
pub struct Authed(pub Session);

impl Authed {
    /// The signed-in user with their roles.
    pub fn actor(&self) -> &Actor {
        &self.0.actor
    }
}

/// The value of cookie `name` in the request, if sent.
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(|t| t.trim().to_string())
}

impl FromRequestParts<AppState> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let (token, via_cookie) = match bearer(&parts.headers) {
            Some(t) => (t, false),
            None => (
                cookie_value(&parts.headers, SESSION_COOKIE).ok_or(AppError::Unauthenticated)?,
                true,
            ),
        };
        let session = state.app.session(&token).await?;
        let expected = if via_cookie {
            SessionKind::Cookie
        } else {
            SessionKind::Bearer
        };
        if session.kind != expected {
            // A cookie token sent as a bearer token (or the reverse) is refused: the CSRF rule
            // depends on how the token travels.
            return Err(AppError::Unauthenticated.into());
        }
        let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if via_cookie && !safe {
            let header_token = parts
                .headers
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok());
            if header_token != Some(session.csrf_token.as_str()) {
                return Err(AppError::forbidden(
                    "change with a cookie session",
                    "missing or wrong X-CSRF-Token",
                )
                .into());
            }
            if !crate::edge::origin_allowed(&parts.method, &parts.headers) {
                return Err(AppError::forbidden(
                    "change with a cookie session",
                    "cross-origin request",
                )
                .into());
            }
        }
        Ok(Authed(session))
    }
}

fn body(bytes: &Bytes) -> Result<Value, ApiError> {
    if bytes.is_empty() {
        return Ok(json!({}));
    }
    let v: Value = crate::json::parse_strict(bytes).map_err(|e| {
        AppError::invalid(
            e.path,
            String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned(),
            format!("a JSON object: {}", e.message),
        )
    })?;
    if !v.is_object() {
        return Err(AppError::invalid("(body)", v.to_string(), "a JSON object").into());
    }
    Ok(v)
}

/// `If-Match: "3"` (or `W/"3"`) → 3.
pub(crate) fn if_match(headers: &HeaderMap) -> Result<Option<i64>, ApiError> {
    let Some(v) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = v.to_str().unwrap_or("");
    let inner = text.trim().trim_start_matches("W/").trim_matches('"');
    inner.parse::<i64>().map(Some).map_err(|_| {
        AppError::invalid(
            "If-Match",
            text,
            "the ETag of the record you read, e.g. \"3\"",
        )
        .into()
    })
}

pub(crate) fn with_etag(status: StatusCode, version: i64, value: Value) -> Response {
    let mut res = (status, Json(value)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("\"{version}\"")) {
        res.headers_mut().insert(header::ETAG, v);
    }
    res
}

/// Reads a typed command from the body after checking that the caller's roles permit
/// `action` (the app checks again): a caller who may not take the step is refused with 403
/// before its body is validated, so it learns nothing from the validation.
pub(crate) fn read_as<T>(actor: &Actor, action: Action, bytes: &Bytes) -> Result<T, ApiError>
where
    T: for<'a> TryFrom<&'a Value, Error = AppError>,
{
    actor.permit(action)?;
    Ok(T::try_from(&body(bytes)?)?)
}

pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> Result<Value, ApiError> {
    serde_json::to_value(v)
        .map_err(|e| AppError::Internal(format!("serialising a response: {e}")).into())
}

async fn not_found() -> ApiError {
    AppError::NotFound {
        entity: "route",
        id: "(this path)".into(),
    }
    .into()
}

async fn healthz(State(s): State<AppState>) -> ApiResult {
    let head = s.app.store().audit_head().await?;
    Ok(Json(
        json!({"status": "ok", "backend": s.app.store().backend().as_str(), "audit_seq": head.seq}),
    )
    .into_response())
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignIn {
    username: String,
    password: String,
    /// `cookie` (default, for browsers) or `token` (for API clients).
    #[serde(default)]
    mode: Option<String>,
}

async fn sign_in(
    State(s): State<AppState>,
    source: ClientSource,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult {
    // Login CSRF: a page elsewhere must not sign the browser in to an account of its choosing.
    if !crate::edge::origin_allowed(&Method::POST, &headers) {
        return Err(AppError::forbidden("sign in", "cross-origin request").into());
    }
    let v = body(&bytes)?;
    let req: SignIn = serde_json::from_value(v).map_err(|e| {
        AppError::invalid(
            "(body)",
            "",
            format!("{{\"username\", \"password\", [\"mode\": \"cookie|token\"]}}: {e}"),
        )
    })?;
    let kind = match req.mode.as_deref() {
        None | Some("cookie") => SessionKind::Cookie,
        Some("token") => SessionKind::Bearer,
        Some(other) => return Err(AppError::invalid("mode", other, "cookie or token").into()),
    };
    let session = s
        .app
        .sign_in_from(
            &req.username,
            &req.password,
            kind,
            source.as_text().as_deref(),
        )
        .await?;
    let mut out = json!({"user": session.user, "csrf_token": session.csrf_token, "expires_at_us": session.expires_at_us});
    if kind == SessionKind::Bearer {
        out["token"] = json!(session.token);
        return Ok(Json(out).into_response());
    }
    let cookie = format!(
        "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict{}",
        session.token,
        if s.config.secure_cookies {
            "; Secure"
        } else {
            ""
        }
    );
    let mut res = Json(out).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(res)
}

async fn sign_out(State(s): State<AppState>, headers: HeaderMap, _auth: Authed) -> ApiResult {
    if let Some(t) = bearer(&headers).or_else(|| cookie_value(&headers, SESSION_COOKIE)) {
        s.app.sign_out(&t).await?;
    }
    let mut res = StatusCode::NO_CONTENT.into_response();
    res.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("infusio_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    Ok(res)
}

async fn me(auth: Authed) -> ApiResult {
    let a = auth.actor();
    Ok(Json(json!({"id": a.user_id, "username": a.username, "display_name": a.display_name, "roles": a.roles, "csrf_token": auth.0.csrf_token})).into_response())
}

async fn list_users(State(s): State<AppState>, auth: Authed) -> ApiResult {
    Ok(Json(to_json(&s.app.list_users(auth.actor()).await?)?).into_response())
}

async fn create_user(State(s): State<AppState>, auth: Authed, bytes: Bytes) -> ApiResult {
    let input = read_as::<NewUser>(auth.actor(), Action::ManageUsers, &bytes)?;
    let user = s.app.add_user(auth.actor(), &input).await?;
    Ok((StatusCode::CREATED, Json(to_json(&user)?)).into_response())
}

#[derive(Deserialize)]
struct SearchQuery {
    #[serde(default)]
    q: String,
}

async fn search_patients(
    State(s): State<AppState>,
    auth: Authed,
    Query(q): Query<SearchQuery>,
) -> ApiResult {
    Ok(Json(to_json(&s.app.search_patients(auth.actor(), &q.q).await?)?).into_response())
}

async fn create_patient(State(s): State<AppState>, auth: Authed, bytes: Bytes) -> ApiResult {
    let input = read_as::<NewPatient>(auth.actor(), Action::WritePatient, &bytes)?;
    let p = s.app.create_patient(auth.actor(), &input).await?;
    Ok(with_etag(StatusCode::CREATED, p.version, to_json(&p)?))
}

async fn chart(State(s): State<AppState>, auth: Authed, Path(id): Path<String>) -> ApiResult {
    let c = s.app.chart(auth.actor(), &id).await?;
    Ok(with_etag(StatusCode::OK, c.patient.version, to_json(&c)?))
}

async fn list_plans(State(s): State<AppState>, auth: Authed, Path(id): Path<String>) -> ApiResult {
    let plans = s.app.therapy_plans_of(auth.actor(), &id).await?;
    Ok(Json(to_json(&plans)?).into_response())
}

async fn create_plan(
    State(s): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult {
    let p = s
        .app
        .create_therapy_plan(
            auth.actor(),
            &id,
            &read_as::<NewTherapyPlan>(auth.actor(), Action::CreateOrder, &bytes)?,
        )
        .await?;
    Ok(with_etag(StatusCode::CREATED, p.version, to_json(&p)?))
}

async fn list_protocols(State(s): State<AppState>, auth: Authed) -> ApiResult {
    Ok(Json(to_json(&s.app.list_protocols(auth.actor()).await?)?).into_response())
}

async fn get_protocol(
    State(s): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
) -> ApiResult {
    Ok(Json(to_json(&s.app.get_protocol(auth.actor(), &id).await?)?).into_response())
}

async fn add_measurement(
    State(s): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult {
    let m = s
        .app
        .add_measurement(
            auth.actor(),
            &id,
            &read_as::<NewMeasurement>(auth.actor(), Action::RecordObservation, &bytes)?,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(to_json(&m)?)).into_response())
}

async fn add_lab(
    State(s): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult {
    let m = s
        .app
        .add_lab(
            auth.actor(),
            &id,
            &read_as::<NewLab>(auth.actor(), Action::RecordObservation, &bytes)?,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(to_json(&m)?)).into_response())
}

async fn add_allergy(
    State(s): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult {
    let m = s
        .app
        .add_allergy(
            auth.actor(),
            &id,
            &read_as::<NewAllergy>(auth.actor(), Action::RecordObservation, &bytes)?,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(to_json(&m)?)).into_response())
}

#[derive(Deserialize)]
struct OrderQuery {
    status: Option<String>,
    patient_id: Option<String>,
}

async fn list_orders(
    State(s): State<AppState>,
    auth: Authed,
    Query(q): Query<OrderQuery>,
) -> ApiResult {
    let list = s
        .app
        .list_orders(auth.actor(), q.status.as_deref(), q.patient_id.as_deref())
        .await?;
    let items = list
        .iter()
        .map(order_seen_json)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(Value::Array(items)).into_response())
}

async fn preview_order(State(s): State<AppState>, auth: Authed, bytes: Bytes) -> ApiResult {
    let input = read_as::<NewOrder>(auth.actor(), Action::CreateOrder, &bytes)?;
    let p = s.app.preview_order(auth.actor(), &input).await?;
    Ok(Json(to_json(&p)?).into_response())
}

async fn create_order(
    State(s): State<AppState>,
    auth: Authed,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult {
    let key = idempotency_key(&headers);
    let input = read_as::<NewOrder>(auth.actor(), Action::CreateOrder, &bytes)?;
    let created = s
        .app
        .create_order(auth.actor(), &input, key.as_deref())
        .await?;
    created_order(&created)
}

/// The request's `Idempotency-Key`, when it has one.
pub(crate) fn idempotency_key(headers: &HeaderMap) -> Option<String> {
    headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// The answer to an order created (201) or replayed from its idempotency key (200, marked
/// `idempotency-replayed`), with the order's version as its ETag.
pub(crate) fn created_order(
    created: &infusio_app::workflow::Created,
) -> Result<Response, ApiError> {
    let status = if created.replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let mut res = with_etag(
        status,
        created.order.version,
        to_json(&OrderView::full(&created.order)?)?,
    );
    if created.replayed {
        res.headers_mut()
            .insert("idempotency-replayed", HeaderValue::from_static("true"));
    }
    Ok(res)
}

async fn get_order(State(s): State<AppState>, auth: Authed, Path(id): Path<String>) -> ApiResult {
    let (view, version) = s.app.get_order(auth.actor(), &id).await?;
    let mut doc = order_seen_json(&view)?;
    // A draft the pharmacy returned carries the rejection (who, when, why) until it is signed
    // again; any other order has `returned: null`.
    let returned = s.app.order_returned(auth.actor(), &id).await?;
    if let Value::Object(m) = &mut doc {
        m.insert("returned".into(), to_json(&returned)?);
        // Whether the row still matches its last audit event (`mismatch`: changed outside
        // the application; every step on it is refused).
        let integrity = s.app.order_integrity(auth.actor(), &id).await?;
        m.insert("integrity".into(), to_json(&integrity)?);
    }
    Ok(with_etag(StatusCode::OK, version, doc))
}

/// The order document of the API. A blind view keeps the wire shape of the full one, with
/// `figures_shown: false` and the figures' keys present but empty, so clients need not branch
/// on missing keys.
fn order_seen_json(seen: &OrderSeen) -> Result<Value, ApiError> {
    match seen {
        OrderSeen::Full(v) => to_json(v),
        OrderSeen::Blind(v) => {
            let mut doc = to_json(v)?;
            if let Value::Object(m) = &mut doc {
                m.insert("figures_shown".into(), Value::Bool(false));
                for k in [
                    "dose",
                    "volume_ml",
                    "rate_ml_per_h",
                    "pump_programme",
                    "derivation",
                ] {
                    m.insert(k.into(), Value::Null);
                }
                m.insert("findings".into(), Value::Array(Vec::new()));
            }
            Ok(doc)
        }
    }
}

fn order_response(o: &infusio_store::Stored<infusio_store::records::Order>) -> ApiResult {
    Ok(with_etag(
        StatusCode::OK,
        o.version,
        to_json(&OrderView::full(o)?)?,
    ))
}

async fn edit_order(
    State(s): State<AppState>,
    auth: Authed,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult {
    let o = s
        .app
        .edit_order(
            auth.actor(),
            &id,
            if_match(&headers)?,
            &read_as::<OrderEdit>(auth.actor(), Action::EditOrder, &bytes)?,
        )
        .await?;
    order_response(&o)
}

async fn sign_order(
    State(s): State<AppState>,
    auth: Authed,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult {
    let o = s
        .app
        .sign_order(
            auth.actor(),
            &id,
            if_match(&headers)?,
            &read_as::<SignInput>(auth.actor(), Action::SignOrder, &bytes)?,
        )
        .await?;
    order_response(&o)
}

async fn verify_order(
    State(s): State<AppState>,
    auth: Authed,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult {
    let r = s
        .app
        .verify_order(
            auth.actor(),
            &id,
            if_match(&headers)?,
            &read_as::<BlindVerification>(auth.actor(), Action::VerifyOrder, &bytes)?,
        )
        .await?;
    Ok(with_etag(StatusCode::OK, r.order.version, to_json(&r)?))
}

async fn step(
    s: AppState,
    auth: Authed,
    headers: HeaderMap,
    id: String,
    bytes: Bytes,
    name: &str,
) -> ApiResult {
    let step = OrderStep::parse_transition(name)?;
    // The role first, as the app would: a caller who may not take the step learns nothing
    // from the validation of its body.
    auth.actor().permit(step.action())?;
    let input = TransitionInput::try_from((step, &body(&bytes)?))?;
    let o = s
        .app
        .transition(auth.actor(), &id, if_match(&headers)?, step, &input)
        .await?;
    order_response(&o)
}

async fn hold(
    State(s): State<AppState>,
    auth: Authed,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult {
    step(s, auth, headers, id, bytes, "hold").await
}

async fn release(
    State(s): State<AppState>,
    auth: Authed,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult {
    step(s, auth, headers, id, bytes, "release").await
}

async fn cancel(
    State(s): State<AppState>,
    auth: Authed,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult {
    step(s, auth, headers, id, bytes, "cancel").await
}

async fn discontinue(
    State(s): State<AppState>,
    auth: Authed,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult {
    step(s, auth, headers, id, bytes, "discontinue").await
}

async fn prepare(
    State(s): State<AppState>,
    auth: Authed,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult {
    let (prep, order) = s
        .app
        .prepare(
            auth.actor(),
            &id,
            if_match(&headers)?,
            &read_as::<NewPreparation>(auth.actor(), Action::Prepare, &bytes)?,
        )
        .await?;
    Ok(with_etag(
        StatusCode::CREATED,
        order.version,
        json!({"preparation": to_json(&prep)?, "order": to_json(&OrderView::full(&order)?)?}),
    ))
}

/// The pharmacist's final check releases a prepared bag (a pharmacist other than the preparer).
async fn release_preparation(
    State(s): State<AppState>,
    auth: Authed,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    let prep = s
        .app
        .release_preparation(auth.actor(), &id, if_match(&headers)?)
        .await?;
    Ok(with_etag(StatusCode::OK, prep.version, to_json(&prep)?))
}

/// The pharmacy's recall list.
async fn list_recalls(State(s): State<AppState>, auth: Authed) -> ApiResult {
    let all = s.app.recalls(auth.actor()).await?;
    Ok((StatusCode::OK, Json(to_json(&all)?)).into_response())
}

/// Records a recalled lot: `{"lot", ["gtin"], ["product"], "reason"}` (pharmacists).
async fn record_recall(State(s): State<AppState>, auth: Authed, bytes: Bytes) -> ApiResult {
    // Recording a recall is a pharmacist's step, like verification: refused before the body
    // is read for anyone else.
    let input: infusio_app::recalls::NewRecall =
        read_as(auth.actor(), Action::VerifyOrder, &bytes)?;
    let row = s.app.record_recall(auth.actor(), &input).await?;
    Ok(with_etag(StatusCode::CREATED, row.version, to_json(&row)?))
}

async fn start_administration(
    State(s): State<AppState>,
    auth: Authed,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult {
    let (a, order) = s
        .app
        .start_administration(
            auth.actor(),
            &id,
            if_match(&headers)?,
            &read_as::<BedsideScan>(auth.actor(), Action::Administer, &bytes)?,
        )
        .await?;
    Ok(with_etag(
        StatusCode::CREATED,
        order.version,
        json!({"administration": to_json(&a)?, "order": to_json(&OrderView::full(&order)?)?}),
    ))
}

async fn record_event(
    State(s): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult {
    let e = s
        .app
        .record_event(
            auth.actor(),
            &id,
            &read_as::<NewEvent>(auth.actor(), Action::Administer, &bytes)?,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(to_json(&e)?)).into_response())
}

async fn finish_administration(
    State(s): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult {
    let (a, order) = s
        .app
        .finish_administration(
            auth.actor(),
            &id,
            &read_as::<FinishAdministration>(auth.actor(), Action::Administer, &bytes)?,
        )
        .await?;
    Ok(with_etag(
        StatusCode::OK,
        order.version,
        json!({"administration": to_json(&a)?, "order": to_json(&OrderView::full(&order)?)?}),
    ))
}

#[derive(Deserialize)]
struct DayQuery {
    date: String,
}

async fn appointments(
    State(s): State<AppState>,
    auth: Authed,
    Query(q): Query<DayQuery>,
) -> ApiResult {
    Ok(Json(to_json(
        &s.app.appointments_on(auth.actor(), &q.date).await?,
    )?)
    .into_response())
}

async fn book_appointment(State(s): State<AppState>, auth: Authed, bytes: Bytes) -> ApiResult {
    let input = read_as::<NewAppointment>(auth.actor(), Action::BookAppointment, &bytes)?;
    let a = s.app.book_appointment(auth.actor(), &input).await?;
    Ok(with_etag(StatusCode::CREATED, a.version, to_json(&a)?))
}

async fn lot_trace(State(s): State<AppState>, auth: Authed, Path(lot): Path<String>) -> ApiResult {
    Ok(Json(to_json(&s.app.lot_trace(auth.actor(), &lot).await?)?).into_response())
}

async fn audit_verify(State(s): State<AppState>, auth: Authed) -> ApiResult {
    Ok(Json(to_json(&s.app.audit_verify(auth.actor()).await?)?).into_response())
}

async fn audit_head(State(s): State<AppState>, auth: Authed) -> ApiResult {
    Ok(Json(to_json(&s.app.audit_head(auth.actor()).await?)?).into_response())
}
