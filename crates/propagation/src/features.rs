//! Path features for the learned model, computed by one radial sweep.
//!
//! # API
//!
//! - [`PathFeatures`]: plain `f64` fields with units in their names (log
//!   distance, frequency, antenna heights, elevation difference, line-of-sight
//!   clearance, Fresnel clearance ratio, diffraction loss, obstructed share,
//!   roughness, free-space and free-space + Bullington loss, ...).
//!   [`PathFeatures::NAMES`] and [`PathFeatures::to_array`] give them in one
//!   fixed order (the order a trained model records).
//! - [`FeatureSweep`]: an accumulator that stands at a **site (the receiver)**
//!   and is fed the terrain profile **outward**, one sample at a time, with
//!   [`FeatureSweep::push`]`(distance_m, ground_m)` (distances from the site,
//!   strictly increasing). After each push, [`FeatureSweep::features`] gives
//!   the features of a device standing at that sample, in O(log n) time
//!   (two binary searches over a convex hull; amortized O(1) per push).
//!   [`FeatureSweep::reset`] starts the next radial without reallocating.
//! - [`PathFeatures::of`]: the features of a whole [`RadioPath`] (transmitter
//!   = device at the first profile sample, receiver = site at the last). It
//!   literally runs a [`FeatureSweep`] from the receiver end, so a path and a
//!   sweep over the same samples give bit-identical features.
//!
//! Per-site coverage sweeps radials; training computes each link's features
//! with [`PathFeatures::of`]. Features depend a little on the sample spacing
//! (the obstructed share, the local ground term), so a sweep should use the
//! spacing the model was trained with (the model records it).
//!
//! ```
//! use hexcover_propagation::{FeatureSweep, PathFeatures, SweepSite};
//!
//! // A gateway 10 m above ground at 480 m, devices 1.5 m above ground, EU868.
//! let site = SweepSite::new(480.0, 10.0, 1.5, 868.3)?;
//! let mut sweep = FeatureSweep::new(site)?;
//! for i in 1..=100 {
//!     let distance_m = 30.0 * f64::from(i);
//!     // A 20 m ridge 1.5 km out.
//!     let ground_m = if i == 50 { 500.0 } else { 480.0 };
//!     sweep.push(distance_m, ground_m)?;
//!     let f: PathFeatures = sweep.features().expect("a sample was pushed");
//!     if i > 50 {
//!         assert!(f.los_clearance_m < 0.0 && f.knife_edge_loss_db > 6.0);
//!     }
//! }
//! # Ok::<(), hexcover_propagation::Error>(())
//! ```
//!
//! # How each feature is kept incremental
//!
//! Heights are taken in the *site frame*: ground minus the earth drop
//! `d² / (2kR)` seen from the site (k = 4/3 by default). It differs from the
//! straight-ray frame of [`crate::PathGeometry`] (bulge `d1·d2 / (2kR)`) by a
//! term linear in distance, so heights above any chord, the Bullington point
//! and every ν are the same in both frames.
//!
//! The intermediate samples (strictly between site and device) are kept as
//! their upper convex hull (monotone chain, amortized O(1) per sample). Every
//! quantity below that maximises "height above a line" is attained at a hull
//! vertex, which makes it exact:
//! - **site horizon**: the steepest elevation angle from the site antenna
//!   (a running maximum);
//! - **device horizon**: the steepest ray from the device antenna back over
//!   the terrain (tangent from the device to the hull, binary search);
//! - **LOS clearance**: the vertex highest above the direct ray (binary search
//!   on the hull's edge slopes) — equal to [`crate::PathGeometry`]'s
//!   `min_clearance_m`;
//! - **Bullington** (ITU-R P.526 §4.5.1) on a shadowed path: the intersection
//!   of the site and device horizon rays — the same point as
//!   [`crate::Bullington`] finds.
//!
//! Two features are approximations: the **largest ν** (Fresnel clearance
//! ratio, knife-edge loss, and Bullington on a line-of-sight path) is the
//! largest of ν at those three vertices rather than over every sample, so it
//! can be below the exact maximum on a line-of-sight path; and the
//! **obstructed share** counts samples whose elevation angle from the site
//! exceeds the direct ray's in 832 angle bins (32 per octave of |slope| +
//! 2⁻¹⁰, so even in the slope below about 1e-3; counts per bin and per
//! block of 32 bins), so samples in the ray's own bin count as clear.
use std::f64::consts::SQRT_2;

use hexcover_core::{EARTH_RADIUS_M, STANDARD_K_FACTOR};

use crate::RadioPath;
use crate::diffraction::zeta_of_slope;
use crate::error::{Error, Result, check_k_factor, finite, non_negative, positive};
use crate::free_space::{free_space_db_from, free_space_freq_term_db};
use crate::knife_edge::knife_edge_loss_db;
use crate::path::wavelength_m;

/// Number of features in [`PathFeatures`].
pub const FEATURE_COUNT: usize = 20;

/// Length scale of the local ground average behind the device, m (the
/// `device_ground_above_local_m` feature).
pub const LOCAL_GROUND_SCALE_M: f64 = 250.0;

/// The Fresnel clearance ratio is clamped to ±this (a device next to a tall
/// obstacle has ν → ∞); trees only need the order.
pub const FRESNEL_RATIO_LIMIT: f64 = 20.0;

/// Which [`PathFeatures`] a [`FeatureSweep`] computes, and which a model
/// reads ([`crate::RssiModel::features_read`]): fields by their index in
/// [`PathFeatures::NAMES`] and [`PathFeatures::to_array`].
///
/// A sweep leaves the fields outside its set NaN and skips the work only
/// they need: the obstructed-share bins (`obstructed_fraction`), the
/// running ground statistics (`terrain_std_m`, `terrain_relief_m`,
/// `device_ground_above_local_m`), Deygout, the two angles (`atan`) and the
/// knife edge's J(ν). The fields inside are bit for bit those of a sweep
/// that computes everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeatureSet(u32);

impl FeatureSet {
    /// Every field.
    pub const ALL: Self = Self((1 << FEATURE_COUNT) - 1);
    /// No field.
    pub const NONE: Self = Self(0);
    /// Only [`PathFeatures::free_space_bullington_loss_db`]: what the
    /// physics baseline reads.
    pub const FREE_SPACE_BULLINGTON: Self = Self::NONE.with(field::FREE_SPACE_BULLINGTON);

    /// This set and the field at `index` (of [`PathFeatures::NAMES`]).
    ///
    /// # Panics
    /// When `index` ≥ [`FEATURE_COUNT`].
    #[must_use]
    pub const fn with(self, index: usize) -> Self {
        assert!(index < FEATURE_COUNT, "no such feature");
        Self(self.0 | 1 << index)
    }

    /// Whether the field at `index` is in the set (false beyond the fields).
    #[must_use]
    pub const fn contains(self, index: usize) -> bool {
        index < FEATURE_COUNT && self.0 & (1 << index) != 0
    }

    /// Whether any of the fields at `indices` is in the set.
    fn contains_any(self, indices: &[usize]) -> bool {
        indices.iter().any(|&index| self.contains(index))
    }

    /// The number of fields in the set.
    #[must_use]
    pub const fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// Whether the set has no field.
    #[must_use]
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The set as bits: bit `i` for the field at `index` i.
    #[must_use]
    pub const fn bits(self) -> u64 {
        self.0 as u64
    }
}

impl Default for FeatureSet {
    /// [`FeatureSet::ALL`].
    fn default() -> Self {
        Self::ALL
    }
}

/// Indices of the [`PathFeatures`] fields whose work a sweep can skip (and
/// of those a model's parts read by name), checked against
/// [`PathFeatures::NAMES`] in the tests.
pub(crate) mod field {
    pub(crate) const LOG10_DISTANCE: usize = 0;
    pub(crate) const ELEVATION_ANGLE: usize = 5;
    pub(crate) const LOS_MARGIN: usize = 6;
    pub(crate) const LOS_CLEARANCE: usize = 7;
    pub(crate) const FRESNEL_RATIO: usize = 8;
    pub(crate) const KNIFE_EDGE: usize = 9;
    pub(crate) const BULLINGTON: usize = 10;
    pub(crate) const DEYGOUT: usize = 11;
    pub(crate) const FREE_SPACE: usize = 12;
    pub(crate) const FREE_SPACE_BULLINGTON: usize = 13;
    pub(crate) const OBSTRUCTED_FRACTION: usize = 14;
    pub(crate) const TERRAIN_STD: usize = 15;
    pub(crate) const TERRAIN_RELIEF: usize = 16;
    pub(crate) const DEVICE_GROUND_ABOVE_LOCAL: usize = 19;
    /// The fields of the running ground statistics.
    pub(crate) const GROUND: [usize; 3] = [TERRAIN_STD, TERRAIN_RELIEF, DEVICE_GROUND_ABOVE_LOCAL];
}

/// Geometry, terrain and physics features of one device → site path.
///
/// "tx" is the device (transmitter), "rx" the site (receiver): coverage means
/// uplink. Every field is finite. See the module docs for how each one is
/// computed and which are approximations.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PathFeatures {
    /// log10 of the ground distance in metres.
    pub log10_distance_m: f64,
    /// Carrier frequency, MHz.
    pub freq_mhz: f64,
    /// Device antenna height above ground, m.
    pub tx_height_agl_m: f64,
    /// Site antenna height above ground, m.
    pub rx_height_agl_m: f64,
    /// Site antenna minus device antenna, m above mean sea level (> 0: the
    /// site looks down on the device).
    pub rx_above_tx_m: f64,
    /// Elevation angle of the device antenna seen from the site antenna, with
    /// earth curvature, degrees (< 0: below the site's horizontal).
    pub elevation_angle_deg: f64,
    /// Elevation angle of the device minus the site's terrain horizon
    /// towards it (the steepest angle to any intermediate sample), degrees:
    /// ≥ 0 when the site sees the device over the terrain.
    pub los_margin_deg: f64,
    /// Smallest clearance of the direct ray over the terrain, m (< 0: the
    /// terrain blocks the line of sight).
    pub los_clearance_m: f64,
    /// Smallest clearance over the first Fresnel radius, −ν_max/√2, clamped
    /// to ±[`FRESNEL_RATIO_LIMIT`] (≥ 0.6: Fresnel zone clear).
    pub fresnel_ratio_min: f64,
    /// Knife-edge loss J(ν_max) of the worst edge (ITU-R P.526 §4.1), dB.
    pub knife_edge_loss_db: f64,
    /// Bullington diffraction loss (ITU-R P.526 §4.5.1, with its
    /// `(10 + 0.02·d_km)` term), dB.
    pub bullington_loss_db: f64,
    /// Deygout diffraction loss (ITU-R P.452-14 form, three edges) over the
    /// three hull vertices the sweep keeps (site horizon, device horizon,
    /// highest above the ray), dB: an approximation of [`crate::Deygout`],
    /// which searches every sample for its edges.
    pub deygout_loss_db: f64,
    /// Free-space loss, dB.
    pub free_space_loss_db: f64,
    /// Free space plus Bullington, dB: the physics baseline.
    pub free_space_bullington_loss_db: f64,
    /// Share of the intermediate samples above the direct ray (0..=1).
    pub obstructed_fraction: f64,
    /// Standard deviation of the ground elevation along the path (both ends
    /// included), m: terrain roughness.
    pub terrain_std_m: f64,
    /// Highest minus lowest ground elevation along the path, m.
    pub terrain_relief_m: f64,
    /// Distance from the site to its horizon obstacle towards the device, m.
    pub site_obstacle_distance_m: f64,
    /// Distance from the device to its own horizon obstacle towards the
    /// site, m (small: the device stands behind a nearby rise).
    pub tx_obstacle_distance_m: f64,
    /// Device ground minus an exponential average of the ground behind it
    /// (towards the site, scale [`LOCAL_GROUND_SCALE_M`]), m: > 0 on a crest
    /// or a slope facing the site, < 0 in a hollow.
    pub device_ground_above_local_m: f64,
}

impl PathFeatures {
    /// Field names in [`PathFeatures::to_array`] order.
    pub const NAMES: [&'static str; FEATURE_COUNT] = [
        "log10_distance_m",
        "freq_mhz",
        "tx_height_agl_m",
        "rx_height_agl_m",
        "rx_above_tx_m",
        "elevation_angle_deg",
        "los_margin_deg",
        "los_clearance_m",
        "fresnel_ratio_min",
        "knife_edge_loss_db",
        "bullington_loss_db",
        "deygout_loss_db",
        "free_space_loss_db",
        "free_space_bullington_loss_db",
        "obstructed_fraction",
        "terrain_std_m",
        "terrain_relief_m",
        "site_obstacle_distance_m",
        "tx_obstacle_distance_m",
        "device_ground_above_local_m",
    ];

    /// The features in [`PathFeatures::NAMES`] order.
    #[must_use]
    pub const fn to_array(&self) -> [f64; FEATURE_COUNT] {
        [
            self.log10_distance_m,
            self.freq_mhz,
            self.tx_height_agl_m,
            self.rx_height_agl_m,
            self.rx_above_tx_m,
            self.elevation_angle_deg,
            self.los_margin_deg,
            self.los_clearance_m,
            self.fresnel_ratio_min,
            self.knife_edge_loss_db,
            self.bullington_loss_db,
            self.deygout_loss_db,
            self.free_space_loss_db,
            self.free_space_bullington_loss_db,
            self.obstructed_fraction,
            self.terrain_std_m,
            self.terrain_relief_m,
            self.site_obstacle_distance_m,
            self.tx_obstacle_distance_m,
            self.device_ground_above_local_m,
        ]
    }

    /// The features from [`PathFeatures::to_array`]'s order.
    #[must_use]
    pub const fn from_array(values: [f64; FEATURE_COUNT]) -> Self {
        Self {
            log10_distance_m: values[0],
            freq_mhz: values[1],
            tx_height_agl_m: values[2],
            rx_height_agl_m: values[3],
            rx_above_tx_m: values[4],
            elevation_angle_deg: values[5],
            los_margin_deg: values[6],
            los_clearance_m: values[7],
            fresnel_ratio_min: values[8],
            knife_edge_loss_db: values[9],
            bullington_loss_db: values[10],
            deygout_loss_db: values[11],
            free_space_loss_db: values[12],
            free_space_bullington_loss_db: values[13],
            obstructed_fraction: values[14],
            terrain_std_m: values[15],
            terrain_relief_m: values[16],
            site_obstacle_distance_m: values[17],
            tx_obstacle_distance_m: values[18],
            device_ground_above_local_m: values[19],
        }
    }

    /// These features with the fields outside `set` NaN.
    #[must_use]
    pub fn only(&self, set: FeatureSet) -> Self {
        let mut values = self.to_array();
        for (index, value) in values.iter_mut().enumerate() {
            if !set.contains(index) {
                *value = f64::NAN;
            }
        }
        Self::from_array(values)
    }

    /// Ground distance, m.
    #[must_use]
    pub fn distance_m(&self) -> f64 {
        10f64.powf(self.log10_distance_m)
    }

    /// The features of `path` (transmitter = device at the first profile
    /// sample, receiver = site at the last) with k = 4/3, by running a
    /// [`FeatureSweep`] from the receiver over the reversed profile.
    ///
    /// # Errors
    /// [`Error::MissingProfile`] for a path without a terrain profile.
    pub fn of(path: &RadioPath) -> Result<Self> {
        Self::of_with_k(path, STANDARD_K_FACTOR)
    }

    /// [`PathFeatures::of`] with effective-earth-radius factor `k_factor`
    /// (`f64::INFINITY` for a flat earth).
    ///
    /// Samples at the same distance from the site keep the one nearer the
    /// device in profile order (the last pushed), so a profile with repeated
    /// end samples still ends at the device's own ground.
    ///
    /// # Errors
    /// [`Error::MissingProfile`] without a profile, [`Error::InvalidParameter`]
    /// for a k-factor that is not > 0.
    pub fn of_with_k(path: &RadioPath, k_factor: f64) -> Result<Self> {
        let profile = path
            .profile()
            .ok_or(Error::MissingProfile("PathFeatures"))?;
        let (d, h) = (&profile.distance_m, &profile.elevation_m);
        let n = d.len();
        let total = path.distance_m();
        let site = SweepSite::new(
            h[n - 1],
            path.rx_height_agl_m(),
            path.tx_height_agl_m(),
            path.freq_mhz(),
        )?
        .k_factor(k_factor);
        let mut sweep = FeatureSweep::new(site)?;
        // Reverse the profile: distance from the site, increasing. Equal
        // distances (repeated samples) collapse to the later one.
        let mut pending: Option<(f64, f64)> = None;
        for i in (0..n - 1).rev() {
            let ds = total - d[i];
            if ds <= 0.0 {
                continue;
            }
            match pending {
                Some((pd, _)) if ds <= pd => pending = Some((pd, h[i])),
                Some((pd, ph)) => {
                    sweep.push(pd, ph)?;
                    pending = Some((ds, h[i]));
                }
                None => pending = Some((ds, h[i])),
            }
        }
        // RadioPath guarantees a positive length, so the device sample exists.
        let (pd, ph) = pending.ok_or(Error::InvalidProfile("zero-length profile".into()))?;
        sweep.push(pd, ph)?;
        sweep
            .features()
            .ok_or(Error::InvalidProfile("no sample beyond the site".into()))
    }
}

/// The site a [`FeatureSweep`] stands at and the device assumptions: ground
/// elevation, antenna heights, frequency and k-factor, validated by
/// [`SweepSite::check`] (called by [`FeatureSweep::new`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SweepSite {
    /// Ground elevation at the site, m AMSL.
    pub ground_m: f64,
    /// Site (receiver) antenna height above ground, m.
    pub height_agl_m: f64,
    /// Device (transmitter) antenna height above ground, m.
    pub device_height_agl_m: f64,
    /// Frequency, MHz.
    pub freq_mhz: f64,
    /// Effective-earth-radius factor (4/3 by default).
    pub k_factor: f64,
}

impl SweepSite {
    /// A site with k = 4/3.
    ///
    /// # Errors
    /// As [`SweepSite::check`].
    pub fn new(
        ground_m: f64,
        height_agl_m: f64,
        device_height_agl_m: f64,
        freq_mhz: f64,
    ) -> Result<Self> {
        let site = Self {
            ground_m,
            height_agl_m,
            device_height_agl_m,
            freq_mhz,
            k_factor: STANDARD_K_FACTOR,
        };
        site.check()?;
        Ok(site)
    }

    /// Sets the effective-earth-radius factor (`f64::INFINITY`: flat earth).
    #[must_use]
    pub const fn k_factor(mut self, k_factor: f64) -> Self {
        self.k_factor = k_factor;
        self
    }

    /// Checks the values.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a non-finite ground, a height that is not
    /// a finite number ≥ 0 or a frequency that is not a finite number > 0;
    /// [`Error::InvalidParameter`] for a k-factor that is not > 0.
    pub fn check(&self) -> Result<()> {
        finite("ground_m", self.ground_m)?;
        non_negative("height_agl_m", self.height_agl_m)?;
        non_negative("device_height_agl_m", self.device_height_agl_m)?;
        positive("freq_mhz", self.freq_mhz)?;
        check_k_factor(self.k_factor)
    }
}

/// Slope scale of the angle bins: below it they are uniform in the slope,
/// above it [`BINS_PER_OCTAVE`] per octave of |slope| (fine near the
/// horizontal, where far samples lie). A power of two (≈ 1e-3), so the
/// octaves of |slope| + this start at bin edges.
const ANGLE_BIN_SLOPE: f64 = 1.0 / 1024.0;
/// Mantissa bits of |slope| + [`ANGLE_BIN_SLOPE`] that pick a bin in its octave.
const OCTAVE_BITS: u32 = 5;
/// Bins per octave of |slope| + [`ANGLE_BIN_SLOPE`]: ≈ 46 per unit of
/// ln|slope| for steep slopes, ≈ 33 per unit of asinh(slope / 1e-3) near
/// the horizontal (the asinh bins before were 28 per unit).
const BINS_PER_OCTAVE: usize = 1 << OCTAVE_BITS;
/// Octaves of |slope| + [`ANGLE_BIN_SLOPE`] covered per sign: slopes up to
/// ±8; steeper ones share the outermost bins.
const ANGLE_BIN_OCTAVES: usize = 13;
/// Bins per sign of the slope.
const HALF_BINS: usize = ANGLE_BIN_OCTAVES * BINS_PER_OCTAVE;
/// Number of angle bins of the obstructed-share counter.
const ANGLE_BINS: usize = 2 * HALF_BINS;
/// Bins per block of the obstructed-share counts.
const BIN_BLOCK: usize = 32;

/// The angle bin of a slope: a monotone step function, mirrored about 0,
/// read off the bits of |slope| + [`ANGLE_BIN_SLOPE`] (one addition, no
/// logarithm: it runs once per terrain sample of a coverage sweep). Its
/// bits above the top [`OCTAVE_BITS`] of the mantissa count octaves.
fn angle_bin(slope: f64) -> usize {
    // ≥ the scale for every slope (NaN: above it, so the last bin).
    let bits = (slope.abs() + ANGLE_BIN_SLOPE).to_bits();
    let from_scale = (bits - ANGLE_BIN_SLOPE.to_bits()) >> (52 - OCTAVE_BITS);
    let index = usize::try_from(from_scale).map_or(HALF_BINS - 1, |i| i.min(HALF_BINS - 1));
    if slope < 0.0 {
        HALF_BINS - 1 - index
    } else {
        HALF_BINS + index
    }
}

/// A point of the profile in the site frame: distance from the site and
/// ground minus the earth drop, m.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Point {
    d: f64,
    z: f64,
}

/// The distance-only terms of [`PathFeatures`]: see
/// [`FeatureSweep::distance_terms`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct DistanceTerms {
    distance_m: f64,
    log10_distance_m: f64,
    free_space_db: f64,
}

/// Incremental path features from a site outward: see the module docs.
///
/// Push samples in order of increasing distance from the site; after each
/// push, [`FeatureSweep::features`] describes a device at that sample (the
/// samples before it, except the site's own, are the terrain in between).
#[derive(Debug, Clone)]
pub struct FeatureSweep {
    site: SweepSite,
    /// What [`FeatureSweep::features`] computes (and `push` keeps up).
    computes: FeatureSet,
    /// Whether `commit` keeps the obstructed-share bins, and `push` the
    /// ground statistics (both follow from `computes`).
    keeps_bins: bool,
    keeps_ground: bool,
    /// Site antenna, m (site frame = AMSL at the site).
    site_antenna_m: f64,
    /// 1 / (2kR), 1/m (0 for a flat earth).
    drop_per_m2: f64,
    lambda_m: f64,
    /// The frequency's term of the free-space loss, dB (taken once).
    free_space_freq_db: f64,
    /// Upper convex hull of the committed intermediate samples.
    hull: Vec<Point>,
    /// Steepest site-frame slope from the site antenna to a committed sample,
    /// and that sample.
    horizon: Option<(f64, Point)>,
    /// Committed samples per slope bin, and per block of [`BIN_BLOCK`]
    /// bins: a sample costs two increments (every sample is added, only
    /// predicted ones are counted, so adding must be the cheap side), a
    /// count at most 25 + 32 additions.
    bin_counts: Vec<u32>,
    block_counts: [u32; ANGLE_BINS / BIN_BLOCK],
    committed: u32,
    /// The latest pushed sample (the device position): distance, raw ground.
    current: Option<(f64, f64)>,
    // Running ground statistics over the site and every pushed sample.
    ground_n: f64,
    ground_mean: f64,
    ground_m2: f64,
    ground_min: f64,
    ground_max: f64,
    /// Exponential average of the ground, scale LOCAL_GROUND_SCALE_M.
    ground_local: f64,
    /// The last step between samples and its weight in `ground_local`
    /// (see [`FeatureSweep::local_weight`]; NaN: none yet).
    local_step: (f64, f64),
}

impl FeatureSweep {
    /// A sweep standing at `site`, with no samples yet.
    ///
    /// # Errors
    /// As [`SweepSite::check`].
    pub fn new(site: SweepSite) -> Result<Self> {
        site.check()?;
        let drop_per_m2 = if site.k_factor.is_finite() {
            1.0 / (2.0 * site.k_factor * EARTH_RADIUS_M)
        } else {
            0.0
        };
        let mut sweep = Self {
            site,
            computes: FeatureSet::ALL,
            keeps_bins: true,
            keeps_ground: true,
            site_antenna_m: site.ground_m + site.height_agl_m,
            drop_per_m2,
            lambda_m: wavelength_m(site.freq_mhz),
            free_space_freq_db: free_space_freq_term_db(site.freq_mhz),
            hull: Vec::new(),
            horizon: None,
            bin_counts: vec![0; ANGLE_BINS],
            block_counts: [0; ANGLE_BINS / BIN_BLOCK],
            committed: 0,
            current: None,
            ground_n: 0.0,
            ground_mean: 0.0,
            ground_m2: 0.0,
            ground_min: 0.0,
            ground_max: 0.0,
            ground_local: 0.0,
            local_step: (f64::NAN, 0.0),
        };
        sweep.reset();
        Ok(sweep)
    }

    /// This sweep computing only `set` (all features by default), with no
    /// samples: see [`FeatureSet`]. Samples pushed before are forgotten
    /// (the state the set skips was not kept for them).
    #[must_use]
    pub fn computing(mut self, set: FeatureSet) -> Self {
        self.computes = set;
        self.keeps_bins = set.contains(field::OBSTRUCTED_FRACTION);
        // Sweeps are cloned where radials branch: no bins, nothing to copy.
        self.bin_counts = if self.keeps_bins {
            vec![0; ANGLE_BINS]
        } else {
            Vec::new()
        };
        self.keeps_ground = set.contains_any(&field::GROUND);
        self.reset();
        self
    }

    /// The site this sweep stands at.
    #[must_use]
    pub const fn site(&self) -> &SweepSite {
        &self.site
    }

    /// Forgets every sample (start of the next radial), keeping allocations.
    pub fn reset(&mut self) {
        self.hull.clear();
        self.horizon = None;
        self.bin_counts.fill(0);
        self.block_counts.fill(0);
        self.committed = 0;
        self.current = None;
        let g = self.site.ground_m;
        self.ground_n = 1.0;
        self.ground_mean = g;
        self.ground_m2 = 0.0;
        self.ground_min = g;
        self.ground_max = g;
        self.ground_local = g;
    }

    /// Distance of the latest sample from the site, m (`None` before the first push).
    #[must_use]
    pub fn distance_m(&self) -> Option<f64> {
        self.current.map(|(d, _)| d)
    }

    /// Adds the next sample outward: `distance_m` from the site (greater than
    /// the previous sample's) and its ground elevation, m AMSL. The previous
    /// sample becomes terrain between the site and the device.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a distance that is not finite, not > 0 or
    /// not beyond the previous sample, or a non-finite ground elevation.
    pub fn push(&mut self, distance_m: f64, ground_m: f64) -> Result<()> {
        let previous_m = self.current.map_or(0.0, |(d, _)| d);
        if !(distance_m.is_finite() && distance_m > previous_m) {
            return Err(Error::InvalidInput {
                name: "distance_m",
                value: distance_m,
                expected: "a finite distance beyond the previous sample's (samples go outward from the site)",
            });
        }
        finite("ground_m", ground_m)?;
        if let Some((d, g)) = self.current {
            self.commit(d, g);
        }
        self.current = Some((distance_m, ground_m));
        if !self.keeps_ground {
            return Ok(());
        }
        // Welford's running mean and variance.
        self.ground_n += 1.0;
        let delta = ground_m - self.ground_mean;
        self.ground_mean += delta / self.ground_n;
        self.ground_m2 += delta * (ground_m - self.ground_mean);
        self.ground_min = self.ground_min.min(ground_m);
        self.ground_max = self.ground_max.max(ground_m);
        let alpha = self.local_weight(distance_m - previous_m);
        self.ground_local += alpha * (ground_m - self.ground_local);
        Ok(())
    }

    /// Weight of a new sample `step_m` beyond the previous one in the local
    /// ground average, 1 − exp(−step / scale). A sweep at a fixed step asks
    /// for the same step every time, so the last answer is kept.
    fn local_weight(&mut self, step_m: f64) -> f64 {
        if step_m.to_bits() != self.local_step.0.to_bits() {
            self.local_step = (step_m, 1.0 - (-step_m / LOCAL_GROUND_SCALE_M).exp());
        }
        self.local_step.1
    }

    fn frame(&self, d: f64, ground_m: f64) -> Point {
        Point {
            d,
            z: ground_m - d * d * self.drop_per_m2,
        }
    }

    /// Makes a sample part of the terrain between site and device.
    fn commit(&mut self, d: f64, ground_m: f64) {
        let p = self.frame(d, ground_m);
        let slope = (p.z - self.site_antenna_m) / p.d;
        if self.horizon.is_none_or(|(s, _)| slope > s) {
            self.horizon = Some((slope, p));
        }
        // Monotone chain: drop vertices that are not strictly above the new edge.
        while let [.., a, b] = self.hull[..] {
            let cross = (b.d - a.d) * (p.z - a.z) - (b.z - a.z) * (p.d - a.d);
            if cross >= 0.0 {
                self.hull.pop();
            } else {
                break;
            }
        }
        self.hull.push(p);
        if !self.keeps_bins {
            return;
        }
        let bin = angle_bin(slope);
        self.bin_counts[bin] += 1;
        self.block_counts[bin / BIN_BLOCK] += 1;
        self.committed += 1;
    }

    /// Committed samples in bins ≤ `bin`.
    fn count_up_to(&self, bin: usize) -> u32 {
        let block = bin / BIN_BLOCK;
        self.block_counts[..block].iter().sum::<u32>()
            + self.bin_counts[block * BIN_BLOCK..=bin].iter().sum::<u32>()
    }

    /// The hull vertex that the steepest ray from `device` (to the right of
    /// every vertex) touches: first k where vertex k+1 is not above the ray
    /// through vertex k (unimodal along a convex chain).
    fn device_tangent(&self, device: Point) -> Point {
        // Slopes from the device compared without dividing: every vertex
        // lies before the device, so the runs d_device − d are > 0.
        let steeper = |a: Point, b: Point| {
            (b.z - device.z) * (device.d - a.d) > (a.z - device.z) * (device.d - b.d)
        };
        let (mut lo, mut hi) = (0usize, self.hull.len() - 1);
        while lo < hi {
            let mid = usize::midpoint(lo, hi);
            if steeper(self.hull[mid], self.hull[mid + 1]) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        self.hull[lo]
    }

    /// The hull vertex highest above a line of slope `slope`: first vertex
    /// whose outgoing edge is not steeper than it (edge slopes decrease).
    fn highest_above(&self, slope: f64) -> Point {
        // Edge k steeper than `slope`, without dividing (runs are > 0).
        let steeper = |k: usize| {
            let (a, b) = (self.hull[k], self.hull[k + 1]);
            b.z - a.z > slope * (b.d - a.d)
        };
        let (mut lo, mut hi) = (0usize, self.hull.len() - 1);
        while lo < hi {
            let mid = usize::midpoint(lo, hi);
            if steeper(mid) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        self.hull[lo]
    }

    /// ITU Deygout (P.452-14 §4.2, as [`crate::Deygout::itu`]) with its edges
    /// taken from `candidates` only: the principal edge is the candidate with
    /// the largest ν relative to the ray site → device, the secondary edges
    /// the candidates with the largest ν on either side of it relative to
    /// the rays to its top.
    fn deygout_db(&self, site: Point, device: Point, candidates: [Point; 3]) -> f64 {
        let total = device.d - site.d;
        // The candidates are often one sample: each once, its last
        // occurrence kept, so that `max_by` (the last of equal maxima)
        // chooses the sample it would choose among all three.
        let [c0, c1, c2] = candidates;
        let distinct = [
            (c0.d != c1.d && c0.d != c2.d).then_some(c0),
            (c1.d != c2.d).then_some(c1),
            Some(c2),
        ];
        let candidates = distinct.iter().flatten();
        // The candidate with the largest ν relative to the chord a → b
        // (ζ-scaled as the ITU variant does; ζ depends on the chord only, so
        // it is taken once per chord, not per candidate).
        let worst = |a: Point, b: Point| -> Option<(Point, f64)> {
            let slope = (b.z - a.z) / (b.d - a.d);
            let mut zeta = None;
            candidates
                .clone()
                .filter(|p| p.d > a.d && p.d < b.d)
                .map(|&p| {
                    let zeta = *zeta.get_or_insert_with(|| zeta_of_slope(slope));
                    let h = p.z - (a.z + slope * (p.d - a.d));
                    let (d1, d2) = (p.d - a.d, b.d - p.d);
                    let nu = zeta * h * (2.0 * (d1 + d2) / (self.lambda_m * d1 * d2)).sqrt();
                    (p, nu)
                })
                .max_by(|x, y| x.1.total_cmp(&y.1))
        };
        let Some((m, nu_m)) = worst(site, device) else {
            return 0.0;
        };
        let l_m = knife_edge_loss_db(nu_m);
        if l_m <= 0.0 {
            return 0.0;
        }
        let l_t = worst(site, m).map_or(0.0, |(_, v)| knife_edge_loss_db(v));
        let l_r = worst(m, device).map_or(0.0, |(_, v)| knife_edge_loss_db(v));
        l_m + (1.0 - (-l_m / 6.0).exp()) * (l_t + l_r + 10.0 + 0.04 * total / 1000.0)
    }

    /// The terms of [`PathFeatures`] that depend on the device's distance
    /// alone, for a device `distance_m` from the site: a caller that pushes
    /// the same distances radial after radial (the coverage sweep: `i·step`)
    /// can take them once per distance and hand them to
    /// [`FeatureSweep::features_with`], saving two logarithms per sample.
    pub(crate) fn distance_terms(&self, distance_m: f64) -> DistanceTerms {
        DistanceTerms {
            distance_m,
            log10_distance_m: distance_m.log10(),
            free_space_db: free_space_db_from(self.free_space_freq_db, distance_m),
        }
    }

    /// The features of a device at the latest pushed sample (`None` before
    /// the first push); only those of [`FeatureSweep::computing`], the
    /// others NaN.
    #[must_use]
    pub fn features(&self) -> Option<PathFeatures> {
        let (dist, _) = self.current?;
        self.features_with(&self.distance_terms(dist))
    }

    /// [`FeatureSweep::features`] with the distance terms given: `terms`
    /// must be [`FeatureSweep::distance_terms`] of the latest sample's
    /// distance (of this sweep or one with the same site), bit for bit.
    /// Checked in debug builds.
    pub(crate) fn features_with(&self, terms: &DistanceTerms) -> Option<PathFeatures> {
        let wants = |index| self.computes.contains(index);
        let (dist, g_dev) = self.current?;
        debug_assert_eq!(dist.to_bits(), terms.distance_m.to_bits());
        let site = &self.site;
        let h_s = self.site_antenna_m;
        let device = {
            let p = self.frame(dist, g_dev);
            Point {
                d: p.d,
                z: p.z + site.device_height_agl_m,
            }
        };
        // Slope of the direct ray from the site antenna to the device antenna.
        let ray = (device.z - h_s) / dist;
        let above_ray = |p: Point| p.z - (h_s + ray * p.d);
        let nu =
            |p: Point| above_ray(p) * (2.0 * dist / (self.lambda_m * p.d * (dist - p.d))).sqrt();

        // With no sample in between, a virtual midpoint (the ground
        // interpolated between the ends), as PathGeometry does.
        let (site_horizon, device_horizon, highest, obstructed_fraction) =
            match (self.horizon, self.hull.is_empty()) {
                (Some((slope, horizon)), false) => {
                    let obstructed_fraction = if self.keeps_bins {
                        let below = self.count_up_to(angle_bin(ray));
                        f64::from(self.committed - below) / f64::from(self.committed)
                    } else {
                        f64::NAN
                    };
                    (
                        (slope, horizon),
                        self.device_tangent(device),
                        self.highest_above(ray),
                        obstructed_fraction,
                    )
                }
                _ => {
                    let mid = self.frame(dist / 2.0, f64::midpoint(site.ground_m, g_dev));
                    let slope = (mid.z - h_s) / mid.d;
                    let blocked = if above_ray(mid) > 0.0 { 1.0 } else { 0.0 };
                    ((slope, mid), mid, mid, blocked)
                }
            };
        let (horizon_slope, site_obstacle) = site_horizon;
        let max_excess_m = above_ray(highest);
        // The three are often one sample (one obstacle dominates): its ν
        // once (samples differ in distance; equal ν, equal maximum).
        let nu_site = nu(site_obstacle);
        let nu_device = if device_horizon.d == site_obstacle.d {
            nu_site
        } else {
            nu(device_horizon)
        };
        let nu_highest = if highest.d == site_obstacle.d {
            nu_site
        } else if highest.d == device_horizon.d {
            nu_device
        } else {
            nu(highest)
        };
        let nu_max = nu_site.max(nu_device).max(nu_highest);

        // Bullington (P.526 §4.5.1): on a shadowed path, the knife edge where
        // the site's and the device's horizon rays cross.
        let nu_b = if max_excess_m > 0.0 {
            let device_slope = (device_horizon.z - device.z) / (dist - device_horizon.d);
            let x_b = (device.z + device_slope * dist - h_s) / (horizon_slope + device_slope);
            if x_b > 0.0 && x_b < dist {
                (horizon_slope - ray)
                    * x_b
                    * (2.0 * dist / (self.lambda_m * x_b * (dist - x_b))).sqrt()
            } else {
                nu_max
            }
        } else {
            nu_max
        };
        // On a line-of-sight path Bullington's ν is ν_max: one J(ν) for both.
        let same_nu = nu_b.to_bits() == nu_max.to_bits();
        let knife_edge_db = if wants(field::KNIFE_EDGE) || same_nu {
            knife_edge_loss_db(nu_max)
        } else {
            f64::NAN
        };
        let l_uc = if same_nu {
            knife_edge_db
        } else {
            knife_edge_loss_db(nu_b)
        };
        // A clear path (J = 0): the formula gives +0 (0 + (1 − e⁰)·c); no `exp`.
        let bullington_db = if l_uc == 0.0 {
            0.0
        } else {
            l_uc + (1.0 - (-l_uc / 6.0).exp()) * (10.0 + 0.02 * dist / 1000.0)
        };
        let free_space_db = terms.free_space_db;
        let deygout_db = if wants(field::DEYGOUT) {
            self.deygout_db(
                Point { d: 0.0, z: h_s },
                device,
                [site_obstacle, device_horizon, highest],
            )
        } else {
            f64::NAN
        };
        let (terrain_std_m, terrain_relief_m, device_ground_above_local_m) = if self.keeps_ground {
            let std_m = if self.ground_n > 1.0 {
                (self.ground_m2 / (self.ground_n - 1.0)).max(0.0).sqrt()
            } else {
                0.0
            };
            (
                std_m,
                self.ground_max - self.ground_min,
                g_dev - self.ground_local,
            )
        } else {
            (f64::NAN, f64::NAN, f64::NAN)
        };
        // libm's atan: glibc's saves and restores the rounding mode per call.
        let (elevation_angle_deg, los_margin_deg) =
            if wants(field::ELEVATION_ANGLE) || wants(field::LOS_MARGIN) {
                let elevation_angle_deg = libm::atan(ray).to_degrees();
                (
                    elevation_angle_deg,
                    elevation_angle_deg - libm::atan(horizon_slope).to_degrees(),
                )
            } else {
                (f64::NAN, f64::NAN)
            };
        let features = PathFeatures {
            log10_distance_m: terms.log10_distance_m,
            freq_mhz: site.freq_mhz,
            tx_height_agl_m: site.device_height_agl_m,
            rx_height_agl_m: site.height_agl_m,
            rx_above_tx_m: h_s - (g_dev + site.device_height_agl_m),
            elevation_angle_deg,
            los_margin_deg,
            los_clearance_m: -max_excess_m,
            fresnel_ratio_min: (-nu_max / SQRT_2).clamp(-FRESNEL_RATIO_LIMIT, FRESNEL_RATIO_LIMIT),
            knife_edge_loss_db: knife_edge_db,
            bullington_loss_db: bullington_db,
            deygout_loss_db: deygout_db,
            free_space_loss_db: free_space_db,
            free_space_bullington_loss_db: free_space_db + bullington_db,
            obstructed_fraction,
            terrain_std_m,
            terrain_relief_m,
            site_obstacle_distance_m: site_obstacle.d,
            tx_obstacle_distance_m: dist - device_horizon.d,
            device_ground_above_local_m,
        };
        Some(if self.computes == FeatureSet::ALL {
            features
        } else {
            features.only(self.computes)
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use hexcover_core::PathProfile;
    use proptest::prelude::*;

    use super::*;
    use crate::{Bullington, Diffraction, FreeSpace, PathGeometry, PathLoss};

    fn path(d: &[f64], h: &[f64], f: f64, h_tx: f64, h_rx: f64) -> RadioPath {
        let profile = PathProfile {
            distance_m: d.to_vec(),
            elevation_m: h.to_vec(),
            filled_voids: 0,
        };
        RadioPath::over_profile(profile, f, h_tx, h_rx).unwrap()
    }

    fn close(a: f64, b: f64, tol: f64) {
        assert!((a - b).abs() <= tol, "{a} vs {b} (tolerance {tol})");
    }

    #[test]
    fn single_edge_matches_the_exact_methods() {
        // The 100 m edge of diffraction.rs: 12 km, 900 MHz, flat earth, antennas
        // 50 m (transmitter) and 25 m (receiver). ν = 4.25147, J = 25.4080 dB,
        // Bullington 35.4997 dB (see diffraction.rs for the hand computation).
        let d: Vec<f64> = (0..=24).map(|i| f64::from(i) * 500.0).collect();
        let mut h = vec![0.0; 25];
        h[20] = 100.0;
        let p = path(&d, &h, 900.0, 50.0, 25.0);
        let f = PathFeatures::of_with_k(&p, f64::INFINITY).unwrap();
        close(f.knife_edge_loss_db, 25.4080, 1e-3);
        close(f.bullington_loss_db, 35.4997, 1e-3);
        // ITU Deygout: the single edge as principal edge, 35.7362 dB (diffraction.rs).
        close(f.deygout_loss_db, 35.7362, 1e-3);
        close(
            f.free_space_loss_db,
            FreeSpace.path_loss_db(&p).unwrap(),
            1e-9,
        );
        let g = PathGeometry::of(&p, f64::INFINITY).unwrap();
        close(f.los_clearance_m, g.min_clearance_m, 1e-9);
        close(f.fresnel_ratio_min, g.min_clearance_ratio, 1e-9);
        // The edge stands 2 km from the receiver (the site), 10 km from the device.
        close(f.site_obstacle_distance_m, 2_000.0, 1e-9);
        close(f.tx_obstacle_distance_m, 10_000.0, 1e-9);
        close(f.obstructed_fraction, 1.0 / 23.0, 1e-12);
        close(f.rx_above_tx_m, -25.0, 1e-12);
        close(f.terrain_relief_m, 100.0, 0.0);
        close(f.log10_distance_m, 12_000f64.log10(), 1e-12);
        // The site (25 m up) sees the device (50 m up) at atan(25/12000) above
        // the horizontal, and the edge at atan(75/2000).
        close(
            f.los_margin_deg,
            (25.0f64 / 12_000.0).atan().to_degrees() - (75.0f64 / 2_000.0).atan().to_degrees(),
            1e-9,
        );
    }

    #[test]
    fn sweep_and_path_agree_bit_for_bit() {
        // Same samples, fed once as a sweep and once as whole paths to each point.
        let ground: Vec<f64> = (0..200)
            .map(|i| 480.0 + 25.0 * (f64::from(i) * 0.07).sin() + 0.1 * f64::from(i))
            .collect();
        let step = 30.0;
        let site = SweepSite::new(ground[0], 12.0, 2.0, 868.3).unwrap();
        let mut sweep = FeatureSweep::new(site).unwrap();
        for n in 1..ground.len() {
            sweep.push(step * n as f64, ground[n]).unwrap();
            let swept = sweep.features().unwrap();
            // The profile from the device (sample n) back to the site (sample 0).
            let d: Vec<f64> = (0..=n).map(|i| step * i as f64).collect();
            let h: Vec<f64> = (0..=n).rev().map(|i| ground[i]).collect();
            let whole = PathFeatures::of(&path(&d, &h, 868.3, 2.0, 12.0)).unwrap();
            assert_eq!(swept, whole, "sample {n}");
            assert!(swept.to_array().iter().all(|v| v.is_finite()));
        }
        // reset() starts over: the first sample again gives the same features.
        sweep.reset();
        sweep.push(step, ground[1]).unwrap();
        let again = sweep.features().unwrap();
        let whole = PathFeatures::of(&path(
            &[0.0, step],
            &[ground[1], ground[0]],
            868.3,
            2.0,
            12.0,
        ))
        .unwrap();
        assert_eq!(again, whole);
    }

    #[test]
    fn distance_terms_taken_once_are_the_features_own() {
        // The coverage sweep takes the distance terms once per distance,
        // from the fresh sweep, and hands them to sweeps far along radials.
        let site = SweepSite::new(480.0, 10.0, 1.5, 868.3).unwrap();
        for set in [FeatureSet::ALL, FeatureSet::FREE_SPACE_BULLINGTON] {
            let fresh = FeatureSweep::new(site).unwrap().computing(set);
            let mut sweep = fresh.clone();
            for i in 1..300 {
                let d = f64::from(i) * 92.7;
                let g = 480.0 + 30.0 * (f64::from(i) * 0.11).sin();
                sweep.push(d, g).unwrap();
                let terms = fresh.distance_terms(d);
                let given = sweep.features_with(&terms).unwrap().to_array();
                let own = sweep.features().unwrap().to_array();
                assert!(
                    given
                        .iter()
                        .zip(&own)
                        .all(|(a, b)| a.to_bits() == b.to_bits()),
                    "{i}: {given:?} vs {own:?}"
                );
                // The terms are the definitions.
                let free_space = free_space_db_from(free_space_freq_term_db(868.3), d);
                assert_eq!(terms.free_space_db.to_bits(), free_space.to_bits());
                assert_eq!(terms.log10_distance_m.to_bits(), d.log10().to_bits());
            }
        }
    }

    #[test]
    fn a_subset_is_the_full_sweep_bit_for_bit() {
        // Hills, a ridge that shadows, and line-of-sight stretches: a sweep
        // that computes only some fields gives those fields bit for bit as
        // the full sweep does, and NaN for the rest. The sets: the physics
        // baseline's, none, every single field, every field but one, and
        // pseudo-random ones (which switch the bins, the ground statistics,
        // Deygout, the angles and the knife edge on and off together).
        let ground: Vec<f64> = (0..400)
            .map(|i| {
                let x = f64::from(i);
                480.0 + 25.0 * (x * 0.07).sin() + if i == 120 { 60.0 } else { 0.0 } - 0.05 * x
            })
            .collect();
        let mut sets = vec![FeatureSet::FREE_SPACE_BULLINGTON, FeatureSet::NONE];
        for f in 0..FEATURE_COUNT {
            sets.push(FeatureSet::NONE.with(f));
            sets.push(FeatureSet(FeatureSet::ALL.0 & !(1 << f)));
        }
        let mut state = 0x9e37_79b9_u32;
        for _ in 0..40 {
            // xorshift32: any bit pattern of the 20 fields.
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            sets.push(FeatureSet(state & FeatureSet::ALL.0));
        }
        let site = SweepSite::new(ground[0], 10.0, 1.5, 868.3).unwrap();
        for set in sets {
            let mut full = FeatureSweep::new(site).unwrap();
            let mut part = FeatureSweep::new(site).unwrap().computing(set);
            let (mut shadowed, mut clear) = (0, 0);
            for (n, &g) in ground.iter().enumerate().skip(1) {
                // Not a multiple of a round step: the distances carry rounding.
                let d = 92.7 * n as f64;
                full.push(d, g).unwrap();
                part.push(d, g).unwrap();
                let (f, p) = (full.features().unwrap(), part.features().unwrap());
                for (index, (whole, got)) in f.to_array().iter().zip(p.to_array()).enumerate() {
                    if set.contains(index) {
                        assert_eq!(whole.to_bits(), got.to_bits(), "{set:?} sample {n} {index}");
                    } else {
                        assert!(got.is_nan(), "{set:?} sample {n} {index}: {got}");
                    }
                }
                assert_eq!(
                    f.only(set).to_array().map(f64::to_bits),
                    p.to_array().map(f64::to_bits)
                );
                if f.los_clearance_m < 0.0 {
                    shadowed += 1;
                } else {
                    clear += 1;
                }
            }
            assert!(shadowed > 50 && clear > 10, "{shadowed} {clear}");
        }
    }

    #[test]
    fn field_indices_are_the_names_positions() {
        let at = |name: &str| PathFeatures::NAMES.iter().position(|&n| n == name).unwrap();
        for (index, name) in [
            (field::LOG10_DISTANCE, "log10_distance_m"),
            (field::ELEVATION_ANGLE, "elevation_angle_deg"),
            (field::LOS_MARGIN, "los_margin_deg"),
            (field::LOS_CLEARANCE, "los_clearance_m"),
            (field::FRESNEL_RATIO, "fresnel_ratio_min"),
            (field::KNIFE_EDGE, "knife_edge_loss_db"),
            (field::BULLINGTON, "bullington_loss_db"),
            (field::DEYGOUT, "deygout_loss_db"),
            (field::FREE_SPACE, "free_space_loss_db"),
            (
                field::FREE_SPACE_BULLINGTON,
                "free_space_bullington_loss_db",
            ),
            (field::OBSTRUCTED_FRACTION, "obstructed_fraction"),
            (field::TERRAIN_STD, "terrain_std_m"),
            (field::TERRAIN_RELIEF, "terrain_relief_m"),
            (
                field::DEVICE_GROUND_ABOVE_LOCAL,
                "device_ground_above_local_m",
            ),
        ] {
            assert_eq!(index, at(name), "{name}");
        }
        // The array order is the names' order, and back.
        let f = PathFeatures::from_array(std::array::from_fn(|i| i as f64));
        assert_eq!(f.to_array(), std::array::from_fn(|i| i as f64));
        assert_eq!(f.log10_distance_m, 0.0);
        assert_eq!(f.device_ground_above_local_m, 19.0);
        assert_eq!(FeatureSet::ALL.len(), FEATURE_COUNT);
        assert!(FeatureSet::NONE.is_empty());
        assert!(!FeatureSet::ALL.contains(FEATURE_COUNT));
    }

    #[test]
    fn angle_bins_are_monotone_and_mirrored() {
        // Slopes from 1e-12 to 1e4, both signs, and the edges of the range.
        let mut slopes: Vec<f64> = (0..40_000)
            .map(|i| 10f64.powf(-12.0 + 16.0 * f64::from(i) / 40_000.0))
            .flat_map(|s| [s, -s])
            .collect();
        slopes.extend([
            0.0,
            -0.0,
            f64::MAX,
            f64::MIN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ]);
        slopes.sort_by(f64::total_cmp);
        let bins: Vec<usize> = slopes.iter().map(|&s| angle_bin(s)).collect();
        assert!(bins.windows(2).all(|w| w[0] <= w[1]), "not monotone");
        assert_eq!(bins[0], 0);
        assert_eq!(*bins.last().unwrap(), ANGLE_BINS - 1);
        // Every bin is reached, so none is wasted.
        let mut seen = vec![false; ANGLE_BINS];
        for &b in &bins {
            seen[b] = true;
        }
        assert!(seen.iter().all(|&s| s), "unreached bins");
        for &s in &slopes {
            if s != 0.0 {
                assert_eq!(angle_bin(-s), ANGLE_BINS - 1 - angle_bin(s), "slope {s:e}");
            }
        }
        // Uniform below the scale: 32 bins from 0 to it, then 32 per octave.
        assert_eq!(angle_bin(0.0), HALF_BINS);
        assert_eq!(angle_bin(ANGLE_BIN_SLOPE * 0.999), HALF_BINS + 31);
        assert_eq!(angle_bin(ANGLE_BIN_SLOPE), HALF_BINS + 32);
        assert_eq!(angle_bin(3.0 * ANGLE_BIN_SLOPE), HALF_BINS + 64);
        // The last octave, 4 ≤ |slope| + scale < 8: 6 is half way into it.
        assert_eq!(angle_bin(6.0), ANGLE_BINS - 1 - 15);
        assert_eq!(angle_bin(7.99), ANGLE_BINS - 1);
        assert_eq!(angle_bin(100.0), ANGLE_BINS - 1);
        assert_eq!(angle_bin(f64::NAN), ANGLE_BINS - 1);
    }

    #[test]
    fn bad_pushes_are_errors() {
        let mut sweep = FeatureSweep::new(SweepSite::new(0.0, 10.0, 1.5, 868.0).unwrap()).unwrap();
        assert!(sweep.features().is_none());
        assert!(sweep.push(0.0, 1.0).is_err());
        sweep.push(30.0, 1.0).unwrap();
        assert!(sweep.push(30.0, 1.0).is_err());
        assert!(sweep.push(20.0, 1.0).is_err());
        assert!(sweep.push(60.0, f64::NAN).is_err());
        assert!(sweep.push(f64::INFINITY, 1.0).is_err());
        assert_eq!(sweep.distance_m(), Some(30.0));
        assert!(SweepSite::new(0.0, -1.0, 1.5, 868.0).is_err());
        assert!(SweepSite::new(0.0, 1.0, 1.5, 0.0).is_err());
        assert!(
            FeatureSweep::new(SweepSite::new(0.0, 1.0, 1.5, 868.0).unwrap().k_factor(0.0)).is_err()
        );
        let bare = RadioPath::new(100.0, 868.0, 1.5, 10.0).unwrap();
        assert!(matches!(
            PathFeatures::of(&bare),
            Err(Error::MissingProfile(_))
        ));
    }

    #[test]
    fn repeated_end_samples_collapse() {
        let p = path(
            &[0.0, 0.0, 2_000.0, 2_000.0],
            &[10.0, 12.0, 30.0, 31.0],
            868.0,
            5.0,
            5.0,
        );
        let f = PathFeatures::of(&p).unwrap();
        // Device ground is the first sample's (10 m); site the last's (31 m).
        close(f.rx_above_tx_m, 31.0 + 5.0 - 15.0, 1e-12);
        close(f.log10_distance_m, 2_000f64.log10(), 1e-12);
    }

    fn arb_profile() -> impl Strategy<Value = (Vec<f64>, f64, f64)> {
        (
            prop::collection::vec(0.0..120.0f64, 3..80),
            0.0..40.0f64,
            0.5..5.0f64,
        )
    }

    proptest! {
        /// Exact where the module docs say so: LOS clearance as PathGeometry,
        /// Bullington as the full-profile method on shadowed paths; and the
        /// approximate ν never exceeds the exact one.
        #[test]
        fn exact_parts_match_full_profile_methods((h, h_rx, h_tx) in arb_profile()) {
            let d: Vec<f64> = (0..h.len()).map(|i| 90.0 * i as f64).collect();
            let p = path(&d, &h, 868.3, h_tx, h_rx);
            let f = PathFeatures::of(&p).unwrap();
            let g = PathGeometry::of(&p, STANDARD_K_FACTOR).unwrap();
            prop_assert!((f.los_clearance_m - g.min_clearance_m).abs() < 1e-6);
            prop_assert!(
                f.fresnel_ratio_min >= g.min_clearance_ratio.clamp(-FRESNEL_RATIO_LIMIT, FRESNEL_RATIO_LIMIT) - 1e-9
            );
            let exact = Bullington::default().diffraction_loss_db(&p).unwrap();
            if g.min_clearance_m < 0.0 {
                prop_assert!((f.bullington_loss_db - exact).abs() < 1e-6, "{} vs {}", f.bullington_loss_db, exact);
            } else {
                prop_assert!(f.bullington_loss_db <= exact + 1e-9);
            }
            prop_assert!(f.to_array().iter().all(|v| v.is_finite()));
            prop_assert!((0.0..=1.0).contains(&f.obstructed_fraction));
        }
    }
}
