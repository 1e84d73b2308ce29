//! The learned RSSI model: gradient-boosted trees on [`PathFeatures`], a
//! learned offset per known receiver, and an 80 % interval calibrated on
//! spatially held-out rows.
//!
//! # What it predicts
//!
//! The target is the measured RSSI in dBm (transmit powers are not known in
//! drive tests such as Ulm's; EU868 devices send about 16 dBm EIRP). The
//! prediction for a device → receiver path is
//!
//! `rssi = base(features) + gbm(features) + offset(receiver) + budget shift`
//!
//! - **base** ([`LinearBase`], [`Base::Linear`]): a weighted least-squares
//!   fit on log distance and the Bullington loss (and, as a candidate, the
//!   sweep's Deygout loss), so that where the trees have seen nothing alike
//!   the physics trend remains.
//! - **gbm** ([`crate::Gbm`]) learns the rest from geometry, terrain and
//!   physics features.
//! - **offset(receiver)**: receivers rarely publish antenna height, gain or
//!   cable loss, so each receiver seen in training gets an offset, the mean
//!   residual of its rows shrunk towards 0 as `Σr / (n + k)` with
//!   k = [`LearnedParams::receiver_prior_rows`] (a receiver with few rows
//!   keeps little of its own mean). Offsets and trees are fitted by
//!   backfitting ([`LearnedParams::offset_rounds`] rounds). A **new site**
//!   (unknown receiver) gets offset 0: the population default — what an
//!   average receiver of the training data, at the default antenna height
//!   the features were computed with, receives.
//! - **budget shift**: the model was trained under a reference link budget
//!   (device EIRP, receiver gain: [`LearnedParams::reference_eirp_dbm`],
//!   [`LearnedParams::reference_rx_gain_dbi`]); a different budget shifts the
//!   prediction by the difference, dB for dB.
//!
//! # Physics it keeps
//!
//! With [`LearnedParams::physics_monotone`] (the default) the prediction
//! never rises with distance, a loss or the obstructed share
//! ([`RSSI_FALLS_WITH`]) and never falls with a clearance
//! ([`RSSI_RISES_WITH`]), the other features held fixed — the two
//! properties every physics model is tested for (path loss never falls with
//! distance; an obstruction never lowers it). Every tree is grown under
//! monotone constraints on those features (XGBoost's and LightGBM's basic
//! method, [`GbmParams::monotone`]), the linear base keeps no positive
//! coefficient on distance or a loss, and offsets do not depend on the
//! path. Why: where the training area shows terrain mattering little, free
//! trees learn to give back what the base takes for an obstruction and
//! carry that to places where terrain matters a lot (Ulm's depot,
//! docs/model-evaluation.md); and a model whose RSSI rises with a loss is
//! one no planner trusts. Survivor bias (below) flattens the RSSI of heard
//! links with distance, which the constraint allows; it forbids only a
//! rise. What it does not promise: along a radial the unconstrained
//! features (elevation angle, terrain relief, obstacle distances) change
//! too, so a map can still brighten further out; and the interval's
//! quantiles change from one distance bin to the next, so p10, p90 and
//! `p_covered` can step up at a bin's edge — the mean is what is monotone.
//!
//! # Choosing the parameters
//!
//! With [`LearnedParams::select`] on (the default), training tries the four
//! [`LearnedParams::candidates`] (constant base; linear base with two or
//! three terms; two-term base with shallow, heavily regularised trees) on
//! inner spatial folds of the *training* rows and keeps the one with the
//! lowest out-of-fold RMSE (each res-10 cell weighing the same). Under
//! cross-validation this is nested: the held-out fold never takes part.
//!
//! # The interval
//!
//! Split-conformal in spirit: the training rows are cut into
//! [`LearnedParams::calibration_folds`] spatial blocks (H3 cells of the
//! device at [`LearnedParams::block_res`], balanced by rows; finer cells when
//! all rows fall in one), each block is
//! predicted by a model trained without it, and the quantiles of those
//! out-of-fold residuals, in [`LearnedParams::residual_bins`] bins of
//! distance, give the interval: p10 = mean + q10(bin), p90 = mean + q90(bin).
//! The quantiles weigh every res-10 cell of the devices equally (each row
//! 1 / rows in its cell), as a coverage map weighs places, so a few dense
//! spots (Ulm's depot: 66 % of rows within 300 m) do not set the interval
//! for everywhere; the distance bins' edges are quantiles of the same
//! weights, so each bin holds an equal share of the places. The interval
//! need not contain the mean: where held-out areas were predicted too high,
//! both ends lie below it.
//!
//! Those quantiles describe errors at places the model has not seen, for
//! receivers it has. A new site (a candidate, or any receiver not in
//! training) errs more: its offset is unknown and the trees learned the
//! known sites' surroundings. So a second table, for new sites, comes from
//! residuals of models that never saw the receiver: whole receivers dealt
//! largest first into [`NEW_SITE_FOLDS`] folds, each fold predicted as a
//! new site by a model of the others, binned and weighed as above.
//! `p_covered` follows from the three numbers
//! ([`RssiPrediction::p_at_least`]).
//!
//! # Survivor bias
//!
//! Drive-test data record only receptions: where the signal fell below the
//! receiver's sensitivity there is no row. The model therefore learns the
//! RSSI *of links that were heard*, which at the edge of coverage is higher
//! than the RSSI of all uplinks (RSSI-vs-distance looks flat). Nothing here
//! corrects for it: Ulm has no timestamps or frame counters, and although
//! rows at one exact position are probably one uplink, a gateway's silence
//! there cannot be told from a gateway that was off the air (the uptime of
//! its community gateways is unknown, and most heard few uplinks; see
//! docs/model-evaluation.md). The consequence is that far from a receiver the mean is
//! optimistic and `p_covered` is too high; a source with non-receptions
//! (Helium witness lists per beacon, frame counters) would allow a censored
//! fit. The evaluation scores on held-out receptions, so it cannot show this
//! bias either.
use std::collections::BTreeMap;

use h3o::{LatLng, Resolution};
use hexcover_core::LatLon;
use linfa::prelude::*;
use ndarray::{Array1, Array2};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::features::{FEATURE_COUNT, FeatureSet, PathFeatures, field};
use crate::gbm::{Gbm, GbmParams};
use crate::ranked::RankedGbm;
use crate::rssi_model::{LinkBudget, RssiModel, RssiPrediction};

/// The `format` string of a model file.
pub const MODEL_FORMAT: &str = "hexcover-learned-rssi/1";

/// Features that predicted RSSI may only rise with (the others held fixed)
/// under [`LearnedParams::physics_monotone`]: the line-of-sight margin, the
/// line-of-sight clearance and the Fresnel clearance ratio.
pub const RSSI_RISES_WITH: FeatureSet = FeatureSet::NONE
    .with(field::LOS_MARGIN)
    .with(field::LOS_CLEARANCE)
    .with(field::FRESNEL_RATIO);

/// Features that predicted RSSI may only fall with (the others held fixed)
/// under [`LearnedParams::physics_monotone`]: distance, every loss (knife
/// edge, Bullington, Deygout, free space, free space + Bullington) and the
/// obstructed share.
pub const RSSI_FALLS_WITH: FeatureSet = FeatureSet::NONE
    .with(field::LOG10_DISTANCE)
    .with(field::KNIFE_EDGE)
    .with(field::BULLINGTON)
    .with(field::DEYGOUT)
    .with(field::FREE_SPACE)
    .with(field::FREE_SPACE_BULLINGTON)
    .with(field::OBSTRUCTED_FRACTION);

/// Residual quantile levels stored per distance bin: 0, 0.05, …, 1.
pub const QUANTILE_LEVELS: usize = 21;

/// One measured reception: what the model trains and is evaluated on.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkSample {
    /// Device (transmitter) position.
    pub device: LatLon,
    /// Receiver id (gateway/hotspot).
    pub receiver: String,
    /// Path features (device → receiver).
    pub features: PathFeatures,
    /// Measured RSSI, dBm.
    pub rssi_dbm: f64,
}

/// Hyperparameters of the learned model, with consuming setters; checked by
/// [`LearnedParams::check`] before any work. The defaults were fixed up
/// front (before looking at any test fold).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LearnedParams {
    /// The boosted trees.
    pub gbm: GbmParams,
    /// Shrinkage of the receiver offsets: the number of rows at which a
    /// receiver keeps half of its own mean residual (default 200).
    pub receiver_prior_rows: f64,
    /// Backfitting rounds of trees and offsets (default 2; 0 = no offsets).
    pub offset_rounds: usize,
    /// Spatial folds for the interval's out-of-fold residuals (default 4).
    pub calibration_folds: usize,
    /// H3 resolution of the spatial blocks (default 8, ≈ 0.74 km²).
    pub block_res: u8,
    /// Distance bins of the interval (equal-count bins; default 3).
    pub residual_bins: usize,
    /// Weigh rows that repeat one (device position, receiver) pair k times
    /// by 1/√k each (default true): parked devices sending again would
    /// otherwise dominate the fit (Ulm has 11,479 exact repeats).
    pub repeat_weighting: bool,
    /// Device EIRP the training data were sent with, dBm (default 16, EU868).
    pub reference_eirp_dbm: f64,
    /// Receiver antenna gain assumed for the training data, dBi (default 3).
    pub reference_rx_gain_dbi: f64,
    /// What the trees correct (default [`Base::Linear`]).
    pub base: Base,
    /// Choose among [`LearnedParams::candidates`] by the inner spatial CV
    /// of the training rows (default true).
    pub select: bool,
    /// Hold the model to physics (default true): predicted RSSI never
    /// rises with distance, a loss or the obstructed share
    /// ([`RSSI_FALLS_WITH`]) and never falls with a clearance
    /// ([`RSSI_RISES_WITH`]), the other features held fixed — monotone
    /// constraints on every tree, and no positive coefficient on distance
    /// or a loss in the linear base. Model files from
    /// before this field read as `false`, which is how they were trained.
    #[serde(default)]
    pub physics_monotone: bool,
}

impl Default for LearnedParams {
    fn default() -> Self {
        Self::new()
    }
}

impl LearnedParams {
    /// The defaults (see the fields).
    #[must_use]
    pub const fn new() -> Self {
        Self {
            gbm: GbmParams::new(),
            receiver_prior_rows: 200.0,
            offset_rounds: 2,
            calibration_folds: 4,
            block_res: 8,
            residual_bins: 3,
            repeat_weighting: true,
            reference_eirp_dbm: 16.0,
            reference_rx_gain_dbi: 3.0,
            base: Base::Linear,
            select: true,
            physics_monotone: true,
        }
    }

    /// Turns the physics constraints ([`LearnedParams::physics_monotone`])
    /// on or off.
    #[must_use]
    pub const fn physics_monotone(mut self, on: bool) -> Self {
        self.physics_monotone = on;
        self
    }

    /// Sets the base the trees correct.
    #[must_use]
    pub const fn base(mut self, base: Base) -> Self {
        self.base = base;
        self
    }

    /// Turns the inner-CV choice among [`LearnedParams::candidates`] on or off.
    #[must_use]
    pub const fn select(mut self, on: bool) -> Self {
        self.select = on;
        self
    }

    /// Sets the boosted-tree parameters.
    #[must_use]
    pub const fn gbm(mut self, gbm: GbmParams) -> Self {
        self.gbm = gbm;
        self
    }

    /// Sets the receiver-offset shrinkage.
    #[must_use]
    pub const fn receiver_prior_rows(mut self, rows: f64) -> Self {
        self.receiver_prior_rows = rows;
        self
    }

    /// Sets the backfitting rounds (0: no receiver offsets).
    #[must_use]
    pub const fn offset_rounds(mut self, rounds: usize) -> Self {
        self.offset_rounds = rounds;
        self
    }

    /// Sets the number of calibration folds.
    #[must_use]
    pub const fn calibration_folds(mut self, folds: usize) -> Self {
        self.calibration_folds = folds;
        self
    }

    /// Sets the H3 resolution of the calibration blocks.
    #[must_use]
    pub const fn block_res(mut self, res: u8) -> Self {
        self.block_res = res;
        self
    }

    /// Sets the number of distance bins of the interval.
    #[must_use]
    pub const fn residual_bins(mut self, bins: usize) -> Self {
        self.residual_bins = bins;
        self
    }

    /// Turns the down-weighting of repeated rows on or off.
    #[must_use]
    pub const fn repeat_weighting(mut self, on: bool) -> Self {
        self.repeat_weighting = on;
        self
    }

    /// Sets the reference link budget of the training data.
    #[must_use]
    pub const fn reference_budget(mut self, eirp_dbm: f64, rx_gain_dbi: f64) -> Self {
        self.reference_eirp_dbm = eirp_dbm;
        self.reference_rx_gain_dbi = rx_gain_dbi;
        self
    }

    /// Checks every parameter.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for an invalid value.
    pub fn check(&self) -> Result<()> {
        use linfa::ParamGuard;
        self.gbm.check_ref()?;
        let bad = |name, value, expected| {
            Err(Error::InvalidParameter {
                name,
                value,
                expected,
            })
        };
        if !(self.receiver_prior_rows.is_finite() && self.receiver_prior_rows >= 0.0) {
            return bad(
                "receiver_prior_rows",
                self.receiver_prior_rows,
                "a finite number ≥ 0",
            );
        }
        if self.offset_rounds > 10 {
            return bad("offset_rounds", self.offset_rounds as f64, "0 to 10");
        }
        if !(2..=20).contains(&self.calibration_folds) {
            return bad(
                "calibration_folds",
                self.calibration_folds as f64,
                "2 to 20",
            );
        }
        if self.block_res > 15 {
            return bad(
                "block_res",
                f64::from(self.block_res),
                "an H3 resolution 0–15",
            );
        }
        if !(1..=20).contains(&self.residual_bins) {
            return bad("residual_bins", self.residual_bins as f64, "1 to 20");
        }
        if !self.reference_eirp_dbm.is_finite() || !self.reference_rx_gain_dbi.is_finite() {
            return bad(
                "reference budget",
                self.reference_eirp_dbm,
                "finite numbers",
            );
        }
        Ok(())
    }

    fn resolution(&self) -> Result<Resolution> {
        Resolution::try_from(self.block_res).map_err(|_| Error::InvalidParameter {
            name: "block_res",
            value: f64::from(self.block_res),
            expected: "an H3 resolution 0–15",
        })
    }

    /// Trains the model on `samples`: trees and offsets on every row, the
    /// interval from spatially blocked out-of-fold residuals.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for invalid parameters;
    /// [`Error::Training`] for no rows, non-finite values, or fewer spatial
    /// blocks than two.
    pub fn fit(&self, samples: &[LinkSample]) -> Result<LearnedModel> {
        self.check()?;
        check_samples(samples)?;
        let weights = row_weights(samples, self.repeat_weighting);
        // Inner spatial folds of the training rows: they choose the
        // candidate (when selecting) and give the interval's residuals.
        // Training rows inside one block (a fold that is one dense area) get
        // finer blocks, down to res 15.
        let devices: Vec<LatLon> = samples.iter().map(|s| s.device).collect();
        let mut res = self.resolution()?;
        let (fold_of, folds) = loop {
            let (fold_of, _) = blocked_folds(&devices, res, self.calibration_folds)?;
            let folds = fold_of.iter().max().map_or(0, |m| m + 1);
            match (folds >= 2, res.succ()) {
                (true, _) => break (fold_of, folds),
                (false, Some(finer)) => res = finer,
                (false, None) => {
                    return Err(Error::Training(
                        "the calibration needs rows in at least two spatial blocks".into(),
                    ));
                }
            }
        };
        let candidates = if self.select {
            self.candidates()
        } else {
            vec![*self]
        };
        let place = place_weights(samples);
        let mut best: Option<(f64, usize, Vec<f64>)> = None;
        let mut inner_rmse_db = Vec::with_capacity(candidates.len());
        // Every (candidate, fold) fit is independent: run them in parallel.
        let jobs: Vec<(usize, usize)> = (0..candidates.len())
            .flat_map(|c| (0..folds).map(move |f| (c, f)))
            .collect();
        let fitted: Vec<Vec<(usize, f64)>> = jobs
            .par_iter()
            .map(|&(c, f)| candidates[c].fold_residuals(samples, &weights, &fold_of, f))
            .collect::<Result<_>>()?;
        for (c, _) in candidates.iter().enumerate() {
            let mut residual = vec![0.0; samples.len()];
            for ((jc, _), rows) in jobs.iter().zip(&fitted) {
                if *jc == c {
                    for &(i, r) in rows {
                        residual[i] = r;
                    }
                }
            }
            // Each place (res-10 cell) counts the same, as in coverage maps.
            let rmse = (residual
                .iter()
                .zip(&place)
                .map(|(r, w)| w * r * r)
                .sum::<f64>()
                / place.iter().sum::<f64>())
            .sqrt();
            inner_rmse_db.push(rmse);
            if best.as_ref().is_none_or(|(b, _, _)| rmse < *b) {
                best = Some((rmse, c, residual));
            }
        }
        let (_, chosen, residual) =
            best.ok_or_else(|| Error::Training("no candidate was fitted".into()))?;
        let params = candidates[chosen];
        let all: Vec<usize> = (0..samples.len()).collect();
        let (core, new_site_residual) = rayon::join(
            || params.fit_core(samples, &all, &weights),
            || params.new_site_residuals(samples, &weights),
        );
        let (core, new_site_residual) = (core?, new_site_residual?);
        let log_d: Vec<f64> = samples
            .iter()
            .map(|s| s.features.log10_distance_m)
            .collect();
        let calibration =
            Calibration::from_residuals(&log_d, &residual, &place, self.residual_bins);
        let new_site_calibration = new_site_residual.map(|residual| {
            Calibration::from_residuals(&log_d, &residual, &place, self.residual_bins)
        });
        let receiver_rows = samples.iter().fold(BTreeMap::new(), |mut m, s| {
            *m.entry(s.receiver.clone()).or_insert(0usize) += 1;
            m
        });
        Ok(LearnedModel {
            format: MODEL_FORMAT.to_owned(),
            feature_names: PathFeatures::NAMES
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            params,
            selection: Selection {
                candidates: if self.select { candidates } else { Vec::new() },
                inner_rmse_db: if self.select {
                    inner_rmse_db
                } else {
                    Vec::new()
                },
                chosen,
            },
            base: core.base,
            gbm: core.gbm,
            receiver_offsets_db: core.offsets,
            receiver_rows,
            calibration,
            new_site_calibration,
            training_rows: samples.len(),
            training_data_fnv1a64: data_hash(samples),
            metadata: BTreeMap::new(),
        })
    }

    /// Trees and offsets on rows `idx` (backfitting).
    fn fit_core(&self, samples: &[LinkSample], idx: &[usize], weights: &[f64]) -> Result<Core> {
        if idx.is_empty() {
            return Err(Error::Training("no training rows".into()));
        }
        let x = Array2::from_shape_fn((idx.len(), FEATURE_COUNT), |(r, c)| {
            samples[idx[r]].features.to_array()[c]
        });
        let w = Array1::from_iter(idx.iter().map(|&i| weights[i] as f32));
        let monotone = self.physics_monotone;
        let base = match self.base {
            Base::Mean => LinearBase::default(),
            Base::Linear => LinearBase::fit(samples, idx, weights, 2, monotone)?,
            Base::LinearDeygout => LinearBase::fit(samples, idx, weights, 3, monotone)?,
        };
        let gbm_params = if monotone {
            // Added to any constraints of the caller's own (a feature in
            // both directions is an error of the fit).
            use linfa::ParamGuard;
            let own = self.gbm.check_ref()?;
            self.gbm.monotone(
                own.increasing | RSSI_RISES_WITH.bits(),
                own.decreasing | RSSI_FALLS_WITH.bits(),
            )
        } else {
            self.gbm
        };
        let y: Vec<f64> = idx
            .iter()
            .map(|&i| samples[i].rssi_dbm - base.predict(&samples[i].features))
            .collect();
        let mut offsets: BTreeMap<String, f64> = BTreeMap::new();
        let offset_of = |offsets: &BTreeMap<String, f64>, i: usize| {
            offsets.get(&samples[i].receiver).copied().unwrap_or(0.0)
        };
        let rounds = self.offset_rounds.max(1);
        let mut gbm = None;
        for _ in 0..rounds {
            let target = Array1::from_iter(
                idx.iter()
                    .zip(&y)
                    .map(|(&i, &v)| v - offset_of(&offsets, i)),
            );
            let data = Dataset::new(x.clone(), target).with_weights(w.clone());
            let model = gbm_params.fit(&data)?;
            if self.offset_rounds > 0 {
                // Additive update: shrunk weighted mean residual per receiver.
                let mut sums: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
                for (r, &i) in idx.iter().enumerate() {
                    let fx = model.predict_row(&samples[i].features.to_array());
                    let res = y[r] - offset_of(&offsets, i) - fx;
                    let e = sums
                        .entry(samples[i].receiver.as_str())
                        .or_insert((0.0, 0.0));
                    e.0 += weights[i] * res;
                    e.1 += weights[i];
                }
                for (rx, (sr, sw)) in sums {
                    // Shrinkage in rows: the weights sum to about the row count.
                    *offsets.entry(rx.to_owned()).or_insert(0.0) +=
                        sr / (sw + self.receiver_prior_rows);
                }
            }
            gbm = Some(model);
        }
        let gbm = gbm.ok_or_else(|| Error::Training("no boosting round ran".into()))?;
        Ok(Core { base, gbm, offsets })
    }

    /// Residuals (row, measured − predicted) of fold `f` predicted by a
    /// model of these parameters trained on the other folds.
    fn fold_residuals(
        &self,
        samples: &[LinkSample],
        weights: &[f64],
        fold_of: &[usize],
        f: usize,
    ) -> Result<Vec<(usize, f64)>> {
        let train: Vec<usize> = (0..samples.len()).filter(|&i| fold_of[i] != f).collect();
        let core = self.fit_core(samples, &train, weights)?;
        Ok((0..samples.len())
            .filter(|&i| fold_of[i] == f)
            .map(|i| {
                let s = &samples[i];
                (i, s.rssi_dbm - core.predict(&s.features, Some(&s.receiver)))
            })
            .collect())
    }

    /// Residuals (measured − predicted, every row) of models of these
    /// parameters that never saw the row's receiver: the receivers are dealt
    /// largest first into up to [`NEW_SITE_FOLDS`] folds, and each fold is
    /// predicted by a model trained on the others, as a new site (no
    /// offset). `None` with fewer than two receivers.
    fn new_site_residuals(
        &self,
        samples: &[LinkSample],
        weights: &[f64],
    ) -> Result<Option<Vec<f64>>> {
        let receivers: Vec<&str> = samples.iter().map(|s| s.receiver.as_str()).collect();
        let Some(fold_of) = receiver_groups(&receivers, NEW_SITE_FOLDS) else {
            return Ok(None);
        };
        let folds = fold_of.iter().max().map_or(0, |m| m + 1);
        // A held-out receiver has no offset in the model of the other
        // folds: `fold_residuals` predicts its rows as a new site's.
        let fitted: Vec<Vec<(usize, f64)>> = (0..folds)
            .into_par_iter()
            .map(|f| self.fold_residuals(samples, weights, &fold_of, f))
            .collect::<Result<_>>()?;
        let mut residual = vec![0.0; samples.len()];
        for (i, r) in fitted.into_iter().flatten() {
            residual[i] = r;
        }
        Ok(Some(residual))
    }

    /// What these parameters fit, in a few words: the base and the trees
    /// ("constant base, 150 trees of depth 5").
    #[must_use]
    pub fn describe(&self) -> String {
        let base = match self.base {
            Base::Mean => "constant base".to_owned(),
            Base::Linear => format!("linear base on {}", LINEAR_BASE_FEATURES[..2].join(", ")),
            Base::LinearDeygout => format!("linear base on {}", LINEAR_BASE_FEATURES.join(", ")),
        };
        match linfa::ParamGuard::check_ref(&self.gbm) {
            Ok(g) => format!(
                "{base}, {} trees of depth {}, {} rows per leaf",
                g.n_trees, g.max_depth, g.min_samples_leaf
            ),
            Err(_) => base,
        }
    }

    /// The candidates [`LearnedParams::select`] chooses from: these
    /// parameters with a constant base, with the linear physics base (two
    /// or three terms), and with the two-term base and shallow, heavily
    /// regularised trees.
    #[must_use]
    pub fn candidates(&self) -> Vec<Self> {
        let regularised = self
            .gbm
            .max_depth(3)
            .min_samples_leaf(200)
            .learning_rate(0.05);
        vec![
            Self {
                base: Base::Mean,
                select: false,
                ..*self
            },
            Self {
                base: Base::Linear,
                select: false,
                ..*self
            },
            Self {
                base: Base::LinearDeygout,
                select: false,
                ..*self
            },
            Self {
                base: Base::Linear,
                select: false,
                gbm: regularised,
                ..*self
            },
        ]
    }
}

/// The linear physics base: RSSI ≈ a + Σ bᵢ·xᵢ over
/// [`LINEAR_BASE_FEATURES`], weighted least squares on the training rows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LinearBase {
    /// Intercept a, dBm (0 with no terms: the trees' own mean takes over).
    pub intercept_dbm: f64,
    /// Coefficients of the first features of [`LINEAR_BASE_FEATURES`]
    /// (empty: no linear terms).
    pub coefficients: Vec<f64>,
}

/// Features of the linear base: distance and the Bullington and Deygout
/// diffraction losses.
pub const LINEAR_BASE_FEATURES: [&str; 3] =
    ["log10_distance_m", "bullington_loss_db", "deygout_loss_db"];

fn base_terms(f: &PathFeatures) -> [f64; 3] {
    [f.log10_distance_m, f.bullington_loss_db, f.deygout_loss_db]
}

impl LinearBase {
    /// Weighted least squares on the first `terms` of
    /// [`LINEAR_BASE_FEATURES`]. With `monotone`, a term whose coefficient
    /// comes out positive (RSSI rising with distance or a loss: two
    /// collinear losses can split that way) is dropped, the largest first,
    /// and the rest refitted; its coefficient stays 0.
    fn fit(
        samples: &[LinkSample],
        idx: &[usize],
        weights: &[f64],
        terms: usize,
        monotone: bool,
    ) -> Result<Self> {
        let terms = terms.min(LINEAR_BASE_FEATURES.len());
        let mut active: Vec<usize> = (0..terms).collect();
        loop {
            let (intercept_dbm, fitted) = Self::solve(samples, idx, weights, &active)?;
            let mut coefficients = vec![0.0; terms];
            for (&t, &b) in active.iter().zip(&fitted) {
                coefficients[t] = b;
            }
            // Every term (distance and the losses) is one RSSI must not
            // rise with.
            let rising = active
                .iter()
                .copied()
                .filter(|&t| monotone && coefficients[t] > 0.0)
                .max_by(|&x, &y| coefficients[x].total_cmp(&coefficients[y]));
            match rising {
                Some(t) => active.retain(|&a| a != t),
                None => {
                    return Ok(Self {
                        intercept_dbm,
                        coefficients,
                    });
                }
            }
        }
    }

    /// Intercept and coefficients of the `active` terms of [`base_terms`]
    /// by weighted least squares.
    // Elimination reads one row of the matrix while writing another: indices
    // say that more plainly than iterators.
    #[allow(clippy::needless_range_loop)]
    fn solve(
        samples: &[LinkSample],
        idx: &[usize],
        weights: &[f64],
        active: &[usize],
    ) -> Result<(f64, Vec<f64>)> {
        // Normal equations of [1, x1, ..], solved by Gaussian elimination with
        // partial pivoting; a small ridge keeps a constant column solvable.
        const MAX: usize = 1 + LINEAR_BASE_FEATURES.len();
        let k = 1 + active.len().min(LINEAR_BASE_FEATURES.len());
        let mut a = [[0.0f64; MAX + 1]; MAX];
        for &i in idx {
            let t = base_terms(&samples[i].features);
            let mut row = [1.0; MAX];
            for (slot, &term) in row[1..].iter_mut().zip(active) {
                *slot = t[term];
            }
            let w = weights[i];
            for r in 0..k {
                for c in 0..k {
                    a[r][c] += w * row[r] * row[c];
                }
                a[r][MAX] += w * row[r] * samples[i].rssi_dbm;
            }
        }
        for (r, row) in a.iter_mut().enumerate().take(k).skip(1) {
            row[r] += 1e-12 * (1.0 + row[r]);
        }
        for col in 0..k {
            let pivot = (col..k)
                .max_by(|&x, &y| a[x][col].abs().total_cmp(&a[y][col].abs()))
                .unwrap_or(col);
            a.swap(col, pivot);
            if a[col][col].abs() < 1e-12 {
                return Err(Error::Training("the linear base is singular".into()));
            }
            for r in 0..k {
                if r != col {
                    let factor = a[r][col] / a[col][col];
                    for c in col..k {
                        a[r][c] -= factor * a[col][c];
                    }
                    a[r][MAX] -= factor * a[col][MAX];
                }
            }
        }
        let solution: Vec<f64> = (0..k).map(|r| a[r][MAX] / a[r][r]).collect();
        if solution.iter().any(|v| !v.is_finite()) {
            return Err(Error::Training("the linear base did not converge".into()));
        }
        Ok((solution[0], solution[1..].to_vec()))
    }

    fn predict(&self, f: &PathFeatures) -> f64 {
        self.intercept_dbm
            + self
                .coefficients
                .iter()
                .zip(base_terms(f))
                .map(|(b, x)| b * x)
                .sum::<f64>()
    }

    fn check(&self) -> Result<()> {
        if !self.intercept_dbm.is_finite()
            || self.coefficients.len() > LINEAR_BASE_FEATURES.len()
            || self.coefficients.iter().any(|v| !v.is_finite())
        {
            return Err(Error::Model("malformed linear base".into()));
        }
        Ok(())
    }
}

/// What the trees correct.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Base {
    /// The trees model RSSI from its mean.
    Mean,
    /// The trees model the residual of the [`LinearBase`] on log distance
    /// and the Bullington loss, which keeps the physics trend where the
    /// trees have seen nothing like a place.
    Linear,
    /// As [`Base::Linear`], with the (sweep) Deygout loss as a third term.
    LinearDeygout,
}

fn check_samples(samples: &[LinkSample]) -> Result<()> {
    if samples.is_empty() {
        return Err(Error::Training("no training rows".into()));
    }
    if let Some(i) = samples.iter().position(|s| {
        !s.rssi_dbm.is_finite()
            || s.features.to_array().iter().any(|v| !v.is_finite())
            || !s.device.lat.is_finite()
            || !s.device.lon.is_finite()
    }) {
        return Err(Error::Training(format!("row {i} has a non-finite value")));
    }
    Ok(())
}

/// Row weights: 1/√k for each of k rows with the same device position and
/// receiver (or 1 each when `repeats` is off).
fn row_weights(samples: &[LinkSample], repeats: bool) -> Vec<f64> {
    if !repeats {
        return vec![1.0; samples.len()];
    }
    let key = |s: &LinkSample| {
        (
            s.device.lat.to_bits(),
            s.device.lon.to_bits(),
            s.receiver.clone(),
        )
    };
    let mut counts: BTreeMap<(u64, u64, String), usize> = BTreeMap::new();
    for s in samples {
        *counts.entry(key(s)).or_insert(0) += 1;
    }
    samples
        .iter()
        .map(|s| 1.0 / (counts.get(&key(s)).copied().unwrap_or(1) as f64).sqrt())
        .collect()
}

/// FNV-1a (64-bit) over the rows' receiver, position, RSSI and features.
fn data_hash(samples: &[LinkSample]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    for s in samples {
        eat(s.receiver.as_bytes());
        eat(&[0]);
        for v in [s.device.lat, s.device.lon, s.rssi_dbm]
            .into_iter()
            .chain(s.features.to_array())
        {
            eat(&v.to_le_bytes());
        }
    }
    format!("{h:016x}")
}

/// Folds the new-site interval is calibrated on (fewer with fewer receivers).
pub const NEW_SITE_FOLDS: usize = 5;

/// The fold of each row when whole receivers are held out: receivers by
/// rows, largest first, each to the fold with the fewest rows so far (ties
/// to the lower fold; receivers of equal rows in id order). `None` with
/// fewer than two receivers.
fn receiver_groups(receivers: &[&str], folds: usize) -> Option<Vec<usize>> {
    let mut rows: BTreeMap<&str, usize> = BTreeMap::new();
    for r in receivers {
        *rows.entry(r).or_insert(0) += 1;
    }
    let folds = folds.min(rows.len());
    if folds < 2 {
        return None;
    }
    let mut order: Vec<(&str, usize)> = rows.into_iter().collect();
    order.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let mut load = vec![0usize; folds];
    let mut fold_of_receiver: BTreeMap<&str, usize> = BTreeMap::new();
    for (r, n) in order {
        let f = (0..folds).min_by_key(|&f| (load[f], f)).unwrap_or(0);
        load[f] += n;
        fold_of_receiver.insert(r, f);
    }
    Some(
        receivers
            .iter()
            .map(|r| fold_of_receiver.get(r).copied().unwrap_or(0))
            .collect(),
    )
}

/// Spatial folds: every row gets the fold of its device's H3 cell at `res`;
/// cells are dealt largest first into the fold with the fewest rows so far
/// (ties to the lower fold), so folds hold similar numbers of rows as far as
/// the blocks allow. Returns (fold of each row, number of blocks). Fewer
/// blocks than folds give fewer (non-empty) folds.
///
/// # Errors
/// [`Error::InvalidInput`] for a device position h3o cannot index;
/// [`Error::InvalidParameter`] for zero folds.
pub fn blocked_folds(
    devices: &[LatLon],
    res: Resolution,
    folds: usize,
) -> Result<(Vec<usize>, usize)> {
    if folds == 0 {
        return Err(Error::InvalidParameter {
            name: "folds",
            value: 0.0,
            expected: "at least 1",
        });
    }
    let cells = devices
        .iter()
        .map(|d| {
            LatLng::new(d.lat, d.lon)
                .map(|ll| u64::from(ll.to_cell(res)))
                .map_err(|_| Error::InvalidInput {
                    name: "device position",
                    value: d.lat,
                    expected: "a WGS84 position",
                })
        })
        .collect::<Result<Vec<u64>>>()?;
    let mut sizes: BTreeMap<u64, usize> = BTreeMap::new();
    for &c in &cells {
        *sizes.entry(c).or_insert(0) += 1;
    }
    let mut blocks: Vec<(u64, usize)> = sizes.into_iter().collect();
    // Largest first; equal sizes by cell id, so the deal is deterministic.
    blocks.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut load = vec![0usize; folds];
    let mut fold_of_block: BTreeMap<u64, usize> = BTreeMap::new();
    for &(cell, size) in &blocks {
        let f = (0..folds).min_by_key(|&f| (load[f], f)).unwrap_or(0);
        load[f] += size;
        fold_of_block.insert(cell, f);
    }
    // Renumber so the used folds are 0..k (empty folds dropped).
    let mut used: Vec<usize> = (0..folds).filter(|&f| load[f] > 0).collect();
    used.sort_unstable();
    let renumber: BTreeMap<usize, usize> = used.iter().enumerate().map(|(i, &f)| (f, i)).collect();
    let fold_of = cells
        .iter()
        .map(|c| {
            let f = fold_of_block.get(c).copied().unwrap_or(0);
            renumber.get(&f).copied().unwrap_or(0)
        })
        .collect();
    Ok((fold_of, blocks.len()))
}

/// Base, trees and offsets.
struct Core {
    base: LinearBase,
    gbm: Gbm,
    offsets: BTreeMap<String, f64>,
}

impl Core {
    fn predict(&self, features: &PathFeatures, receiver: Option<&str>) -> f64 {
        self.base.predict(features)
            + self.gbm.predict_row(&features.to_array())
            + receiver
                .and_then(|r| self.offsets.get(r))
                .copied()
                .unwrap_or(0.0)
    }
}

/// Out-of-fold residual quantiles by distance bin (each res-10 cell of the
/// devices weighing the same).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Upper edges of all but the last bin, log10 metres (increasing).
    pub log10_distance_edges: Vec<f64>,
    /// Per bin, residual (measured − predicted) quantiles at levels
    /// 0, 1/20, …, 1, dB.
    pub residual_quantiles_db: Vec<Vec<f64>>,
    /// Out-of-fold rows per bin.
    pub rows: Vec<usize>,
}

impl Calibration {
    /// Quantiles per distance bin of `residual` with row weights `weight`.
    /// The bins hold equal shares of the weight, not of the rows: with
    /// places weighing the same, one dense place (a depot where trucks
    /// park) cannot pull every edge onto its own distance.
    fn from_residuals(log_d: &[f64], residual: &[f64], weight: &[f64], bins: usize) -> Self {
        let mut by_distance: Vec<(f64, f64)> =
            log_d.iter().copied().zip(weight.iter().copied()).collect();
        by_distance.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut edges: Vec<f64> = (1..bins)
            .map(|b| weighted_quantile_sorted(&by_distance, b as f64 / bins as f64))
            .collect();
        edges.dedup();
        let k = edges.len() + 1;
        let mut per_bin: Vec<Vec<(f64, f64)>> = vec![Vec::new(); k];
        for ((&d, &r), &w) in log_d.iter().zip(residual).zip(weight) {
            per_bin[bin_of(&edges, d)].push((r, w));
        }
        let rows = per_bin.iter().map(Vec::len).collect();
        let residual_quantiles_db = per_bin
            .into_iter()
            .map(|mut r| {
                r.sort_by(|a, b| a.0.total_cmp(&b.0));
                (0..QUANTILE_LEVELS)
                    .map(|q| weighted_quantile_sorted(&r, q as f64 / (QUANTILE_LEVELS - 1) as f64))
                    .collect()
            })
            .collect();
        Self {
            log10_distance_edges: edges,
            residual_quantiles_db,
            rows,
        }
    }

    /// (q10, q90) of the residuals of the bin of `log10_distance_m`, dB.
    #[must_use]
    pub fn interval_db(&self, log10_distance_m: f64) -> (f64, f64) {
        let q = &self.residual_quantiles_db[bin_of(&self.log10_distance_edges, log10_distance_m)];
        (q[2], q[QUANTILE_LEVELS - 3])
    }

    fn check(&self) -> Result<()> {
        let ok = self.residual_quantiles_db.len() == self.log10_distance_edges.len() + 1
            && self.rows.len() == self.residual_quantiles_db.len()
            && self
                .residual_quantiles_db
                .iter()
                .all(|q| q.len() == QUANTILE_LEVELS && q.iter().all(|v| v.is_finite()))
            && self.log10_distance_edges.windows(2).all(|w| w[0] < w[1]);
        if ok {
            Ok(())
        } else {
            Err(Error::Model("malformed calibration table".into()))
        }
    }
}

fn bin_of(edges: &[f64], x: f64) -> usize {
    edges.partition_point(|&e| e < x)
}

/// Weighted quantile of (value, weight) pairs sorted by value: the first
/// value at which the cumulative weight reaches `q` of the total (0 for no
/// values; the minimum for q = 0).
fn weighted_quantile_sorted(sorted: &[(f64, f64)], q: f64) -> f64 {
    let total: f64 = sorted.iter().map(|p| p.1).sum();
    let target = q.clamp(0.0, 1.0) * total;
    let mut cum = 0.0;
    for &(v, w) in sorted {
        cum += w;
        if cum >= target {
            return v;
        }
    }
    sorted.last().map_or(0.0, |p| p.0)
}

/// Weights that give every res-10 H3 cell of the devices the same total
/// weight (1 / rows in the row's cell): "each place counts the same".
fn place_weights(samples: &[LinkSample]) -> Vec<f64> {
    let cells: Vec<u64> = samples
        .iter()
        .map(|s| {
            LatLng::new(s.device.lat, s.device.lon)
                .map_or(0, |ll| u64::from(ll.to_cell(Resolution::Ten)))
        })
        .collect();
    let mut counts: BTreeMap<u64, usize> = BTreeMap::new();
    for &c in &cells {
        *counts.entry(c).or_insert(0) += 1;
    }
    cells
        .iter()
        .map(|c| 1.0 / counts.get(c).copied().unwrap_or(1) as f64)
        .collect()
}

/// Quantile of sorted values with linear interpolation (0 for no values).
pub(crate) fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    match sorted.len() {
        0 => 0.0,
        1 => sorted[0],
        n => {
            let pos = q.clamp(0.0, 1.0) * (n - 1) as f64;
            let lo = pos.floor() as usize;
            let hi = (lo + 1).min(n - 1);
            sorted[lo] + (pos - lo as f64) * (sorted[hi] - sorted[lo])
        }
    }
}

/// How the model's parameters were chosen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Selection {
    /// The candidates tried (empty: no selection).
    pub candidates: Vec<LearnedParams>,
    /// Each candidate's out-of-fold RMSE on the inner spatial folds, every
    /// res-10 cell of the devices weighing the same, dB.
    pub inner_rmse_db: Vec<f64>,
    /// Index of the chosen candidate.
    pub chosen: usize,
}

/// A trained model: what `hexcover train` writes as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LearnedModel {
    /// [`MODEL_FORMAT`].
    pub format: String,
    /// The features, in the order the trees read them ([`PathFeatures::NAMES`]).
    pub feature_names: Vec<String>,
    /// The hyperparameters it was trained with (the chosen candidate).
    pub params: LearnedParams,
    /// The inner-CV choice among candidates.
    pub selection: Selection,
    /// The linear physics base the trees correct (empty for [`Base::Mean`]).
    pub base: LinearBase,
    /// The boosted trees.
    pub gbm: Gbm,
    /// Offset of each receiver seen in training, dB.
    pub receiver_offsets_db: BTreeMap<String, f64>,
    /// Training rows of each receiver.
    pub receiver_rows: BTreeMap<String, usize>,
    /// The interval's residual quantiles for receivers seen in training.
    pub calibration: Calibration,
    /// The interval's residual quantiles for a new site (a receiver not
    /// seen in training), from models that never saw the receiver; `None`
    /// in models trained on one receiver (and in files written before it
    /// existed): new sites then use [`LearnedModel::calibration`].
    #[serde(default)]
    pub new_site_calibration: Option<Calibration>,
    /// Number of training rows.
    pub training_rows: usize,
    /// FNV-1a 64 hash of the training rows (receiver, position, RSSI, features).
    pub training_data_fnv1a64: String,
    /// Free-form facts the caller records (inputs, DEM, radio assumptions,
    /// profile step, cross-validation metrics as JSON text, ...).
    pub metadata: BTreeMap<String, String>,
}

impl LearnedModel {
    /// Checks a model (e.g. one read from a file): format, feature list,
    /// trees and calibration.
    ///
    /// # Errors
    /// [`Error::Model`] naming what is wrong.
    pub fn check(&self) -> Result<()> {
        if self.format != MODEL_FORMAT {
            return Err(Error::Model(format!(
                "format is {:?}, expected {MODEL_FORMAT:?}",
                self.format
            )));
        }
        if self.feature_names != PathFeatures::NAMES {
            return Err(Error::Model(format!(
                "the model's features ({}) are not this version's ({})",
                self.feature_names.join(", "),
                PathFeatures::NAMES.join(", ")
            )));
        }
        if self.gbm.n_features != FEATURE_COUNT {
            return Err(Error::Model("tree feature count differs".into()));
        }
        self.gbm.check()?;
        self.base.check()?;
        self.calibration.check()?;
        if let Some(c) = &self.new_site_calibration {
            c.check()?;
        }
        self.params.check()?;
        if self.receiver_offsets_db.values().any(|v| !v.is_finite()) {
            return Err(Error::Model("non-finite receiver offset".into()));
        }
        Ok(())
    }

    /// The offset of `receiver`, dB: 0 for `None` or an unknown receiver
    /// (the population default of a new site).
    #[must_use]
    pub fn receiver_offset_db(&self, receiver: Option<&str>) -> f64 {
        receiver
            .and_then(|r| self.receiver_offsets_db.get(r))
            .copied()
            .unwrap_or(0.0)
    }

    /// Whether `receiver` was seen in training (it has an offset and the
    /// interval of known receivers).
    #[must_use]
    pub fn knows_receiver(&self, receiver: Option<&str>) -> bool {
        receiver.is_some_and(|r| self.receiver_rows.contains_key(r))
    }

    /// The RSSI at `receiver` (None or unseen: a new site) under the
    /// reference budget, with its 80 % interval.
    #[must_use]
    pub fn predict_link(&self, features: &PathFeatures, receiver: Option<&str>) -> RssiPrediction {
        self.link_from_trees(
            features,
            self.gbm.predict_row(&features.to_array()),
            self.receiver_offset_db(receiver),
            self.knows_receiver(receiver),
        )
    }

    /// The interval's table: of known receivers, or of new sites.
    fn calibration_for(&self, known_receiver: bool) -> &Calibration {
        match (&self.new_site_calibration, known_receiver) {
            (Some(new_site), false) => new_site,
            _ => &self.calibration,
        }
    }

    /// [`LearnedModel::predict_link`] given the trees' sum `trees_db`, the
    /// receiver's offset and whether it is a known receiver (one place for
    /// the arithmetic, so the one-path and the many-path predictions agree
    /// bit for bit).
    fn link_from_trees(
        &self,
        features: &PathFeatures,
        trees_db: f64,
        offset_db: f64,
        known_receiver: bool,
    ) -> RssiPrediction {
        let mean = self.base.predict(features) + trees_db + offset_db;
        let (q10, q90) = self
            .calibration_for(known_receiver)
            .interval_db(features.log10_distance_m);
        RssiPrediction {
            mean_dbm: mean,
            p10_dbm: mean + q10,
            p90_dbm: mean + q90,
        }
    }

    /// The predictions of `features` with the budget shift `shift_db`, then
    /// a known receiver's `offset_db` added (`None`: a new site), appended
    /// to `out`: the trees are walked over all rows at once, compiled
    /// (`ranked`) or as they are ([`Gbm::predict_rows`]).
    fn predict_many_shifted(
        &self,
        features: &[PathFeatures],
        shift_db: f64,
        offset_db: Option<f64>,
        ranked: Option<&RankedGbm>,
        out: &mut Vec<RssiPrediction>,
    ) {
        // Sized up front (`flat_map` cannot tell `collect` its length).
        let mut rows: Vec<f64> = Vec::with_capacity(features.len() * FEATURE_COUNT);
        for f in features {
            rows.extend_from_slice(&f.to_array());
        }
        let mut trees_db = vec![0.0; features.len()];
        match ranked {
            Some(ranked) => ranked.predict_rows(&rows, FEATURE_COUNT, &mut trees_db),
            None => self.gbm.predict_rows(&rows, FEATURE_COUNT, &mut trees_db),
        }
        out.extend(features.iter().zip(trees_db).map(|(f, t)| {
            let p = self
                .link_from_trees(f, t, 0.0, offset_db.is_some())
                .shifted(shift_db);
            offset_db.map_or(p, |o| p.shifted(o))
        }));
    }

    /// One path as [`LearnedModel::predict_many_shifted`] predicts it.
    fn predict_one_shifted(
        &self,
        features: &PathFeatures,
        shift_db: f64,
        offset_db: Option<f64>,
    ) -> RssiPrediction {
        let trees_db = self.gbm.predict_row(&features.to_array());
        let p = self
            .link_from_trees(features, trees_db, 0.0, offset_db.is_some())
            .shifted(shift_db);
        offset_db.map_or(p, |o| p.shifted(o))
    }

    /// This model for one receiver: its offset and the interval of known
    /// receivers applied (an unknown id is a new site), usable wherever an
    /// [`RssiModel`] is.
    #[must_use]
    pub fn for_receiver<'a>(&'a self, receiver: &str) -> ReceiverModel<'a> {
        ReceiverModel {
            model: self,
            offset_db: self
                .knows_receiver(Some(receiver))
                .then(|| self.receiver_offset_db(Some(receiver))),
        }
    }

    fn budget_shift_db(&self, budget: &LinkBudget) -> f64 {
        (budget.device_eirp_dbm - self.params.reference_eirp_dbm)
            + (budget.rx_gain_dbi - self.params.reference_rx_gain_dbi)
    }
}

/// A [`LearnedModel`] as a new site: offset 0, the budget shift applied.
impl RssiModel for LearnedModel {
    fn name(&self) -> String {
        "learned (gradient-boosted trees, new site)".to_owned()
    }

    fn predict(&self, features: &PathFeatures, budget: &LinkBudget) -> RssiPrediction {
        self.predict_one_shifted(features, self.budget_shift_db(budget), None)
    }

    fn predict_many(
        &self,
        features: &[PathFeatures],
        budget: &LinkBudget,
        out: &mut Vec<RssiPrediction>,
    ) {
        self.predict_many_shifted(features, self.budget_shift_db(budget), None, None, out);
    }

    fn prepared(&self) -> Box<dyn RssiModel + '_> {
        Box::new(Prepared::new(self, None))
    }

    /// The features a prediction depends on: those the trees split on, the
    /// linear base's terms and the distance (the interval's bins). A path's
    /// other features may be NaN without changing its prediction: per-site
    /// coverage then skips their work ([`crate::FeatureSweep::computing`]).
    fn features_read(&self) -> FeatureSet {
        let base_terms = LINEAR_BASE_FEATURES
            .iter()
            .take(self.base.coefficients.len())
            .filter_map(|name| PathFeatures::NAMES.iter().position(|n| n == name));
        self.gbm
            .features_split_on()
            .into_iter()
            .filter(|&f| f < FEATURE_COUNT)
            .chain(base_terms)
            .fold(
                FeatureSet::NONE.with(field::LOG10_DISTANCE),
                FeatureSet::with,
            )
    }
}

/// A [`LearnedModel`] for one receiver (see [`LearnedModel::for_receiver`]).
#[derive(Debug, Clone, Copy)]
pub struct ReceiverModel<'a> {
    model: &'a LearnedModel,
    /// The receiver's offset; `None` for a receiver not seen in training.
    offset_db: Option<f64>,
}

impl RssiModel for ReceiverModel<'_> {
    fn name(&self) -> String {
        match self.offset_db {
            Some(_) => "learned (gradient-boosted trees, known receiver)".to_owned(),
            None => self.model.name(),
        }
    }

    fn predict(&self, features: &PathFeatures, budget: &LinkBudget) -> RssiPrediction {
        self.model
            .predict_one_shifted(features, self.model.budget_shift_db(budget), self.offset_db)
    }

    fn predict_many(
        &self,
        features: &[PathFeatures],
        budget: &LinkBudget,
        out: &mut Vec<RssiPrediction>,
    ) {
        let shift_db = self.model.budget_shift_db(budget);
        self.model
            .predict_many_shifted(features, shift_db, self.offset_db, None, out);
    }

    fn prepared(&self) -> Box<dyn RssiModel + '_> {
        Box::new(Prepared::new(self.model, self.offset_db))
    }

    fn features_read(&self) -> FeatureSet {
        self.model.features_read()
    }
}

/// A [`LearnedModel`] (with a receiver's offset or as a new site) with its
/// trees compiled for many predictions: what [`RssiModel::prepared`] gives.
struct Prepared<'a> {
    model: &'a LearnedModel,
    offset_db: Option<f64>,
    /// The model's [`RssiModel::features_read`], taken once.
    reads: FeatureSet,
    /// `None` for trees that do not compile (walked as they are).
    ranked: Option<RankedGbm>,
}

impl<'a> Prepared<'a> {
    fn new(model: &'a LearnedModel, offset_db: Option<f64>) -> Self {
        Self {
            model,
            offset_db,
            reads: model.features_read(),
            ranked: RankedGbm::new(&model.gbm),
        }
    }
}

impl RssiModel for Prepared<'_> {
    fn name(&self) -> String {
        ReceiverModel {
            model: self.model,
            offset_db: self.offset_db,
        }
        .name()
    }

    fn predict(&self, features: &PathFeatures, budget: &LinkBudget) -> RssiPrediction {
        self.model
            .predict_one_shifted(features, self.model.budget_shift_db(budget), self.offset_db)
    }

    fn predict_many(
        &self,
        features: &[PathFeatures],
        budget: &LinkBudget,
        out: &mut Vec<RssiPrediction>,
    ) {
        let shift_db = self.model.budget_shift_db(budget);
        self.model.predict_many_shifted(
            features,
            shift_db,
            self.offset_db,
            self.ranked.as_ref(),
            out,
        );
    }

    fn features_read(&self) -> FeatureSet {
        self.reads
    }
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use hexcover_core::PathProfile;

    use super::*;
    use crate::RadioPath;
    use crate::gbm::SplitMix64;

    /// Synthetic links over a synthetic hilly profile: RSSI from free space +
    /// Bullington, a receiver-specific offset and noise. Only for the
    /// mechanics (real-data evaluation is in `hexcover evaluate`).
    pub(crate) fn synthetic(n: usize, seed: u64) -> Vec<LinkSample> {
        let mut rng = SplitMix64::new(seed);
        (0..n)
            .map(|i| {
                let d_m = 200.0 + 8_000.0 * rng.next_f64();
                let steps = 20;
                let ridge = 60.0 * rng.next_f64();
                let dist: Vec<f64> = (0..=steps).map(|k| d_m * k as f64 / steps as f64).collect();
                let elev: Vec<f64> = (0..=steps)
                    .map(|k| if k == steps / 2 { 480.0 + ridge } else { 480.0 })
                    .collect();
                let profile = PathProfile {
                    distance_m: dist,
                    elevation_m: elev,
                    filled_voids: 0,
                };
                let path = RadioPath::over_profile(profile, 868.3, 1.5, 10.0).unwrap();
                let features = PathFeatures::of(&path).unwrap();
                let receiver = format!("gw{}", i % 3);
                let offset = [0.0, 6.0, -6.0][i % 3];
                let noise = 4.0 * (rng.next_f64() - 0.5);
                LinkSample {
                    device: LatLon::new(48.3 + 0.1 * rng.next_f64(), 9.9 + 0.2 * rng.next_f64()),
                    receiver,
                    features,
                    rssi_dbm: 19.0 - features.free_space_bullington_loss_db + offset + noise,
                }
            })
            .collect()
    }

    /// A model of [`synthetic`] rows of three receivers at 0, +6 and −6 dB.
    fn three_receiver_model() -> LearnedModel {
        LearnedParams::new()
            .gbm(GbmParams::new().n_trees(60).min_samples_leaf(10))
            .select(false)
            .fit(&synthetic(3_000, 1))
            .unwrap()
    }

    #[test]
    fn learns_offsets_and_calibrates_the_interval() {
        let model = three_receiver_model();
        model.check().unwrap();
        // The offsets recover the ±6 dB receivers relative to gw0.
        let o = |r: &str| model.receiver_offset_db(Some(r));
        assert!(
            (o("gw1") - o("gw0") - 6.0).abs() < 1.0,
            "{}",
            o("gw1") - o("gw0")
        );
        assert!(
            (o("gw2") - o("gw0") + 6.0).abs() < 1.0,
            "{}",
            o("gw2") - o("gw0")
        );
        assert_eq!(model.receiver_offset_db(Some("unknown")), 0.0);
        // Fresh rows: errors small, 80 % interval near 80 %.
        let test = synthetic(2_000, 2);
        let (mut inside, mut sse) = (0usize, 0.0);
        for s in &test {
            let p = model.predict_link(&s.features, Some(&s.receiver));
            sse += (p.mean_dbm - s.rssi_dbm).powi(2);
            if (p.p10_dbm..=p.p90_dbm).contains(&s.rssi_dbm) {
                inside += 1;
            }
        }
        let rmse = (sse / test.len() as f64).sqrt();
        let share = inside as f64 / test.len() as f64;
        assert!(rmse < 2.5, "{rmse}");
        assert!((0.72..=0.88).contains(&share), "{share}");
        // The RssiModel view shifts by the budget and the receiver offset.
        let f = &test[0].features;
        let base = LinkBudget {
            device_eirp_dbm: 16.0,
            rx_gain_dbi: 3.0,
        };
        let louder = LinkBudget {
            device_eirp_dbm: 20.0,
            rx_gain_dbi: 3.0,
        };
        let a = model.predict(f, &base).mean_dbm;
        assert!((model.predict(f, &louder).mean_dbm - a - 4.0).abs() < 1e-9);
        let gw1 = model.for_receiver("gw1").predict(f, &base).mean_dbm;
        assert!((gw1 - a - o("gw1")).abs() < 1e-9);
        // Many paths at once (as per-site coverage asks): the same bits.
        let features: Vec<PathFeatures> = test.iter().map(|s| s.features).collect();
        let receiver = model.for_receiver("gw1");
        for m in [&model as &dyn RssiModel, &receiver] {
            let prepared = m.prepared();
            assert_eq!(prepared.name(), m.name());
            for many_at_once in [m, &*prepared] {
                let mut many = Vec::new();
                many_at_once.predict_many(&features, &louder, &mut many);
                assert_eq!(many.len(), features.len());
                for (f, p) in features.iter().zip(&many) {
                    assert_eq!(*p, m.predict(f, &louder));
                    assert_eq!(*p, prepared.predict(f, &louder));
                }
            }
        }
    }

    #[test]
    fn deterministic_and_round_trips_through_json() {
        let train = synthetic(800, 3);
        let params = LearnedParams::new().gbm(GbmParams::new().n_trees(20).min_samples_leaf(10));
        let a = params.fit(&train).unwrap();
        let b = params.fit(&train).unwrap();
        assert_eq!(a, b);
        // The candidates were compared on inner folds and the best one kept.
        let sel = &a.selection;
        assert_eq!(sel.candidates.len(), 4);
        assert_eq!(sel.inner_rmse_db.len(), 4);
        let best = sel
            .inner_rmse_db
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min);
        assert_eq!(sel.inner_rmse_db[sel.chosen], best);
        assert_eq!(a.params, sel.candidates[sel.chosen]);
        let json = serde_json::to_string(&a).unwrap();
        let back: LearnedModel = serde_json::from_str(&json).unwrap();
        assert_eq!(a, back);
        back.check().unwrap();
        // A file written before the physics constraints (no such keys)
        // reads as a model trained without them.
        let mut old: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(old["params"]["physics_monotone"], true);
        let params_json = old["params"].as_object_mut().unwrap();
        params_json.remove("physics_monotone");
        for key in ["increasing", "decreasing"] {
            params_json["gbm"]
                .as_object_mut()
                .unwrap()
                .remove(key)
                .unwrap();
        }
        let old: LearnedModel = serde_json::from_value(old).unwrap();
        assert!(!old.params.physics_monotone);
        assert_eq!(old.params.gbm, a.params.gbm.monotone(0, 0));
        assert_eq!(old.gbm, a.gbm);
        let mut bad = back.clone();
        bad.feature_names.swap(0, 1);
        assert!(matches!(bad.check(), Err(Error::Model(_))));
        // A different training set gives a different hash.
        let other = params.fit(&synthetic(800, 4)).unwrap();
        assert_ne!(a.training_data_fnv1a64, other.training_data_fnv1a64);
    }

    #[test]
    fn linear_base_recovers_an_exact_plane() {
        let mut rows = synthetic(300, 9);
        for r in &mut rows {
            let f = &r.features;
            r.rssi_dbm = 10.0 - 20.0 * f.log10_distance_m - 0.5 * f.bullington_loss_db;
        }
        let idx: Vec<usize> = (0..rows.len()).collect();
        let w = vec![1.0; rows.len()];
        for monotone in [false, true] {
            let base = LinearBase::fit(&rows, &idx, &w, 2, monotone).unwrap();
            assert!((base.intercept_dbm - 10.0).abs() < 1e-3, "{base:?}");
            assert!((base.coefficients[0] + 20.0).abs() < 1e-3, "{base:?}");
            assert!((base.coefficients[1] + 0.5).abs() < 1e-4, "{base:?}");
            for r in &rows {
                assert!((base.predict(&r.features) - r.rssi_dbm).abs() < 1e-3);
            }
            base.check().unwrap();
        }
    }

    #[test]
    fn physics_constraints_add_to_the_callers_own() {
        let rows = synthetic(300, 2);
        let small = GbmParams::new().n_trees(10).min_samples_leaf(10);
        // A caller's constraint against physics is a conflict …
        let against = LearnedParams::new().gbm(small.monotone(RSSI_FALLS_WITH.bits(), 0));
        assert!(matches!(
            against.fit(&rows),
            Err(Error::InvalidParameter { .. })
        ));
        // … which without the physics constraints is the caller's to make.
        against.physics_monotone(false).fit(&rows).unwrap();
        // One beside physics (the terrain relief, free by default) is kept.
        let beside = LearnedParams::new().gbm(small.monotone(0, 1 << 16));
        let kept = beside.fit(&rows).unwrap().params.gbm;
        let kept = linfa::ParamGuard::check_ref(&kept).unwrap();
        assert_eq!((kept.increasing, kept.decreasing), (0, 1 << 16));
    }

    #[test]
    fn a_monotone_linear_base_drops_a_loss_that_raises_rssi() {
        // RSSI that rises with the Deygout loss: free least squares follows
        // it, the monotone base drops the term and refits the other two.
        let mut rows = synthetic(300, 9);
        for (i, r) in rows.iter_mut().enumerate() {
            // Deygout apart from Bullington (one ridge makes them collinear).
            r.features.deygout_loss_db = (i % 7) as f64 * 1.5;
            let f = &r.features;
            r.rssi_dbm = 10.0 - 20.0 * f.log10_distance_m - 0.5 * f.bullington_loss_db
                + 0.3 * f.deygout_loss_db;
        }
        let idx: Vec<usize> = (0..rows.len()).collect();
        let w = vec![1.0; rows.len()];
        let free = LinearBase::fit(&rows, &idx, &w, 3, false).unwrap();
        assert!((free.coefficients[2] - 0.3).abs() < 1e-4, "{free:?}");
        let held = LinearBase::fit(&rows, &idx, &w, 3, true).unwrap();
        assert_eq!(held.coefficients.len(), 3);
        assert_eq!(held.coefficients[2], 0.0, "{held:?}");
        assert!(held.coefficients[1] <= 0.0, "{held:?}");
        // The refit is the two-term least squares on the same rows.
        let two = LinearBase::fit(&rows, &idx, &w, 2, false).unwrap();
        assert_eq!(held.intercept_dbm, two.intercept_dbm);
        assert_eq!(held.coefficients[..2], two.coefficients[..]);
    }

    #[test]
    fn receivers_are_held_out_whole_and_balanced() {
        let mut receivers = Vec::new();
        for (name, n) in [("e", 5), ("a", 50), ("c", 20), ("b", 30), ("d", 10)] {
            receivers.extend(std::iter::repeat_n(name, n));
        }
        let fold = receiver_groups(&receivers, 2).unwrap();
        let fold_of = |name: &str| {
            let folds: Vec<usize> = receivers
                .iter()
                .zip(&fold)
                .filter(|(r, _)| **r == name)
                .map(|(_, f)| *f)
                .collect();
            assert!(folds.windows(2).all(|w| w[0] == w[1]), "{name} split");
            folds[0]
        };
        // Largest first to the lighter fold: a, b, then c joins b (30 < 50),
        // d ties (50/50) and takes fold 0, e goes to fold 1.
        assert_eq!(
            ["a", "b", "c", "d", "e"].map(fold_of),
            [0, 1, 1, 0, 1],
            "{fold:?}"
        );
        // No more folds than receivers; none with one receiver.
        let three = receiver_groups(&["x", "y", "z", "x"], 5).unwrap();
        assert_eq!(three.iter().max(), Some(&2));
        assert_eq!(receiver_groups(&["x", "x"], 5), None);
    }

    #[test]
    fn a_new_site_gets_the_interval_of_receivers_never_seen() {
        // Receivers at 0, +6 and −6 dB: a site the model has not seen may be
        // any of them, so its interval must span their spread, which the
        // known receivers' interval (noise of ±2 dB) does not.
        let model = three_receiver_model();
        let new_site = model.new_site_calibration.clone().expect("three receivers");
        let width = |c: &Calibration| {
            let (q10, q90) = c.interval_db(3.0);
            q90 - q10
        };
        assert!(
            width(&new_site) > width(&model.calibration) + 8.0,
            "{} vs {}",
            width(&new_site),
            width(&model.calibration)
        );
        // Fresh rows of every receiver, predicted as a new site.
        let test = synthetic(2_000, 2);
        let share = |known_interval: bool| {
            let inside = test
                .iter()
                .filter(|s| {
                    let trees = model.gbm.predict_row(&s.features.to_array());
                    let p = model.link_from_trees(&s.features, trees, 0.0, known_interval);
                    (p.p10_dbm..=p.p90_dbm).contains(&s.rssi_dbm)
                })
                .count();
            inside as f64 / test.len() as f64
        };
        let (with_new_site, with_known) = (share(false), share(true));
        assert!(with_new_site >= 0.75, "{with_new_site}");
        assert!(with_known < 0.6, "{with_known}");
        // Every way of asking for a new site gives the new-site interval;
        // a known receiver keeps its own.
        let f = &test[0].features;
        let budget = LinkBudget {
            device_eirp_dbm: model.params.reference_eirp_dbm,
            rx_gain_dbi: model.params.reference_rx_gain_dbi,
        };
        let as_new = model.predict_link(f, None);
        assert_eq!(model.predict_link(f, Some("gw9")), as_new);
        assert_eq!(model.predict(f, &budget), as_new);
        assert_eq!(model.for_receiver("gw9").predict(f, &budget), as_new);
        assert_eq!(
            model.for_receiver("gw9").prepared().predict(f, &budget),
            as_new
        );
        let known = model.predict_link(f, Some("gw1"));
        let gw1 = model.for_receiver("gw1");
        for p in [gw1.predict(f, &budget), gw1.prepared().predict(f, &budget)] {
            assert!((p.mean_dbm - known.mean_dbm).abs() < 1e-9);
            assert!(((p.p90_dbm - p.p10_dbm) - (known.p90_dbm - known.p10_dbm)).abs() < 1e-9);
        }
        assert!(known.p90_dbm - known.p10_dbm < as_new.p90_dbm - as_new.p10_dbm);
        // A model file from before the new-site table reads, and new sites
        // fall back to the one table it has.
        let mut json: serde_json::Value = serde_json::to_value(&model).unwrap();
        json.as_object_mut().unwrap().remove("new_site_calibration");
        let old: LearnedModel = serde_json::from_value(json).unwrap();
        old.check().unwrap();
        assert_eq!(old.new_site_calibration, None);
        let old_new_site = old.predict_link(f, None);
        let (q10, q90) = old.calibration.interval_db(f.log10_distance_m);
        assert!((old_new_site.p10_dbm - old_new_site.mean_dbm - q10).abs() < 1e-9);
        assert!((old_new_site.p90_dbm - old_new_site.mean_dbm - q90).abs() < 1e-9);
    }

    #[test]
    fn interval_bins_share_places_not_rows() {
        // One dense place: 900 rows at 100 m, weighing 1/900 each; 100
        // places of one row each from 1 to 10 km. Equal-count edges would
        // both sit at 100 m; equal-weight edges split the 100 places.
        let mut log_d = vec![2.0; 900];
        let mut weight = vec![1.0 / 900.0; 900];
        log_d.extend((0..100).map(|i| 3.0 + f64::from(i) / 100.0));
        weight.extend([1.0; 100]);
        // Residuals grow with distance so the bins' quantiles differ.
        let residual: Vec<f64> = log_d.iter().map(|d| (d - 2.0) * 10.0).collect();
        let c = Calibration::from_residuals(&log_d, &residual, &weight, 3);
        c.check().unwrap();
        assert_eq!(c.log10_distance_edges.len(), 2, "{c:?}");
        let (e1, e2) = (c.log10_distance_edges[0], c.log10_distance_edges[1]);
        assert!(
            (3.3..3.36).contains(&e1) && (3.64..3.7).contains(&e2),
            "{c:?}"
        );
        // The dense place shares the first bin with a third of the places.
        assert_eq!(c.rows, vec![900 + 33, 34, 33]);
        assert!(c.interval_db(3.9).0 > c.interval_db(2.0).1);
    }

    #[test]
    fn folds_are_balanced_and_bad_inputs_are_errors() {
        let train = synthetic(500, 5);
        let devices: Vec<LatLon> = train.iter().map(|s| s.device).collect();
        let (fold, blocks) = blocked_folds(&devices, Resolution::Seven, 5).unwrap();
        assert!(blocks >= 5);
        let mut sizes = [0usize; 5];
        for &f in &fold {
            sizes[f] += 1;
        }
        // Largest-first dealing keeps folds within one block of each other.
        let (lo, hi) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
        assert!(hi - lo <= 40, "{sizes:?}");
        // Every device of one cell shares a fold.
        let cell = |d: LatLon| {
            LatLng::new(d.lat, d.lon)
                .unwrap()
                .to_cell(Resolution::Seven)
        };
        for i in 0..devices.len() {
            for j in 0..devices.len() {
                if cell(devices[i]) == cell(devices[j]) {
                    assert_eq!(fold[i], fold[j]);
                }
            }
        }
        assert!(matches!(
            LearnedParams::new().fit(&[]),
            Err(Error::Training(_))
        ));
        // One spatial block: no calibration possible.
        let mut one = train.clone();
        for s in &mut one {
            s.device = LatLon::new(48.4, 10.0);
        }
        assert!(matches!(
            LearnedParams::new().fit(&one),
            Err(Error::Training(_))
        ));
        assert!(LearnedParams::new().calibration_folds(1).check().is_err());
        assert!(LearnedParams::new().block_res(16).check().is_err());
    }
}
