use std::f64::consts::SQRT_2;

use hexcover_core::EARTH_RADIUS_M;

use crate::RadioPath;
use crate::error::{Error, Result, check_k_factor};
use crate::knife_edge::nu_unchecked;

/// The terrain of a path in the straight-ray frame: ground elevations with
/// the earth bulge `d1·d2 / (2kR)` added, so rays are straight lines, and the
/// antenna heights above mean sea level at both ends.
///
/// A profile without a sample strictly between the ends gets a midpoint (the
/// ground interpolated between the ends plus the bulge there), so every path
/// has an interior.
#[derive(Debug, Clone)]
pub(crate) struct Section {
    /// Distance of each sample from the transmitter, m.
    pub d: Vec<f64>,
    /// Ground elevation plus earth bulge, m.
    pub h: Vec<f64>,
    /// Transmitter antenna, m AMSL.
    pub h_tx: f64,
    /// Receiver antenna, m AMSL.
    pub h_rx: f64,
    /// Wavelength, m.
    pub lambda: f64,
}

impl Section {
    /// The section of `path` for effective-earth-radius factor `k_factor`;
    /// `None` when the path has no profile.
    pub(crate) fn of(path: &RadioPath, k_factor: f64) -> Result<Option<Self>> {
        check_k_factor(k_factor)?;
        let Some(profile) = path.profile() else {
            return Ok(None);
        };
        let mut d = profile.distance_m.clone();
        let mut h = profile.curved_elevations_m(k_factor);
        let n = d.len();
        // RadioPath guarantees at least two samples, distance 0 first, length > 0.
        let (g_tx, g_rx) = (profile.elevation_m[0], profile.elevation_m[n - 1]);
        let total = d[n - 1];
        if !d.iter().any(|&x| x > 0.0 && x < total) {
            let half = total / 2.0;
            let bulge = half * half / (2.0 * k_factor * EARTH_RADIUS_M);
            d = vec![0.0, half, total];
            h = vec![g_tx, (g_tx + g_rx) / 2.0 + bulge, g_rx];
        }
        Ok(Some(Self {
            d,
            h,
            h_tx: g_tx + path.tx_height_agl_m(),
            h_rx: g_rx + path.rx_height_agl_m(),
            lambda: path.wavelength_m(),
        }))
    }

    /// Number of samples (≥ 3).
    pub(crate) fn len(&self) -> usize {
        self.d.len()
    }

    /// Path length, m.
    pub(crate) fn total(&self) -> f64 {
        self.d[self.d.len() - 1]
    }

    /// Indices of the samples strictly inside the path (0 < d < total).
    pub(crate) fn interior(&self) -> impl Iterator<Item = usize> + '_ {
        let total = self.total();
        (1..self.len().saturating_sub(1)).filter(move |&i| self.d[i] > 0.0 && self.d[i] < total)
    }

    /// Height of sample `i` above the chord from (d[a], ha) to (d[b], hb).
    pub(crate) fn excess(&self, i: usize, a: usize, ha: f64, b: usize, hb: f64) -> f64 {
        let (da, db, di) = (self.d[a], self.d[b], self.d[i]);
        self.h[i] - (ha * (db - di) + hb * (di - da)) / (db - da)
    }

    /// The sample with the largest ν strictly between samples `a` and `b`,
    /// relative to the chord from (d[a], ha) to (d[b], hb): (index, ν).
    pub(crate) fn max_nu(&self, a: usize, ha: f64, b: usize, hb: f64) -> Option<(usize, f64)> {
        let (da, db) = (self.d[a], self.d[b]);
        let mut best: Option<(usize, f64)> = None;
        for i in a + 1..b {
            let di = self.d[i];
            if di <= da || di >= db {
                continue;
            }
            let nu = nu_unchecked(self.excess(i, a, ha, b, hb), di - da, db - di, self.lambda);
            if best.is_none_or(|(_, b)| nu > b) {
                best = Some((i, nu));
            }
        }
        best
    }
}

/// Line-of-sight and Fresnel-zone geometry of a path over its terrain
/// profile: the terrain features of the learned model.
///
/// Heights are compared in the straight-ray frame (ground plus the earth
/// bulge for the chosen k-factor, see
/// [`hexcover_core::PathProfile::curved_elevations_m`]); clearances are taken
/// over the profile's interior samples (a two-sample profile gets its
/// midpoint, the ground interpolated between the ends).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PathGeometry {
    /// Path length, m.
    pub distance_m: f64,
    /// Ground elevation at the transmitter, m AMSL.
    pub tx_ground_m: f64,
    /// Ground elevation at the receiver, m AMSL.
    pub rx_ground_m: f64,
    /// Transmitter antenna, m AMSL.
    pub tx_antenna_amsl_m: f64,
    /// Receiver antenna, m AMSL.
    pub rx_antenna_amsl_m: f64,
    /// Smallest clearance of the direct ray over the terrain, m: negative
    /// when the terrain blocks the line of sight.
    pub min_clearance_m: f64,
    /// Smallest clearance divided by the first Fresnel-zone radius there:
    /// ≥ 0.6 is the usual "Fresnel zone clear" rule, < 0 is obstructed.
    /// Equals −ν_max/√2.
    pub min_clearance_ratio: f64,
    /// Distance from the transmitter of the sample with the smallest ratio, m.
    pub critical_distance_m: f64,
    /// Number of separate runs of samples where the terrain is above the ray.
    pub obstructions: usize,
    /// Fraction of the interior samples where the terrain is above the ray.
    pub obstructed_fraction: f64,
    /// Highest minus lowest ground elevation along the profile, m.
    pub terrain_relief_m: f64,
    /// Number of profile samples.
    pub samples: usize,
}

impl PathGeometry {
    /// The geometry of `path` with effective-earth-radius factor `k_factor`
    /// ([`hexcover_core::STANDARD_K_FACTOR`] = 4/3 normally).
    ///
    /// # Errors
    /// [`Error::MissingProfile`] for a path without a terrain profile;
    /// [`Error::InvalidParameter`] for a k-factor that is not > 0.
    pub fn of(path: &RadioPath, k_factor: f64) -> Result<Self> {
        let section = Section::of(path, k_factor)?.ok_or(Error::MissingProfile("PathGeometry"))?;
        let profile = path
            .profile()
            .ok_or(Error::MissingProfile("PathGeometry"))?;
        let last = section.len() - 1;
        let total = section.total();
        let mut min_clearance_m = f64::INFINITY;
        let mut min_ratio = f64::INFINITY;
        let mut critical_distance_m = total / 2.0;
        let (mut obstructions, mut obstructed, mut interior) = (0usize, 0usize, 0usize);
        let mut in_obstruction = false;
        for i in section.interior() {
            interior += 1;
            let clearance = -section.excess(i, 0, section.h_tx, last, section.h_rx);
            let (d1, d2) = (section.d[i], total - section.d[i]);
            let r1 = (section.lambda * d1 * d2 / total).sqrt();
            let ratio = clearance / r1;
            min_clearance_m = min_clearance_m.min(clearance);
            if ratio < min_ratio {
                min_ratio = ratio;
                critical_distance_m = d1;
            }
            let blocked = clearance < 0.0;
            if blocked {
                obstructed += 1;
                if !in_obstruction {
                    obstructions += 1;
                }
            }
            in_obstruction = blocked;
        }
        let (lowest, highest) = profile
            .elevation_m
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &h| {
                (lo.min(h), hi.max(h))
            });
        Ok(Self {
            distance_m: total,
            tx_ground_m: profile.elevation_m[0],
            rx_ground_m: profile.elevation_m[profile.elevation_m.len() - 1],
            tx_antenna_amsl_m: section.h_tx,
            rx_antenna_amsl_m: section.h_rx,
            min_clearance_m,
            min_clearance_ratio: min_ratio,
            critical_distance_m,
            obstructions,
            obstructed_fraction: if interior == 0 {
                0.0
            } else {
                obstructed as f64 / interior as f64
            },
            terrain_relief_m: highest - lowest,
            samples: profile.distance_m.len(),
        })
    }

    /// True when no terrain sample is above the direct ray.
    #[must_use]
    pub fn line_of_sight(&self) -> bool {
        self.min_clearance_m >= 0.0
    }

    /// True when the clearance is at least `fraction` of the first Fresnel
    /// radius everywhere (0.6 is the usual engineering rule).
    #[must_use]
    pub fn fresnel_zone_clear(&self, fraction: f64) -> bool {
        self.min_clearance_ratio >= fraction
    }

    /// The largest Fresnel-Kirchhoff parameter ν along the path relative to
    /// the direct ray: −√2 · [`PathGeometry::min_clearance_ratio`].
    #[must_use]
    pub fn max_nu(&self) -> f64 {
        -SQRT_2 * self.min_clearance_ratio
    }
}

#[cfg(test)]
mod tests {
    use hexcover_core::{FlatTerrain, LatLon, PathProfile, STANDARD_K_FACTOR, Terrain};

    use super::*;

    fn profile(d: &[f64], h: &[f64]) -> PathProfile {
        PathProfile {
            distance_m: d.to_vec(),
            elevation_m: h.to_vec(),
            filled_voids: 0,
        }
    }

    #[test]
    fn flat_earth_clearance_by_hand() {
        // Flat earth (k = ∞), 10 km, both antennas 20 m over ground at 100 m, 868 MHz.
        // The ray is 20 m above ground everywhere; the first Fresnel radius is largest in
        // the middle, R1 = √(0.345383·5000·5000/10000) = 29.3846 m (λ = 299.792458/868 m),
        // so the smallest ratio is 20 / 29.3846 = 0.68063 at 5 km, ν = −√2·0.68063 = −0.96255.
        let d: Vec<f64> = (0..=10).map(|i| f64::from(i) * 1_000.0).collect();
        let path = RadioPath::over_profile(profile(&d, &[100.0; 11]), 868.0, 20.0, 20.0).unwrap();
        let g = PathGeometry::of(&path, f64::INFINITY).unwrap();
        assert!((g.min_clearance_m - 20.0).abs() < 1e-9);
        assert!(
            (g.min_clearance_ratio - 0.68063).abs() < 1e-5,
            "{}",
            g.min_clearance_ratio
        );
        assert!((g.critical_distance_m - 5_000.0).abs() < 1e-9);
        assert!((g.max_nu() + 0.96255).abs() < 1e-5);
        assert!(g.line_of_sight() && g.fresnel_zone_clear(0.6) && !g.fresnel_zone_clear(0.7));
        assert_eq!((g.obstructions, g.obstructed_fraction), (0, 0.0));
        assert_eq!((g.tx_antenna_amsl_m, g.rx_antenna_amsl_m), (120.0, 120.0));
        assert_eq!((g.terrain_relief_m, g.samples), (0.0, 11));

        // With k = 4/3 the bulge at 5 km is 5000²/(2·(4/3)·6371008.8) = 1.47151 m.
        let g = PathGeometry::of(&path, STANDARD_K_FACTOR).unwrap();
        assert!(
            (g.min_clearance_m - (20.0 - 1.47151)).abs() < 1e-5,
            "{}",
            g.min_clearance_m
        );
    }

    #[test]
    fn obstructions_are_counted_as_runs() {
        // Antennas 10 m over flat ground at 0; two ridges (30 m at 2–3 km, 25 m at 7 km).
        let d: Vec<f64> = (0..=10).map(|i| f64::from(i) * 1_000.0).collect();
        let mut h = [0.0; 11];
        h[2] = 30.0;
        h[3] = 30.0;
        h[7] = 25.0;
        let path = RadioPath::over_profile(profile(&d, &h), 868.0, 10.0, 10.0).unwrap();
        let g = PathGeometry::of(&path, f64::INFINITY).unwrap();
        assert_eq!(g.obstructions, 2);
        assert!((g.obstructed_fraction - 3.0 / 9.0).abs() < 1e-12);
        assert!((g.min_clearance_m + 20.0).abs() < 1e-9);
        assert!(!g.line_of_sight());
        assert_eq!(g.terrain_relief_m, 30.0);
        // The worst ν: 20 m at 2 km: 20·√(2·10000/(λ·2000·8000)) = 1.20319 beats
        // 20 m at 3 km (1.05025) and 15 m at 7 km: 15·√(2·10000/(λ·7000·3000)) = 0.78767.
        assert!((g.critical_distance_m - 2_000.0).abs() < 1e-9);
        assert!((g.max_nu() - 1.20319).abs() < 1e-5, "{}", g.max_nu());
    }

    #[test]
    fn two_sample_profiles_get_a_midpoint() {
        let flat = FlatTerrain { elevation_m: 50.0 };
        let (a, b) = (LatLon::new(48.0, 10.0), LatLon::new(48.0, 10.05));
        let p = flat.profile(a, b, 1.0e6).unwrap();
        assert_eq!(p.distance_m.len(), 2);
        let path = RadioPath::over_profile(p, 868.0, 2.0, 2.0).unwrap();
        let g = PathGeometry::of(&path, STANDARD_K_FACTOR).unwrap();
        let d = path.distance_m();
        let bulge = d * d / (8.0 * STANDARD_K_FACTOR * EARTH_RADIUS_M);
        assert!((g.min_clearance_m - (2.0 - bulge)).abs() < 1e-9);
        assert!((g.critical_distance_m - d / 2.0).abs() < 1e-9);
        // Samples only at the ends (repeated) count as a two-sample profile.
        let path = RadioPath::over_profile(
            profile(&[0.0, 0.0, 2_000.0, 2_000.0], &[10.0, 10.0, 30.0, 30.0]),
            868.0,
            5.0,
            5.0,
        )
        .unwrap();
        let g = PathGeometry::of(&path, f64::INFINITY).unwrap();
        assert!((g.min_clearance_m - 5.0).abs() < 1e-9);
        assert_eq!(g.samples, 4);
    }

    #[test]
    fn errors() {
        let path = RadioPath::new(1_000.0, 868.0, 1.5, 10.0).unwrap();
        assert!(matches!(
            PathGeometry::of(&path, STANDARD_K_FACTOR),
            Err(Error::MissingProfile(_))
        ));
        let path =
            RadioPath::over_profile(profile(&[0.0, 500.0, 1_000.0], &[0.0; 3]), 868.0, 1.5, 10.0)
                .unwrap();
        for k in [0.0, -1.0, f64::NAN] {
            assert!(matches!(
                PathGeometry::of(&path, k),
                Err(Error::InvalidParameter { .. })
            ));
        }
    }
}
