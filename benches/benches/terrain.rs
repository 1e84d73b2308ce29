//! Terrain look-ups on the real SRTM3 tiles around Ulm
//! (`../shared/data/srtm3-ulm`, or `$HEXCOVER_SHARED/data/srtm3-ulm`), each
//! beside its baseline in one group:
//! - `terrain_elevation`: 10,000 bilinear elevations anywhere in the tiles from
//!   the warm DEM cache beside a GDAL `RasterIO` of the 2×2 neighbourhood per
//!   point on datasets kept open (GDAL's block cache, no file reopen);
//!   `terrain_elevation_1km2` the same within about 1 km² (cache-resident);
//! - `terrain_profile_20km`: 100 profiles of 20 km at 90 m steps (224 samples
//!   each) with `Dem::profile` (lat/lon interpolation between 5 km
//!   great-circle knots, window hint) beside core's default `Terrain::profile`
//!   (great-circle interpolation of every sample) over the same DEM;
//! - `terrain_load`: opening the folder and reading both tiles (voids filled).

// A benchmark whose input fails is broken: panicking with the reason is right here.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use hexcover_core::{LatLon, Terrain};
use hexcover_terrain::Dem;

fn srtm_dir() -> PathBuf {
    std::env::var_os("HEXCOVER_SHARED")
        .map_or_else(
            || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
            PathBuf::from,
        )
        .join("data/srtm3-ulm")
}

/// Deterministic pseudo-random numbers in 0..1 (xorshift).
fn uniform(seed: u64) -> impl FnMut() -> f64 {
    let mut state = seed;
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Points anywhere in the two tiles: memory-bound (11.5 MB of samples).
fn random_points(n: usize) -> Vec<LatLon> {
    let mut next = uniform(0x5eed);
    (0..n)
        .map(|_| LatLon::new(48.0 + next(), 9.0 + 2.0 * next()))
        .collect()
}

/// Points in about 1 km² around the Minster: the samples stay in cache.
fn local_points(n: usize) -> Vec<LatLon> {
    let mut next = uniform(0x10ca1);
    (0..n)
        .map(|_| LatLon::new(48.394 + 0.009 * next(), 9.986 + 0.0135 * next()))
        .collect()
}

/// 20 km paths from random starts in random directions, all inside the tiles.
fn random_paths(n: usize) -> Vec<(LatLon, LatLon)> {
    let mut next = uniform(0xfeed);
    let length_deg = 20_000.0 / 111_195.0;
    (0..n)
        .map(|_| {
            let from = LatLon::new(48.2 + 0.6 * next(), 9.3 + 1.4 * next());
            let azimuth = std::f64::consts::TAU * next();
            let to = LatLon::new(
                from.lat + length_deg * azimuth.cos(),
                from.lon + length_deg * azimuth.sin() / from.lat.to_radians().cos(),
            );
            (from, to)
        })
        .collect()
}

/// The baseline: bilinear from a 2×2 `RasterIO` per point on open datasets.
struct GdalPerPoint {
    tiles: Vec<(f64, gdal::Dataset)>,
}

impl GdalPerPoint {
    fn open(dir: &Path) -> Self {
        let tiles = [(9.0, "N48E009.hgt"), (10.0, "N48E010.hgt")]
            .into_iter()
            .map(|(west, name)| {
                (
                    west,
                    gdal::Dataset::open(dir.join(name)).expect("open tile"),
                )
            })
            .collect();
        Self { tiles }
    }

    fn elevation_m(&self, at: LatLon) -> f64 {
        let (west, dataset) = self
            .tiles
            .iter()
            .find(|(west, _)| at.lon >= *west && at.lon < west + 1.0)
            .expect("point inside the tiles");
        let col = (at.lon - west) * 1200.0;
        let row = (49.0 - at.lat) * 1200.0;
        let (c0, r0) = (col.floor().min(1199.0), row.floor().min(1199.0));
        let (fx, fy) = (col - c0, row - r0);
        let band = dataset.rasterband(1).expect("band");
        let buffer = band
            .read_as::<f32>((c0 as isize, r0 as isize), (2, 2), (2, 2), None)
            .expect("read 2×2");
        let v = buffer.data();
        f64::from(v[0]) * (1.0 - fx) * (1.0 - fy)
            + f64::from(v[1]) * fx * (1.0 - fy)
            + f64::from(v[2]) * (1.0 - fx) * fy
            + f64::from(v[3]) * fx * fy
    }
}

/// The DEM seen only through `elevation_m`: core's default great-circle profile.
struct GreatCircleDefault<'a>(&'a Dem);

impl Terrain for GreatCircleDefault<'_> {
    fn elevation_m(&self, at: LatLon) -> Option<f64> {
        self.0.elevation_m(at)
    }
}

fn elevation_group(
    c: &mut Criterion,
    name: &str,
    points: &[LatLon],
    dem: &Dem,
    gdal: &GdalPerPoint,
) {
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(points.len() as u64));
    group.bench_function(BenchmarkId::new("hexcover-dem", points.len()), |b| {
        b.iter(|| {
            points
                .iter()
                .map(|&p| dem.elevation_m(black_box(p)).unwrap_or(0.0))
                .sum::<f64>()
        });
    });
    group.bench_function(BenchmarkId::new("gdal-rasterio-2x2", points.len()), |b| {
        b.iter(|| {
            points
                .iter()
                .map(|&p| gdal.elevation_m(black_box(p)))
                .sum::<f64>()
        });
    });
    group.finish();
}

fn terrain(c: &mut Criterion) {
    let dir = srtm_dir();
    if !dir.join("N48E009.hgt").exists() {
        eprintln!(
            "skipping terrain benches: no SRTM tiles in {}",
            dir.display()
        );
        return;
    }
    let dem = Dem::open(&dir).expect("open the Ulm tiles");
    dem.load_all().expect("read the Ulm tiles");

    let gdal = GdalPerPoint::open(&dir);
    for (name, points) in [
        ("terrain_elevation", random_points(10_000)),
        ("terrain_elevation_1km2", local_points(10_000)),
    ] {
        elevation_group(c, name, &points, &dem, &gdal);
    }
    let paths = random_paths(100);
    let samples: usize = paths
        .iter()
        .map(|&(a, b)| dem.profile(a, b, 90.0).expect("inside").elevation_m.len())
        .sum();
    let reference = GreatCircleDefault(&dem);
    let mut group = c.benchmark_group("terrain_profile_20km");
    group.throughput(Throughput::Elements(samples as u64));
    group.bench_function(BenchmarkId::new("hexcover-dem", paths.len()), |b| {
        b.iter(|| {
            paths
                .iter()
                .map(|&(a, to)| {
                    dem.profile(black_box(a), to, 90.0)
                        .map_or(0, |p| p.filled_voids)
                })
                .sum::<usize>()
        });
    });
    group.bench_function(
        BenchmarkId::new("core-great-circle-default", paths.len()),
        |b| {
            b.iter(|| {
                paths
                    .iter()
                    .map(|&(a, to)| {
                        reference
                            .profile(black_box(a), to, 90.0)
                            .map_or(0, |p| p.distance_m.len())
                    })
                    .sum::<usize>()
            });
        },
    );
    group.finish();

    let mut group = c.benchmark_group("terrain_load");
    group.sample_size(10);
    group.bench_function("hexcover-dem-two-srtm3-tiles", |b| {
        b.iter(|| {
            let dem = Dem::open(&dir).expect("open");
            dem.load_all().expect("load");
            dem.void_stats()
        });
    });
    group.finish();
}

criterion_group!(benches, terrain);
criterion_main!(benches);
