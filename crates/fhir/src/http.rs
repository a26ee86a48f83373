//! The FHIR HTTP conventions: `application/fhir+json` answers, ETags `W/"<version>"`,
//! `If-Match`, errors as `OperationOutcome`, search parameters and searchset Bundles with
//! paging links.

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use infusio_app::{AppError, ErrorKind};
use infusio_server::{ApiError, Authed};
use serde_json::{Map, Value as Json, json};

/// The media type of every answer.
pub const FHIR_JSON: &str = "application/fhir+json; charset=utf-8";

/// Page size when `_count` is absent, and the largest accepted.
pub const DEFAULT_COUNT: usize = 50;
pub const MAX_COUNT: usize = 500;

/// A refusal on its way to the client as an `OperationOutcome`.
#[derive(Debug)]
pub struct Fail {
    pub status: StatusCode,
    /// The FHIR issue type (`invalid`, `not-found`, `forbidden`, …).
    pub code: &'static str,
    pub diagnostics: String,
    /// FHIRPath of the element at fault (or the search parameter), when known.
    pub expression: Option<String>,
    /// Further issues (e.g. each finding of a blocking safety check).
    pub extra: Vec<Json>,
    pub retry_after_s: Option<i64>,
}

pub type FhirResult = Result<Response, Fail>;

impl Fail {
    pub fn new(status: StatusCode, code: &'static str, diagnostics: impl Into<String>) -> Fail {
        Fail {
            status,
            code,
            diagnostics: diagnostics.into(),
            expression: None,
            extra: Vec::new(),
            retry_after_s: None,
        }
    }

    /// Bad input at `expression`: the value as given and what is accepted.
    pub fn invalid(
        status: StatusCode,
        expression: impl Into<String>,
        value: impl AsRef<str>,
        accepted: impl AsRef<str>,
    ) -> Fail {
        let expression = expression.into();
        let mut f = Fail::new(
            status,
            "invalid",
            format!(
                "{expression}: '{}' is not accepted; expected {}",
                value.as_ref(),
                accepted.as_ref()
            ),
        );
        f.expression = Some(expression);
        f
    }

    /// A malformed request or resource (400).
    pub fn bad(
        expression: impl Into<String>,
        value: impl AsRef<str>,
        accepted: impl AsRef<str>,
    ) -> Fail {
        Fail::invalid(StatusCode::BAD_REQUEST, expression, value, accepted)
    }

    /// A well-formed resource this server cannot take (422).
    pub fn unprocessable(
        expression: impl Into<String>,
        value: impl AsRef<str>,
        accepted: impl AsRef<str>,
    ) -> Fail {
        Fail::invalid(
            StatusCode::UNPROCESSABLE_ENTITY,
            expression,
            value,
            accepted,
        )
    }

    pub fn not_found(resource_type: &str, id: &str) -> Fail {
        Fail::new(
            StatusCode::NOT_FOUND,
            "not-found",
            format!("{resource_type}/{id} is not known"),
        )
    }

    /// The OperationOutcome resource.
    pub fn outcome(&self) -> Json {
        let mut issue = json!({
            "severity": if self.status.is_server_error() { "fatal" } else { "error" },
            "code": self.code,
            "diagnostics": self.diagnostics,
        });
        if let Some(e) = &self.expression {
            issue["expression"] = json!([e]);
        }
        let mut issues = vec![issue];
        issues.extend(self.extra.iter().cloned());
        json!({"resourceType": "OperationOutcome", "issue": issues})
    }
}

/// The OperationOutcome issue code of each kind of refusal (the HTTP status is the server's
/// one mapping, [`infusio_server::error::http_status`]).
pub fn issue_code(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Unauthenticated | ErrorKind::BadCredentials => "login",
        ErrorKind::Locked | ErrorKind::Busy => "throttled",
        ErrorKind::Forbidden => "forbidden",
        ErrorKind::NotFound => "not-found",
        ErrorKind::Invalid => "invalid",
        ErrorKind::Stale | ErrorKind::Conflict => "conflict",
        ErrorKind::VersionRequired => "required",
        ErrorKind::InvalidState | ErrorKind::Blocked => "business-rule",
        ErrorKind::Internal => "exception",
    }
}

/// One OperationOutcome issue per finding of a blocked step.
fn finding_issues(findings: &Json) -> Vec<Json> {
    findings
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|x| {
                    let severity = if x["severity"] == "warning" {
                        "warning"
                    } else {
                        "error"
                    };
                    json!({
                        "severity": severity,
                        "code": "business-rule",
                        "details": {"text": x["code"].as_str().unwrap_or("finding")},
                        "diagnostics": x["message"].as_str().unwrap_or_default(),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

impl From<AppError> for Fail {
    fn from(e: AppError) -> Fail {
        let kind = e.kind();
        let status = infusio_server::error::http_status(kind);
        let code = issue_code(kind);
        let text = match &e {
            AppError::VersionRequired => {
                "this update needs the version you read: send If-Match: W/\"<versionId>\""
                    .to_string()
            }
            AppError::Internal(message) => {
                tracing::error!(error = %message, "internal error");
                "an internal error occurred; it has been logged".to_string()
            }
            other => other.to_string(),
        };
        let mut f = Fail::new(status, code, text);
        match e {
            AppError::Locked { retry_after_s } | AppError::Busy { retry_after_s } => {
                f.retry_after_s = Some(retry_after_s);
            }
            AppError::Invalid(i) => f.expression = Some(i.field),
            AppError::Blocked { findings, .. } => f.extra = finding_issues(&findings),
            _ => {}
        }
        f
    }
}

impl From<ApiError> for Fail {
    fn from(e: ApiError) -> Fail {
        e.0.into()
    }
}

impl IntoResponse for Fail {
    fn into_response(self) -> Response {
        let mut res = (self.status, self.outcome().to_string()).into_response();
        let h = res.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON));
        if self.status == StatusCode::UNAUTHORIZED {
            h.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"infusio\""),
            );
        }
        if let Some(s) = self.retry_after_s
            && let Ok(v) = HeaderValue::from_str(&s.to_string())
        {
            h.insert(header::RETRY_AFTER, v);
        }
        res
    }
}

/// The signed-in caller, or the refusal as an OperationOutcome.
pub fn signed_in(auth: Result<Authed, ApiError>) -> Result<Authed, Fail> {
    auth.map_err(Fail::from)
}

/// Rewrites the field of an application input error to the FHIR element it came from.
pub fn renamed(e: AppError, fields: &[(&str, &str)]) -> Fail {
    match e {
        AppError::Invalid(i) => {
            let element = fields
                .iter()
                .find(|(from, _)| i.field == *from || i.field.starts_with(&format!("{from}.")))
                .map(|(_, to)| to.to_string())
                .unwrap_or_else(|| i.field.clone());
            let mut f = Fail::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
                format!("{element}: '{}' is not accepted; {}", i.value, i.message),
            );
            f.expression = Some(element);
            f
        }
        other => other.into(),
    }
}

/// A resource answer with its ETag (and `Location` for a create).
pub fn resource(status: StatusCode, body: &Json, location: Option<&str>) -> Response {
    let mut res = (status, body.to_string()).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON));
    if let Some(v) = body["meta"]["versionId"].as_str()
        && let Ok(v) = HeaderValue::from_str(&format!("W/\"{v}\""))
    {
        h.insert(header::ETAG, v);
    }
    if let Some(l) = location
        && let Ok(v) = HeaderValue::from_str(l)
    {
        h.insert(header::LOCATION, v);
    }
    res
}

/// `If-Match: W/"3"` (or `"3"`) → 3.
pub fn if_match(headers: &HeaderMap) -> Result<Option<i64>, Fail> {
    let Some(v) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = v.to_str().unwrap_or("");
    let inner = text.trim().trim_start_matches("W/").trim_matches('"');
    inner.parse::<i64>().map(Some).map_err(|_| {
        Fail::bad(
            "If-Match",
            text,
            "the ETag of the version you read, W/\"3\"",
        )
    })
}

/// The service base URL (`http://host/fhir`) from the request's Host, for `fullUrl`,
/// `Location` and paging links; relative when the request names no host.
pub fn base_url(headers: &HeaderMap) -> String {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let https = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.eq_ignore_ascii_case("https"));
    match host {
        Some(h) if !h.is_empty() && !h.contains(['/', ' ']) => {
            format!("{}://{h}/fhir", if https { "https" } else { "http" })
        }
        _ => "/fhir".to_string(),
    }
}

/// The body of a create or update: a JSON object of `resource_type`.
pub fn read_body(headers: &HeaderMap, bytes: &Bytes, resource_type: &str) -> Result<Json, Fail> {
    let declared = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    // A body without a Content-Type is refused like a wrong one: JSON sent without saying so
    // is what a cross-site form post looks like.
    let declared = declared.or((!bytes.is_empty()).then_some("(none)"));
    if let Some(ct) = declared {
        let media = ct.split(';').next().unwrap_or("").trim();
        if !media.eq_ignore_ascii_case("application/fhir+json")
            && !media.eq_ignore_ascii_case("application/json")
        {
            let mut f = Fail::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "not-supported",
                format!("Content-Type '{ct}' is not accepted; send application/fhir+json"),
            );
            f.expression = Some("Content-Type".into());
            return Err(f);
        }
    }
    let v: Json = infusio_server::json::parse_strict(bytes).map_err(|e| {
        Fail::bad(
            e.path,
            String::from_utf8_lossy(&bytes[..bytes.len().min(200)]),
            format!("a FHIR JSON resource: {}", e.message),
        )
    })?;
    let given = v["resourceType"].as_str().unwrap_or_default();
    if given != resource_type {
        return Err(Fail::bad(
            "resourceType",
            given,
            format!("'{resource_type}' at this endpoint"),
        ));
    }
    Ok(v)
}

/// Refuses elements this server does not store (accepting them would silently drop them).
pub fn only_elements(resource: &Json, allowed: &[&str]) -> Result<(), Fail> {
    let rt = resource["resourceType"].as_str().unwrap_or_default();
    if let Some(obj) = resource.as_object() {
        for (k, v) in obj {
            if !allowed.contains(&k.as_str())
                && !["resourceType", "id", "meta", "text"].contains(&k.as_str())
            {
                let shown = v.to_string();
                return Err(Fail::unprocessable(
                    format!("{rt}.{k}"),
                    &shown[..shown.len().min(200)],
                    format!(
                        "only the elements this server records: {}",
                        allowed.join(", ")
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Search parameters after the common ones (`_count`, `_offset`, `_format`) are taken out.
#[derive(Debug, Clone)]
pub struct Search {
    pub params: Vec<(String, String)>,
    pub count: usize,
    pub offset: usize,
}

impl Search {
    /// Reads the query; a parameter not in `allowed` is refused (400) rather than ignored, so a
    /// client never takes an unfiltered answer for a filtered one.
    pub fn read(query: Vec<(String, String)>, allowed: &[&str]) -> Result<Search, Fail> {
        let mut s = Search {
            params: Vec::new(),
            count: DEFAULT_COUNT,
            offset: 0,
        };
        for (k, v) in query {
            match k.as_str() {
                "_count" => {
                    s.count = v
                        .parse::<usize>()
                        .ok()
                        .filter(|n| *n <= MAX_COUNT)
                        .ok_or_else(|| {
                            Fail::bad(
                                "_count",
                                &v,
                                format!("a whole number from 0 to {MAX_COUNT}"),
                            )
                        })?
                }
                "_offset" => {
                    s.offset = v
                        .parse::<usize>()
                        .map_err(|_| Fail::bad("_offset", &v, "a whole number ≥ 0"))?
                }
                "_format" => {
                    if !["json", "application/fhir+json", "application/json"].contains(&v.as_str())
                    {
                        return Err(Fail::new(
                            StatusCode::NOT_ACCEPTABLE,
                            "not-supported",
                            format!("_format '{v}' is not served; this server answers JSON only"),
                        ));
                    }
                }
                _ if allowed.contains(&k.as_str()) => s.params.push((k, v)),
                _ => {
                    return Err(Fail::bad(
                        k.clone(),
                        v,
                        format!(
                            "a supported search parameter: {}, _count, _offset",
                            allowed.join(", ")
                        ),
                    ));
                }
            }
        }
        Ok(s)
    }

    /// The values given for `name`.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.params
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The one value given for `name`.
    pub fn one(&self, name: &str) -> Result<Option<&str>, Fail> {
        let all = self.all(name);
        match all.as_slice() {
            [] => Ok(None),
            [v] => Ok(Some(v)),
            _ => Err(Fail::bad(
                name,
                all.join(" & "),
                "at most one value (separate alternatives with commas)",
            )),
        }
    }
}

fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The searchset Bundle of one page of `matches` (all matches, in answer order), with
/// `self`, `first`, `next` and `previous` links.
pub fn searchset(base: &str, resource_type: &str, search: &Search, matches: Vec<Json>) -> Response {
    let total = matches.len();
    let page = matches
        .into_iter()
        .skip(search.offset)
        .take(search.count)
        .collect();
    searchset_page(base, resource_type, search, total, page)
}

/// The searchset Bundle of `page` (the matches from `search.offset` on) out of `total`.
pub fn searchset_page(
    base: &str,
    resource_type: &str,
    search: &Search,
    total: usize,
    page: Vec<Json>,
) -> Response {
    let link_to = |offset: usize| {
        let mut q: Vec<String> = search
            .params
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        q.push(format!("_count={}", search.count));
        q.push(format!("_offset={offset}"));
        format!("{base}/{resource_type}?{}", q.join("&"))
    };
    let mut links = vec![
        json!({"relation": "self", "url": link_to(search.offset)}),
        json!({"relation": "first", "url": link_to(0)}),
    ];
    if search.count > 0 && search.offset + search.count < total {
        links.push(json!({"relation": "next", "url": link_to(search.offset + search.count)}));
    }
    if search.offset > 0 && search.count > 0 {
        links.push(
            json!({"relation": "previous", "url": link_to(search.offset.saturating_sub(search.count))}),
        );
    }
    let entries: Vec<Json> = page
        .into_iter()
        .map(|r| {
            let full = format!(
                "{base}/{}/{}",
                r["resourceType"].as_str().unwrap_or_default(),
                r["id"].as_str().unwrap_or_default()
            );
            json!({"fullUrl": full, "resource": r, "search": {"mode": "match"}})
        })
        .collect();
    let mut bundle = Map::new();
    bundle.insert("resourceType".into(), json!("Bundle"));
    bundle.insert("type".into(), json!("searchset"));
    bundle.insert("total".into(), json!(total));
    bundle.insert("link".into(), Json::Array(links));
    if !entries.is_empty() {
        bundle.insert("entry".into(), Json::Array(entries));
    }
    resource(StatusCode::OK, &Json::Object(bundle), None)
}

/// `Patient/abc` or `abc` → `abc` (a reference to another type, or an absolute URL of another
/// server, is refused).
pub fn reference_id<'a>(param: &str, value: &'a str, resource_type: &str) -> Result<&'a str, Fail> {
    let id = match value.split_once('/') {
        None => value,
        Some((t, id)) if t == resource_type && !id.contains('/') => id,
        _ => {
            return Err(Fail::bad(
                param,
                value,
                format!("a {resource_type} id or '{resource_type}/<id>'"),
            ));
        }
    };
    if id.is_empty() || id.len() > 64 {
        return Err(Fail::bad(param, value, format!("a {resource_type} id")));
    }
    Ok(id)
}

/// The id of the `Patient/<id>` reference at `element` of a resource.
pub fn patient_of(resource: &Json, element: &str) -> Result<String, Fail> {
    let rt = resource["resourceType"].as_str().unwrap_or_default();
    let path = format!("{rt}.{element}.reference");
    let r = resource[element]["reference"]
        .as_str()
        .ok_or_else(|| Fail::bad(&path, "", "required: 'Patient/<id>'"))?;
    match r.split_once('/') {
        Some(("Patient", id)) if !id.is_empty() && !id.contains('/') => Ok(id.to_string()),
        _ => Err(Fail::bad(
            &path,
            r,
            "'Patient/<id>' of a patient on this server",
        )),
    }
}

/// A `meta` element: version and last update.
pub fn meta(version: i64, updated_at_us: i64) -> Json {
    json!({"versionId": version.to_string(), "lastUpdated": infusio_app::time::iso_from_us(updated_at_us)})
}

/// Content negotiation: this server answers JSON only; a client that accepts neither FHIR JSON
/// nor JSON (e.g. only `application/fhir+xml`) gets 406 rather than a format it cannot read.
pub async fn negotiate(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_ascii_lowercase);
    if let Some(a) = accept {
        let ok = a.split(',').any(|item| {
            let media = item.split(';').next().unwrap_or("").trim();
            media.is_empty()
                || [
                    "*/*",
                    "application/*",
                    "application/fhir+json",
                    "application/json",
                    "json",
                ]
                .contains(&media)
        });
        if !ok {
            let mut f = Fail::new(
                StatusCode::NOT_ACCEPTABLE,
                "not-supported",
                format!("Accept '{a}': this server answers application/fhir+json only"),
            );
            f.expression = Some("Accept".into());
            return f.into_response();
        }
    }
    next.run(req).await
}
