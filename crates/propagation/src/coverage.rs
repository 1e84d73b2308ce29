//! Per-site coverage: every H3 cell within a radius of a site (a receiver),
//! with the RSSI a device there would be heard with, its 80 % interval and
//! the probability that it reaches the threshold.
//!
//! # The radial sweep
//!
//! Computing a terrain profile per cell would cost cells × profile length.
//! Instead the terrain is read once along radials from the site, at a fixed
//! step (about the DEM's resolution), and a [`FeatureSweep`] walks each
//! radial outward: every sample costs amortized O(1) to add and O(log n) to
//! describe. Each cell takes the features of the radial sample nearest its
//! centre (nearest radial by bearing, nearest sample by distance), so the
//! work grows with the number of cells, not cells × profile length.
//!
//! Radials must be close enough at the rim that neighbouring rim cells get
//! different samples, but near the site that many radials would read the
//! same pixels over and over. So the radials form a **binary tree**: `n₀`
//! radials leave the site, and wherever the spacing between neighbouring
//! radials would exceed [`CoverageParams::max_radial_spacing_m`] a new radial
//! starts half-way between each pair. A new radial inherits the sweep state
//! (the terrain seen so far) of its neighbour on the lower-bearing side and
//! reads its own terrain from there on. The inherited part lies at most
//! half a spacing sideways of the new radial's true line (less than one
//! SRTM3 pixel for the default spacing), and only before the branch point.
//! This reads about half the samples that full-length radials at the rim's
//! density would.
//!
//! Predictions are asked for a few hundred samples at a time
//! ([`RssiModel::predict_many`], on the model [`RssiModel::prepared`] once
//! per run): the learned model tests each tree's splits on many paths at once.
//!
//! The cell holding the site takes the first sample's features (one step
//! out): distance 0 has no path. Cells whose radial leaves the terrain (the
//! DEM ends) are left out and counted in [`CoverageStats::cells_without_terrain`].

use std::collections::HashMap;
use std::f64::consts::TAU;

use h3o::{CellIndex, LatLng, Resolution};
use hexcover_core::{CoverageRun, EARTH_RADIUS_M, HexCoverage, LatLon, STANDARD_K_FACTOR, Terrain};
use rayon::prelude::*;

use crate::error::{Error, Result, check_k_factor};
use crate::features::{DistanceTerms, FeatureSweep, PathFeatures, SweepSite};
use crate::local_grid::{self, Direction};
use crate::rssi_model::{LinkBudget, RssiModel, RssiPrediction};

/// Default receiver antenna height above ground, m (DESIGN.md radio defaults).
pub const DEFAULT_SITE_HEIGHT_AGL_M: f64 = 10.0;
/// Default receiver antenna gain, dBi.
pub const DEFAULT_SITE_GAIN_DBI: f64 = 3.0;
/// Default carrier frequency, MHz (EU868).
pub const DEFAULT_FREQ_MHZ: f64 = 868.3;
/// Default device EIRP, dBm (EU868: 14 dBm ERP, the legal limit).
pub const DEFAULT_DEVICE_EIRP_DBM: f64 = 16.0;
/// Default device antenna height above ground, m.
pub const DEFAULT_DEVICE_HEIGHT_AGL_M: f64 = 1.5;
/// Default coverage threshold, dBm (between SF9 −129 and SF10 −132 at 125 kHz).
pub const DEFAULT_THRESHOLD_DBM: f64 = -130.0;
/// Default radius, m.
pub const DEFAULT_RADIUS_M: f64 = 20_000.0;
/// Default H3 resolution (≈ 0.015 km² cells).
pub const DEFAULT_COVERAGE_RESOLUTION: Resolution = Resolution::Ten;
/// Default step between samples along a radial, m: about one SRTM3 pixel
/// (3″ = 92.6 m north–south).
pub const DEFAULT_SAMPLE_STEP_M: f64 = 90.0;
/// Default largest spacing between neighbouring radials, as a fraction of
/// the distance between neighbouring cell centres at the chosen resolution.
pub const DEFAULT_RADIAL_SPACING_RATIO: f64 = 0.75;
/// Cells whose sample and approximate bearing the set-up takes at once.
const SETUP_CHUNK: usize = 256;
/// The largest radius accepted, m (the haversine geometry and the sweep are
/// fine further out; this bounds the work a typo can ask for).
pub const MAX_RADIUS_M: f64 = 200_000.0;

/// What a per-site coverage run needs: the site (receiver), the device
/// assumptions, the threshold, the area and the sweep's resolution.
///
/// Defaults are DESIGN.md's radio defaults; [`CoverageParams::check`]
/// validates everything before any work starts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CoverageParams {
    site: LatLon,
    height_agl_m: f64,
    gain_dbi: f64,
    freq_mhz: f64,
    device_eirp_dbm: f64,
    device_height_agl_m: f64,
    threshold_dbm: f64,
    radius_m: f64,
    resolution: Resolution,
    sample_step_m: f64,
    max_radial_spacing_m: Option<f64>,
    k_factor: f64,
}

impl CoverageParams {
    /// A site at `site` with the default antenna (10 m, 3 dBi), EU868, the
    /// default device (16 dBm EIRP, 1.5 m), threshold −130 dBm, 20 km at
    /// res 10, 90 m steps, k = 4/3.
    #[must_use]
    pub const fn new(site: LatLon) -> Self {
        Self {
            site,
            height_agl_m: DEFAULT_SITE_HEIGHT_AGL_M,
            gain_dbi: DEFAULT_SITE_GAIN_DBI,
            freq_mhz: DEFAULT_FREQ_MHZ,
            device_eirp_dbm: DEFAULT_DEVICE_EIRP_DBM,
            device_height_agl_m: DEFAULT_DEVICE_HEIGHT_AGL_M,
            threshold_dbm: DEFAULT_THRESHOLD_DBM,
            radius_m: DEFAULT_RADIUS_M,
            resolution: DEFAULT_COVERAGE_RESOLUTION,
            sample_step_m: DEFAULT_SAMPLE_STEP_M,
            max_radial_spacing_m: None,
            k_factor: STANDARD_K_FACTOR,
        }
    }

    /// Sets the receiver antenna height above ground, m.
    #[must_use]
    pub const fn height_agl_m(mut self, value: f64) -> Self {
        self.height_agl_m = value;
        self
    }

    /// Sets the receiver antenna gain, dBi.
    #[must_use]
    pub const fn gain_dbi(mut self, value: f64) -> Self {
        self.gain_dbi = value;
        self
    }

    /// Sets the carrier frequency, MHz.
    #[must_use]
    pub const fn freq_mhz(mut self, value: f64) -> Self {
        self.freq_mhz = value;
        self
    }

    /// Sets the device EIRP, dBm.
    #[must_use]
    pub const fn device_eirp_dbm(mut self, value: f64) -> Self {
        self.device_eirp_dbm = value;
        self
    }

    /// Sets the device antenna height above ground, m.
    #[must_use]
    pub const fn device_height_agl_m(mut self, value: f64) -> Self {
        self.device_height_agl_m = value;
        self
    }

    /// Sets the threshold (sensitivity) a device must reach to count as heard, dBm.
    #[must_use]
    pub const fn threshold_dbm(mut self, value: f64) -> Self {
        self.threshold_dbm = value;
        self
    }

    /// Sets the radius: cells whose centre is at most this far from the site, m.
    #[must_use]
    pub const fn radius_m(mut self, value: f64) -> Self {
        self.radius_m = value;
        self
    }

    /// Sets the H3 resolution of the cells.
    #[must_use]
    pub const fn resolution(mut self, value: Resolution) -> Self {
        self.resolution = value;
        self
    }

    /// Sets the step between terrain samples along a radial, m (about the
    /// DEM's pixel size; a learned model should get the step it was trained
    /// with).
    #[must_use]
    pub const fn sample_step_m(mut self, value: f64) -> Self {
        self.sample_step_m = value;
        self
    }

    /// Sets the largest spacing between neighbouring radials, m (default:
    /// [`DEFAULT_RADIAL_SPACING_RATIO`] × the cell-centre spacing).
    #[must_use]
    pub const fn max_radial_spacing_m(mut self, value: f64) -> Self {
        self.max_radial_spacing_m = Some(value);
        self
    }

    /// Sets the effective-earth-radius factor (4/3 by default).
    #[must_use]
    pub const fn k_factor(mut self, value: f64) -> Self {
        self.k_factor = value;
        self
    }

    /// The site.
    #[must_use]
    pub const fn site(&self) -> LatLon {
        self.site
    }

    /// The radius, m.
    #[must_use]
    pub const fn radius(&self) -> f64 {
        self.radius_m
    }

    /// The H3 resolution.
    #[must_use]
    pub const fn res(&self) -> Resolution {
        self.resolution
    }

    /// The threshold, dBm.
    #[must_use]
    pub const fn threshold(&self) -> f64 {
        self.threshold_dbm
    }

    /// The link budget of the run (device EIRP, receiver gain).
    #[must_use]
    pub const fn link_budget(&self) -> LinkBudget {
        LinkBudget {
            device_eirp_dbm: self.device_eirp_dbm,
            rx_gain_dbi: self.gain_dbi,
        }
    }

    /// The record of this run for output files, naming `model`.
    #[must_use]
    pub fn run_record(&self, model: &str) -> CoverageRun {
        CoverageRun {
            site_lat: self.site.lat,
            site_lon: self.site.lon,
            site_height_agl_m: self.height_agl_m,
            site_gain_dbi: self.gain_dbi,
            freq_mhz: self.freq_mhz,
            device_eirp_dbm: self.device_eirp_dbm,
            device_height_agl_m: self.device_height_agl_m,
            threshold_dbm: self.threshold_dbm,
            radius_m: self.radius_m,
            resolution: u8::from(self.resolution),
            model: model.to_owned(),
        }
    }

    /// Checks every value.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a site that is not a WGS84 position, an
    /// antenna height that is not a finite number ≥ 0, a frequency, radius
    /// or step that is not a finite number > 0 (radius at most
    /// [`MAX_RADIUS_M`]), a non-finite gain, EIRP or threshold;
    /// [`Error::InvalidParameter`] for a radial spacing that is not > 0 or a
    /// k-factor that is not > 0.
    pub fn check(&self) -> Result<()> {
        let input = |name: &'static str, value: f64, ok: bool, expected: &'static str| {
            if ok {
                Ok(())
            } else {
                Err(Error::InvalidInput {
                    name,
                    value,
                    expected,
                })
            }
        };
        let (lat, lon) = (self.site.lat, self.site.lon);
        input(
            "site latitude",
            lat,
            lat.is_finite() && lat.abs() <= 90.0,
            "a latitude within ±90°",
        )?;
        input(
            "site longitude",
            lon,
            lon.is_finite() && lon.abs() <= 180.0,
            "a longitude within ±180°",
        )?;
        for (name, value) in [
            ("height_agl_m", self.height_agl_m),
            ("device_height_agl_m", self.device_height_agl_m),
        ] {
            input(
                name,
                value,
                value.is_finite() && value >= 0.0,
                "a finite number ≥ 0",
            )?;
        }
        for (name, value) in [
            ("freq_mhz", self.freq_mhz),
            ("sample_step_m", self.sample_step_m),
        ] {
            input(
                name,
                value,
                value.is_finite() && value > 0.0,
                "a finite number > 0",
            )?;
        }
        input(
            "radius_m",
            self.radius_m,
            self.radius_m.is_finite() && self.radius_m > 0.0 && self.radius_m <= MAX_RADIUS_M,
            "a number > 0 and at most 200 km",
        )?;
        for (name, value) in [
            ("gain_dbi", self.gain_dbi),
            ("device_eirp_dbm", self.device_eirp_dbm),
            ("threshold_dbm", self.threshold_dbm),
        ] {
            input(name, value, value.is_finite(), "a finite number")?;
        }
        if let Some(spacing) = self.max_radial_spacing_m
            && !(spacing.is_finite() && spacing > 0.0)
        {
            return Err(Error::InvalidParameter {
                name: "max_radial_spacing_m",
                value: spacing,
                expected: "a finite number > 0",
            });
        }
        check_k_factor(self.k_factor)
    }
}

/// What a coverage run did, for logs and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CoverageStats {
    /// Radials swept (all levels of the tree).
    pub radials: usize,
    /// Terrain samples read and pushed into a sweep.
    pub samples: usize,
    /// Distinct radial samples whose features were computed (≤ cells).
    pub predictions: usize,
    /// Cells within the radius whose radial sample has no terrain (left out).
    pub cells_without_terrain: usize,
}

/// The coverage of one site: one entry per cell within the radius that has
/// terrain, in the order the sweep reaches them: wedge by wedge (the
/// sectors of the base radials, clockwise from north); within a wedge,
/// radial by radial in id order (the base radial, then its descendants
/// level by level), each outward. Treat the order as unspecified beyond
/// that it is deterministic (the same for any number of threads).
#[derive(Debug, Clone, PartialEq)]
pub struct SiteCoverage {
    /// The cells.
    pub hexes: Vec<HexCoverage>,
    /// What the sweep did.
    pub stats: CoverageStats,
}

/// The layout of the radial tree: `n0` radials from the site; level ℓ ≥ 1
/// adds `n0·2^(ℓ−1)` radials that start at sample `birth[ℓ]`.
#[derive(Debug, Clone)]
struct RadialTree {
    n0: usize,
    /// First sample index of the radials born at each level (`birth[0]` = 1).
    birth: Vec<usize>,
    /// Last sample index (the farthest sample).
    last: usize,
    /// `level_at(i)` of samples 0..=last, looked up (the cell set-up asks
    /// once per cell, in no order a binary search could predict).
    level_of: Vec<u8>,
}

impl RadialTree {
    fn new(radius_m: f64, step_m: f64, max_spacing_m: f64) -> Self {
        // Cell centres lie within the radius: the nearest sample of one is at
        // most round(radius / step).
        let last = ((radius_m / step_m).round() as usize).max(1);
        // At least enough base radials that their spacing one step out is
        // within the limit (so every level starts after its parent's first
        // sample), and n0 chosen in [min, 2·min) so that the top level's
        // n0·2^L radials are the fewest that keep the rim within the limit:
        // a power of two alone could double the outer samples.
        let n_min = ((TAU * step_m / max_spacing_m).ceil() as usize).max(8);
        let n_rim = ((TAU * last as f64 * step_m / max_spacing_m).ceil() as usize).max(n_min);
        let mut n0 = n_rim;
        while n0 >= 2 * n_min {
            n0 = n0.div_ceil(2);
        }
        let mut birth = vec![1];
        let mut radials = n0;
        loop {
            // Spacing of the current radials at sample i is τ·i·step / radials:
            // the next level starts at the first sample where it exceeds the limit.
            let first_too_wide =
                (max_spacing_m * radials as f64 / (TAU * step_m)).floor() as usize + 1;
            if first_too_wide > last {
                break;
            }
            birth.push(first_too_wide.max(birth[birth.len() - 1] + 1));
            radials *= 2;
        }
        // At most 64 levels (n0·2^level radials fit a usize): a byte.
        let level_of = (0..=last)
            .map(|i| level_from_births(&birth, i) as u8)
            .collect();
        Self {
            n0,
            birth,
            last,
            level_of,
        }
    }

    fn levels(&self) -> usize {
        self.birth.len()
    }

    fn radial_count(&self) -> usize {
        self.n0 << (self.levels() - 1)
    }

    /// The level whose radials are the ones present at sample `i`.
    fn level_at(&self, i: usize) -> usize {
        match self.level_of.get(i) {
            Some(&level) => usize::from(level),
            None => level_from_births(&self.birth, i),
        }
    }

    /// The radial (physical id) nearest `bearing_rad` at sample `i`.
    fn radial_at(&self, bearing_rad: f64, i: usize) -> usize {
        let level = self.level_at(i);
        let count = self.n0 << level;
        self.radial_of(
            level,
            round_nonneg(bearing_rad / TAU * count as f64) % count,
        )
    }

    /// [`RadialTree::radial_at`] for a direction, bit for bit, mostly
    /// without its `atan2`: the radial is the bearing's multiple of τ/count
    /// rounded, and [`approx_bearing_rad`] is within
    /// [`APPROX_BEARING_ERROR_RAD`] of the bearing, so unless that multiple
    /// is within the error of a half it rounds the same way; near a half
    /// the exact bearing decides.
    #[cfg(test)]
    fn radial_towards(&self, direction: Direction, i: usize) -> usize {
        self.radial_towards_approx(direction, approx_bearing_of(direction), i)
    }

    /// [`RadialTree::radial_towards`] with [`approx_bearing_rad`] of the
    /// direction given (taken for many cells at once by the set-up; any
    /// value for a [`Direction::Bearing`]).
    fn radial_towards_approx(&self, direction: Direction, approx_rad: f64, i: usize) -> usize {
        if let Direction::Bearing(bearing) = direction {
            return self.radial_at(bearing, i);
        }
        let level = self.level_at(i);
        let count = self.n0 << level;
        let u = approx_rad / TAU * count as f64;
        // Both multiples differ by at most count·error/τ plus a few ulps of
        // u (< 1e-12 below 2^20 radials); NaN (x = y = 0) fails the test.
        let margin = count as f64 * (APPROX_BEARING_ERROR_RAD / TAU) + 1e-9;
        let whole = u as usize;
        if (u - whole as f64 - 0.5).abs() > margin {
            self.radial_of(level, round_nonneg(u) % count)
        } else {
            self.radial_at(direction.bearing_rad(), i)
        }
    }

    /// The physical id of radial `j` of the `n0·2^level` at `level`.
    fn radial_of(&self, level: usize, j: usize) -> usize {
        // Halve j while even, at most `level` times: by its trailing zeros
        // (j = 0, radial 0, is born at level 0).
        let halvings = (j.trailing_zeros() as usize).min(level);
        self.id(level - halvings, j >> halvings)
    }

    /// Physical id of radial `j` born at `level` (odd `j` for level ≥ 1).
    fn id(&self, level: usize, j: usize) -> usize {
        if level == 0 {
            j
        } else {
            (self.n0 << (level - 1)) + (j - 1) / 2
        }
    }

    /// (birth level, index at that level) of a physical id.
    fn level_index(&self, id: usize) -> (usize, usize) {
        if id < self.n0 {
            return (0, id);
        }
        // Ids n0·2^(ℓ−1) .. n0·2^ℓ are born at level ℓ.
        let level = (id / self.n0).ilog2() as usize + 1;
        (level, 2 * (id - (self.n0 << (level - 1))) + 1)
    }

    fn bearing_rad(&self, id: usize) -> f64 {
        let (level, j) = self.level_index(id);
        TAU * j as f64 / (self.n0 << level) as f64
    }

    /// The parent of a radial born at level ≥ 1: the radial at the next lower
    /// bearing of the previous level.
    #[cfg(test)]
    fn parent(&self, id: usize) -> usize {
        let (level, j) = self.level_index(id);
        let (mut level, mut j) = (level - 1, (j - 1) / 2);
        while level > 0 && j.is_multiple_of(2) {
            j /= 2;
            level -= 1;
        }
        self.id(level, j)
    }
}

/// A bound on |[`approx_bearing_rad`] − the exact bearing|, rad: the series
/// leaves at most tan(π/8)^21/21 < 4.4e-10, rounding adds ~1e-15, and the
/// bound keeps a factor of 20 beside that.
const APPROX_BEARING_ERROR_RAD: f64 = 1e-8;

/// The bearing of azimuthal coordinates (east `x`, north `y`), rad in
/// 0..=τ, within [`APPROX_BEARING_ERROR_RAD`] of `atan2(x, y)` (mod τ) and
/// about a third of its cost: atan of the smaller over the larger
/// coordinate (≤ 1), moved to |t| ≤ tan(π/8) by atan z = π/4 + atan((z − 1)
/// / (z + 1)), by its Taylor series to t¹⁹ (alternating, so the error is
/// below the first term left out), then put in its octant. NaN at (0, 0).
fn approx_bearing_rad(x: f64, y: f64) -> f64 {
    use std::f64::consts::{FRAC_PI_2, FRAC_PI_4, PI};
    const TAN_PI_8: f64 = 0.414_213_562_373_095_1;
    let (ax, ay) = (x.abs(), y.abs());
    let z = ax.min(ay) / ax.max(ay);
    let (base, t) = if z > TAN_PI_8 {
        (FRAC_PI_4, (z - 1.0) / (z + 1.0))
    } else {
        (0.0, z)
    };
    // 1 − t²/3 + t⁴/5 − … − t¹⁸/19.
    const SERIES: [f64; 10] = [
        1.0,
        -1.0 / 3.0,
        1.0 / 5.0,
        -1.0 / 7.0,
        1.0 / 9.0,
        -1.0 / 11.0,
        1.0 / 13.0,
        -1.0 / 15.0,
        1.0 / 17.0,
        -1.0 / 19.0,
    ];
    // By Estrin's scheme (pairs, then pairs of pairs): a chain of five
    // multiply-adds instead of Horner's ten, as the cell set-up runs this
    // once per cell.
    let t2 = t * t;
    let t4 = t2 * t2;
    let t8 = t4 * t4;
    let pair = |k: usize| SERIES[k] + t2 * SERIES[k + 1];
    let (p01, p23, p45, p67, p89) = (pair(0), pair(2), pair(4), pair(6), pair(8));
    let series = (p01 + t4 * p23) + t8 * ((p45 + t4 * p67) + t8 * p89);
    let atan_z = base + t * series;
    // Angle from the nearer axis to the angle from north, then the quadrant.
    let from_north = if ax <= ay { atan_z } else { FRAC_PI_2 - atan_z };
    match (x >= 0.0, y >= 0.0) {
        (true, true) => from_north,
        (true, false) => PI - from_north,
        (false, false) => PI + from_north,
        (false, true) => TAU - from_north,
    }
}

/// [`approx_bearing_rad`] of a direction given as (x, y); NaN for one
/// given as a bearing (whose radial needs no approximation).
fn approx_bearing_of(direction: Direction) -> f64 {
    match direction {
        Direction::Xy(x, y) => approx_bearing_rad(x, y),
        Direction::Bearing(_) => f64::NAN,
    }
}

/// `x.round() as usize` for a finite x ≥ 0 below 2^52 (halves away from
/// zero), without the libm call that `round` is on baseline x86-64: the
/// integer part and `x` minus it are exact there.
fn round_nonneg(x: f64) -> usize {
    let whole = x as usize;
    whole + usize::from(x - whole as f64 >= 0.5)
}

/// The point `distance_m` from `from` along the great circle of initial
/// bearing `bearing_rad` (sphere of [`EARTH_RADIUS_M`]).
fn destination(from: LatLon, bearing_rad: f64, distance_m: f64) -> LatLon {
    let delta = distance_m / EARTH_RADIUS_M;
    let (phi1, lambda1) = (from.lat.to_radians(), from.lon.to_radians());
    let (sin_phi1, cos_phi1) = phi1.sin_cos();
    let (sin_delta, cos_delta) = delta.sin_cos();
    let sin_phi2 = sin_phi1 * cos_delta + cos_phi1 * sin_delta * bearing_rad.cos();
    let phi2 = sin_phi2.clamp(-1.0, 1.0).asin();
    let lambda2 =
        lambda1 + (bearing_rad.sin() * sin_delta * cos_phi1).atan2(cos_delta - sin_phi1 * sin_phi2);
    LatLon::new(phi2.to_degrees(), lambda2.to_degrees())
}

/// Haversine distance and initial bearing from a fixed origin, with the
/// origin's trigonometry computed once.
struct Polar {
    lat_rad: f64,
    lon_rad: f64,
    sin_lat: f64,
    cos_lat: f64,
}

impl Polar {
    fn new(origin: LatLon) -> Self {
        let lat_rad = origin.lat.to_radians();
        Self {
            lat_rad,
            lon_rad: origin.lon.to_radians(),
            sin_lat: lat_rad.sin(),
            cos_lat: lat_rad.cos(),
        }
    }

    /// (distance m, bearing rad in 0..τ) to a point given in radians.
    fn to(&self, lat_rad: f64, lon_rad: f64) -> (f64, f64) {
        let (sin_lat2, cos_lat2) = lat_rad.sin_cos();
        let (sin_dlon, cos_dlon) = (lon_rad - self.lon_rad).sin_cos();
        let half_dlat = ((lat_rad - self.lat_rad) / 2.0).sin();
        let half_dlon = ((lon_rad - self.lon_rad) / 2.0).sin();
        let a = half_dlat * half_dlat + self.cos_lat * cos_lat2 * half_dlon * half_dlon;
        let distance_m = 2.0 * EARTH_RADIUS_M * a.sqrt().min(1.0).asin();
        let bearing = (sin_dlon * cos_lat2)
            .atan2(self.cos_lat * sin_lat2 - self.sin_lat * cos_lat2 * cos_dlon);
        (distance_m, bearing.rem_euclid(TAU))
    }
}

/// Distance between the centres of neighbouring cells around `cell`, m
/// (the smallest of its six neighbours).
fn centre_spacing_m(cell: CellIndex) -> f64 {
    let centre = LatLng::from(cell);
    cell.grid_disk::<Vec<_>>(1)
        .into_iter()
        .filter(|&c| c != cell)
        .map(|c| centre.distance_m(LatLng::from(c)))
        .fold(f64::INFINITY, f64::min)
}

/// One cell to predict: where its sample is and where its answer goes.
#[derive(Debug, Clone, Copy)]
struct Job {
    sample: u32,
    cell: u32,
}

/// The coverage of one site: every cell of `params`' resolution whose
/// centre lies within the radius, predicted by `model` over `terrain` with
/// the radial sweep described in the module docs.
///
/// # Errors
/// The errors of [`CoverageParams::check`]; [`Error::SiteOutsideTerrain`]
/// when the terrain has no elevation at the site.
pub fn site_coverage(
    terrain: &dyn Terrain,
    params: &CoverageParams,
    model: &dyn RssiModel,
) -> Result<SiteCoverage> {
    params.check()?;
    // Set up once for the many predictions to come (the learned model
    // compiles its trees).
    let model = &*model.prepared();
    let site = params.site;
    let ground_m = terrain
        .elevation_m(site)
        .ok_or(Error::SiteOutsideTerrain { at: site })?;
    let sweep_site = SweepSite::new(
        ground_m,
        params.height_agl_m,
        params.device_height_agl_m,
        params.freq_mhz,
    )?
    .k_factor(params.k_factor);
    let budget = params.link_budget();

    // The cells: a disk wide enough for the circle, then the circle.
    // Centres are at least spacing·√3/2 apart per ring, so k rings reach
    // beyond the radius (the disk holds at least the grid disk of k rings).
    let origin_ll = LatLng::new(site.lat, site.lon).map_err(|_| Error::InvalidInput {
        name: "site",
        value: site.lat,
        expected: "a WGS84 position",
    })?;
    let origin = origin_ll.to_cell(params.resolution);
    let spacing_m = centre_spacing_m(origin);
    let rings = (params.radius_m / (spacing_m * 3f64.sqrt() / 2.0)).ceil() as u32 + 1;
    let step_m = params.sample_step_m;
    let tree = RadialTree::new(
        params.radius_m,
        step_m,
        params
            .max_radial_spacing_m
            .unwrap_or(DEFAULT_RADIAL_SPACING_RATIO * spacing_m),
    );
    let polar = Polar::new(site);
    let mut cells: Vec<(CellIndex, f64)> = Vec::new();
    let mut jobs_radial: Vec<u32> = Vec::new();
    let mut jobs: Vec<Job> = Vec::new();
    let disk = local_grid::Disk::around(origin, rings);
    let centres = local_grid::polar_centres(&disk, origin, |cell| {
        let centre = LatLng::from(cell);
        polar.to(centre.lat_radians(), centre.lng_radians())
    });
    cells.reserve(disk.cells.len());
    jobs.reserve(disk.cells.len());
    jobs_radial.reserve(disk.cells.len());
    // In chunks: the arithmetic of every cell (its sample, its approximate
    // bearing) in loops of their own, which the compiler can vectorize,
    // then each cell's radial.
    let mut within = disk
        .cells
        .iter()
        .zip(centres)
        .filter(|&(_, (distance_m, _))| distance_m <= params.radius_m);
    let mut chunk: Vec<(CellIndex, f64, Direction)> = Vec::with_capacity(SETUP_CHUNK);
    let mut samples = [0usize; SETUP_CHUNK];
    let mut approx_rad = [0.0; SETUP_CHUNK];
    loop {
        chunk.clear();
        chunk.extend(
            (&mut within)
                .take(SETUP_CHUNK)
                .map(|(&cell, (distance_m, direction))| (cell, distance_m, direction)),
        );
        if chunk.is_empty() {
            break;
        }
        for (sample, &(_, distance_m, _)) in samples.iter_mut().zip(&chunk) {
            *sample = round_nonneg(distance_m / step_m).clamp(1, tree.last);
        }
        for (approx, &(_, _, direction)) in approx_rad.iter_mut().zip(&chunk) {
            *approx = approx_bearing_of(direction);
        }
        for ((&(cell, distance_m, direction), &i), &approx) in
            chunk.iter().zip(&samples).zip(&approx_rad)
        {
            jobs.push(Job {
                sample: i as u32,
                cell: cells.len() as u32,
            });
            jobs_radial.push(tree.radial_towards_approx(direction, approx, i) as u32);
            cells.push((cell, distance_m));
        }
    }

    // Group the jobs by radial (counting sort), then by sample within each.
    let radials = tree.radial_count();
    let mut start = vec![0usize; radials + 1];
    for &r in &jobs_radial {
        start[r as usize + 1] += 1;
    }
    for r in 0..radials {
        start[r + 1] += start[r];
    }
    let mut fill = start.clone();
    let mut sorted = vec![Job { sample: 0, cell: 0 }; jobs.len()];
    for (job, &r) in jobs.iter().zip(&jobs_radial) {
        sorted[fill[r as usize]] = *job;
        fill[r as usize] += 1;
    }
    for r in 0..radials {
        sorted[start[r]..start[r + 1]].sort_unstable_by_key(|j| j.sample);
    }

    // The radials of one base radial's sector (its own and every later
    // level's between it and the next base radial) depend only on each
    // other: sweep the sectors in parallel, each in id order (parents
    // before children). The answer does not depend on the thread count.
    let levels = tree.levels();
    let mut sectors: Vec<Vec<usize>> = vec![Vec::new(); tree.n0];
    for id in 0..radials {
        let (level, j) = tree.level_index(id);
        sectors[j >> level].push(id);
    }
    // Only the features the model reads (the physics baseline reads one).
    let fresh = FeatureSweep::new(sweep_site)?.computing(model.features_read());
    // Sample i is i·step_m out on every radial: its distance terms (two
    // logarithms) once per i, not once per prediction.
    let distance_terms: Vec<DistanceTerms> = (0..=tree.last)
        .map(|i| fresh.distance_terms(i as f64 * step_m))
        .collect();
    // Each sector answers into its own stretch of one output (every cell
    // has its place in exactly one sector's radials), in sweep order: no
    // answers stored per sector and gathered again, no page faulted twice.
    let sector_cells: Vec<usize> = sectors
        .iter()
        .map(|ids| ids.iter().map(|&id| start[id + 1] - start[id]).sum())
        .collect();
    let unset = HexCoverage {
        cell: origin,
        distance_m: f64::NAN,
        rssi_pred_dbm: f64::NAN,
        rssi_p10_dbm: f64::NAN,
        rssi_p90_dbm: f64::NAN,
        p_covered: f64::NAN,
    };
    let mut hexes = vec![unset; cells.len()];
    let mut stretches: Vec<&mut [HexCoverage]> = Vec::with_capacity(sectors.len());
    let mut rest = hexes.as_mut_slice();
    for &n in &sector_cells {
        let (stretch, tail) = rest.split_at_mut(n);
        stretches.push(stretch);
        rest = tail;
    }
    let sweep_sector =
        |(ids, out): (&Vec<usize>, &mut [HexCoverage])| -> Result<(usize, CoverageStats)> {
            let mut stats = CoverageStats::default();
            let mut batch = Batch::new(&cells, params.threshold_dbm, out);
            let mut snapshots: HashMap<usize, FeatureSweep> = HashMap::new();
            let mut elevations: Vec<f64> = Vec::with_capacity(tree.last + 1);
            for &id in ids {
                let (level, _) = tree.level_index(id);
                let first = tree.birth[level];
                let mut sweep = if level == 0 {
                    fresh.clone()
                } else {
                    match snapshots.remove(&id) {
                        Some(s) => s,
                        // The parent left the terrain before this radial's start.
                        None => continue,
                    }
                };
                let bearing = tree.bearing_rad(id);
                read_radial(
                    terrain,
                    site,
                    bearing,
                    first,
                    tree.last,
                    step_m,
                    &mut elevations,
                );
                let jobs = &sorted[start[id]..start[id + 1]];
                let mut next_job = 0;
                let mut next_level = level + 1;
                for (offset, &ground) in elevations.iter().enumerate() {
                    let i = first + offset;
                    // Children born at i start from the sweep as it stands before sample i.
                    while next_level < levels && tree.birth[next_level] == i {
                        let child = child_of(&tree, id, next_level);
                        snapshots.insert(child, sweep.clone());
                        next_level += 1;
                    }
                    sweep.push(i as f64 * step_m, ground)?;
                    stats.samples += 1;
                    let from = next_job;
                    while next_job < jobs.len() && jobs[next_job].sample as usize == i {
                        next_job += 1;
                    }
                    // Cannot be None after a push; if it were, these cells would
                    // stay empty (counted as without terrain).
                    if next_job > from
                        && let Some(features) = sweep.features_with(&distance_terms[i])
                    {
                        stats.predictions += 1;
                        batch.push(features, &jobs[from..next_job], model, &budget);
                    }
                }
            }
            Ok((batch.finish(model, &budget), stats))
        };
    let swept: Vec<(usize, CoverageStats)> = sectors
        .par_iter()
        .zip(stretches)
        .map(sweep_sector)
        .collect::<Result<_>>()?;
    let mut stats = CoverageStats {
        radials,
        ..CoverageStats::default()
    };
    // Close the gaps that cells without terrain left at the stretches' ends.
    let (mut kept, mut stretch_start) = (0, 0);
    for ((filled, sector_stats), n) in swept.into_iter().zip(sector_cells) {
        stats.samples += sector_stats.samples;
        stats.predictions += sector_stats.predictions;
        hexes.copy_within(stretch_start..stretch_start + filled, kept);
        kept += filled;
        stretch_start += n;
    }
    hexes.truncate(kept);
    stats.cells_without_terrain = cells.len() - hexes.len();
    Ok(SiteCoverage { hexes, stats })
}

/// Radial samples waiting for their predictions: the model is asked for
/// [`Batch::SIZE`] at a time ([`RssiModel::predict_many`]), which lets the
/// learned model walk each tree over many paths at once.
struct Batch<'a, 'o> {
    cells: &'a [(CellIndex, f64)],
    threshold_dbm: f64,
    features: Vec<PathFeatures>,
    /// The cells (jobs) of each sample in `features`.
    jobs: Vec<&'a [Job]>,
    predictions: Vec<RssiPrediction>,
    /// Where the answers go, one per job, in order; `filled` so far.
    out: &'o mut [HexCoverage],
    filled: usize,
}

impl<'a, 'o> Batch<'a, 'o> {
    const SIZE: usize = 256;

    fn new(cells: &'a [(CellIndex, f64)], threshold_dbm: f64, out: &'o mut [HexCoverage]) -> Self {
        Self {
            cells,
            threshold_dbm,
            features: Vec::with_capacity(Self::SIZE),
            jobs: Vec::with_capacity(Self::SIZE),
            predictions: Vec::with_capacity(Self::SIZE),
            out,
            filled: 0,
        }
    }

    /// Queues one sample's features for its cells `jobs`.
    fn push(
        &mut self,
        features: PathFeatures,
        jobs: &'a [Job],
        model: &dyn RssiModel,
        budget: &LinkBudget,
    ) {
        self.features.push(features);
        self.jobs.push(jobs);
        if self.features.len() == Self::SIZE {
            self.flush(model, budget);
        }
    }

    fn flush(&mut self, model: &dyn RssiModel, budget: &LinkBudget) {
        self.predictions.clear();
        model.predict_many(&self.features, budget, &mut self.predictions);
        for (prediction, jobs) in self.predictions.iter().zip(&self.jobs) {
            let p_covered = prediction.p_at_least(self.threshold_dbm);
            for job in *jobs {
                let (cell, distance_m) = self.cells[job.cell as usize];
                // At most one answer per job: the stretch holds them all.
                self.out[self.filled] = HexCoverage {
                    cell,
                    distance_m,
                    rssi_pred_dbm: prediction.mean_dbm,
                    rssi_p10_dbm: prediction.p10_dbm,
                    rssi_p90_dbm: prediction.p90_dbm,
                    p_covered,
                };
                self.filled += 1;
            }
        }
        self.features.clear();
        self.jobs.clear();
    }

    /// Predicts what is still queued; the number of answers written.
    fn finish(mut self, model: &dyn RssiModel, budget: &LinkBudget) -> usize {
        self.flush(model, budget);
        self.filled
    }
}

/// The last level whose radials are born at or before sample `i`.
fn level_from_births(birth: &[usize], i: usize) -> usize {
    birth.partition_point(|&b| b <= i).saturating_sub(1)
}

/// The physical id of the child that radial `id` has at level `level`.
fn child_of(tree: &RadialTree, id: usize, level: usize) -> usize {
    let (own_level, j) = tree.level_index(id);
    // Radial j of level own_level is radial j·2^(level−1−own_level) of
    // level − 1; its child at `level` is the next odd index.
    let j_parent = j << (level - 1 - own_level);
    tree.id(level, 2 * j_parent + 1)
}

/// Ground elevations of samples `first..=last` (distances `i·step_m`) along
/// the radial of `bearing_rad` from `site`, into `out`; stops at the first
/// sample without terrain.
fn read_radial(
    terrain: &dyn Terrain,
    site: LatLon,
    bearing_rad: f64,
    first: usize,
    last: usize,
    step_m: f64,
    out: &mut Vec<f64>,
) {
    out.clear();
    if first > last {
        return;
    }
    let from = destination(site, bearing_rad, first as f64 * step_m);
    if first == last {
        out.extend(terrain.elevation_m(from));
        return;
    }
    let to = destination(site, bearing_rad, last as f64 * step_m);
    // A hair over the step, so rounding cannot add a sample: the profile
    // then has exactly last − first steps of (last − first)·step_m / n.
    // Only the elevations: the sweep knows the distances (i·step_m).
    if terrain.profile_elevations(from, to, step_m * (1.0 + 1e-9), out)
        && out.len() == last - first + 1
    {
        return;
    }
    out.clear();
    // Part of the radial has no terrain: read sample by sample up to the gap.
    for i in first..=last {
        match terrain.elevation_m(destination(site, bearing_rad, i as f64 * step_m)) {
            Some(h) => out.push(h),
            None => break,
        }
    }
}

/// The features of a single device position seen from the site, by a
/// profile over `terrain` (for checks against the sweep; slower).
///
/// # Errors
/// As [`crate::RadioPath::between`] and [`PathFeatures::of_with_k`].
pub fn point_features(
    terrain: &dyn Terrain,
    params: &CoverageParams,
    device: LatLon,
) -> Result<PathFeatures> {
    params.check()?;
    let path = crate::RadioPath::between(
        terrain,
        device,
        params.site,
        params.device_height_agl_m,
        params.height_agl_m,
        params.freq_mhz,
        // As the sweep: a hair over the step so rounding cannot add a sample.
        params.sample_step_m * (1.0 + 1e-9),
    )?;
    PathFeatures::of_with_k(&path, params.k_factor)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::collections::{HashMap, HashSet};

    use hexcover_core::FlatTerrain;

    use super::*;
    use crate::PhysicsBaseline;
    use crate::features::field;

    const ULM: LatLon = LatLon::new(48.3985, 9.9918);

    /// Synthetic terrain (named so: not a DEM): flat at 480 m with a straight
    /// north–south ridge `height_m` high and 300 m wide, its crest `east_m`
    /// east of the site.
    struct SyntheticRidge {
        east_m: f64,
        height_m: f64,
    }

    impl Terrain for SyntheticRidge {
        fn elevation_m(&self, at: LatLon) -> Option<f64> {
            let x_m = (at.lon - ULM.lon).to_radians() * EARTH_RADIUS_M * ULM.lat.to_radians().cos();
            let off = (x_m - self.east_m).abs();
            Some(480.0 + if off < 150.0 { self.height_m } else { 0.0 })
        }
    }

    /// Synthetic rolling hills (named so: not a DEM), smooth at the scale of the step.
    struct SyntheticHills;

    impl Terrain for SyntheticHills {
        fn elevation_m(&self, at: LatLon) -> Option<f64> {
            let (y, x) = ((at.lat - 48.0) * 111.0, (at.lon - 10.0) * 74.0);
            Some(
                500.0 + 40.0 * (x * 0.9).sin() * (y * 0.7).cos() + 15.0 * (x * 2.3 + y * 1.9).sin(),
            )
        }
    }

    /// Synthetic terrain that ends 3 km west of the site (no elevation beyond).
    struct SyntheticEdge;

    impl Terrain for SyntheticEdge {
        fn elevation_m(&self, at: LatLon) -> Option<f64> {
            let x_m = (at.lon - ULM.lon).to_radians() * EARTH_RADIUS_M * ULM.lat.to_radians().cos();
            (x_m > -3_000.0).then_some(480.0)
        }
    }

    fn params(radius_m: f64) -> CoverageParams {
        CoverageParams::new(ULM).radius_m(radius_m)
    }

    #[test]
    fn the_radial_tree_is_consistent() {
        let tree = RadialTree::new(20_000.0, 90.0, 98.0);
        assert!(tree.levels() > 3, "{tree:?}");
        assert!(tree.birth.windows(2).all(|w| w[1] > w[0]));
        // Spacing at the rim within the limit; at each birth the previous
        // level's spacing had just exceeded it.
        let rim_spacing = TAU * tree.last as f64 * 90.0 / tree.radial_count() as f64;
        assert!(rim_spacing <= 98.0, "{rim_spacing}");
        for id in 0..tree.radial_count() {
            let (level, j) = tree.level_index(id);
            assert_eq!(tree.id(level, j), id);
            assert!(level == 0 || j % 2 == 1);
            if level > 0 {
                let parent = tree.parent(id);
                assert!(parent < id);
                assert_eq!(child_of(&tree, parent, level), id);
                // The parent sits half a spacing of this level below in bearing.
                let gap = tree.bearing_rad(id) - tree.bearing_rad(parent);
                let expected = TAU / (tree.n0 << level) as f64;
                assert!((gap - expected).abs() < 1e-12, "{id}: {gap} vs {expected}");
            }
        }
        // The level looked up is the last level born at or before i (and
        // beyond the table, the same from the births).
        for i in 0..=tree.last + 3 {
            let born = tree.birth.iter().filter(|&&b| b <= i).count();
            assert_eq!(tree.level_at(i), born.saturating_sub(1), "{i}");
        }
        assert_eq!(tree.level_at(tree.last), tree.levels() - 1);
        // radial_at picks a radial that exists at i, nearest in bearing.
        for i in [1, 5, tree.birth[1], tree.birth[2] + 3, tree.last] {
            let level = tree.level_at(i);
            let count = tree.n0 << level;
            for k in 0..1000 {
                let bearing = TAU * f64::from(k) / 1000.0;
                let id = tree.radial_at(bearing, i);
                let (born, _) = tree.level_index(id);
                assert!(tree.birth[born] <= i);
                let mut diff = (tree.bearing_rad(id) - bearing).abs();
                diff = diff.min(TAU - diff);
                assert!(diff <= TAU / count as f64 / 2.0 + 1e-12);
            }
        }
    }

    #[test]
    fn every_cell_within_the_radius_once() {
        let p = params(3_000.0);
        let cov = site_coverage(
            &FlatTerrain { elevation_m: 480.0 },
            &p,
            &PhysicsBaseline::default(),
        )
        .unwrap();
        let got: HashSet<CellIndex> = cov.hexes.iter().map(|h| h.cell).collect();
        assert_eq!(got.len(), cov.hexes.len(), "a cell twice");
        // Brute force: every cell of a generous disk whose centre is within 3 km.
        let origin = LatLng::new(ULM.lat, ULM.lon)
            .unwrap()
            .to_cell(Resolution::Ten);
        let expected: HashSet<CellIndex> = origin
            .grid_disk::<Vec<_>>(40)
            .into_iter()
            .filter(|&c| {
                let ll = LatLng::from(c);
                ULM.distance_m(LatLon::new(ll.lat(), ll.lng())) <= 3_000.0
            })
            .collect();
        assert_eq!(got, expected);
        assert_eq!(cov.stats.cells_without_terrain, 0);
        for h in &cov.hexes {
            let ll = LatLng::from(h.cell);
            let d = ULM.distance_m(LatLon::new(ll.lat(), ll.lng()));
            assert!((h.distance_m - d).abs() < 1e-6);
            assert!(h.rssi_p10_dbm < h.rssi_pred_dbm && h.rssi_pred_dbm < h.rssi_p90_dbm);
            assert!((0.0..=1.0).contains(&h.p_covered));
        }
        // π·3²/0.0150 km² ≈ 1,880 cells (res-10 cells here are ≈ 0.0151 km²).
        assert!(
            (1_750..2_000).contains(&cov.hexes.len()),
            "{}",
            cov.hexes.len()
        );
    }

    #[test]
    fn flat_ground_coverage_falls_with_distance() {
        let p = params(20_000.0);
        let cov = site_coverage(
            &FlatTerrain { elevation_m: 480.0 },
            &p,
            &PhysicsBaseline::default(),
        )
        .unwrap();
        let mut hexes = cov.hexes.clone();
        hexes.sort_by(|a, b| a.distance_m.total_cmp(&b.distance_m));
        for w in hexes.windows(2) {
            assert!(
                w[1].rssi_pred_dbm <= w[0].rssi_pred_dbm + 1e-9,
                "{:?} then {:?}",
                w[0],
                w[1]
            );
            assert!(w[1].p_covered <= w[0].p_covered + 1e-12);
        }
        // Far out on flat ground the earth bulge intrudes into the Fresnel zone
        // of the 1.5 m device: below the free-space link budget.
        let far = &hexes[hexes.len() - 1];
        let free_space_dbm = 16.0 + 3.0 - crate::free_space_loss_db(far.distance_m, 868.3).unwrap();
        assert!(
            far.rssi_pred_dbm < free_space_dbm - 5.0,
            "{far:?} vs {free_space_dbm}"
        );
        assert!(hexes[10].p_covered > 0.99 && far.p_covered < hexes[10].p_covered);
    }

    #[test]
    fn a_ridge_casts_a_shadow() {
        let ridge = SyntheticRidge {
            east_m: 2_000.0,
            height_m: 60.0,
        };
        let p = params(6_000.0);
        let model = PhysicsBaseline::default();
        let cov = site_coverage(&ridge, &p, &model).unwrap();
        let flat = site_coverage(&FlatTerrain { elevation_m: 480.0 }, &p, &model).unwrap();
        let flat_by_cell: HashMap<CellIndex, f64> = flat
            .hexes
            .iter()
            .map(|h| (h.cell, h.rssi_pred_dbm))
            .collect();
        // Cells 3–5 km due east (behind the ridge) against the same cells over flat ground,
        // and against cells 3–5 km due west of the ridge's site (in the open).
        let bearing_of = |h: &HexCoverage| {
            let ll = LatLng::from(h.cell);
            Polar::new(ULM)
                .to(ll.lat_radians(), ll.lng_radians())
                .1
                .to_degrees()
        };
        let (mut east, mut west) = (Vec::new(), Vec::new());
        for h in &cov.hexes {
            if !(3_000.0..5_000.0).contains(&h.distance_m) {
                continue;
            }
            let b = bearing_of(h);
            if (b - 90.0).abs() < 10.0 {
                east.push(h);
            } else if (b - 270.0).abs() < 10.0 {
                west.push(h);
            }
        }
        assert!(east.len() > 20 && west.len() > 20);
        let mean =
            |v: &[&HexCoverage]| v.iter().map(|h| h.rssi_pred_dbm).sum::<f64>() / v.len() as f64;
        assert!(
            mean(&west) - mean(&east) > 15.0,
            "west {} east {}",
            mean(&west),
            mean(&east)
        );
        for h in &east {
            assert!(h.rssi_pred_dbm < flat_by_cell[&h.cell] - 10.0, "{h:?}");
        }
        // West of the site the ridge is behind the receiver: no change.
        for h in &west {
            assert!(
                (h.rssi_pred_dbm - flat_by_cell[&h.cell]).abs() < 1e-9,
                "{h:?}"
            );
        }
    }

    #[test]
    fn sweep_matches_a_profile_per_cell() {
        // Cells on base radials read exactly the samples a profile from the
        // cell's sample position to the site reads (same great circle, same
        // step), so the features agree; on later radials the inherited part
        // of the profile lies up to half a spacing sideways.
        let p = params(8_000.0);
        let model = PhysicsBaseline::default();
        let cov = site_coverage(&SyntheticHills, &p, &model).unwrap();
        let tree = RadialTree::new(
            8_000.0,
            90.0,
            DEFAULT_RADIAL_SPACING_RATIO * {
                let origin = LatLng::new(ULM.lat, ULM.lon)
                    .unwrap()
                    .to_cell(Resolution::Ten);
                centre_spacing_m(origin)
            },
        );
        let polar = Polar::new(ULM);
        let (mut checked, mut worst_base, mut worst_other) = (0, 0.0f64, 0.0f64);
        for h in cov.hexes.iter().step_by(37) {
            let ll = LatLng::from(h.cell);
            let (d, bearing) = polar.to(ll.lat_radians(), ll.lng_radians());
            let i = ((d / 90.0).round() as usize).clamp(1, tree.last);
            let id = tree.radial_at(bearing, i);
            let at = destination(ULM, tree.bearing_rad(id), i as f64 * 90.0);
            let f = point_features(&SyntheticHills, &p, at).unwrap();
            let expected = model.predict(&f, &p.link_budget()).mean_dbm;
            let diff = (h.rssi_pred_dbm - expected).abs();
            if tree.level_index(id).0 == 0 {
                worst_base = worst_base.max(diff);
            } else {
                worst_other = worst_other.max(diff);
            }
            checked += 1;
        }
        assert!(checked > 100);
        assert!(worst_base < 1e-6, "{worst_base}");
        assert!(worst_other < 6.0, "{worst_other}");
    }

    #[test]
    fn rim_cells_get_their_own_samples() {
        // The mapping site_coverage uses, for a 20 km radius at res 10: cells in
        // the outer kilometre (where radials are sparsest) should rarely share
        // a radial sample with another cell.
        let origin = LatLng::new(ULM.lat, ULM.lon)
            .unwrap()
            .to_cell(Resolution::Ten);
        let spacing = centre_spacing_m(origin);
        let tree = RadialTree::new(20_000.0, 90.0, DEFAULT_RADIAL_SPACING_RATIO * spacing);
        let polar = Polar::new(ULM);
        let mut seen: HashMap<(usize, usize), usize> = HashMap::new();
        for cell in origin.grid_disk::<Vec<_>>(200) {
            let ll = LatLng::from(cell);
            let (d, bearing) = polar.to(ll.lat_radians(), ll.lng_radians());
            if (19_000.0..=20_000.0).contains(&d) {
                let i = (d / 90.0).round() as usize;
                *seen.entry((tree.radial_at(bearing, i), i)).or_default() += 1;
            }
        }
        let cells: usize = seen.values().sum();
        let sharing: usize = seen.values().filter(|&&n| n > 1).sum();
        assert!(cells > 7_500, "{cells}");
        assert!(
            (sharing as f64) < 0.02 * cells as f64,
            "{sharing} of {cells} rim cells share a sample"
        );
    }

    #[test]
    fn the_answer_does_not_depend_on_the_thread_count() {
        // Wedges sweep in parallel, each into its own stretch of the output;
        // with terrain missing in part (gaps closed at the end) and not.
        let p = params(5_000.0);
        let run = |threads: usize, terrain: &dyn Terrain| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| site_coverage(terrain, &p, &PhysicsBaseline::default()).unwrap())
        };
        for terrain in [&SyntheticHills as &dyn Terrain, &SyntheticEdge] {
            let one = run(1, terrain);
            let four = run(4, terrain);
            assert!(!one.hexes.is_empty());
            assert_eq!(one, four);
        }
    }

    /// A model that reads what `inner` reads but says it reads everything:
    /// the sweep then computes every feature.
    struct ReadsAll<'a>(Box<dyn RssiModel + 'a>);

    impl RssiModel for ReadsAll<'_> {
        fn name(&self) -> String {
            self.0.name()
        }
        fn predict(&self, features: &PathFeatures, budget: &LinkBudget) -> RssiPrediction {
            self.0.predict(features, budget)
        }
        fn predict_many(
            &self,
            features: &[PathFeatures],
            budget: &LinkBudget,
            out: &mut Vec<RssiPrediction>,
        ) {
            self.0.predict_many(features, budget, out);
        }
    }

    /// Equal answers, the first difference named (not the whole output).
    fn assert_same(a: &SiteCoverage, b: &SiteCoverage) {
        assert_eq!(a.hexes.len(), b.hexes.len());
        if let Some(i) = a.hexes.iter().zip(&b.hexes).position(|(x, y)| x != y) {
            panic!("hex {i}: {:?} vs {:?}", a.hexes[i], b.hexes[i]);
        }
        assert_eq!(a.stats, b.stats);
    }

    #[test]
    fn a_learned_model_is_swept_for_only_the_features_it_reads() {
        // Synthetic links (named so: the mechanics, not Ulm). The trees'
        // splits on the obstructed share, the ground statistics, Deygout and
        // the angles are then turned into nodes that do not split (as the
        // Ulm model never splits on the obstructed share): the model reads
        // none of them, so the sweep skips their work, and its answers must
        // be bit for bit those of a sweep computing everything.
        let mut model = crate::LearnedParams::new()
            .gbm(crate::GbmParams::new().n_trees(40).min_samples_leaf(10))
            .select(false)
            .fit(&crate::learned::tests::synthetic(2_000, 5))
            .unwrap();
        let unread = [
            field::OBSTRUCTED_FRACTION,
            field::TERRAIN_STD,
            field::TERRAIN_RELIEF,
            field::DEVICE_GROUND_ABOVE_LOCAL,
            field::DEYGOUT,
            field::ELEVATION_ANGLE,
            field::LOS_MARGIN,
        ];
        let gbm = &mut model.gbm;
        let mut turned = 0;
        for (&f, threshold) in gbm.split_feature.iter().zip(&mut gbm.split_threshold) {
            if unread.contains(&usize::from(f)) && *threshold < f64::MAX {
                *threshold = f64::MAX;
                turned += 1;
            }
        }
        assert!(turned > 0, "the trees split on none of {unread:?}");
        let reads = model.features_read();
        for (index, name) in PathFeatures::NAMES.iter().enumerate() {
            let split_on = model.gbm.features_split_on().contains(&index);
            let base = crate::learned::LINEAR_BASE_FEATURES[..model.base.coefficients.len()]
                .contains(name);
            assert_eq!(
                reads.contains(index),
                split_on || base || *name == "log10_distance_m",
                "{name}"
            );
        }
        assert!(unread.iter().all(|&f| !reads.contains(f)), "{reads:?}");
        assert!(reads.len() > 3, "{reads:?}");
        for terrain in [&SyntheticHills as &dyn Terrain, &SyntheticEdge] {
            let p = params(4_000.0).sample_step_m(30.0);
            let only = site_coverage(terrain, &p, &model).unwrap();
            let all = site_coverage(terrain, &p, &ReadsAll(model.prepared())).unwrap();
            assert!(only.hexes.len() > 1_000);
            assert_same(&only, &all);
            // And the receiver-bound model's answers, offset included.
            let receiver = model.for_receiver("gw1");
            assert_eq!(receiver.features_read(), reads);
            let only = site_coverage(terrain, &p, &receiver).unwrap();
            let all = site_coverage(terrain, &p, &ReadsAll(receiver.prepared())).unwrap();
            assert_same(&only, &all);
        }
    }

    #[test]
    fn cells_beyond_the_terrain_are_left_out() {
        let p = params(5_000.0);
        let cov = site_coverage(&SyntheticEdge, &p, &PhysicsBaseline::default()).unwrap();
        assert!(cov.stats.cells_without_terrain > 100);
        assert!(cov.hexes.iter().all(|h| {
            let ll = LatLng::from(h.cell);
            (ll.lng() - ULM.lon).to_radians() * EARTH_RADIUS_M * ULM.lat.to_radians().cos()
                > -3_100.0
        }));
        // The slots of the cells left out are gone, not left as placeholders:
        // every answer is a real one, once per cell.
        assert!(cov.hexes.iter().all(|h| {
            [
                h.distance_m,
                h.rssi_pred_dbm,
                h.rssi_p10_dbm,
                h.rssi_p90_dbm,
                h.p_covered,
            ]
            .iter()
            .all(|v| v.is_finite())
        }));
        let unique: HashSet<CellIndex> = cov.hexes.iter().map(|h| h.cell).collect();
        assert_eq!(unique.len(), cov.hexes.len());
        let err = site_coverage(
            &SyntheticEdge,
            &CoverageParams::new(LatLon::new(48.3985, 9.5)),
            &PhysicsBaseline::default(),
        )
        .unwrap_err();
        assert!(matches!(err, Error::SiteOutsideTerrain { .. }), "{err}");
        assert!(err.to_string().contains("48.3985"), "{err}");
    }

    #[test]
    fn invalid_parameters_are_errors() {
        let flat = FlatTerrain { elevation_m: 0.0 };
        let model = PhysicsBaseline::default();
        for p in [
            params(0.0),
            params(-1.0),
            params(f64::NAN),
            params(MAX_RADIUS_M * 2.0),
            CoverageParams::new(LatLon::new(91.0, 0.0)),
            CoverageParams::new(LatLon::new(0.0, f64::NAN)),
            params(1_000.0).height_agl_m(-1.0),
            params(1_000.0).freq_mhz(0.0),
            params(1_000.0).sample_step_m(0.0),
            params(1_000.0).device_eirp_dbm(f64::INFINITY),
            params(1_000.0).threshold_dbm(f64::NAN),
            params(1_000.0).max_radial_spacing_m(0.0),
            params(1_000.0).k_factor(0.0),
        ] {
            let err = site_coverage(&flat, &p, &model).unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::InvalidInput { .. } | Error::InvalidParameter { .. }
                ),
                "{err}"
            );
        }
    }

    #[test]
    fn the_approximate_bearing_is_within_its_bound() {
        let exact = |x: f64, y: f64| Direction::Xy(x, y).bearing_rad();
        let mut worst = 0.0f64;
        let mut check = |x: f64, y: f64| {
            let diff = (approx_bearing_rad(x, y) - exact(x, y)).abs();
            let diff = diff.min(TAU - diff);
            worst = worst.max(diff);
        };
        for k in 0..200_000 {
            let b = TAU * f64::from(k) / 200_000.0 + 1e-7;
            for r in [1e-3, 1.0, 20_000.0] {
                check(r * b.sin(), r * b.cos());
            }
        }
        // The axes, both zeros, and around tan(π/8) where the series switches.
        for (x, y) in [
            (0.0, 1.0),
            (-0.0, 1.0),
            (0.0, -1.0),
            (-0.0, -1.0),
            (1.0, 0.0),
        ] {
            check(x, y);
            check(-x, y);
            check(x, -0.0);
        }
        for k in -1000..=1000 {
            let z = 0.414_213_562_373_095_1 + f64::from(k) * 1e-12;
            check(z, 1.0);
            check(1.0, -z);
        }
        // Measured ≈ 4e-10; the bound leaves a margin.
        assert!(worst < APPROX_BEARING_ERROR_RAD / 10.0, "{worst}");
        assert!(approx_bearing_rad(0.0, 0.0).is_nan());
    }

    #[test]
    fn radials_towards_directions_are_the_exact_bearings_radials() {
        let tree = RadialTree::new(20_000.0, 90.0, 98.0);
        let mut near_half = 0;
        for i in [1, tree.birth[1], tree.birth[2] + 1, tree.last] {
            let count = tree.n0 << tree.level_at(i);
            for m in 0..count {
                // Exactly and nearly half-way between radials, where the
                // exact bearing must decide, and in between.
                for offset in [0.5, 0.5 - 1e-12, 0.5 + 1e-12, 0.5 + 1e-6, 0.25, 0.0] {
                    let b = TAU * (m as f64 + offset) / count as f64;
                    for r in [90.0, 19_999.0] {
                        let direction = Direction::Xy(r * b.sin(), r * b.cos());
                        let exact = tree.radial_at(direction.bearing_rad(), i);
                        assert_eq!(tree.radial_towards(direction, i), exact, "{i} {m} {offset}");
                        near_half += usize::from(offset != 0.25 && offset != 0.0);
                    }
                }
            }
        }
        assert!(near_half > 1000);
        // A bearing given as such is used as it is.
        assert_eq!(
            tree.radial_towards(Direction::Bearing(1.0), 5),
            tree.radial_at(1.0, 5)
        );
    }

    #[test]
    fn destination_and_polar_agree() {
        let polar = Polar::new(ULM);
        for k in 0..36 {
            let bearing = TAU * f64::from(k) / 36.0;
            for d in [90.0, 5_000.0, 20_000.0] {
                let at = destination(ULM, bearing, d);
                let (d2, b2) = polar.to(at.lat.to_radians(), at.lon.to_radians());
                assert!((d2 - d).abs() < 1e-6, "{d2} vs {d}");
                let mut db = (b2 - bearing).abs();
                db = db.min(TAU - db);
                assert!(db < 1e-9, "{b2} vs {bearing}");
                assert!((ULM.distance_m(at) - d).abs() < 1e-6);
            }
        }
    }
}
