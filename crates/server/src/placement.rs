//! `POST /api/v1/placements`: suggest sites in a region, as a job the page
//! polls (`GET /api/v1/placements/{id}`) for progress and the answer.
//!
//! Demand is every res-9 cell whose centre lies in the region, weighted by
//! the probability that the existing network misses it (`1 − P(covered)`);
//! candidates are the centres of res-8 cells in the region (res 7 or 6 when
//! res 8 would give more than the configured maximum). Coverage of each
//! candidate comes from the study's model over the terrain, exactly as
//! `hexcover optimize --study` computes it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use h3o::{CellIndex, LatLng, Resolution};
use hexcover_core::LatLon;
use hexcover_optimizer::{
    Bound, Constraints, DensityRules, HELIUM_MIN_SPACING_M, LocalProjection, OptimizeParams,
    Problem, SiteSpec, coverage_over_cells, optimize,
};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::study::{DEMAND_RES, Study};
use crate::whatif::{EvaluatedSite, new_site_coverage};

/// The region to place in: a bbox or a GeoJSON polygon (exterior ring).
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Region {
    /// [west, south, east, north], degrees.
    pub bbox: Option<[f64; 4]>,
    /// A GeoJSON Polygon geometry.
    #[schema(value_type = Option<Object>)]
    pub polygon: Option<Value>,
}

/// Rules the placement respects.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlacementConstraints {
    /// Minimum distance between any two sites, m (default 345, the Helium witness rule; 0 = off).
    pub min_spacing_m: Option<f64>,
    /// Keep every new site at full reward under the HIP-17 density rules.
    pub hex_density: Option<bool>,
    /// A new site must lie within this distance of an existing one, m.
    pub max_distance_to_existing_m: Option<f64>,
}

/// `POST /api/v1/placements` body.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlacementRequest {
    /// Where to place.
    pub region: Region,
    /// How many new sites.
    pub sites: usize,
    /// The rules.
    #[serde(default)]
    pub constraints: PlacementConstraints,
    /// Coverage radius of each candidate, km (default 10, at most 20).
    pub coverage_radius_km: Option<f64>,
    /// Antenna height of new sites, m (default: the study's).
    pub height_agl_m: Option<f64>,
}

/// One suggested site.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PlacedSite {
    /// 1 = first to build.
    pub rank: usize,
    /// Candidate id (its H3 cell).
    pub id: String,
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
    /// Expected demand it adds, in rank order.
    pub marginal_gain: f64,
    /// Demand cells it adds to.
    pub demand_added: usize,
    /// Reward scale under the density rules.
    pub reward_scale: f64,
    /// Rules that kept a better replacement out.
    pub bound_by: Vec<String>,
}

/// The proven bound, or why there is none.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BoundInfo {
    /// Whether a bound is proven.
    pub proven: bool,
    /// Upper bound on the best objective.
    pub upper: Option<f64>,
    /// (upper − objective) / upper.
    pub gap: Option<f64>,
    /// Why no bound, when none.
    pub reason: Option<String>,
}

/// A finished placement.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PlacementResult {
    /// Ranked suggestions.
    pub suggestions: Vec<PlacedSite>,
    /// Expected demand covered with the suggestions (weights 1 − P(existing)).
    pub objective: f64,
    /// The bound.
    pub bound: BoundInfo,
    /// Demand cells in the region.
    pub demand_cells: usize,
    /// Candidates evaluated.
    pub candidates: usize,
    /// Candidate resolution.
    pub candidate_res: u8,
    /// Candidates off the terrain, left out.
    pub candidates_without_terrain: usize,
    /// Why fewer sites than asked, if so.
    pub shortfall: Option<String>,
    /// Time taken, ms.
    pub elapsed_ms: f64,
}

/// Progress of a running job.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Progress {
    /// `coverage` or `optimize`.
    pub stage: String,
    /// Work done in the stage.
    pub done: usize,
    /// Work in the stage.
    pub total: usize,
}

/// `GET /api/v1/placements/{id}` (and the `POST` answer).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JobStatus {
    /// Job id.
    pub id: String,
    /// `running`, `done` or `failed`.
    pub status: String,
    /// Where to poll.
    pub url: String,
    /// Progress.
    pub progress: Progress,
    /// The answer, when done.
    pub result: Option<PlacementResult>,
    /// What failed, when failed.
    pub error: Option<String>,
}

/// One placement job.
pub struct Job {
    id: String,
    stage: Mutex<&'static str>,
    done: AtomicUsize,
    total: AtomicUsize,
    outcome: Mutex<Option<Result<PlacementResult, String>>>,
}

impl Job {
    fn status(&self) -> JobStatus {
        let outcome = self.outcome.lock().ok().and_then(|o| o.clone());
        let (status, result, error) = match outcome {
            None => ("running", None, None),
            Some(Ok(r)) => ("done", Some(r), None),
            Some(Err(e)) => ("failed", None, Some(e)),
        };
        JobStatus {
            id: self.id.clone(),
            status: status.into(),
            url: format!("/api/v1/placements/{}", self.id),
            progress: Progress {
                stage: self
                    .stage
                    .lock()
                    .map(|s| (*s).to_owned())
                    .unwrap_or_default(),
                done: self.done.load(Ordering::Relaxed),
                total: self.total.load(Ordering::Relaxed),
            },
            result,
            error,
        }
    }
}

/// The jobs, newest last; finished jobs beyond [`KEEP_JOBS`] are forgotten.
#[derive(Default)]
pub struct Jobs {
    next: AtomicU64,
    jobs: Mutex<BTreeMap<u64, Arc<Job>>>,
}

/// Jobs remembered.
const KEEP_JOBS: usize = 64;

impl Jobs {
    fn create(&self) -> Arc<Job> {
        let n = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let job = Arc::new(Job {
            id: format!("p{n}"),
            stage: Mutex::new("queued"),
            done: AtomicUsize::new(0),
            total: AtomicUsize::new(0),
            outcome: Mutex::new(None),
        });
        if let Ok(mut jobs) = self.jobs.lock() {
            jobs.insert(n, job.clone());
            while jobs.len() > KEEP_JOBS {
                jobs.pop_first();
            }
        }
        job
    }

    /// The status of job `id`.
    pub fn status(&self, id: &str) -> Option<JobStatus> {
        let n: u64 = id.strip_prefix('p')?.parse().ok()?;
        let jobs = self.jobs.lock().ok()?;
        jobs.get(&n).map(|job| job.status())
    }
}

/// A checked placement request: the region's ring and the numbers.
pub struct Checked {
    ring: Vec<(f64, f64)>,
    sites: usize,
    radius_m: f64,
    height_agl_m: f64,
    max_candidates: usize,
    constraints: Constraints,
}

/// Check a request before any work.
///
/// # Errors
/// 422 naming what is out of range (region shape or size, site count, radius).
pub fn check(state: &AppState, request: &PlacementRequest) -> ApiResult<Checked> {
    let config = &state.config;
    let ring = region_ring(&request.region)?;
    let area_km2 = ring_area_m2(&ring) / 1e6;
    if area_km2 > config.max_region_km2 {
        return Err(ApiError::unprocessable(format!(
            "region is {area_km2:.0} km²; placement is limited to {:.0} km² (zoom in or draw a smaller region)",
            config.max_region_km2
        )));
    }
    if request.sites == 0 || request.sites > config.max_placement_sites {
        return Err(ApiError::unprocessable(format!(
            "sites = {}: expected 1 to {}",
            request.sites, config.max_placement_sites
        )));
    }
    let radius_km = request.coverage_radius_km.unwrap_or(10.0);
    if !(radius_km.is_finite() && radius_km > 0.0 && radius_km <= 20.0) {
        return Err(ApiError::unprocessable(format!(
            "coverage_radius_km = {radius_km}: expected more than 0 and at most 20"
        )));
    }
    let height = request
        .height_agl_m
        .unwrap_or(state.study.radio.site_height_agl_m);
    if !(height.is_finite() && height > 0.0 && height <= 500.0) {
        return Err(ApiError::unprocessable(format!(
            "height_agl_m = {height}: expected more than 0 and at most 500 m"
        )));
    }
    let c = &request.constraints;
    let spacing = c.min_spacing_m.unwrap_or(HELIUM_MIN_SPACING_M);
    if !(spacing.is_finite() && (0.0..=50_000.0).contains(&spacing)) {
        return Err(ApiError::unprocessable(format!(
            "constraints.min_spacing_m = {spacing}: expected 0 to 50000 m"
        )));
    }
    if let Some(d) = c.max_distance_to_existing_m
        && !(d.is_finite() && d > 0.0)
    {
        return Err(ApiError::unprocessable(format!(
            "constraints.max_distance_to_existing_m = {d}: expected a distance above 0"
        )));
    }
    Ok(Checked {
        ring,
        sites: request.sites,
        radius_m: radius_km * 1000.0,
        height_agl_m: height,
        max_candidates: config.max_candidates,
        constraints: Constraints {
            min_spacing_m: Some(spacing).filter(|&m| m > 0.0),
            density: c.hex_density.unwrap_or(false).then(DensityRules::default),
            max_distance_to_existing_m: c.max_distance_to_existing_m,
            ..Constraints::default()
        },
    })
}

fn region_ring(region: &Region) -> ApiResult<Vec<(f64, f64)>> {
    let ring = match (&region.bbox, &region.polygon) {
        (Some([w, s, e, n]), None) => {
            if !(w < e && s < n) {
                return Err(ApiError::unprocessable(format!(
                    "region.bbox [{w}, {s}, {e}, {n}]: expected [west, south, east, north] with west < east and south < north"
                )));
            }
            vec![(*w, *s), (*e, *s), (*e, *n), (*w, *n)]
        }
        (None, Some(polygon)) => polygon_ring(polygon)?,
        _ => {
            return Err(ApiError::unprocessable(
                "region: give exactly one of `bbox` or `polygon`",
            ));
        }
    };
    for &(lon, lat) in &ring {
        if let Some(problem) = hexcover_core::lat_lon_problem(lat, lon) {
            return Err(ApiError::unprocessable(format!(
                "region vertex ({lon}, {lat}): {problem}"
            )));
        }
    }
    Ok(ring)
}

fn polygon_ring(polygon: &Value) -> ApiResult<Vec<(f64, f64)>> {
    let bad = |why: &str| ApiError::unprocessable(format!("region.polygon: {why}"));
    if polygon.get("type").and_then(Value::as_str) != Some("Polygon") {
        return Err(bad(
            "expected a GeoJSON geometry with \"type\": \"Polygon\"",
        ));
    }
    let exterior = polygon
        .get("coordinates")
        .and_then(Value::as_array)
        .and_then(|rings| rings.first())
        .and_then(Value::as_array)
        .ok_or_else(|| bad("`coordinates` must hold at least one ring"))?;
    let mut ring = Vec::with_capacity(exterior.len());
    for (i, vertex) in exterior.iter().enumerate() {
        let pair = vertex
            .as_array()
            .filter(|p| p.len() >= 2)
            .and_then(|p| Some((p[0].as_f64()?, p[1].as_f64()?)))
            .ok_or_else(|| bad(&format!("vertex {i} is not [lon, lat]")))?;
        ring.push(pair);
    }
    if ring.len() > 1 && ring.first() == ring.last() {
        ring.pop();
    }
    if ring.len() < 3 {
        return Err(bad("the ring needs at least three distinct vertices"));
    }
    Ok(ring)
}

/// Area of a (lon, lat) ring, m², on a local plane.
fn ring_area_m2(ring: &[(f64, f64)]) -> f64 {
    let points: Vec<(f64, f64)> = ring.iter().map(|&(lon, lat)| (lat, lon)).collect();
    let Some(projection) = LocalProjection::around(&points) else {
        return 0.0;
    };
    let xy: Vec<(f64, f64)> = points
        .iter()
        .map(|&(lat, lon)| projection.to_xy_m(lat, lon))
        .collect();
    let n = xy.len();
    let twice: f64 = (0..n)
        .map(|i| xy[i].0 * xy[(i + 1) % n].1 - xy[(i + 1) % n].0 * xy[i].1)
        .sum();
    twice.abs() / 2.0
}

/// Ray casting: whether (lon, lat) lies inside the ring.
fn in_ring(ring: &[(f64, f64)], lon: f64, lat: f64) -> bool {
    let mut inside = false;
    let n = ring.len();
    let mut j = n - 1;
    for i in 0..n {
        let ((xi, yi), (xj, yj)) = (ring[i], ring[j]);
        if (yi > lat) != (yj > lat) && lon < (xj - xi) * (lat - yi) / (yj - yi) + xi {
            inside = !inside;
        }
        j = i;
    }
    inside
}

/// The cells at `res` whose centres lie in the ring.
fn cells_in_ring(ring: &[(f64, f64)], res: Resolution) -> Vec<CellIndex> {
    let (mut w, mut s, mut e, mut n) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for &(lon, lat) in ring {
        (w, s, e, n) = (w.min(lon), s.min(lat), e.max(lon), n.max(lat));
    }
    let (clat, clon) = (f64::midpoint(s, n), f64::midpoint(w, e));
    let Ok(centre) = LatLng::new(clat, clon) else {
        return Vec::new();
    };
    let origin = centre.to_cell(res);
    let half_diag_m = LatLon::new(s, w).distance_m(LatLon::new(n, e)) / 2.0;
    // Neighbouring centres are at least edge·√3 apart: enough rings to reach the corners.
    let step_m = res.edge_length_m() * 3f64.sqrt() * 0.8;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let k = (half_diag_m / step_m).ceil() as u32 + 1;
    let mut cells: Vec<CellIndex> = origin
        .grid_disk::<Vec<_>>(k)
        .into_iter()
        .filter(|cell| {
            let c = LatLng::from(*cell);
            in_ring(ring, c.lng(), c.lat())
        })
        .collect();
    cells.sort_unstable();
    cells
}

/// Start a placement job for a checked request; the permit is held until it ends.
pub fn start(
    state: &AppState,
    checked: Checked,
    permit: tokio::sync::OwnedSemaphorePermit,
) -> JobStatus {
    let job = state.jobs.create();
    let status = job.status();
    let state = state.clone();
    tokio::task::spawn_blocking(move || {
        let outcome = run(&state.study, &checked, &job).map_err(|e| e.message);
        if let Ok(mut slot) = job.outcome.lock() {
            *slot = Some(outcome);
        }
        drop(permit);
    });
    status
}

fn run(study: &Study, checked: &Checked, job: &Job) -> ApiResult<PlacementResult> {
    let started = Instant::now();
    let demand = cells_in_ring(&checked.ring, DEMAND_RES);
    if demand.is_empty() {
        return Err(ApiError::unprocessable(
            "the region holds no res-9 cell centre",
        ));
    }
    let weights: Vec<f64> = demand.iter().map(|&c| 1.0 - study.p_existing(c)).collect();
    let (candidate_res, cells) = [Resolution::Eight, Resolution::Seven, Resolution::Six]
        .into_iter()
        .map(|res| (res, cells_in_ring(&checked.ring, res)))
        .find(|(_, cells)| cells.len() <= checked.max_candidates)
        .unwrap_or((Resolution::Six, Vec::new()));
    let terrain = study.terrain.as_deref();
    let (candidates, off_terrain): (Vec<CellIndex>, Vec<CellIndex>) =
        cells.into_iter().partition(|&cell| {
            let c = LatLng::from(cell);
            terrain.is_some_and(|t| t.elevation_m(LatLon::new(c.lat(), c.lng())).is_some())
        });
    if candidates.is_empty() {
        return Err(ApiError::unprocessable(
            "no candidate cell centre in the region lies on the terrain",
        ));
    }
    if let Ok(mut stage) = job.stage.lock() {
        *stage = "coverage";
    }
    job.total.store(candidates.len(), Ordering::Relaxed);
    let cover: Vec<Vec<(CellIndex, f32)>> = candidates
        .par_iter()
        .map(|&cell| {
            let c = LatLng::from(cell);
            let site = EvaluatedSite {
                lat: c.lat(),
                lon: c.lng(),
                height_agl_m: checked.height_agl_m,
                gain_dbi: study.radio.site_gain_dbi,
            };
            let coverage = new_site_coverage(study, &site, checked.radius_m)?;
            job.done.fetch_add(1, Ordering::Relaxed);
            #[allow(clippy::cast_possible_truncation)]
            Ok(coverage
                .hexes
                .iter()
                .filter(|h| h.p_covered > 0.0)
                .map(|h| (h.cell, h.p_covered as f32))
                .collect())
        })
        .collect::<ApiResult<_>>()?;
    if let Ok(mut stage) = job.stage.lock() {
        *stage = "optimize";
    }

    let mut points: Vec<(f64, f64)> = candidates
        .iter()
        .map(|&c| {
            let ll = LatLng::from(c);
            (ll.lat(), ll.lng())
        })
        .collect();
    points.extend(study.sites.iter().map(|s| (s.lat, s.lon)));
    let projection = LocalProjection::around(&points)
        .ok_or_else(|| ApiError::unprocessable("no sites to place"))?;
    let twelve = |lat: f64, lon: f64| {
        LatLng::new(lat, lon)
            .ok()
            .map(|ll| ll.to_cell(Resolution::Twelve))
    };
    let mut specs: Vec<SiteSpec> = candidates
        .iter()
        .zip(&points)
        .map(|(cell, &(lat, lon))| {
            let (x, y) = projection.to_xy_m(lat, lon);
            let mut spec = SiteSpec::candidate(cell.to_string(), x, y);
            spec.cell = twelve(lat, lon);
            spec
        })
        .collect();
    // Existing sites take part in spacing and density; their coverage is
    // already in the weights (1 − P(existing)).
    for site in &study.sites {
        let (x, y) = projection.to_xy_m(site.lat, site.lon);
        let mut spec = SiteSpec::existing(site.id.clone(), x, y);
        spec.cell = twelve(site.lat, site.lon);
        specs.push(spec);
    }
    let mut site_cover = cover;
    site_cover.extend(study.sites.iter().map(|_| Vec::new()));
    let coverage = coverage_over_cells(&demand, &site_cover).map_err(internal)?;
    let problem = Problem::new(
        demand.iter().map(ToString::to_string).collect(),
        weights,
        specs,
        coverage,
    )
    .map_err(internal)?;
    let params = OptimizeParams::new(checked.sites).constraints(checked.constraints.clone());
    let solution =
        optimize(&problem, &params).map_err(|e| ApiError::unprocessable(e.to_string()))?;
    let suggestions = solution
        .sites
        .iter()
        .map(|s| {
            let (lat, lon) = points[s.site];
            PlacedSite {
                rank: s.rank,
                id: problem.sites()[s.site].id.clone(),
                lat,
                lon,
                marginal_gain: s.marginal_gain,
                demand_added: s.demand_added.len(),
                reward_scale: s.reward_scale,
                bound_by: s.bound_by.iter().map(|k| k.name().to_owned()).collect(),
            }
        })
        .collect();
    let bound = match &solution.bound {
        Bound::Proven { upper, gap, .. } => BoundInfo {
            proven: true,
            upper: Some(*upper),
            gap: Some(*gap),
            reason: None,
        },
        Bound::None { reason } => BoundInfo {
            proven: false,
            upper: None,
            gap: None,
            reason: Some(reason.clone()),
        },
    };
    Ok(PlacementResult {
        suggestions,
        objective: solution.objective,
        bound,
        demand_cells: demand.len(),
        candidates: candidates.len(),
        candidate_res: u8::from(candidate_res),
        candidates_without_terrain: off_terrain.len(),
        shortfall: solution.shortfall.clone(),
        elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
    })
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn ring_area_of_a_small_bbox() {
        // 0.1° × 0.1° at 48.4° N: 11.12 km × 7.38 km ≈ 82 km².
        let ring = vec![(10.0, 48.35), (10.1, 48.35), (10.1, 48.45), (10.0, 48.45)];
        let a = ring_area_m2(&ring) / 1e6;
        assert!((a - 82.1).abs() < 1.0, "{a}");
    }

    #[test]
    fn cells_in_a_ring_have_their_centres_inside() {
        let ring = vec![(9.95, 48.38), (10.02, 48.38), (10.02, 48.42), (9.95, 48.42)];
        let cells = cells_in_ring(&ring, Resolution::Eight);
        // ~5.2 km × 4.4 km ≈ 23 km² of 0.74 km² cells.
        assert!((20..=45).contains(&cells.len()), "{}", cells.len());
        for cell in &cells {
            let c = LatLng::from(*cell);
            assert!(in_ring(&ring, c.lng(), c.lat()));
        }
        // Every neighbour outside the list has its centre outside.
        for cell in &cells {
            for n in cell.grid_disk::<Vec<_>>(1) {
                let c = LatLng::from(n);
                assert_eq!(cells.contains(&n), in_ring(&ring, c.lng(), c.lat()));
            }
        }
    }

    #[test]
    fn polygons_are_read_from_geojson() {
        let ok = serde_json::json!({"type": "Polygon", "coordinates": [[[10.0, 48.0], [10.1, 48.0], [10.1, 48.1], [10.0, 48.0]]]});
        assert_eq!(polygon_ring(&ok).unwrap().len(), 3);
        let bad = serde_json::json!({"type": "Point", "coordinates": [10.0, 48.0]});
        assert!(polygon_ring(&bad).unwrap_err().message.contains("Polygon"));
        let short =
            serde_json::json!({"type": "Polygon", "coordinates": [[[10.0, 48.0], [10.1, 48.0]]]});
        assert!(polygon_ring(&short).is_err());
    }
}
