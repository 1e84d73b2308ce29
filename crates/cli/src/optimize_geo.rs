//! `hexcover optimize --study DIR --dem DIR`: placement on H3 demand with
//! the propagation model's per-site coverage.
//!
//! Demand is every cell (`--demand-res`, default 9) whose centre lies in the
//! convex hull of the study's device positions. Existing sites are the
//! study's receivers with a position. A cell's weight is, by default, the
//! probability that no existing receiver hears a device there
//! (`1 − P(covered)`): placing with these weights and no existing coverage is
//! the same problem as placing beside the existing sites with weight 1
//! (the two objectives differ by a constant), and it is what a planner means
//! by "unserved". Candidates are cell centres (`--candidate-res`, default 8)
//! in the same hull, or a CSV `id,lat,lon[,height_agl_m][,cost]`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use h3o::{CellIndex, LatLng, Resolution};
use hexcover_core::{LatLon, Terrain};
use hexcover_optimizer::{
    Bound, Constraints, DensityRules, HELIUM_MIN_SPACING_M, LocalProjection, OptimizeParams,
    Problem, SiteSpec, Solution, cells_in_hull, combined_probability, coverage_over_cells,
    optimize,
};
use hexcover_propagation::{
    CoverageParams, LearnedModel, PhysicsBaseline, RssiModel, site_coverage,
};
use rayon::prelude::*;

use crate::args::OptimizeArgs;
use crate::csv_table::CsvTable;
use crate::links_input::Radio;

/// A receiver location: existing or candidate.
#[derive(Debug, Clone)]
struct GeoSite {
    id: String,
    lat: f64,
    lon: f64,
    height_agl_m: f64,
    cost: f64,
}

/// Device positions (lat, lon) and the receivers that heard them.
type Study = (Vec<(f64, f64)>, Vec<GeoSite>);

/// The study's links: device positions and the receivers that heard them.
fn read_study(study: &Path, default_height_m: f64) -> Result<Study> {
    let links = &crate::export_cmd::read_study_links(study)?;
    let mut devices = Vec::with_capacity(links.len());
    let mut receivers: BTreeMap<String, GeoSite> = BTreeMap::new();
    for i in 0..links.len() {
        let link = links.get(i);
        // Links the source marks invalid (e.g. Helium witnesses breaking the
        // witness rules) or not heard outline no demand and make no receiver.
        if !link.valid || !link.heard {
            continue;
        }
        devices.push((link.tx_lat, link.tx_lon));
        // The id training keys receiver offsets by.
        let id = crate::links_input::receiver_id(&link);
        receivers.entry(id.clone()).or_insert(GeoSite {
            id,
            lat: link.rx_lat,
            lon: link.rx_lon,
            height_agl_m: link.rx_height_agl_m.unwrap_or(default_height_m),
            cost: 0.0,
        });
    }
    if devices.is_empty() {
        bail!(
            "{}: the study has no valid heard links",
            study.join("links.parquet").display()
        );
    }
    Ok((devices, receivers.into_values().collect()))
}

/// Candidates from `id,lat,lon[,height_agl_m][,cost]`; errors name file, line and field.
fn read_candidates(path: &Path, default_height_m: f64) -> Result<Vec<GeoSite>> {
    let mut table = CsvTable::open(path)?;
    let needs = "id,lat,lon[,height_agl_m][,cost] for geographic candidates";
    let (id_col, lat_col, lon_col) = (
        table.required("id", needs)?,
        table.required("lat", needs)?,
        table.required("lon", needs)?,
    );
    let (height_col, cost_col) = (table.column("height_agl_m"), table.column("cost"));
    let mut sites = Vec::new();
    for row in table.rows()? {
        let (lat, lon) = (row.number(lat_col, "lat")?, row.number(lon_col, "lon")?);
        if let Some(problem) = hexcover_core::lat_lon_problem(lat, lon) {
            return Err(row.error(&format!("lat/lon ({lat}, {lon}): {problem}")));
        }
        let height_agl_m = row.number_or(height_col, "height_agl_m", default_height_m)?;
        if height_agl_m <= 0.0 {
            return Err(row.error(&format!(
                "field `height_agl_m`: {height_agl_m} is not above ground"
            )));
        }
        sites.push(GeoSite {
            id: row.non_empty(id_col, "id")?,
            lat,
            lon,
            height_agl_m,
            cost: row.number_or(cost_col, "cost", 1.0)?,
        });
    }
    Ok(sites)
}

fn resolution(value: u8, flag: &str) -> Result<Resolution> {
    Resolution::try_from(value)
        .map_err(|_| anyhow::anyhow!("{flag}: {value} is not an H3 resolution (0..=15)"))
}

/// The RSSI model the coverage comes from.
enum Model {
    Learned(Box<LearnedModel>),
    Physics(PhysicsBaseline),
}

impl Model {
    fn load(path: Option<&Path>) -> Result<Self> {
        let Some(path) = path else {
            return Ok(Self::Physics(PhysicsBaseline::default()));
        };
        let model = crate::links_input::load_model(path)?;
        Ok(Self::Learned(Box::new(model)))
    }

    /// The radio assumptions coverage uses: a learned model's own (device
    /// height, frequency, profile step it was trained with), else DESIGN.md's
    /// defaults with 90 m steps (about one SRTM3 pixel).
    fn radio(&self) -> Radio {
        match self {
            Self::Learned(m) => Radio::from_metadata(&m.metadata).unwrap_or(Radio::DEFAULT),
            Self::Physics(_) => Radio {
                profile_step_m: hexcover_propagation::DEFAULT_SAMPLE_STEP_M,
                ..Radio::DEFAULT
            },
        }
    }

    fn name(&self) -> String {
        match self {
            Self::Learned(m) => m.name(),
            Self::Physics(m) => m.name(),
        }
    }

    /// The model for one site: a known receiver keeps its learned offset, a
    /// new site gets the population default.
    fn for_site<'a>(&'a self, receiver: Option<&str>) -> Box<dyn RssiModel + 'a> {
        match (self, receiver) {
            (Self::Learned(m), Some(id)) => Box::new(m.for_receiver(id)),
            (Self::Learned(m), None) => Box::new(m.as_ref()),
            (Self::Physics(m), _) => Box::new(*m),
        }
    }
}

/// Per site: its (cell, P(covered)) list at the demand resolution.
/// `existing` sites are known receivers (their learned offsets apply).
fn coverage_lists(
    sites: &[GeoSite],
    existing: bool,
    terrain: &dyn Terrain,
    model: &Model,
    args: &OptimizeArgs,
    res: Resolution,
) -> Result<Vec<Vec<(CellIndex, f32)>>> {
    sites
        .par_iter()
        .map(|site| {
            let model_for_site = model.for_site(existing.then_some(site.id.as_str()));
            let radio = model.radio();
            let params = CoverageParams::new(LatLon::new(site.lat, site.lon))
                .height_agl_m(site.height_agl_m)
                .device_height_agl_m(radio.device_height_m)
                .freq_mhz(radio.freq_mhz)
                .sample_step_m(radio.profile_step_m)
                .radius_m(args.coverage_radius_km * 1000.0)
                .resolution(res)
                .threshold_dbm(args.threshold_dbm);
            let coverage = site_coverage(terrain, &params, model_for_site.as_ref())
                .with_context(|| format!("coverage of site `{}`", site.id))?;
            #[allow(clippy::cast_possible_truncation)]
            Ok(coverage
                .hexes
                .iter()
                .filter(|h| h.p_covered > 0.0)
                .map(|h| (h.cell, h.p_covered as f32))
                .collect())
        })
        .collect()
}

pub fn run(args: &OptimizeArgs, study: &Path) -> Result<()> {
    let started = Instant::now();
    if args.demand.is_some() || args.radius_m.is_some() {
        bail!(
            "--demand and --radius-m are for planar problems; with --study the demand is the study's hull and coverage comes from the model"
        );
    }
    let Some(dem_path) = &args.dem else {
        bail!("--study needs --dem (the elevation model the coverage is computed on)");
    };
    if args.existing.is_some() {
        bail!(
            "--existing is for planar problems; with --study the existing sites are the study's receivers"
        );
    }
    if args.k.is_some() {
        bail!(
            "--k (k-coverage) is for planar problems for now: probabilistic coverage has no k-coverage rule here yet"
        );
    }
    if !(args.coverage_radius_km.is_finite()
        && args.coverage_radius_km > 0.0
        && args.coverage_radius_km <= 200.0)
    {
        bail!(
            "--coverage-radius-km = {}: expected more than 0 and at most 200 km",
            args.coverage_radius_km
        );
    }
    if !(args.threshold_dbm.is_finite() && (-200.0..=0.0).contains(&args.threshold_dbm)) {
        bail!(
            "--threshold-dbm = {}: expected -200 to 0 dBm",
            args.threshold_dbm
        );
    }
    if !(args.site_height_agl_m.is_finite()
        && args.site_height_agl_m > 0.0
        && args.site_height_agl_m <= 500.0)
    {
        bail!(
            "--site-height-agl-m = {}: expected more than 0 and at most 500 m",
            args.site_height_agl_m
        );
    }
    if let Some(m) = args.min_spacing_m
        && !(m.is_finite() && m >= 0.0)
    {
        bail!("--min-spacing-m = {m}: expected a distance ≥ 0 (0 turns the rule off)");
    }
    let demand_res = resolution(args.demand_res, "--demand-res")?;
    let unserved = match args.weighting.as_str() {
        "unserved" => true,
        "uniform" => false,
        other => bail!("--weighting: `{other}` is not one of unserved, uniform"),
    };
    let candidate_res = resolution(args.candidate_res, "--candidate-res")?;
    let terrain = crate::links_input::open_dem(dem_path)?;
    let (devices, existing) = read_study(study, args.site_height_agl_m)?;
    let model = Model::load(args.model.as_deref())?;

    let demand = cells_in_hull(&devices, demand_res)?;
    let candidates = match &args.candidates {
        Some(path) => read_candidates(path, args.site_height_agl_m)?,
        None => cells_in_hull(&devices, candidate_res)?
            .into_iter()
            .map(|cell| {
                let centre = LatLng::from(cell);
                GeoSite {
                    id: cell.to_string(),
                    lat: centre.lat(),
                    lon: centre.lng(),
                    height_agl_m: args.site_height_agl_m,
                    cost: 1.0,
                }
            })
            .collect(),
    };
    // Sites the DEM does not cover: a listed candidate is an error, a cell
    // centre or a receiver beyond the DEM's edge is left out and counted.
    let has_terrain = |s: &GeoSite| terrain.elevation_m(LatLon::new(s.lat, s.lon)).is_some();
    if let (Some(path), Some(site)) = (
        &args.candidates,
        candidates.iter().find(|s| !has_terrain(s)),
    ) {
        bail!(
            "{}: candidate `{}` at ({}, {}): no terrain there in {}",
            path.display(),
            site.id,
            site.lat,
            site.lon,
            dem_path.display()
        );
    }
    let (candidates, candidates_without_terrain): (Vec<GeoSite>, Vec<GeoSite>) =
        candidates.into_iter().partition(|s| has_terrain(s));
    let (existing, existing_without_terrain): (Vec<GeoSite>, Vec<GeoSite>) =
        existing.into_iter().partition(|s| has_terrain(s));
    if candidates.is_empty() {
        bail!("no candidate site lies on the DEM {}", dem_path.display());
    }
    let t_read = started.elapsed().as_secs_f64();
    if !args.quiet
        && let Model::Physics(_) = model
    {
        eprintln!(
            "no --model: coverage from the physics baseline (free space + Bullington, no clutter)"
        );
    }

    let existing_cover = coverage_lists(&existing, true, &terrain, &model, args, demand_res)?;
    let p_existing = combined_probability(&demand, &existing_cover);
    let weights: Vec<f64> = if unserved {
        p_existing.iter().map(|p| 1.0 - p).collect()
    } else {
        vec![1.0; demand.len()]
    };
    let candidate_cover = coverage_lists(&candidates, false, &terrain, &model, args, demand_res)?;
    let t_coverage = started.elapsed().as_secs_f64() - t_read;

    let all_points: Vec<(f64, f64)> = candidates
        .iter()
        .chain(&existing)
        .map(|s| (s.lat, s.lon))
        .collect();
    let projection = LocalProjection::around(&all_points).context("no sites")?;
    let spec = |site: &GeoSite, existing: bool| {
        let (x, y) = projection.to_xy_m(site.lat, site.lon);
        let mut spec = if existing {
            SiteSpec::existing(site.id.clone(), x, y)
        } else {
            SiteSpec::candidate(site.id.clone(), x, y)
        };
        if !existing {
            spec.cost = site.cost;
        }
        spec.cell = LatLng::new(site.lat, site.lon)
            .ok()
            .map(|at| at.to_cell(Resolution::Twelve));
        spec
    };
    let mut sites: Vec<SiteSpec> = candidates.iter().map(|s| spec(s, false)).collect();
    sites.extend(existing.iter().map(|s| spec(s, true)));
    for id in &args.lock {
        let Some(site) = sites.iter_mut().find(|s| &s.id == id && !s.locked) else {
            bail!("--lock: `{id}` is not a candidate id");
        };
        site.locked = true;
        site.cost = 0.0;
    }
    // Unserved weights already hold the existing coverage (see the module
    // docs); with uniform weights the existing sites cover as they are.
    let mut site_cover = candidate_cover;
    if unserved {
        site_cover.extend(existing.iter().map(|_| Vec::new()));
    } else {
        site_cover.extend(existing_cover);
    }
    let coverage = coverage_over_cells(&demand, &site_cover)?;
    let problem = Problem::new(
        demand.iter().map(ToString::to_string).collect(),
        weights,
        sites,
        coverage,
    )?;
    let constraints = Constraints {
        budget: args.budget,
        min_spacing_m: Some(args.min_spacing_m.unwrap_or(HELIUM_MIN_SPACING_M))
            .filter(|&m| m > 0.0),
        max_distance_to_existing_m: args.max_distance_m,
        density: args.hex_density.then(DensityRules::default),
        ..Constraints::default()
    };
    let params = OptimizeParams::new(args.sites)
        .objective(crate::optimize_cmd::objective(args))
        .constraints(constraints)
        .seed(args.seed)
        .anneal_iterations(args.anneal_iterations)
        .bound_iterations(args.bound_iterations);
    let solution = optimize(&problem, &params)?;

    write_selection(&args.out, &problem, &solution, &candidates)?;
    let summary_path = args.out.with_extension("summary.json");
    let covered_before: f64 = p_existing.iter().sum();
    let summary = serde_json::json!({
        "mode": "geographic",
        "study": study.display().to_string(),
        "dem": dem_path.display().to_string(),
        "model": model.name(),
        "demand_res": args.demand_res,
        "n_demand_cells": demand.len(),
        "existing_sites": existing.iter().map(|s| &s.id).collect::<Vec<_>>(),
        "expected_cells_covered_by_existing": covered_before,
        "weighting": args.weighting,
        "n_candidates": candidates.len(),
        "candidates_without_terrain": candidates_without_terrain.len(),
        "existing_without_terrain": existing_without_terrain.iter().map(|s| &s.id).collect::<Vec<_>>(),
        "locked": problem.sites().iter().filter(|s| s.locked && args.lock.contains(&s.id)).map(|s| &s.id).collect::<Vec<_>>(),
        "coverage_radius_km": args.coverage_radius_km,
        "threshold_dbm": args.threshold_dbm,
        "site_height_agl_m": args.site_height_agl_m,
        "sites_requested": args.sites,
        "sites_chosen": solution.sites.iter().map(|s| &problem.sites()[s.site].id).collect::<Vec<_>>(),
        "sites": crate::optimize_cmd::sites_json(&problem, &solution),
        "objective": solution.objective,
        "greedy_objective": solution.greedy_objective,
        "bound": crate::optimize_cmd::bound_json(&solution.bound),
        "shortfall": solution.shortfall,
        "seed": args.seed,
        "timings_s": {
            "read": t_read,
            "coverage": t_coverage,
            "greedy": solution.timings.greedy_s,
            "local_search": solution.timings.local_search_s,
            "anneal": solution.timings.anneal_s,
            "bound": solution.timings.bound_s,
            "total": started.elapsed().as_secs_f64(),
        },
    });
    crate::optimize_cmd::write_json(&summary_path, &summary)?;
    if !args.quiet {
        eprintln!(
            "{} demand cells at res {} (existing sites cover {:.1} of them in expectation); {} candidates",
            demand.len(),
            args.demand_res,
            covered_before,
            candidates.len()
        );
        eprintln!(
            "{} sites chosen; they add {:.2} expected cells{}",
            solution.sites.len(),
            solution.objective - solution.base_objective,
            match &solution.bound {
                Bound::Proven { upper, gap, .. } =>
                    format!("; upper bound {upper:.2}, gap {:.2} %", gap * 100.0),
                Bound::None { reason } => format!("; no proven bound ({reason})"),
            }
        );
        if let Some(shortfall) = &solution.shortfall {
            eprintln!("fewer sites than asked: {shortfall}");
        }
        eprintln!(
            "wrote {} and {}",
            args.out.display(),
            summary_path.display()
        );
    }
    Ok(())
}

fn write_selection(
    path: &Path,
    problem: &Problem,
    solution: &Solution,
    candidates: &[GeoSite],
) -> Result<()> {
    let header = [
        "id",
        "rank",
        "lat",
        "lon",
        "height_agl_m",
        "marginal_gain",
        "removal_loss",
        "demand_added",
        "reward_scale",
        "bound_by",
    ];
    let rows = solution.sites.iter().map(|site| {
        // Candidates come first in the problem, so the index is shared.
        let geo = &candidates[site.site];
        vec![
            problem.sites()[site.site].id.clone(),
            site.rank.to_string(),
            format!("{:.6}", geo.lat),
            format!("{:.6}", geo.lon),
            geo.height_agl_m.to_string(),
            format!("{:.6}", site.marginal_gain),
            format!("{:.6}", site.removal_loss),
            site.demand_added.len().to_string(),
            format!("{:.4}", site.reward_scale),
            crate::optimize_cmd::bound_by(site),
        ]
    });
    crate::optimize_cmd::write_csv(path, &header, rows)
}
