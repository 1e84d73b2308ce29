//! The router: every endpoint, its OpenAPI description, the limits (body
//! size, request time, heavy requests at once), the optional bearer token
//! on `POST`, and the web page from disk.

use std::time::Duration;

use axum::body::Body;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tower_http::services::ServeDir;
use utoipa::{OpenApi, ToSchema};

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::evidence::{HexEvidence, evidence, parse_cell};
use crate::layers::{LayersResponse, layers};
use crate::placement::{JobStatus, PlacementRequest};
use crate::state::AppState;
use crate::tiles::{parse_tile, tile_bytes};
use crate::whatif::{WhatIfRequest, WhatIfResponse, what_if};

/// The OpenAPI description, generated from the handlers and their types.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "hexcover",
        description = "LoRaWAN coverage: measured and predicted hexes, what-if and placement."
    ),
    paths(
        healthz,
        get_layers,
        get_tile,
        get_hex,
        get_sites,
        post_whatif,
        post_placement,
        get_placement,
        get_download
    ),
    components(schemas(ErrorBody, Health))
)]
pub struct ApiDoc;

/// A JSON body whose rejections (malformed JSON, wrong content type, too
/// large) answer as JSON errors like every other error.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection(&rejection)),
        }
    }
}

fn json_rejection(rejection: &JsonRejection) -> ApiError {
    ApiError::new(rejection.status(), rejection.body_text())
}

/// `GET /healthz`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: String,
}

#[utoipa::path(get, path = "/healthz", responses((status = 200, body = Health)))]
async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

#[utoipa::path(get, path = "/api/v1/layers", responses((status = 200, body = LayersResponse)))]
async fn get_layers(State(state): State<AppState>) -> Json<LayersResponse> {
    Json(layers(&state))
}

#[utoipa::path(
    get,
    path = "/api/v1/tiles/{layer}/{z}/{x}/{y}.mvt",
    params(
        ("layer" = String, Path, description = "measured, predicted, gaps, sites or suggestions"),
        ("z" = u32, Path, description = "zoom"),
        ("x" = u32, Path, description = "column"),
        ("y" = u32, Path, description = "row (XYZ), followed by .mvt"),
    ),
    responses(
        (status = 200, description = "Mapbox vector tile", content_type = "application/vnd.mapbox-vector-tile"),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)
    )
)]
async fn get_tile(
    State(state): State<AppState>,
    Path((layer, z, x, y)): Path<(String, String, String, String)>,
) -> ApiResult<Response> {
    let (layer, tile) = parse_tile(&layer, &z, &x, &y)?;
    let bytes = tile_bytes(&state, layer, tile)?;
    let mut response = Response::new(Body::from(bytes));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/vnd.mapbox-vector-tile"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    Ok(response)
}

#[utoipa::path(
    get,
    path = "/api/v1/hexes/{cell}",
    params(("cell" = String, Path, description = "H3 cell index, res 6 to 12")),
    responses((status = 200, body = HexEvidence), (status = 400, body = ErrorBody))
)]
async fn get_hex(
    State(state): State<AppState>,
    Path(cell): Path<String>,
) -> ApiResult<Json<HexEvidence>> {
    let cell = parse_cell(&cell)?;
    Ok(Json(evidence(&state, cell)))
}

#[utoipa::path(
    get,
    path = "/api/v1/sites",
    responses((status = 200, description = "GeoJSON FeatureCollection of existing and suggested sites", body = Object))
)]
async fn get_sites(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(crate::sites::sites_geojson(&state.study))
}

/// A permit for a heavy request, or 503.
fn heavy_permit(state: &AppState) -> ApiResult<tokio::sync::OwnedSemaphorePermit> {
    state.heavy.clone().try_acquire_owned().map_err(|_| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "{} what-if or placement requests are already running; retry shortly",
                state.config.max_heavy_requests
            ),
        )
    })
}

#[utoipa::path(
    post,
    path = "/api/v1/whatif",
    request_body = WhatIfRequest,
    responses(
        (status = 200, body = WhatIfResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 503, body = ErrorBody)
    )
)]
async fn post_whatif(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<WhatIfRequest>,
) -> ApiResult<Json<WhatIfResponse>> {
    crate::whatif::checked_site(&state.study, &request.site)?;
    let permit = heavy_permit(&state)?;
    let worker = state.clone();
    let answer = tokio::task::spawn_blocking(move || {
        let answer = what_if(&worker, &request);
        drop(permit);
        answer
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))??;
    Ok(Json(answer))
}

#[utoipa::path(
    post,
    path = "/api/v1/placements",
    request_body = PlacementRequest,
    responses(
        (status = 202, body = JobStatus),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)
    )
)]
async fn post_placement(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<PlacementRequest>,
) -> ApiResult<(StatusCode, Json<JobStatus>)> {
    if state.study.terrain.is_none() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "this study is served without an elevation model: start `hexcover serve` with --dem",
        ));
    }
    let checked = crate::placement::check(&state, &request)?;
    let permit = heavy_permit(&state)?;
    let status = crate::placement::start(&state, checked, permit);
    Ok((StatusCode::ACCEPTED, Json(status)))
}

#[utoipa::path(
    get,
    path = "/api/v1/placements/{id}",
    params(("id" = String, Path, description = "job id from POST /api/v1/placements")),
    responses((status = 200, body = JobStatus), (status = 404, body = ErrorBody))
)]
async fn get_placement(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<JobStatus>> {
    state
        .jobs
        .status(&id)
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no placement job `{id}`")))
}

#[utoipa::path(
    get,
    path = "/api/v1/downloads/{name}",
    params(("name" = String, Path, description = "file name from /api/v1/layers")),
    responses((status = 200, description = "the file"), (status = 404, body = ErrorBody))
)]
async fn get_download(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    let Some((_, path)) = state.study.downloads.iter().find(|(n, _)| *n == name) else {
        return Err(ApiError::not_found(format!("no download `{name}`")));
    };
    let bytes = tokio::fs::read(path).await.map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("{}: {e}", path.display()),
        )
    })?;
    let content_type = if name.ends_with(".geojson") {
        "application/geo+json"
    } else if name.ends_with(".csv") {
        "text/csv"
    } else {
        "application/vnd.apache.parquet"
    };
    let disposition = format!("attachment; filename=\"{name}\"");
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}

async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// Every `POST` needs the bearer token when one is configured.
async fn require_token(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if let Some(token) = &state.config.token {
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if given != Some(token.as_str()) {
            return ApiError::new(
                StatusCode::UNAUTHORIZED,
                "this server needs `Authorization: Bearer <token>` on POST requests",
            )
            .into_response();
        }
    }
    next.run(request).await
}

/// Requests that take longer than the configured time get 408.
async fn time_limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let limit: Duration = state.config.request_timeout;
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            format!("the request took longer than {} s", limit.as_secs_f64()),
        )
        .into_response(),
    }
}

async fn api_not_found(request: Request) -> ApiError {
    let path = request.uri().path();
    if path.starts_with("/api/") {
        ApiError::not_found(format!("no endpoint {} {path}", request.method()))
    } else {
        ApiError::not_found(format!("no file {path}"))
    }
}

async fn method_not_allowed(request: Request) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!(
            "{} is not allowed on {}",
            request.method(),
            request.uri().path()
        ),
    )
}

/// The whole application: API, OpenAPI, health and (when configured) the web page.
pub fn router(state: AppState) -> Router {
    let posts = Router::new()
        .route("/api/v1/whatif", post(post_whatif))
        .route("/api/v1/placements", post(post_placement))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    let api = Router::new()
        .route("/healthz", get(healthz))
        .route("/api/openapi.json", get(openapi_json))
        .route("/api/v1/layers", get(get_layers))
        .route("/api/v1/tiles/{layer}/{z}/{x}/{y}", get(get_tile))
        .route("/api/v1/hexes/{cell}", get(get_hex))
        .route("/api/v1/sites", get(get_sites))
        .route("/api/v1/placements/{id}", get(get_placement))
        .route("/api/v1/downloads/{name}", get(get_download))
        .merge(posts)
        .route("/api/{*rest}", axum::routing::any(api_not_found))
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(
            state.config.body_limit_bytes,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), time_limit));
    // The page has no client-side routes: a missing file is a 404 (JSON,
    // like every other error), never index.html under another name.
    let app = match &state.config.web_dir {
        Some(dir) => {
            let missing = axum::handler::HandlerWithoutStateExt::into_service(api_not_found);
            api.fallback_service(ServeDir::new(dir).fallback(missing))
        }
        None => api.fallback(api_not_found),
    };
    app.with_state(state)
}
