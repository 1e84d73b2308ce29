//! RSSI predictions with an interval: the one interface per-site coverage
//! (and anything else that needs RSSI at an unmeasured place) asks a model
//! through, and the physics baseline that works without a trained model.

use crate::error::{Error, Result};
use crate::{FeatureSet, PathFeatures};

/// The 90th percentile of the standard normal distribution, z₀.₉.
pub const Z_90: f64 = 1.281_551_565_544_600_4;

/// The residual standard deviation the [`PhysicsBaseline`] assumes by
/// default, dB: the middle of the 10–12 dB RMSE published for empirical and
/// physics path-loss models against LoRa measurements at 868/915 MHz, and
/// the ≈ 11 dB that a log-distance model with a fitted constant scores on
/// spatially blocked cross-validation over the Ulm drive test (issue 3).
pub const PHYSICS_BASELINE_SIGMA_DB: f64 = 11.0;

/// The transmit side of a link and the receiver's antenna: what turns a path
/// loss into a received power.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkBudget {
    /// Device (transmitter) EIRP, dBm.
    pub device_eirp_dbm: f64,
    /// Receiver (site) antenna gain, dBi.
    pub rx_gain_dbi: f64,
}

/// A predicted RSSI with its 80 % interval, dBm.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RssiPrediction {
    /// The central prediction, dBm.
    pub mean_dbm: f64,
    /// 10th percentile, dBm.
    pub p10_dbm: f64,
    /// 90th percentile, dBm.
    pub p90_dbm: f64,
}

impl RssiPrediction {
    /// A prediction with a normal residual of standard deviation `sigma_db`
    /// around `mean_dbm` (p10/p90 at ∓ z₀.₉·σ).
    #[must_use]
    pub fn normal(mean_dbm: f64, sigma_db: f64) -> Self {
        Self {
            mean_dbm,
            p10_dbm: mean_dbm - Z_90 * sigma_db,
            p90_dbm: mean_dbm + Z_90 * sigma_db,
        }
    }

    /// The same prediction `db` higher (all three numbers).
    #[must_use]
    pub fn shifted(self, db: f64) -> Self {
        Self {
            mean_dbm: self.mean_dbm + db,
            p10_dbm: self.p10_dbm + db,
            p90_dbm: self.p90_dbm + db,
        }
    }

    /// P(RSSI ≥ `threshold_dbm`).
    ///
    /// The three numbers define a split normal quantile function: below the
    /// centre Q(p) = mean + z(p)·σ₋ with σ₋ = (mean − p10)/z₀.₉, above it
    /// σ₊ = (p90 − mean)/z₀.₉. That reproduces p10 and p90 exactly for an
    /// asymmetric interval (as quantile models give) and is the normal
    /// distribution for a symmetric one. A zero width on the threshold's
    /// side makes the answer 0 or 1; an inverted interval (p10 above the
    /// mean) counts as zero width on that side.
    #[must_use]
    pub fn p_at_least(&self, threshold_dbm: f64) -> f64 {
        let sigma_db = if threshold_dbm < self.mean_dbm {
            (self.mean_dbm - self.p10_dbm) / Z_90
        } else {
            (self.p90_dbm - self.mean_dbm) / Z_90
        };
        if sigma_db > 0.0 {
            normal_cdf((self.mean_dbm - threshold_dbm) / sigma_db)
        } else if self.mean_dbm >= threshold_dbm {
            1.0
        } else {
            0.0
        }
    }
}

/// The standard normal CDF Φ(z), from the complementary error function
/// (Chebyshev fit of Numerical Recipes' `erfcc`, fractional error < 1.2e-7).
#[must_use]
pub fn normal_cdf(z: f64) -> f64 {
    0.5 * erfc(-z / std::f64::consts::SQRT_2)
}

fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

/// A model of the RSSI a site receives from a device, given the path's
/// features and the link budget: the learned model and the physics baseline
/// both implement it, so per-site coverage works with either.
pub trait RssiModel: Send + Sync {
    /// A short name for outputs and logs (`physics-baseline`, `gbt`, ...).
    fn name(&self) -> String;

    /// The RSSI at the receiver, with its 80 % interval.
    fn predict(&self, features: &PathFeatures, budget: &LinkBudget) -> RssiPrediction;

    /// [`RssiModel::predict`] for each of `features`, appended to `out` in
    /// order. Models that are faster over many paths at once (the learned
    /// model's trees) override it with the same answers; per-site coverage
    /// asks through this.
    fn predict_many(
        &self,
        features: &[PathFeatures],
        budget: &LinkBudget,
        out: &mut Vec<RssiPrediction>,
    ) {
        out.extend(features.iter().map(|f| self.predict(f, budget)));
    }

    /// This model set up for many predictions ([`RssiModel::predict_many`]),
    /// with the same answers: per-site coverage asks once per run. The
    /// default is the model itself; the learned model compiles its trees.
    fn prepared(&self) -> Box<dyn RssiModel + '_> {
        Box::new(self)
    }

    /// The features [`RssiModel::predict`] reads: per-site coverage
    /// computes only those and leaves the others NaN. The default is all;
    /// a model that says less must give the same answers whatever the
    /// others hold (NaN included).
    fn features_read(&self) -> FeatureSet {
        FeatureSet::ALL
    }
}

impl<M: RssiModel + ?Sized> RssiModel for &M {
    fn name(&self) -> String {
        (**self).name()
    }
    fn predict(&self, features: &PathFeatures, budget: &LinkBudget) -> RssiPrediction {
        (**self).predict(features, budget)
    }
    fn predict_many(
        &self,
        features: &[PathFeatures],
        budget: &LinkBudget,
        out: &mut Vec<RssiPrediction>,
    ) {
        (**self).predict_many(features, budget, out);
    }
    fn prepared(&self) -> Box<dyn RssiModel + '_> {
        (**self).prepared()
    }
    fn features_read(&self) -> FeatureSet {
        (**self).features_read()
    }
}

impl<M: RssiModel + ?Sized> RssiModel for Box<M> {
    fn name(&self) -> String {
        (**self).name()
    }
    fn predict(&self, features: &PathFeatures, budget: &LinkBudget) -> RssiPrediction {
        (**self).predict(features, budget)
    }
    fn predict_many(
        &self,
        features: &[PathFeatures],
        budget: &LinkBudget,
        out: &mut Vec<RssiPrediction>,
    ) {
        (**self).predict_many(features, budget, out);
    }
    fn prepared(&self) -> Box<dyn RssiModel + '_> {
        (**self).prepared()
    }
    fn features_read(&self) -> FeatureSet {
        (**self).features_read()
    }
}

/// The physics baseline, usable without a trained model: free space plus
/// Bullington diffraction over the terrain (ITU-R P.525 + P.526 §4.5.1,
/// [`PathFeatures::free_space_bullington_loss_db`], the same loss as
/// [`crate::FreeSpaceBullington`] on a shadowed path) in the link budget,
///
/// RSSI = EIRP + G_rx − L_fs+B − excess loss,
///
/// with a normal residual of standard deviation σ for the interval
/// ([`PHYSICS_BASELINE_SIGMA_DB`] by default). No clutter, buildings or
/// vegetation are modelled: in towns the mean is optimistic unless an
/// excess loss is set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PhysicsBaseline {
    sigma_db: f64,
    excess_loss_db: f64,
}

impl Default for PhysicsBaseline {
    fn default() -> Self {
        Self {
            sigma_db: PHYSICS_BASELINE_SIGMA_DB,
            excess_loss_db: 0.0,
        }
    }
}

impl PhysicsBaseline {
    /// Sets the residual standard deviation, dB.
    #[must_use]
    pub const fn sigma_db(mut self, sigma_db: f64) -> Self {
        self.sigma_db = sigma_db;
        self
    }

    /// Sets a loss added to every path (cable, clutter), dB.
    #[must_use]
    pub const fn excess_loss_db(mut self, excess_loss_db: f64) -> Self {
        self.excess_loss_db = excess_loss_db;
        self
    }

    /// Checks the parameters.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a σ that is not a finite number ≥ 0 or
    /// a non-finite excess loss.
    pub fn check(&self) -> Result<()> {
        if !(self.sigma_db.is_finite() && self.sigma_db >= 0.0) {
            return Err(Error::InvalidParameter {
                name: "sigma_db",
                value: self.sigma_db,
                expected: "a finite number ≥ 0",
            });
        }
        if !self.excess_loss_db.is_finite() {
            return Err(Error::InvalidParameter {
                name: "excess_loss_db",
                value: self.excess_loss_db,
                expected: "a finite number",
            });
        }
        Ok(())
    }
}

impl RssiModel for PhysicsBaseline {
    fn name(&self) -> String {
        "physics-baseline (free space + Bullington)".to_owned()
    }

    fn predict(&self, features: &PathFeatures, budget: &LinkBudget) -> RssiPrediction {
        let mean_dbm = budget.device_eirp_dbm + budget.rx_gain_dbi
            - features.free_space_bullington_loss_db
            - self.excess_loss_db;
        RssiPrediction::normal(mean_dbm, self.sigma_db)
    }

    fn features_read(&self) -> FeatureSet {
        FeatureSet::FREE_SPACE_BULLINGTON
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn normal_cdf_reference_values() {
        // Standard normal table values (Abramowitz & Stegun, table 26.1).
        for (z, p) in [
            (0.0, 0.5),
            (Z_90, 0.9),
            (-Z_90, 0.1),
            (1.0, 0.841_344_746),
            (-1.959_963_985, 0.025),
            (3.0, 0.998_650_102),
            (-6.0, 9.865_876e-10),
        ] {
            let got = normal_cdf(z);
            assert!(
                (got - p).abs() <= 2e-7 * p.max(1e-3),
                "Φ({z}) = {got}, expected {p}"
            );
        }
        assert_eq!(normal_cdf(f64::INFINITY), 1.0);
        assert_eq!(normal_cdf(f64::NEG_INFINITY), 0.0);
    }

    #[test]
    fn p_at_least_reproduces_the_interval() {
        let symmetric = RssiPrediction::normal(-120.0, 8.0);
        assert!((symmetric.p_at_least(-120.0) - 0.5).abs() < 2e-7);
        assert!((symmetric.p_at_least(symmetric.p10_dbm) - 0.9).abs() < 1e-6);
        assert!((symmetric.p_at_least(symmetric.p90_dbm) - 0.1).abs() < 1e-6);
        // Asymmetric: p10 5 dB below, p90 15 dB above.
        let skewed = RssiPrediction {
            mean_dbm: -110.0,
            p10_dbm: -115.0,
            p90_dbm: -95.0,
        };
        assert!((skewed.p_at_least(-115.0) - 0.9).abs() < 1e-6);
        assert!((skewed.p_at_least(-95.0) - 0.1).abs() < 1e-6);
        assert!((skewed.p_at_least(-110.0) - 0.5).abs() < 2e-7);
        // Falls as the threshold rises.
        let ps: Vec<f64> = (0..60)
            .map(|i| skewed.p_at_least(-140.0 + f64::from(i)))
            .collect();
        assert!(ps.windows(2).all(|w| w[1] <= w[0]));
        // Zero width: a step.
        let point = RssiPrediction::normal(-100.0, 0.0);
        assert_eq!(point.p_at_least(-100.0), 1.0);
        assert_eq!(point.p_at_least(-99.9), 0.0);
    }

    #[test]
    fn baseline_is_the_link_budget() {
        let f = PathFeatures {
            log10_distance_m: 3.0,
            freq_mhz: 868.3,
            tx_height_agl_m: 1.5,
            rx_height_agl_m: 10.0,
            rx_above_tx_m: 8.5,
            elevation_angle_deg: 0.5,
            los_margin_deg: 0.1,
            los_clearance_m: 5.0,
            fresnel_ratio_min: 0.3,
            knife_edge_loss_db: 3.0,
            bullington_loss_db: 3.0,
            deygout_loss_db: 3.0,
            free_space_loss_db: 91.2,
            free_space_bullington_loss_db: 94.2,
            obstructed_fraction: 0.0,
            terrain_std_m: 1.0,
            terrain_relief_m: 3.0,
            site_obstacle_distance_m: 500.0,
            tx_obstacle_distance_m: 500.0,
            device_ground_above_local_m: 0.0,
        };
        let budget = LinkBudget {
            device_eirp_dbm: 16.0,
            rx_gain_dbi: 3.0,
        };
        let p = PhysicsBaseline::default().predict(&f, &budget);
        // 16 + 3 − 94.2 = −75.2 dBm; interval ± 1.2816·11 = ± 14.097 dB.
        assert!((p.mean_dbm + 75.2).abs() < 1e-9);
        assert!((p.p90_dbm - p.mean_dbm - Z_90 * 11.0).abs() < 1e-9);
        let p = PhysicsBaseline::default()
            .excess_loss_db(20.0)
            .predict(&f, &budget);
        assert!((p.mean_dbm + 95.2).abs() < 1e-9);
        assert!(PhysicsBaseline::default().sigma_db(-1.0).check().is_err());
        assert!(
            PhysicsBaseline::default()
                .excess_loss_db(f64::NAN)
                .check()
                .is_err()
        );
    }
}
