//! Per-site coverage, 20 km radius, H3 res 10, one core (a one-thread rayon
//! pool: the sweep's sectors would otherwise run in parallel), on the real SRTM3
//! tiles around Ulm (`../shared/data/srtm3-ulm`, or
//! `$HEXCOVER_SHARED/data/srtm3-ulm`) at real Ulm gateway sites
//! (`ulm-ttn-2021/gateways.csv`; antenna 10 m AGL, the DESIGN.md default, as
//! the list has no heights), beside SPLAT! in the same group:
//! - `hexcover-physics/warm-dem`: `site_coverage` with the physics baseline,
//!   the DEM already read (the batch case: one DEM, many sites);
//! - `hexcover-physics/cold-dem`: the same plus opening the folder and
//!   reading both tiles, as one process per site would;
//! - `splat-itwom`: one `splat -t site.qth -L 1.5 -R 20 -metric` process per
//!   site (SPLAT! 1.4.2, ITWOM, the receiver 1.5 m AGL, 20 km) over the same
//!   tiles converted with `srtm2sdf`, timed as wall clock per run. SPLAT!
//!   always reads its SDF tiles and writes a map image; `splat-fixed-cost`
//!   runs it with `-R 0.5` at the first site to show how much of a run that is.
//!
//! - `hexcover-learned/warm-dem`: with the learned model of
//!   `$HEXCOVER_BENCH_MODEL` (a `hexcover train` output; `benches/run.sh`
//!   trains one on Ulm), at the profile step it was trained with.
//!
//! SPLAT! runs only when `splat` and `srtm2sdf` are on the PATH (Debian
//! package `splat`; `make bench` installs it).

// A benchmark whose input fails is broken: panicking with the reason is right here.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, SamplingMode, criterion_group, criterion_main};
use hexcover_core::LatLon;
use hexcover_propagation::{CoverageParams, LearnedModel, PhysicsBaseline, site_coverage};
use hexcover_terrain::Dem;

/// The gateways benchmarked: three sites with different horizons (city
/// centre, the Eselsberg hill, a high-rise in Böfingen).
const SITES: [(&str, &str); 3] = [
    ("minster", "eui-0000024b080e0d75"),
    ("uni-eselsberg", "eui-0000024b0b0301e0"),
    ("boefingen", "eui-647fdafffe00a739"),
];
const RADIUS_KM: f64 = 20.0;
const SITE_HEIGHT_AGL_M: f64 = 10.0;
const DEVICE_HEIGHT_AGL_M: f64 = 1.5;

fn shared_dir() -> PathBuf {
    std::env::var_os("HEXCOVER_SHARED").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
        PathBuf::from,
    )
}

/// (name, position) of the benchmarked gateways, from the real gateway list.
fn sites(shared: &Path) -> Vec<(&'static str, LatLon)> {
    SITES
        .iter()
        .map(|&(name, id)| {
            let (lat, lon) = hexcover_benches::ulm_gateway_position(shared, id);
            (name, LatLon::new(lat, lon))
        })
        .collect()
}

fn params(site: LatLon) -> CoverageParams {
    CoverageParams::new(site)
        .height_agl_m(SITE_HEIGHT_AGL_M)
        .device_height_agl_m(DEVICE_HEIGHT_AGL_M)
        .radius_m(RADIUS_KM * 1000.0)
}

/// SPLAT!'s working folder: the tiles as SDF files and one .qth/.lrp per site.
struct Splat {
    dir: tempfile::TempDir,
}

impl Splat {
    fn prepare(srtm: &Path, sites: &[(&str, LatLon)]) -> Option<Self> {
        let found = |tool: &str| {
            Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .output()
                .is_ok_and(|o| o.status.success())
        };
        if !found("splat") || !found("srtm2sdf") {
            eprintln!("skipping SPLAT!: splat/srtm2sdf not on PATH (apt-get install splat)");
            return None;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        for tile in ["N48E009.hgt", "N48E010.hgt"] {
            std::fs::copy(srtm.join(tile), dir.path().join(tile)).expect("copy tile");
            let status = Command::new("srtm2sdf")
                .arg(tile)
                .current_dir(dir.path())
                .stdout(std::process::Stdio::null())
                .status()
                .expect("run srtm2sdf");
            assert!(status.success(), "srtm2sdf {tile} failed");
        }
        for &(name, at) in sites {
            // SPLAT! takes longitudes in degrees west.
            std::fs::write(
                dir.path().join(format!("{name}.qth")),
                format!("{name}\n{}\n{}\n{SITE_HEIGHT_AGL_M}\n", at.lat, -at.lon),
            )
            .expect("write .qth");
            // ITM/ITWOM parameters: average ground, continental temperate,
            // vertical polarisation, 50 % of locations and time, EU868.
            std::fs::write(
                dir.path().join(format!("{name}.lrp")),
                "15.000 ; Earth dielectric constant\n0.005 ; Earth conductivity, S/m\n\
                 301.000 ; Atmospheric bending constant, N-units\n868.300 ; Frequency, MHz\n\
                 5 ; Radio climate: continental temperate\n1 ; Polarisation: vertical\n\
                 0.50 ; Fraction of situations\n0.50 ; Fraction of time\n",
            )
            .expect("write .lrp");
        }
        Some(Self { dir })
    }

    /// One SPLAT! path-loss run for `site` out to `radius_km`: its wall time.
    fn run(&self, site: &str, radius_km: f64) -> Duration {
        let started = Instant::now();
        let output = Command::new("splat")
            .args(["-t", &format!("{site}.qth")])
            .args(["-L", &DEVICE_HEIGHT_AGL_M.to_string()])
            .args(["-R", &radius_km.to_string()])
            .args(["-metric", "-N"])
            .args(["-o", &format!("{site}-map.ppm")])
            .arg("-d")
            .arg(self.dir.path())
            .current_dir(self.dir.path())
            .output()
            .expect("run splat");
        let elapsed = started.elapsed();
        assert!(
            output.status.success(),
            "splat failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        elapsed
    }
}

fn coverage(c: &mut Criterion) {
    // `site_coverage` sweeps the sectors of its radial tree in parallel; the
    // figures here are per site on one core, so the pool gets one thread.
    // (Fails only if a pool was built before, which nothing here does.)
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build_global();
    let shared = shared_dir();
    let srtm = shared.join("data/srtm3-ulm");
    if !srtm.join("N48E009.hgt").exists() {
        eprintln!(
            "skipping coverage benches: no SRTM tiles in {}",
            srtm.display()
        );
        return;
    }
    let sites = sites(&shared);
    let dem = Dem::open(&srtm).expect("open the Ulm tiles");
    dem.load_all().expect("read the Ulm tiles");
    let model = PhysicsBaseline::default();
    for &(name, at) in &sites {
        let started = Instant::now();
        let cov = site_coverage(&dem, &params(at), &model).expect("coverage");
        let covered = cov.hexes.iter().filter(|h| h.p_covered >= 0.5).count();
        eprintln!(
            "{name}: {} cells ({} with p_covered ≥ 0.5), {} radials, {} samples, {} predictions, \
             {} without terrain; one run {:.1} ms",
            cov.hexes.len(),
            covered,
            cov.stats.radials,
            cov.stats.samples,
            cov.stats.predictions,
            cov.stats.cells_without_terrain,
            started.elapsed().as_secs_f64() * 1e3
        );
    }
    // The learned model, if one is given, with the step it was trained at.
    let learned: Option<(LearnedModel, f64)> =
        std::env::var_os("HEXCOVER_BENCH_MODEL").map(|path| {
            let text = std::fs::read_to_string(&path).expect("read the model");
            let model: LearnedModel = serde_json::from_str(&text).expect("parse the model");
            model.check().expect("a valid model");
            let step_m = model
                .metadata
                .get("profile_step_m")
                .and_then(|s| s.parse().ok())
                .expect("the model records its profile step");
            (model, step_m)
        });
    if let Some((model, step_m)) = &learned {
        let (name, at) = sites[0];
        let started = Instant::now();
        let cov = site_coverage(&dem, &params(at).sample_step_m(*step_m), model).expect("coverage");
        eprintln!(
            "{name}, learned model at {step_m} m steps: {} cells, {} samples, {} predictions; \
             one run {:.1} ms",
            cov.hexes.len(),
            cov.stats.samples,
            cov.stats.predictions,
            started.elapsed().as_secs_f64() * 1e3
        );
    }
    let splat = if std::env::var_os("HEXCOVER_BENCH_NO_SPLAT").is_some() {
        None
    } else {
        Splat::prepare(&srtm, &sites)
    };

    let mut group = c.benchmark_group("coverage_site_20km_res10");
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(4));
    for &(name, at) in &sites {
        let p = params(at);
        group.bench_function(BenchmarkId::new("hexcover-physics/warm-dem", name), |b| {
            b.iter(|| {
                site_coverage(&dem, black_box(&p), &model)
                    .expect("coverage")
                    .hexes
                    .len()
            });
        });
        group.bench_function(BenchmarkId::new("hexcover-physics/cold-dem", name), |b| {
            b.iter(|| {
                let dem = Dem::open(&srtm).expect("open");
                dem.load_all().expect("load");
                site_coverage(&dem, black_box(&p), &model)
                    .expect("coverage")
                    .hexes
                    .len()
            });
        });
        if let Some((model, step_m)) = &learned {
            let p = p.sample_step_m(*step_m);
            group.bench_function(BenchmarkId::new("hexcover-learned/warm-dem", name), |b| {
                b.iter(|| {
                    site_coverage(&dem, black_box(&p), model)
                        .expect("coverage")
                        .hexes
                        .len()
                });
            });
        }
        if let Some(splat) = &splat {
            group.bench_function(BenchmarkId::new("splat-itwom", name), |b| {
                b.iter_custom(|iters| (0..iters).map(|_| splat.run(name, RADIUS_KM)).sum());
            });
        }
    }
    if let Some(splat) = &splat {
        let name = sites[0].0;
        group.bench_function(BenchmarkId::new("splat-fixed-cost-0.5km", name), |b| {
            b.iter_custom(|iters| (0..iters).map(|_| splat.run(name, 0.5)).sum());
        });
    }
    group.finish();
}

criterion_group!(benches, coverage);
criterion_main!(benches);
