use crate::error::{Error, Result, positive};
use crate::free_space::free_space_db;
use crate::model::Caveat;
use crate::{Caveats, Estimate, PathLoss, RadioPath};

/// Log-distance path loss: PL(d) = PL(d0) + 10·n·log10(d / d0).
///
/// The frequency of the path is not used: it is folded into PL(d0). Distances
/// below the reference distance d0 are computed by the same formula and
/// flagged [`Caveat::DistanceOutOfRange`].
///
/// Parameters are checked before use (`check`): PL(d0) finite, n finite and
/// ≥ 0 (a loss that falls with distance is not physical), d0 finite and > 0.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogDistance {
    /// Loss at the reference distance, PL(d0), dB.
    pub pl0_db: f64,
    /// Path-loss exponent n (2 in free space, 2.7–3.5 urban, 4–6 obstructed).
    pub exponent: f64,
    /// Reference distance d0, metres.
    pub reference_distance_m: f64,
}

/// The result of fitting a [`LogDistance`] model to samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogDistanceFit {
    /// The fitted model.
    pub model: LogDistance,
    /// Root-mean-square residual, dB: sqrt(Σ residual² / k) over the k samples
    /// (the σ of Rappaport's shadowing model).
    pub rmse_db: f64,
    /// Number of samples used.
    pub samples: usize,
}

impl LogDistance {
    /// A model with loss `pl0_db` at `reference_distance_m` and exponent
    /// `exponent`. Unchecked: see [`LogDistance::check`].
    #[must_use]
    pub const fn new(pl0_db: f64, exponent: f64, reference_distance_m: f64) -> Self {
        Self {
            pl0_db,
            exponent,
            reference_distance_m,
        }
    }

    /// A model anchored on free space at `reference_distance_m`:
    /// PL(d0) = FSPL(d0, f).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a frequency or distance that is not a
    /// finite number > 0, and the errors of [`LogDistance::check`].
    pub fn free_space_reference(
        freq_mhz: f64,
        reference_distance_m: f64,
        exponent: f64,
    ) -> Result<Self> {
        let pl0_db = free_space_db(
            positive("reference_distance_m", reference_distance_m)?,
            positive("freq_mhz", freq_mhz)?,
        );
        let model = Self::new(pl0_db, exponent, reference_distance_m);
        model.check()?;
        Ok(model)
    }

    /// Checks the parameters.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when PL(d0) is not finite, n is not a finite
    /// number ≥ 0, or d0 is not a finite number > 0.
    pub fn check(&self) -> Result<()> {
        let invalid = |name, value, expected| {
            Err(Error::InvalidParameter {
                name,
                value,
                expected,
            })
        };
        if !self.pl0_db.is_finite() {
            return invalid("pl0_db", self.pl0_db, "a finite number");
        }
        if !(self.exponent.is_finite() && self.exponent >= 0.0) {
            return invalid("exponent", self.exponent, "a finite number ≥ 0");
        }
        if !(self.reference_distance_m.is_finite() && self.reference_distance_m > 0.0) {
            return invalid(
                "reference_distance_m",
                self.reference_distance_m,
                "a finite number > 0",
            );
        }
        Ok(())
    }

    /// Least-squares fit of PL(d0) and n to `(distance_m, loss_db)` samples
    /// (closed form: regression of the loss on x = 10·log10(d / d0)).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a sample with a distance that is not a
    /// finite number > 0 or a non-finite loss or d0; [`Error::Fit`] with fewer
    /// than two distinct distances or a fitted n < 0 (the samples do not show
    /// loss growing with distance — survivor bias in reception-only data
    /// does this).
    pub fn fit(samples: &[(f64, f64)], reference_distance_m: f64) -> Result<LogDistanceFit> {
        let d0 = positive("reference_distance_m", reference_distance_m)?;
        let xy = regressors(samples, d0)?;
        let k = xy.len() as f64;
        let x_mean = xy.iter().map(|p| p.0).sum::<f64>() / k;
        let y_mean = xy.iter().map(|p| p.1).sum::<f64>() / k;
        let sxx: f64 = xy.iter().map(|p| (p.0 - x_mean).powi(2)).sum();
        let sxy: f64 = xy.iter().map(|p| (p.0 - x_mean) * (p.1 - y_mean)).sum();
        // Distances within a relative 1e-9 of each other carry no slope information.
        if sxx <= 1e-18 * k {
            return Err(Error::Fit(
                "the samples need at least two distinct distances".into(),
            ));
        }
        let exponent = sxy / sxx;
        finish(&xy, y_mean - exponent * x_mean, exponent, d0)
    }

    /// Least-squares fit of n alone with PL(d0) fixed (e.g. measured at d0):
    /// n = Σ x·(PL − PL0) / Σ x², x = 10·log10(d / d0).
    ///
    /// # Errors
    /// As [`LogDistance::fit`]; [`Error::Fit`] when every sample lies at d0.
    pub fn fit_exponent(
        samples: &[(f64, f64)],
        reference_distance_m: f64,
        pl0_db: f64,
    ) -> Result<LogDistanceFit> {
        let d0 = positive("reference_distance_m", reference_distance_m)?;
        let pl0 = crate::error::finite("pl0_db", pl0_db)?;
        let xy = regressors(samples, d0)?;
        let sxx: f64 = xy.iter().map(|p| p.0 * p.0).sum();
        if sxx <= 1e-18 {
            return Err(Error::Fit(
                "every sample lies at the reference distance".into(),
            ));
        }
        let exponent = xy.iter().map(|p| p.0 * (p.1 - pl0)).sum::<f64>() / sxx;
        finish(&xy, pl0, exponent, d0)
    }
}

/// (x = 10·log10(d/d0), loss) for each validated sample.
fn regressors(samples: &[(f64, f64)], d0: f64) -> Result<Vec<(f64, f64)>> {
    if samples.is_empty() {
        return Err(Error::Fit("no samples".into()));
    }
    samples
        .iter()
        .map(|&(d, loss)| {
            let d = positive("sample distance_m", d)?;
            let loss = crate::error::finite("sample loss_db", loss)?;
            Ok((10.0 * (d / d0).log10(), loss))
        })
        .collect()
}

fn finish(xy: &[(f64, f64)], pl0_db: f64, exponent: f64, d0: f64) -> Result<LogDistanceFit> {
    if exponent < 0.0 {
        return Err(Error::Fit(format!(
            "the fitted exponent n = {exponent:.3} is negative: loss does not grow with distance in these samples"
        )));
    }
    let model = LogDistance::new(pl0_db, exponent, d0);
    model.check()?;
    let sse: f64 = xy
        .iter()
        .map(|&(x, y)| (y - pl0_db - exponent * x).powi(2))
        .sum();
    Ok(LogDistanceFit {
        model,
        rmse_db: (sse / xy.len() as f64).sqrt(),
        samples: xy.len(),
    })
}

impl PathLoss for LogDistance {
    fn estimate(&self, path: &RadioPath) -> Result<Estimate> {
        self.check()?;
        let d = path.distance_m();
        let mut caveats = Caveats::NONE;
        if d < self.reference_distance_m {
            caveats.insert(Caveat::DistanceOutOfRange);
        }
        Ok(Estimate {
            loss_db: self.pl0_db + 10.0 * self.exponent * (d / self.reference_distance_m).log10(),
            caveats,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FreeSpace;

    fn path(d: f64) -> RadioPath {
        RadioPath::new(d, 868.0, 1.5, 10.0).unwrap()
    }

    #[test]
    fn formula_by_hand() {
        // PL0 = 40 dB at d0 = 1 m, n = 3: at 1 km, 40 + 10·3·log10(1000) = 40 + 90 = 130 dB.
        let model = LogDistance::new(40.0, 3.0, 1.0);
        let e = model.estimate(&path(1_000.0)).unwrap();
        assert!((e.loss_db - 130.0).abs() < 1e-9);
        assert!(e.is_valid());
        // Below d0 the value is still computed, flagged.
        let e = LogDistance::new(100.0, 3.0, 1_000.0)
            .estimate(&path(500.0))
            .unwrap();
        // 100 + 30·log10(0.5) = 100 − 9.0309 = 90.969 dB.
        assert!((e.loss_db - 90.969).abs() < 1e-3);
        assert!(e.caveats.contains(Caveat::DistanceOutOfRange));
    }

    #[test]
    fn free_space_reference_with_n_2_is_free_space() {
        let model = LogDistance::free_space_reference(868.0, 100.0, 2.0).unwrap();
        for d in [150.0, 1_000.0, 12_345.0] {
            let a = model.path_loss_db(&path(d)).unwrap();
            let b = FreeSpace.path_loss_db(&path(d)).unwrap();
            assert!((a - b).abs() < 1e-9, "{a} vs {b}");
        }
    }

    #[test]
    fn rappaport_mmse_exponent_example() {
        // Rappaport, "Wireless Communications: Principles and Practice" (2nd ed.),
        // the MMSE path-loss-exponent example of §4.9 (log-normal shadowing):
        // received power 0, −20, −35, −70 dBm at 100 m, 200 m, 1 km, 3 km, with
        // P(d0 = 100 m) = 0 dBm fixed. The book gives n ≈ 4.4 and σ ≈ 6.17 dB.
        // Loss relative to P(d0) is −P. By hand: x = 10·log10(d/100) = 0, 3.0103,
        // 10, 14.7712; Σx·y = 20·3.0103 + 35·10 + 70·14.7712 = 1444.191;
        // Σx² = 9.0619 + 100 + 218.188 = 327.251; n = 1444.191 / 327.251 = 4.41310;
        // residuals 0, 6.715, −9.131, 4.813 → SSE = 151.636, σ = sqrt(151.636 / 4) = 6.1570.
        let samples = [
            (100.0, 0.0),
            (200.0, 20.0),
            (1_000.0, 35.0),
            (3_000.0, 70.0),
        ];
        let fit = LogDistance::fit_exponent(&samples, 100.0, 0.0).unwrap();
        assert!((fit.model.exponent - 4.41310).abs() < 1e-4);
        assert!((fit.rmse_db - 6.1570).abs() < 1e-3);
        assert!((fit.model.exponent - 4.4).abs() < 0.02);
        assert!((fit.rmse_db - 6.17).abs() < 0.05);
        assert_eq!(fit.samples, 4);

        // Both parameters free, same data. By hand: x̄ = 27.7815 / 4 = 6.945378,
        // ȳ = 125 / 4 = 31.25, Sxx = 327.251 − 4·6.945378² = 134.2975,
        // Sxy = 1444.191 − 4·6.945378·31.25 = 576.0186, n = Sxy / Sxx = 4.28912,
        // PL0 = 31.25 − 4.28912·6.945378 = 1.46042, RMSE = 6.0855 dB.
        let fit = LogDistance::fit(&samples, 100.0).unwrap();
        assert!((fit.model.exponent - 4.28912).abs() < 1e-4);
        assert!((fit.model.pl0_db - 1.46042).abs() < 1e-4);
        assert!((fit.rmse_db - 6.0855).abs() < 1e-3);
    }

    #[test]
    fn fit_recovers_exact_parameters() {
        let truth = LogDistance::new(31.5, 2.7, 1.0);
        let samples: Vec<(f64, f64)> = [120.0, 400.0, 950.0, 3_300.0, 17_000.0]
            .iter()
            .map(|&d| (d, truth.path_loss_db(&path(d)).unwrap()))
            .collect();
        let fit = LogDistance::fit(&samples, 1.0).unwrap();
        assert!((fit.model.exponent - 2.7).abs() < 1e-9);
        assert!((fit.model.pl0_db - 31.5).abs() < 1e-9);
        assert!(fit.rmse_db < 1e-9);
        // The fitted model evaluated at another d0 gives the same losses.
        let refit = LogDistance::fit(&samples, 1_000.0).unwrap();
        let a = refit.model.path_loss_db(&path(2_222.0)).unwrap();
        let b = truth.path_loss_db(&path(2_222.0)).unwrap();
        assert!((a - b).abs() < 1e-9);
    }

    #[test]
    fn bad_fits_and_parameters_are_errors() {
        assert!(matches!(LogDistance::fit(&[], 1.0), Err(Error::Fit(_))));
        assert!(matches!(
            LogDistance::fit(&[(100.0, 80.0), (100.0, 90.0)], 1.0),
            Err(Error::Fit(_))
        ));
        // Loss falling with distance: n < 0.
        assert!(matches!(
            LogDistance::fit(&[(100.0, 100.0), (1_000.0, 90.0)], 1.0),
            Err(Error::Fit(_))
        ));
        assert!(matches!(
            LogDistance::fit(&[(0.0, 100.0), (1_000.0, 90.0)], 1.0),
            Err(Error::InvalidInput { .. })
        ));
        assert!(matches!(
            LogDistance::fit(&[(10.0, f64::NAN), (1_000.0, 90.0)], 1.0),
            Err(Error::InvalidInput { .. })
        ));
        assert!(LogDistance::fit(&[(10.0, 60.0), (1_000.0, 90.0)], 0.0).is_err());
        assert!(matches!(
            LogDistance::fit_exponent(&[(1.0, 60.0)], 1.0, 40.0),
            Err(Error::Fit(_))
        ));
        for model in [
            LogDistance::new(f64::NAN, 2.0, 1.0),
            LogDistance::new(40.0, -0.5, 1.0),
            LogDistance::new(40.0, f64::INFINITY, 1.0),
            LogDistance::new(40.0, 2.0, 0.0),
        ] {
            assert!(matches!(
                model.estimate(&path(100.0)),
                Err(Error::InvalidParameter { .. })
            ));
        }
        assert!(LogDistance::new(40.0, 0.0, 1.0).check().is_ok());
    }
}
