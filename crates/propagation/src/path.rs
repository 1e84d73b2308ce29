use hexcover_core::{LatLon, PathProfile, Terrain};

use crate::error::{Error, Result, finite, non_negative, positive};

/// Speed of light in vacuum, m/s (exact, SI).
pub const SPEED_OF_LIGHT_M_S: f64 = 299_792_458.0;

/// A profile step that matches 1-arc-second DEMs (SRTM, Copernicus GLO-30).
pub const DEFAULT_PROFILE_STEP_M: f64 = 30.0;

/// Wavelength in metres of a frequency in MHz.
pub(crate) fn wavelength_m(freq_mhz: f64) -> f64 {
    SPEED_OF_LIGHT_M_S / (freq_mhz * 1.0e6)
}

/// One radio path between a transmitter and a receiver: what every
/// [`crate::PathLoss`] model reads.
///
/// The fields are validated on construction (distance and frequency finite
/// and > 0, antenna heights finite and ≥ 0, a profile well formed), so a
/// model never sees a NaN from here. Path loss is reciprocal: the models do
/// not care which end transmits; Hata takes the higher antenna as its base
/// station.
///
/// The optional terrain profile holds ground elevations above mean sea level
/// from the transmitter (first sample) to the receiver (last sample); the
/// antennas stand `tx_height_agl_m` / `rx_height_agl_m` above those ends.
#[derive(Debug, Clone, PartialEq)]
pub struct RadioPath {
    distance_m: f64,
    freq_mhz: f64,
    tx_height_agl_m: f64,
    rx_height_agl_m: f64,
    profile: Option<PathProfile>,
}

impl RadioPath {
    /// A path without terrain: ground distance, frequency and the antenna
    /// heights above ground.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when the distance or frequency is not a finite
    /// number > 0 or a height is not a finite number ≥ 0.
    pub fn new(
        distance_m: f64,
        freq_mhz: f64,
        tx_height_agl_m: f64,
        rx_height_agl_m: f64,
    ) -> Result<Self> {
        Ok(Self {
            distance_m: positive("distance_m", distance_m)?,
            freq_mhz: positive("freq_mhz", freq_mhz)?,
            tx_height_agl_m: non_negative("tx_height_agl_m", tx_height_agl_m)?,
            rx_height_agl_m: non_negative("rx_height_agl_m", rx_height_agl_m)?,
            profile: None,
        })
    }

    /// A path over a terrain profile (first sample at the transmitter, last at
    /// the receiver); the distance is the profile's length.
    ///
    /// # Errors
    /// [`Error::InvalidProfile`] for a malformed profile (fewer than two
    /// samples, columns of different lengths, non-finite values, distances not
    /// starting at 0 or decreasing, zero length), and the errors of
    /// [`RadioPath::new`].
    pub fn over_profile(
        profile: PathProfile,
        freq_mhz: f64,
        tx_height_agl_m: f64,
        rx_height_agl_m: f64,
    ) -> Result<Self> {
        check_profile(&profile)?;
        let mut path = Self::new(
            profile.length_m(),
            freq_mhz,
            tx_height_agl_m,
            rx_height_agl_m,
        )?;
        path.profile = Some(profile);
        Ok(path)
    }

    /// The path from `from` (transmitter) to `to` (receiver) over `terrain`,
    /// with profile samples at most `max_step_m` apart (see
    /// [`DEFAULT_PROFILE_STEP_M`]).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a non-finite or out-of-range position, a
    /// step that is not a finite number > 0, coincident ends (distance 0) or
    /// the errors of [`RadioPath::new`]; [`Error::NoElevation`] when the
    /// terrain has no elevation for some sample.
    pub fn between(
        terrain: &dyn Terrain,
        from: LatLon,
        to: LatLon,
        tx_height_agl_m: f64,
        rx_height_agl_m: f64,
        freq_mhz: f64,
        max_step_m: f64,
    ) -> Result<Self> {
        check_lat_lon("from", from)?;
        check_lat_lon("to", to)?;
        positive("max_step_m", max_step_m)?;
        positive("distance_m", from.distance_m(to))?;
        // Validate the scalar inputs before asking the terrain for anything.
        Self::new(
            from.distance_m(to),
            freq_mhz,
            tx_height_agl_m,
            rx_height_agl_m,
        )?;
        let profile = terrain
            .profile(from, to, max_step_m)
            .ok_or(Error::NoElevation { from, to })?;
        Self::over_profile(profile, freq_mhz, tx_height_agl_m, rx_height_agl_m)
    }

    /// Ground distance between the ends, metres.
    #[must_use]
    pub fn distance_m(&self) -> f64 {
        self.distance_m
    }

    /// Carrier frequency, MHz.
    #[must_use]
    pub fn freq_mhz(&self) -> f64 {
        self.freq_mhz
    }

    /// Wavelength, metres.
    #[must_use]
    pub fn wavelength_m(&self) -> f64 {
        wavelength_m(self.freq_mhz)
    }

    /// Transmitter antenna height above ground, metres.
    #[must_use]
    pub fn tx_height_agl_m(&self) -> f64 {
        self.tx_height_agl_m
    }

    /// Receiver antenna height above ground, metres.
    #[must_use]
    pub fn rx_height_agl_m(&self) -> f64 {
        self.rx_height_agl_m
    }

    /// The terrain profile, when the path has one.
    #[must_use]
    pub fn profile(&self) -> Option<&PathProfile> {
        self.profile.as_ref()
    }

    /// Ground elevation at the transmitter (first profile sample), metres AMSL.
    #[must_use]
    pub fn tx_ground_m(&self) -> Option<f64> {
        self.profile.as_ref()?.elevation_m.first().copied()
    }

    /// Ground elevation at the receiver (last profile sample), metres AMSL.
    #[must_use]
    pub fn rx_ground_m(&self) -> Option<f64> {
        self.profile.as_ref()?.elevation_m.last().copied()
    }
}

fn check_lat_lon(name: &'static str, at: LatLon) -> Result<()> {
    if at.lat.is_finite() && at.lon.is_finite() && at.lat.abs() <= 90.0 && at.lon.abs() <= 360.0 {
        Ok(())
    } else {
        Err(Error::InvalidInput {
            name,
            value: if at.lat.is_finite() && at.lat.abs() <= 90.0 {
                at.lon
            } else {
                at.lat
            },
            expected: "a WGS84 position (latitude within ±90°, longitude within ±360°)",
        })
    }
}

fn check_profile(profile: &PathProfile) -> Result<()> {
    let (d, h) = (&profile.distance_m, &profile.elevation_m);
    let bad = |message: String| Err(Error::InvalidProfile(message));
    if d.len() != h.len() {
        return bad(format!("{} distances but {} elevations", d.len(), h.len()));
    }
    if d.len() < 2 {
        return bad(format!(
            "{} samples; at least the two ends are needed",
            d.len()
        ));
    }
    if let Some(i) = d.iter().chain(h).position(|v| !v.is_finite()) {
        let column = if i < d.len() { "distance" } else { "elevation" };
        return bad(format!("{column} {} is not finite", i % d.len()));
    }
    if d[0].abs() > 1e-6 {
        return bad(format!("first distance is {} m, not 0", d[0]));
    }
    if let Some(i) = d.windows(2).position(|w| w[1] < w[0]) {
        return bad(format!(
            "distances decrease at sample {}: {} m after {} m",
            i + 1,
            d[i + 1],
            d[i]
        ));
    }
    finite("profile length", profile.length_m())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use hexcover_core::FlatTerrain;

    use super::*;

    #[test]
    fn invalid_inputs_are_errors() {
        for (d, f, ht, hr) in [
            (0.0, 868.0, 1.5, 10.0),
            (-1.0, 868.0, 1.5, 10.0),
            (f64::NAN, 868.0, 1.5, 10.0),
            (f64::INFINITY, 868.0, 1.5, 10.0),
            (1000.0, 0.0, 1.5, 10.0),
            (1000.0, -868.0, 1.5, 10.0),
            (1000.0, f64::NAN, 1.5, 10.0),
            (1000.0, 868.0, -1.0, 10.0),
            (1000.0, 868.0, 1.5, f64::INFINITY),
        ] {
            let err = RadioPath::new(d, f, ht, hr).unwrap_err();
            assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
        }
        assert!(RadioPath::new(1000.0, 868.0, 0.0, 0.0).is_ok());
    }

    #[test]
    fn malformed_profiles_are_errors() {
        let profile = |d: Vec<f64>, h: Vec<f64>| PathProfile {
            distance_m: d,
            elevation_m: h,
            filled_voids: 0,
        };
        for p in [
            profile(vec![0.0], vec![1.0]),
            profile(vec![0.0, 10.0], vec![1.0]),
            profile(vec![1.0, 10.0], vec![1.0, 2.0]),
            profile(vec![0.0, 10.0, 5.0], vec![1.0, 2.0, 3.0]),
            profile(vec![0.0, 10.0], vec![1.0, f64::NAN]),
            profile(vec![0.0, 0.0], vec![1.0, 2.0]),
        ] {
            let err = RadioPath::over_profile(p, 868.0, 1.5, 10.0).unwrap_err();
            assert!(
                matches!(err, Error::InvalidProfile(_) | Error::InvalidInput { .. }),
                "{err}"
            );
        }
    }

    #[test]
    fn between_samples_the_terrain() {
        let terrain = FlatTerrain { elevation_m: 480.0 };
        let (a, b) = (LatLon::new(48.40, 9.99), LatLon::new(48.42, 10.02));
        let path = RadioPath::between(&terrain, a, b, 1.5, 10.0, 868.3, 30.0).unwrap();
        assert!((path.distance_m() - a.distance_m(b)).abs() < 1e-6);
        assert_eq!(path.tx_ground_m(), Some(480.0));
        assert_eq!(path.rx_ground_m(), Some(480.0));
        let profile = path.profile().unwrap();
        assert!(
            profile
                .distance_m
                .windows(2)
                .all(|w| w[1] - w[0] <= 30.0 + 1e-9)
        );
        // λ = c / f = 299.792458 / 868.3 m.
        assert!((path.wavelength_m() - 0.345_263).abs() < 1e-6);
    }

    #[test]
    fn between_reports_missing_terrain_and_bad_ends() {
        struct Nowhere;
        impl Terrain for Nowhere {
            fn elevation_m(&self, _at: LatLon) -> Option<f64> {
                None
            }
        }
        let (a, b) = (LatLon::new(48.40, 9.99), LatLon::new(48.42, 10.02));
        let err = RadioPath::between(&Nowhere, a, b, 1.5, 10.0, 868.3, 30.0).unwrap_err();
        assert!(matches!(err, Error::NoElevation { .. }), "{err}");
        assert!(err.to_string().contains("48.4"), "{err}");
        let flat = FlatTerrain { elevation_m: 0.0 };
        for (from, to, step) in [
            (a, a, 30.0),
            (a, b, 0.0),
            (a, b, f64::NAN),
            (LatLon::new(f64::NAN, 0.0), b, 30.0),
            (a, LatLon::new(95.0, 0.0), 30.0),
        ] {
            let err = RadioPath::between(&flat, from, to, 1.5, 10.0, 868.3, step).unwrap_err();
            assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
        }
    }
}
