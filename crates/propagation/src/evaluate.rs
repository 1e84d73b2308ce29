//! Honest evaluation: spatially blocked cross-validation and
//! leave-one-receiver-out, never random rows, for every physics model and
//! the learned one.
//!
//! - **Folds.** [`crate::blocked_folds`] puts every row in the fold of its device's
//!   H3 cell (res 7 or 8), cells dealt largest first into the emptiest fold;
//!   [`receiver_folds`] makes one fold per receiver.
//! - **Physics models** ([`PHYSICS_MODELS`], losses from
//!   [`PhysicsLosses::of`]) predict RSSI = C − L with the unknown link-budget
//!   constant C (EIRP + gains) fitted on the training folds only (the mean of
//!   RSSI + L); log-distance fits C and its exponent (least squares on
//!   log10 d). Their 80 % interval is the 10th–90th percentile of their
//!   training residuals.
//! - **The learned model** is trained with [`LearnedParams::fit`] on the
//!   training folds (its own interval calibration uses inner spatial folds
//!   of those rows only) and predicts the held-out fold with the receiver's
//!   offset when the receiver was in training (always under blocked CV,
//!   never under leave-one-receiver-out).
//! - **Metrics** ([`Score`]) over all held-out predictions: RMSE per row,
//!   RMSE per hex (each H3 res-10 cell of the device weighs the same: the
//!   root of the mean over cells of the cell's mean squared error), MAE,
//!   bias (mean of predicted − measured) and the share of measured values
//!   inside the 80 % interval (per row and per hex).
use std::collections::BTreeMap;

use h3o::{LatLng, Resolution};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::learned::{LearnedParams, LinkSample, quantile_sorted};
use crate::{Bullington, Cost231Hata, Deygout, FreeSpace, Hata, KnifeEdge, PathLoss, RadioPath};

/// Short names of [`PHYSICS_MODELS`] (same order), for column names; the
/// learned model is [`LEARNED_MODEL_SLUG`].
pub const PHYSICS_MODEL_SLUGS: [&str; 7] = [
    "free_space",
    "log_distance",
    "hata_urban",
    "cost231_hata",
    "knife_edge",
    "deygout",
    "bullington",
];

/// Short name of the learned model, for column names.
pub const LEARNED_MODEL_SLUG: &str = "learned";

/// The physics models scored, in [`PhysicsLosses`] order.
pub const PHYSICS_MODELS: [&str; 7] = [
    "free space",
    "log-distance (fitted exponent)",
    "Okumura-Hata, urban",
    "COST-231 Hata, medium city",
    "free space + knife edge",
    "free space + Deygout (ITU)",
    "free space + Bullington",
];

/// Index of log-distance in [`PHYSICS_MODELS`] (fitted on log10 d, not a loss).
const LOG_DISTANCE: usize = 1;

/// The H3 resolution of the hex-weighted RMSE.
pub const HEX_WEIGHT_RES: Resolution = Resolution::Ten;

/// Path loss of each physics model for one path, and whether the path lies
/// inside the model's validity range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PhysicsLosses {
    /// Loss in dB per model ([`PHYSICS_MODELS`] order); for log-distance the
    /// free-space loss (only its distance is used).
    pub loss_db: [f64; 7],
    /// The model's caveats were empty.
    pub in_validity: [bool; 7],
}

impl PhysicsLosses {
    /// The losses of `path` (which needs a terrain profile for the
    /// diffraction models).
    ///
    /// # Errors
    /// The models' errors ([`Error::MissingProfile`] without a profile).
    pub fn of(path: &RadioPath) -> Result<Self> {
        if path.profile().is_none() {
            return Err(Error::MissingProfile("PhysicsLosses"));
        }
        let estimates = [
            FreeSpace.estimate(path)?,
            FreeSpace.estimate(path)?,
            Hata::urban().estimate(path)?,
            Cost231Hata::medium_city().estimate(path)?,
            FreeSpace
                .with_diffraction(KnifeEdge::default())
                .estimate(path)?,
            FreeSpace.with_diffraction(Deygout::itu()).estimate(path)?,
            FreeSpace
                .with_diffraction(Bullington::default())
                .estimate(path)?,
        ];
        Ok(Self {
            loss_db: estimates.map(|e| e.loss_db),
            in_validity: estimates.map(|e| e.is_valid()),
        })
    }
}

/// A measured link with its physics losses: one row of an evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalSample {
    /// The link (features, receiver, RSSI).
    pub link: LinkSample,
    /// The physics models' losses.
    pub physics: PhysicsLosses,
}

/// One fold per receiver, in id order: (fold of each row, receiver of each fold).
#[must_use]
pub fn receiver_folds(receivers: &[&str]) -> (Vec<usize>, Vec<String>) {
    let mut ids: Vec<String> = receivers.iter().map(|r| (*r).to_owned()).collect();
    ids.sort();
    ids.dedup();
    let index: BTreeMap<&str, usize> = ids
        .iter()
        .enumerate()
        .map(|(i, r)| (r.as_str(), i))
        .collect();
    let fold = receivers
        .iter()
        .map(|r| index.get(r).copied().unwrap_or(0))
        .collect();
    (fold, ids)
}

/// The scores of one model over every held-out row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// Model name.
    pub model: String,
    /// Held-out rows scored.
    pub rows: usize,
    /// RMSE over rows, dB.
    pub rmse_db: f64,
    /// RMSE with every res-10 hex weighted equally, dB.
    pub rmse_hex_db: f64,
    /// Mean absolute error, dB.
    pub mae_db: f64,
    /// Mean of predicted − measured, dB.
    pub bias_db: f64,
    /// Share of measured values inside the predicted 80 % interval.
    pub interval_80_share: f64,
    /// The same share with every res-10 hex weighted equally.
    pub interval_80_share_hex: f64,
    /// Share of rows inside the model's validity range (1 for models
    /// without one).
    pub in_validity_share: f64,
    /// RMSE of each held-out fold, dB.
    pub fold_rmse_db: Vec<f64>,
}

/// An evaluation: its scheme, the folds and one [`Score`] per model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// "blocked CV, res-8 blocks, 5 folds", "leave-one-receiver-out", ...
    pub scheme: String,
    /// Rows in each held-out fold.
    pub fold_rows: Vec<usize>,
    /// Scores, physics models first, the learned model last.
    pub scores: Vec<Score>,
    /// The candidate ([`LearnedParams::candidates`]) the learned model's
    /// inner CV chose in each fold (`None`: no choice made — selection off,
    /// or no held-out rows).
    #[serde(default)]
    pub learned_candidate: Vec<Option<usize>>,
    /// What each of those candidates is ([`LearnedParams::describe`]), in
    /// their order; empty when the learned model does not choose.
    #[serde(default)]
    pub candidates: Vec<String>,
    /// The held-out predictions behind the scores, `[model][row]` in the
    /// order of `scores` and of the samples (not serialized: one row per
    /// link is data, not a score).
    #[serde(skip)]
    pub heldout: Vec<Vec<HeldOut>>,
}

/// One held-out prediction: mean and 80 % interval, dBm.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct HeldOut {
    /// Predicted RSSI, dBm.
    pub mean_dbm: f64,
    /// 10th percentile, dBm.
    pub p10_dbm: f64,
    /// 90th percentile, dBm.
    pub p90_dbm: f64,
}

/// Held-out predictions of one model: (mean, p10, p90) per row.
type Heldout = Vec<(f64, f64, f64)>;

/// Held-out predictions of one fold: (model, row, (mean, p10, p90)).
type FoldRows = Vec<(usize, usize, (f64, f64, f64))>;

/// A fold's held-out rows and the learned model's chosen candidate.
type FoldResult = (FoldRows, Option<usize>);

/// Cross-validates every physics model and the learned model over the folds
/// `fold_of` (fold index per row; every fold is held out once). `progress`
/// is called with (fold done, folds) after each fold.
///
/// # Errors
/// [`Error::Training`] when `fold_of` does not match the rows, a fold leaves
/// no training rows, or training fails; the learned model's errors.
pub fn cross_validate(
    samples: &[EvalSample],
    fold_of: &[usize],
    scheme: &str,
    params: &LearnedParams,
    mut progress: impl FnMut(usize, usize),
) -> Result<Evaluation> {
    params.check()?;
    if samples.is_empty() || fold_of.len() != samples.len() {
        return Err(Error::Training(format!(
            "{} rows and {} fold labels",
            samples.len(),
            fold_of.len()
        )));
    }
    let folds = fold_of.iter().max().map_or(0, |m| m + 1);
    let models = PHYSICS_MODELS.len() + 1;
    let mut held: Vec<Heldout> = vec![vec![(0.0, 0.0, 0.0); samples.len()]; models];
    let mut fold_rows = vec![0usize; folds];
    for &f in fold_of {
        fold_rows[f] += 1;
    }
    // Folds are independent: fit them in parallel, then fill in order.
    let per_fold: Vec<FoldResult> = (0..folds)
        .into_par_iter()
        .map(|f| fold_predictions(samples, fold_of, f, params))
        .collect::<Result<_>>()?;
    let mut learned_candidate = Vec::with_capacity(folds);
    for (f, (rows, chosen)) in per_fold.into_iter().enumerate() {
        for (m, i, p) in rows {
            held[m][i] = p;
        }
        learned_candidate.push(chosen);
        progress(f + 1, folds);
    }
    let cells: Vec<u64> = samples
        .iter()
        .map(|s| {
            LatLng::new(s.link.device.lat, s.link.device.lon)
                .map_or(0, |ll| u64::from(ll.to_cell(HEX_WEIGHT_RES)))
        })
        .collect();
    let mut scores = Vec::with_capacity(models);
    for (m, predictions) in held.iter().enumerate() {
        let name = PHYSICS_MODELS
            .get(m)
            .map_or("learned (GBM + receiver offsets)", |n| n);
        let in_validity = if m < PHYSICS_MODELS.len() {
            samples.iter().filter(|s| s.physics.in_validity[m]).count() as f64
                / samples.len() as f64
        } else {
            1.0
        };
        let mut score = score(name, samples, predictions, &cells, in_validity);
        let mut fold_se = vec![(0.0, 0usize); folds];
        for ((s, p), &f) in samples.iter().zip(predictions).zip(fold_of) {
            fold_se[f].0 += (p.0 - s.link.rssi_dbm).powi(2);
            fold_se[f].1 += 1;
        }
        score.fold_rmse_db = fold_se
            .iter()
            .map(|&(se, k)| if k == 0 { 0.0 } else { (se / k as f64).sqrt() })
            .collect();
        scores.push(score);
    }
    let heldout = held
        .into_iter()
        .map(|rows| {
            rows.into_iter()
                .map(|(mean_dbm, p10_dbm, p90_dbm)| HeldOut {
                    mean_dbm,
                    p10_dbm,
                    p90_dbm,
                })
                .collect()
        })
        .collect();
    Ok(Evaluation {
        scheme: scheme.to_owned(),
        fold_rows,
        scores,
        learned_candidate,
        candidates: if params.select {
            params
                .candidates()
                .iter()
                .map(LearnedParams::describe)
                .collect()
        } else {
            Vec::new()
        },
        heldout,
    })
}

/// (model, row, (mean, p10, p90)) for the held-out rows of fold `f`.
fn fold_predictions(
    samples: &[EvalSample],
    fold_of: &[usize],
    f: usize,
    params: &LearnedParams,
) -> Result<FoldResult> {
    let train: Vec<usize> = (0..samples.len()).filter(|&i| fold_of[i] != f).collect();
    let test: Vec<usize> = (0..samples.len()).filter(|&i| fold_of[i] == f).collect();
    let mut out = Vec::with_capacity(test.len() * (PHYSICS_MODELS.len() + 1));
    if test.is_empty() {
        return Ok((out, None));
    }
    if train.is_empty() {
        return Err(Error::Training(format!("fold {f} leaves no training rows")));
    }
    for m in 0..PHYSICS_MODELS.len() {
        let fit = PhysicsFit::fit(samples, &train, m);
        for &i in &test {
            let mean = fit.predict(&samples[i], m);
            out.push((m, i, (mean, mean + fit.q10, mean + fit.q90)));
        }
    }
    let links: Vec<LinkSample> = train.iter().map(|&i| samples[i].link.clone()).collect();
    let model = params.fit(&links)?;
    for &i in &test {
        let l = &samples[i].link;
        let p = model.predict_link(&l.features, Some(&l.receiver));
        out.push((PHYSICS_MODELS.len(), i, (p.mean_dbm, p.p10_dbm, p.p90_dbm)));
    }
    let chosen = (!model.selection.candidates.is_empty()).then_some(model.selection.chosen);
    Ok((out, chosen))
}

fn score(
    name: &str,
    samples: &[EvalSample],
    held: &Heldout,
    cells: &[u64],
    in_validity: f64,
) -> Score {
    let n = samples.len() as f64;
    let (mut se, mut ae, mut bias, mut inside) = (0.0, 0.0, 0.0, 0usize);
    let mut per_cell: BTreeMap<u64, (f64, usize, usize)> = BTreeMap::new();
    for ((s, &(mean, lo, hi)), &cell) in samples.iter().zip(held).zip(cells) {
        let e = mean - s.link.rssi_dbm;
        se += e * e;
        ae += e.abs();
        bias += e;
        let hit = (lo..=hi).contains(&s.link.rssi_dbm);
        inside += usize::from(hit);
        let c = per_cell.entry(cell).or_insert((0.0, 0, 0));
        c.0 += e * e;
        c.1 += 1;
        c.2 += usize::from(hit);
    }
    let cells_n = per_cell.len() as f64;
    let hex_mse = per_cell
        .values()
        .map(|&(s, k, _)| s / k as f64)
        .sum::<f64>()
        / cells_n;
    let hex_inside = per_cell
        .values()
        .map(|&(_, k, h)| h as f64 / k as f64)
        .sum::<f64>()
        / cells_n;
    Score {
        model: name.to_owned(),
        rows: samples.len(),
        rmse_db: (se / n).sqrt(),
        rmse_hex_db: hex_mse.sqrt(),
        mae_db: ae / n,
        bias_db: bias / n,
        interval_80_share: inside as f64 / n,
        interval_80_share_hex: hex_inside,
        in_validity_share: in_validity,
        fold_rmse_db: Vec::new(),
    }
}

/// A physics model's fitted constants on the training rows.
struct PhysicsFit {
    /// RSSI = c − L (or c + slope·log10 d for log-distance).
    c: f64,
    slope: f64,
    q10: f64,
    q90: f64,
}

impl PhysicsFit {
    fn x(s: &EvalSample, m: usize) -> f64 {
        if m == LOG_DISTANCE {
            s.link.features.log10_distance_m
        } else {
            -s.physics.loss_db[m]
        }
    }

    fn fit(samples: &[EvalSample], train: &[usize], m: usize) -> Self {
        let k = train.len() as f64;
        let (mut sx, mut sy) = (0.0, 0.0);
        for &i in train {
            sx += Self::x(&samples[i], m);
            sy += samples[i].link.rssi_dbm;
        }
        let (mx, my) = (sx / k, sy / k);
        let slope = if m == LOG_DISTANCE {
            let (mut sxx, mut sxy) = (0.0, 0.0);
            for &i in train {
                let dx = Self::x(&samples[i], m) - mx;
                sxx += dx * dx;
                sxy += dx * (samples[i].link.rssi_dbm - my);
            }
            if sxx > 0.0 { sxy / sxx } else { 0.0 }
        } else {
            // RSSI = C − L: the loss enters with slope 1, only C is fitted.
            1.0
        };
        let c = my - slope * mx;
        let mut residuals: Vec<f64> = train
            .iter()
            .map(|&i| samples[i].link.rssi_dbm - (c + slope * Self::x(&samples[i], m)))
            .collect();
        residuals.sort_by(f64::total_cmp);
        Self {
            c,
            slope,
            q10: quantile_sorted(&residuals, 0.1),
            q90: quantile_sorted(&residuals, 0.9),
        }
    }

    fn predict(&self, s: &EvalSample, m: usize) -> f64 {
        self.c + self.slope * Self::x(s, m)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use hexcover_core::{LatLon, PathProfile};

    use super::*;
    use crate::{GbmParams, PathFeatures, blocked_folds};

    fn samples(n: usize) -> Vec<EvalSample> {
        crate::learned::tests::synthetic(n, 11)
            .into_iter()
            .map(|link| {
                let d = link.features.distance_m();
                let profile = PathProfile {
                    distance_m: vec![0.0, d / 2.0, d],
                    elevation_m: vec![480.0; 3],
                    filled_voids: 0,
                };
                let path = RadioPath::over_profile(profile, 868.3, 1.5, 10.0).unwrap();
                EvalSample {
                    physics: PhysicsLosses::of(&path).unwrap(),
                    link,
                }
            })
            .collect()
    }

    #[test]
    fn cross_validation_scores_every_model() {
        let rows = samples(1_500);
        let devices: Vec<LatLon> = rows.iter().map(|s| s.link.device).collect();
        let (fold, _) = blocked_folds(&devices, Resolution::Seven, 3).unwrap();
        let params = LearnedParams::new()
            .gbm(GbmParams::new().n_trees(40).min_samples_leaf(10))
            .select(false);
        let mut calls = 0;
        let eval = cross_validate(&rows, &fold, "test", &params, |_, _| calls += 1).unwrap();
        assert_eq!(calls, 3);
        assert_eq!(eval.scores.len(), PHYSICS_MODELS.len() + 1);
        assert_eq!(eval.fold_rows.iter().sum::<usize>(), rows.len());
        // Selection off: no fold made a choice.
        assert_eq!(eval.learned_candidate, vec![None; 3]);
        assert!(eval.candidates.is_empty());
        for s in &eval.scores {
            assert_eq!(s.rows, rows.len());
            assert!(s.rmse_db.is_finite() && s.rmse_db >= s.mae_db);
            assert!((0.0..=1.0).contains(&s.interval_80_share));
        }
        // The synthetic truth is free space + Bullington with receiver offsets
        // of ±6 dB: the learned model (with offsets) must beat every physics model.
        let learned = eval.scores.last().unwrap();
        for s in &eval.scores[..PHYSICS_MODELS.len()] {
            assert!(
                learned.rmse_db < s.rmse_db,
                "{} vs {}",
                learned.rmse_db,
                s.rmse_db
            );
        }
        // Log-distance with a fitted exponent is at least as good as free space
        // with a fitted constant on its own training data; held out it stays close.
        assert!(eval.scores[1].rmse_db < eval.scores[0].rmse_db + 0.5);
        // Leave-one-receiver-out: three folds, no offsets for the held-out receiver.
        let names: Vec<&str> = rows.iter().map(|s| s.link.receiver.as_str()).collect();
        let (fold, ids) = receiver_folds(&names);
        assert_eq!(ids, vec!["gw0", "gw1", "gw2"]);
        let loro = cross_validate(&rows, &fold, "loro", &params, |_, _| {}).unwrap();
        assert!(loro.scores.last().unwrap().rmse_db > learned.rmse_db);
    }

    #[test]
    fn bad_folds_are_errors() {
        let rows = samples(50);
        let params = LearnedParams::new();
        assert!(cross_validate(&rows, &[0; 3], "x", &params, |_, _| {}).is_err());
        assert!(cross_validate(&rows, &vec![0; rows.len()], "x", &params, |_, _| {}).is_err());
        let bare = RadioPath::new(100.0, 868.0, 1.5, 10.0).unwrap();
        assert!(PhysicsLosses::of(&bare).is_err());
        let _ = PathFeatures::NAMES;
    }
}
