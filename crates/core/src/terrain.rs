//! The terrain seen by propagation: ground elevation and path profiles.
//!
//! Propagation reaches terrain only through [`Terrain`], so tests can hand it a
//! synthetic surface and the GDAL implementation (`hexcover-terrain`) stays out
//! of the computational crates.

/// Mean earth radius in metres (IUGG), the radius used for path geometry.
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// The standard effective-earth-radius factor for radio paths (ITU-R P.452/P.526).
pub const STANDARD_K_FACTOR: f64 = 4.0 / 3.0;

/// A WGS84 position in degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatLon {
    /// Latitude, degrees north.
    pub lat: f64,
    /// Longitude, degrees east.
    pub lon: f64,
}

impl LatLon {
    /// A position from latitude and longitude in degrees.
    #[must_use]
    pub const fn new(lat: f64, lon: f64) -> Self {
        Self { lat, lon }
    }

    /// Great-circle (haversine) distance to `other` in metres.
    #[must_use]
    pub fn distance_m(self, other: Self) -> f64 {
        let (phi1, phi2) = (self.lat.to_radians(), other.lat.to_radians());
        let dphi = phi2 - phi1;
        let dlambda = (other.lon - self.lon).to_radians();
        let a =
            (dphi / 2.0).sin().powi(2) + phi1.cos() * phi2.cos() * (dlambda / 2.0).sin().powi(2);
        2.0 * EARTH_RADIUS_M * a.sqrt().min(1.0).asin()
    }

    /// The point a `fraction` (0..=1) of the way along the great circle to `other`.
    #[must_use]
    pub fn interpolate(self, other: Self, fraction: f64) -> Self {
        let (phi1, lambda1) = (self.lat.to_radians(), self.lon.to_radians());
        let (phi2, lambda2) = (other.lat.to_radians(), other.lon.to_radians());
        let delta = self.distance_m(other) / EARTH_RADIUS_M;
        if delta < 1e-12 {
            return self;
        }
        let a = ((1.0 - fraction) * delta).sin() / delta.sin();
        let b = (fraction * delta).sin() / delta.sin();
        let x = a * phi1.cos() * lambda1.cos() + b * phi2.cos() * lambda2.cos();
        let y = a * phi1.cos() * lambda1.sin() + b * phi2.cos() * lambda2.sin();
        let z = a * phi1.sin() + b * phi2.sin();
        Self {
            lat: z.atan2((x * x + y * y).sqrt()).to_degrees(),
            lon: y.atan2(x).to_degrees(),
        }
    }
}

/// Ground elevations sampled at equal steps along the great circle between two points.
///
/// Elevations are metres above mean sea level as the DEM gives them (no earth
/// curvature applied); [`PathProfile::curved_elevations_m`] adds the earth bulge
/// for a given k-factor.
#[derive(Debug, Clone, PartialEq)]
pub struct PathProfile {
    /// Distance of each sample from the start, metres; first 0, last the path length.
    pub distance_m: Vec<f64>,
    /// Ground elevation of each sample, metres above mean sea level.
    pub elevation_m: Vec<f64>,
    /// How many samples fell on DEM voids and were filled by the terrain source.
    pub filled_voids: usize,
}

impl PathProfile {
    /// Path length in metres (0 for an empty profile).
    #[must_use]
    pub fn length_m(&self) -> f64 {
        self.distance_m.last().copied().unwrap_or(0.0)
    }

    /// Elevations with the earth bulge `d1·d2 / (2·k·R)` added, so straight rays
    /// between the ends can be compared with the terrain directly.
    #[must_use]
    pub fn curved_elevations_m(&self, k_factor: f64) -> Vec<f64> {
        let total = self.length_m();
        let effective_radius_m = k_factor * EARTH_RADIUS_M;
        self.distance_m
            .iter()
            .zip(&self.elevation_m)
            .map(|(&d1, &h)| h + d1 * (total - d1) / (2.0 * effective_radius_m))
            .collect()
    }
}

/// A source of ground elevation.
pub trait Terrain: Send + Sync {
    /// Ground elevation in metres above mean sea level at a WGS84 position, or
    /// `None` outside the source's coverage or on a void it cannot fill.
    fn elevation_m(&self, at: LatLon) -> Option<f64>;

    /// The profile from `from` to `to` with samples at most `max_step_m` apart
    /// (at least the two ends). `None` when any sample has no elevation.
    fn profile(&self, from: LatLon, to: LatLon, max_step_m: f64) -> Option<PathProfile> {
        let length_m = from.distance_m(to);
        let steps = if max_step_m > 0.0 && max_step_m.is_finite() {
            // Bounded so a degenerate step cannot ask for billions of samples.
            (length_m / max_step_m).ceil().clamp(1.0, 1.0e6) as usize
        } else {
            1
        };
        let mut distance_m = Vec::with_capacity(steps + 1);
        let mut elevation_m = Vec::with_capacity(steps + 1);
        for i in 0..=steps {
            let fraction = i as f64 / steps as f64;
            distance_m.push(length_m * fraction);
            elevation_m.push(self.elevation_m(from.interpolate(to, fraction))?);
        }
        Some(PathProfile {
            distance_m,
            elevation_m,
            filled_voids: 0,
        })
    }

    /// The elevations of [`Terrain::profile`]`(from, to, max_step_m)` into
    /// `out` (cleared first), without the distances and the void count:
    /// `true` when the profile exists, `false` (and `out` unspecified) when
    /// it would be `None`.
    ///
    /// For callers that read many profiles and need only the ground (the
    /// coverage sweep): a terrain may answer this faster than `profile`, but
    /// every elevation must be bit-identical to the profile's. The default
    /// calls `profile`.
    fn profile_elevations(
        &self,
        from: LatLon,
        to: LatLon,
        max_step_m: f64,
        out: &mut Vec<f64>,
    ) -> bool {
        out.clear();
        match self.profile(from, to, max_step_m) {
            Some(profile) => {
                out.extend_from_slice(&profile.elevation_m);
                true
            }
            None => false,
        }
    }
}

/// A terrain of one constant elevation: flat ground for tests and for models
/// that ignore terrain.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FlatTerrain {
    /// The elevation everywhere, metres.
    pub elevation_m: f64,
}

impl Terrain for FlatTerrain {
    fn elevation_m(&self, _at: LatLon) -> Option<f64> {
        Some(self.elevation_m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_of_one_degree_of_latitude() {
        let d = LatLon::new(48.0, 10.0).distance_m(LatLon::new(49.0, 10.0));
        // 1° of arc on a sphere of radius R is R·π/180.
        assert!((d - EARTH_RADIUS_M.to_radians()).abs() < 1e-6, "{d}");
    }

    #[test]
    fn interpolation_ends_and_middle() {
        let (a, b) = (LatLon::new(48.4, 9.9), LatLon::new(48.5, 10.1));
        let mid = a.interpolate(b, 0.5);
        assert!((a.distance_m(mid) - b.distance_m(mid)).abs() < 1e-6);
        let end = a.interpolate(b, 1.0);
        assert!((end.lat - b.lat).abs() < 1e-9 && (end.lon - b.lon).abs() < 1e-9);
    }

    /// A terrain with elevation only west of 10° E.
    struct WestOnly;

    impl Terrain for WestOnly {
        fn elevation_m(&self, at: LatLon) -> Option<f64> {
            (at.lon < 10.0).then(|| 400.0 + 1000.0 * (at.lat - 48.0) + 50.0 * at.lon.sin())
        }
    }

    #[test]
    fn profile_elevations_default_is_the_profile() {
        let mut out = vec![1.0; 3];
        let (a, b) = (LatLon::new(48.0, 9.5), LatLon::new(48.2, 9.9));
        assert!(WestOnly.profile_elevations(a, b, 250.0, &mut out));
        assert_eq!(out, WestOnly.profile(a, b, 250.0).unwrap().elevation_m);
        assert!(out.len() > 100);
        assert!(!WestOnly.profile_elevations(a, LatLon::new(48.2, 10.1), 250.0, &mut out));
    }

    #[test]
    fn flat_profile_has_the_bulge_in_the_middle() {
        let flat = FlatTerrain { elevation_m: 100.0 };
        let (a, b) = (LatLon::new(48.0, 10.0), LatLon::new(48.0, 10.5));
        let profile = flat.profile(a, b, 100.0).unwrap();
        assert_eq!(profile.distance_m.first(), Some(&0.0));
        assert!((profile.length_m() - a.distance_m(b)).abs() < 1e-6);
        assert!(
            profile
                .distance_m
                .windows(2)
                .all(|w| w[1] - w[0] <= 100.0 + 1e-9)
        );
        let curved = profile.curved_elevations_m(STANDARD_K_FACTOR);
        let (first, last) = (curved[0], curved[curved.len() - 1]);
        let middle = curved[curved.len() / 2];
        assert_eq!((first, last), (100.0, 100.0));
        // d²/(8kR) at the middle of a ~37 km path: about 20 m.
        let d = profile.length_m();
        let expected = d * d / (8.0 * STANDARD_K_FACTOR * EARTH_RADIUS_M);
        assert!(
            (middle - 100.0 - expected).abs() < 0.5,
            "{middle} vs {expected}"
        );
    }
}
