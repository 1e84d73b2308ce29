use crate::error::{Result, positive};
use crate::{Estimate, PathLoss, RadioPath};

/// The constant of the free-space formula with f in MHz and d in km:
/// 20·log10(4π·10⁹ / c) = 32.4478 dB (usually rounded to 32.45; ITU-R P.525
/// writes 32.4).
pub const FREE_SPACE_CONSTANT_DB: f64 = 32.447_783_221_883_38;

/// Free-space basic transmission loss (ITU-R P.525):
/// L = 32.45 + 20·log10 f_MHz + 20·log10 d_km = 20·log10(4πd/λ).
///
/// Valid for any far-field distance; it never carries a caveat.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct FreeSpace;

impl PathLoss for FreeSpace {
    fn estimate(&self, path: &RadioPath) -> Result<Estimate> {
        Ok(Estimate::valid(free_space_db(
            path.distance_m(),
            path.freq_mhz(),
        )))
    }
}

/// Free-space loss in dB of a distance (m) at a frequency (MHz).
///
/// # Errors
/// [`crate::Error::InvalidInput`] when either is not a finite number > 0.
pub fn free_space_loss_db(distance_m: f64, freq_mhz: f64) -> Result<f64> {
    Ok(free_space_db(
        positive("distance_m", distance_m)?,
        positive("freq_mhz", freq_mhz)?,
    ))
}

/// Unchecked free-space loss (inputs already validated).
pub(crate) fn free_space_db(distance_m: f64, freq_mhz: f64) -> f64 {
    free_space_db_from(free_space_freq_term_db(freq_mhz), distance_m)
}

/// The frequency's part of [`free_space_db`], for callers that ask for many
/// distances at one frequency (with [`free_space_db_from`]: the same bits).
pub(crate) fn free_space_freq_term_db(freq_mhz: f64) -> f64 {
    FREE_SPACE_CONSTANT_DB + 20.0 * freq_mhz.log10()
}

/// [`free_space_db`] from its frequency term.
pub(crate) fn free_space_db_from(freq_term_db: f64, distance_m: f64) -> f64 {
    freq_term_db + 20.0 * (distance_m / 1000.0).log10()
}

#[cfg(test)]
mod tests {
    use std::f64::consts::PI;

    use super::*;
    use crate::SPEED_OF_LIGHT_M_S;

    #[test]
    fn constant_is_four_pi_over_c() {
        let exact = 20.0 * (4.0 * PI * 1.0e9 / SPEED_OF_LIGHT_M_S).log10();
        assert!((FREE_SPACE_CONSTANT_DB - exact).abs() < 1e-12, "{exact}");
    }

    #[test]
    fn p525_reference_values() {
        // ITU-R P.525: L = 32.4 + 20 log f + 20 log d (f MHz, d km); with the
        // unrounded constant 32.4478:
        // 868 MHz, 1 km: 32.4478 + 20·log10(868) = 32.4478 + 58.7704 = 91.2182 ≈ 91.22 dB.
        let l = free_space_loss_db(1_000.0, 868.0).unwrap();
        assert!((l - 91.22).abs() < 0.005, "{l}");
        // 915 MHz, 10 km: 32.4478 + 59.2284 + 20 = 111.676 dB.
        let l = free_space_loss_db(10_000.0, 915.0).unwrap();
        assert!((l - 111.676).abs() < 0.001, "{l}");
        // Same as 20·log10(4πd/λ) at 868.3 MHz, 5 km.
        let lambda = SPEED_OF_LIGHT_M_S / 868.3e6;
        let direct = 20.0 * (4.0 * PI * 5_000.0 / lambda).log10();
        let l = FreeSpace
            .path_loss_db(&RadioPath::new(5_000.0, 868.3, 1.5, 10.0).unwrap())
            .unwrap();
        assert!((l - direct).abs() < 1e-9, "{l} vs {direct}");
        // Doubling the distance adds 20·log10(2) = 6.0206 dB.
        let d1 = free_space_loss_db(2_000.0, 868.0).unwrap();
        let d2 = free_space_loss_db(4_000.0, 868.0).unwrap();
        assert!((d2 - d1 - 6.0206).abs() < 1e-4);
    }

    #[test]
    fn invalid_inputs_are_errors() {
        assert!(free_space_loss_db(0.0, 868.0).is_err());
        assert!(free_space_loss_db(1000.0, f64::NAN).is_err());
        assert!(free_space_loss_db(-5.0, 868.0).is_err());
    }
}
