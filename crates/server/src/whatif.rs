//! `POST /api/v1/whatif`: what one new receiver would add to the network —
//! the demand hexes it newly covers, its reward scale under the density
//! rules, and the rules it breaks.

use std::time::Instant;

use h3o::{CellIndex, LatLng, Resolution};
use hexcover_core::LatLon;
use hexcover_optimizer::{DensityRules, HELIUM_MIN_SPACING_M};
use hexcover_propagation::{CoverageParams, SiteCoverage, site_coverage};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::study::{DEMAND_RES, Study};

/// A hex counts as added when the site raises its P(covered) by this much.
pub const MIN_ADDED_P: f64 = 0.05;

/// A new receiver.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SiteRequest {
    /// Latitude, WGS84 degrees.
    pub lat: f64,
    /// Longitude, WGS84 degrees.
    pub lon: f64,
    /// Antenna height above ground, m (default: the study's).
    pub height_agl_m: Option<f64>,
    /// Antenna gain, dBi (default: the study's).
    pub gain_dbi: Option<f64>,
}

/// `POST /api/v1/whatif` body.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WhatIfRequest {
    /// The site to try.
    pub site: SiteRequest,
}

/// A constraint the site breaks.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Violation {
    /// `spacing` or `density`.
    pub rule: String,
    /// What is broken, in words.
    pub message: String,
    /// The existing site involved, where one is.
    pub site_id: Option<String>,
    /// Distance to it, m.
    pub distance_m: Option<f64>,
}

/// The site as evaluated (defaults filled in).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EvaluatedSite {
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
    /// Antenna height above ground, m.
    pub height_agl_m: f64,
    /// Antenna gain, dBi.
    pub gain_dbi: f64,
}

/// `POST /api/v1/whatif` answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WhatIfResponse {
    /// The site.
    pub site: EvaluatedSite,
    /// Resolution of the hexes.
    pub res: u8,
    /// Radius the coverage was computed over, m.
    pub radius_m: f64,
    /// Expected demand hexes newly covered: Σ over demand hexes of (1 − p_before)·p_site.
    pub demand_added: f64,
    /// Hexes (demand or not) whose P(covered) rises by at least 0.05.
    pub hexes_added: usize,
    /// Demand hexes whose P(covered) rises by at least 0.05 (the features of `added`).
    pub demand_hexes_added: usize,
    /// Hexes the site covers with P ≥ 0.5 on its own.
    pub hexes_covered: usize,
    /// Reward scale the site would get under the HIP-17 density rules (1 = unclipped).
    pub reward_scale: f64,
    /// Rules the site breaks.
    pub violations: Vec<Violation>,
    /// The demand hexes it adds to, as GeoJSON polygons with `cell`, `p_before`, `p_after`, `gain`, `rssi_pred_dbm`.
    #[schema(value_type = Object)]
    pub added: Value,
    /// The model.
    pub model: String,
    /// Time to answer, ms.
    pub elapsed_ms: f64,
}

/// Check the request and fill defaults.
///
/// # Errors
/// 422 naming the field that is out of range.
pub fn checked_site(study: &Study, site: &SiteRequest) -> ApiResult<EvaluatedSite> {
    if let Some(problem) = hexcover_core::lat_lon_problem(site.lat, site.lon) {
        return Err(ApiError::unprocessable(format!(
            "site.lat/lon ({}, {}): {problem}",
            site.lat, site.lon
        )));
    }
    let height = site.height_agl_m.unwrap_or(study.radio.site_height_agl_m);
    if !(height.is_finite() && height > 0.0 && height <= 500.0) {
        return Err(ApiError::unprocessable(format!(
            "site.height_agl_m = {height}: expected more than 0 and at most 500 m"
        )));
    }
    let gain = site.gain_dbi.unwrap_or(study.radio.site_gain_dbi);
    if !(gain.is_finite() && (-10.0..=30.0).contains(&gain)) {
        return Err(ApiError::unprocessable(format!(
            "site.gain_dbi = {gain}: expected -10 to 30 dBi"
        )));
    }
    Ok(EvaluatedSite {
        lat: site.lat,
        lon: site.lon,
        height_agl_m: height,
        gain_dbi: gain,
    })
}

/// The coverage of a new site at the demand resolution within `radius_m`.
///
/// # Errors
/// 409 when the study was loaded without terrain; 422 when the site is
/// off the terrain or the parameters are refused.
pub fn new_site_coverage(
    study: &Study,
    site: &EvaluatedSite,
    radius_m: f64,
) -> ApiResult<SiteCoverage> {
    let terrain = study.terrain.as_deref().ok_or_else(|| {
        ApiError::new(
            axum::http::StatusCode::CONFLICT,
            "this study is served without an elevation model: start `hexcover serve` with --dem",
        )
    })?;
    let radio = &study.radio;
    let params = CoverageParams::new(LatLon::new(site.lat, site.lon))
        .height_agl_m(site.height_agl_m)
        .gain_dbi(site.gain_dbi)
        .freq_mhz(radio.freq_mhz)
        .device_eirp_dbm(radio.device_eirp_dbm)
        .device_height_agl_m(radio.device_height_agl_m)
        .threshold_dbm(radio.threshold_dbm)
        .sample_step_m(radio.sample_step_m)
        .radius_m(radius_m)
        .resolution(DEMAND_RES);
    site_coverage(terrain, &params, study.model.for_new_site())
        .map_err(|e| ApiError::unprocessable(format!("site ({}, {}): {e}", site.lat, site.lon)))
}

/// Spacing and density of a new site among the existing ones.
#[must_use]
pub fn rules(study: &Study, lat: f64, lon: f64) -> (f64, Vec<Violation>) {
    let at = LatLon::new(lat, lon);
    let mut violations: Vec<Violation> = study
        .sites
        .iter()
        .filter_map(|s| {
            let d = at.distance_m(LatLon::new(s.lat, s.lon));
            (d < HELIUM_MIN_SPACING_M).then(|| Violation {
                rule: "spacing".into(),
                message: format!(
                    "{d:.0} m from `{}`: sites must be at least {HELIUM_MIN_SPACING_M:.0} m apart (8 res-11 cells)",
                    s.id
                ),
                site_id: Some(s.id.clone()),
                distance_m: Some(d),
            })
        })
        .collect();
    let cell_of = |lat: f64, lon: f64| {
        LatLng::new(lat, lon)
            .ok()
            .map(|ll| ll.to_cell(Resolution::Twelve))
    };
    let mut cells: Vec<CellIndex> = study
        .sites
        .iter()
        .filter_map(|s| cell_of(s.lat, s.lon))
        .collect();
    let scale = match cell_of(lat, lon) {
        Some(cell) => {
            cells.push(cell);
            DensityRules::default()
                .reward_scales(&cells)
                .last()
                .copied()
                .unwrap_or(1.0)
        }
        None => 1.0,
    };
    if scale < 1.0 {
        violations.push(Violation {
            rule: "density".into(),
            message: format!(
                "the hex-density rules (HIP-17) clip this area: the site would earn {:.0} % of full rewards",
                scale * 100.0
            ),
            site_id: None,
            distance_m: None,
        });
    }
    (scale, violations)
}

/// Answer a what-if request (blocking: run it off the async threads).
///
/// # Errors
/// As [`checked_site`] and [`new_site_coverage`].
pub fn what_if(state: &AppState, request: &WhatIfRequest) -> ApiResult<WhatIfResponse> {
    let started = Instant::now();
    let study = &state.study;
    let site = checked_site(study, &request.site)?;
    let radius_m = state.config.whatif_radius_m;
    let coverage = new_site_coverage(study, &site, radius_m)?;
    let demand = study.demand.get(&u8::from(DEMAND_RES));
    let mut demand_added = 0.0;
    let mut features = Vec::new();
    let mut hexes_covered = 0;
    let mut hexes_added = 0;
    for hex in &coverage.hexes {
        let p_before = study.p_existing(hex.cell);
        let p_after = 1.0 - (1.0 - p_before) * (1.0 - hex.p_covered);
        let gain = p_after - p_before;
        let is_demand = demand.is_some_and(|d| d.get(hex.cell).is_some());
        if is_demand {
            demand_added += gain;
        }
        if hex.p_covered >= 0.5 {
            hexes_covered += 1;
        }
        if gain >= MIN_ADDED_P {
            hexes_added += 1;
        }
        // The map gets the demand hexes it adds to (all added hexes within
        // 20 km would be megabytes of GeoJSON).
        if gain >= MIN_ADDED_P && is_demand {
            let ring: Vec<Value> = hex
                .cell
                .boundary()
                .iter()
                .chain(hex.cell.boundary().iter().take(1))
                .map(|ll| json!([ll.lng(), ll.lat()]))
                .collect();
            features.push(json!({
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [ring]},
                "properties": {
                    "cell": hex.cell.to_string(),
                    "p_before": p_before,
                    "p_after": p_after,
                    "gain": gain,
                    "rssi_pred_dbm": hex.rssi_pred_dbm,
                    "demand": is_demand,
                },
            }));
        }
    }
    let (reward_scale, violations) = rules(study, site.lat, site.lon);
    Ok(WhatIfResponse {
        site,
        res: u8::from(DEMAND_RES),
        radius_m,
        demand_added,
        hexes_added,
        demand_hexes_added: features.len(),
        hexes_covered,
        reward_scale,
        violations,
        added: json!({"type": "FeatureCollection", "features": features}),
        model: study.model.name(),
        elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
    })
}
