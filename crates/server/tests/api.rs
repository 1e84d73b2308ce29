//! The router in-process (`router(state).oneshot(request)`): every endpoint,
//! its bad requests (4xx with a JSON body), limits and the bearer token, on
//! a small synthetic study over flat terrain with the physics baseline.
//! Response bodies are snapshot-tested (insta).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use h3o::{CellIndex, LatLng, Resolution};
use hexcover_core::{FlatTerrain, HexCoverage, HexStats, Site};
use hexcover_server::{
    AppState, LinkEvidence, Radio, ServerConfig, SiteModel, Study, StudyData, Suggestion, router,
};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

/// Two gateways in Ulm and devices heard around them (synthetic, for tests).
const GW_A: (f64, f64) = (48.3985, 9.9918);
const GW_B: (f64, f64) = (48.4200, 10.0300);

fn devices() -> Vec<(f64, f64, u32, f64)> {
    // (lat, lon, receiver, rssi): a small grid of device positions.
    let mut out = Vec::new();
    for i in 0..6 {
        for j in 0..6 {
            let lat = 48.39 + f64::from(i) * 0.006;
            let lon = 9.98 + f64::from(j) * 0.009;
            let rx = u32::from((i + j) % 2 == 1);
            out.push((lat, lon, rx, -80.0 - f64::from(i * 6 + j)));
        }
    }
    out
}

/// Per-cell statistics of the links at `res` (what ingest's aggregation
/// gives, reduced to what these tests read).
fn hex_stats(links: &[LinkEvidence], receivers: &[String], res: Resolution) -> Vec<HexStats> {
    let mut by_cell: std::collections::BTreeMap<CellIndex, Vec<&LinkEvidence>> =
        std::collections::BTreeMap::new();
    for l in links {
        let cell = LatLng::new(l.tx_lat, l.tx_lon).unwrap().to_cell(res);
        by_cell.entry(cell).or_default().push(l);
    }
    by_cell
        .into_iter()
        .map(|(cell, ls)| {
            let mut rssi: Vec<f64> = ls.iter().filter_map(|l| l.rssi_dbm).collect();
            rssi.sort_by(f64::total_cmp);
            let n = ls.len() as u64;
            HexStats {
                cell,
                n_links: n,
                n_heard: ls.iter().filter(|l| l.heard).count() as u64,
                n_invalid: 0,
                n_transmitters: None,
                n_receivers: Some(1),
                rssi_mean_dbm: Some(rssi.iter().sum::<f64>() / rssi.len() as f64),
                rssi_median_dbm: Some(rssi[rssi.len() / 2]),
                rssi_p10_dbm: rssi.first().copied(),
                rssi_p90_dbm: rssi.last().copied(),
                rssi_max_dbm: rssi.last().copied(),
                snr_mean_db: None,
                best_rx_id: Some(receivers[ls[0].rx.unwrap() as usize].clone()),
                first_seen_unix_ms: ls.iter().filter_map(|l| l.time_unix_ms).min(),
                last_seen_unix_ms: ls.iter().filter_map(|l| l.time_unix_ms).max(),
            }
        })
        .collect()
}

/// One day in ms; "now" in the config is day 1000.
const DAY_MS: i64 = 86_400_000;

fn study_data(with_terrain: bool) -> StudyData {
    let receivers = vec!["gw-a".to_owned(), "gw-b".to_owned()];
    let links: Vec<LinkEvidence> = devices()
        .into_iter()
        .enumerate()
        .map(|(k, (lat, lon, rx, rssi))| LinkEvidence {
            tx_lat: lat,
            tx_lon: lon,
            rx: Some(rx),
            rssi_dbm: Some(rssi),
            heard: true,
            valid: true,
            // The first row of devices was last heard 600 days before "now".
            time_unix_ms: Some(if k < 6 { 400 * DAY_MS } else { 990 * DAY_MS }),
        })
        .collect();
    let hexes = (6..=12)
        .map(|r| {
            let res = Resolution::try_from(r).unwrap();
            (res, hex_stats(&links, &receivers, res))
        })
        .collect();
    let site = |id: &str, name: &str, (lat, lon): (f64, f64)| Site {
        id: id.into(),
        name: Some(name.into()),
        lat,
        lon,
        height_agl_m: Some(20.0),
        gain_dbi: None,
        owner: None,
        source: "test".into(),
    };
    // Predicted coverage of gateway A: every res-10 cell within 1.5 km, P
    // falling with distance (synthetic).
    let origin = LatLng::new(GW_A.0, GW_A.1).unwrap();
    let coverage_a: Vec<HexCoverage> = origin
        .to_cell(Resolution::Ten)
        .grid_disk::<Vec<_>>(12)
        .into_iter()
        .map(|cell| {
            let d = LatLng::from(cell).distance_m(origin);
            HexCoverage {
                cell,
                distance_m: d,
                rssi_pred_dbm: -70.0 - d / 50.0,
                rssi_p10_dbm: -80.0 - d / 50.0,
                rssi_p90_dbm: -60.0 - d / 50.0,
                p_covered: (1.0 - d / 2000.0).clamp(0.0, 1.0),
            }
        })
        .collect();
    StudyData {
        name: "test-study".into(),
        hexes,
        links,
        receivers,
        sites: vec![site("gw-a", "Minster", GW_A), site("gw-b", "Hill", GW_B)],
        coverage: vec![("gw-a".into(), coverage_a)],
        suggestions: vec![Suggestion {
            id: "881f8c0037fffff".into(),
            rank: 1,
            lat: 48.41,
            lon: 10.01,
            height_agl_m: 10.0,
            marginal_gain: 12.5,
            demand_added: 40,
            reward_scale: 1.0,
            bound_by: String::new(),
        }],
        radio: Radio::default(),
        model: SiteModel::Physics(hexcover_propagation::PhysicsBaseline::default()),
        terrain: with_terrain.then(|| {
            Arc::new(FlatTerrain { elevation_m: 480.0 }) as Arc<dyn hexcover_core::Terrain>
        }),
        downloads: Vec::new(),
    }
}

fn config() -> ServerConfig {
    ServerConfig {
        now_unix_ms: 1000 * DAY_MS,
        whatif_radius_m: 3_000.0,
        ..ServerConfig::default()
    }
}

fn state_with(config: ServerConfig, with_terrain: bool) -> AppState {
    AppState::new(Study::new(study_data(with_terrain)).unwrap(), config)
}

fn state() -> AppState {
    state_with(config(), true)
}

async fn send(
    state: &AppState,
    request: Request<Body>,
) -> (StatusCode, Vec<u8>, axum::http::HeaderMap) {
    let response = router(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (status, body, headers)
}

async fn get(state: &AppState, uri: &str) -> (StatusCode, Value) {
    let (status, body, headers) = send(state, Request::get(uri).body(Body::empty()).unwrap()).await;
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.to_str().unwrap().starts_with("application/json"));
    assert!(is_json, "{uri}: {status} is not JSON: {headers:?}");
    (status, serde_json::from_slice(&body).unwrap())
}

async fn post(state: &AppState, uri: &str, body: &str) -> (StatusCode, Value) {
    let request = Request::post(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap();
    let (status, body, _) = send(state, request).await;
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

/// An error answer: the status, JSON with the same status and a message.
fn assert_error(status: StatusCode, body: &Value, expected: StatusCode, contains: &str) {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["status"], expected.as_u16(), "{body}");
    let message = body["error"].as_str().unwrap();
    assert!(message.contains(contains), "`{message}` lacks `{contains}`");
}

fn cell_of(lat: f64, lon: f64, res: Resolution) -> CellIndex {
    LatLng::new(lat, lon).unwrap().to_cell(res)
}

#[tokio::test]
async fn health_and_layers() {
    let s = state();
    let (status, body) = get(&s, "/healthz").await;
    assert_eq!((status, body), (StatusCode::OK, json!({"status": "ok"})));
    let (status, body) = get(&s, "/api/v1/layers").await;
    assert_eq!(status, StatusCode::OK);
    insta::assert_json_snapshot!("layers", body);
}

// ---- tiles ----------------------------------------------------------------

use hexcover_export::decoded as mvt_proto;

async fn tile(s: &AppState, uri: &str) -> mvt_proto::Tile {
    let (status, body, headers) = send(s, Request::get(uri).body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{uri}");
    assert_eq!(
        headers[header::CONTENT_TYPE],
        "application/vnd.mapbox-vector-tile"
    );
    mvt_proto::decode(&body).unwrap()
}

/// The z/x/y of the tile holding (lat, lon).
fn tile_of(lat: f64, lon: f64, z: u8) -> String {
    let t = hexcover_export::TileId::containing(lat, lon, z);
    format!("{}/{}/{}", t.z, t.x, t.y)
}

#[tokio::test]
async fn measured_tiles_hold_the_hexes_of_the_zooms_resolution() {
    let s = state();
    // Zoom 12 draws res 9; zoom 16 res 12.
    for (z, res) in [(12u8, 9u8), (16, 12)] {
        let (lat, lon, _, _) = devices()[7];
        let decoded = tile(
            &s,
            &format!("/api/v1/tiles/measured/{}.mvt", tile_of(lat, lon, z)),
        )
        .await;
        assert_eq!(decoded.layers.len(), 1);
        let layer = &decoded.layers[0];
        assert_eq!(
            (layer.name.as_str(), layer.version, layer.extent),
            ("measured", 2, Some(4096))
        );
        assert!(!layer.features.is_empty());
        let expected = u64::from(cell_of(lat, lon, Resolution::try_from(res).unwrap()));
        assert!(
            layer.features.iter().any(|f| f.id == Some(expected)),
            "zoom {z}: the device's res-{res} cell is in its tile"
        );
        assert!(
            layer.features.iter().all(|f| f.r#type == Some(3)),
            "polygons"
        );
        for key in ["cell", "res", "state", "n_links", "rssi_median_dbm"] {
            assert!(
                layer.keys.iter().any(|k| k == key),
                "{key} in {:?}",
                layer.keys
            );
        }
    }
    // A tile far away is empty, not an error.
    let (status, body, _) = send(
        &s,
        Request::get("/api/v1/tiles/measured/12/0/0.mvt")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!((status, body.len()), (StatusCode::OK, 0));
}

#[tokio::test]
async fn every_layer_has_tiles_over_the_study() {
    let s = state();
    for layer in ["measured", "predicted", "gaps", "sites", "suggestions"] {
        let decoded = tile(
            &s,
            &format!("/api/v1/tiles/{layer}/{}.mvt", tile_of(GW_A.0, GW_A.1, 10)),
        )
        .await;
        assert_eq!(decoded.layers.len(), 1, "{layer}");
        assert_eq!(decoded.layers[0].name, layer);
        assert!(!decoded.layers[0].features.is_empty(), "{layer}");
    }
    // The same request twice gives the same bytes (the second from the cache).
    let uri = format!(
        "/api/v1/tiles/predicted/{}.mvt",
        tile_of(GW_A.0, GW_A.1, 13)
    );
    let first = send(&s, Request::get(&uri).body(Body::empty()).unwrap())
        .await
        .1;
    let second = send(&s, Request::get(&uri).body(Body::empty()).unwrap())
        .await
        .1;
    assert_eq!(first, second);
}

#[tokio::test]
async fn bad_tile_requests_are_4xx_json() {
    let s = state();
    for (uri, status, contains) in [
        (
            "/api/v1/tiles/coverage/1/0/0.mvt",
            StatusCode::NOT_FOUND,
            "no layer `coverage`",
        ),
        (
            "/api/v1/tiles/measured/25/0/0.mvt",
            StatusCode::BAD_REQUEST,
            "zoom 25",
        ),
        (
            "/api/v1/tiles/measured/3/8/0.mvt",
            StatusCode::BAD_REQUEST,
            "must be below 8",
        ),
        (
            "/api/v1/tiles/measured/3/0/9.mvt",
            StatusCode::BAD_REQUEST,
            "must be below 8",
        ),
        (
            "/api/v1/tiles/measured/3/0/1.png",
            StatusCode::BAD_REQUEST,
            ".mvt",
        ),
        (
            "/api/v1/tiles/measured/a/0/1.mvt",
            StatusCode::BAD_REQUEST,
            "z = `a`",
        ),
        (
            "/api/v1/tiles/measured/3/-1/1.mvt",
            StatusCode::BAD_REQUEST,
            "x = `-1`",
        ),
        (
            "/api/v1/tiles/measured/3/0",
            StatusCode::NOT_FOUND,
            "no endpoint",
        ),
    ] {
        let (got, body) = get(&s, uri).await;
        assert_error(got, &body, status, contains);
    }
}

// ---- hex evidence ---------------------------------------------------------

#[tokio::test]
async fn evidence_of_a_measured_hex() {
    let s = state();
    let (lat, lon, _, _) = devices()[14];
    let cell = cell_of(lat, lon, Resolution::Nine);
    let (status, body) = get(&s, &format!("/api/v1/hexes/{cell}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["state"], "measured");
    assert!(
        body["receivers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "Minster" || r["name"] == "Hill")
    );
    insta::assert_json_snapshot!("hex_measured", body);
}

#[tokio::test]
async fn hex_states_stale_predicted_only_and_never_measured() {
    let s = state();
    // Devices of the first row were last heard 600 days ago (> 365).
    let (lat, lon, _, _) = devices()[0];
    let cell = cell_of(lat, lon, Resolution::Twelve);
    let (_, body) = get(&s, &format!("/api/v1/hexes/{cell}")).await;
    assert_eq!(body["state"], "stale", "{body}");
    assert!(body["measured"]["last_seen_unix_ms"].is_i64());

    // Near gateway A but with no device: predicted only, with an interval at res 10.
    let cell = cell_of(GW_A.0 + 0.004, GW_A.1 - 0.004, Resolution::Ten);
    let (_, body) = get(&s, &format!("/api/v1/hexes/{cell}")).await;
    assert_eq!(body["state"], "predicted_only", "{body}");
    assert!(body["measured"].is_null());
    assert_eq!(body["prediction"]["best_site"], "gw-a");
    assert!(
        body["prediction"]["rssi_p10_dbm"].as_f64().unwrap()
            < body["prediction"]["rssi_p90_dbm"].as_f64().unwrap()
    );

    // Far away: never measured, nothing predicted.
    let cell = cell_of(47.0, 8.0, Resolution::Nine);
    let (_, body) = get(&s, &format!("/api/v1/hexes/{cell}")).await;
    assert_eq!(body["state"], "never_measured");
    assert!(body["prediction"].is_null() && body["receivers"].as_array().unwrap().is_empty());
    // The data have times, and record no non-reception: the notes say the latter only.
    let notes = body["notes"].as_array().unwrap();
    assert!(
        notes
            .iter()
            .any(|n| n.as_str().unwrap().contains("only receptions"))
    );
    assert!(
        !notes
            .iter()
            .any(|n| n.as_str().unwrap().contains("no reception times"))
    );
}

#[tokio::test]
async fn bad_cells_are_400_json() {
    let s = state();
    let coarse = cell_of(48.4, 10.0, Resolution::Three);
    for (uri, contains) in [
        ("/api/v1/hexes/not-a-cell".to_owned(), "not an H3 cell"),
        (
            "/api/v1/hexes/8f1f8c00007ffff0".to_owned(),
            "not an H3 cell",
        ),
        (format!("/api/v1/hexes/{coarse}"), "res 3"),
    ] {
        let (status, body) = get(&s, &uri).await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, contains);
    }
}

#[tokio::test]
async fn sites_as_geojson() {
    let s = state();
    let (status, body) = get(&s, "/api/v1/sites").await;
    assert_eq!(status, StatusCode::OK);
    insta::assert_json_snapshot!("sites", body);
}

// ---- what-if --------------------------------------------------------------

#[tokio::test]
async fn whatif_adds_demand_away_from_coverage_and_names_broken_rules() {
    let s = state();
    // Between the devices, away from gateway A's predicted coverage.
    let (status, body) = post(
        &s,
        "/api/v1/whatif",
        r#"{"site": {"lat": 48.41, "lon": 10.02}}"#,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["site"]["height_agl_m"], 10.0,
        "the study's default height"
    );
    assert!(
        body["demand_added"].as_f64().unwrap() > 1.0,
        "{}",
        body["demand_added"]
    );
    assert!(body["hexes_added"].as_u64().unwrap() >= body["demand_hexes_added"].as_u64().unwrap());
    let features = body["added"]["features"].as_array().unwrap();
    assert_eq!(
        features.len() as u64,
        body["demand_hexes_added"].as_u64().unwrap()
    );
    for f in features {
        let p = &f["properties"];
        let (before, after) = (
            p["p_before"].as_f64().unwrap(),
            p["p_after"].as_f64().unwrap(),
        );
        assert!(after >= before + 0.05 - 1e-12 && after <= 1.0);
    }
    assert_eq!(body["violations"], json!([]));
    let mut snapshot = body.clone();
    snapshot["added"] = json!(features.len());
    // The time varies run to run; the snapshot keeps that the field is there.
    assert!(snapshot["elapsed_ms"].is_number());
    snapshot["elapsed_ms"] = json!("[ms]");
    insta::assert_json_snapshot!("whatif", snapshot);

    // On top of gateway A: the spacing rule breaks, and little is added there.
    let (_, on_a) = post(
        &s,
        "/api/v1/whatif",
        &format!(
            r#"{{"site": {{"lat": {}, "lon": {}, "height_agl_m": 15, "gain_dbi": 5}}}}"#,
            GW_A.0,
            GW_A.1 + 0.001
        ),
    )
    .await;
    let violations = on_a["violations"].as_array().unwrap();
    assert!(
        violations
            .iter()
            .any(|v| v["rule"] == "spacing" && v["site_id"] == "gw-a"),
        "{on_a}"
    );
    assert_eq!(on_a["site"]["gain_dbi"], 5.0);
}

#[tokio::test]
async fn bad_whatif_requests_are_4xx_json() {
    let s = state();
    for (body, status, contains) in [
        (
            "{\"site\": {\"lat\": 48.4,",
            StatusCode::BAD_REQUEST,
            "parse",
        ),
        ("[]", StatusCode::UNPROCESSABLE_ENTITY, "WhatIfRequest"),
        (
            r#"{"site": {"lon": 10.0}}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "lat",
        ),
        (
            r#"{"site": {"lat": "north", "lon": 10.0}}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "lat",
        ),
        (
            r#"{"site": {"lat": 91.0, "lon": 10.0}}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "site.lat/lon",
        ),
        (
            r#"{"site": {"lat": 48.4, "lon": 10.0, "height_agl_m": -3}}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "height_agl_m",
        ),
        (
            r#"{"site": {"lat": 48.4, "lon": 10.0, "gain_dbi": 99}}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "gain_dbi",
        ),
        (
            r#"{"site": {"lat": 48.4, "lon": 10.0, "colour": "red"}}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "colour",
        ),
    ] {
        let (got, answer) = post(&s, "/api/v1/whatif", body).await;
        assert_error(got, &answer, status, contains);
    }
    // Not JSON at all.
    let request = Request::post("/api/v1/whatif")
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from("lat=48"))
        .unwrap();
    let (status, body, _) = send(&s, request).await;
    assert_error(
        status,
        &serde_json::from_slice(&body).unwrap(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "Content-Type",
    );
    // Over the body limit.
    let huge = format!(
        r#"{{"site": {{"lat": 48.4, "lon": 10.0}}, "pad": "{}"}}"#,
        "x".repeat(100_000)
    );
    let (status, body) = post(&s, "/api/v1/whatif", &huge).await;
    assert_error(status, &body, StatusCode::PAYLOAD_TOO_LARGE, "");
    // GET on a POST endpoint.
    let (status, body) = get(&s, "/api/v1/whatif").await;
    assert_error(status, &body, StatusCode::METHOD_NOT_ALLOWED, "GET");
}

#[tokio::test]
async fn whatif_without_terrain_is_409_and_busy_server_is_503() {
    let s = state_with(config(), false);
    let (status, body) = post(
        &s,
        "/api/v1/whatif",
        r#"{"site": {"lat": 48.41, "lon": 10.02}}"#,
    )
    .await;
    assert_error(status, &body, StatusCode::CONFLICT, "--dem");

    let s = state();
    let _held = s.heavy.clone().try_acquire_many_owned(2).unwrap();
    let request = Request::post("/api/v1/whatif")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(r#"{"site": {"lat": 48.41, "lon": 10.02}}"#))
        .unwrap();
    let (status, body, headers) = send(&s, request).await;
    assert_error(
        status,
        &serde_json::from_slice(&body).unwrap(),
        StatusCode::SERVICE_UNAVAILABLE,
        "retry",
    );
    assert!(headers.contains_key(header::RETRY_AFTER));
}

#[tokio::test]
async fn posts_need_the_token_when_one_is_set() {
    let s = state_with(
        ServerConfig {
            token: Some("s3cret".into()),
            ..config()
        },
        true,
    );
    let body = r#"{"site": {"lat": 48.41, "lon": 10.02}}"#;
    let (status, answer) = post(&s, "/api/v1/whatif", body).await;
    assert_error(status, &answer, StatusCode::UNAUTHORIZED, "Bearer");
    for auth in ["Bearer wrong", "s3cret", "Basic s3cret"] {
        let request = Request::post("/api/v1/whatif")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::AUTHORIZATION, auth)
            .body(Body::from(body))
            .unwrap();
        assert_eq!(
            send(&s, request).await.0,
            StatusCode::UNAUTHORIZED,
            "{auth}"
        );
    }
    let request = Request::post("/api/v1/whatif")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, "Bearer s3cret")
        .body(Body::from(body))
        .unwrap();
    assert_eq!(send(&s, request).await.0, StatusCode::OK);
    // GETs stay open.
    assert_eq!(get(&s, "/api/v1/layers").await.0, StatusCode::OK);
}

// ---- placement ------------------------------------------------------------

#[tokio::test]
async fn placement_job_runs_to_ranked_suggestions_with_a_bound() {
    let s = state();
    let (status, job) = post(
        &s,
        "/api/v1/placements",
        r#"{"region": {"bbox": [9.98, 48.39, 10.03, 48.42]}, "sites": 2, "coverage_radius_km": 2}"#,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    let url = job["url"].as_str().unwrap().to_owned();
    let mut done = Value::Null;
    for _ in 0..600 {
        let (status, body) = get(&s, &url).await;
        assert_eq!(status, StatusCode::OK);
        if body["status"] != "running" {
            done = body;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(done["status"], "done", "{done}");
    let result = &done["result"];
    let suggestions = result["suggestions"].as_array().unwrap();
    assert_eq!(suggestions.len(), 2);
    assert_eq!(suggestions[0]["rank"], 1);
    assert!(
        suggestions[0]["marginal_gain"].as_f64().unwrap()
            >= suggestions[1]["marginal_gain"].as_f64().unwrap()
    );
    for site in suggestions {
        let (lat, lon) = (site["lat"].as_f64().unwrap(), site["lon"].as_f64().unwrap());
        assert!(
            (9.98..=10.03).contains(&lon) && (48.39..=48.42).contains(&lat),
            "{site}"
        );
    }
    // Spacing relaxes the bound but it is still proven (relaxed).
    assert_eq!(result["bound"]["proven"], true, "{result}");
    assert!(
        result["bound"]["upper"].as_f64().unwrap() >= result["objective"].as_f64().unwrap() - 1e-9
    );
    assert_eq!(done["progress"]["done"], done["progress"]["total"]);
}

#[tokio::test]
async fn bad_placement_requests_are_4xx_json() {
    let s = state();
    for (body, contains) in [
        (
            r#"{"region": {"bbox": [9.0, 48.0, 11.0, 49.0]}, "sites": 2}"#,
            "km²",
        ),
        (
            r#"{"region": {"bbox": [10.03, 48.39, 9.98, 48.42]}, "sites": 2}"#,
            "west < east",
        ),
        (
            r#"{"region": {"bbox": [9.98, 48.39, 10.03, 48.42]}, "sites": 0}"#,
            "sites = 0",
        ),
        (
            r#"{"region": {"bbox": [9.98, 48.39, 10.03, 48.42]}, "sites": 500}"#,
            "sites = 500",
        ),
        (r#"{"region": {}, "sites": 2}"#, "exactly one"),
        (
            r#"{"region": {"polygon": {"type": "Point", "coordinates": [10, 48]}}, "sites": 2}"#,
            "Polygon",
        ),
        (
            r#"{"region": {"bbox": [9.98, 48.39, 10.03, 48.42]}, "sites": 2, "coverage_radius_km": 90}"#,
            "coverage_radius_km",
        ),
        (
            r#"{"region": {"bbox": [9.98, 48.39, 10.03, 48.42]}, "sites": 2, "constraints": {"min_spacing_m": -1}}"#,
            "min_spacing_m",
        ),
    ] {
        let (status, answer) = post(&s, "/api/v1/placements", body).await;
        assert_error(status, &answer, StatusCode::UNPROCESSABLE_ENTITY, contains);
    }
    let (status, body) = get(&s, "/api/v1/placements/p999").await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "p999");
}

// ---- the rest -------------------------------------------------------------

#[tokio::test]
async fn openapi_describes_every_endpoint() {
    let s = state();
    let (status, body) = get(&s, "/api/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body["openapi"].as_str().unwrap().starts_with("3."));
    let paths: Vec<&str> = body["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    insta::assert_json_snapshot!("openapi_paths", paths);
    for schema in [
        "WhatIfRequest",
        "WhatIfResponse",
        "HexEvidence",
        "LayersResponse",
        "JobStatus",
        "ErrorBody",
    ] {
        assert!(
            body["components"]["schemas"][schema].is_object(),
            "{schema}"
        );
    }
}

#[tokio::test]
async fn unknown_api_paths_are_404_json() {
    let s = state();
    let (status, body) = get(&s, "/api/v2/everything").await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "/api/v2/everything");
}

#[tokio::test]
async fn the_web_page_is_served_from_disk() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("index.html"), "<html>hexcover map</html>").unwrap();
    std::fs::write(dir.path().join("app.js"), "console.log(1)").unwrap();
    let s = state_with(
        ServerConfig {
            web_dir: Some(dir.path().to_owned()),
            ..config()
        },
        true,
    );
    for (uri, expected) in [("/", "hexcover map"), ("/app.js", "console.log")] {
        let (status, body, _) = send(&s, Request::get(uri).body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        assert!(String::from_utf8(body).unwrap().contains(expected), "{uri}");
    }
    // A missing file is a 404, not the page under another name.
    let (status, body) = get(&s, "/missing.js").await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "no file /missing.js");
    // The API still answers JSON beside the page.
    let (status, body) = get(&s, "/api/nothing").await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "no endpoint");
}
