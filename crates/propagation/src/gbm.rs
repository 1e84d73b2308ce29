//! Gradient-boosted regression trees behind linfa's `Fit`/`Predict` traits.
//!
//! linfa 0.8's trees are classification-only, so this is a small
//! histogram-based booster of our own for squared loss: features are cut into
//! at most `max_bins` quantile bins once, each tree is grown level by level
//! to a fixed depth from per-node gradient histograms, and leaves are
//! shrunk by an L2 penalty and the learning rate. Row subsampling per tree
//! uses a seeded SplitMix64 generator, so a fit is deterministic for a seed.
//!
//! Trees are stored as flat arrays of complete binary trees (node `i` has
//! children `2i + 1` and `2i + 2`; a node that does not split sends every row
//! left), so prediction is `depth` comparisons per tree with no pointers.
//!
//! ```
//! use hexcover_propagation::{GbmParams, linfa::prelude::*};
//! use ndarray::{Array1, Array2};
//!
//! // y = 3·x0 − 2·[x1 > 0.5] on a grid.
//! let x = Array2::from_shape_fn((400, 2), |(i, j)| if j == 0 { (i % 20) as f64 / 20.0 } else { (i / 20) as f64 / 20.0 });
//! let y = Array1::from_iter(x.rows().into_iter().map(|r| 3.0 * r[0] - if r[1] > 0.5 { 2.0 } else { 0.0 }));
//! let data = Dataset::new(x.clone(), y.clone());
//! let model = GbmParams::new().n_trees(200).max_depth(3).fit(&data)?;
//! let pred = model.predict(&x);
//! let rmse = ((&pred - &y).mapv(|e| e * e).mean().unwrap()).sqrt();
//! assert!(rmse < 0.1, "{rmse}");
//! # Ok::<(), hexcover_propagation::Error>(())
//! ```

use linfa::prelude::*;
use linfa::{ParamGuard, traits::PredictInplace};
use ndarray::{Array1, Array2, ArrayBase, Data, Ix2};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Checked gradient-boosting hyperparameters (see [`GbmParams`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GbmValidParams {
    /// Number of trees.
    pub n_trees: usize,
    /// Depth of every tree (1–12).
    pub max_depth: usize,
    /// Shrinkage of each tree's leaves (0 < η ≤ 1).
    pub learning_rate: f64,
    /// Smallest number of training rows in a leaf.
    pub min_samples_leaf: usize,
    /// L2 penalty on leaf values (λ ≥ 0), in units of row weight.
    pub l2_leaf: f64,
    /// Fraction of rows each tree sees (0 < s ≤ 1).
    pub subsample: f64,
    /// Largest number of bins per feature (2–256).
    pub max_bins: usize,
    /// Seed of the row subsampling.
    pub seed: u64,
    /// Features the prediction may only rise with (bit `f` for feature `f`):
    /// every tree is non-decreasing in each of them, the others held fixed.
    #[serde(default)]
    pub increasing: u64,
    /// Features the prediction may only fall with (bit `f`).
    #[serde(default)]
    pub decreasing: u64,
}

/// Gradient-boosting hyperparameters with consuming setters; checked by
/// [`ParamGuard::check`] (done by `fit`). Defaults: 150 trees of depth 5,
/// η = 0.08, 40 rows per leaf, λ = 5, 80 % rows per tree, 128 bins, seed 7:
/// chosen up front for ~0.3 µs predictions, not tuned on any test fold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GbmParams(GbmValidParams);

impl Default for GbmParams {
    fn default() -> Self {
        Self::new()
    }
}

impl GbmParams {
    /// The defaults.
    #[must_use]
    pub const fn new() -> Self {
        Self(GbmValidParams {
            n_trees: 150,
            max_depth: 5,
            learning_rate: 0.08,
            min_samples_leaf: 40,
            l2_leaf: 5.0,
            subsample: 0.8,
            max_bins: 128,
            seed: 7,
            increasing: 0,
            decreasing: 0,
        })
    }

    /// Sets monotone constraints: bit `f` of `increasing` (`decreasing`)
    /// makes every tree non-decreasing (non-increasing) in feature `f`
    /// (XGBoost's and LightGBM's "basic" method: a split on such a feature is
    /// taken only when its two sides' values are in order, and bounds their
    /// subtrees' leaves at the midpoint, which is what guarantees the order).
    /// The guarantee covers finite and NaN values: a +∞ in feature 0 passes
    /// a node that does not split (stored as feature 0, threshold
    /// `f64::MAX`) to its empty right side.
    #[must_use]
    pub const fn monotone(mut self, increasing: u64, decreasing: u64) -> Self {
        self.0.increasing = increasing;
        self.0.decreasing = decreasing;
        self
    }

    /// Sets the number of trees.
    #[must_use]
    pub const fn n_trees(mut self, n: usize) -> Self {
        self.0.n_trees = n;
        self
    }

    /// Sets the tree depth.
    #[must_use]
    pub const fn max_depth(mut self, depth: usize) -> Self {
        self.0.max_depth = depth;
        self
    }

    /// Sets the learning rate.
    #[must_use]
    pub const fn learning_rate(mut self, eta: f64) -> Self {
        self.0.learning_rate = eta;
        self
    }

    /// Sets the smallest leaf.
    #[must_use]
    pub const fn min_samples_leaf(mut self, n: usize) -> Self {
        self.0.min_samples_leaf = n;
        self
    }

    /// Sets the L2 leaf penalty.
    #[must_use]
    pub const fn l2_leaf(mut self, lambda: f64) -> Self {
        self.0.l2_leaf = lambda;
        self
    }

    /// Sets the row subsampling fraction.
    #[must_use]
    pub const fn subsample(mut self, fraction: f64) -> Self {
        self.0.subsample = fraction;
        self
    }

    /// Sets the number of bins per feature.
    #[must_use]
    pub const fn max_bins(mut self, bins: usize) -> Self {
        self.0.max_bins = bins;
        self
    }

    /// Sets the seed.
    #[must_use]
    pub const fn seed(mut self, seed: u64) -> Self {
        self.0.seed = seed;
        self
    }
}

fn invalid(name: &'static str, value: f64, expected: &'static str) -> Error {
    Error::InvalidParameter {
        name,
        value,
        expected,
    }
}

impl ParamGuard for GbmParams {
    type Checked = GbmValidParams;
    type Error = Error;

    fn check_ref(&self) -> Result<&GbmValidParams> {
        let p = &self.0;
        if p.n_trees == 0 || p.n_trees > 100_000 {
            return Err(invalid("n_trees", p.n_trees as f64, "1 to 100000"));
        }
        if !(1..=12).contains(&p.max_depth) {
            return Err(invalid("max_depth", p.max_depth as f64, "1 to 12"));
        }
        if !(p.learning_rate > 0.0 && p.learning_rate <= 1.0) {
            return Err(invalid("learning_rate", p.learning_rate, "0 < η ≤ 1"));
        }
        if p.min_samples_leaf == 0 {
            return Err(invalid("min_samples_leaf", 0.0, "at least 1"));
        }
        if !(p.l2_leaf.is_finite() && p.l2_leaf >= 0.0) {
            return Err(invalid("l2_leaf", p.l2_leaf, "a finite number ≥ 0"));
        }
        if !(p.subsample > 0.0 && p.subsample <= 1.0) {
            return Err(invalid("subsample", p.subsample, "0 < s ≤ 1"));
        }
        if !(2..=256).contains(&p.max_bins) {
            return Err(invalid("max_bins", p.max_bins as f64, "2 to 256"));
        }
        let both = p.increasing & p.decreasing;
        if both != 0 {
            return Err(invalid(
                "monotone constraints",
                f64::from(both.trailing_zeros()),
                "a feature either increasing or decreasing, not both",
            ));
        }
        Ok(p)
    }

    fn check(self) -> Result<GbmValidParams> {
        self.check_ref()?;
        Ok(self.0)
    }
}

/// A fitted gradient-boosted regression model: `base + Σ trees`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gbm {
    /// Number of input features.
    pub n_features: usize,
    /// Depth of every tree.
    pub depth: usize,
    /// Starting value (the weighted mean of the targets).
    pub base: f64,
    /// Split feature of each internal node, tree after tree (2^depth − 1 per tree).
    pub split_feature: Vec<u16>,
    /// Split threshold: rows with `x[feature] <= threshold` go left;
    /// `f64::MAX` marks a node that does not split (JSON has no infinity).
    pub split_threshold: Vec<f64>,
    /// Leaf values (learning rate applied), 2^depth per tree.
    pub leaf_value: Vec<f64>,
    /// Total squared-error reduction of the splits on each feature.
    pub feature_gain: Vec<f64>,
}

impl Gbm {
    /// Number of trees.
    #[must_use]
    pub fn n_trees(&self) -> usize {
        self.leaf_value.len() >> self.depth
    }

    /// The features some node splits on, each once, in increasing order.
    /// A node marked as not splitting (threshold `f64::MAX`) sends every
    /// finite or NaN value left, so its feature is not among them.
    #[must_use]
    pub fn features_split_on(&self) -> Vec<usize> {
        let mut split_on = vec![false; self.n_features];
        for (&f, &t) in self.split_feature.iter().zip(&self.split_threshold) {
            if t < f64::MAX
                && let Some(seen) = split_on.get_mut(usize::from(f))
            {
                *seen = true;
            }
        }
        (0..self.n_features).filter(|&f| split_on[f]).collect()
    }

    /// Prediction for one row of features (`x.len() == n_features`; extra
    /// values are ignored, missing ones panic-free read as +∞ → right).
    #[must_use]
    pub fn predict_row(&self, x: &[f64]) -> f64 {
        let depth = self.depth;
        let internal = (1usize << depth) - 1;
        let leaves = 1usize << depth;
        let trees = self.n_trees();
        let value = |f: u16| x.get(usize::from(f)).copied().unwrap_or(f64::INFINITY);
        let mut sum = self.base;
        // Four trees walked in lock step: their compare chains are
        // independent, so the CPU overlaps the loads (≈3× faster than one
        // tree at a time).
        let mut t = 0;
        while t + 4 <= trees {
            let bases = [
                t * internal,
                (t + 1) * internal,
                (t + 2) * internal,
                (t + 3) * internal,
            ];
            let mut idx = [0usize; 4];
            for _ in 0..depth {
                for k in 0..4 {
                    let node = bases[k] + idx[k];
                    let go_right = value(self.split_feature[node]) > self.split_threshold[node];
                    idx[k] = 2 * idx[k] + 1 + usize::from(go_right);
                }
            }
            for (k, &i) in idx.iter().enumerate() {
                sum += self.leaf_value[(t + k) * leaves + i - internal];
            }
            t += 4;
        }
        for t in t..trees {
            let nodes = t * internal;
            let mut i = 0usize;
            for _ in 0..depth {
                let go_right =
                    value(self.split_feature[nodes + i]) > self.split_threshold[nodes + i];
                i = 2 * i + 1 + usize::from(go_right);
            }
            sum += self.leaf_value[t * leaves + i - internal];
        }
        sum
    }

    /// Predictions for many rows at once: `rows` holds `out.len()` rows of
    /// `stride` values each (row-major), with the same missing-value rule as
    /// [`Gbm::predict_row`] (a feature at or beyond `stride` reads as +∞).
    /// Bit-identical to `predict_row` on each row: every row adds the same
    /// leaves in the same tree order.
    ///
    /// Faster per row for many rows: one walk down a tree is a chain of
    /// dependent loads (node → feature → compare → next node), so a lone
    /// walk waits on memory at every level. Here each tree is walked for
    /// eight rows in lock step, whose chains the CPU overlaps, over a block
    /// of rows small enough to stay in L1 with the tree. (Per-site coverage
    /// goes further: it compiles the trees once per run, see `ranked.rs`.)
    ///
    /// # Panics
    /// When `rows` is shorter than `out.len() × stride`.
    pub fn predict_rows(&self, rows: &[f64], stride: usize, out: &mut [f64]) {
        // Rows per block: 64 rows of 20 f64 are 10 KB.
        const BLOCK: usize = 64;
        assert!(rows.len() >= out.len() * stride, "rows shorter than out");
        let width = self
            .split_feature
            .iter()
            .map(|&f| usize::from(f) + 1)
            .max()
            .unwrap_or(0);
        if stride < width {
            // Pad short rows with +∞ once, so the walks need no check.
            let mut padded = vec![f64::INFINITY; out.len() * width];
            if stride > 0 {
                for (dst, src) in padded
                    .chunks_exact_mut(width)
                    .zip(rows.chunks_exact(stride))
                {
                    dst[..stride].copy_from_slice(src);
                }
            }
            return self.predict_rows(&padded, width, out);
        }
        // Each node's threshold beside its feature: one place to load from.
        let nodes: Vec<Node> = self
            .split_threshold
            .iter()
            .zip(&self.split_feature)
            .map(|(&threshold, &feature)| Node {
                threshold,
                feature: usize::from(feature),
            })
            .collect();
        let internal = (1usize << self.depth) - 1;
        let leaves = 1usize << self.depth;
        for (block, sums) in out.chunks_mut(BLOCK).enumerate() {
            let block_rows = &rows[block * BLOCK * stride..][..sums.len() * stride];
            sums.fill(self.base);
            for t in 0..self.n_trees() {
                let tree = Tree {
                    nodes: &nodes[t * internal..][..internal],
                    leaves: &self.leaf_value[t * leaves..][..leaves],
                    depth: self.depth,
                };
                let n = sums.len();
                let mut lanes = sums.chunks_exact_mut(LANES);
                for (k, lane_sums) in (&mut lanes).enumerate() {
                    let first = k * LANES * stride;
                    tree.add::<LANES>(&block_rows[first..], stride, lane_sums);
                }
                let rest = lanes.into_remainder();
                let first = (n - rest.len()) * stride;
                for (r, sum) in rest.iter_mut().enumerate() {
                    tree.add::<1>(
                        &block_rows[first + r * stride..],
                        stride,
                        std::slice::from_mut(sum),
                    );
                }
            }
        }
    }

    /// Checks the arrays' shapes (after deserializing a model file).
    ///
    /// # Errors
    /// [`Error::Model`] when the arrays do not describe complete trees of
    /// `depth` or a split names a feature beyond `n_features`.
    pub fn check(&self) -> Result<()> {
        if !(1..=12).contains(&self.depth) {
            return Err(Error::Model(format!(
                "tree depth {} is not 1–12",
                self.depth
            )));
        }
        let internal = (1usize << self.depth) - 1;
        let trees = self.n_trees();
        if self.leaf_value.len() != trees << self.depth
            || self.split_feature.len() != trees * internal
            || self.split_threshold.len() != trees * internal
        {
            return Err(Error::Model(
                "tree arrays do not match the number of trees and their depth".into(),
            ));
        }
        if self
            .split_feature
            .iter()
            .any(|&f| usize::from(f) >= self.n_features)
        {
            return Err(Error::Model(
                "a split names a feature that does not exist".into(),
            ));
        }
        if !self.base.is_finite()
            || self.leaf_value.iter().any(|v| !v.is_finite())
            || self.split_threshold.iter().any(|v| v.is_nan())
        {
            return Err(Error::Model("non-finite values in the trees".into()));
        }
        Ok(())
    }
}

/// Rows walked down a tree in lock step by [`Gbm::predict_rows`].
const LANES: usize = 8;

/// An internal node as [`Gbm::predict_rows`] reads it.
#[derive(Debug, Clone, Copy)]
struct Node {
    threshold: f64,
    feature: usize,
}

/// One tree of a [`Gbm`], borrowed.
struct Tree<'a> {
    nodes: &'a [Node],
    leaves: &'a [f64],
    depth: usize,
}

impl Tree<'_> {
    /// Adds this tree's leaf for each of `L` rows (`rows`, `stride` apart,
    /// every row longer than the largest feature index) to `sums`.
    fn add<const L: usize>(&self, rows: &[f64], stride: usize, sums: &mut [f64]) {
        let mut idx = [0usize; L];
        for _ in 0..self.depth {
            for (k, i) in idx.iter_mut().enumerate() {
                let node = self.nodes[*i];
                let x = rows[k * stride + node.feature];
                *i = 2 * *i + 1 + usize::from(x > node.threshold);
            }
        }
        let internal = self.nodes.len();
        for (sum, i) in sums.iter_mut().zip(idx) {
            *sum += self.leaves[i - internal];
        }
    }
}

impl<D: Data<Elem = f64>> PredictInplace<ArrayBase<D, Ix2>, Array1<f64>> for Gbm {
    fn predict_inplace(&self, x: &ArrayBase<D, Ix2>, y: &mut Array1<f64>) {
        let mut row = vec![0.0; x.ncols()];
        for (r, out) in x.rows().into_iter().zip(y.iter_mut()) {
            for (dst, src) in row.iter_mut().zip(r.iter()) {
                *dst = *src;
            }
            *out = self.predict_row(&row);
        }
    }

    fn default_target(&self, x: &ArrayBase<D, Ix2>) -> Array1<f64> {
        Array1::zeros(x.nrows())
    }
}

/// SplitMix64: a tiny seeded generator (deterministic across platforms).
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64(u64);

impl SplitMix64 {
    pub(crate) const fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub(crate) fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Quantile cut points of one feature: at most `max_bins − 1` thresholds,
/// midpoints between distinct values, so `bin(x) = #cuts < x`.
fn cut_points(values: &[f64], max_bins: usize) -> Vec<f64> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    sorted.sort_by(f64::total_cmp);
    sorted.dedup();
    if sorted.len() <= 1 {
        return Vec::new();
    }
    if sorted.len() <= max_bins {
        return sorted
            .windows(2)
            .map(|w| f64::midpoint(w[0], w[1]))
            .collect();
    }
    // Quantiles of the distinct values would ignore the row distribution;
    // take them over all rows instead.
    let mut all: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    all.sort_by(f64::total_cmp);
    let mut cuts = Vec::with_capacity(max_bins - 1);
    for b in 1..max_bins {
        let i = b * all.len() / max_bins;
        let (lo, hi) = (all[i.saturating_sub(1)], all[i]);
        if hi > lo {
            let c = f64::midpoint(lo, hi);
            if cuts.last().is_none_or(|&l| c > l) {
                cuts.push(c);
            }
        }
    }
    cuts
}

/// A node's value g/(h + λ) held inside `[lo, hi]`, and its score (the
/// weighted squared error it removes: g²/(h + λ) when the bounds do not
/// bind, 2·g·w − (h + λ)·w² at the bounded value w).
/// A node without weight (and no penalty) has the value 0, bounded.
fn bounded_value(g: f64, h: f64, lambda: f64, lo: f64, hi: f64) -> (f64, f64) {
    let denominator = h + lambda;
    let w = if denominator > 0.0 {
        g / denominator
    } else {
        0.0
    };
    if w >= lo && w <= hi && denominator > 0.0 {
        (w, g * g / denominator)
    } else {
        let w = w.max(lo).min(hi);
        (w, 2.0 * g * w - denominator * w * w)
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Bin {
    sum_wr: f64,
    sum_w: f64,
    count: u32,
}

impl Fit<Array2<f64>, Array1<f64>, Error> for GbmValidParams {
    type Object = Gbm;

    fn fit(&self, dataset: &DatasetBase<Array2<f64>, Array1<f64>>) -> Result<Gbm> {
        let x = dataset.records();
        let y = dataset.targets();
        let (n, n_features) = x.dim();
        if n == 0 || n_features == 0 || y.len() != n {
            return Err(Error::Training(format!(
                "gradient boosting needs rows and features ({n} rows, {n_features} features, {} targets)",
                y.len()
            )));
        }
        if n_features > usize::from(u16::MAX) {
            return Err(Error::Training("too many features".into()));
        }
        let constrained = self.increasing | self.decreasing;
        if n_features < 64 && constrained >> n_features != 0 {
            return Err(Error::Training(format!(
                "a monotone constraint names feature {} of {n_features}",
                63 - constrained.leading_zeros()
            )));
        }
        // +1: non-decreasing, −1: non-increasing, 0: free.
        let direction: Vec<i8> = (0..n_features)
            .map(|f| {
                let bit = if f < 64 { 1u64 << f } else { 0 };
                i8::from(self.increasing & bit != 0) - i8::from(self.decreasing & bit != 0)
            })
            .collect();
        if x.iter().chain(y.iter()).any(|v| !v.is_finite()) {
            return Err(Error::Training("non-finite feature or target".into()));
        }
        let w: Vec<f64> = (0..n).map(|i| f64::from(dataset.weight_for(i))).collect();
        if w.iter().any(|&v| !(v.is_finite() && v >= 0.0)) || w.iter().sum::<f64>() <= 0.0 {
            return Err(Error::Training(
                "weights must be ≥ 0 with a positive sum".into(),
            ));
        }
        let depth = self.max_depth;
        let internal = (1usize << depth) - 1;
        let leaves = 1usize << depth;

        // Bin every feature once (row-major u8 bins: the histogram pass reads
        // one row's bins contiguously).
        let cuts: Vec<Vec<f64>> = (0..n_features)
            .map(|f| cut_points(&x.column(f).to_vec(), self.max_bins))
            .collect();
        let mut bins = vec![0u8; n * n_features];
        for f in 0..n_features {
            let c = &cuts[f];
            for (i, &v) in x.column(f).iter().enumerate() {
                // ≤ 255 cuts, so the bin fits a u8.
                bins[i * n_features + f] = c.partition_point(|&t| t < v) as u8;
            }
        }
        let n_bins: Vec<usize> = cuts.iter().map(|c| c.len() + 1).collect();
        let bin_offset: Vec<usize> = n_bins
            .iter()
            .scan(0, |acc, &b| {
                let o = *acc;
                *acc += b;
                Some(o)
            })
            .collect();
        let total_bins: usize = n_bins.iter().sum();

        let w_sum: f64 = w.iter().sum();
        let base = y.iter().zip(&w).map(|(v, w)| v * w).sum::<f64>() / w_sum;
        let mut pred = vec![base; n];
        let mut rng = SplitMix64::new(self.seed);
        let mut split_feature = Vec::with_capacity(self.n_trees * internal);
        let mut split_threshold = Vec::with_capacity(self.n_trees * internal);
        let mut leaf_value = Vec::with_capacity(self.n_trees * leaves);
        let mut feature_gain = vec![0.0; n_features];
        let mut node_of = vec![0usize; n];
        let mut in_sample = vec![false; n];
        let mut hist = vec![Bin::default(); (1usize << (depth - 1)) * total_bins];
        let lambda = self.l2_leaf;
        let min_leaf = self.min_samples_leaf as u32;

        for _ in 0..self.n_trees {
            for s in &mut in_sample {
                *s = self.subsample >= 1.0 || rng.next_f64() < self.subsample;
            }
            node_of.fill(0);
            let mut tree_feature = vec![0u16; internal];
            let mut tree_bin = vec![u8::MAX; internal];
            let mut tree_threshold = vec![f64::MAX; internal];
            let mut splits = vec![false; internal];
            // Bounds on the values of each node's leaves (monotone constraints).
            let mut low = vec![f64::NEG_INFINITY; internal + leaves];
            let mut high = vec![f64::INFINITY; internal + leaves];
            for level in 0..depth {
                let first = (1usize << level) - 1;
                let width = 1usize << level;
                let hist = &mut hist[..width * total_bins];
                hist.fill(Bin::default());
                for i in 0..n {
                    if !in_sample[i] {
                        continue;
                    }
                    let node = node_of[i] - first;
                    let r = y[i] - pred[i];
                    let base_h = node * total_bins;
                    let (wr, wi) = (w[i] * r, w[i]);
                    let row = &bins[i * n_features..(i + 1) * n_features];
                    for (f, &bin) in row.iter().enumerate() {
                        let b = &mut hist[base_h + bin_offset[f] + usize::from(bin)];
                        b.sum_wr += wr;
                        b.sum_w += wi;
                        b.count += 1;
                    }
                }
                for node in 0..width {
                    let id = first + node;
                    // Children inherit the bounds (a constrained split below
                    // parts them); a node that does not split passes them on.
                    let (lo, hi) = (low[id], high[id]);
                    for child in [2 * id + 1, 2 * id + 2] {
                        (low[child], high[child]) = (lo, hi);
                    }
                    // A node under a non-split parent has no rows; skip it.
                    let h = &hist[node * total_bins..(node + 1) * total_bins];
                    let (g, hw, cnt) = h[..n_bins[0]].iter().fold((0.0, 0.0, 0u32), |a, b| {
                        (a.0 + b.sum_wr, a.1 + b.sum_w, a.2 + b.count)
                    });
                    if cnt < 2 * min_leaf {
                        continue;
                    }
                    let (_, parent_score) = bounded_value(g, hw, lambda, lo, hi);
                    let mut best: Option<(f64, usize, usize, f64)> = None;
                    for f in 0..n_features {
                        let fh = &h[bin_offset[f]..bin_offset[f] + n_bins[f]];
                        let (mut gl, mut hl, mut cl) = (0.0, 0.0, 0u32);
                        for (b, bin) in fh.iter().enumerate().take(n_bins[f] - 1) {
                            gl += bin.sum_wr;
                            hl += bin.sum_w;
                            cl += bin.count;
                            if cl < min_leaf {
                                continue;
                            }
                            if cnt - cl < min_leaf {
                                break;
                            }
                            let (gr, hr) = (g - gl, hw - hl);
                            let (wl, score_l) = bounded_value(gl, hl, lambda, lo, hi);
                            let (wr, score_r) = bounded_value(gr, hr, lambda, lo, hi);
                            let in_order = match direction[f] {
                                1 => wl <= wr,
                                -1 => wl >= wr,
                                _ => true,
                            };
                            let gain = score_l + score_r - parent_score;
                            if in_order
                                && gain > 1e-12
                                && best.is_none_or(|(bg, _, _, _)| gain > bg)
                            {
                                best = Some((gain, f, b, f64::midpoint(wl, wr)));
                            }
                        }
                    }
                    if let Some((gain, f, b, mid)) = best {
                        splits[id] = true;
                        tree_feature[id] = f as u16;
                        tree_bin[id] = b as u8;
                        tree_threshold[id] = cuts[f][b];
                        feature_gain[f] += gain;
                        // A constrained split parts the bounds at the
                        // midpoint of its two sides' values.
                        match direction[f] {
                            1 => (high[2 * id + 1], low[2 * id + 2]) = (mid, mid),
                            -1 => (low[2 * id + 1], high[2 * id + 2]) = (mid, mid),
                            _ => {}
                        }
                    }
                }
                // Route the rows one level down (non-split nodes send all left).
                for i in 0..n {
                    let id = node_of[i];
                    let right = splits[id]
                        && bins[i * n_features + usize::from(tree_feature[id])] > tree_bin[id];
                    node_of[i] = 2 * id + 1 + usize::from(right);
                }
            }
            // Leaf values from the sampled rows.
            let mut sums = vec![(0.0f64, 0.0f64); leaves];
            for i in 0..n {
                if in_sample[i] {
                    let leaf = node_of[i] - internal;
                    sums[leaf].0 += w[i] * (y[i] - pred[i]);
                    sums[leaf].1 += w[i];
                }
            }
            let values: Vec<f64> = sums
                .iter()
                .enumerate()
                .map(|(leaf, &(g, h))| {
                    let (lo, hi) = (low[internal + leaf], high[internal + leaf]);
                    let (value, _) = bounded_value(g, h, lambda, lo, hi);
                    if value == g / (h + lambda) {
                        // Unbounded: the rounding of unconstrained fits.
                        self.learning_rate * g / (h + lambda)
                    } else {
                        self.learning_rate * value
                    }
                })
                .collect();
            for i in 0..n {
                pred[i] += values[node_of[i] - internal];
            }
            split_feature.extend_from_slice(&tree_feature);
            split_threshold.extend_from_slice(&tree_threshold);
            leaf_value.extend_from_slice(&values);
        }
        Ok(Gbm {
            n_features,
            depth,
            base,
            split_feature,
            split_threshold,
            leaf_value,
            feature_gain,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn grid(n: usize) -> (Array2<f64>, Array1<f64>) {
        let mut rng = SplitMix64::new(1);
        let x = Array2::from_shape_fn((n, 3), |_| rng.next_f64());
        // A smooth term, a step and an irrelevant feature.
        let y = Array1::from_iter(
            x.rows()
                .into_iter()
                .map(|r| 10.0 * r[0] + if r[1] > 0.3 { 5.0 } else { 0.0 }),
        );
        (x, y)
    }

    #[test]
    fn many_rows_at_once_are_bit_identical() {
        let mut rng = SplitMix64::new(11);
        let (rows, features) = (301, 5);
        let x = Array2::from_shape_fn((rows, features), |_| rng.next_f64() * 10.0 - 5.0);
        let y = Array1::from_iter(
            x.rows()
                .into_iter()
                .map(|r| r[0] * r[1] - 2.0 * r[2].abs() + if r[3] > 0.5 { r[4] } else { -1.0 }),
        );
        let model = GbmParams::new()
            .n_trees(37)
            .max_depth(4)
            .min_samples_leaf(3)
            .fit(&Dataset::new(x.clone(), y))
            .unwrap();
        let flat: Vec<f64> = x.iter().copied().collect();
        // 301 rows: full blocks, full lanes and a remainder.
        let mut out = vec![0.0; rows];
        model.predict_rows(&flat, features, &mut out);
        for (r, got) in x.rows().into_iter().zip(&out) {
            assert_eq!(
                got.to_bits(),
                model.predict_row(r.as_slice().unwrap()).to_bits()
            );
        }
        // Rows shorter than the features: the missing ones read as +∞.
        let short: Vec<f64> = x
            .rows()
            .into_iter()
            .flat_map(|r| r.iter().take(3).copied().collect::<Vec<_>>())
            .collect();
        model.predict_rows(&short, 3, &mut out);
        for (r, got) in short.chunks_exact(3).zip(&out) {
            assert_eq!(got.to_bits(), model.predict_row(r).to_bits());
        }
        let mut none = vec![0.0; 4];
        model.predict_rows(&[], 0, &mut none);
        assert!(
            none.iter()
                .all(|v| v.to_bits() == model.predict_row(&[]).to_bits())
        );
    }

    #[test]
    fn learns_a_step_and_a_slope_and_ignores_noise_features() {
        let (x, y) = grid(2_000);
        let data = Dataset::new(x.clone(), y.clone());
        let model = GbmParams::new()
            .n_trees(300)
            .max_depth(3)
            .learning_rate(0.1)
            .min_samples_leaf(5)
            .fit(&data)
            .unwrap();
        let pred = model.predict(&x);
        let rmse = (&pred - &y).mapv(|e| e * e).mean().unwrap().sqrt();
        assert!(rmse < 0.5, "{rmse}");
        // Splits on feature 2 (pure noise) gain almost nothing.
        assert!(model.feature_gain[2] < 0.01 * model.feature_gain[0]);
        assert_eq!(model.n_trees(), 300);
        model.check().unwrap();
        // predict_row agrees with the linfa Predict path.
        for (i, r) in x.rows().into_iter().enumerate().take(50) {
            assert_eq!(model.predict_row(r.as_slice().unwrap()), pred[i]);
        }
    }

    #[test]
    fn deterministic_for_a_seed_and_seed_matters() {
        let (x, y) = grid(500);
        let data = Dataset::new(x, y);
        let p = GbmParams::new().n_trees(20).subsample(0.5);
        let a = p.fit(&data).unwrap();
        let b = p.fit(&data).unwrap();
        assert_eq!(a, b);
        let c = p.seed(99).fit(&data).unwrap();
        assert_ne!(a.leaf_value, c.leaf_value);
        // A JSON round trip keeps the model exactly.
        let json = serde_json::to_string(&a).unwrap();
        let back: Gbm = serde_json::from_str(&json).unwrap();
        assert_eq!(a, back);
    }

    /// The largest rise (for `sign` +1: fall) of the prediction as feature
    /// `f` alone steps up through its range, over `points` rows of `x`.
    fn worst_reversal(model: &Gbm, x: &Array2<f64>, f: usize, sign: f64, points: usize) -> f64 {
        let mut worst = 0.0f64;
        for row in x.rows().into_iter().take(points) {
            let mut r = row.to_vec();
            let mut last = None;
            for k in 0..=40 {
                r[f] = -0.5 + 2.0 * f64::from(k) / 40.0;
                let p = sign * model.predict_row(&r);
                if let Some(l) = last {
                    worst = worst.max(l - p);
                }
                last = Some(p);
            }
        }
        worst
    }

    /// 3,000 rows of three features: y falls with x0 on the whole but
    /// wiggles up, rises with x1 on the whole but dips; x2 is free.
    fn wiggles() -> (Array2<f64>, Array1<f64>) {
        let mut rng = SplitMix64::new(5);
        let x = Array2::from_shape_fn((3_000, 3), |_| rng.next_f64());
        let y = Array1::from_iter(x.rows().into_iter().map(|r| {
            -r[0] + 0.6 * (12.0 * r[0]).sin() + r[1] - 0.5 * (10.0 * r[1]).sin()
                + 2.0 * (r[2] - 0.5).abs()
        }));
        (x, y)
    }

    #[test]
    fn monotone_constraints_hold_and_bind() {
        let (x, y) = wiggles();
        let data = Dataset::new(x.clone(), y.clone());
        let params = GbmParams::new()
            .n_trees(120)
            .max_depth(4)
            .min_samples_leaf(10);
        let free = params.fit(&data).unwrap();
        let held = params.monotone(0b010, 0b001).fit(&data).unwrap();
        // The free fit follows the wiggles (so the check below can fail) …
        assert!(worst_reversal(&free, &x, 0, -1.0, 200) > 0.1);
        assert!(worst_reversal(&free, &x, 1, 1.0, 200) > 0.1);
        // … the held one never rises with x0 nor falls with x1, anywhere.
        assert_eq!(worst_reversal(&held, &x, 0, -1.0, 200), 0.0);
        assert_eq!(worst_reversal(&held, &x, 1, 1.0, 200), 0.0);
        // It still learns the trends and the free feature.
        let rmse = |m: &Gbm| (&m.predict(&x) - &y).mapv(|e| e * e).mean().unwrap().sqrt();
        assert!(rmse(&held) < 0.45, "{}", rmse(&held));
        assert!(held.feature_gain[2] > 0.0);
        held.check().unwrap();
    }

    /// FNV-1a over every number of a model, bit for bit.
    fn model_hash(m: &Gbm) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut eat = |v: u64| {
            h ^= v;
            h = h.wrapping_mul(0x100_0000_01b3);
        };
        eat(m.base.to_bits());
        m.leaf_value.iter().for_each(|v| eat(v.to_bits()));
        m.split_threshold.iter().for_each(|v| eat(v.to_bits()));
        m.split_feature.iter().for_each(|&f| eat(u64::from(f)));
        m.feature_gain.iter().for_each(|v| eat(v.to_bits()));
        h
    }

    #[test]
    fn unconstrained_fits_are_those_of_before_the_constraints() {
        // The hash was printed by the same fit at commit e191bc6, before
        // monotone constraints existed (λ > 0: with λ = 0 an empty leaf was
        // 0/0 = NaN then and is 0 now).
        let (x, y) = wiggles();
        let w = Array1::from_iter((0..3_000).map(|i| {
            if i % 7 == 0 {
                0.0f32
            } else {
                1.0 + (i % 3) as f32
            }
        }));
        let data = Dataset::new(x, y).with_weights(w);
        let params = GbmParams::new()
            .n_trees(120)
            .max_depth(4)
            .min_samples_leaf(10)
            .subsample(0.7);
        for p in [params, params.monotone(0, 0)] {
            assert_eq!(model_hash(&p.fit(&data).unwrap()), 0xced2_b96d_9f89_43d4);
        }
    }

    #[test]
    fn weights_pull_the_fit() {
        // Two identical inputs with different targets: the weighted mean wins.
        let x = Array2::from_shape_vec((4, 1), vec![0.0, 0.0, 1.0, 1.0]).unwrap();
        let y = Array1::from(vec![0.0, 10.0, 0.0, 10.0]);
        let data = Dataset::new(x.clone(), y).with_weights(Array1::from(vec![3.0, 1.0, 3.0, 1.0]));
        let model = GbmParams::new()
            .n_trees(200)
            .learning_rate(0.5)
            .min_samples_leaf(1)
            .l2_leaf(0.0)
            .subsample(1.0)
            .fit(&data)
            .unwrap();
        let pred = model.predict(&x);
        assert!((pred[0] - 2.5).abs() < 1e-6, "{}", pred[0]);
    }

    #[test]
    fn bad_params_and_data_are_errors() {
        let (x, y) = grid(50);
        let data = Dataset::new(x, y);
        for p in [
            GbmParams::new().n_trees(0),
            GbmParams::new().max_depth(0),
            GbmParams::new().max_depth(13),
            GbmParams::new().learning_rate(0.0),
            GbmParams::new().learning_rate(f64::NAN),
            GbmParams::new().subsample(1.5),
            GbmParams::new().max_bins(1),
            GbmParams::new().l2_leaf(-1.0),
            GbmParams::new().min_samples_leaf(0),
            GbmParams::new().monotone(0b110, 0b011),
        ] {
            assert!(
                matches!(p.fit(&data), Err(Error::InvalidParameter { .. })),
                "{p:?}"
            );
        }
        let bad = Dataset::new(
            Array2::from_shape_vec((2, 1), vec![0.0, f64::NAN]).unwrap(),
            Array1::from(vec![1.0, 2.0]),
        );
        assert!(matches!(
            GbmParams::new().fit(&bad),
            Err(Error::Training(_))
        ));
        // A constraint on a feature the data do not have.
        assert!(matches!(
            GbmParams::new().monotone(0b1000, 0).fit(&data),
            Err(Error::Training(_))
        ));
        let mut model = GbmParams::new().n_trees(3).fit(&data).unwrap();
        model.split_feature[0] = 9;
        assert!(model.check().is_err());
    }
}
