//! `hexcover coverage`: one site's predicted coverage → GeoParquet.

use anyhow::{Context, Result, bail};
use h3o::Resolution;
use hexcover_core::{EARTH_RADIUS_M, LatLon, Terrain};
use hexcover_propagation::{
    CoverageParams, MAX_RADIUS_M, PhysicsBaseline, RssiModel, site_coverage,
};
use hexcover_terrain::Dem;

use crate::args::CoverageArgs;
use crate::links_input::{Radio, open_dem};
use crate::progress::Bar;

/// Site antenna height where `--site` gives none, m (DESIGN.md default).
const DEFAULT_SITE_HEIGHT_AGL_M: f64 = 10.0;
/// Refuse runs that would enumerate more cells than this (a fine resolution
/// over a large radius is almost always a typo).
const MAX_CELLS: f64 = 20.0e6;

/// `lat,lon[,height_agl_m]`.
fn parse_site(text: &str) -> Result<(LatLon, f64)> {
    let bad = || {
        anyhow::anyhow!(
            "--site `{text}`: expected lat,lon[,height_agl_m] (WGS84 degrees, metres above ground)"
        )
    };
    let parts: Vec<&str> = text.split(',').map(str::trim).collect();
    if !(2..=3).contains(&parts.len()) {
        return Err(bad());
    }
    let number = |s: &str| s.parse::<f64>().ok().filter(|v| v.is_finite());
    let (Some(lat), Some(lon)) = (number(parts[0]), number(parts[1])) else {
        return Err(bad());
    };
    let height_agl_m = match parts.get(2) {
        Some(h) => number(h).ok_or_else(bad)?,
        None => DEFAULT_SITE_HEIGHT_AGL_M,
    };
    if lat.abs() > 90.0 || lon.abs() > 180.0 {
        bail!("--site `{text}`: latitude must be within ±90° and longitude within ±180°");
    }
    if !(0.0..=500.0).contains(&height_agl_m) {
        bail!("--site `{text}`: antenna height {height_agl_m} m: expected 0 to 500 m above ground");
    }
    Ok((LatLon::new(lat, lon), height_agl_m))
}

/// The DEM's finest pixel, north–south, in metres.
fn dem_pixel_m(dem: &Dem) -> Option<f64> {
    dem.rasters()
        .iter()
        .map(|r| r.geo_transform[5].abs().to_radians() * EARTH_RADIUS_M)
        .filter(|m| m.is_finite() && *m > 0.0)
        .reduce(f64::min)
}

pub fn run(args: &CoverageArgs) -> Result<()> {
    // Every flag checked before the DEM or the model is read.
    let (site, height_agl_m) = parse_site(&args.site)?;
    let radius_m = args.radius_km * 1000.0;
    if !(radius_m.is_finite() && radius_m > 0.0 && radius_m <= MAX_RADIUS_M) {
        bail!(
            "--radius-km = {}: expected a radius > 0 and at most {} km",
            args.radius_km,
            MAX_RADIUS_M / 1000.0
        );
    }
    let res = u8::try_from(args.res)
        .ok()
        .and_then(|r| Resolution::try_from(r).ok())
        .with_context(|| format!("--res = {}: expected an H3 resolution 0..=15", args.res))?;
    let cells = std::f64::consts::PI * radius_m * radius_m / res.area_m2();
    if cells > MAX_CELLS {
        bail!(
            "--res {} over --radius-km {} means about {:.0} million cells (at most {:.0} million): \
             choose a coarser resolution or a smaller radius",
            args.res,
            args.radius_km,
            cells / 1e6,
            MAX_CELLS / 1e6
        );
    }
    if !(args.freq_mhz.is_finite() && (30.0..=6_000.0).contains(&args.freq_mhz)) {
        bail!("--freq-mhz = {}: expected 30 to 6000 MHz", args.freq_mhz);
    }
    if !(args.device_height_m.is_finite() && (0.0..=500.0).contains(&args.device_height_m)) {
        bail!(
            "--device-height-m = {}: expected 0 to 500 m",
            args.device_height_m
        );
    }
    for (name, value) in [
        ("--gain-dbi", args.gain_dbi),
        ("--eirp-dbm", args.eirp_dbm),
        ("--threshold-dbm", args.threshold_dbm),
    ] {
        if !(value.is_finite() && value.abs() <= 300.0) {
            bail!("{name} = {value}: expected a finite number within ±300");
        }
    }
    if let Some(step) = args.step_m
        && !(step.is_finite() && (1.0..=1_000.0).contains(&step))
    {
        bail!("--step-m = {step}: expected 1 to 1000 m");
    }

    let learned = args
        .model
        .as_deref()
        .map(crate::links_input::load_model)
        .transpose()?;
    let dem = open_dem(&args.dem)?;
    if dem.elevation_m(site).is_none() {
        let e = dem.extent();
        bail!(
            "--site {}: no terrain there: the DEM {} covers {:.4}..{:.4}° N, {:.4}..{:.4}° E",
            args.site,
            args.dem.display(),
            e.south,
            e.north,
            e.west,
            e.east
        );
    }
    // Features depend a little on the sample spacing: a learned model gets
    // the step it was trained with, the physics baseline the DEM's pixel.
    let step_m = match (args.step_m, &learned) {
        (Some(step), _) => step,
        (None, Some(model)) => Radio::from_metadata(&model.metadata)
            .map_or(Radio::DEFAULT.profile_step_m, |r| r.profile_step_m),
        (None, None) => dem_pixel_m(&dem)
            .map_or(hexcover_propagation::DEFAULT_SAMPLE_STEP_M, |m| {
                (m * 10.0).round() / 10.0
            }),
    };
    let params = CoverageParams::new(site)
        .height_agl_m(height_agl_m)
        .gain_dbi(args.gain_dbi)
        .freq_mhz(args.freq_mhz)
        .device_eirp_dbm(args.eirp_dbm)
        .device_height_agl_m(args.device_height_m)
        .threshold_dbm(args.threshold_dbm)
        .radius_m(radius_m)
        .resolution(res)
        .sample_step_m(step_m);
    params.check()?;
    let baseline = PhysicsBaseline::default();
    let model: &dyn RssiModel = match &learned {
        Some(m) => m,
        None => {
            if !args.quiet {
                eprintln!(
                    "no --model: using the physics baseline (free space + Bullington diffraction, \
                     residual sigma {} dB; no clutter, so optimistic in towns)",
                    hexcover_propagation::PHYSICS_BASELINE_SIGMA_DB
                );
            }
            &baseline
        }
    };

    let bar = Bar::new(args.quiet);
    bar.stage("sweeping radials");
    let started = std::time::Instant::now();
    let coverage = site_coverage(&dem, &params, model)?;
    let elapsed = started.elapsed();
    bar.stage("writing");
    if let Some(parent) = args.out.parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let run = params.run_record(&model.name());
    hexcover_export::write_coverage_geoparquet(&args.out, &coverage.hexes, &run)?;
    bar.done();
    tracing::info!(
        radials = coverage.stats.radials,
        samples = coverage.stats.samples,
        predictions = coverage.stats.predictions,
        sweep_ms = elapsed.as_secs_f64() * 1e3,
        "coverage computed"
    );
    if !args.quiet {
        let heard = coverage.hexes.iter().filter(|h| h.p_covered >= 0.5).count();
        println!(
            "{} cells at res {} within {} km of {:.5},{:.5} (model: {}, step {step_m} m): \
             {heard} with p_covered >= 0.5 at {} dBm; {} cells without terrain left out; wrote {}",
            coverage.hexes.len(),
            u8::from(res),
            args.radius_km,
            site.lat,
            site.lon,
            run.model,
            args.threshold_dbm,
            coverage.stats.cells_without_terrain,
            args.out.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn sites_parse_or_say_why() {
        let (at, h) = parse_site("48.3985, 9.9918, 12").unwrap();
        assert_eq!((at.lat, at.lon, h), (48.3985, 9.9918, 12.0));
        let (_, h) = parse_site("-33.9,18.4").unwrap();
        assert_eq!(h, DEFAULT_SITE_HEIGHT_AGL_M);
        for bad in [
            "",
            "48.4",
            "48.4,x",
            "48.4,10,1,2",
            "95,10",
            "48,190",
            "48,10,-1",
            "48,10,nan",
        ] {
            let err = parse_site(bad).unwrap_err().to_string();
            assert!(err.starts_with("--site"), "{bad}: {err}");
            assert!(!err.contains('\n'));
        }
    }
}
